#!/bin/bash
# slurm/ on a real scheduler: a one-node Slurm cluster started for this test alone
# (scripts/slurm-local.sh: own folder, own ports, stopped at exit), and on it
#  - slurm/pipeline.sh end to end on the micro space and a small Fashion-MNIST slice, every
#    artefact and every job's state checked; its train job is told to stop mid-run
#    (scancel --signal=USR1 --batch), checkpoints, requeues itself and resumes, and its /params
#    equal those of an uninterrupted run of the same steps (h5diff);
#  - a failing stage (a corrupt dataset) cancels the stages after it and says why in its log;
#    the same command after the fix skips what was done;
#  - slurm/sweep.sh over two spaces, with the summary job;
#  - slurm/pipeline.sh on the micro CNN space (its recipe, FLOPs budgets).
# PRENAS_SLURM_KEEP=DIR keeps the sweep's summary (table and plot) there.
# shellcheck disable=SC2015,SC1091,SC2154 # the cli tests' idiom; lib.sh sets $out, $status
source "$(dirname "$0")/../cli/lib.sh"
bin=$PRENAS_BINARY_DIR src=$PRENAS_SOURCE_DIR py=$PRENAS_PYTHON
if [ "$(id -u)" -ne 0 ] || ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    echo "skipped: needs root and the packages slurm-wlm munge (scripts/setup.sh --tests)"
    exit 77
