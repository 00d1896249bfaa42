#!/bin/bash
# prenas-search as a user meets it, on a micro supernet trained for a few steps on a slice of
# Fashion-MNIST: a small search finishes within --max-params, search.h5 holds its history and
# result, 2 ranks give the same search as 1, and bad inputs are one-line errors that leave no
# search.h5 behind (and an older one untouched).
source "$(dirname "$0")/lib.sh"
start_scratch

fmnist_slice 512 256 64
"$bin/prenas-train" --config "$src/configs/spaces/micro.cfg" --recipe "$src/configs/recipes/micro-fmnist.cfg" \
    --data "$work/data.h5" --sampling space --out "$work/run" --steps 3 --set batch=32 \
    --set eval.every_epochs=0 >/dev/null
small=(--images 48 --population 6 --parents 3 --mutations 2 --crossovers 2 --generations 3)
common=(--supernet "$work/run/supernet.h5" --data "$work/data.h5" "${small[@]}" --seed 5)

run "$bin/prenas-search" "${common[@]}" --max-params 0.25M --out "$work/one.h5"
expect_status 0 "a small search"
expect_out_has "fitness top-1 on 48 of 256 'val' images" "the split is named"
expect_out_has "generation 3/3: 6 evaluated (18 in all), best val top-1" "a progress line per generation"
expect_out_has "18 evaluations in 3 generations" "the summary"
expect_out_has "on 48 'val' images" "the summary names the split"
run "$py" - "$work/one.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
h = f["history"]
n = len(h["arch"])
assert n == f.attrs["evaluations"] == 18, n
assert f.attrs["split"] == "val" and f.attrs["images"] == 48 and f.attrs["max_params"] == 250000
assert (h["params"][:] <= 250000).all(), h["params"][:]
archs = [a.decode() for a in h["arch"][:]]
assert len(set(archs)) == n, "an architecture evaluated twice"
assert list(h["generation"][:]) == [0] * 6 + [1] * 6 + [2] * 6, h["generation"][:]
assert set(o.decode() for o in h["origin"][:]) <= {"random", "mutation", "crossover"}
fit = h["fitness"][:]
top = f["generations/top"][:]
assert top.shape == (3, 50) and (top[:, 18:] == -1).all()
for g in range(3):
    seen = fit[: 6 * (g + 1)]
    assert np.array_equal(fit[top[g, : 6 * (g + 1)]], np.sort(seen)[::-1]), g
r = f["result"].attrs
best = int(r["index"])
assert archs[best] == r["arch"] and fit[best] == r["fitness"] == fit.max()
assert f["meta/inputs/0"].attrs["role"] == "supernet" and f["meta/inputs/1"].attrs["role"] == "dataset"
print("ok", archs[best], fit[best])
PY
expect_out_has "ok" "search.h5: history, lists and result"
run "$bin/prenas-inspect" "$work/one.h5"
expect_out_has "evolutionary search: 18 architectures evaluated in 3 generations of 6" "prenas-inspect"

# Two ranks share every evaluation's images: the same search.
run mpirun -np 2 --bind-to none "$bin/prenas-search" "${common[@]}" --max-params 0.25M --out "$work/two.h5"
expect_status 0 "2 ranks"
for part in /history /generations /result; do
    h5diff "$work/one.h5" "$work/two.h5" $part >/dev/null && pass || fail "2 ranks differ in $part"
done

# Bad inputs: exit 2, one line, no output; an older search.h5 stays as it was.
cp "$work/one.h5" "$work/old.h5"
"$py" - "$work/data.h5" "$work/other.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f, h5py.File(sys.argv[2], "w") as g:
    for name in ("meta", "classes"):
        f.copy(name, g)
    g.attrs.update(f.attrs)
    g.attrs["height"] = g.attrs["width"] = 14
    for split in ("train", "val"):
        s = g.create_group(split)
        s.attrs.update(f[split].attrs)
        s["images"] = f[split]["images"][:, :14, :14]
        for name in ("labels", "source_index"):
            s[name] = f[split][name][:]
PY
head -c 30000 "$work/run/supernet.h5" >"$work/truncated.h5"
bad() { # bad WHAT EXPECTED ARGS...: exit 2, one line, old.h5 untouched, no new file
    local what=$1 expected=$2
    shift 2
    run "$bin/prenas-search" "$@" --out "$work/old.h5"
    expect_status 2 "$what"
    expect_error_line "$expected" "$what"
    cmp -s "$work/one.h5" "$work/old.h5" && pass || fail "$what: the older search.h5 changed"
    [ ! -e "$work/old.h5.tmp" ] && pass || fail "$what: a .tmp was left"
}
bad "a dataset of another shape" "the dataset has 14x14x1 images in 10 classes, the space expects 28x28x1" \
    --supernet "$work/run/supernet.h5" --data "$work/other.h5"
bad "--max-params below the smallest architecture" \
    "no architecture of the space has at most 100000 parameters: the smallest, 48:4:3,3,3,3:3,3,3,3, has 102410" \
    "${common[@]}" --max-params 100K
bad "a truncated supernet" "cannot be opened as HDF5 (truncated or corrupt), $work/truncated.h5" \
    --supernet "$work/truncated.h5" --data "$work/data.h5"
bad "the test split" "--split test: the test split never chooses an architecture" "${common[@]}" --split test
# --config: another space over the same supernet tensors (here: depth 4 only) is searched.
sed 's/depth = \[4, 5, 6\]/depth = [4]/' "$src/configs/spaces/micro.cfg" >"$work/narrow.cfg"
run "$bin/prenas-search" "${common[@]}" --config "$work/narrow.cfg" --out "$work/narrow.h5"
expect_status 0 "a space with other choices over the same supernet"
depths=$("$py" -c "import h5py,sys; print(sorted({a.decode().split(':')[1] for a in h5py.File(sys.argv[1])['history/arch'][:]}))" "$work/narrow.h5")
[ "$depths" = "['4']" ] && pass || fail "--config's choices not followed: depths $depths"
bad "another space" "whose tensors differ from" "${common[@]}" \
    --config "$src/configs/spaces/vit-tiny.cfg"
bad "more images than the split" "--images 1000: the 'val' split has 256 images" \
    --supernet "$work/run/supernet.h5" --data "$work/data.h5" --images 1000
bad "a limit that is not a whole count" "--max-params '0.1234567M': expected a whole count" \
    "${common[@]}" --max-params 0.1234567M
run mpirun -np 2 --bind-to none "$bin/prenas-search" "${common[@]}" --max-params 100K --out "$work/new.h5"
expect_status 2 "2 ranks, limit below the smallest"
# mpirun adds its own lines; the ranks agree on one of prenas-search's
[ "$(grep -c '^prenas-search: error: no architecture .* has 102410' <<<"$err")" -eq 1 ] && pass ||
    fail "2 ranks: not one error line: $err"
[ ! -e "$work/new.h5" ] && pass || fail "2 ranks: a search.h5 was written"

# SIGTERM while search.h5.tmp is written (begun before generation 0 of a search too long to
# end first): the stage ends by the signal and removes the .tmp (src/base/artefact.h).
term_when_begun "$work/killed.h5.tmp" "$bin/prenas-search" --supernet "$work/run/supernet.h5" \
    --data "$work/data.h5" --generations 100000 --out "$work/killed.h5"
expect_status 143 "search ended by SIGTERM"
[ ! -e "$work/killed.h5" ] && [ ! -e "$work/killed.h5.tmp" ] && pass || fail "SIGTERM left an output behind"
finish
