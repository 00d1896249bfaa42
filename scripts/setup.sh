#!/bin/bash
# Installs what prenas needs on Debian 12 and builds it; safe to run again (it installs only
# what is missing and rebuilds only what changed).
#   scripts/setup.sh              runtime dependencies, then build/
#   scripts/setup.sh --tests      also what the test suite needs, and build with -Werror
# Environment: BUILD_DIR (default build), ENABLE_CUDA (default ON: used when nvcc exists).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config zlib1g-dev
          libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools
          libconfig-dev libdnnl-dev libcjson-dev libssl-dev libjpeg62-turbo-dev libpng-dev
          dataset-fashion-mnist gnuplot-nox)
werror=OFF
if [ "${1:-}" = "--tests" ]; then
    # python3-torch: the independent gradient oracle (tests/oracle); python3-pil writes the
    # PNG/JPEG files of the predict tests; slurm-wlm and munge: the one-node cluster the slurm
    # tests start themselves (scripts/slurm-local.sh)
    packages+=(python3-h5py python3-numpy python3-torch python3-pil slurm-wlm munge)
    werror=ON
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
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPRENAS_WERROR=$werror \
      -DENABLE_CUDA="${ENABLE_CUDA:-ON}" >"$build.configure.log" 2>&1 \
    || { cat "$build.configure.log" >&2; exit 1; }
grep 'prenas:' "$build.configure.log" || true
cmake --build "$build" -j"$(nproc)"