fi
work=$(mktemp -d)
cluster=$work/cluster
cleanup() {
    "$src/scripts/slurm-local.sh" down "$cluster" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
export OMP_NUM_THREADS=1
t0=$(date +%s%N)
elapsed() { # seconds since the start, to a tenth
    local ds=$((($(date +%s%N) - t0) / 100000000))
    printf '%3d.%d s' $((ds / 10)) $((ds % 10))
}
chmod 755 "$work" # munged's socket must be reachable by others (mktemp -d makes 700)
up=$("$src/scripts/slurm-local.sh" up "$cluster") || { echo "FAIL: no cluster" >&2 && exit 1; }
eval "$up"
echo "cluster up: $(elapsed), $(sinfo -h -o '%N %c CPUs %T')"

fmnist_slice 512 128 128
cp "$work/data.h5" "$work/good.h5"
settings=(--set batch=32 --set epochs=3 --set warmup_epochs=0 --set eval.every_epochs=0
    --set checkpoint.every_steps=4 --set log.every_steps=1)
export PRENAS_BIN=$bin

state() { scontrol show job "$1" | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
field() { scontrol show job "$1" | grep -o "$2=[^ ]*" | head -1 | cut -d= -f2; }
wait_jobs() { # wait_jobs ID...: until none is pending or running (at most 300 s)
    local list
    list=$(
        IFS=,
        echo "$*"
    )
    for _ in $(seq 1200); do
        squeue -h -j "$list" -t PD,R,CG,RQ,RS,S 2>/dev/null | grep -q . || return 0
        sleep 0.25
    done
    fail "jobs $list still queued after 300 s: $(squeue -j "$list")"
}
job_of() { sed -n "s/^stage=$2 job=\([0-9a-z]*\) .*/\1/p" "$1/manifest.txt" | tail -1; }
wait_manifest() { # wait_manifest DIR LABEL: waits for the jobs of DIR's manifest (in $ids)
    ids=$(sed -n 's/^jobs=//p' "$1/manifest.txt" | tr , ' ')
    # shellcheck disable=SC2086 # a list of ids
    wait_jobs $ids
    echo "$2 done at $(elapsed):"
}
report() { # one line per job of a pipeline: stage, id, state, restarts, run time
    local dir=$1 stage id
    while read -r stage id; do
        [ "$id" = skipped ] && continue
        printf '  %-16s job %-4s %-10s restarts %s  run %s\n' "$stage" "$id" "$(state "$id")" \
            "$(field "$id" Restarts)" "$( [ "$(state "$id")" = CANCELLED ] && echo - || field "$id" RunTime)"
    done < <(sed -n 's/^stage=\([^ ]*\) job=\([^ ]*\) .*/\1 \2/p' "$dir/manifest.txt")
}

# 1. The pipeline end to end, with the train job stopped once by its signal and requeued.
run "$src/slurm/pipeline.sh" "$src/configs/spaces/micro.cfg" "$work/p" --dataset "$work/data.h5" \
    "${settings[@]}" --budgets 0.3M,0.45M
expect_status 0 "pipeline submitted"
echo "$out"
train=$(job_of "$work/p" train)
for _ in $(seq 1200); do # a few steps in (train.log has a line a step), then the signal
    steps=$(grep -c '^step=' "$work/p/train/train.log" 2>/dev/null)
    [ "${steps:-0}" -ge 5 ] && break
    sleep 0.1
done
scancel --signal=USR1 --batch "$train"
echo "train job $train signalled at $(elapsed)"
wait_manifest "$work/p" "pipeline"
report "$work/p"
for id in $ids; do
    [ "$(state "$id")" = COMPLETED ] && pass || fail "job $id: $(state "$id")"
done
[ "$(field "$train" Restarts)" = 1 ] && pass || fail "train job restarts: $(field "$train" Restarts)"
log=$(ls "$work"/p/logs/prenas-train-*.out)
grep -q "stopped by signal 10 .*checkpointed" "$log" && pass || fail "no checkpointed stop in $log"
grep -q "requeueing job $train" "$log" && pass || fail "no requeue in $log"
grep -q "restart 1" "$log" && pass || fail "SLURM_RESTART_COUNT not in $log"
grep -q "resuming .* at step" "$log" && pass || fail "the restart did not resume: $(cat "$log")"
for f in scores.h5 preferred.h5 preferred.json preferred.cfg train/supernet.h5 eval-val.h5 eval-test.h5 \
    eval-val.csv eval-test.md eval-test.png models/model-0.3M.h5 models/model-0.45M.h5; do
    [ -s "$work/p/$f" ] && pass || fail "no $f"
done
# the models' table carries the test top-1 beside val (specialize waited for the test evaluation)
awk '/^params <=/ { n++; if ($7 !~ /%$/) bad = 1 } END { exit !(n == 2 && !bad) }' "$work/p/models/models.txt" &&
    pass || fail "models.txt without test top-1: $(cat "$work/p/models/models.txt")"
for f in "$work"/p/*.h5 "$work"/p/train/supernet.h5 "$work"/p/models/*.h5; do
    "$bin/prenas-inspect" --verify "$f" >/dev/null && pass || fail "$f: $("$bin/prenas-inspect" --verify "$f" 2>&1)"
done
grep -q "world size 2" <("$bin/prenas-inspect" "$work/p/scores.h5") && pass || fail "score did not run 2 ranks"
# the uninterrupted run of the same steps
mpirun -np 2 --bind-to none "$bin/prenas-train" --config "$src/configs/spaces/micro.cfg" \
    --recipe "$src/configs/recipes/micro-fmnist.cfg" --data "$work/data.h5" \
    --preferred "$work/p/preferred.h5" --out "$work/straight" "${settings[@]}" >"$work/straight.out" 2>&1 ||
    fail "uninterrupted run: $(tail -3 "$work/straight.out")"
rc=0
diff=$(h5diff "$work/p/train/supernet.h5" "$work/straight/supernet.h5" /params 2>&1) || rc=$?
[ $rc -eq 0 ] && pass || fail "requeued /params differ from an uninterrupted run: $diff"
echo "h5diff requeued vs uninterrupted /params: exit $rc ${diff:-(identical)}"

# mpirun inside the allocation instead of srun (PRENAS_LAUNCHER=mpirun), without a requeue: a
# stopped training's job exits 75 there too.
job=$(PRENAS_LAUNCHER=mpirun PRENAS_REQUEUE=0 PRENAS_ROOT=$src sbatch --parsable --chdir="$work" \
    --output="$work/mpirun-%j.out" "$src/slurm/train.sbatch" "$src/configs/spaces/micro.cfg" \
    "$src/configs/recipes/micro-fmnist.cfg" "$work/data.h5" "$work/p/preferred.h5" "$work/m" "${settings[@]}")
for _ in $(seq 1200); do
    steps=$(grep -c '^step=' "$work/m/train.log" 2>/dev/null)
    [ "${steps:-0}" -ge 5 ] && break
    sleep 0.1
done
scancel --signal=USR1 --batch "$job"
wait_jobs "$job"
echo "train job $job under mpirun, signalled: $(state "$job"), exit code $(field "$job" ExitCode) at $(elapsed)"
[ "$(field "$job" ExitCode)" = 75:0 ] && pass || fail "under mpirun: $(field "$job" ExitCode): $(cat "$work"/mpirun-*.out)"
grep -q "world size 2" <("$bin/prenas-inspect" "$work/m/supernet.h5") && pass || fail "mpirun did not run 2 ranks"

# 2. A failing stage: a corrupt dataset stops train; its dependants are cancelled.
head -c 4096 "$work/good.h5" >"$work/data.h5"
run "$src/slurm/pipeline.sh" "$src/configs/spaces/micro.cfg" "$work/f" --dataset "$work/data.h5" \
    "${settings[@]}" --set epochs=1 --budgets 0.3M
wait_manifest "$work/f" "failing pipeline"
report "$work/f"
[ "$(state "$(job_of "$work/f" train)")" = FAILED ] && pass || fail "train did not fail"
for s in evaluate-val evaluate-test specialize; do
    [ "$(state "$(job_of "$work/f" $s)")" = CANCELLED ] && pass || fail "$s not cancelled"
done
message=$(grep -h "prenas-train: error: .*data.h5" "$work"/f/logs/prenas-train-*.out)
[ -n "$message" ] && pass || fail "no clear message: $(cat "$work"/f/logs/prenas-train-*.out)"
echo "  its log: $message"
cp "$work/good.h5" "$work/data.h5"
run "$src/slurm/pipeline.sh" "$src/configs/spaces/micro.cfg" "$work/f" --dataset "$work/data.h5" \
    "${settings[@]}" --set epochs=1 --budgets 0.3M
echo "$out"
expect_out_has "score                skipped" "score done before"
expect_out_has "select               skipped" "select done before"
wait_manifest "$work/f" "rerun"
report "$work/f"
for id in $ids; do
    [ "$(state "$id")" = COMPLETED ] && pass || fail "rerun: job $id: $(state "$id")"
done
[ -s "$work/f/models/model-0.3M.h5" ] && pass || fail "rerun: no model"

# 3. A sweep over two spaces (micro and a shallower copy), a job array per stage, and its summary.
sed -e 's/name = "micro"/name = "micro-shallow"/' -e 's/depth = \[4, 5, 6\]/depth = [4, 5]/' \
    -e 's/depth = 6;/depth = 5;/' "$src/configs/spaces/micro.cfg" >"$work/micro-shallow.cfg"
run "$src/slurm/sweep.sh" "$work/s" "$src/configs/spaces/micro.cfg" "$work/micro-shallow.cfg" \
    --dataset "$work/data.h5" "${settings[@]}" --set epochs=1 --budgets 0.3M
expect_status 0 "sweep submitted"
echo "$out"
wait_manifest "$work/s" "sweep"
for id in $ids; do
    states=$(scontrol show job "$id" | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 | sort | uniq -c | xargs)
    printf '  job %-4s %-22s %s\n' "$id" "$(field "$id" JobName)" "$states"
    [ "$(scontrol show job "$id" | grep -o 'JobState=[A-Z_]*' | sort -u)" = JobState=COMPLETED ] && pass ||
        fail "sweep job $id: $states"
done
for f in micro/eval-test.h5 micro-shallow/eval-test.h5 micro/models/model-0.3M.h5 \
    micro-shallow/models/model-0.3M.h5 summary/summary.csv summary/summary.md summary/summary.png; do
    [ -s "$work/s/$f" ] && pass || fail "sweep: no $f"
done
grep -q '^| micro-shallow | `' "$work/s/summary/summary.md" && grep -q '^| micro | ' "$work/s/summary/summary.md" &&
    pass || fail "the summary lacks a run: $(cat "$work/s/summary/summary.md")"
cat "$work/s/summary/summary.md"
[ -n "${PRENAS_SLURM_KEEP:-}" ] && cp -r "$work/s/summary" "$PRENAS_SLURM_KEEP"

# 4. A CNN space through the same chain (its recipe, FLOPs budgets): select writes no .json or
# .cfg beside preferred.h5 (a CNN selection has no refined space), every job completes.
# A smaller slice: each of the 20 preferred subnets is recalibrated on every training image
# before each of its evaluations.
"$py" "$src/tests/cli/small_dataset.py" "$work/full.h5" "$work/cnn-data.h5" 128 64 64
run "$src/slurm/pipeline.sh" "$src/configs/spaces/cnn-micro.cfg" "$work/c" \
    --dataset "$work/cnn-data.h5" --recipe "$src/configs/recipes/cnn-micro-fmnist.cfg" \
    "${settings[@]}" --set epochs=1 --set bn_group=16 --budgets flops:4.4M,flops:11M
expect_status 0 "CNN pipeline submitted"
wait_manifest "$work/c" "CNN pipeline"
report "$work/c"
for id in $ids; do
    [ "$(state "$id")" = COMPLETED ] && pass || fail "CNN pipeline: job $id: $(state "$id")"
done
for f in preferred.h5 train/supernet.h5 eval-val.h5 eval-test.h5 models/model-flops-4.4M.h5 \
    models/model-flops-11M.h5 models/models.txt; do
    [ -s "$work/c/$f" ] && pass || fail "CNN pipeline: no $f"
done
[ ! -e "$work/c/preferred.json" ] && [ ! -e "$work/c/preferred.cfg" ] && pass ||
    fail "CNN pipeline: a .json or .cfg beside preferred.h5"
cat "$work/c/models/models.txt"

"$src/scripts/slurm-local.sh" down "$cluster"
echo "cluster down: $(elapsed)"
finish
