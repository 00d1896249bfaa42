#!/bin/bash
# CIFAR-10 and CIFAR-100 binary batches with known pixels: CHW planes become HWC, the fine
# label of CIFAR-100 is used, class names come from the meta text files.
source "$(dirname "$0")/lib.sh"
scratch cifar
mkdir "$work/c10" "$work/c100"
expect_ok "make the fixture" "$python" "$here/cifar_fixture.py" make "$work/c10" "$work/c100"

run "$pack" --from cifar "$work/c10" --out "$work/c10.h5" --val-fraction 0
expect_status 0 "CIFAR-10"
expect_out_has "images 32x32x3, 10 classes: airplane, automobile" "CIFAR-10 summary"
expect_out_has "train       15 images" "CIFAR-10 train count"
expect_out_has "CIFAR-10 data_batch_1.bin .. data_batch_5.bin" "CIFAR-10 train source"
expect_ok "CIFAR-10 pixels" "$python" "$here/cifar_fixture.py" check 10 "$work/c10.h5"

run "$pack" --from cifar "$work/c100" --out "$work/c100.h5" --val-fraction 0
expect_status 0 "CIFAR-100"
expect_out_has "images 32x32x3, 100 classes: fine_00, fine_01" "CIFAR-100 summary"
expect_ok "CIFAR-100 pixels" "$python" "$here/cifar_fixture.py" check 100 "$work/c100.h5"

run "$pack" --from cifar "$work/c10" --out "$work/gray16.h5" --val-fraction 0 --size 16 \
    --channels 1
expect_status 0 "CIFAR-10 at 16x16, gray"
expect_ok "CIFAR-10 at 16x16, gray" "$python" "$here/cifar_fixture.py" check-gray16 \
    "$work/gray16.h5"

# --class-names replaces the meta file's names, and must name every class.
seq -f "class %g" 0 9 >"$work/names.txt"
run "$pack" --from cifar "$work/c10" --out "$work/renamed.h5" --val-fraction 0 \
    --class-names "$work/names.txt"
expect_status 0 "--class-names"
expect_out_has "10 classes: class 0, class 1" "--class-names used"
head -n 9 "$work/names.txt" >"$work/nine.txt"
run "$pack" --from cifar "$work/c10" --out "$work/renamed.h5" --class-names "$work/nine.txt"
expect_status 2 "nine names for ten classes"
expect_error_line "9 class names for the 10 classes of the source, $work/nine.txt" "nine names"

# Classes of one or two images each: a tenth of them is no image at all.
run "$pack" --from cifar "$work/c10" --out "$work/none-held.h5"
expect_status 2 "nothing held out"
expect_error_line "--val-fraction 0.1 holds out no image" "nothing held out"
finish
