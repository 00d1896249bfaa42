#!/bin/bash
# prenas-train killed with SIGKILL at 20 random moments (PRENAS_KILL_TRIALS; 6 in the sanitizer
# build) of a short run (a checkpoint every step, so that many land while a checkpoint is
# written or right after its rename), each followed by
# a resume: every resumed run ends with the weights and optimiser state of an uninterrupted
# run, bit for bit, and leaves no temporary file. The moments are drawn from a printed seed:
# PRENAS_TEST_SEED=<seed> draws them again (the kill itself races the run, so a replay lands
# close to, not exactly on, the same instruction).
source "$(dirname "$0")/lib.sh"
start_scratch
micro_training 256 64 64
common=("${micro[@]}" --data "$work/data.h5" --set checkpoint.every_steps=1 --steps 8)

run "$bin/prenas-train" "${common[@]}" --out "$work/straight"
expect_status 0 "8 steps uninterrupted"

seed=${PRENAS_TEST_SEED:-$((RANDOM * 32768 + RANDOM))}
echo "seed $seed (PRENAS_TEST_SEED=$seed draws these moments again)"
RANDOM=$seed
declare -A landed=()
trials=${PRENAS_KILL_TRIALS:-20}
for trial in $(seq "$trials"); do
    dir=$work/kill$trial
    case $((RANDOM % 3)) in
    0) moment=(delay "$(printf '0.%03d' $((RANDOM % 1000)))") ;;
    1) moment=(write $((1 + RANDOM % 7))) ;;
    2) moment=(renamed $((1 + RANDOM % 7))) ;;
    esac
    "$bin/prenas-train" "${common[@]}" --out "$dir" >"$dir.out" 2>&1 &
    pid=$!
    where=$("$py" "$(dirname "$0")/kill_at.py" $pid "$dir" "${moment[@]}")
    wait $pid
    killed=$?
    landed[$where]=$((${landed[$where]:-0} + 1))
    echo "trial $trial: ${moment[*]} -> $where (exit $killed)"
    [ "$where" = exited ] || [ $killed -eq 137 ] || fail "trial $trial: exit $killed, not 137 (SIGKILL)"
    run "$bin/prenas-train" "${common[@]}" --out "$dir"
    expect_status 0 "trial $trial (${moment[*]}, $where): the resume: $err"
    # /optim holds AdamW's step: equal state at the same step (same_state, without its Python)
    h5diff "$work/straight/supernet.h5" "$dir/supernet.h5" /params >/dev/null &&
        h5diff "$work/straight/supernet.h5" "$dir/supernet.h5" /optim >/dev/null && pass ||
        fail "trial $trial (${moment[*]}, $where): the resumed run differs from the uninterrupted one"
    leftovers=$(ls "$dir" | grep -v -e '^checkpoint-0000000[78]\.h5$' -e '^supernet\.h5$' -e '^train\.log$')
    [ -z "$leftovers" ] && pass || fail "trial $trial (${moment[*]}, $where): left behind: $leftovers"
done
echo "landed: $(for k in "${!landed[@]}"; do printf '%s %s, ' "$k" "${landed[$k]}"; done)"
# the moments the test is for, reached (a kill in the write is the rarest: a few per 20 trials,
# so fewer trials do not promise one)
if [ "$trials" -ge 20 ]; then
    [ "${landed[write]:-0}" -ge 1 ] && pass || fail "no kill landed in a checkpoint write"
    [ "${landed[renamed]:-0}" -ge 1 ] && pass || fail "no kill landed between a rename and supernet.h5"
fi
finish
