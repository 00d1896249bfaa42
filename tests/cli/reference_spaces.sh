#!/bin/bash
# The zero-shot search on the reference's Tiny, Small and Base spaces at ImageNet shape
# (224/16, 1000 classes): one preferred architecture per parameter interval, inside it, as
# in method.md §15 (which architecture depends on the random initialisation). Tiny runs the
# reference's data-free batch of 64; Small and Base 8 images, which is enough for the check.
source "$(dirname "$0")/lib.sh"
bin=$PRENAS_BINARY_DIR
spaces=$PRENAS_SOURCE_DIR/configs/spaces
py=$PRENAS_PYTHON
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

while read -r space batch expected keys; do
    run "$bin/prenas-score" --config "$spaces/$space.cfg" --out "$work/$space-scores.h5" \
        --batch "$batch" --micro-batch 16
    expect_status 0 "score $space"
    run "$bin/prenas-select" --in "$work/$space-scores.h5" --out "$work/$space.h5" --json "$work/$space.json"
    expect_status 0 "select $space"
    run "$py" - "$work/$space.h5" "$work/$space.json" "$expected" "$keys" <<'PY'
import json, sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    lo, hi = f["intervals/lo"][:], f["intervals/hi"][:]
    c = f["candidates"]
    inside = all(lo[k] <= p < hi[k] for k, p in zip(c["interval"][:], c["params"][:]))
    intervals = list(c["interval"][:])
    params = list(c["params"][:])
assert inside
assert len(intervals) == int(sys.argv[3]) and len(set(intervals)) == len(intervals), intervals
assert ",".join(json.load(open(sys.argv[2]))) == sys.argv[4], list(json.load(open(sys.argv[2])))
print("ok", " ".join(map(str, params)))
PY
    expect_out_has "ok" "$space: one architecture per interval, inside it"
    [ "$space" = vit-base ] && { grep -q "ok 41966944 " <<<"$out" && pass || fail "Base [30M, 42M) holds only 41966944: $out"; }
done <<'CASES'
vit-tiny 64 6 6.0,7.0,8.0,9.0,10.0,11.0
vit-small 8 4 18.0,23.0,28.0,33.0
vit-base 8 3 42.0,54.0,66.0
CASES
finish
