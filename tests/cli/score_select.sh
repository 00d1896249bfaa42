#!/bin/bash
# prenas-score and prenas-select as a user meets them, on the micro space: the preferred set,
# its JSON and refined space, the same result with 1 and 2 MPI ranks, data mode, mBR and
# Kendall's tau from prenas-analyze, and one-line errors (and SIGTERM) that leave nothing behind.
source "$(dirname "$0")/lib.sh"
bin=$PRENAS_BINARY_DIR
spaces=$PRENAS_SOURCE_DIR/configs/spaces
py=$PRENAS_PYTHON
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mpi=(mpirun -np 2 --bind-to none)

run "$bin/prenas-score" --config "$spaces/micro.cfg" --out "$work/s1.h5" --seed 3
expect_status 0 "score, 1 rank"
expect_out_has "gradient pass: 64 images" "score summary"
run "$bin/prenas-select" --in "$work/s1.h5" --out "$work/p1.h5" --json "$work/p1.json" --refined "$work/r1.cfg"
expect_status 0 "select, 1 rank"
expect_out_has "4 preferred architectures in 4 intervals (0 empty)" "select summary"

# Each kept architecture lies in its interval; the JSON has the reference's form; the refined
# space loads and holds every preferred architecture.
run "$py" - "$work/p1.h5" "$work/p1.json" <<'PY'
import json, sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    lo, hi = f["intervals/lo"][:], f["intervals/hi"][:]
    c = f["candidates"]
    archs = [a.decode() for a in c["arch"][:]]
    assert len(archs) == 4, archs
    for k, p in zip(c["interval"][:], c["params"][:]):
        assert lo[k] <= p < hi[k], (k, p)
    assert f["meta"].attrs["schema"] == "prenas.preferred"
d = json.load(open(sys.argv[2]))
assert list(d) == ["0.2", "0.3", "0.4", "0.5"], list(d)
for key, (cand,) in zip(d, d.values()):
    assert list(cand) == ["layer_num", "mlp_ratio", "num_heads", "embed_dim", "num_params", "score"]
    assert len(cand["mlp_ratio"]) == cand["layer_num"] == len(set(cand["embed_dim"])) * cand["layer_num"] // 1
    assert float(key) - 0.1 <= cand["num_params"] < float(key)
print("ok")
PY
expect_out "ok" "preferred.h5 and JSON contents"
for a in $("$py" -c "import h5py,sys; print(' '.join(x.decode() for x in h5py.File(sys.argv[1])['candidates/arch'][:]))" "$work/p1.h5"); do
    run "$bin/prenas-arch" --config "$work/r1.cfg" --arch "$a"
    expect_status 0 "preferred $a in the refined space"
done

# Every 0.01 M interval alone from 0.1 to 0.47 M (above, the reference's count vectors leave
# no group): a narrow interval can keep a wide subnet with few heads (80 channels, at most 4
# heads of 16), and the refined supernet must still be 80 wide. Each run succeeds and its
# refined space holds the architecture it kept.
kept=0
for k in $(seq 10 46); do
    lo=0.$k hi=$(printf '%d.%02d' $(((k + 1) / 100)) $(((k + 1) % 100)))
    run "$bin/prenas-select" --in "$work/s1.h5" --out "$work/n.h5" --min "$lo" --max "$hi" --width 0.01 --refined "$work/n.cfg"
    expect_status 0 "select [$lo, $hi): $err"
    a=$(awk '/^\[/ && $NF ~ /:/ {print $NF}' <<<"$out")
    if [ -n "$a" ]; then
        kept=$((kept + 1))
        run "$bin/prenas-arch" --config "$work/n.cfg" --arch "$a"
        expect_status 0 "[$lo, $hi): $a in its refined space: $err"
    fi
    rm -f "$work/n.h5" "$work/n.cfg"
done
[ "$kept" -eq 37 ] && pass || fail "architectures kept in 37 narrow intervals: $kept"

# Two ranks: the same tables (up to float rounding) and the same preferred set.
run "${mpi[@]}" "$bin/prenas-score" --config "$spaces/micro.cfg" --out "$work/s2.h5" --seed 3
expect_status 0 "score, 2 ranks"
run "${mpi[@]}" "$bin/prenas-select" --in "$work/s2.h5" --out "$work/p2.h5"
expect_status 0 "select, 2 ranks"
run "$py" - "$work/s1.h5" "$work/s2.h5" "$work/p1.h5" "$work/p2.h5" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert b["meta"].attrs["world_size"] == 2
worst = 0
for proxy in a["proxies"]:
    for table in a["proxies"][proxy]:
        x, y = a["proxies"][proxy][table][:], b["proxies"][proxy][table][:]
        worst = max(worst, np.max(np.abs(x - y)) / max(np.max(np.abs(x)), 1e-30))
