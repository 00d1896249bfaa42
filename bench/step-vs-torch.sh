#!/bin/bash
# Training-step throughput of prenas's CPU engine against PyTorch, in fp32 and in bf16, all in
# one run on this machine, with the same subnet, batch and step in both programs:
#   (i)  the PreNAS-Ti subnet (golden Tiny "6.0" candidate), 224/16, batch 8, 1000 classes
#   (ii) the largest micro-space subnet, batch 128
# One training step = forward, soft-target loss (label smoothing 0.1), backward, AdamW over every
# tensor of the supernet, on random images; each run times --steps steps after 2 warm-up steps.
#
# usage: bench/step-vs-torch.sh [--steps N] [--baseline BUILD_DIR [--pairs P]] [BUILD_DIR]
#        bench/step-vs-torch.sh --help      (this text)
#   BUILD_DIR        the build whose prenas-bench-step is measured (default build)
#   --steps N        measured steps of every run (default 5, at least 3)
#   --baseline DIR   also DIR/prenas-bench-step (say, a build of the previous commit from a git
#                    worktree), run alternately with BUILD_DIR's, pair by pair
#   --pairs P        runs of each prenas measurement (default 1); with P > 1 every prenas figure
#                    is the median of P and the ratio the median of the P pairs' ratios
# Threads: OMP_NUM_THREADS (default 2), for both programs. The report goes to stdout, progress
# (with seconds since the start) to stderr. Time: 1 min 34 s with --baseline --pairs 2 on an
# idle 2-core AMD EPYC (docs/benchmarks.md); several times that on a loaded machine. PyTorch's Tiny runs take most of it; --steps 3 shortens them.
#
# The table, for each case at fp32 and at bf16 (prenas-bench-step --device cpu --precision P):
#   img/s, GFLOP/s   training images per second; model GFLOP/s = 6 x MACs per image x img/s
#   ceiling, share   the GEMM rate of the same precision that the same process measured (sgemm
#                    2048^3 at fp32, the bf16 GEMM 2048^3 at bf16), and GFLOP/s as a share of it
#   baseline, x      the baseline's img/s and this build's img/s over it
#   torch, x         bench/torch_step.py in Debian's python3-torch (1.13): fp32, and bf16 as its
#                    CPU autocast (--mode amp-bf16); prenas's img/s over PyTorch's
#   bf16/fp32        each program's bf16 img/s over its own fp32 img/s
# A run that fails or falls back (prenas on a CPU without AVX512-BF16 runs fp32 and says so) is
# marked in its cell and told below the table.
#
# A fair PyTorch: Debian's torch multiplies fp32 through whatever libblas.so.3 the alternatives
# system points to, the reference BLAS on a fresh machine (4-11x slower). This script installs
# libopenblas0-pthread (and python3-torch) when missing, as root or through sudo; Debian then
# makes OpenBLAS the system's libblas.so.3 unless that choice was set by hand. If libblas.so.3
# still resolves elsewhere, OpenBLAS is preloaded for PyTorch's runs alone (LD_PRELOAD): the
# system's choice is left as it is. On a CPU with AVX-512, unless the environment sets them,
# PyTorch's runs also get ATEN_CPU_CAPABILITY=avx512 (torch 1.13's own kernels stop at AVX2 by
# default; softmax is a third faster with it) and, when OpenBLAS's own choice of core has no
# AVX-512 kernels (a CPU newer than the library), OPENBLAS_CORETYPE=SkylakeX. The report says
# which library's sgemm_ PyTorch called, the OpenBLAS core whose kernels ran and torch's kernel
# level, as the libraries report them from inside the PyTorch process.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/vs-torch-lib.sh

