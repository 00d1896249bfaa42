#!/bin/bash
# CNN training-step throughput of prenas's CPU engine against PyTorch, the same subnet, batch
# and step in both programs, all in one run on this machine, the two programs alternating:
#   (i)  cnn-micro's largest subnet, 32:24:16x1k3e1:24x2k5e6:32x3k5e6:48x3k5e6:64x2k5e6:256,
#        batch 128 (10 classes)
#   (ii) BigNAS's smallest subnet at 192 x 192,
#        192:32:16x1k3e1:24x2k3e6:40x2k3e6:80x2k3e6:112x2k3e6:192x2k3e6:320x1k3e6:1280,
#        batch 8 (1000 classes)
# One training step = forward (batch norm on batch statistics), soft-target cross-entropy
# (label smoothing 0.1), backward, AdamW over every tensor of the supernet (zero gradients
# outside the subnet), fp32, on random images at the architecture's resolution; each run
# times --steps steps after 2 warm-up steps. prenas: prenas-bench-cnn-step; PyTorch:
# bench/torch_cnn_step.py (the subnet on slices of the supernet's tensors, as BigNAS's
# PyTorch code trains it).
#
# usage: bench/cnn-step-vs-torch.sh [--steps N] [--pairs P] [--baseline BUILD_DIR] [--kernels]
#                                   [BUILD_DIR]
#        bench/cnn-step-vs-torch.sh --help      (this text)
#   BUILD_DIR        the build whose prenas-bench-cnn-step is measured (default build)
#   --steps N        measured steps of every run (default 5, at least 3)
#   --pairs P        runs of each program per case (default 1), in turn: prenas, [baseline],
#                    PyTorch, prenas, ...; with P > 1 every figure is the median of P and each
#                    ratio the median of the P rounds' ratios
#   --baseline DIR   also DIR/prenas-bench-cnn-step (a build of another commit), in every round
#   --kernels        after the table, one more run of each program per case with oneDNN's
#                    verbose log on, summarised by bench/onednn_verbose.py: which oneDNN kernels
#                    ran (convolutions per kind and direction, reorders) and their time per step
#                    (prenas's: its 2 measured steps, after the 2 warm-up ones)
# Threads: OMP_NUM_THREADS (default 2), for both programs. The report goes to stdout, progress
# (with seconds since the start) to stderr, and the load average before and after the runs is
# in the report: the machine's other work moves every figure, the ratios in one run less.
#
# A fair PyTorch (bench/vs-torch-lib.sh, as bench/step-vs-torch.sh): libopenblas0-pthread and
# python3-torch are installed when missing, OpenBLAS is what PyTorch's sgemm_ calls, and on
# AVX-512 PyTorch's own kernels run at that level. Both programs convolve through oneDNN:
# prenas through Debian's libdnnl, PyTorch through the oneDNN (mkldnn) built into it; the
# report names each one's version and ISA as they report it, and which BLAS PyTorch called.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/vs-torch-lib.sh

usage() {
    echo "usage: $0 [--steps N] [--pairs P] [--baseline BUILD_DIR] [--kernels] [BUILD_DIR]" >&2
    exit 2
}
build=build baseline='' steps=5 pairs=1 kernels=false
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
    --kernels)
        kernels=true
        shift
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
check_runs "$steps" "$pairs" prenas-bench-cnn-step "$build" ${baseline:+"$baseline"}

torch_env_setup

cases=("(i) cnn-micro 32:24:16x1k3e1:24x2k5e6:32x3k5e6:48x3k5e6:64x2k5e6:256 128"
       "(ii) cnn-bignas 192:32:16x1k3e1:24x2k3e6:40x2k3e6:80x2k3e6:112x2k3e6:192x2k3e6:320x1k3e6:1280 8")
