#!/bin/bash
# seeds.sh OUT: the HDF5 harnesses' seed corpus, OUT/<harness>/, made by the real stages on the
# tiny space (tests/fuzz/tiny.cfg) and a 24-image IDX dataset written here (and CNN scores on
# tests/spaces/cnn-tiny.cfg): a dataset, scores,
# preferred architectures, a checkpoint and the supernet after two steps, an evaluation table
# and a model. Made at test time rather than committed: they follow the schemas as they change.
set -euo pipefail
out=$1
bin=$PRENAS_BINARY_DIR
here=$(cd "$(dirname "$0")" && pwd)
space=$here/tiny.cfg
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1

# IDX files: 16 train and 8 test images of 8x8 pixels, labels 0..9 in turn
mkdir "$work/idx"
"$PRENAS_PYTHON" - "$work/idx" <<'PY'
import struct, sys
for split, n in (("train", 16), ("t10k", 8)):
    with open(f"{sys.argv[1]}/{split}-images-idx3-ubyte", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 8, 8) + bytes((i * 37 + p * 11) % 256 for i in range(n) for p in range(64)))
    with open(f"{sys.argv[1]}/{split}-labels-idx1-ubyte", "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + bytes(i % 10 for i in range(n)))
PY
"$bin/prenas-pack" --from idx "$work/idx" --val-fraction 0.25 --out "$work/data.h5" >/dev/null
"$bin/prenas-score" --config "$space" --out "$work/scores.h5" --batch 4 >/dev/null
"$bin/prenas-select" --in "$work/scores.h5" --out "$work/preferred.h5" >/dev/null
"$bin/prenas-score" --config "$here/../spaces/cnn-tiny.cfg" --out "$work/scores_cnn.h5" --batch 2 \
    >/dev/null
"$bin/prenas-train" --config "$space" --recipe "$here/../../configs/recipes/micro-fmnist-quick.cfg" \
    --data "$work/data.h5" --preferred "$work/preferred.h5" --out "$work/run" --steps 2 \
    --set batch=4 --set precision=fp32 --set checkpoint.every_steps=1 --set eval.every_epochs=0 \
    --set augment.pad=0 >/dev/null
"$bin/prenas-evaluate" --supernet "$work/run/supernet.h5" --data "$work/data.h5" \
    --out "$work/eval.h5" --latency-repeats 1 --no-plot >/dev/null
"$bin/prenas-specialize" --supernet "$work/run/supernet.h5" --data "$work/data.h5" \
    --eval "$work/eval.h5" --out "$work/model.h5" --max-params 6000 >/dev/null

rm -rf "$out"
mkdir -p "$out"/{dataset,scores,preferred,supernet,checkpoint,eval,model}
cp "$work/data.h5" "$out/dataset/"
cp "$work/scores.h5" "$work/scores_cnn.h5" "$out/scores/"
cp "$work/preferred.h5" "$out/preferred/"
cp "$work/run/supernet.h5" "$out/supernet/"
cp "$work/run"/checkpoint-*.h5 "$out/checkpoint/"
cp "$work/run/supernet.h5" "$out/checkpoint/"
cp "$work/eval.h5" "$out/eval/"
cp "$work/model.h5" "$out/model/"
ls -l "$out"/*/