usage() {
    echo "usage: $0 [--steps N] [--baseline BUILD_DIR [--pairs P]] [BUILD_DIR]" >&2
    exit 2
}
build=build baseline='' steps=5 pairs=1
while [ $# -gt 0 ]; do
    case $1 in
    --steps | --baseline | --pairs)
        [ $# -ge 2 ] || usage
        case $1 in
        --steps) steps=$2 ;;
        --baseline) baseline=$2 ;;
        --pairs) pairs=$2 ;;
        esac
        shift 2
        ;;
    -h | --help)
        print_help "$0"
        exit 0
        ;;
    -*) usage ;;
    *)
        build=$1
        shift
        ;;
    esac
done
check_runs "$steps" "$pairs" prenas-bench-step "$build" ${baseline:+"$baseline"}

torch_env_setup

tiny_arch=192:12:4,4,4,4,3,3,3,3,3,4,3,4:4,4,4,4,4,3.5,3.5,4,4,3.5,4,4
cases=("(i) vit-tiny $tiny_arch 8" "(ii) micro - 128") # name, space, subnet (- = largest), batch
labels=([0]="(i) PreNAS-Ti, batch 8" [1]="(ii) micro largest, batch 128")
precisions=(fp32 bf16)
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# field FILE: a figure of one prenas-bench-step output, empty where the run gave none (img_of,
# why_failed, median and ratio: bench/vs-torch-lib.sh)
gflops_of() { sed -n 's/^train [0-9.]* img\/s, \([0-9.]*\) GFLOP\/s;.*/\1/p' "$1"; }
ceiling_of() { sed -n 's/^gemm [0-9]*^3 on this device now: \([0-9.]*\) GFLOP\/s.*/\1/p' "$1"; }
device_of() { sed -n 's/^device \([^;]*\);.*/\1/p' "$1"; }
share() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b > 0) printf "%.0f%%", 100 * a / b }'; }
progress() { echo "step-vs-torch: [${SECONDS} s] $*" >&2; }

bench_step() { # WHO BUILD OUT: a run of BUILD's prenas-bench-step on the loop's case and
    # precision into OUT (stderr: OUT.err); a failure or a fallback becomes a note, and a
    # fallback of this build (WHO = prenas) marks its figure
    progress "$name $prec: $1, run $p of $pairs"
    "$2/prenas-bench-step" --config "configs/spaces/$space.cfg" "${arch_args[@]}" \
        --batch "$batch" --steps "$steps" --device cpu --precision "$prec" >"$3" 2>"$3.err" || true
    if [ -z "$(img_of "$3")" ]; then
        notes+=("$name $prec: $1 failed: $(why_failed "$3")")
    elif [ "$(device_of "$3")" != "cpu, $prec" ]; then
        notes+=("$name $prec: $1 ran on $(device_of "$3")")
        [ "$1" != prenas ] || fell_back[$i/$prec]='*'
    fi
}

declare -A cur_img=() cur_gflops=() cur_ceiling=() base_img=() pair_ratio=() torch_img=() fell_back=()
notes=()
for i in "${!cases[@]}"; do
    read -r name space arch batch <<<"${cases[$i]}"
    arch_args=()
    [ "$arch" != - ] && arch_args=(--arch "$arch")
    for prec in "${precisions[@]}"; do
        key=$i/$prec
        imgs='' gfs='' ceils='' bases='' ratios=''
        for ((p = 1; p <= pairs; p++)); do
            out=$logs/$i-$prec-$p
            bench_step prenas "$build" "$out.cur"
            img=$(img_of "$out.cur")
            imgs+="$img"$'\n' gfs+="$(gflops_of "$out.cur")"$'\n' ceils+="$(ceiling_of "$out.cur")"$'\n'
            [ -n "$baseline" ] || continue
            bench_step baseline "$baseline" "$out.base"
            base=$(img_of "$out.base")
            bases+="$base"$'\n' ratios+="$(ratio "$img" "$base" | tr -d x)"$'\n'
        done
        cur_img[$key]=$(median <<<"$imgs") cur_gflops[$key]=$(median <<<"$gfs")
        cur_ceiling[$key]=$(median <<<"$ceils") base_img[$key]=$(median <<<"$bases")
        pair_ratio[$key]=$(median <<<"$ratios")
    done
    progress "$name: PyTorch fp32 and amp-bf16"
    "${torch_env[@]}" "$python" bench/torch_step.py --config "configs/spaces/$space.cfg" \
        "${arch_args[@]}" --batch "$batch" --steps "$steps" --threads "$OMP_NUM_THREADS" \
        --mode fp32,amp-bf16 >"$logs/$i-torch" 2>"$logs/$i-torch.err" || true
    for prec in "${precisions[@]}"; do
        mode=$prec
        [ "$prec" = bf16 ] && mode=amp-bf16
        torch_img[$i/$prec]=$(sed -n "s/^mode=$mode batch=$batch img_per_s=\([0-9.]*\) .*/\1/p" \
            "$logs/$i-torch")
        if [ -z "${torch_img[$i/$prec]}" ]; then
            reason=$(grep "^run_failed=.*(mode=$mode " "$logs/$i-torch" || why_failed "$logs/$i-torch")
            notes+=("$name $prec: PyTorch $mode failed: $reason")
        fi
    done
