# shellcheck shell=bash disable=SC2154 # bin and launch come from the caller
# How each prenas stage is invoked, once, for the local main job (scripts/main.sh) and the Slurm
# job scripts (slurm/*.sbatch). Sourced, not run. The caller sets:
#   bin      the folder of the prenas-* executables
#   launch   an array: the MPI launcher and its options, e.g. (mpirun -np 2 --bind-to none) or
#            (srun); empty for one process
# Every function takes the stage's paths first and passes any further arguments on to the
# executable.

# prenas_run CMD...: runs CMD in the background and waits for it, so that this shell's traps
# run while it works (bash runs a trap only between commands): SIGTERM and SIGUSR1 are passed on
# to CMD as SIGUSR1. Open MPI's mpirun forwards SIGUSR1 to its ranks but takes SIGTERM as an
# abort of its own and exits 1 whatever the ranks do, while srun forwards both; sending SIGUSR1
# makes a checkpointed stop of prenas-train exit 75 under either launcher. SIGINT too: a command
# started in the background by a non-interactive shell ignores SIGINT, so Ctrl-C would no longer
# reach a stage run without a launcher. Returns CMD's status.
prenas_run() {
    "$@" &
    prenas_child=$!
    trap 'kill -USR1 "$prenas_child" 2>/dev/null' TERM USR1 INT
    local status
    while :; do
        wait "$prenas_child" && status=0 || status=$?
        # above 128: the wait was cut short by a signal (or the command died of one)
        if [ "$status" -le 128 ] || ! kill -0 "$prenas_child" 2>/dev/null; then break; fi
    done
    if [ "$status" -gt 128 ]; then # cut short just as it ended: its own status, unless reaped
        local again=0
        wait "$prenas_child" 2>/dev/null || again=$?
        [ "$again" -eq 127 ] || status=$again
    fi
    trap - TERM USR1 INT
    return "$status"
}

# stage_pack OUT.h5 PACK-OPTIONS... (--from KIND SOURCE, --class-names ...)
stage_pack() {
    local out=$1
    shift
    "$bin/prenas-pack" "$@" --out "$out"
}

# stage_score SPACE.cfg OUT.h5 [options]
stage_score() {
    local space=$1 out=$2
    shift 2
    prenas_run "${launch[@]}" "$bin/prenas-score" --config "$space" --out "$out" "$@"
}

# stage_select SPACE.cfg SCORES.h5 OUT.h5 [options]: the scores of that space (prenas-select
# checks it); for a ViT space also OUT.json (the reference's JSON) and OUT.cfg (the refined
# space) next to OUT.h5, which a CNN selection has not
stage_select() {
    local space=$1 scores=$2 out=$3
    shift 3
    local vit=()
    if [ "$("$bin/prenas-arch" --config "$space" --family)" = vit ]; then
        vit=(--json "${out%.h5}.json" --refined "${out%.h5}.cfg")
    fi
    prenas_run "${launch[@]}" "$bin/prenas-select" --config "$space" --in "$scores" --out "$out" \
        "${vit[@]}" "$@"
}

# stage_train SPACE.cfg RECIPE.cfg DATASET.h5 PREFERRED.h5 RUNDIR [options]
stage_train() {
    local space=$1 recipe=$2 data=$3 preferred=$4 rundir=$5
    shift 5
    prenas_run "${launch[@]}" "$bin/prenas-train" --config "$space" --recipe "$recipe" \
        --data "$data" --preferred "$preferred" --out "$rundir" "$@"
}

# stage_evaluate SUPERNET.h5 DATASET.h5 SPLIT OUT.h5 [options]
stage_evaluate() {
    local supernet=$1 data=$2 split=$3 out=$4
    shift 4
    prenas_run "${launch[@]}" "$bin/prenas-evaluate" --supernet "$supernet" --data "$data" \
        --split "$split" --out "$out" "$@"
}

# stage_specialize SUPERNET.h5 DATASET.h5 EVAL.h5 BUDGETS OUTDIR [options]
stage_specialize() {
    local supernet=$1 data=$2 eval=$3 budgets=$4 outdir=$5
    shift 5
    "$bin/prenas-specialize" --supernet "$supernet" --data "$data" --eval "$eval" \
        --budgets "$budgets" --out-dir "$outdir" "$@"
}

# stage_predict MODEL.h5 DATASET.h5 SPLIT OUT.csv [options]
stage_predict() {
    local model=$1 data=$2 split=$3 out=$4
    shift 4
    "$bin/prenas-predict" --model "$model" --data "$data" --split "$split" --out "$out" "$@"
}
