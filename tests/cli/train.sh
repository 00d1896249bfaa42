#!/bin/bash
# prenas-train as a user meets it, on Fashion-MNIST and the micro space: a resumed run equals
# an uninterrupted one bit for bit (stopped by --steps, and killed with SIGKILL), 2 ranks with
# half the batch each match 1 rank (also with mixup and cutmix), SIGTERM and SIGUSR1 leave a
# complete checkpoint, a full (tiny) recipe ends with the test table, images read from the file
# train as those in memory, the recipe's lr_epoch_lag reaches the schedule, and bad inputs are
# one-line errors.
source "$(dirname "$0")/lib.sh"
bin=$PRENAS_BINARY_DIR
src=$PRENAS_SOURCE_DIR
py=$PRENAS_PYTHON
work=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1

"$bin/prenas-pack" --from idx /usr/share/datasets/fashion-mnist --out "$work/full.h5" >/dev/null
"$py" "$(dirname "$0")/small_dataset.py" "$work/full.h5" "$work/data.h5" 2048 512 512
"$bin/prenas-score" --config "$src/configs/spaces/micro.cfg" --out "$work/scores.h5" >/dev/null
"$bin/prenas-select" --in "$work/scores.h5" --out "$work/preferred.h5" >/dev/null
common=(--config "$src/configs/spaces/micro.cfg" --recipe "$src/configs/recipes/micro-fmnist.cfg"
        --data "$work/data.h5" --preferred "$work/preferred.h5" --set batch=32
        --set checkpoint.every_steps=3 --set eval.every_epochs=0 --set log.every_steps=1)

# 6 steps straight, and 3 + 3 (the run stops at --steps and is continued).
resumed_equals_straight "$work/A" "$work/B" "${common[@]}"
expect_out_has "images in memory" "auto keeps a small dataset in memory"
[ "$(ls "$work/A" | grep -c '^checkpoint-')" -eq 2 ] && pass || fail "two checkpoints kept: $(ls "$work/A")"
mode=$("$py" -c "import h5py,sys; m = h5py.File(sys.argv[1])['meta'].attrs['mode']; print(m.decode() if isinstance(m, bytes) else m)" "$work/A/supernet.h5")
[ "$mode" = balanced ] && pass || fail "/meta/@mode is '$mode', not balanced"

# The images read from the file step by step instead of held in memory: the same 6 steps.
run "$bin/prenas-train" "${common[@]}" --out "$work/K" --steps 6 --images file
expect_status 0 "6 steps, images from the file"
expect_out_has "images read from the file" "streaming announced"
same_state "$work/A/supernet.h5" "$work/K/supernet.h5" && pass || fail "--images file differs from memory"

# Killed without warning after its first checkpoint, then continued.
"$bin/prenas-train" "${common[@]}" --out "$work/C" --steps 300 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 600); do [ -e "$work/C/checkpoint-00000003.h5" ] && break; sleep 0.02; done
kill -9 $pid; wait $pid 2>/dev/null
resumed_at=$(state_step "$work/C/supernet.h5")
run "$bin/prenas-train" "${common[@]}" --out "$work/C" --steps 6
expect_status 0 "continued after SIGKILL (from step $resumed_at)"
same_state "$work/A/supernet.h5" "$work/C/supernet.h5" && pass || fail "SIGKILL + resume differs from 6 steps"


# 2 ranks with 16 images each against 1 rank with 32: the same steps to float rounding.
run mpirun -np 2 --bind-to none "$bin/prenas-train" "${common[@]}" --out "$work/D" --steps 4
expect_status 0 "2 ranks"
run "$bin/prenas-train" "${common[@]}" --out "$work/E" --steps 4
expect_status 0 "1 rank"
same_over_ranks "$work/D" "$work/E" 4
expect_out_has "ok" "2 ranks x 16 = 1 rank x 32 (losses and weights)"