labels=([0]="(i) micro largest, batch 128" [1]="(ii) BigNAS smallest 192, batch 8")
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
progress() { echo "cnn-step-vs-torch: [${SECONDS} s] $*" >&2; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

run_one() { # WHO OUT COMMAND...: one run of the loop's case into OUT (stderr: OUT.err)
    local who=$1 out=$2
    shift 2
    progress "$name: $who, round $p of $pairs"
    "$@" --config "configs/spaces/$space.cfg" --arch "$arch" --batch "$batch" --steps "$steps" \
        >"$out" 2>"$out.err" || true
    [ -n "$(img_of "$out")" ] || notes+=("$name: $who failed: $(why_failed "$out")")
}

declare -A img=()
rounds=()
notes=()
load_before=$(load)
for i in "${!cases[@]}"; do
    read -r name space arch batch <<<"${cases[$i]}"
    declare -A figures=([cur]='' [base]='' [torch]='' [x_torch]='' [x_base]='')
    for ((p = 1; p <= pairs; p++)); do
        out=$logs/$i-$p
        run_one prenas "$out.cur" "$build/prenas-bench-cnn-step"
        [ -z "$baseline" ] || run_one baseline "$out.base" "$baseline/prenas-bench-cnn-step"
        run_one PyTorch "$out.torch" "${torch_env[@]}" "$python" bench/torch_cnn_step.py \
            --threads "$OMP_NUM_THREADS"
        cur=$(img_of "$out.cur") base=$(img_of "$out.base" 2>/dev/null || true)
        torch=$(img_of "$out.torch")
        figures[cur]+="$cur"$'\n' figures[base]+="$base"$'\n' figures[torch]+="$torch"$'\n'
        figures[x_torch]+="$(ratio "$cur" "$torch" | tr -d x)"$'\n'
        figures[x_base]+="$(ratio "$cur" "$base" | tr -d x)"$'\n'
    done
    for key in "${!figures[@]}"; do
        img[$i/$key]=$(median <<<"${figures[$key]}")
    done
    rounds[$i]="prenas $(echo ${figures[cur]}); torch $(echo ${figures[torch]})"
    [ -z "$baseline" ] || rounds[$i]+="; baseline $(echo ${figures[base]})"
    unset figures
done
load_after=$(load)

model=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo "CPU: $model, $(nproc --all) cores; OMP_NUM_THREADS=$OMP_NUM_THREADS; load average" \
    "(1, 5, 15 min) before the runs $load_before, after $load_after"
echo "prenas: $build/prenas-bench-cnn-step ($("$build/prenas-bench-cnn-step" --version |
    sed -n '1s/.* //p; s/^cpu: //p' | paste -sd ';'));" \
    "$steps measured steps after 2 warm-up, $pairs round(s)"
[ -z "$baseline" ] ||
    echo "baseline: $baseline/prenas-bench-cnn-step ($("$baseline/prenas-bench-cnn-step" --version | head -1 | cut -d' ' -f2))"
torch_env_report bench/torch_cnn_step.py
cat "$logs"/*.torch 2>/dev/null | sed -n 's/^\(torch .*sgemm_.*\)/PyTorch ran: \1/p; s/^oneDNN (mkldnn)/PyTorch: &/p' |
    sort -u
"$python" -c 'import torch; print(torch.__config__.show())' |
    sed -n 's/^ *- \(.*\(MKL-DNN\|oneDNN\).*\)/PyTorch built with: \1/p'
echo
printf '%-36s %12s' case "prenas img/s"
[ -z "$baseline" ] || printf ' %14s %7s' "baseline img/s" "x base"
printf ' %11s %9s\n' "torch img/s" "x torch"
for i in "${!cases[@]}"; do
    printf '%-36s %12s' "${labels[$i]}" "${img[$i/cur]:-failed}"
    [ -z "$baseline" ] || printf ' %14s %7s' "${img[$i/base]:-failed}" "$(ratio "${img[$i/x_base]}" 1)"
    printf ' %11s %9s\n' "${img[$i/torch]:-failed}" "$(ratio "${img[$i/x_torch]}" 1)"
done
echo "(training images per second; x torch: prenas's over PyTorch's, x base: over the baseline's)"
for i in "${!cases[@]}"; do echo "rounds of ${labels[$i]}: ${rounds[$i]}"; done
[ ${#notes[@]} -eq 0 ] || printf 'note: %s\n' "${notes[@]}" | awk '!seen[$0]++'

$kernels || exit 0
for i in "${!cases[@]}"; do
    read -r name space arch batch <<<"${cases[$i]}"
    progress "$name: oneDNN's verbose log of both programs"
    echo
    echo "${labels[$i]}: prenas"
    ONEDNN_VERBOSE=1 "$build/prenas-bench-cnn-step" --config "configs/spaces/$space.cfg" \
        --arch "$arch" --batch "$batch" --steps 2 >"$logs/verbose" 2>&1 || true
    "$python" bench/onednn_verbose.py "$logs/verbose" 4 2
    echo "${labels[$i]}: PyTorch"
    "${torch_env[@]}" "$python" bench/torch_cnn_step.py --config "configs/spaces/$space.cfg" \
        --arch "$arch" --batch "$batch" --steps 1 --verbose-steps 1 \
        --threads "$OMP_NUM_THREADS" 2>&1 | sed -n '/^oneDNN primitives/,/^img_per_s/p' | sed '$d'
done
