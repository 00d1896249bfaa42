#!/bin/bash
# slurm/pipeline.sh SPACE.cfg WORKDIR [options]: the prenas pipeline as a chain of Slurm jobs,
# one per stage (slurm/*.sbatch): pack, score, select, train, evaluate (val and test),
# specialize. Prints the job ids and how to watch them, and writes WORKDIR/manifest.txt (job ids,
# inputs, checksums). A stage whose output exists, whose recorded inputs are unchanged
# (prenas-inspect --verify: /meta provenance) and which last finished with the same arguments
# and configuration files is skipped, so running the same command again after a failure
# resumes the chain. A failed stage cancels the jobs after it (--kill-on-invalid-dep=yes).
#
# options:
#   --from KIND SOURCE   pack the dataset from SOURCE (prenas-pack --from; default
#                        idx /usr/share/datasets/fashion-mnist)
#   --pack-opt OPT       a further prenas-pack option (repeat; e.g. --pack-opt=--class-names=F)
#   --dataset FILE.h5    an already packed dataset instead (no pack job)
#   --recipe FILE.cfg    training recipe (default configs/recipes/micro-fmnist.cfg)
#   --set KEY=VALUE      a recipe override for prenas-train (repeat)
#   --budgets LIST       prenas-specialize's budgets (default 0.3M,0.45M)
#   --ranks N            MPI ranks of score, train and evaluate (default 2)
#   --sbatch OPT         an sbatch option for every job (repeat; e.g. --sbatch=--partition=gpu)
#   --train-sbatch OPT   an sbatch option for the train job only (e.g. --train-sbatch=--time=4:00:00)
# environment: PRENAS_BIN (the executables, default build/), PRENAS_LAUNCHER (srun or mpirun),
# and whatever else the jobs should see: sbatch passes this environment on.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}
[ $# -ge 2 ] || usage
space=$(realpath "$1")
work=$2
shift 2
source "$root/slurm/common.sh"
parse_options "$@"
[ -f "$space" ] || { echo "slurm/pipeline.sh: no search space $space" >&2 && exit 2; }
mkdir -p "$work/logs"
work=$(cd "$work" && pwd)
export PRENAS_ROOT=$root
bin=${PRENAS_BIN:-$root/build}
export PRENAS_BIN=$bin
[ -x "$bin/prenas-inspect" ] || { echo "slurm/pipeline.sh: no prenas build in $bin (PRENAS_BIN)" >&2 && exit 2; }
sum() { sha256sum "$1" | cut -d' ' -f1; }

manifest=$work/manifest.txt
{
    echo "# slurm/pipeline.sh $(date -u +%FT%TZ) on $(hostname -s)"
    echo "space=$space sha256=$(sum "$space")"
    echo "recipe=$recipe sha256=$(sum "$recipe")"
    echo "ranks=$ranks budgets=$budgets sets=${sets[*]}"
} >"$manifest"

dep() { [ -z "$1" ] || echo ":$1"; }          # a job that was submitted
afterok() { [ -z "$1" ] || echo "afterok$1"; } # afterok on those
done_() { [ -z "$1" ] && echo 1 || echo 0; } # a stage skipped: done already

pack_job=
if [ -z "$dataset" ]; then
    dataset=$work/dataset.h5
    stage pack "$dataset" 1 "" "pack ${from[*]} ${pack_opts[*]}" pack.sbatch -- \
        "$dataset" --from "${from[@]}" "${pack_opts[@]}"
    pack_job=$job
fi
echo "dataset=$dataset sha256=$( [ -f "$dataset" ] && sum "$dataset" || echo pending)" >>"$manifest"

stage score "$work/scores.h5" 1 "" "score $(sum "$space") $ranks" score.sbatch --ntasks="$ranks" -- \
    "$space" "$work/scores.h5"
score_job=$job
stage select "$work/preferred.h5" "$(done_ "$score_job")" "$(afterok "$(dep "$score_job")")" select select.sbatch -- \
    "$space" "$work/scores.h5" "$work/preferred.h5"
select_job=$job
up=$(($(done_ "$select_job") && $(done_ "$pack_job")))
stage train "$work/train/supernet.h5" "$up" "$(afterok "$(dep "$select_job")$(dep "$pack_job")")" \
    "train $(sum "$recipe") $ranks ${sets[*]}" train.sbatch --ntasks="$ranks" "${train_opts[@]}" -- \
    "$space" "$recipe" "$dataset" "$work/preferred.h5" "$work/train" "${sets[@]}"
train_job=$job
declare -A eval_job
for split in val test; do
    stage "evaluate-$split" "$work/eval-$split.h5" "$(done_ "$train_job")" "$(afterok "$(dep "$train_job")")" \
        "evaluate $split $ranks" evaluate.sbatch --ntasks="$ranks" -- \
        "$work/train/supernet.h5" "$dataset" "$split" "$work/eval-$split.h5"
    eval_job[$split]=$job
done
# specialize chooses on val and reports test top-1 beside it (its models.md table)
up=$(($(done_ "$train_job") && $(done_ "${eval_job[val]}") && $(done_ "${eval_job[test]}")))
first=${budgets%%,*} # its file: model-0.3M.h5, model-flops-4.4M.h5 (prenas-specialize --help)
stage specialize "$work/models/model-${first/:/-}.h5" "$up" \
    "$(afterok "$(dep "$train_job")$(dep "${eval_job[val]}")$(dep "${eval_job[test]}")")" \
    "specialize $budgets test" specialize.sbatch -- \
    "$work/train/supernet.h5" "$dataset" "$work/eval-val.h5" "$budgets" "$work/models" \
    --test "$work/eval-test.h5"

if [ ${#ids[@]} -eq 0 ]; then
    echo "every stage is done; nothing submitted"
else
    list=$(
        IFS=,
        echo "${ids[*]}"
    )
    echo "jobs=$list" >>"$manifest"
    echo "watch: squeue -j $list    logs: $work/logs/    manifest: $manifest"
fi
