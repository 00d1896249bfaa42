#!/bin/bash
# The test command (README, .ci/run): installs what the suite needs, builds with -Werror, and
# runs every ctest suite; then the same suites again in a second build, build-asan (no CUDA),
# under AddressSanitizer and UndefinedBehaviorSanitizer, where any report fails the run (the
# cli suites that train for minutes are disabled there: tests/CMakeLists.txt)
# (docs/architecture.md, Testing); then build-fuzz, where each libFuzzer harness runs for a few
# seconds (docs/fuzzing.md). Extra arguments go to every ctest run (e.g. -R pack, -L unit).
# A test without a timeout of its own gets 900 s, so that a hang fails the run with its name
# instead of outlasting CI's limit.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure --timeout 900 -j"$(nproc)" "$@"
BUILD_DIR=build-asan ENABLE_CUDA=OFF SANITIZE=address,undefined scripts/setup.sh --tests
ctest --test-dir build-asan --output-on-failure --timeout 900 -j"$(nproc)" "$@"
BUILD_DIR=build-fuzz ENABLE_CUDA=OFF FUZZ=ON scripts/setup.sh --tests fuzz
ctest --test-dir build-fuzz --output-on-failure --timeout 900 -j"$(nproc)" -L fuzz "$@"
