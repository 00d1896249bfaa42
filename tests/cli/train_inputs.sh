#!/bin/bash
# prenas-train's inputs as a user may get them wrong: a run resumed with other settings than it
# started with is refused with one line naming the checkpoint, the setting and both values
# (every kind: recipe key, --set, seed, data, architectures, sampling; the space has its own
# message), while --steps, the rank count, the recipe's checkpoint/eval/log keys and --images may
# change; and an image chunk that is corrupt on disk ends a streamed run on every rank with one
# line (no MPI_ABORT banner, no hang).
source "$(dirname "$0")/lib.sh"
start_scratch
fmnist_slice 256 64 64
"$py" "$(dirname "$0")/small_dataset.py" "$work/full.h5" "$work/other.h5" 1280 64 64
cp "$work/data.h5" "$work/copy.h5"
"$bin/prenas-score" --config "$src/configs/spaces/micro.cfg" --out "$work/scores.h5" >/dev/null
"$bin/prenas-select" --in "$work/scores.h5" --out "$work/preferred.h5" >/dev/null
recipe=(--config "$src/configs/spaces/micro.cfg" --recipe "$src/configs/recipes/micro-fmnist.cfg"
        --set batch=64 --set eval.every_epochs=0 --set log.every_steps=1)
common=("${recipe[@]}" --data "$work/data.h5" --preferred "$work/preferred.h5")
ckpt=$work/R/supernet.h5

run "$bin/prenas-train" "${common[@]}" --out "$work/R" --steps 2
expect_status 0 "2 steps"

# refused: each kind, one line, exit 2, the checkpoint named
refused() { # WHAT TEXT ARGS...
    local what=$1 text=$2
    shift 2
    run "$bin/prenas-train" "$@" --out "$work/R" --steps 3
    expect_status 2 "$what"
    expect_error_line "$text" "$what"
    grep -qF ", $ckpt" <<<"$err" && pass || fail "$what: the checkpoint not named: $err"
}
refused "another seed" "trained with --seed 0, this run has --seed 5" "${common[@]}" --seed 5
refused "a recipe key by --set" "trained with the recipe's epochs = 100, this run has epochs = 101" \
    "${common[@]}" --set epochs=101
refused "a changed batch" "the recipe's batch = 64, this run has batch = 32" "${common[@]}" --set batch=32
refused "a recipe key of the file" "the recipe's augment.flip = true, this run has augment.flip = false" \
    "${common[@]}" --set augment.flip=false
refused "other data of the same shape" "trained with --data $work/data.h5 (dataset " \
    "${recipe[@]}" --data "$work/other.h5" --preferred "$work/preferred.h5"
refused "another sampling" "trained with --sampling balanced, this run has --sampling uniform" \
    "${common[@]}" --sampling uniform
# a fixed architecture (another --preferred list is refused alike, or as another supernet when
# its refined space differs)
fixed=("${recipe[@]}" --data "$work/data.h5" --sampling fixed --out "$work/Fix")
run "$bin/prenas-train" "${fixed[@]}" --arch 48:4:3,3,3,3:3,3,3,3 --steps 1
expect_status 0 "1 step of a fixed architecture"
run "$bin/prenas-train" "${fixed[@]}" --arch 64:4:3,3,3,3:3,3,3,3 --steps 2
expect_status 2 "another --arch"
expect_error_line "trained with --arch architecture 1 of 1 48:4:3,3,3,3:3,3,3,3, this run has --arch architecture 1 of 1 64:4:3,3,3,3:3,3,3,3" \
    "another --arch"
# the resume leaves the checkpoint as it was
[ "$(state_step "$ckpt")" = 2 ] && pass || fail "a refused resume moved the checkpoint"

# allowed: the same data under another path, more steps, 2 ranks, other intervals, --images
run mpirun -np 2 --bind-to none "$bin/prenas-train" "${recipe[@]}" --data "$work/copy.h5" \
    --preferred "$work/preferred.h5" --out "$work/R" --steps 3 --set checkpoint.every_steps=7 \
    --set log.every_steps=2 --images file
expect_status 0 "resumed with a copy of the data, 2 ranks, other intervals, --images file: $err"
expect_out_has "resuming $ckpt at step 2" "resumed"

# A corrupt chunk of the training images, read from the file by 2 ranks: one line, exit 2.
"$py" "$(dirname "$0")/chunked_dataset.py" "$work/data.h5" "$work/corrupt.h5" 5
run timeout 300 mpirun -np 2 --bind-to none "$bin/prenas-train" "${recipe[@]}" --data "$work/corrupt.h5" \
    --sampling space --out "$work/X" --steps 8 --images file
expect_status 2 "a corrupt chunk read by 2 ranks"
# mpirun adds its own note that a rank exited with status 2; prenas says one line, no abort
[ "$(grep -c '^prenas-train' <<<"$err")" -eq 1 ] && pass || fail "not one line from prenas: $err"
grep -qF "dataset 'train/images' cannot be read (corrupt: checksum mismatch or truncated data), $work/corrupt.h5" \
    <<<"$err" && pass || fail "the corrupt chunk's message: $err"
grep -q "MPI_ABORT" <<<"$err" && fail "MPI_ABORT banner: $err" || pass
[ ! -e "$work/X/supernet.h5" ] && pass || fail "a checkpoint was written after the corrupt read"
finish
