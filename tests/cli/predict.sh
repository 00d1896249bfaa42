#!/bin/bash
# prenas-predict as a user meets it, with a model that prenas-specialize cut out of a briefly
# trained micro supernet (Fashion-MNIST): the test split's accuracy equals prenas-evaluate's for
# that architecture (the same counts); the same images written as PNG files (as they are,
# scaled up, as RGB, RGBA, and padded to a wide picture whose centre square they are) give the
# same CSV rows (classes exactly, probabilities to the printed 1e-6), and as JPEG files
# (quality 100, lossy) the same top-1 class for at least 22 of 24; unreadable files are
# reported, skipped, counted, exit 2; 2 ranks write the CSV of 1; bad inputs are one-line
# errors.
source "$(dirname "$0")/lib.sh"
start_scratch
mpi=(mpirun -np 2 --bind-to none)

fmnist_slice 2048 512 512 --class-names "$src/configs/datasets/fashion-mnist.classes"
"$bin/prenas-score" --config "$src/configs/spaces/micro.cfg" --out "$work/scores.h5" >/dev/null
"$bin/prenas-select" --in "$work/scores.h5" --out "$work/preferred.h5" >/dev/null
# two epochs at a useful learning rate: confident enough that JPEG's small errors rarely matter
"$bin/prenas-train" --config "$src/configs/spaces/micro.cfg" \
    --recipe "$src/configs/recipes/micro-fmnist.cfg" --data "$work/data.h5" \
    --preferred "$work/preferred.h5" --out "$work/run" --set batch=64 --set epochs=2 \
    --set warmup_epochs=0 --set lr=8e-3 --set eval.every_epochs=0 --set drop_path=0 \
    --set augment.erasing.prob=0 >/dev/null
run "$bin/prenas-specialize" --supernet "$work/run/supernet.h5" --max-params 0.3M \
    --out "$work/model.h5"
expect_status 0 "prenas-specialize: $err"
arch=$("$py" -c "import h5py,sys; a = h5py.File(sys.argv[1]).attrs['arch']; print(a.decode() if isinstance(a, bytes) else a)" "$work/model.h5")
model=(--model "$work/model.h5")

# Predictions compare exactly in their classes and to the last printed digit (1e-6) in their
# probabilities: the engine's matrix products may round differently in batches of other sizes.
# same_predictions A.csv B.csv [ROWS]: the first ROWS rows (default all) of both files.
same_predictions() {
    "$py" - "$@" <<'PY'
import csv, sys
def predictions(path):
    rows = list(csv.reader(open(path)))
    skip = 2 if rows[0][1] == "label" else 1
    return [r[skip:] for r in rows[1:]]
a, b = predictions(sys.argv[1]), predictions(sys.argv[2])
n = int(sys.argv[3]) if len(sys.argv) > 3 else len(a)
assert len(a) >= n and len(b) == n, (len(a), len(b), n)
for x, y in zip(a, b):
    assert x[0::2] == y[0::2], (x, y)
    assert max(abs(float(p) - float(q)) for p, q in zip(x[1::2], y[1::2])) <= 1.5e-6, (x, y)
PY
}

# The test split: the accuracy, and one row per image in order. Batches of 256, as
# prenas-evaluate's below: the same logits bit for bit.
run "$bin/prenas-predict" "${model[@]}" --data "$work/data.h5" --batch 256 --out "$work/split.csv"
expect_status 0 "the test split"
expect_out_has "test split: top-1 " "accuracy printed"
expect_out_has "of 512 images" "every test image"
summary=$(grep "test split:" <<<"$out")
[ ! -e "$work/split.csv.tmp" ] && pass || fail "split.csv.tmp left behind"
run "$py" - "$work/split.csv" "$work/data.h5" "$src/configs/datasets/fashion-mnist.classes" <<'PY'
import csv, sys, h5py
rows = list(csv.reader(open(sys.argv[1])))
labels = h5py.File(sys.argv[2])["test/labels"][:]
names = open(sys.argv[3]).read().split("\n")
assert rows[0] == ["input", "label"] + [f"{w}{j}" for j in range(1, 6) for w in ("class", "prob")], rows[0]
assert len(rows) == 513, len(rows)
for i, r in enumerate(rows[1:]):
    assert r[0] == f"test:{i}" and r[1] == names[labels[i]], r
    classes, probs = r[2::2], [float(p) for p in r[3::2]]
    assert len(set(classes)) == 5 and set(classes) <= set(names), r
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.00001, r
print("ok")
PY
expect_out "ok" "CSV rows: input, label, five classes by falling probability"


# On stdout the CSV alone (the summary goes to stderr), identical to the file.
run "$bin/prenas-predict" "${model[@]}" --data "$work/data.h5" --batch 256
expect_status 0 "CSV on stdout"
[ "$out" = "$(cat "$work/split.csv")" ] && pass || fail "stdout differs from --out's file"
grep -qF "$summary" <<<"$err" && pass || fail "summary not on stderr: $err"

