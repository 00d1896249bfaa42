#!/bin/bash
# prenas-train when the run directory's file system fails it, on a small tmpfs this test mounts
# (as root; exit 77, ctest's skip, where it cannot): full at a checkpoint, read-only from the
# middle of a run, and read-only at the start. Each ends the run with one line naming the file
# (exit 2) and leaves the last complete checkpoint as it was and no temporary file; once there
# is room again (or the file system is writable) the same command continues from that
# checkpoint and ends with the weights of an uninterrupted run.
source "$(dirname "$0")/lib.sh"
start_scratch
mnt=$work/mnt
mkdir "$mnt"
if ! mount -t tmpfs -o size=64m tmpfs "$mnt" 2>"$work/mount.err"; then
    echo "skipped: cannot mount a tmpfs: $(cat "$work/mount.err")"
    exit 77
fi
trap 'kill -9 $(jobs -p) 2>/dev/null; umount -l "$mnt"; rm -rf "$work"' EXIT
micro_training 256 64 64
common=("${micro[@]}" --data "$work/data.h5" --set checkpoint.every_steps=2)
run "$bin/prenas-train" "${common[@]}" --out "$work/straight" --steps 12
expect_status 0 "12 steps uninterrupted"

# Full: 2 steps fit; then the file system is filled up to half a checkpoint, and the run
# continued: its checkpoint at step 4 does not fit.
full=$mnt/full
run "$bin/prenas-train" "${common[@]}" --out "$full" --steps 2
expect_status 0 "2 steps on the tmpfs"
cp "$full/supernet.h5" "$work/before-full.h5"
free=$(($(stat -f -c '%a * %S' "$mnt")))
fallocate -l $((free - $(stat -c %s "$full/supernet.h5") / 2)) "$mnt/filler"
run "$bin/prenas-train" "${common[@]}" --out "$full" --steps 12
expect_status 2 "a full file system at the checkpoint of step 4"
expect_error_line "cannot write: No space left on device, $full/checkpoint-00000004.h5.tmp; last complete checkpoint: $full/checkpoint-00000002.h5" \
    "a full file system"
cmp -s "$full/supernet.h5" "$work/before-full.h5" && pass || fail "full: the last checkpoint changed"
only_checkpoints "$full" "full"
rm "$mnt/filler"
run "$bin/prenas-train" "${common[@]}" --out "$full" --steps 12
expect_status 0 "continued once there is room: $err"
expect_out_has "resuming $full/supernet.h5 at step 2" "full: continued from the last checkpoint"
same_state "$work/straight/supernet.h5" "$full/supernet.h5" && pass || fail "full: the continued run differs"

# Read-only from the middle of a run: the file system is remounted read-only while the run is
# stopped (SIGSTOP) after its checkpoint at step 4. train.log lives elsewhere (a link): Linux
# refuses to remount read-only a file system with a file open for writing, which the log is.
ro=$mnt/ro
mkdir "$ro"
ln -s "$work/ro-train.log" "$ro/train.log"
"$bin/prenas-train" "${common[@]}" --out "$ro" --steps 400 >"$work/ro.out" 2>"$work/ro.err" &
pid=$!
for _ in $(seq 600); do [ -e "$ro/checkpoint-00000004.h5" ] && break; sleep 0.02; done
# a checkpoint being written at that moment is a file open for writing: let it end
for _ in $(seq 100); do
    kill -STOP $pid
    mount -o remount,ro "$mnt" 2>/dev/null && break
    kill -CONT $pid
    sleep 0.01
done
last=$(state_step "$ro/supernet.h5")
kill -CONT $pid
timeout 120 tail --pid=$pid -f /dev/null
wait $pid
status=$? err=$(cat "$work/ro.err")
expect_status 2 "read-only from step $last"
next=$(printf '%08d' $((last + 2)))
expect_error_line "cannot create the output file: Read-only file system, $ro/checkpoint-$next.h5.tmp; last complete checkpoint: $ro/checkpoint-$(printf '%08d' $last).h5" \
    "read-only from the middle of a run"
# at the start: refused before any training
run "$bin/prenas-train" "${common[@]}" --out "$ro" --steps 12
expect_status 2 "a read-only run directory at the start"
expect_error_line "the output directory is not writable: Read-only file system, $ro" "read-only at the start"
grep -q resuming <<<"$out" && fail "read-only at the start: refused only after loading the checkpoint" || pass
mount -o remount,rw "$mnt"
[ "$(state_step "$ro/supernet.h5")" = "$last" ] && pass || fail "read-only: the last checkpoint changed"
only_checkpoints "$ro" "read-only"
run "$bin/prenas-train" "${common[@]}" --out "$ro" --steps 12
expect_status 0 "continued once writable: $err"
expect_out_has "resuming $ro/supernet.h5 at step $last" "read-only: continued from the last checkpoint"
same_state "$work/straight/supernet.h5" "$ro/supernet.h5" && pass || fail "read-only: the continued run differs"
finish
