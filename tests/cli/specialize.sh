#!/bin/bash
# prenas-specialize as a user meets it, on a micro supernet trained for a few steps: the
# preferred ranking without eval.h5 (the largest preferred architecture within the budget),
# budget lists, the choice by measured val accuracy, the model file (provenance, normalisation,
# classes, dense q|k|v tensors), the table with test accuracies (--test), and one-line errors
# that leave nothing behind.
source "$(dirname "$0")/lib.sh"
start_scratch

fmnist_slice 256 64 64
cp "$work/data.h5" "$work/gone.h5"
"$bin/prenas-score" --config "$src/configs/spaces/micro.cfg" --out "$work/scores.h5" >/dev/null
"$bin/prenas-select" --in "$work/scores.h5" --out "$work/preferred.h5" >/dev/null
train=(--config "$src/configs/spaces/micro.cfg" --recipe "$src/configs/recipes/micro-fmnist.cfg"
       --preferred "$work/preferred.h5" --set batch=32 --set eval.every_epochs=0)
"$bin/prenas-train" "${train[@]}" --data "$work/data.h5" --out "$work/A" --steps 3 >/dev/null
# another supernet, trained on a dataset file that is then removed
"$bin/prenas-train" "${train[@]}" --data "$work/gone.h5" --out "$work/B" --steps 1 >/dev/null
rm "$work/gone.h5"
supernet=$work/A/supernet.h5
evaluate=(--data "$work/data.h5" --images 32 --batch 32 --latency-repeats 1 --latency-batch 2 --no-plot)

# The preferred architecture an Eq. 12 choice by ranking must give: the highest interval
# within the budget, then the highest score (one per interval here); and the smallest one.
preferred() { # preferred MAX_PARAMS
    "$py" - "$work/preferred.h5" "$1" <<'PY'
import sys, h5py
c = h5py.File(sys.argv[1], "r")["candidates"]
rows = [(int(k), float(s), a.decode()) for k, s, a, p in
        zip(c["interval"][:], c["score"][:], c["arch"][:], c["params"][:]) if p <= int(sys.argv[2])]
print(max(rows)[2] if rows else "")
PY
}
smallest=$("$py" -c "import sys, h5py; c = h5py.File(sys.argv[1], 'r')['candidates']; print(min(zip(c['params'][:], c['arch'][:]))[1].decode())" "$work/preferred.h5")

# Without eval.h5: by the preferred ranking.
run "$bin/prenas-specialize" --supernet "$supernet" --max-params 0.3M --out "$work/m.h5"
expect_status 0 "specialize by ranking"
expected=$(preferred 300000)
expect_out_has "params <= 300K: the preferred ranking (highest interval, then proxy score)" "the rule is named"
grep -qE "^  chosen +interval [0-9]+, score .*  $expected$" <<<"$out" && pass || fail "chosen $expected: $out"
expect_out_has "runner-up" "the runner-up is shown"
grep -qE "^params <= 300K +[0-9]+ +[0-9.]+M +ranked +- +- +$work/m.h5 " <<<"$out" && pass ||
    fail "summary line: $out"
[ -e "$work/m.h5" ] && [ ! -e "$work/m.h5.tmp" ] && pass || fail "m.h5 written"

# The model: provenance, the choice, the training split's normalisation, the classes, and
# dense tensors equal to the supernet's slices (q|k|v rows de-interleaved).
run "$py" - "$work/m.h5" "$supernet" "$work/data.h5" "$expected" <<'PY'
import sys, hashlib, math, h5py, numpy as np
m, s, d = (h5py.File(p, "r") for p in sys.argv[1:4])
a = m.attrs
text = lambda v: v.decode() if isinstance(v, bytes) else v
assert text(m["meta"].attrs["schema"]) == "prenas.model"
assert text(a["arch"]) == sys.argv[4], a["arch"]
assert text(a["chosen_by"]) == "preferred ranking (Eq. 12) within params <= 300K", a["chosen_by"]
assert text(a["split"]) == "" and math.isnan(a["top1"][0])
inputs = {text(g.attrs["role"]): g.attrs for g in m["meta/inputs"].values()}
assert sorted(inputs) == ["dataset", "supernet"], inputs
for role, path in (("supernet", sys.argv[2]), ("dataset", sys.argv[3])):
    assert text(inputs[role]["sha256"]) == hashlib.sha256(open(path, "rb").read()).hexdigest(), role