# prenas-evaluate on the supernet counts the same correct images for this architecture.
echo "$arch" >"$work/archs.txt"
run "$bin/prenas-evaluate" --supernet "$work/run/supernet.h5" --data "$work/data.h5" --split test \
    --archs "$work/archs.txt" --no-preferred --batch 256 --latency-repeats 0 --no-plot \
    --out "$work/eval.h5"
expect_status 0 "prenas-evaluate: $err"
run "$py" - "$work/eval.csv" "$summary" <<'PY'
import csv, re, sys
(row,) = list(csv.DictReader(open(sys.argv[1])))
top1, top5 = (int(n) for n in re.findall(r"\((\d+)\)", sys.argv[2]))
images = int(row["images"])
assert images == 512, images
assert round(float(row["top1"]) * images / 100) == top1, (row["top1"], sys.argv[2])
assert round(float(row["top5"]) * images / 100) == top5, (row["top5"], sys.argv[2])
print("ok", top1, top5)
PY
expect_out_has "ok" "prenas-evaluate's top-1 and top-5 counts ($summary)"
echo "prenas-predict and prenas-evaluate, $summary"

# The first 24 test images as files.
mkdir "$work/img"
"$py" - "$work/data.h5" "$work/img" <<'PY'
import sys, h5py, numpy as np
from PIL import Image
images = h5py.File(sys.argv[1])["test/images"][:24, :, :, 0]
noise = np.random.default_rng(0).integers(0, 256, (28, 6), dtype=np.uint8)
for i, a in enumerate(images):
    gray = Image.fromarray(a, "L")
    gray.save(f"{sys.argv[2]}/{i}.png")
    Image.fromarray(a.repeat(2, 0).repeat(2, 1), "L").save(f"{sys.argv[2]}/{i}-big.png")
    gray.convert("RGB").save(f"{sys.argv[2]}/{i}-rgb.png")
    rgba = gray.convert("RGBA")
    rgba.putalpha(40)
    rgba.save(f"{sys.argv[2]}/{i}-rgba.png")
    Image.fromarray(np.hstack([noise, a, noise]), "L").save(f"{sys.argv[2]}/{i}-wide.png")
    gray.save(f"{sys.argv[2]}/{i}.jpg", quality=100)
PY
for kind in "" -big -rgb -rgba -wide; do
    files=()
    for i in $(seq 0 23); do files+=("$work/img/$i$kind.png"); done
    run "$bin/prenas-predict" "${model[@]}" --batch 7 --out "$work/png$kind.csv" "${files[@]}"
    expect_status 0 "PNG$kind files"
    run same_predictions "$work/split.csv" "$work/png$kind.csv" 24
    expect_status 0 "PNG$kind rows differ from the packed images': $err"
done
cut -d, -f1 "$work/png.csv" | tail -n +2 | head -2 | paste -sd' ' |
    grep -qxF "$work/img/0.png $work/img/1.png" && pass || fail "inputs are the paths as given"
files=()
for i in $(seq 0 23); do files+=("$work/img/$i.jpg"); done
run "$bin/prenas-predict" "${model[@]}" --out "$work/jpeg.csv" "${files[@]}"
expect_status 0 "JPEG files"
same=$(paste -d, <(tail -n +2 "$work/jpeg.csv" | cut -d, -f2) <(sed -n 2,25p "$work/split.csv" | cut -d, -f3) |
    awk -F, '$1 == $2' | wc -l)
[ "$same" -ge 22 ] && pass || fail "JPEG top-1 agrees on $same of 24 images (at least 22 expected)"
echo "JPEG (quality 100) top-1 agreement: $same of 24"

# Unreadable files: reported one line each, skipped, counted; the others' rows still written.
echo "not an image" >"$work/img/notes.jpg"
head -c $(($(stat -c %s "$work/img/3.png") / 2)) "$work/img/3.png" >"$work/img/cut.png"
mixed=("$work/img/0.png" "$work/img/notes.jpg" "$work/img/1.png" "$work/img/cut.png"
       "$work/img/missing.png" "$work/img/2.png")
run "$bin/prenas-predict" "${model[@]}" --top-k 3 "${mixed[@]}"
expect_status 2 "unreadable files"
[ "$(grep -c '^prenas-predict: skipped: ' <<<"$err")" -eq 3 ] && pass || fail "three skip lines: $err"
grep -qF "neither a JPEG nor a PNG file (by its first bytes), $work/img/notes.jpg" <<<"$err" &&
    pass || fail "notes.jpg not named: $err"
grep -qF "$work/img/cut.png" <<<"$err" && pass || fail "cut.png not named: $err"
grep -qF "$work/img/missing.png" <<<"$err" && pass || fail "missing.png not named: $err"
grep -qF "prenas-predict: error: 3 of 6 files could not be read as images" <<<"$err" && pass ||
    fail "no count of failures: $err"
[ "$(printf '%s\n' "$out" | cut -d, -f1 | paste -sd' ')" = \
    "input $work/img/0.png $work/img/1.png $work/img/2.png" ] && pass || fail "rows of the others: $out"
[ "$(head -1 <<<"$out")" = "input,class1,prob1,class2,prob2,class3,prob3" ] && pass ||
    fail "--top-k 3 header: $(head -1 <<<"$out")"
