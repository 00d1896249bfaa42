#!/bin/bash
# The main job (README): the prenas pipeline on Fashion-MNIST with the micro search space, on
# the CPU with 2 MPI ranks on this machine, from a fresh Debian 12 machine: pack, score,
# select, train, evaluate, specialize, predict. Results go to $PRENAS_WORK (default
# work/fmnist). The training follows configs/recipes/micro-fmnist.cfg
# (40 epochs, about 45 minutes on 2 cores); PRENAS_EPOCHS=N trains N epochs instead. Run it
# again after an interruption: every stage is redone from its inputs except training, which
# continues from its last checkpoint. SIGTERM or SIGUSR1 to this script stops the training at a
# checkpoint (exit 75; scripts/stages.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
bin=${BUILD_DIR:-build}
work=${PRENAS_WORK:-work/fmnist}
space=configs/spaces/micro.cfg
ranks=${PRENAS_RANKS:-2}
mkdir -p "$work"
launch=(mpirun -np "$ranks" --bind-to none)
source scripts/stages.sh
if [ "$(id -u)" -eq 0 ]; then # Open MPI refuses root unless told (toolchain.md §3)
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(($(nproc) / ranks > 0 ? $(nproc) / ranks : 1))}

echo "== pack: Fashion-MNIST -> $work/dataset.h5"
stage_pack "$work/dataset.h5" --from idx /usr/share/datasets/fashion-mnist \
    --class-names configs/datasets/fashion-mnist.classes

echo "== the search space"
"$bin/prenas-arch" --config "$space"

echo "== score: one gradient pass of the random supernet ($ranks ranks)"
stage_score "$space" "$work/scores.h5"

echo "== select: the preferred space"
stage_select "$work/scores.h5" "$work/preferred.h5"
"$bin/prenas-inspect" "$work/preferred.h5"

echo "== train: the supernet on the preferred space ($ranks ranks)"
epochs=()
if [ -n "${PRENAS_EPOCHS:-}" ]; then # a shorter run warms up for fewer epochs
    warmup=$((PRENAS_EPOCHS >= 20 ? 2 : PRENAS_EPOCHS >= 2 ? 1 : 0))
    epochs=(--set "epochs=$PRENAS_EPOCHS" --set "warmup_epochs=$warmup")
fi
stage_train "$space" configs/recipes/micro-fmnist.cfg "$work/dataset.h5" "$work/preferred.h5" \
    "$work/train" "${epochs[@]}"

echo "== evaluate: every preferred subnet with its inherited weights, on val (chooses) and test"
for split in val test; do
    stage_evaluate "$work/train/supernet.h5" "$work/dataset.h5" "$split" "$work/eval-$split.h5"
done

echo "== specialize: standalone models for 0.2M and 0.5M parameters, chosen on val (no search)"
stage_specialize "$work/train/supernet.h5" "$work/dataset.h5" "$work/eval-val.h5" 0.2M,0.5M \
    "$work/models"

echo "== predict: each model on the test split"
for model in "$work"/models/model-*.h5; do
    stage_predict "$model" "$work/dataset.h5" test "${model%.h5}-test.csv"
done
