#!/bin/bash
# The stages after training on a GPU (ctest label cuda; skipped where no GPU is usable):
# zero-cost scoring gives the same preferred architectures as on the CPU, evaluation the same
# top-1 within one image per architecture, and latency is measured on the GPU (CUDA events).
source "$(dirname "$0")/lib.sh"
start_scratch
require_gpu "$bin/prenas-bench-step"
micro=$src/configs/spaces/micro.cfg
archs() { "$py" -c "import h5py,sys; [print(a.decode()) for a in sorted(h5py.File(sys.argv[1])['candidates/arch'][:])]" "$1"; }

for device in cpu cuda; do
    run "$bin/prenas-score" --config "$micro" --out "$work/scores-$device.h5" --device $device
    expect_status 0 "score on $device"
    run "$bin/prenas-select" --in "$work/scores-$device.h5" --out "$work/preferred-$device.h5"
    expect_status 0 "select after scoring on $device"
done
[ -n "$(archs "$work/preferred-cpu.h5")" ] && pass || fail "no architectures in preferred.h5"
[ "$(archs "$work/preferred-cpu.h5")" = "$(archs "$work/preferred-cuda.h5")" ] && pass ||
    fail "the preferred architectures differ between the CPU and the GPU"

fmnist_slice 1024 512 256
"$bin/prenas-train" --config "$micro" --recipe "$src/configs/recipes/micro-fmnist.cfg" \
    --data "$work/data.h5" --preferred "$work/preferred-cpu.h5" --set batch=32 \
    --set eval.every_epochs=0 --device cpu --out "$work/run" --steps 30 >/dev/null
for device in cpu cuda; do
    run "$bin/prenas-evaluate" --supernet "$work/run/supernet.h5" --data "$work/data.h5" \
        --out "$work/eval-$device.h5" --latency-repeats 3 --no-plot --device $device
    expect_status 0 "evaluate on $device"
done
"$py" - "$work/eval-cpu.csv" "$work/eval-cuda.csv" <<'PY' && pass || fail "top-1 differs by more than one image"
import csv, sys
cpu, gpu = (list(csv.DictReader(open(p))) for p in sys.argv[1:3])
assert [r["arch"] for r in cpu] == [r["arch"] for r in gpu]
for a, b in zip(cpu, gpu):
    images = int(a["images"]) if "images" in a else 512
    diff = abs(float(a["top1"]) - float(b["top1"])) * images / 100
    print(f'{a["arch"]}: top-1 {a["top1"]} (cpu) {b["top1"]} (gpu): {diff:.1f} images apart')
    assert diff <= 1.0 + 1e-6
PY
"$py" -c "import h5py,sys; d=h5py.File(sys.argv[1]).attrs.get('latency_device', b''); sys.exit(0 if (d.decode() if isinstance(d, bytes) else d) == 'cuda' else 1)" "$work/eval-cuda.h5" && pass || fail "eval.h5 does not say its latencies are the GPU's"
finish