mixed_out=$out mixed_skips=$(grep '^prenas-predict: skipped: ' <<<"$err")

# Two ranks share the images: the same CSV (bit for bit: each rank's batches are 1 rank's), and
# the same failures in the same order.
run "${mpi[@]}" "$bin/prenas-predict" "${model[@]}" --data "$work/data.h5" --batch 256 \
    --out "$work/split2.csv"
expect_status 0 "2 ranks, the test split"
cmp -s "$work/split.csv" "$work/split2.csv" && pass || fail "2 ranks wrote another CSV"
expect_out_has "$summary" "2 ranks, the same accuracy"
run "${mpi[@]}" "$bin/prenas-predict" "${model[@]}" --data "$work/data.h5" --batch 50 \
    --out "$work/split3.csv"
expect_status 0 "2 ranks, batches of 50"
run same_predictions "$work/split.csv" "$work/split3.csv"
expect_status 0 "2 ranks with batches of 50: $err"
run "${mpi[@]}" "$bin/prenas-predict" "${model[@]}" --top-k 3 "${mixed[@]}"
expect_status 2 "2 ranks, unreadable files"
[ "$out" = "$mixed_out" ] && pass || fail "2 ranks: other rows: $out"
[ "$(grep '^prenas-predict: skipped: ' <<<"$err")" = "$mixed_skips" ] && pass ||
    fail "2 ranks: other skip lines or order: $err"

# Bad inputs: exit 2, one line, no output file.
head -c 30000 "$work/model.h5" >"$work/cut.h5"
run "$bin/prenas-predict" --model "$work/cut.h5" --data "$work/data.h5" --out "$work/bad.csv"
expect_status 2 "a truncated model"
expect_error_line "$work/cut.h5" "a truncated model"
[ ! -e "$work/bad.csv" ] && pass || fail "output written for a truncated model"
run "$bin/prenas-predict" --model "$work/data.h5" "$work/img/0.png"
expect_status 2 "a dataset as the model"
expect_error_line "is a 'prenas.dataset' artefact, expected 'prenas.model'" "wrong schema"
mkdir -p "$work/folder/a" "$work/folder/b"
cp "$work/img/0.png" "$work/img/1.png" "$work/folder/a/" && cp "$work/img/2.png" "$work/folder/b/"
"$bin/prenas-pack" --from folder "$work/folder" --size 32 --val-fraction 0 --out "$work/other.h5" >/dev/null
run "$bin/prenas-predict" "${model[@]}" --data "$work/other.h5" --split train
expect_status 2 "a dataset of another shape"
expect_error_line "the dataset has 32x32x3 images in 2 classes, the space expects 28x28x1 in 10" \
    "dataset shape"
"$py" -c "
import h5py, shutil, sys
shutil.copy(sys.argv[1], sys.argv[2])
shutil.copy(sys.argv[1], sys.argv[3])
with h5py.File(sys.argv[2], 'r+') as f:
    names = [n.decode() if isinstance(n, bytes) else n for n in f['classes'][:]]
    del f['classes']
    f['classes'] = [n.lower() for n in names]
with h5py.File(sys.argv[3], 'r+') as f:
    del f['val']
" "$work/data.h5" "$work/renamed.h5" "$work/noval.h5"
run "$bin/prenas-predict" "${model[@]}" --data "$work/renamed.h5"
expect_status 2 "other class names"
expect_error_line "the dataset's class 0 is 't-shirt/top', the model's is 'T-shirt/top'" "class names"
run "$bin/prenas-predict" "${model[@]}" --data "$work/noval.h5" --split val
expect_status 2 "an absent split"
expect_error_line "the dataset has no 'val' split, $work/noval.h5" "an absent split"
run "$bin/prenas-predict" "${model[@]}" --data "$work/data.h5" --out "$work/nowhere/p.csv"
expect_status 2 "--out in a missing directory"
expect_error_line "the output directory does not exist, $work/nowhere" "--out in a missing directory"
run "$bin/prenas-predict" "${model[@]}" --data "$work/data.h5" "$work/img/0.png"
expect_status 2 "--data and files"
expect_error_line "--data and IMAGE files" "--data and files"
run "$bin/prenas-predict" "${model[@]}"
expect_status 2 "nothing to predict"
expect_error_line "give --data dataset.h5 or IMAGE files" "nothing to predict"
run "$bin/prenas-predict" "${model[@]}" --data "$work/data.h5" --split dev
expect_status 2 "a bad --split"
expect_error_line "--split 'dev': expected test, val or train" "a bad --split"
run "$bin/prenas-predict" "${model[@]}" --top-k 50 "$work/img/0.png"
expect_status 0 "--top-k above the class count"
[ "$(head -1 <<<"$out" | tr , '\n' | grep -c '^class')" -eq 10 ] && pass ||
    fail "--top-k 50 of 10 classes: $(head -1 <<<"$out")"
run "$bin/prenas-predict" --help
expect_status 0 "--help"
expect_out_has "usage: prenas-predict" "--help"
finish
