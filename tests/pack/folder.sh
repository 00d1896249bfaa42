#!/bin/bash
# Image folders written by libpng and libjpeg (pack_fixture.c): class mapping, counts per
# split, exact PNG pixels after cropping and resizing (as stored, whatever gamma a file
# declares), JPEG pixels within a few levels, gray output, images in sub-folders of a class
# folder (in torchvision ImageFolder's order; a symbolic link loop), skipped entries, and the
# flat layout whose common size needs no --size.
source "$(dirname "$0")/lib.sh"
scratch folder
expect_ok "make the fixture" "$fixture" make "$work"

run "$pack" --from folder "$work/splits" --out "$work/rgb.h5" --size 8
expect_status 0 "RGB"
expect_out_has "images 8x8x3, 3 classes: cat, dog, zebra" "RGB summary"
expect_out_has "train       17 images" "train count"
expect_out_has "val          2 images" "val count"
expect_out_has "test         2 images" "test count"
expect_out_has "skipped 4 entries that are not images" "skipped entries"
expect_ok "RGB pixels" "$fixture" check "$work/rgb.h5" 3

# A link back up the tree: followed, its folder is entered already, so it is skipped and
# counted, and the images are those above.
ln -s .. "$work/splits/train/dog/thumbs/deep/up"
run "$pack" --from folder "$work/splits" --out "$work/loop.h5" --size 8
expect_status 0 "a link back up"
expect_out_has "train       17 images" "train count with a link back up"
expect_out_has "skipped 5 entries that are not images" "the link back up skipped"
expect_ok "pixels with a link back up" "$fixture" check "$work/loop.h5" 3
rm "$work/splits/train/dog/thumbs/deep/up"

# Hidden entries are left out without a word, even a hidden folder of images beside the classes
# (torchvision would make it class 0), and a single skipped entry is one entry.
mkdir "$work/splits/train/.ipynb_checkpoints" "$work/splits/train/cat/.thumbs"
cp "$work/splits/train/cat/"*.png "$work/splits/train/.ipynb_checkpoints/"
cp "$work/splits/train/cat/"*.png "$work/splits/train/cat/.thumbs/"
touch "$work/splits/train/.DS_Store" "$work/splits/.hidden.png"
run "$pack" --from folder "$work/splits" --out "$work/hidden.h5" --size 8
expect_status 0 "hidden entries"
expect_out_has "images 8x8x3, 3 classes: cat, dog, zebra" "no hidden class"
expect_out_has "train       17 images" "no hidden images"
expect_out_has "skipped 4 entries that are not images" "hidden entries not counted"
expect_ok "pixels with hidden entries" "$fixture" check "$work/hidden.h5" 3
rm -r "$work/splits/train/.ipynb_checkpoints" "$work/splits/train/cat/.thumbs" \
    "$work/splits/train/.DS_Store" "$work/splits/.hidden.png"
touch "$work/flat/notes.txt"
run "$pack" --from folder "$work/flat" --out "$work/one-skipped.h5" --val-fraction 0
expect_out_has "skipped 1 entry that is not an image, e.g. $work/flat/notes.txt" "one skipped entry"
rm "$work/flat/notes.txt"

run "$pack" --from folder "$work/splits" --out "$work/gray.h5" --size 8 --channels 1
expect_status 0 "gray"
expect_out_has "images 8x8x1" "gray summary"
expect_ok "gray pixels" "$fixture" check "$work/gray.h5" 1

run "$pack" --from folder "$work/flat" --out "$work/flat.h5" --val-fraction 0
expect_status 0 "flat layout without --size"
expect_out_has "train        3 images" "flat count"
expect_ok "flat layout" "$fixture" check-flat "$work/flat.h5"

run "$pack" --from folder "$work/splits" --out "$work/sizes.h5"
expect_status 2 "sizes differ, no --size"
expect_error_line "images differ in size (20x12: $work/splits/train/cat/a_wide.png; 16x16: $work/splits/train/cat/b_blocks.png); give --size" \
    "sizes differ"
run "$pack" --from folder "$work/splits" --out "$work/own-val.h5" --size 8 --val-fraction 0.2
expect_status 2 "own val and --val-fraction"
expect_error_line "--val-fraction: the source has its own val split, $work/splits" "own val"
[ ! -e "$work/sizes.h5" ] && [ ! -e "$work/own-val.h5" ] && pass || fail "output after an error"
finish
