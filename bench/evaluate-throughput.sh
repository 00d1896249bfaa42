#!/bin/bash
# Evaluation throughput against the bare forward pass of the training engine, in one run:
# prenas-bench-step times the forward of the largest micro subnet on random images (eval
# img/s, no data); prenas-evaluate evaluates the same subnet of a supernet on SPLIT images
# of DATASET (reading, normalising, forward, metrics). Also the spread of the latency
# measurement: (max - min) / median over the repeats, at batch 1 and batch 64.
# usage: bench/evaluate-throughput.sh BUILD_DIR SUPERNET.h5 DATASET.h5 [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=$1 supernet=$2 data=$3
export OMP_NUM_THREADS=${4:-$(nproc)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
arch=80:6:5,5,5,5,5,5:4,4,4,4,4,4
echo "$arch" >"$work/arch.txt"
for batch in 64 256; do
    forward=$("$build/prenas-bench-step" --config configs/spaces/micro.cfg --arch "$arch" \
        --batch $batch --steps 10 | sed -n 's/^eval_img_per_s=//p')
    "$build/prenas-evaluate" --supernet "$supernet" --data "$data" --out "$work/eval.h5" \
        --archs "$work/arch.txt" --no-preferred --batch $batch --latency-repeats 30 \
        --no-plot >"$work/out.txt"
    evaluate=$(sed -n 's/^accuracy: .* s, \([0-9.]*\) img\/s$/\1/p' "$work/out.txt")
    spread=$(/usr/bin/python3 -c "
import csv; r = next(csv.DictReader(open('$work/eval.csv')))
f = lambda k: float(r[k])
print('%.3f %.1f%% %.3f %.1f%%' % (f('latency_1_ms'), 100 * (f('latency_1_max_ms') - f('latency_1_min_ms')) / f('latency_1_ms'),
      f('latency_batch_ms'), 100 * (f('latency_batch_max_ms') - f('latency_batch_min_ms')) / f('latency_batch_ms')))")
    printf 'batch %4d  %d thread(s): forward %8.1f img/s  evaluate %8.1f img/s (%.2f of the forward)  latency b1 %s  b64 %s\n' \
        $batch "$OMP_NUM_THREADS" "$forward" "$evaluate" \
        "$(/usr/bin/python3 -c "print($evaluate / $forward)")" \
        "$(cut -d' ' -f1,2 <<<"$spread" | sed 's/ / ms, spread /')" \
        "$(cut -d' ' -f3,4 <<<"$spread" | sed 's/ / ms, spread /')"
done
