#!/bin/bash
# Fashion-MNIST with the default validation split: stratified counts, disjoint and complete
# source indices, the same split for the same seed and another for another seed.
source "$(dirname "$0")/lib.sh"
scratch split

run "$pack" --from idx "$fashion" --out "$work/seed0.h5"
expect_status 0 "default split"
expect_out_has "train    54000 images" "summary train"
expect_out_has "val       6000 images" "summary val"
expect_out_has "10% of train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, stratified, seed 0" \
    "val source"
expect_ok "oracle" "$python" "$here/fashion_oracle.py" holdout "$fashion" "$work/seed0.h5" 0.1

run "$pack" --from idx "$fashion" --out "$work/seed0-again.h5" --seed 0
expect_status 0 "same seed"
for split in train val test; do
    run h5diff "$work/seed0.h5" "$work/seed0-again.h5" /$split /$split
    expect_status 0 "same seed, same /$split"
done

run "$pack" --from idx "$fashion" --out "$work/seed1.h5" --seed 1 --val-fraction 0.25
expect_status 0 "seed 1"
expect_ok "oracle, seed 1" "$python" "$here/fashion_oracle.py" holdout "$fashion" \
    "$work/seed1.h5" 0.25
run "$pack" --from idx "$fashion" --out "$work/seed1-tenth.h5" --seed 1
expect_status 0 "seed 1, default fraction"
expect_ok "another seed, other val images" "$python" "$here/fashion_oracle.py" val-differs \
    "$work/seed0.h5" "$work/seed1-tenth.h5"
finish