assert worst < 1e-5, worst
p, q = h5py.File(sys.argv[3], "r"), h5py.File(sys.argv[4], "r")
assert list(p["candidates/arch"][:]) == list(q["candidates/arch"][:])
print("ok", worst)
PY
expect_out_has "ok" "1 and 2 ranks agree"
run "${mpi[@]}" "$bin/prenas-select" --in "$work/s1.h5" --out "$work/p12.h5"
run h5diff "$work/p1.h5" "$work/p12.h5" /candidates
expect_status 0 "select of the same scores: identical candidates on 1 and 2 ranks"

# Data mode on real Fashion-MNIST images.
run "$bin/prenas-pack" --from idx /usr/share/datasets/fashion-mnist --out "$work/fmnist.h5"
expect_status 0 "pack Fashion-MNIST"
run "$bin/prenas-score" --config "$spaces/micro.cfg" --data "$work/fmnist.h5" --batch 32 --batches 2 --out "$work/sd.h5"
expect_status 0 "score, data mode"
expect_out_has "data mode" "data mode summary"
run "$py" -c "import h5py,sys; f=h5py.File(sys.argv[1]); m=f['meta/inputs/0'].attrs; print(f.attrs['mode'], f.attrs['images'], m['role'])" "$work/sd.h5"
expect_out "data 64 dataset" "data mode records its input"

# Intervals with no architecture are reported, not fatal, and absent from the JSON.
run "$bin/prenas-select" --in "$work/s1.h5" --out "$work/pe.h5" --min 0.0 --max 0.5 --width 0.05 --json "$work/pe.json"
expect_status 0 "select with empty intervals"
expect_out_has "(no architecture in this interval)" "an empty interval is reported"
run "$py" -c "import json,sys; print(sorted(json.load(open(sys.argv[1]))))" "$work/pe.json"
expect_out_has "'0.15'" "JSON keys are interval ends"
# Sizes with a suffix are the same intervals as bare millions; fractions of a parameter are not.
run "$bin/prenas-select" --in "$work/s1.h5" --out "$work/pk.h5" --min 0 --max 500K --width 0.05M
expect_status 0 "select with suffixed sizes"
h5diff "$work/pe.h5" "$work/pk.h5" /intervals >/dev/null && h5diff "$work/pe.h5" "$work/pk.h5" /candidates >/dev/null &&
    pass || fail "500K, 0.05M != 0.5, 0.05"
run "$bin/prenas-select" --in "$work/s1.h5" --out "$work/bad.h5" --min 0 --max 0.5 --width 0.0000005
expect_status 2 "half a parameter"
expect_error_line "--width '0.0000005': expected a number of millions" "half a parameter"

# prenas-analyze on all isomers of four groups (48 wide, 4 deep; prenas-arch --isomers), with
# each architecture's parameter count (one per group) as its "accuracy": the params proxy
# then ranks perfectly (tau 1), and as isomers tie in accuracy, every proxy's pick has the
# average rank (mBR 0.5).
echo "arch,accuracy" >"$work/acc.csv"
for h in 3,3,3,4 3,3,4,4; do
    for r in 3,3,3,4 3,4,4,4; do
        params=$("$bin/prenas-arch" --config "$spaces/micro.cfg" --arch "48:4:$h:$r" | sed 's/params=\([0-9]*\).*/\1/')
        "$bin/prenas-arch" --config "$spaces/micro.cfg" --isomers "48:4:$h:$r" | grep -v '^#' |
            sed "s/\$/,$params/" >>"$work/acc.csv"
    done
done
run "$bin/prenas-analyze" --in "$work/s1.h5" --accuracy "$work/acc.csv"
expect_status 0 "analyze runs"
expect_out_has "80 architectures" "analyze counts"
grep -qE "^params +0\.500 +4 +1\.000" <<<"$out" && pass || fail "params: mBR 0.5 over 4 groups, tau 1: $out"
grep -qE "^snip-layernorm +0\.500 +4 " <<<"$out" && pass || fail "ties in accuracy: mBR 0.5: $out"
echo "48:4:3,3,3,4:3,3,3,7,0.5" >"$work/bad.csv"
run "$bin/prenas-analyze" --in "$work/s1.h5" --accuracy "$work/bad.csv"
expect_status 2 "an architecture outside the space"
expect_error_line "$work/bad.csv:1" "bad CSV line named"