done

model=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
yes_no() { if has_flag "$1"; then echo "$1 yes"; else echo "$1 no"; fi; }
echo "CPU: $model, $(nproc) cores; $(yes_no avx512f), $(yes_no avx512_bf16); OMP_NUM_THREADS=$OMP_NUM_THREADS"
echo "prenas: $build/prenas-bench-step ($("$build/prenas-bench-step" --version | head -1 | cut -d' ' -f2));" \
    "$steps measured steps after 2 warm-up, $pairs run(s) of each"
[ -z "$baseline" ] ||
    echo "baseline: $baseline/prenas-bench-step ($("$baseline/prenas-bench-step" --version | head -1 | cut -d' ' -f2))"
torch_env_report bench/torch_step.py
cat "$logs"/*-torch | sed -n 's/^torch .*sgemm_.*/PyTorch ran: &/p' | sort -u
echo
columns=(case prec "img/s" "GFLOP/s" ceiling share)
[ -n "$baseline" ] && columns+=(baseline "x base")
columns+=(torch "x torch" "bf16/fp32" "torch bf16/fp32")
row() { printf '%-30s %-5s %9s %8s %8s %6s' "$@"; }
row "${columns[@]:0:6}"
[ -n "$baseline" ] && printf ' %9s %7s' "${columns[@]:6:2}"
printf ' %9s %8s %9s %15s\n' "${columns[@]: -4}"
for i in "${!cases[@]}"; do
    for prec in "${precisions[@]}"; do
        key=$i/$prec
        row "${labels[$i]}" "$prec" "${cur_img[$key]:-failed}${fell_back[$key]:-}" "${cur_gflops[$key]:--}" \
            "${cur_ceiling[$key]:--}" "$(share "${cur_gflops[$key]}" "${cur_ceiling[$key]}")"
        [ -n "$baseline" ] && printf ' %9s %7s' "${base_img[$key]:-failed}" "$(ratio "${pair_ratio[$key]}" 1)"
        speedup='' torch_speedup=''
        if [ "$prec" = bf16 ]; then
            speedup=$(ratio "${cur_img[$key]}" "${cur_img[$i/fp32]}")
            torch_speedup=$(ratio "${torch_img[$key]}" "${torch_img[$i/fp32]}")
        fi
        printf ' %9s %8s %9s %15s\n' "${torch_img[$key]:-failed}" \
            "$(ratio "${cur_img[$key]}" "${torch_img[$key]}")" "$speedup" "$torch_speedup"
    done
done
echo "(img/s: training steps; GFLOP/s: 6 x MACs per image, method.md 4.4; share: of the ceiling" \
    "of the same precision, measured in the same process)"
[ ${#fell_back[@]} -eq 0 ] || echo "*: prenas did not run at the precision asked (notes)"
[ ${#notes[@]} -eq 0 ] || printf 'note: %s\n' "${notes[@]}" | awk '!seen[$0]++'
