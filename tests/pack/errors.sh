#!/bin/bash
# Damaged sources: each ends with exit status 2 and one line on stderr naming the file at
# fault; no output file and no .tmp remain, and an older dataset at the output path is left
# byte for byte as it was. Also the command-line mistakes.
source "$(dirname "$0")/lib.sh"
scratch errors
d=$work
expect_ok "make the IDX and CIFAR fixtures" "$python" "$here/damaged_fixture.py" "$d"
expect_ok "make the image folders" "$fixture" make "$d/images"
run "$pack" --from idx "$d/good" --out "$d/older.h5" --val-fraction 0
expect_status 0 "the older dataset"

target=$d/dataset.h5
# expect_failure MESSAGE PACK-ARGUMENTS...: twice, without and with an older file at $target.
expect_failure() {
    local message=$1
    shift
    rm -f "$target" "$target.tmp"
    run "$pack" "$@" --out "$target"
    expect_status 2 "$*"
    expect_error_line "$message" "$*"
    [ ! -e "$target" ] && [ ! -e "$target.tmp" ] && pass || fail "output left behind: $*"
    cp "$d/older.h5" "$target"
    run "$pack" "$@" --out "$target"
    expect_status 2 "$* (over an older file)"
    cmp -s "$d/older.h5" "$target" && pass || fail "the older dataset changed: $*"
    [ ! -e "$target.tmp" ] && pass || fail "$target.tmp left behind: $*"
}

expect_failure "bad magic number 0x00000903, expected 0x00000803 (unsigned bytes, 3 dimensions), $d/bad_magic/train-images-idx3-ubyte" \
    --from idx "$d/bad_magic" --val-fraction 0
expect_failure "truncated: the data ends in record 19 of 20 (313 of 320 bytes), $d/truncated_images/train-images-idx3-ubyte" \
    --from idx "$d/truncated_images" --val-fraction 0
expect_failure "trailing bytes after the 320 bytes of data, $d/trailing/train-images-idx3-ubyte" \
    --from idx "$d/trailing" --val-fraction 0
expect_failure "damaged or truncated gzip stream (unexpected end of file), $d/truncated_gz/train-images-idx3-ubyte.gz" \
    --from idx "$d/truncated_gz"
expect_failure "label 12 of record 3 is outside [0, 10), $d/label_range/train-labels-idx1-ubyte" \
    --from idx "$d/label_range"
expect_failure "20 images but 19 labels in $d/count_mismatch/train-labels-idx1-ubyte, $d/count_mismatch/train-images-idx3-ubyte" \
    --from idx "$d/count_mismatch"
expect_failure "truncated: 6147 bytes is not a whole number of 3073-byte records, $d/cifar_size/data_batch_3.bin" \
    --from cifar "$d/cifar_size"
expect_failure "label 10 of record 1 is outside [0, 10), $d/cifar_label/data_batch_2.bin" \
    --from cifar "$d/cifar_label"
expect_failure "no train-images-idx3-ubyte or train-images-idx3-ubyte.gz, $d/empty" \
    --from idx "$d/empty"
expect_failure "no CIFAR-10 (data_batch_1.bin) or CIFAR-100 (train.bin) batches, $d/empty" \
    --from cifar "$d/empty"
expect_failure "no class folders (expected SRC/CLASS/IMAGE or SRC/train/CLASS/IMAGE), $d/empty" \
    --from folder "$d/empty"
expect_failure "the source is not a directory, $d/nowhere" --from idx "$d/nowhere"

# Image files cut short in their image data (the JPEG in its entropy-coded data, the PNG in
# its last IDAT chunk): found when decoding, after the output file was begun.
cp -r "$d/images/splits" "$d/cut_jpeg"
jpeg=$d/cut_jpeg/train/zebra/h_photo.jpg
head -c $(($(stat -c %s "$jpeg") - 40)) "$jpeg" >"$d/part" && mv "$d/part" "$jpeg"
expect_failure "corrupt JPEG (Premature end of JPEG file), $jpeg" --from folder "$d/cut_jpeg" \
    --size 8
cp -r "$d/images/splits" "$d/cut_png"
png=$d/cut_png/train/cat/b_blocks.png
head -c $(($(stat -c %s "$png") - 20)) "$png" >"$d/part" && mv "$d/part" "$png"
expect_failure ", $png" --from folder "$d/cut_png" --size 8
expect_error_line "corrupt PNG (" "the PNG's message"
# Without --size the sizes are read first; the image data is still checked when decoded.
cp -r "$d/images/flat" "$d/cut_flat"
flat_png=$d/cut_flat/one/gradient.png
head -c $(($(stat -c %s "$flat_png") - 20)) "$flat_png" >"$d/part" && mv "$d/part" "$flat_png"
expect_failure ", $flat_png" --from folder "$d/cut_flat" --val-fraction 0
cp -r "$d/images/flat" "$d/fake_flat"
printf 'GIF89a' >"$d/fake_flat/two/fake.png"
expect_failure "neither a JPEG nor a PNG file (by its first bytes), $d/fake_flat/two/fake.png" \
    --from folder "$d/fake_flat" --val-fraction 0

# The output's directory must exist.
run "$pack" --from idx "$d/good" --out "$d/missing/dataset.h5" --val-fraction 0
expect_status 2 "missing output directory"
expect_error_line "the output directory does not exist, $d/missing" "missing output directory"
[ ! -e "$d/missing" ] && pass || fail "the missing directory was created"

# Command-line mistakes: exit 2, one line.
run "$pack" "$d/good" --out "$target"
expect_status 2 "no --from"
expect_error_line "--from idx|cifar|folder is required" "no --from"
run "$pack" --from tar "$d/good" --out "$target"
expect_status 2 "bad --from"
expect_error_line "--from 'tar': expected idx, cifar or folder" "bad --from"
run "$pack" --from idx --out "$target"
expect_status 2 "no SRC"
expect_error_line "no SRC directory given" "no SRC"
run "$pack" --from idx "$d/good" --out "$target" --channels 2
expect_status 2 "--channels 2"
expect_error_line "--channels '2': expected 1 or 3" "--channels 2"
run "$pack" --from idx "$d/good" --out "$target" --val-fraction 1
expect_status 2 "--val-fraction 1"
expect_error_line "--val-fraction 1 would leave nothing to train on" "--val-fraction 1"
run "$pack" --from folder "$d/images/flat" --out "$target" --class-names "$d/x"
expect_status 2 "--class-names with folders"
expect_error_line "--class-names does not apply to folders" "--class-names with folders"
run "$pack" --help
expect_status 0 "--help"
expect_out_has "usage: prenas-pack --from idx|cifar|folder SRC --out dataset.h5" "--help"
expect_out_has "Exit status: 0 success, 2 bad usage or bad input" "--help exit codes"
run "$pack" --version
expect_status 0 "--version"
expect_out_has "prenas-pack 0." "--version"
finish
