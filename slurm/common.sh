# shellcheck shell=bash disable=SC2034,SC2154 # shared with the sourcing script (root, work, bin, manifest)
# What slurm/pipeline.sh and slurm/sweep.sh share: their options (their usage text lists them)
# and how a stage's job is submitted.
# parse_options ARGS... sets from, pack_opts, dataset, recipe, sets, budgets, ranks,
# sbatch_opts and train_opts, and calls usage on an unknown option.
parse_options() {
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
        *) echo "$(basename "$0"): unknown option '$1'" >&2 && usage ;;
        esac
    done
}

ids=()
# stage NAME OUTPUT UPSTREAM-DONE DEPENDENCY STAMP SCRIPT [sbatch options] -- ARGS...: submits the
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
    [ -z "$deps" ] || opts+=(--dependency="$deps")
    while [ "$1" != -- ]; do opts+=("$1") && shift; done
    shift
    case " ${opts[*]}" in *" --array="*) opts+=(--output="$work/logs/%x-%A_%a.out") ;; esac
    job=$(PRENAS_STAMP=$stamp PRENAS_STAMP_FILE=$stampfile sbatch "${opts[@]}" "$root/slurm/$script" "$@")
    job=${job%%;*} # --parsable prints "id" or "id;cluster"
    ids+=("$job")
    printf '%-20s job %s\n' "$name" "$job"
    echo "stage=$name job=$job output=$output args=$*" >>"$manifest"
}
