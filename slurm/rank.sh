#!/bin/bash
# One rank of a stage (started by srun or mpirun, slurm/lib.sh): one GPU per rank, chosen by the
# rank's place on its node (SLURM_LOCALID, or Open MPI's local rank) among the GPUs the job
# may use, then the stage itself.
set -euo pipefail
local_rank=${OMPI_COMM_WORLD_LOCAL_RANK:-${SLURM_LOCALID:-0}}
if [ -n "${CUDA_VISIBLE_DEVICES:-}" ] && [[ $CUDA_VISIBLE_DEVICES == *,* ]]; then
    IFS=, read -r -a gpus <<<"$CUDA_VISIBLE_DEVICES"
    export CUDA_VISIBLE_DEVICES=${gpus[local_rank % ${#gpus[@]}]}
fi
exec "$@"
