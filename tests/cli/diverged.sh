#!/bin/bash
# A diverged run is reported as one (issue 9 §7): an update that leaves non-finite weights
# stops training with a one-line error naming the newest checkpoint that exists (or saying
# there is none), no checkpoint with non-finite weights is ever written, and an evaluation
# of non-finite weights counts no image with a non-finite logit as correct.
source "$(dirname "$0")/lib.sh"
start_scratch

fmnist_slice 256 64 64
# AdamW with eps 0 divides 0 by 0 for every entry that has had no gradient yet (the
# reproduction of the report: --sampling space, batch 10, no warm-up).
common=(--config "$src/configs/spaces/micro.cfg" --recipe "$src/configs/recipes/micro-fmnist.cfg"
        --data "$work/data.h5" --sampling space --set epochs=2 --set batch=10
        --set warmup_epochs=0 --set max_nonfinite=100 --set checkpoint.every_steps=1
        --set eval.every_epochs=0)
nonfinite() { "$py" -c "import h5py,sys,numpy as np; f=h5py.File(sys.argv[1]); print(sum(int((~np.isfinite(np.array(d))).sum()) for d in f['params'].values()))" "$1"; }

run "$bin/prenas-train" "${common[@]}" --set adamw.eps=0 --out "$work/A" --steps 4
expect_status 2 "diverged from the first step"
expect_error_line "weights non-finite" "the divergence is named"
expect_error_line "none: no checkpoint was written" "no checkpoint is called good"
[ -z "$(ls "$work/A" | grep '\.h5$')" ] && pass || fail "a checkpoint was written: $(ls "$work/A")"

# Two good steps, then the run continued with eps 0: stops at step 3, names step 2's file. A
# resume keeps the recipe it started with (docs/cli.md), so the checkpoint's recorded recipe is
# given eps 0 too, as if its finite steps had been taken with it.
run "$bin/prenas-train" "${common[@]}" --out "$work/B" --steps 2
expect_status 0 "two good steps"
"$py" - "$work/B/supernet.h5" <<'PY'
import re, sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    text = f["meta/config"][()].decode()
    del f["meta/config"]
    f.create_dataset("meta/config", data=re.sub(r"\beps = [^;]*;", "eps = 0.0;", text).encode(),
                     dtype=h5py.string_dtype("ascii"))
PY
run "$bin/prenas-train" "${common[@]}" --set adamw.eps=0 --out "$work/B" --steps 4
expect_status 2 "diverged at step 3"
expect_error_line "last checkpoint with finite weights: $work/B/checkpoint-00000002.h5" \
    "the newest checkpoint is named"
[ ! -e "$work/B/checkpoint-00000003.h5" ] && pass || fail "the diverged step was checkpointed"
for f in "$work/B"/checkpoint-*.h5 "$work/B/supernet.h5"; do
    [ "$(nonfinite "$f")" = 0 ] && pass || fail "$f holds non-finite weights"
done

# Non-finite weights evaluated: no image with a NaN logit counts as correct.
cp "$work/B/supernet.h5" "$work/nan.h5"
"$py" -c "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); b=f['params/head.bias']; v=b[...]; v[0]=float('nan'); b[...]=v" "$work/nan.h5"
printf '80:6:5,5,5,5,5,5:4,4,4,4,4,4\n' >"$work/arch.txt"
run "$bin/prenas-evaluate" --supernet "$work/nan.h5" --data "$work/data.h5" --out "$work/eval.h5" \
    --archs "$work/arch.txt" --latency-repeats 0 --no-plot
expect_status 0 "evaluated"
row=$("$py" -c "import csv,sys; r=next(csv.DictReader(open(sys.argv[1]))); print(r['top1'], r['top5'], r['loss'], r['nonfinite'])" "$work/eval.csv")
[ "$row" = "0.0000 0.0000 nan 64" ] && pass || fail "NaN logits counted: top1 top5 loss nonfinite = $row"
expect_out_has "[64 images with non-finite logits]" "the table says so"
finish
