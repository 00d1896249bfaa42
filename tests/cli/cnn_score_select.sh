#!/bin/bash
# prenas-score and prenas-select on a CNN space (the micro one, method.md §13): plain SNIP's
# saliency in scores.h5, the best architectures per FLOPs group in preferred.h5, each in its band
# at the cost prenas-arch counts, the same files with 1 and 2 MPI ranks, and one-line errors for
# the ViT's options, bad scores and another space, leaving no output behind.
source "$(dirname "$0")/lib.sh"
start_scratch
spaces=$src/configs/spaces
micro=$spaces/cnn-micro.cfg
mpi=(mpirun -np 2 --bind-to none)

run "$bin/prenas-score" --config "$micro" --out "$work/s1.h5" --seed 3
expect_status 0 "score, 1 rank"
expect_out_has "gradient pass: 32:24:16x1k3e1:24x2k5e6:32x3k5e6:48x3k5e6:64x2k5e6:256, 8 images" \
    "score summary: the largest architecture, 8 images"
largest=$(sed -n 's/.*largest \([0-9.e+-]*\)$/\1/p' <<<"$out")
run "$bin/prenas-select" --in "$work/s1.h5" --out "$work/p1.h5" --per-interval 3
expect_status 0 "select, 1 rank"
expect_out_has "12 preferred architectures in 4 FLOPs groups (0 empty)" "select summary"

# The largest architecture uses every supernet parameter: its score is the saliency's sum. Each
# group keeps 3 distinct architectures, best first, inside its band.
run "$py" - "$work/s1.h5" "$work/p1.h5" "$largest" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    s = f["saliency"][:]
    assert f["meta"].attrs["schema"] == "prenas.scores"
    assert f.attrs["family"] == "cnn" and f.attrs["n_params"] == s.size == 280730, s.size
    assert f.attrs["resolution"] == 32 and f.attrs["images"] == 8
    assert (s >= 0).all() and np.count_nonzero(s) > s.size // 2
    total = s.sum()
    # /tensors maps the entries to the supernet's tensors, back to back
    names = [n.decode() for n in f["tensors/name"][:]]
    off, cnt = f["tensors/offset"][:], f["tensors/count"][:]
    assert names[0] == "stem.conv.weight" and off[0] == 0 and (off[1:] == off[:-1] + cnt[:-1]).all()
    assert off[-1] + cnt[-1] == s.size and names[-1] == "classifier.bias", names[-5:]
assert abs(total - float(sys.argv[3])) <= 1e-5 * total, (total, sys.argv[3])
with h5py.File(sys.argv[2], "r") as f:
    assert f.attrs["family"] == "cnn" and f.attrs["budget"] == "flops"
    lo, hi, kept = f["intervals/lo"][:], f["intervals/hi"][:], f["intervals/kept"][:]
    assert list(kept) == [3, 3, 3, 3], kept
    c = f["candidates"]
    archs = [a.decode() for a in c["arch"][:]]
    assert len(set(archs)) == 12, archs
    for g in range(4):
        rows = np.flatnonzero(c["interval"][:] == g)
        assert (np.diff(c["score"][:][rows]) <= 0).all()
        assert ((lo[g] <= c["flops"][:][rows]) & (c["flops"][:][rows] <= hi[g])).all()
    for a, p, fl in zip(archs, c["params"][:], c["flops"][:]):
        print(a, p, fl)
PY
expect_status 0 "scores.h5 and preferred.h5 contents: $err"
while read -r a p fl; do
    run "$bin/prenas-arch" --config "$micro" --arch "$a"
    expect_out "params=$p flops=$fl macs=$fl" "preferred $a: the cost prenas-arch counts"
done <<<"$out"

# Two ranks: the pass runs on rank 0 alone (batch norm ties the batch), so the files are equal.
run "${mpi[@]}" "$bin/prenas-score" --config "$micro" --out "$work/s2.h5" --seed 3
expect_status 0 "score, 2 ranks"
run "${mpi[@]}" "$bin/prenas-select" --in "$work/s2.h5" --out "$work/p2.h5" --per-interval 3
expect_status 0 "select, 2 ranks"
run "$py" - "$work/s1.h5" "$work/s2.h5" "$work/p1.h5" "$work/p2.h5" <<'PY'
import sys, h5py, numpy as np
a, b, c, d = (h5py.File(p, "r") for p in sys.argv[1:])
assert np.array_equal(a["saliency"][:], b["saliency"][:])
for k in ("arch", "score", "flops", "params", "interval"):
    assert np.array_equal(c["candidates"][k][:], d["candidates"][k][:]), k
print("ok")
PY
expect_out "ok" "1 and 2 ranks give the same saliency and preferred set"

# Another seed, another initialisation: other saliencies; the draws follow --seed.
run "$bin/prenas-score" --config "$micro" --out "$work/s4.h5" --seed 4 --resolution 24
expect_status 0 "score, seed 4 at resolution 24"
expect_out_has "gradient pass: 24:24:" "the pass at --resolution 24"
run "$py" -c "import h5py,sys,numpy as np; a,b=(h5py.File(p)['saliency'][:] for p in sys.argv[1:]); print(int(np.array_equal(a,b)))" "$work/s1.h5" "$work/s4.h5"
expect_out "0" "another seed and resolution, another saliency"

