#!/bin/bash
# prenas-train on a GPU (ctest label cuda; skipped where no GPU is usable): a resumed run
# equals an uninterrupted one bit for bit, a run repeats bit for bit, 6 steps on the GPU stay
# close to the same 6 steps on the CPU (fp32: float rounding only), and a checkpoint moves
# between the devices (CPU-trained steps resumed on the GPU and the other way round).
source "$(dirname "$0")/lib.sh"
start_scratch
require_gpu "$bin/prenas-bench-step"

fmnist_slice 1024 256 256
common=(--config "$src/configs/spaces/micro.cfg" --recipe "$src/configs/recipes/micro-fmnist.cfg"
        --data "$work/data.h5" --sampling space --set batch=32 --set checkpoint.every_steps=3
        --set eval.every_epochs=0)

run "$bin/prenas-train" "${common[@]}" --device cuda --out "$work/A" --steps 6
expect_status 0 "6 steps on the GPU"
expect_out_has "prenas-train: device cuda:" "the GPU is announced"
run "$bin/prenas-train" "${common[@]}" --device cuda --out "$work/B" --steps 3
run "$bin/prenas-train" "${common[@]}" --device cuda --out "$work/B" --steps 6
expect_status 0 "continued to 6 on the GPU"
same_state "$work/A/supernet.h5" "$work/B/supernet.h5" && pass ||
    fail "3 + 3 steps on the GPU differ from 6"
run "$bin/prenas-train" "${common[@]}" --device cuda --out "$work/A2" --steps 6
same_state "$work/A/supernet.h5" "$work/A2/supernet.h5" && pass || fail "the GPU run does not repeat"

run "$bin/prenas-train" "${common[@]}" --device cpu --out "$work/C" --steps 6
expect_status 0 "6 steps on the CPU"
# worst_error A B: the largest |a - b| of a tensor over its largest |b|, over /params
worst_error() {
    "$py" - "$1" "$2" <<'PY'
import h5py, numpy as np, sys
a, b = h5py.File(sys.argv[1])["params"], h5py.File(sys.argv[2])["params"]
worst = 0.0
for name in a:
    x, y = np.asarray(a[name], np.float64), np.asarray(b[name], np.float64)
    worst = max(worst, np.abs(x - y).max() / max(np.abs(y).max(), 1e-30))
print(f"{worst:.3e}")
PY
}
close() { # close A B WHAT: within 1e-3 (fp32 rounding over a few steps)
    local worst
    worst=$(worst_error "$1" "$2")
    echo "$3: worst tensor error $worst (relative to its largest entry)"
    "$py" -c "import sys; sys.exit(0 if float(sys.argv[1]) < 1e-3 else 1)" "$worst" && pass ||
        fail "$3: weights differ by $worst"
}
close "$work/A/supernet.h5" "$work/C/supernet.h5" "6 steps, GPU against CPU"

# a checkpoint moves between devices: 3 steps on one, resumed to 6 on the other
run "$bin/prenas-train" "${common[@]}" --device cpu --out "$work/D" --steps 3
run "$bin/prenas-train" "${common[@]}" --device cuda --out "$work/D" --steps 6
expect_status 0 "CPU checkpoint resumed on the GPU"
close "$work/D/supernet.h5" "$work/C/supernet.h5" "3 CPU + 3 GPU steps against 6 CPU steps"
run "$bin/prenas-train" "${common[@]}" --device cuda --out "$work/E" --steps 3
run "$bin/prenas-train" "${common[@]}" --device cpu --out "$work/E" --steps 6
expect_status 0 "GPU checkpoint resumed on the CPU"
close "$work/E/supernet.h5" "$work/C/supernet.h5" "3 GPU + 3 CPU steps against 6 CPU steps"
finish
