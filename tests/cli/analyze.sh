#!/bin/bash
# prenas-analyze on accuracies prenas-evaluate measured: a micro supernet trained for a few
# steps on the whole space (at a rate that makes subnets differ already), three isomer
# groups listed by prenas-arch --isomers and evaluated;
# eval.h5 and a CSV of the same numbers give the same mBR and tau; the params proxy's tau and
# snip-layernorm's per-group best ranks match an independent computation from eval.csv and
# scores.h5; bad inputs are one-line errors.
source "$(dirname "$0")/lib.sh"
bin=$PRENAS_BINARY_DIR
src=$PRENAS_SOURCE_DIR
py=$PRENAS_PYTHON
space=$src/configs/spaces/micro.cfg
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1

"$bin/prenas-pack" --from idx /usr/share/datasets/fashion-mnist --out "$work/full.h5" >/dev/null
"$py" "$(dirname "$0")/small_dataset.py" "$work/full.h5" "$work/data.h5" 1024 256 256
"$bin/prenas-score" --config "$space" --out "$work/scores.h5" >/dev/null
"$bin/prenas-train" --config "$space" --recipe "$src/configs/recipes/micro-fmnist.cfg" \
    --data "$work/data.h5" --sampling space --set batch=32 --set eval.every_epochs=0 \
    --set warmup_epochs=0 --set lr=8e-3 --out "$work/run" --steps 60 >/dev/null
# Groups of 6 (heads permuted), 10 (ratios permuted) and 8 sampled of 2 700 (both).
"$bin/prenas-arch" --config "$space" --isomers 48:4:3,3,4,4:4,4,4,4 --vary heads >"$work/small.txt"
{
    cat "$work/small.txt"
    "$bin/prenas-arch" --config "$space" --isomers 64:5:5,5,5,5,5:3,3,4,4,4 --vary ratios
    "$bin/prenas-arch" --config "$space" --isomers 80:6:3,4,5,3,4,5:3,3.5,4,4,4,4 --limit 8 --seed 1
} >"$work/groups.txt"
evaluate() { # evaluate ARCHS SPLIT
    "$bin/prenas-evaluate" --supernet "$work/run/supernet.h5" --data "$work/data.h5" --archs "$1" \
        --no-preferred --split "$2" --out "$work/$2.h5" --latency-repeats 0 --no-plot >/dev/null
}
evaluate "$work/groups.txt" val
evaluate "$work/small.txt" test
"$py" -c "import csv,sys; [print(r['arch'] + ',' + r['top1']) for r in csv.DictReader(open(sys.argv[1]))]" \
    "$work/val.csv" >"$work/val-top1.csv"

run "$bin/prenas-analyze" --in "$work/scores.h5" --eval "$work/val.h5" --groups
expect_status 0 "analyze eval.h5"
eval_out=$out
expect_out_has "accuracies: top-1 on 256 images of the val split of $work/data.h5, supernet $work/run/supernet.h5 ($work/val.h5)" \
    "the split, dataset and supernet are named"
expect_out_has "24 architectures of micro in 3 isomer groups" "architectures and groups counted"
run "$bin/prenas-analyze" --in "$work/scores.h5" --accuracy "$work/val-top1.csv" --groups
expect_status 0 "analyze the CSV"
expect_out_has "accuracies: $work/val-top1.csv" "the CSV is named"
[ "$(tail -n +2 <<<"$out")" = "$(tail -n +2 <<<"$eval_out")" ] && pass ||
    fail "eval.h5 and CSV differ: $eval_out // $out"
[ "$(grep -c "group of" <<<"$out")" -eq 9 ] && pass || fail "3 group lines per proxy expected: $out"
run "$bin/prenas-analyze" --in "$work/scores.h5" --eval "$work/test.h5"
expect_out_has "of the test split" "the test split is named"

# An independent computation from eval.csv and scores.h5: params ties every isomer (mBR 0.5)
# and its tau over all is Kendall's tau-b of params and top-1; snip-layernorm's best rank in
# each group from its allocation tables.
run "$py" - "$work/val.csv" "$work/scores.h5" <<'PY'
import csv, sys, h5py, numpy as np
rows = list(csv.DictReader(open(sys.argv[1])))
def tau_b(x, y):
    c = d = tx = ty = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            dx, dy = x[i] - x[j], y[i] - y[j]
            tx += dx == 0
            ty += dy == 0
            if dx and dy:
                c, d = (c + 1, d) if (dx > 0) == (dy > 0) else (c, d + 1)
    n0 = len(x) * (len(x) - 1) / 2
    return (c - d) / ((n0 - tx) * (n0 - ty)) ** 0.5
