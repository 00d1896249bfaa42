#!/bin/bash
# prenas-train on the CNN family (the micro MBConv space, method.md §13) as a user meets it, on
# a slice of Fashion-MNIST: a run continued from its checkpoint equals an uninterrupted one bit
# for bit, 2 ranks with half the batch each match 1 rank (batch norm in groups of bn_group
# images), the monitored subnets are evaluated after BN recalibration and learn, fixed and
# whole-space sampling train, and what a CNN cannot take is a one-line error; then
# prenas-evaluate (2 ranks, --archs, latency), prenas-specialize, prenas-predict and
# prenas-search on it.
source "$(dirname "$0")/lib.sh"
start_scratch
micro=$src/configs/spaces/cnn-micro.cfg
recipe=$src/configs/recipes/cnn-micro-fmnist.cfg

fmnist_slice 2048 512 512
"$bin/prenas-score" --config "$micro" --out "$work/scores.h5" >/dev/null
"$bin/prenas-select" --in "$work/scores.h5" --out "$work/preferred.h5" >/dev/null
common=(--config "$micro" --recipe "$recipe" --data "$work/data.h5" --preferred "$work/preferred.h5"
        --set batch=32 --set bn_group=16 --set checkpoint.every_steps=3 --set eval.every_epochs=0
        --set log.every_steps=1)

# 6 steps straight, and 3 + 3.
resumed_equals_straight "$work/A" "$work/B" "${common[@]}"
expect_out_has "cnn-micro, balanced sampling, 20 preferred" "the CNN space's preferred set"
run "$py" - "$work/A/supernet.h5" "$work/preferred.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f, h5py.File(sys.argv[2], "r") as p:
    assert 'family = "cnn"' in f["space"][()].decode()
    assert list(f["archs/arch"][:]) == list(p["candidates/arch"][:])
    assert "stages.4.1.project.bn.bias" in f["params"] and f["state"].attrs["step"] == 6
print("ok")
PY
expect_out "ok" "the checkpoint keeps the CNN space, its architectures and every tensor"

# 2 ranks with 16 images each against 1 rank with 32: the same steps to float rounding. Adam's
# normalised step turns rounding noise into steps of about lr where a gradient is zero but for
# rounding (a residual block's last BN bias, which the next batch norm cancels), so 0.5 % of
# the weights may differ by more than 1e-6.
run mpirun -np 2 --bind-to none "$bin/prenas-train" "${common[@]}" --out "$work/D" --steps 4
expect_status 0 "2 ranks"
run "$bin/prenas-train" "${common[@]}" --out "$work/E" --steps 4
expect_status 0 "1 rank"
same_over_ranks "$work/D" "$work/E" 4 0.995
expect_out_has "ok" "2 ranks x 16 = 1 rank x 32 (losses and weights)"

# Two epochs (no warm-up) with the monitored pair checked on val after BN recalibration: both
# learn; the final table has the test top-1 of each of the 20 preferred architectures.
run "$bin/prenas-train" "${common[@]}" --out "$work/F" --set epochs=2 --set warmup_epochs=0 \
    --set eval.every_epochs=1 --set eval.bn_images=256 --set log.every_steps=64
expect_status 0 "two epochs"
top1=$(sed -n 's/^epoch 2: largest subnet val top-1 \([0-9.]*\)%.*/\1/p' <<<"$out")
[ -n "$top1" ] && awk -v t="$top1" 'BEGIN { exit !(t > 50) }' && pass ||
    fail "largest subnet after 2 epochs: val top-1 '$top1' (expected above 50 %): $out"
expect_out_has "epoch 2: smallest subnet val top-1" "the smallest subnet monitored too"
rows=$(grep -c "% *[0-9.]*% *[0-9.]* *[0-9]*:[0-9]*:.*:[0-9]*$" <<<"$out")
[ "$rows" -eq 20 ] && pass || fail "the final test table has $rows rows, not 20: $out"

# One fixed architecture, and the whole space.
arch=24:16:8x1k3e1:16x1k3e6:24x1k5e6:40x2k3e6:56x1k3e6:192
run "$bin/prenas-train" "${common[@]}" --out "$work/G" --sampling fixed --arch "$arch" --steps 2
expect_status 0 "fixed sampling"
run "$bin/prenas-train" "${common[@]}" --out "$work/H" --sampling space --steps 2
expect_status 0 "whole-space sampling"