# Errors: one line, exit 2, no output.
run "$bin/prenas-score" --config "$micro" --out "$work/bad.h5" --proxy snip
expect_status 2 "--proxy on a CNN space"
expect_error_line "--proxy is for ViT spaces; $micro is a CNN space" "--proxy on a CNN space"
run "$bin/prenas-score" --config "$spaces/micro.cfg" --out "$work/bad.h5" --resolution 24
expect_status 2 "--resolution on a ViT space"
expect_error_line "--resolution is for CNN spaces; $spaces/micro.cfg is a ViT space" "--resolution on a ViT space"
run "$bin/prenas-select" --in "$work/s1.h5" --out "$work/bad.h5" --budget params
expect_status 2 "--budget params on CNN scores"
expect_error_line "a CNN space is selected by FLOPs groups" "--budget params on CNN scores"
run "$bin/prenas-select" --in "$work/s1.h5" --out "$work/bad.h5" --json "$work/bad.json"
expect_status 2 "--json on CNN scores"
expect_error_line "--json is for ViT scores; $work/s1.h5 holds a CNN space's" "--json on CNN scores"
run "$bin/prenas-select" --in "$work/s1.h5" --out "$work/bad.h5" --config "$spaces/cnn-bignas.cfg"
expect_status 2 "select with another space"
expect_error_line "the scores were computed for the space 'cnn-micro' recorded in $work/s1.h5, not for $spaces/cnn-bignas.cfg" \
    "select with another space"
run "$bin/prenas-select" --in "$work/s1.h5" --out "$work/bad.h5" --config "$spaces/micro.cfg"
expect_status 2 "select with a ViT --config"
expect_error_line "the scores were computed for a CNN space, $spaces/micro.cfg is a ViT space, $work/s1.h5" \
    "select with a ViT --config"
grep -v '^groups' "$micro" >"$work/nogroups.cfg"
run "$bin/prenas-score" --config "$work/nogroups.cfg" --out "$work/s5.h5" --batch 2
expect_status 0 "score a space without groups"
run "$bin/prenas-select" --in "$work/s5.h5" --out "$work/bad.h5"
expect_status 2 "select in a space without groups"
expect_error_line "the space names no FLOPs groups" "select in a space without groups"
run "$bin/prenas-select" --in "$work/s5.h5" --out "$work/p5.h5" --config "$micro" --per-interval 1
expect_status 0 "the groups from --config"
expect_out_has "4 preferred architectures in 4 FLOPs groups" "the groups from --config"
cp "$work/s1.h5" "$work/short.h5"
"$py" -c "import h5py,sys; f=h5py.File(sys.argv[1],'a'); s=f['saliency'][:-1]; del f['saliency']; f['saliency']=s" "$work/short.h5"
run "$bin/prenas-select" --in "$work/short.h5" --out "$work/bad.h5"
expect_status 2 "a saliency of another size"
expect_error_line "/saliency holds 280729 values, the space's supernet has 280730 parameters, $work/short.h5" \
    "a saliency of another size"
cp "$work/s1.h5" "$work/nan.h5"
"$py" -c "import h5py,sys; f=h5py.File(sys.argv[1],'a'); d=f['saliency']; d[7]=float('nan')" "$work/nan.h5"
run "$bin/prenas-select" --in "$work/nan.h5" --out "$work/bad.h5"
expect_status 2 "a NaN saliency"
expect_error_line "/saliency[7] is nan: a saliency |w * dL/dw| is finite and not negative, $work/nan.h5" \
    "a NaN saliency"
run "$bin/prenas-score" --config "$micro" --out "$work/bad.h5" --resolution 30
expect_status 2 "a resolution outside the space"
expect_error_line "--resolution 30: not one of the space's resolutions (24, 28, 32), $micro" \
    "a resolution outside the space"
# the device is opened before the output is begun: its refusal leaves nothing (no GPU here:
# no usable GPU; on a GPU: no CNN ops on CUDA)
run "$bin/prenas-score" --config "$micro" --out "$work/bad.h5" --device cuda
expect_status 2 "--device cuda on a CNN space"
run "$bin/prenas-score" --config "$micro" --out ""
expect_status 2 "an empty --out"
expect_error_line "the output path is empty" "an empty --out"
run "$bin/prenas-select" --in "$work/s1.h5" --out "$work/p6.h5" --rank-by snip --samples 1000
expect_status 0 "--rank-by snip, the CNN's ranking, is accepted"
run "$bin/prenas-train" --config "$spaces/micro.cfg" --recipe "$src/configs/recipes/micro-fmnist-quick.cfg" \
    --data "$work/none.h5" --preferred "$work/p1.h5" --out "$work/run"
expect_status 2 "training a ViT space on a CNN selection"
expect_error_line "the preferred architectures were selected in a CNN space ('cnn-micro'), $spaces/micro.cfg is a ViT space, $work/p1.h5" \
    "training a ViT space on a CNN selection"
cp "$work/s1.h5" "$work/same.h5"
run "$bin/prenas-select" --in "$work/same.h5" --out "$work/./same.h5"
expect_status 2 "--out is --in"
expect_error_line "the output would replace an input, $work/./same.h5" "--out is --in"
cmp -s "$work/s1.h5" "$work/same.h5" && pass || fail "the scores given as --in and --out changed"
cp "$micro" "$work/space.cfg"
run "$bin/prenas-score" --config "$work/space.cfg" --out "$work/space.cfg"
expect_status 2 "--out is --config"
cmp -s "$micro" "$work/space.cfg" && pass || fail "the space given as --config and --out changed"
[ ! -e "$work/bad.h5" ] && [ ! -e "$work/bad.h5.tmp" ] && pass || fail "a failed run left bad.h5"
finish