params = [int(r["params"]) for r in rows]
top1 = [float(r["top1"]) for r in rows]
print("params tau %.3f" % tau_b(params, top1))
f = h5py.File(sys.argv[2], "r")
widths, ratios = list(f["layout/widths"][:]), list(f["layout/ratios"][:])
heads_t, mlp_t = f["proxies/snip-layernorm/alloc_heads"][:], f["proxies/snip-layernorm/alloc_mlp"][:]
groups = {}
for r in rows:
    e, d, h, m = r["arch"].split(":")
    h = [int(v) for v in h.split(",")]
    m = [round(float(v) * 1000) for v in m.split(",")]
    w = widths.index(int(e))
    value = sum(heads_t[w, l, h[l]] + mlp_t[w, l, ratios.index(m[l])] for l in range(int(d)))
    groups.setdefault((e, d, tuple(sorted(h)), tuple(sorted(m))), []).append((value, float(r["top1"])))
for key in sorted(groups):
    members = groups[key]
    pick = max(members)[1]
    rank = sum(a > pick for _, a in members) + (sum(a == pick for _, a in members) + 1) / 2
    print("%s:%s best rank %.3f" % (key[0], key[1], (rank - 1) / (len(members) - 1)))
PY
expect_status 0 "the independent computation runs"
grep -qE "^params +0\.500 +3 +$(sed -n 's/params tau //p' <<<"$out") " <<<"$eval_out" && pass ||
    fail "params: mBR 0.5 over 3 groups and tau $(head -1 <<<"$out") expected: $eval_out"
for e in 48:4 64:5 80:6; do
    expected=$(sed -n "s/^$e best rank //p" <<<"$out")
    grep -qE "^  snip-layernorm +group of $e:.*best rank $expected," <<<"$eval_out" && pass ||
        fail "snip-layernorm best rank in $e: $expected expected: $eval_out"
done

# Bad inputs: exit 2, one line.
bad() { # bad MESSAGE WHAT ARGS...
    local message=$1 what=$2
    shift 2
    run "$bin/prenas-analyze" "$@"
    expect_status 2 "$what"
    expect_error_line "$message" "$what"
}
"$bin/prenas-select" --in "$work/scores.h5" --out "$work/preferred.h5" --refined "$work/refined.cfg" >/dev/null
"$bin/prenas-score" --config "$work/refined.cfg" --out "$work/refined-scores.h5" >/dev/null
bad "$work/val.h5 evaluated a supernet trained in another search space than $work/refined-scores.h5 was scored in (space " \
    "isomers of micro against the scores of its refined space" \
    --in "$work/refined-scores.h5" --eval "$work/val.h5"
# an eval.h5 written before /meta/lineage: its architectures are checked against the space
cp "$work/val.h5" "$work/old-val.h5"
"$py" -c "import h5py,sys; del h5py.File(sys.argv[1], 'r+')['meta/lineage']" "$work/old-val.h5"
bad "(the scores' space), $work/old-val.h5" "an eval.h5 without lineage against the refined scores" \
    --in "$work/refined-scores.h5" --eval "$work/old-val.h5"
bad "$work/missing.h5" "a missing eval.h5" --in "$work/scores.h5" --eval "$work/missing.h5"
bad "expected 'prenas.eval'" "scores.h5 as eval.h5" --in "$work/scores.h5" --eval "$work/scores.h5"
bad "one of --eval eval.h5 or --accuracy FILE.csv" "both --eval and --accuracy" \
    --in "$work/scores.h5" --eval "$work/val.h5" --accuracy "$work/val-top1.csv"
bad "one of --eval eval.h5 or --accuracy FILE.csv" "neither --eval nor --accuracy" \
    --in "$work/scores.h5"
head -1 "$work/val-top1.csv" >"$work/twice.csv"
cat "$work/val-top1.csv" >>"$work/twice.csv"
twice=$(head -1 "$work/val-top1.csv" | sed 's/,[^,]*$//')
bad "architecture $twice is listed twice, on lines 1 and 2, $work/twice.csv" "an architecture twice" --in "$work/scores.h5" \
    --accuracy "$work/twice.csv"
# "ARCH,nan" on line 1 is a row, not a header; a non-finite accuracy anywhere is an error
{ sed 's/,[^,]*$/,nan/' <(head -1 "$work/val-top1.csv"); tail -n +2 "$work/val-top1.csv"; } >"$work/nan.csv"
bad "accuracy 'nan' is not a finite number, $work/nan.csv:1" "ARCH,nan on line 1" \
    --in "$work/scores.h5" --accuracy "$work/nan.csv"
{ head -2 "$work/val-top1.csv"; echo "$(sed -n 3p "$work/val-top1.csv" | sed 's/,[^,]*$//'),inf"; } >"$work/inf.csv"
bad "accuracy 'inf' is not a finite number, $work/inf.csv:3" "an infinite accuracy" \
    --in "$work/scores.h5" --accuracy "$work/inf.csv"
finish
