#!/bin/bash
# prenas-pack's throughput on Fashion-MNIST (IDX, .gz, the default 10% val split), with the
# floor it cannot beat measured in the same run: gzip -dc of the same four files.
#
# usage: bench/pack-throughput.sh [BUILD_DIR]     (default: build)
# Prints the best of 3 wall times of each, the packer's rate in MB/s of decoded pixels
# ((60000 + 10000) x 784 bytes), and the ratio of the two times.
set -euo pipefail
build=${1:-build}
pack=$build/prenas-pack
src=/usr/share/datasets/fashion-mnist
files=("$src"/train-images-idx3-ubyte.gz "$src"/train-labels-idx1-ubyte.gz
    "$src"/t10k-images-idx3-ubyte.gz "$src"/t10k-labels-idx1-ubyte.gz)
[ -x "$pack" ] || { echo "pack-throughput: no $pack (build first)" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/pack-throughput.XXXXXX")
trap 'rm -rf "$work"' EXIT

# best_of_3 CMD...: the shortest wall time of three runs, in seconds.
best_of_3() {
    local best="" start end
    for _ in 1 2 3; do
        start=$(date +%s.%N)
        "$@" >/dev/null
        end=$(date +%s.%N)
        best=$(awk -v s="$start" -v e="$end" -v b="$best" \
            'BEGIN { t = e - s; print (b == "" || t < b) ? t : b }')
    done
    echo "$best"
}
decompress() { gzip -dc "${files[@]}"; }

pack_s=$(best_of_3 "$pack" --from idx "$src" --out "$work/dataset.h5")
gzip_s=$(best_of_3 decompress)
awk -v p="$pack_s" -v g="$gzip_s" -v bytes=$(((60000 + 10000) * 784)) 'BEGIN {
    printf "prenas-pack --from idx (Fashion-MNIST, default split), best of 3: %.3f s, %.1f MB/s of decoded pixels (%.1f MB)\n", p, bytes / p / 1e6, bytes / 1e6
    printf "gzip -dc of the four .gz files, best of 3:                         %.3f s\n", g
    printf "ratio prenas-pack / gzip -dc: %.2f\n", p / g
}'
