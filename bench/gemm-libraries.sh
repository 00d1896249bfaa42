#!/bin/bash
# Compares OpenBLAS and oneDNN sgemm on this machine (docs/benchmarks.md, "CPU GEMM").
# OpenBLAS runs as the environment configures it, and, when the CPU has AVX-512 and
# OPENBLAS_CORETYPE is unset, once more with OPENBLAS_CORETYPE=SkylakeX.
# Needs libopenblas-dev (not a prenas dependency): apt-get install libopenblas-dev
set -euo pipefail
cd "$(dirname "$0")"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gcc -O2 -fopenmp gemm-libraries.c -o "$out/gemm-libraries" -I/usr/include/x86_64-linux-gnu \
    -lopenblas -ldnnl
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
"$out/gemm-libraries"
if grep -qw avx512f /proc/cpuinfo && [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    echo "--- with OPENBLAS_CORETYPE=SkylakeX"
    OPENBLAS_CORETYPE=SkylakeX "$out/gemm-libraries"
fi