# What a CNN cannot take.
run "$bin/prenas-train" "${common[@]}" --out "$work/X" --set drop_path=0.1 --steps 1
expect_status 2 "drop path on a CNN"
expect_error_line "drop path is the ViT's" "drop path refused"
run "$bin/prenas-train" "${common[@]}" --out "$work/X" --set bn_group=12 --steps 1
expect_status 2 "bn_group not dividing the batch"
expect_error_line "must be whole batch-norm groups" "bn_group refused"
run "$bin/prenas-train" "${common[@]}" --out "$work/X" --sampling resample --steps 1
expect_status 2 "resample on a CNN"
expect_error_line "a CNN selection has none" "resample refused"
run "$bin/prenas-train" "${common[@]}" --out "$work/X" --sampling fixed --steps 1 \
    --arch 24:16:8x1k7e1:16x1k3e6:24x1k5e6:40x2k3e6:56x1k3e6:192
expect_status 2 "an architecture outside the space"
expect_error_line "kernel 7 is not a choice" "the architecture's error"
run "$bin/prenas-train" "${common[@]}" --config "$src/configs/spaces/micro.cfg" --out "$work/X" \
    --steps 1
expect_status 2 "a CNN selection with a ViT space"
expect_error_line "selected in a CNN space ('cnn-micro'), $src/configs/spaces/micro.cfg is a ViT space, $work/preferred.h5" \
    "family mismatch"
[ ! -e "$work/X" ] || [ -z "$(ls "$work/X")" ] && pass || fail "a refused run left $(ls "$work/X")"
# prenas-evaluate on 2 ranks, with the run's recalibration set (its seed, eval.bn_images): every
# subnet's test top-1 and loss are those of prenas-train's final table (1 rank).
run mpirun -np 2 --bind-to none "$bin/prenas-evaluate" --supernet "$work/F/supernet.h5" \
    --data "$work/data.h5" --split test --bn-images 256 --latency-repeats 0 --no-plot \
    --out "$work/eval.h5"
expect_status 0 "evaluating the CNN supernet"
run "$py" - "$work/eval.h5" "$work/F/train.log" <<'PY'
import sys, h5py
logged = {}
for line in open(sys.argv[2]):
    if line.startswith("test "):
        kv = dict(x.split("=", 1) for x in line.split()[1:])
        logged[kv["arch"]] = (float(kv["top1"]), float(kv["loss"]))
with h5py.File(sys.argv[1], "r") as f:
    archs = [a.decode() for a in f["arch"][:]]
    assert sorted(archs) == sorted(logged), (archs, logged)
    for a, top1, loss in zip(archs, f["top1"][:], f["loss"][:]):
        assert abs(top1 - logged[a][0]) < 1e-3 and abs(loss - logged[a][1]) < 1e-5, (a, top1, loss)
    assert all(f["flops_ref"][:] == f["macs"][:])  # a CNN's FLOPs are its MACs
print("ok", len(archs))
PY
expect_out "ok 20" "prenas-evaluate's table = prenas-train's final test table"
# The val split with one more architecture listed and latencies timed; the recalibration set
# (images and batch) goes into eval.h5 for prenas-specialize.
listed=24:16:8x1k3e1:16x1k3e6:24x1k5e6:40x2k3e6:56x1k3e6:192
printf '# not a preferred one\n%s\n' "$listed" >"$work/archs.txt"
run "$bin/prenas-evaluate" --supernet "$work/F/supernet.h5" --data "$work/data.h5" \
    --archs "$work/archs.txt" --bn-images 256 --latency-repeats 2 --latency-batch 8 --no-plot \
    --out "$work/eval-val.h5"
expect_status 0 "evaluating the val split with --archs and latency"
run "$py" - "$work/eval-val.h5" "$listed" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    archs = [a.decode() for a in f["arch"][:]]
    assert len(archs) == 21 and archs[-1] == sys.argv[2] and f["preferred"][-1] == 0, archs
    assert (f["latency_1_ms"][:, 0] > 0).all() and (f["latency_batch_ms"][:, 0] > 0).all()
    assert f.attrs["bn_images"] == 256 and f.attrs["bn_batch"] == 256, dict(f.attrs)
