#!/bin/bash
# The sanitizer build's first and last test (ctest fixture `sanitizer_reports`): every
# instrumented process writes its report to DIR/report.<pid> (log_path in the test environment),
# so that a report fails the suite even where a test expects a failure or swallows stderr.
#   reports.sh clear DIR    before the suites: an empty DIR
#   reports.sh check DIR    after them: fails, printing each report, if DIR holds any
set -euo pipefail
dir=$2
case $1 in
clear) rm -rf "$dir" && mkdir -p "$dir" ;;
check)
    reports=("$dir"/report.*)
    [ -e "${reports[0]}" ] || exit 0
    for r in "${reports[@]}"; do
        echo "==== $r"
        cat "$r"
    done
    echo "${#reports[@]} sanitizer report(s) in $dir" >&2
    exit 1
    ;;
*) echo "reports.sh: expected clear or check, got $1" >&2 && exit 2 ;;
esac
