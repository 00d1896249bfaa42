#!/bin/bash
# The test command (README, .ci/run): installs what the suite needs, builds with -Werror, and
# runs every ctest suite. Extra arguments go to ctest (e.g. -R pack, -L unit).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j"$(nproc)" "$@"
