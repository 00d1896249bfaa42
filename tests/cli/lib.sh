# Shared by the command-line tests: run a command, keep its output and status, assert.
set -u
failures=0
passes=0
pass() { passes=$((passes + 1)); }
fail() { failures=$((failures + 1)); echo "FAIL: $*" >&2; }

# run CMD...: sets $status, $out (stdout) and $err (stderr)
run() {
    local o e
    o=$(mktemp) e=$(mktemp)
    "$@" >"$o" 2>"$e"
    status=$?
    out=$(cat "$o") err=$(cat "$e")
    rm -f "$o" "$e"
}

expect_status() { [ "$status" -eq "$1" ] && pass || fail "expected exit $1, got $status: $2"; }
expect_out() { [ "$out" = "$1" ] && pass || fail "stdout '$out' != '$1' ($2)"; }
expect_out_has() { grep -qF -- "$1" <<<"$out" && pass || fail "stdout lacks '$1' ($2)"; }
# Exactly one line on stderr, containing the given text.
expect_error_line() {
    local lines
    lines=$(printf '%s\n' "$err" | grep -c .)
    [ "$lines" -eq 1 ] && pass || fail "expected one stderr line, got $lines: $err ($2)"
    grep -qF -- "$1" <<<"$err" && pass || fail "stderr '$err' lacks '$1' ($2)"
}

finish() {
    echo "$passes passed, $failures failed"
    [ "$failures" -eq 0 ] && [ "$passes" -gt 0 ]
}

# The start most command-line tests share: a scratch folder $work removed at exit (with any
# background job), one OpenMP thread per process, the build's binaries in $bin.
start_scratch() {
    bin=$PRENAS_BINARY_DIR src=$PRENAS_SOURCE_DIR py=$PRENAS_PYTHON
    work=$(mktemp -d)
    trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
    export OMP_NUM_THREADS=1
}
# fmnist_slice TRAIN VAL TEST [prenas-pack options]: $work/data.h5, the first images of
# Fashion-MNIST's splits (packed to $work/full.h5 first).
fmnist_slice() {
    local sizes=("$1" "$2" "$3")
    shift 3
    "$bin/prenas-pack" --from idx /usr/share/datasets/fashion-mnist "$@" --out "$work/full.h5" >/dev/null
    "$py" "$(dirname "${BASH_SOURCE[0]}")/small_dataset.py" "$work/full.h5" "$work/data.h5" "${sizes[@]}"
}

# term_when_begun TMP CMD...: runs CMD in the background and sends it SIGTERM once TMP exists
# (10 s at most); $status is then its exit status (30 s at most, then it is killed: a failure).
term_when_begun() {
    local tmp=$1 pid
    shift
    "$@" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 200); do
        [ -e "$tmp" ] && break
        sleep 0.05
    done
    [ -e "$tmp" ] && pass || fail "no $tmp after 10 s"
    kill -TERM "$pid"
    for _ in $(seq 600); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        fail "$1: the stage still runs 30 s after SIGTERM"
        kill -KILL "$pid"
    fi
    wait "$pid"
    status=$?
}

# state_step FILE: the training step a checkpoint holds. same_state A B: two checkpoints'
# parameters, optimiser state and step, bit for bit.
state_step() { "$py" -c "import h5py,sys; print(h5py.File(sys.argv[1])['state'].attrs['step'])" "$1"; }
same_state() {
    h5diff "$1" "$2" /params >/dev/null && h5diff "$1" "$2" /optim >/dev/null &&
        [ "$(state_step "$1")" = "$(state_step "$2")" ]
}
# resumed_equals_straight STRAIGHT RESUMED ARG...: prenas-train ARG... for 6 steps into the run
# directory STRAIGHT, and for 3 then 6 into RESUMED (continued from its checkpoint): the two
# checkpoints are equal bit for bit. Leaves $out of the straight run.
resumed_equals_straight() {
    local straight=$1 resumed=$2 straight_out
    shift 2
    run "$bin/prenas-train" "$@" --out "$straight" --steps 6
    expect_status 0 "6 steps"
    straight_out=$out
    run "$bin/prenas-train" "$@" --out "$resumed" --steps 3
    expect_status 0 "3 steps"
    run "$bin/prenas-train" "$@" --out "$resumed" --steps 6
    expect_status 0 "continued to 6"
    expect_out_has "resuming $resumed/supernet.h5 at step 3" "resumed from the checkpoint"
    same_state "$straight/supernet.h5" "$resumed/supernet.h5" && pass ||
        fail "3 + 3 steps differ from 6"
    out=$straight_out
}
# same_over_ranks TWO ONE STEPS [CLOSE]: sets $status and $out (same_over_ranks.py)
same_over_ranks() { run "$py" "$(dirname "${BASH_SOURCE[0]}")/same_over_ranks.py" "$@"; }

# require_gpu PROGRAM: exits 77 (ctest's skip) with the reason unless PROGRAM sees a GPU; the
# tests that call it run where CUDA_VISIBLE_DEVICES is not emptied (label cuda).
require_gpu() {
    unset CUDA_VISIBLE_DEVICES
    if ! "$1" --version | grep -q "device(s)"; then
        echo "skipped: no usable GPU ($("$1" --version | grep '^cuda'))"
        exit 77
    fi
}


# micro_training TRAIN VAL TEST: fmnist_slice, then the micro space's scores and preferred
# architectures; sets $micro, the options of prenas-train on them but --data and --out (batch
# 32, no validation, a log line each step).
micro_training() {
    fmnist_slice "$@"
    "$bin/prenas-score" --config "$src/configs/spaces/micro.cfg" --out "$work/scores.h5" >/dev/null
    "$bin/prenas-select" --in "$work/scores.h5" --out "$work/preferred.h5" >/dev/null
    micro=(--config "$src/configs/spaces/micro.cfg" --recipe "$src/configs/recipes/micro-fmnist.cfg"
           --preferred "$work/preferred.h5" --set batch=32 --set eval.every_epochs=0 --set log.every_steps=1)
}
# only_checkpoints DIR WHAT: a run directory holds checkpoints, supernet.h5 and train.log only
# (no temporary file left behind).
only_checkpoints() {
    local extra
    extra=$(ls "$1" | grep -v -e '^checkpoint-[0-9]*\.h5$' -e '^supernet\.h5$' -e '^train\.log$')
    [ -z "$extra" ] && pass || fail "$2: left behind: $extra"
}
# wait_for FILE: until it exists, for up to 30 s.
wait_for() {
    for _ in $(seq 1500); do [ -e "$1" ] && return; sleep 0.02; done
}
