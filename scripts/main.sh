#!/bin/bash
# The main job (README): the prenas pipeline on Fashion-MNIST with the micro search space, on
# the CPU with 2 MPI ranks on this machine, from a fresh Debian 12 machine: pack, score,
# select, train, evaluate, specialize, predict. Results go to $PRENAS_WORK (default
# work/fmnist). It builds only the executables it runs, in a build folder it reuses as it is
# (the test command's too), prints the wall time of each stage as it ends, and ends with all the
# stage times, the table of the specialised models (budget, params, MACs, val and test top-1,
# latency, file, architecture) and the Pareto plots of the evaluated subnets.
# The training follows configs/recipes/micro-fmnist-quick.cfg, the recipe sized for the whole
# job in 15 minutes on 2 cores (14 min 25 s after the build on a 2-core AMD EPYC, 90.01 % test
# top-1 for the 0.5M model: docs/benchmarks.md).
#   PRENAS_FAMILY=cnn   its CNN twin (method.md §13): the micro MBConv space
#                       (configs/spaces/cnn-micro.cfg), configs/recipes/cnn-micro-fmnist.cfg,
#                       one model per FLOPs group (2.2M, 4.4M, 6.6M, 11M), in work/fmnist-cnn
#   PRENAS_RECIPE=FILE  another recipe, e.g. configs/recipes/micro-fmnist.cfg (100 epochs)
#   PRENAS_EPOCHS=N     N epochs instead of the recipe's; under 20, 1 warm-up epoch (0 for N = 1)
#   PRENAS_RANKS=R      MPI ranks of score, select, train and evaluate (default 2)
#   PRENAS_WORK=DIR, BUILD_DIR=DIR (default build), OMP_NUM_THREADS (default: cores / ranks)
# Run it again after an interruption: every stage is redone from its inputs except training,
# which continues from its last checkpoint (so other training settings, PRENAS_EPOCHS or
# PRENAS_RECIPE, need another PRENAS_WORK: prenas-train refuses to resume with them). SIGTERM or
# SIGUSR1 to this script stops the training at a checkpoint (exit 75; scripts/stages.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

# The wall time of each stage, printed as it ends and listed again at the end.
lap_names=() lap_seconds=() lap_clock=$SECONDS
lap() { # lap NAME: the stage NAME ends now
    lap_names+=("$1") lap_seconds+=($((SECONDS - lap_clock)))
    lap_clock=$SECONDS
    echo "== $1: ${lap_seconds[-1]} s"
}

scripts/setup.sh prenas-pack prenas-arch prenas-score prenas-select prenas-inspect prenas-train \
    prenas-evaluate prenas-specialize prenas-predict
lap build
bin=${BUILD_DIR:-build}
case ${PRENAS_FAMILY:-vit} in
vit)
    work=${PRENAS_WORK:-work/fmnist} space=configs/spaces/micro.cfg
    recipe=${PRENAS_RECIPE:-configs/recipes/micro-fmnist-quick.cfg}
    budgets=0.2M,0.5M what="0.2M and 0.5M parameters"
    ;;
cnn) # the FLOPs groups of cnn-micro.cfg, each to its upper end (+10 %)
    work=${PRENAS_WORK:-work/fmnist-cnn} space=configs/spaces/cnn-micro.cfg
    recipe=${PRENAS_RECIPE:-configs/recipes/cnn-micro-fmnist.cfg}
    budgets=flops:2.2M,flops:4.4M,flops:6.6M,flops:11M what="each FLOPs group (2.2M to 11M)"
    ;;
*)
    echo "scripts/main.sh: PRENAS_FAMILY is vit or cnn, not '$PRENAS_FAMILY'" >&2
    exit 2
    ;;
esac
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
lap pack

echo "== the search space"
"$bin/prenas-arch" --config "$space"
lap space

echo "== score: one gradient pass of the random supernet ($ranks ranks)"
stage_score "$space" "$work/scores.h5"
lap score

echo "== select: the preferred space"
stage_select "$space" "$work/scores.h5" "$work/preferred.h5"
"$bin/prenas-inspect" "$work/preferred.h5"
lap select

echo "== train: the supernet on the preferred space, $recipe ($ranks ranks)"
epochs=()
if [ -n "${PRENAS_EPOCHS:-}" ]; then
    epochs=(--set "epochs=$PRENAS_EPOCHS")
    # from 20 epochs on the recipe's warm-up; a shorter run warms up for one epoch, or none
    if [ "$PRENAS_EPOCHS" -lt 20 ]; then
        epochs+=(--set "warmup_epochs=$((PRENAS_EPOCHS >= 2 ? 1 : 0))")
    fi
fi
stage_train "$space" "$recipe" "$work/dataset.h5" "$work/preferred.h5" "$work/train" "${epochs[@]}"
lap train

echo "== evaluate: every preferred subnet with its inherited weights, on val (chooses) and test"
for split in val test; do
    stage_evaluate "$work/train/supernet.h5" "$work/dataset.h5" "$split" "$work/eval-$split.h5"
done
lap evaluate

echo "== specialize: standalone models for $what, chosen on val (no search)"
stage_specialize "$work/train/supernet.h5" "$work/dataset.h5" "$work/eval-val.h5" "$budgets" \
    "$work/models" --test "$work/eval-test.h5"
lap specialize

echo "== predict: each model on the test split"
for model in "$work"/models/model-*.h5; do
    stage_predict "$model" "$work/dataset.h5" test "${model%.h5}-test.csv"
done
lap predict

echo
echo "== wall time of each stage"
total=0
for i in "${!lap_names[@]}"; do
    printf '%-12s %6d s\n' "${lap_names[i]}" "${lap_seconds[i]}"
    total=$((total + lap_seconds[i]))
done
printf '%-12s %6d s (%d s after the build)\n' total "$total" "$((total - lap_seconds[0]))"
echo
echo "== the specialised models (chosen on val; test top-1 reported only): $work/models/models.txt"
cat "$work/models/models.txt"
echo
echo "== Pareto plots (top-1 against params and latency): $work/eval-val.png $work/eval-test.png"
