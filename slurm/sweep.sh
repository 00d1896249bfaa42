#!/bin/bash
# slurm/sweep.sh SWEEPDIR SPACE.cfg... [options]: the pipeline of slurm/pipeline.sh for several
# search spaces (e.g. vit-tiny, vit-small, vit-base, or spaces of your own) at once: one job
# array per stage (--array, a task per space: SLURM_ARRAY_TASK_ID picks the line of
# SWEEPDIR/spaces.txt), each space in its own SWEEPDIR/NAME/, task i of a stage waiting for task
# i of the stage before (aftercorr), and a summary job after every test evaluation: one table
# (SWEEPDIR/summary/summary.csv, summary.md) and one Pareto plot (summary.png) across the sweep.
# The dataset is packed once (or given with --dataset) and shared.
#
# options: as slurm/pipeline.sh (--from, --pack-opt, --dataset, --recipe, --set, --budgets,
# --ranks, --sbatch, --train-sbatch). A sweep does not skip finished stages; rerun one space
# with slurm/pipeline.sh SPACE.cfg SWEEPDIR/NAME to resume it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}
[ $# -ge 2 ] || usage
mkdir -p "$1/logs"
work=$(cd "$1" && pwd)
shift
spaces=()
while [ $# -gt 0 ] && [[ $1 != --* ]]; do
    [ -f "$1" ] || { echo "slurm/sweep.sh: no search space $1" >&2 && exit 2; }
    spaces+=("$(realpath "$1")") && shift
done
[ ${#spaces[@]} -gt 0 ] || usage
source "$root/slurm/common.sh"
parse_options "$@"
export PRENAS_ROOT=$root
bin=${PRENAS_BIN:-$root/build}
export PRENAS_BIN=$bin
sum() { sha256sum "$1" | cut -d' ' -f1; }

# one line a task: the space and its folder, named after the space's file
list=$work/spaces.txt
: >"$list"
for s in "${spaces[@]}"; do echo "$s $work/$(basename "$s" .cfg)" >>"$list"; done
[ "$(cut -d' ' -f2 "$list" | sort -u | wc -l)" -eq ${#spaces[@]} ] ||
    { echo "slurm/sweep.sh: two spaces with the same file name" >&2 && exit 2; }
export PRENAS_SWEEP_LIST=$list
manifest=$work/manifest.txt
{
    echo "# slurm/sweep.sh $(date -u +%FT%TZ) on $(hostname -s)"
    for s in "${spaces[@]}"; do echo "space=$s sha256=$(sum "$s")"; done
    echo "recipe=$recipe sha256=$(sum "$recipe")"
    echo "ranks=$ranks budgets=$budgets sets=${sets[*]}"
} >"$manifest"

ids=()
array=--array=0-$((${#spaces[@]} - 1))
pack=''
if [ -z "$dataset" ]; then
    dataset=$work/dataset.h5
    stage pack "$dataset" 0 "" "pack" pack.sbatch -- "$dataset" --from "${from[@]}" "${pack_opts[@]}"
    pack=,afterok:$job
fi
echo "dataset=$dataset" >>"$manifest"
# UPSTREAM-DONE 0: never skipped (the outputs' @WORK@ paths are the tasks' own)
stage score "@WORK@/scores.h5" 0 "" "score" score.sbatch --ntasks="$ranks" "$array" -- \
    @SPACE@ @WORK@/scores.h5
stage select "@WORK@/preferred.h5" 0 "aftercorr:$job" "select" select.sbatch "$array" -- \
    @SPACE@ @WORK@/scores.h5 @WORK@/preferred.h5
stage train "@WORK@/train/supernet.h5" 0 "aftercorr:$job$pack" "train" train.sbatch \
    --ntasks="$ranks" "$array" "${train_opts[@]}" -- \
    @SPACE@ "$recipe" "$dataset" @WORK@/preferred.h5 @WORK@/train "${sets[@]}"
train=$job
stage evaluate-val "@WORK@/eval-val.h5" 0 "aftercorr:$train" "evaluate" evaluate.sbatch \
    --ntasks="$ranks" "$array" -- @WORK@/train/supernet.h5 "$dataset" val @WORK@/eval-val.h5
val=$job
stage evaluate-test "@WORK@/eval-test.h5" 0 "aftercorr:$train" "evaluate" evaluate.sbatch \
    --ntasks="$ranks" "$array" -- @WORK@/train/supernet.h5 "$dataset" test @WORK@/eval-test.h5
test_job=$job
stage specialize "@WORK@/models" 0 "aftercorr:$val:$test_job" "specialize" specialize.sbatch "$array" -- \
    @WORK@/train/supernet.h5 "$dataset" @WORK@/eval-val.h5 "$budgets" @WORK@/models \
    --test @WORK@/eval-test.h5
evals=()
while read -r _ dir; do evals+=("$dir/eval-test.h5"); done <"$list"
stage summary "$work/summary/summary.csv" 0 "afterok:$test_job" "summary" summary.sbatch -- \
    "$work/summary" "${evals[@]}"

list_ids=$(
    IFS=,
    echo "${ids[*]}"
)
echo "jobs=$list_ids" >>"$manifest"
echo "watch: squeue -j $list_ids    logs: $work/logs/    summary: $work/summary/"
