#!/bin/bash
# prenas-train when a process or its data goes away mid-run. One rank of two killed with
# SIGKILL (rank 1, then rank 0, the one that writes checkpoints): mpirun ends the job within a
# bound, the last complete checkpoint is intact, and the same command continues it to the
# weights of an uninterrupted run. The dataset read from the file (--images file) deleted or
# replaced by another file mid-run: the run keeps reading the file it opened and ends as an
# uninterrupted one. Truncated in place: one line naming the dataset, exit 2 (HDF5 would read
# zeros past the file's end, which pass its Fletcher32 checksum), the last checkpoint intact;
# continued once the file is whole again.
source "$(dirname "$0")/lib.sh"
start_scratch
micro_training 2048 64 64
common=("${micro[@]}" --set checkpoint.every_steps=2)

# One rank killed. Open MPI's mpirun sees a rank die, sends the others SIGTERM (which
# prenas-train takes as a request to checkpoint: it cannot, its peer is gone from the
# allreduce it waits in) and SIGKILL 1 s later (odls_base_sigkill_timeout): the job ends about
# 2 s after the kill with mpirun's status 137. The bound asserted, 60 s, only tells that from a
# hang.
mpi=(mpirun -np 2 --bind-to none "$bin/prenas-train" "${common[@]}" --data "$work/data.h5")
run "${mpi[@]}" --out "$work/straight2" --steps 12
expect_status 0 "12 steps on 2 ranks uninterrupted"
for victim in 1 0; do
    dir=$work/rank$victim
    timeout 60 "${mpi[@]}" --out "$dir" --steps 400 >"$dir.out" 2>"$dir.err" &
    job=$!
    wait_for "$dir/checkpoint-00000004.h5"
    for pid in $(pgrep -f -- "--out $dir --steps 400"); do
        grep -qz "^OMPI_COMM_WORLD_RANK=$victim\$" "/proc/$pid/environ" 2>/dev/null && kill -9 $pid
    done
    wait $job
    status=$? err=$(cat "$dir.err")
    [ $status -ne 124 ] && pass || fail "rank $victim killed: the job still ran after 60 s"
    expect_status 137 "rank $victim killed: mpirun's status"
    grep -q "rank $victim with PID .* exited on signal 9 (Killed)" <<<"$err" && pass ||
        fail "rank $victim killed: mpirun's report: $err"
    step=$(state_step "$dir/supernet.h5")
    [ "$step" -ge 4 ] && [ "$step" -lt 400 ] && pass || fail "rank $victim killed: checkpoint at step $step"
    run "${mpi[@]}" --out "$dir" --steps 12
    expect_status 0 "rank $victim killed, continued: $err"
    expect_out_has "resuming $dir/supernet.h5 at step $step" "rank $victim killed: continued from the last checkpoint"
    same_state "$work/straight2/supernet.h5" "$dir/supernet.h5" && pass ||
        fail "rank $victim killed: the continued run differs from the uninterrupted one"
    only_checkpoints "$dir" "rank $victim killed"
done

# The dataset, as prenas-pack writes it: images in checksummed chunks (16 images each, so that
# a run has read only some of them when the file changes).
"$py" "$(dirname "$0")/chunked_dataset.py" "$work/data.h5" "$work/chunked.h5"
file=(--images file --steps 12)
run "$bin/prenas-train" "${common[@]}" --data "$work/chunked.h5" --out "$work/straight" "${file[@]}"
expect_status 0 "12 steps uninterrupted, images from the file"
for change in deleted replaced truncated; do
    dir=$work/$change data=$work/$change.h5
    cp "$work/chunked.h5" "$data"
    "$bin/prenas-train" "${common[@]}" --data "$data" --out "$dir" "${file[@]}" >"$dir.out" 2>"$dir.err" &
    pid=$!
    wait_for "$dir/checkpoint-00000002.h5"
    case $change in
    deleted) rm "$data" ;;
    replaced) cp "$work/data.h5" "$data.new" && mv "$data.new" "$data" ;; # other bytes, same images
    truncated) truncate -s 64K "$data" ;; # zeros past the end pass the Fletcher32 checksum
    esac
    timeout 120 tail --pid=$pid -f /dev/null
    wait $pid
    status=$? err=$(cat "$dir.err")
    case $change in
    deleted | replaced)
        expect_status 0 "the dataset $change mid-run: $err"
        same_state "$work/straight/supernet.h5" "$dir/supernet.h5" && pass ||
            fail "the dataset $change mid-run: the run differs from the uninterrupted one" ;;
    truncated)
        expect_status 2 "the dataset truncated mid-run"
        expect_error_line "the file was truncated while being read (it must stay as it is until the run ends; deleting it or renaming another file to its name is safe), $data" \
            "the dataset truncated mid-run"
        step=$(state_step "$dir/supernet.h5")
        only_checkpoints "$dir" "the dataset truncated"
        cp "$work/chunked.h5" "$data"
        run "$bin/prenas-train" "${common[@]}" --data "$data" --out "$dir" "${file[@]}"
        expect_status 0 "the dataset whole again: $err"
        expect_out_has "resuming $dir/supernet.h5 at step $step" "the dataset whole again: continued"
        same_state "$work/straight/supernet.h5" "$dir/supernet.h5" && pass ||
            fail "the dataset truncated, then whole again: the continued run differs" ;;
    esac
done
finish