# With mixup and cutmix, in both modes: samples are paired by their place in the global batch,
# and with 7 images a rank the pair (6, 7) has one image on each rank.
for mode in elem batch; do
    mixing=(--set batch=14 --set mix.mixup_alpha=0.8 --set mix.cutmix_alpha=1.0 --set mix.mode=$mode)
    run mpirun -np 2 --bind-to none "$bin/prenas-train" "${common[@]}" "${mixing[@]}" --out "$work/M2$mode" --steps 3
    expect_status 0 "2 ranks, $mode mixing"
    expect_out_has "2 rank(s) x 7 images" "7 images a rank"
    run "$bin/prenas-train" "${common[@]}" "${mixing[@]}" --out "$work/M1$mode" --steps 3
    expect_status 0 "1 rank, $mode mixing"
    same_over_ranks "$work/M2$mode" "$work/M1$mode" 3
    expect_out_has "ok" "2 ranks x 7 = 1 rank x 14 with $mode mixing (losses and weights)"
done

# SIGTERM (a process of its own), SIGUSR1 (through mpirun, as Slurm sends it) and SIGTERM to the
# shared stage runner around mpirun (scripts/stages.sh: mpirun itself would take SIGTERM as an
# abort and exit 1) checkpoint and exit 75.
launch=(mpirun -np 2 --bind-to none)
source "$src/scripts/stages.sh"
for how in single mpi runner; do
    case $how in
    single)
        "$bin/prenas-train" "${common[@]}" --out "$work/F$how" --steps 3000 >"$work/F$how.out" 2>&1 &
        signal=TERM ;;
    mpi)
        mpirun -np 2 --bind-to none "$bin/prenas-train" "${common[@]}" --out "$work/F$how" --steps 3000 >"$work/F$how.out" 2>&1 &
        signal=USR1 ;;
    runner)
        # common[8...]: the --set options
        (stage_train "$src/configs/spaces/micro.cfg" "$src/configs/recipes/micro-fmnist.cfg" "$work/data.h5" \
            "$work/preferred.h5" "$work/F$how" \
            "${common[@]:8}" --steps 3000 >"$work/F$how.out" 2>&1) &
        signal=TERM ;;
    esac
    pid=$!
    for _ in $(seq 600); do
        logged=$(grep -c '^step=' "$work/F$how/train.log" 2>/dev/null)
        [ "${logged:-0}" -ge 5 ] && break
        sleep 0.05
    done
    kill -$signal $pid
    wait $pid
    status=$?
    [ $status -eq 75 ] && pass || fail "SIG$signal ($how): exit $status, not 75: $(grep -v '^epoch' "$work/F$how.out")"
    grep -q "stopped by signal" "$work/F$how.out" && pass || fail "SIG$signal: no message: $(tail -3 "$work/F$how.out")"
    step=$(state_step "$work/F$how/supernet.h5")
    [ "$step" -ge 5 ] && [ "$step" -lt 3000 ] && pass || fail "SIG$signal: checkpoint at step $step"
    run "$bin/prenas-train" "${common[@]}" --out "$work/F$how" --steps $((step + 1))
    expect_status 0 "continued after SIG$signal"
done

# A whole (one-epoch) recipe: per-epoch validation and the preferred subnets' test table.
run "$bin/prenas-train" "${common[@]}" --out "$work/G" --set epochs=1 --set warmup_epochs=0 --set eval.every_epochs=1 \
    --images file
expect_status 0 "one epoch"
expect_out_has "epoch 1: largest subnet val top-1" "validation at the end of the epoch"
expect_out_has "architecture (test split)" "test table"
[ "$(grep -c '^test arch=' "$work/G/train.log")" -eq 4 ] && pass || fail "four test lines in train.log"

# The schedule's one-epoch lag (recipe key lr_epoch_lag) on 64 images, 2 steps an epoch: epoch 1
# of 2 with one warm-up epoch trains at the warm-up rate 1e-4 with the lag, and at the cosine's
# midpoint without it: 1e-5 + (1.25e-4 - 1e-5) / 2 (peak 1e-3 * 32 / 256, min 1e-5).
"$py" "$(dirname "$0")/small_dataset.py" "$work/full.h5" "$work/tiny.h5" 64 64 64
for lag in true false; do
    run "$bin/prenas-train" "${common[@]}" --data "$work/tiny.h5" --out "$work/L$lag" --steps 3 \
        --set epochs=2 --set warmup_epochs=1 --set lr_epoch_lag=$lag
    expect_status 0 "lr_epoch_lag=$lag"