# Errors: exit 2, one line, nothing written.
run "$bin/prenas-select" --in "$work/s1.h5" --out "$work/bad.h5" --min 0.3 --max 0.2 --width 0.1
expect_status 2 "lo >= hi"
expect_error_line "--min must be below --max" "lo >= hi"
run "$bin/prenas-select" --in "$work/s1.h5" --out "$work/bad.h5" --min 0.1 --max 0.5 --width 0
expect_status 2 "width 0"
expect_error_line "--width must be positive" "width 0"
run "$bin/prenas-select" --in "$work/s1.h5" --out "$work/bad.h5" --per-interval 0
expect_status 2 "N = 0"
expect_error_line "--per-interval 0: must be at least 1" "N = 0"
run "$bin/prenas-select" --in "$work/s1.h5" --out "$work/bad.h5" --config "$spaces/vit-tiny.cfg"
expect_status 2 "scores of another space"
expect_error_line "the scores were computed for the space 'micro'" "scores of another space"
head -c 2000 "$work/s1.h5" >"$work/truncated.h5"
run "$bin/prenas-select" --in "$work/truncated.h5" --out "$work/bad.h5"
expect_status 2 "truncated scores"
expect_error_line "$work/truncated.h5" "truncated scores"
run "$bin/prenas-select" --in "$work/p1.h5" --out "$work/bad.h5"
expect_status 2 "a preferred.h5 given as scores"
expect_error_line "is a 'prenas.preferred' artefact, expected 'prenas.scores'" "wrong schema"
run "$bin/prenas-score" --config "$spaces/micro.cfg" --out "$work/missing/dir/s.h5"
expect_status 2 "missing output directory"
expect_error_line "the output directory does not exist" "missing output directory"
run "$bin/prenas-score" --config "$spaces/vit-tiny.cfg" --data "$work/fmnist.h5" --out "$work/bad.h5"
expect_status 2 "a dataset of the wrong shape"
expect_error_line "the dataset has 28x28x1 images in 10 classes, the space expects 224x224x3 in 1000" "dataset shape"
run "$bin/prenas-score" --config "$spaces/micro.cfg" --proxy synflow --out "$work/bad.h5"
expect_status 2 "unknown proxy"
expect_error_line "--proxy 'synflow': unknown" "unknown proxy"
[ ! -e "$work/bad.h5" ] && [ ! -e "$work/bad.h5.tmp" ] && pass || fail "an output was left behind"

# SIGTERM during the gradient pass (scores.h5.tmp is begun before it): the stage ends by the
# signal and removes the .tmp (the artefact guard, src/base/artefact.h).
term_when_begun "$work/killed.h5.tmp" "$bin/prenas-score" --config "$spaces/micro.cfg" \
    --out "$work/killed.h5" --batch 2048
expect_status 143 "score ended by SIGTERM"
[ ! -e "$work/killed.h5" ] && [ ! -e "$work/killed.h5.tmp" ] && pass || fail "SIGTERM left an output behind"

# The world-size check (mpi/comm.c): a task of a 2-task srun step that MPI sees alone is one of
# N singletons; a process of a --ntasks=2 job outside any step (the batch script) is not.
SLURM_STEP_NUM_TASKS=2 SLURM_NTASKS=2 run "$bin/prenas-select" --in "$work/s1.h5" --out "$work/w.h5"
expect_status 2 "singleton in a 2-task step"
expect_error_line "the launcher started 2 processes (SLURM_STEP_NUM_TASKS) but MPI sees a world of 1" "world-size check"
[ ! -e "$work/w.h5" ] && pass || fail "a singleton wrote its output"
SLURM_NTASKS=2 run "$bin/prenas-select" --in "$work/s1.h5" --out "$work/w.h5"
expect_status 0 "one process of a 2-task job, outside a step"
PMI_SIZE=2 run "${mpi[@]}" "$bin/prenas-select" --in "$work/s1.h5" --out "$work/w.h5"
expect_status 0 "mpirun's own count is compared, not a stale one"

# --verify: the provenance check of a resumed workflow.
run "$bin/prenas-inspect" --verify "$work/p1.h5"
expect_status 0 "inputs unchanged"
cp "$work/s1.h5" "$work/s1.keep"
"$bin/prenas-score" --config "$spaces/micro.cfg" --out "$work/s1.h5" --seed 4 >/dev/null
run "$bin/prenas-inspect" --verify "$work/p1.h5"
expect_status 2 "scores changed"
expect_error_line "input scores $work/s1.h5 has changed since $work/p1.h5 was written" "--verify names the input"
rm "$work/s1.h5"
run "$bin/prenas-inspect" --verify "$work/p1.h5"
expect_status 2 "scores missing"
mv "$work/s1.keep" "$work/s1.h5"
finish
