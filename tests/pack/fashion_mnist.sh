#!/bin/bash
# Real Fashion-MNIST, no validation split: every pixel and label as an independent reader
# (gzip + numpy) sees them, and the provenance of the four source files.
source "$(dirname "$0")/lib.sh"
scratch fashion_mnist
dataset=$work/fashion.h5

run "$pack" --from idx "$fashion" --out "$dataset" --val-fraction 0
expect_status 0 "pack Fashion-MNIST"
expect_out_has "images 28x28x1, 10 classes" "summary shape"
expect_out_has "train    60000 images" "summary train"
expect_out_has "test     10000 images" "summary test"
expect_out_has "packed 70000 images, 54.9 MB of pixels" "summary totals"
# nothing on stderr but the progress lines a slow run (the sanitizer build, a loaded machine)
# prints every 5 s
warnings=$(grep -v '^prenas-pack: [0-9]*/70000 images, [0-9]* img/s, ETA [0-9]* s$' <<<"$err")
[ -z "$warnings" ] && pass || fail "stderr not empty: $warnings"
[ ! -e "$dataset.tmp" ] && pass || fail "$dataset.tmp left behind"

expect_ok "oracle" "$python" "$here/fashion_oracle.py" whole "$fashion" "$dataset"

# /meta/inputs: the four files, each with the digest sha256sum computes.
run "$python" "$here/fashion_oracle.py" inputs "$dataset"
expect_status 0 "read /meta/inputs"
recorded=$(sort <<<"$out")
expected=$(for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte \
    t10k-labels-idx1-ubyte; do
    echo "source $fashion/$f.gz $(sha256sum "$fashion/$f.gz" | cut -d' ' -f1)"
done | sort)
[ "$recorded" = "$expected" ] && pass || fail "/meta/inputs: $recorded != $expected"
finish
