#!/bin/bash
# Training-step throughput of prenas's CPU engine against PyTorch (bench/torch_step.py), same
# subnet, batch and step, measured one after the other on this machine:
#   (i)  the PreNAS-Ti subnet (golden Tiny "6.0" candidate), 224/16, batch 8, 1000 classes
#   (ii) the largest micro-space subnet, batch 128
# PyTorch runs twice: as installed (Debian's torch uses the system BLAS, OpenBLAS, which
# picks generic kernels on CPUs it does not recognise), and with OPENBLAS_CORETYPE=SkylakeX
# when the CPU has AVX-512 and the environment does not set a core type itself.
# usage: bench/step-vs-torch.sh [BUILD_DIR]      (threads: OMP_NUM_THREADS, default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
python=/usr/bin/python3
tiny_arch=192:12:4,4,4,4,3,3,3,3,3,4,3,4:4,4,4,4,4,3.5,3.5,4,4,3.5,4,4
cases=("i vit-tiny $tiny_arch 8 5" "ii micro - 128 5")

rate() { grep -o 'img_per_s=[0-9.]*' | tail -1 | cut -d= -f2; }
tuned_torch=()
if grep -qw avx512f /proc/cpuinfo && [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    tuned_torch=(env OPENBLAS_CORETYPE=SkylakeX)
fi

printf '%-4s %-9s %-7s %12s %14s %10s' case space batch prenas torch ratio
[ ${#tuned_torch[@]} -gt 0 ] && printf ' %16s %10s' torch-SkylakeX ratio
printf '\n'
for c in "${cases[@]}"; do
    read -r name space arch batch steps <<<"$c"
    arch_args=()
    [ "$arch" != - ] && arch_args=(--arch "$arch")
    ours=$("$build/prenas-bench-step" --config "configs/spaces/$space.cfg" "${arch_args[@]}" \
        --batch "$batch" --steps "$steps" | rate)
    theirs=$($python bench/torch_step.py --config "configs/spaces/$space.cfg" "${arch_args[@]}" \
        --batch "$batch" --steps "$steps" --threads "$OMP_NUM_THREADS" | rate)
    printf '%-4s %-9s %-7s %12s %14s %9.2fx' "$name" "$space" "$batch" "$ours" "$theirs" \
        "$(echo "$ours / $theirs" | bc -l)"
    if [ ${#tuned_torch[@]} -gt 0 ]; then
        tuned=$("${tuned_torch[@]}" $python bench/torch_step.py --config "configs/spaces/$space.cfg" \
            "${arch_args[@]}" --batch "$batch" --steps "$steps" --threads "$OMP_NUM_THREADS" | rate)
        printf ' %16s %9.2fx' "$tuned" "$(echo "$ours / $tuned" | bc -l)"
    fi
    printf '\n'
done
echo "(img/s of training steps: forward, loss, backward, AdamW over the whole supernet)"