assert np.array_equal(a["mean"], d["train"].attrs["mean"]) and np.array_equal(a["std"], d["train"].attrs["std"])
assert list(m["classes"][:]) == list(d["classes"][:])
E, D, heads = int(sys.argv[4].split(":")[0]), int(sys.argv[4].split(":")[1]), [int(h) for h in sys.argv[4].split(":")[2].split(",")]
assert not any(n.startswith("blocks.%d." % D) for n in m["params"]), "only D blocks"
for l in range(D):
    q = 16 * heads[l]
    dense, sup = m["params/blocks.%d.attn.qkv.weight" % l][:], s["params/blocks.%d.attn.qkv.weight" % l][:]
    assert dense.shape == (3 * q, E), dense.shape
    for t in range(3):  # dense row t q + f is supernet row 3 f + t
        assert np.array_equal(dense[t * q:(t + 1) * q], sup[t:3 * q:3, :E]), (l, t)
assert np.array_equal(m["params/head.weight"][:], s["params/head.weight"][:, :E])
print("ok")
PY
expect_out "ok" "the model file"

# Budgets: one model per entry, named after it, from a list or a file.
run "$bin/prenas-specialize" --supernet "$supernet" --budgets 0.2M,350K --out-dir "$work/models"
expect_status 0 "--budgets"
[ "$(ls "$work/models")" = "$(printf 'model-0.2M.h5\nmodel-350K.h5\nmodels.txt')" ] && pass || fail "budget files: $(ls "$work/models")"
expect_out_has "params <= 200K" "first budget"
expect_out_has "params <= 350K" "second budget"
for budget in 0.2M:200000 350K:350000; do
    arch=$("$py" -c "import sys, h5py; a = h5py.File(sys.argv[1], 'r').attrs['arch']; print(a.decode() if isinstance(a, bytes) else a)" "$work/models/model-${budget%%:*}.h5")
    [ "$arch" = "$(preferred "${budget##*:}")" ] && pass || fail "budget ${budget%%:*}: $arch"
done
printf '# budgets\nparams:0.2M\nflops:20M  # the reference count\n' >"$work/budgets.txt"
run "$bin/prenas-specialize" --supernet "$supernet" --budgets "$work/budgets.txt" --out-dir "$work/fromfile"
expect_status 0 "--budgets FILE"
[ "$(ls "$work/fromfile")" = "$(printf 'model-0.2M.h5\nmodel-flops-20M.h5\nmodels.txt')" ] && pass || fail "budget files: $(ls "$work/fromfile")"

# With eval.h5 (val): the best measured top-1 within the limits.
"$bin/prenas-evaluate" --supernet "$supernet" "${evaluate[@]}" --out "$work/eval.h5" >/dev/null 2>&1
run "$bin/prenas-specialize" --supernet "$supernet" --eval "$work/eval.h5" --max-params 0.3M --max-latency-ms 10000 --out "$work/e.h5"
expect_status 0 "specialize by accuracy"
expect_out_has "params <= 300K, latency <= 10000 ms: the highest val top-1 of the" "accuracy rule named"
best=$("$py" - "$work/eval.csv" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if int(r["params"]) <= 300000]
print(min(rows, key=lambda r: (-float(r["top1"]), int(r["params"]), r["arch"]))["arch"])
PY
)
grep -qE "^  chosen +val top-1 .*  $best$" <<<"$out" && pass || fail "chosen $best: $out"
run "$py" -c "import sys, h5py; m = h5py.File(sys.argv[1], 'r'); print(sorted(g.attrs['role'] for g in m['meta/inputs'].values()), m.attrs['split'])" "$work/e.h5"
expect_out "['dataset', 'eval', 'supernet'] val" "eval.h5 recorded, split val"

# Errors: exit 2, one line, nothing written.
run "$bin/prenas-specialize" --supernet "$supernet" --max-params 1K --out "$work/none.h5"
expect_status 2 "a limit nothing meets"
expect_error_line "no architecture meets params <= 1K: the smallest of the 4 preferred architectures is $smallest (params " "unsatisfiable"
run "$bin/prenas-specialize" --supernet "$supernet" --budgets 0.3M,1K --out-dir "$work/partly"
expect_status 2 "one budget nothing meets"
expect_error_line "no architecture meets params <= 1K" "unsatisfiable budget"
[ ! -e "$work/none.h5" ] && [ ! -e "$work/partly" ] && pass || fail "written on error: $(ls "$work")"
cp "$supernet" "$work/supernet-copy.h5"
run "$bin/prenas-specialize" --supernet "$supernet" --max-params 0.3M --out "$supernet"
expect_status 2 "--out is the supernet"
expect_error_line "the output would replace an input, $supernet" "--out is the supernet"
cmp -s "$supernet" "$work/supernet-copy.h5" && pass || fail "the supernet given as --out changed"

"$bin/prenas-evaluate" --supernet "$work/B/supernet.h5" "${evaluate[@]}" --out "$work/evalB.h5" >/dev/null 2>&1
run "$bin/prenas-specialize" --supernet "$supernet" --eval "$work/evalB.h5" --max-params 0.3M --out "$work/none.h5"
expect_status 2 "eval.h5 of another supernet"
expect_error_line "$work/evalB.h5 evaluated another supernet ($work/B/supernet.h5, SHA-256" "another supernet"
grep -qF "not $supernet (SHA-256" <<<"$err" && pass || fail "names both supernets: $err"

"$bin/prenas-evaluate" --supernet "$supernet" "${evaluate[@]}" --split test --out "$work/evaltest.h5" >/dev/null 2>&1
run "$bin/prenas-specialize" --supernet "$supernet" --eval "$work/evaltest.h5" --max-params 0.3M --out "$work/none.h5"
expect_status 2 "a test-split eval.h5"
expect_error_line "accuracies on the test split never choose a model" "test split refused"

# --test: the test top-1 of each model beside its val top-1 in the table, also in models.txt.
run "$bin/prenas-specialize" --supernet "$supernet" --eval "$work/eval.h5" --test "$work/evaltest.h5" \
    --budgets 0.3M --out-dir "$work/tested"
expect_status 0 "--test"
top1() { "$py" -c "import csv, sys; print(next('%.2f%%' % float(r['top1']) for r in csv.DictReader(open(sys.argv[1])) if r['arch'] == sys.argv[2]))" "$1" "$2"; }
expect_out_has "val top-1 test top-1    latency" "table header"
grep -qE "^params <= 300K +[0-9]+ +[0-9.]+M +$(top1 "$work/eval.csv" "$best") +$(top1 "$work/evaltest.csv" "$best") +[0-9.]+ ms +$work/tested/model-0.3M.h5 +$best$" <<<"$out" &&
    pass || fail "val and test top-1 of $best: $out"
[ "$(tail -n 2 <<<"$out")" = "$(cat "$work/tested/models.txt")" ] && pass || fail "models.txt is the table: $(cat "$work/tested/models.txt")"
run "$bin/prenas-specialize" --supernet "$supernet" --eval "$work/eval.h5" --test "$work/eval.h5" --max-params 0.3M --out "$work/none.h5"
expect_status 2 "--test of the val split"
expect_error_line "--test wants an evaluation of the test split (prenas-evaluate --split test), and this one is of the val split, $work/eval.h5" "--test of val"
run "$bin/prenas-specialize" --supernet "$supernet" --test "$work/evalB.h5" --max-params 0.3M --out "$work/none.h5"
expect_status 2 "--test of another supernet"
expect_error_line "$work/evalB.h5 evaluated another supernet" "--test of another supernet"

cp "$work/eval.h5" "$work/evalgpu.h5"
"$py" -c "import sys, h5py; h5py.File(sys.argv[1], 'r+').attrs['latency_device'] = 'cuda'" "$work/evalgpu.h5"
run "$bin/prenas-specialize" --supernet "$supernet" --eval "$work/evalgpu.h5" --max-latency-ms 5 --out "$work/none.h5"
expect_status 2 "latencies of another device"
expect_error_line "the latencies were measured on cuda and this run is on cpu, $work/evalgpu.h5" "latency device"

run "$bin/prenas-specialize" --supernet "$work/B/supernet.h5" --max-params 0.3M --out "$work/none.h5"
expect_status 2 "the training dataset is gone"
expect_error_line "the supernet's training dataset $work/gone.h5 cannot be read here: give it with --data" "dataset gone"
run "$bin/prenas-specialize" --supernet "$work/B/supernet.h5" --data "$work/data.h5" --max-params 0.3M --out "$work/b.h5"
expect_status 0 "--data instead"

head -c 200000 "$supernet" >"$work/truncated.h5"
run "$bin/prenas-specialize" --supernet "$work/truncated.h5" --max-params 0.3M --out "$work/none.h5"
expect_status 2 "a truncated supernet"
expect_error_line "cannot be opened as HDF5 (truncated or corrupt), $work/truncated.h5" "truncated"

run "$bin/prenas-specialize" --supernet "$supernet" --max-latency-ms 2 --out "$work/none.h5"
expect_status 2 "latency without eval.h5"
expect_error_line "a latency limit needs --eval eval.h5" "latency without --eval"
run "$bin/prenas-specialize" --supernet "$supernet" --max-params 0.3 --out "$work/none.h5"
expect_status 2 "a fraction of a parameter"
expect_error_line "--max-params '0.3': expected a whole count" "bad size"
run "$bin/prenas-specialize" --supernet "$supernet" --out "$work/none.h5"
expect_status 2 "no limit"
expect_error_line "no limit: give --max-params" "no limit"
run "$bin/prenas-specialize" --supernet "$supernet" --budgets 0.3M,flop:2M --out-dir "$work/partly"
expect_status 2 "a bad budget"
expect_error_line "budget 'flop:2M': unknown kind 'flop'" "bad budget"
[ ! -e "$work/none.h5" ] && [ ! -e "$work/none.h5.tmp" ] && [ ! -e "$work/partly" ] && pass || fail "written on error: $(ls "$work")"
finish
