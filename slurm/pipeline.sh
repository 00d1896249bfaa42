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
from=(idx /usr/share/datasets/fashion-mnist) pack_opts=() dataset='' recipe=$root/configs/recipes/micro-fmnist.cfg
sets=() budgets=0.3M,0.45M ranks=2 sbatch_opts=() train_opts=()
while [ $# -gt 0 ]; do
    case $1 in
    --from) from=("$2" "$(realpath "$3")") && shift 3 ;;
    --pack-opt) pack_opts+=("$2") && shift 2 ;;
    --pack-opt=*) pack_opts+=("${1#*=}") && shift ;;
    --dataset) dataset=$(realpath "$2") && shift 2 ;;
    --recipe) recipe=$(realpath "$2") && shift 2 ;;
    --set) sets+=(--set "$2") && shift 2 ;;
    --budgets) budgets=$2 && shift 2 ;;
    --ranks) ranks=$2 && shift 2 ;;
    --sbatch) sbatch_opts+=("$2") && shift 2 ;;
    --sbatch=*) sbatch_opts+=("${1#*=}") && shift ;;
    --train-sbatch) train_opts+=("$2") && shift 2 ;;
    --train-sbatch=*) train_opts+=("${1#*=}") && shift ;;
    *) echo "slurm/pipeline.sh: unknown option '$1'" >&2 && usage ;;
    esac
done
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

ids=()
# stage NAME OUTPUT UPSTREAM-DONE DEPS STAMP SCRIPT [sbatch options] -- ARGS...: submits the
# stage's job (sets $job to its id), or skips it ($job empty) when its upstream stages were
# skipped too and it is done for the same inputs: the same arguments and configuration files as
# when it last succeeded (its stamp, which the job writes), and its output's recorded inputs
# unchanged.
stage() {
    local name=$1 output=$2 upstream_done=$3 deps=$4 stamp=$5 script=$6
    shift 6
    local stampfile=$work/.stamps/$name
    if [ "$upstream_done" = 1 ] && [ -f "$stampfile" ] && [ "$(cat "$stampfile")" = "$stamp" ] &&
        "$bin/prenas-inspect" --verify "$output" >/dev/null 2>&1; then
        job=
        printf '%-20s skipped: %s is done for the same inputs\n' "$name" "${output#"$work"/}"
        echo "stage=$name job=skipped output=$output" >>"$manifest"
        return
    fi
    rm -f "$stampfile" # valid again only once this job succeeds
    local opts=(--parsable --job-name="prenas-$name" --output="$work/logs/%x-%j.out"
        --chdir="$work" --kill-on-invalid-dep=yes "${sbatch_opts[@]}")
    [ -z "$deps" ] || opts+=(--dependency="afterok$deps")
    while [ "$1" != -- ]; do opts+=("$1") && shift; done
    shift
    job=$(PRENAS_STAMP=$stamp PRENAS_STAMP_FILE=$stampfile sbatch "${opts[@]}" "$root/slurm/$script" "$@")
    job=${job%%;*} # --parsable prints "id" or "id;cluster"
    ids+=("$job")
    printf '%-20s job %s\n' "$name" "$job"
    echo "stage=$name job=$job output=$output args=$*" >>"$manifest"
}
dep() { [ -z "$1" ] || echo ":$1"; } # afterok on a job that was submitted
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
stage select "$work/preferred.h5" "$(done_ "$score_job")" "$(dep "$score_job")" select select.sbatch -- \
    "$work/scores.h5" "$work/preferred.h5"
select_job=$job
up=$(($(done_ "$select_job") && $(done_ "$pack_job")))
stage train "$work/train/supernet.h5" "$up" "$(dep "$select_job")$(dep "$pack_job")" \
    "train $(sum "$recipe") $ranks ${sets[*]}" train.sbatch --ntasks="$ranks" "${train_opts[@]}" -- \
    "$space" "$recipe" "$dataset" "$work/preferred.h5" "$work/train" "${sets[@]}"
train_job=$job
val_job=
for split in val test; do
    stage "evaluate-$split" "$work/eval-$split.h5" "$(done_ "$train_job")" "$(dep "$train_job")" \
        "evaluate $split $ranks" evaluate.sbatch --ntasks="$ranks" -- \
        "$work/train/supernet.h5" "$dataset" "$split" "$work/eval-$split.h5"
    [ "$split" = test ] || val_job=$job
done
up=$(($(done_ "$train_job") && $(done_ "$val_job")))
stage specialize "$work/models/model-${budgets%%,*}.h5" "$up" "$(dep "$train_job")$(dep "$val_job")" \
    "specialize $budgets" specialize.sbatch -- \
    "$work/train/supernet.h5" "$dataset" "$work/eval-val.h5" "$budgets" "$work/models"

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
