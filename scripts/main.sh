#!/bin/bash
# The main job (README): the prenas pipeline on Fashion-MNIST with the micro search space, on
# the CPU, from a fresh Debian 12 machine. Results go to $PRENAS_WORK (default work/fmnist).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
bin=${BUILD_DIR:-build}
work=${PRENAS_WORK:-work/fmnist}
space=configs/spaces/micro.cfg
mkdir -p "$work"

echo "== pack: Fashion-MNIST -> $work/dataset.h5"
"$bin/prenas-pack" --from idx /usr/share/datasets/fashion-mnist \
    --class-names configs/datasets/fashion-mnist.classes --out "$work/dataset.h5"
"$bin/prenas-inspect" "$work/dataset.h5"

echo "== the search space"
"$bin/prenas-arch" --config "$space"
"$bin/prenas-arch" --config "$space" --enumerate
