#!/bin/bash
# One harness in ctest (tests/fuzz/CMakeLists.txt, docs/fuzzing.md):
#   run.sh replay HARNESS REGRESSIONS SEEDS...
#       every regression input and seed once (replay.c's main)
#   run.sh fuzz SECONDS FOUND HARNESS REGRESSIONS SEEDS...
#       the regression inputs once, then libFuzzer for SECONDS from the seeds, new inputs into
#       FOUND (emptied first: the committed corpus stays as it is), a crash, leak or timeout
#       written as FOUND/../crash-HARNESS-* and failing the test
set -euo pipefail
mode=$1
shift
if [ "$mode" = fuzz ]; then
    seconds=$1 found=$2
    shift 2
fi
# Leaks in the Debian libraries beneath ours (libconfig's among them) are theirs: the suite's
# suppressions (replay under build-asan has them from ctest's environment already)
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(dirname "$0")/../sanitizers/lsan.supp:print_suppressions=0}
harness=$1 regressions=$2
shift 2
inputs=()
for dir in "$regressions" "$@"; do
    [ -d "$dir" ] && for f in "$dir"/*; do [ -f "$f" ] && inputs+=("$f"); done
done
name=$(basename "$harness")
if [ "$mode" = replay ]; then
    [ ${#inputs[@]} -gt 0 ] || { echo "$name: no inputs in $regressions $*" >&2; exit 1; }
    # the harness's own stderr is each input's expected error: kept out of the test's log
    "$harness" "${inputs[@]}" 2>/dev/null
    exit
fi
# libFuzzer runs the files it is given once each when given files (a crash fails at once)
mkdir -p "$(dirname "$found")" # its logs sit beside it
regression_inputs=()
[ -d "$regressions" ] && for f in "$regressions"/*; do [ -f "$f" ] && regression_inputs+=("$f"); done
if [ ${#regression_inputs[@]} -gt 0 ]; then
    "$harness" -runs=1 "${regression_inputs[@]}" 2>"$found.replay.log" ||
        { tail -50 "$found.replay.log"; exit 1; }
fi
rm -rf "$found" && mkdir -p "$found"
seed_dirs=()
for dir in "$@"; do [ -d "$dir" ] && seed_dirs+=("$dir"); done
# -timeout: an input slower than this is a hang; -rss_limit_mb: libFuzzer's default, said
# aloud (a reader that allocates what a header claims before reading it fails here)
"$harness" -seed="${FUZZ_SEED:-1}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$found/../crash-$name-" "$found" "${seed_dirs[@]}" 2>"$found.log" ||
    { tail -60 "$found.log"; exit 1; }
grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "$found.log" || true
