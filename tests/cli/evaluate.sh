#!/bin/bash
# prenas-evaluate as a user meets it: a micro supernet trained for a few steps on a slice of
# Fashion-MNIST is evaluated; every top-1 equals the independent PyTorch forward of
# tests/oracle (float64); 1 and 2 ranks give the same table; --archs adds architectures shown
# apart; outputs (eval.h5, CSV, Markdown, PNG) appear together; bad inputs are one-line
# errors with nothing written.
source "$(dirname "$0")/lib.sh"
start_scratch

fmnist_slice 1024 256 256
"$bin/prenas-score" --config "$src/configs/spaces/micro.cfg" --out "$work/scores.h5" >/dev/null
"$bin/prenas-select" --in "$work/scores.h5" --out "$work/preferred.h5" >/dev/null
"$bin/prenas-train" --config "$src/configs/spaces/micro.cfg" \
    --recipe "$src/configs/recipes/micro-fmnist.cfg" --data "$work/data.h5" \
    --preferred "$work/preferred.h5" --set batch=32 --set eval.every_epochs=0 \
    --set warmup_epochs=0 --set lr=4e-3 \
    --out "$work/run" --steps 30 >/dev/null
sn=$work/run/supernet.h5
# column NAME of a CSV, one value per row, in the file's order
column() { "$py" -c "import csv,sys; [print(r[sys.argv[2]]) for r in csv.DictReader(open(sys.argv[1]))]" "$1" "$2"; }

run "$bin/prenas-evaluate" --supernet "$sn" --data "$work/data.h5" --out "$work/eval.h5" \
    --images 128 --latency-repeats 3
expect_status 0 "evaluate the preferred architectures"
expect_out_has "architecture (val split)" "the table says its split"
expect_out_has "latency: median of 3 forwards" "the latency is explained"
for f in eval.h5 eval.csv eval.md eval.png; do
    [ -s "$work/$f" ] && pass || fail "$f not written"
done
[ "$(head -c 8 "$work/eval.png" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ] && pass ||
    fail "eval.png is not a PNG"
[ "$(column "$work/eval.csv" arch | wc -l)" -eq 4 ] && pass || fail "4 preferred rows expected"
[ "$(column "$work/eval.csv" split | sort -u)" = val ] && pass || fail "the CSV names the split"

# Every top-1 against the independent PyTorch forward (float64) of the same weights.
mapfile -t archs < <(column "$work/eval.csv" arch)
mapfile -t top1 < <(column "$work/eval.csv" top1)
while read -r arch correct ambiguous; do
    for i in "${!archs[@]}"; do
        [ "${archs[$i]}" = "$arch" ] || continue
        ours=$("$py" -c "print(round(float('${top1[$i]}') * 128 / 100))")
        diff=$((ours > correct ? ours - correct : correct - ours))
        [ "$diff" -le "$ambiguous" ] && pass ||
            fail "$arch: $ours of 128 correct, the oracle says $correct ($ambiguous ambiguous)"
    done
done < <("$py" "$(dirname "$0")/eval_oracle.py" "$sn" "$work/data.h5" val 128 "${archs[@]}")

# 2 ranks take 2 architectures each: the same accuracies, bit for bit.
run mpirun -np 2 --bind-to none "$bin/prenas-evaluate" --supernet "$sn" --data "$work/data.h5" \
    --out "$work/eval2.h5" --images 128 --latency-repeats 0 --no-plot
expect_status 0 "2 ranks"
for c in arch top1 top5 loss images; do
    [ "$(column "$work/eval.csv" $c)" = "$(column "$work/eval2.csv" $c)" ] && pass ||
        fail "column $c differs between 1 and 2 ranks"
done
[ ! -e "$work/eval2.png" ] && pass || fail "--no-plot wrote a PNG"

# The test split only when asked; an extra architecture list with comments.
printf '# two extra architectures\n64:1:4:4\n\n80:2:5,5:4,4  # the widest two layers\n' >"$work/archs.txt"
run "$bin/prenas-evaluate" --supernet "$sn" --data "$work/data.h5" --out "$work/test.h5" \
    --split test --archs "$work/archs.txt" --images 64 --latency-repeats 0
expect_status 0 "test split with --archs"
expect_out_has "architecture (test split)" "test split named"
[ "$(column "$work/test.csv" preferred | sort | uniq -c | tr -s ' ')" = "$(printf ' 2 0\n 4 1')" ] &&
    pass || fail "4 preferred and 2 extra rows expected: $(column "$work/test.csv" preferred)"
run "$bin/prenas-evaluate" --supernet "$sn" --data "$work/data.h5" --out "$work/only.h5" \
    --archs "$work/archs.txt" --no-preferred --latency-repeats 0 --no-plot
[ "$(column "$work/only.csv" arch | wc -l)" -eq 2 ] && pass || fail "--no-preferred keeps only --archs"

# Bad inputs: one line, exit 2, nothing written.
bad() { # bad MESSAGE WHAT ARGS...: a run that must fail without writing eval.h5
    local message=$1 what=$2
    shift 2
    rm -f "$work/bad."*
    run "$bin/prenas-evaluate" --out "$work/bad.h5" --latency-repeats 0 "$@"
    expect_status 2 "$what"
    expect_error_line "$message" "$what"
    [ -z "$(ls "$work" | grep '^bad\.')" ] && pass || fail "$what left $(ls "$work" | grep '^bad\.')"
}
head -c 20000 "$sn" >"$work/truncated.h5"
bad "truncated.h5" "truncated supernet" --supernet "$work/truncated.h5" --data "$work/data.h5"
bad "expected 'prenas.supernet'" "scores.h5 as the supernet" --supernet "$work/scores.h5" --data "$work/data.h5"
"$py" - "$work/data.h5" "$work/other.h5" <<'PY'
import shutil, sys, h5py, numpy as np
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], "r+") as f:  # three classes instead of ten
    f.attrs["num_classes"] = 3
    del f["classes"]
    f.create_dataset("classes", data=["a", "b", "c"], dtype=h5py.string_dtype())
PY
bad "the dataset has 28x28x1 images in 3 classes" "dataset of another shape" --supernet "$sn" \
    --data "$work/other.h5"
printf '64:1:4:4\n96:1:4:4\n' >"$work/outside.txt"
bad "beyond the supernet" "architecture outside the supernet" --supernet "$sn" --data "$work/data.h5" \
    --archs "$work/outside.txt"
bad "outside.txt:2" "the line is named" --supernet "$sn" --data "$work/data.h5" --archs "$work/outside.txt"
run "$bin/prenas-evaluate" --supernet "$sn" --data "$work/data.h5" --out "$work/x.h5" --no-preferred
expect_status 2 "--no-preferred without --archs"

# SIGTERM while eval.h5.tmp is written (begun before the evaluation; endless latency repeats keep
# the stage at work): the stage ends by the signal and removes the .tmp (src/base/artefact.h).
term_when_begun "$work/killed.h5.tmp" "$bin/prenas-evaluate" --supernet "$sn" --data "$work/data.h5" \
    --out "$work/killed.h5" --latency-repeats 100000
expect_status 143 "evaluate ended by SIGTERM"
[ -z "$(ls "$work" | grep '^killed\.')" ] && pass || fail "SIGTERM left $(ls "$work" | grep '^killed\.')"
finish
