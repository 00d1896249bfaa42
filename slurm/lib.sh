# shellcheck shell=bash disable=SC2034,SC1091 # bin and launch are read by scripts/stages.sh
# Sourced by every slurm/*.sbatch script: the environment of a prenas stage inside a Slurm job.
# sbatch runs a copy of the script from its spool folder, so the checkout is found through
# PRENAS_ROOT (slurm/pipeline.sh exports it), else the folder sbatch was called from.
#   PRENAS_ROOT      the prenas checkout (default: $SLURM_SUBMIT_DIR)
#   PRENAS_BIN       the executables (default: $PRENAS_ROOT/build)
#   PRENAS_LAUNCHER  srun (default: srun --mpi=$PRENAS_SRUN_MPI, pmix by default) or mpirun
#                    (Open MPI's mpirun inside the allocation: it reads the ranks from Slurm)
#   PRENAS_STAMP, PRENAS_STAMP_FILE  written on success (slurm/pipeline.sh's resume check)
root=${PRENAS_ROOT:-${SLURM_SUBMIT_DIR:-.}}
bin=${PRENAS_BIN:-$root/build}
source "$root/scripts/stages.sh"

case ${PRENAS_LAUNCHER:-srun} in
srun) launch=(srun --mpi="${PRENAS_SRUN_MPI:-pmix}" "$root/slurm/rank.sh") ;;
mpirun)
    # Debian's Open MPI refuses root unless told; --bind-to none leaves the OpenMP threads of a
    # rank its cores (mpirun binds each rank to one core by default)
    if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
    launch=(mpirun --bind-to none "$root/slurm/rank.sh") ;;
*)
    echo "slurm/lib.sh: PRENAS_LAUNCHER is '$PRENAS_LAUNCHER', not srun or mpirun" >&2
    exit 2 ;;
esac
# A task of a sweep's job array (slurm/sweep.sh): line SLURM_ARRAY_TASK_ID + 1 of
# PRENAS_SWEEP_LIST is "SPACE.cfg WORKDIR"; @SPACE@ and @WORK@ in the arguments and the stamp
# path stand for them.
if [ -n "${SLURM_ARRAY_TASK_ID:-}" ] && [ -n "${PRENAS_SWEEP_LIST:-}" ]; then
    read -r sweep_space sweep_work < <(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" "$PRENAS_SWEEP_LIST")
    sweep_args=()
    for a in "$@"; do
        a=${a//@SPACE@/$sweep_space}
        sweep_args+=("${a//@WORK@/$sweep_work}")
    done
    set -- "${sweep_args[@]}"
    PRENAS_STAMP_FILE=${PRENAS_STAMP_FILE//@WORK@/$sweep_work}
    mkdir -p "$sweep_work"
    echo "== sweep task $SLURM_ARRAY_TASK_ID: $sweep_space -> $sweep_work"
fi
# CPU threads per rank: what the job asked for per task
export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-${OMP_NUM_THREADS:-1}}

echo "== $SLURM_JOB_NAME: job $SLURM_JOB_ID on $(hostname -s), $SLURM_NTASKS tasks," \
    "restart ${SLURM_RESTART_COUNT:-0}, $(date -u +%FT%TZ)"

# stage_done: records that the stage finished with these inputs (read by slurm/pipeline.sh)
stage_done() {
    if [ -n "${PRENAS_STAMP_FILE:-}" ]; then
        mkdir -p "$(dirname "$PRENAS_STAMP_FILE")"
        printf '%s\n' "${PRENAS_STAMP:-}" >"$PRENAS_STAMP_FILE"
    fi
}
