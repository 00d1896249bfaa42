#!/bin/bash
# Training throughput of prenas-train on Fashion-MNIST with the micro space and its recipe
# (global batch 256, whole-space sampling so no preferred.h5 is needed): 1 rank of 1 thread
# (the baseline), 1 rank of all cores' threads, and R ranks of 1 thread each (R = cores), with
# the time a step spends in each phase; then the data pipeline alone (prenas-bench-data),
# which should be far faster than the training so that the prefetching loader hides it.
# usage: bench/train-scaling.sh [BUILD_DIR] [DATASET.h5] [STEPS]
#        (DATASET.h5 default work/fmnist/dataset.h5, from scripts/main.sh; STEPS default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
data=${2:-work/fmnist/dataset.h5}
steps=${3:-60}
[ -f "$data" ] || { echo "train-scaling.sh: no $data (run scripts/main.sh or prenas-pack)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
cores=$(nproc)
recipe=configs/recipes/micro-fmnist.cfg
# no evaluation and no checkpoint inside the measured steps
quiet=(--set eval.every_epochs=0 --set checkpoint.every_steps=100000 --set log.every_steps=10)

printf '%-6s %-8s %8s %10s %10s %10s %10s %10s\n' ranks threads img/s data_s forward_s \
    backward_s allreduce_s adamw_s
for layout in "1 1" "1 $cores" "$cores 1"; do
    read -r ranks threads <<<"$layout"
    rm -rf "$work/run"
    out=$(OMP_NUM_THREADS=$threads mpirun -np "$ranks" --bind-to none "$build/prenas-train" \
        --config configs/spaces/micro.cfg --recipe "$recipe" --data "$data" --sampling space \
        --out "$work/run" --steps "$steps" "${quiet[@]}")
    echo "$out" | grep '^per step' | tr -d ',;' | awk -v r="$ranks" -v t="$threads" -v n="$steps" \
        '{ printf "%-6s %-8s %8.1f %10s %10s %10s %10s %10s\n", r, t, n * 256 / $22, $5, $8, $11,
                  $14, $17 }'
done
echo "(img/s: steps x 256 / training seconds, the first step included; per-step phase times in seconds)"
for workers in 1 "$cores"; do
    OMP_NUM_THREADS=1 "$build/prenas-bench-data" --data "$data" --recipe "$recipe" \
        --workers "$workers" --steps 200 | head -1
done