print("ok")
PY
expect_out "ok" "21 rows (the listed one last), every latency measured, the recalibration set kept"
printf '%s\n' 24:16:8x1k7e1:16x1k3e6:24x1k5e6:40x2k3e6:56x1k3e6:192 >"$work/bad.txt"
run "$bin/prenas-evaluate" --supernet "$work/F/supernet.h5" --data "$work/data.h5" \
    --archs "$work/bad.txt" --out "$work/x.h5"
expect_status 2 "an --archs line outside the space"
expect_error_line "kernel 7 is not a choice (3)" "the line's error"

# prenas-specialize: a model per budget, each carrying the BN statistics of eval.h5's
# recalibration set; prenas-predict's test top-1 counts equal prenas-evaluate's (batches of 256
# both: the same logits).
run "$bin/prenas-specialize" --supernet "$work/F/supernet.h5" --eval "$work/eval-val.h5" \
    --test "$work/eval.h5" --budgets 0.15M,flops:4M --out-dir "$work/models"
expect_status 0 "specialising the CNN supernet"
expect_out_has "batch norms recalibrated for each model on 256 training images in batches of 256" \
    "the recalibration said"
for budget in 0.15M flops-4M; do
    model=$work/models/model-$budget.h5
    arch=$("$py" -c 'import h5py, sys; print(h5py.File(sys.argv[1])["/"].attrs["arch"])' "$model")
    run "$bin/prenas-predict" --model "$model" --data "$work/data.h5" --batch 256 \
        --out "$work/p.csv"
    expect_status 0 "predicting with model-$budget"
    run "$py" - "$work/eval.h5" "$arch" "$out" <<'PY'
import re, sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    archs = [a.decode() for a in f["arch"][:]]
    i = archs.index(sys.argv[2])
    want = round(f["top1"][i] * f["images"][i] / 100)
top1 = int(re.search(r"top-1 [0-9.]+ % \((\d+)\)", sys.argv[3]).group(1))
assert top1 == want, (top1, want, sys.argv[3])
print("ok", top1)
PY
    expect_out_has "ok" "model-$budget: prenas-predict's test top-1 = prenas-evaluate's ($arch)"
done
run "$bin/prenas-inspect" "$work/models/model-0.15M.h5"
expect_out_has "CNN " "prenas-inspect names the family"
# prenas-search on the CNN supernet: every evaluation after the BN recalibration, so the best
# architecture's fitness is prenas-evaluate's val top-1 with the same set (256 images).
run "$bin/prenas-search" --supernet "$work/F/supernet.h5" --data "$work/data.h5" \
    --out "$work/search.h5" --max-flops 6.6M --population 6 --parents 3 --mutations 2 \
    --crossovers 2 --generations 3 --bn-images 256
expect_status 0 "searching the CNN supernet"
expect_out_has "batch norms recalibrated on 256 training images" "the recalibration said"
best=$("$py" -c 'import h5py, sys; print(h5py.File(sys.argv[1])["result"].attrs["arch"])' \
    "$work/search.h5")
echo "$best" >"$work/best.txt"
run "$bin/prenas-evaluate" --supernet "$work/F/supernet.h5" --data "$work/data.h5" \
    --archs "$work/best.txt" --no-preferred --bn-images 256 --latency-repeats 0 --no-plot \
    --out "$work/eval-best.h5"
expect_status 0 "evaluating the search's best"
run "$py" - "$work/search.h5" "$work/eval-best.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as s, h5py.File(sys.argv[2], "r") as e:
    r = s["result"].attrs
    assert r["flops_ref"] <= 6600000 and (s["history/flops_ref"][:] <= 6600000).all()
    assert len(s["history/arch"]) == 18, len(s["history/arch"])
    assert abs(r["fitness"] - e["top1"][0]) < 1e-9, (r["fitness"], e["top1"][0])
    print("ok", r["arch"], r["fitness"])
PY
expect_out_has "ok" "the search's fitness = prenas-evaluate's val top-1 ($best)"
finish
