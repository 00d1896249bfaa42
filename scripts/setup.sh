#!/bin/bash
# Installs what prenas needs on Debian 12 and builds it; safe to run again (it installs only
# what is missing and rebuilds only what changed).
#   scripts/setup.sh              runtime dependencies, then every target in build/
#   scripts/setup.sh TARGET...    runtime dependencies, then only these targets (scripts/main.sh)
#   scripts/setup.sh --tests      also what the test suite needs, and build with -Werror
# A build folder keeps the options it was configured with: only --tests switches -Werror on,
# and nothing switches it off, so that the main job after the test command reuses the test
# build instead of recompiling the tree with other flags.
# Environment: BUILD_DIR (default build), ENABLE_CUDA (ON or OFF; default: the build folder's
# setting, ON in a new one: the CUDA backend is built when nvcc exists), SANITIZE (for
# -DPRENAS_SANITIZE, e.g. address,undefined, with ENABLE_CUDA=OFF: scripts/test.sh's second build),
# FUZZ=ON (-DPRENAS_FUZZ=ON with clang and ENABLE_CUDA=OFF: the libFuzzer harnesses, the third).
set -euo pipefail
cd "$(dirname "$0")/.."

tests=false targets=()
for arg in "$@"; do
    case $arg in
    --tests) tests=true ;;
    -*) echo "setup: unknown option $arg (expected --tests or target names)" >&2 && exit 2 ;;
    *) targets+=("$arg") ;;
    esac
done

packages=(build-essential cmake pkg-config zlib1g-dev
          libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools
          libconfig-dev libdnnl-dev libcjson-dev libssl-dev libjpeg62-turbo-dev libpng-dev
          dataset-fashion-mnist gnuplot-nox)
if $tests; then
    # python3-torch: the independent gradient oracle (tests/oracle); python3-pil writes the
    # PNG/JPEG files of the predict tests; slurm-wlm and munge: the one-node cluster the slurm
    # tests start themselves (scripts/slurm-local.sh)
    # clang, libclang-rt-14-dev, libomp-14-dev and llvm: libFuzzer, its sanitizers, clang's
    # OpenMP and llvm-symbolizer (function names in reports, which lsan.supp matches)
    # (the fuzz build, docs/fuzzing.md)
    packages+=(python3-h5py python3-numpy python3-torch python3-pil slurm-wlm munge
               clang libclang-rt-14-dev libomp-14-dev llvm)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "setup: run as root or install: ${missing[*]}" >&2; exit 1; }
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update -q
    # through env: sudo's env_reset would drop DEBIAN_FRONTEND, and apt would ask on a terminal
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${missing[@]}"
fi

build=${BUILD_DIR:-build}
# only the options asked for: any other -D would overwrite the folder's cached value
options=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if $tests; then options+=(-DPRENAS_WERROR=ON); fi
if [ -n "${ENABLE_CUDA:-}" ]; then options+=(-DENABLE_CUDA="$ENABLE_CUDA"); fi
if [ -n "${SANITIZE:-}" ]; then options+=(-DPRENAS_SANITIZE="$SANITIZE"); fi
# CC is read when a build folder is first configured only: a later run keeps its compiler
if [ "${FUZZ:-}" = ON ]; then options+=(-DPRENAS_FUZZ=ON) && export CC=clang; fi
cmake -S . -B "$build" "${options[@]}" >"$build.configure.log" 2>&1 \
    || { cat "$build.configure.log" >&2; exit 1; }
grep 'prenas:' "$build.configure.log" || true
if [ ${#targets[@]} -gt 0 ]; then
    cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"
else
    cmake --build "$build" -j"$(nproc)"
fi