done
grep -q '^step=3 epoch=1 .* lr=0.0001 ' "$work/Ltrue/train.log" && pass ||
    fail "epoch 1 with the lag: $(grep '^step=3 ' "$work/Ltrue/train.log")"
grep -q '^step=3 epoch=1 .* lr=6.75e-05 ' "$work/Lfalse/train.log" && pass ||
    fail "epoch 1 without the lag: $(grep '^step=3 ' "$work/Lfalse/train.log")"

# Bad inputs: exit 2, one line.
run "$bin/prenas-train" "${common[@]}" --out "$work/H" --set epochz=3
expect_status 2 "unknown --set"
expect_error_line "--set epochz: unknown key (expected one of: name, epochs," "unknown --set"
run "$bin/prenas-train" "${common[@]}" --out "$work/H" --images disk
expect_status 2 "a bad --images"
expect_error_line "--images 'disk': expected memory, file or auto" "bad --images"
run env PRENAS_NCCL=yes "$bin/prenas-train" "${common[@]}" --out "$work/H" --steps 1
expect_status 2 "a bad PRENAS_NCCL"
expect_error_line "PRENAS_NCCL 'yes': expected 0 (host-staged MPI), 1 (NCCL, also for one rank) or auto" "bad PRENAS_NCCL"
run env PRENAS_GRAD_BUCKET_BYTES=25MiB "$bin/prenas-train" "${common[@]}" --out "$work/H" --steps 1
expect_status 2 "a bad PRENAS_GRAD_BUCKET_BYTES"
expect_error_line "PRENAS_GRAD_BUCKET_BYTES '25MiB': expected" "bad bucket size"
rm -rf "$work/H"
run "$bin/prenas-train" "${common[@]}" --out "$work/H" --resume
expect_status 2 "--resume without a checkpoint"
expect_error_line "--resume: no checkpoint in $work/H" "--resume without a checkpoint"
run "$bin/prenas-train" --config "$src/configs/spaces/vit-tiny.cfg" --recipe "$src/configs/recipes/micro-fmnist.cfg" \
    --data "$work/data.h5" --preferred "$work/preferred.h5" --out "$work/H"
expect_status 2 "preferred of another space"
expect_error_line "selected in another space" "preferred of another space"
run "$bin/prenas-train" --config "$src/configs/spaces/vit-tiny.cfg" --recipe "$src/configs/recipes/micro-fmnist.cfg" \
    --data "$work/data.h5" --sampling space --out "$work/H"
expect_status 2 "dataset of another shape"
expect_error_line "the dataset has 28x28x1 images in 10 classes, the space expects 224x224x3" "dataset shape"
run "$bin/prenas-train" "${common[@]}" --out "$work/B" --sampling uniform
expect_status 2 "a checkpoint of another sampling"
expect_error_line "trained with --sampling balanced" "sampling mismatch"
mkdir -p "$work/I" && echo garbage >"$work/I/supernet.h5"
run "$bin/prenas-train" "${common[@]}" --out "$work/I"
expect_status 2 "a damaged checkpoint"
expect_error_line "not an HDF5 file, $work/I/supernet.h5" "damaged checkpoint"
run mpirun -np 2 --bind-to none "$bin/prenas-train" "${common[@]}" --out "$work/J" --set batch=33
expect_status 2 "a batch that does not split over the ranks"
grep -qF "does not split over 2 ranks" <<<"$err" && pass || fail "batch split message: $err"
run "$bin/prenas-train" "${common[@]}" --out "$work/J" --set batch=15 --set mix.mixup_alpha=0.8 --steps 1
expect_status 2 "an odd batch with mixing"
expect_error_line "batch: 15 is odd, and mixup/cutmix mix the samples of a batch in pairs" "odd batch"
finish
