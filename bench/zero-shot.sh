#!/bin/bash
# Wall time of the zero-shot search (prenas-score + prenas-select) on this machine:
# Supernet-Tiny at ImageNet shape (224/16, data-free batch 64, as the reference) and the
# micro space, with 1 and 2 MPI ranks (OMP_NUM_THREADS = cores / ranks).
# usage: bench/zero-shot.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
cores=$(nproc)
now() { date +%s.%N; }
printf '%-10s %5s %10s %10s %10s\n' space ranks score_s select_s total_s
for space in micro vit-tiny; do
    for ranks in 1 2; do
        export OMP_NUM_THREADS=$((cores / ranks > 0 ? cores / ranks : 1))
        t0=$(now)
        mpirun -np "$ranks" --bind-to none "$build/prenas-score" --config "configs/spaces/$space.cfg" \
            --out "$work/scores.h5" >/dev/null
        t1=$(now)
        mpirun -np "$ranks" --bind-to none "$build/prenas-select" --in "$work/scores.h5" \
            --out "$work/preferred.h5" >/dev/null
        t2=$(now)
        awk -v s="$space" -v r="$ranks" -v a="$t0" -v b="$t1" -v c="$t2" \
            'BEGIN { printf "%-10s %5d %10.2f %10.2f %10.2f\n", s, r, b - a, c - b, c - a }'
    done
done
