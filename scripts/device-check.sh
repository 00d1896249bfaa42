#!/bin/bash
# The device check (docs/device-check.md), run on the GPU machine from the repository root:
#   bash scripts/device-check.sh [--tier 1|2|3|all] [--dry-run] [--budget SECONDS] [--jobs N]
#                                [--build-dir DIR] [--keep]
# Tier 3, the figures: prenas-bench-step on the PreNAS-Ti subnet (224/16) at batch 128 and 256
# in bf16, tf32 and fp32 with its MFU, against PyTorch on the same subnet in the same run
# (bench/torch_step.py: eager AMP bf16 and torch.compile), and the Tiny space's zero-cost stage
# (score, select) on the GPU. Tier 2, the real executables on a small Fashion-MNIST pipeline
# (score, select, train, evaluate) on the GPU; evaluate and the Tiny score on the CPU against
# the GPU; a resumed training run against an uninterrupted one, bit for bit; two ranks on the
# one GPU (mpirun, host-staged MPI) against one rank; NCCL with one rank. Tiers 2 and 3 run the
# executables built here by scripts/device-bundle.sh and carried in .device-bundle/. Tier 1
# builds the op-parity harness there from source with the CUDA toolkit alone (tests/device/)
# and runs it at fp32, tf32 and bf16. `all` runs tier 3, 2, then 1 (whose build goes on in the
# background from the start): the most important first, and what the time budget leaves no
# room for is skipped and named in the report. Every step is time-boxed and the check goes on
# after a failure; everything goes to $OUT/device-check.log (OUT: the device tool's folder,
# else /tmp/prenas-device-check), and one compact report is printed at the end (also
# $OUT/device-report.txt).
# --dry-run, for a machine without a GPU: the same steps on the CPU, smaller (tier 1: the CPU
# against itself, and the harness must skip on the GPU, exit 77), and --device cuda of
# prenas-train and bench/torch_step.py must fail cleanly (exit 2, no usable GPU).
# Exit status: 0 when every step passed, 1 otherwise, 2 on a usage error.
set -uo pipefail # no -e: a failed step is reported, and the check goes on
cd "$(dirname "$0")/.." || exit 2
export LC_ALL=C

tier=all dry=0 budget="" jobs=16 build=build-tier1 keep=0
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }
while [ $# -gt 0 ]; do
    case $1 in
    --tier) tier=$2; shift 2 ;;
    --dry-run) dry=1; shift ;;
    --budget) budget=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "device-check: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done
case $tier in 1 | 2 | 3 | all) ;; *) echo "device-check: --tier 1, 2, 3 or all" >&2; exit 2 ;; esac
# Under 5 minutes on the GPU machine (the steps stop at 270 s; the report takes a second); a
# 2-core machine without a GPU needs longer.
[ -n "$budget" ] || budget=$([ $dry = 1 ] && echo 1500 || echo 270)

out=${OUT:-/tmp/prenas-device-check}
mkdir -p "$out"
log=$out/device-check.log
report=$out/device-report.txt
: >"$log"
work=$(mktemp -d /tmp/prenas-device-check.XXXXXX)
[ $keep = 1 ] || trap 'rm -rf "$work"' EXIT
SECONDS=0
deadline=$budget
failures=0
declare -A status secs
order=() # every step, in the order it ran or was skipped

say() { printf '[%3ds] %s\n' "$SECONDS" "$*" | tee -a "$log"; }
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
runs() { [[ $tier == all || $tier == "$1" ]]; }

# step NAME LIMIT CMD...: CMD with at most LIMIT seconds (fewer when the budget ends sooner);
# output to the log and $work/NAME.out; status[NAME]: ok, exit N, timeout or skipped. CMD is a
# program (timeout runs it), not a shell function.
step() {
    local name=$1 limit=$2
    shift 2
    order+=("$name")
    local left=$((deadline - SECONDS))
    [ "$limit" -le "$left" ] || limit=$left
    if [ "$limit" -lt 3 ]; then
        status[$name]=skipped secs[$name]=0
        say "$name: skipped (time budget spent)"
        return 1
    fi
    printf '\n== %s (at most %d s): %s\n' "$name" "$limit" "$*" >>"$log"
    local t0=$EPOCHREALTIME rc
    timeout -k 5 "$limit" "$@" >"$work/$name.out" 2>&1
    rc=$?
    cat "$work/$name.out" >>"$log"
    secs[$name]=$(elapsed "$t0")
    case $rc in
    0) status[$name]=ok ;;
    124 | 137) status[$name]=timeout ;;
    *) status[$name]="exit $rc" ;;
    esac
    say "$name: ${status[$name]} in ${secs[$name]} s"
    return $rc
}
# expect_step NAME RC TEXT LIMIT CMD...: a step that must fail with exit RC and say TEXT.
expect_step() {
    local name=$1 want=$2 text=$3
    shift 3
    step "$name" "$@"
    local rc=$?
    if [ "$rc" = "$want" ] && grep -qF -- "$text" "$work/$name.out"; then
        status[$name]="ok (exit $rc: $text)"
    elif [ "${status[$name]}" != skipped ]; then
        status[$name]="FAILED (exit $rc; expected exit $want and '$text')"
        failures=$((failures + 1))
    fi
}
# not_run NAME WHY: a step that could not run (WHY); counted as a failure.
not_run() {
    order+=("$1")
    status[$1]=$2
    failures=$((failures + 1))
    say "$1: $2"
}
ok() { [ "${status[$1]:-}" = ok ]; }
# a step that failed counts; one skipped for time does not (the report names it)
counted() { ok "$1" || [ "${status[$1]:-}" = skipped ] || failures=$((failures + 1)); }
lastline() { grep -E -- "$2" "$work/$1.out" 2>/dev/null | tail -n 1 | sed 's/^[[:space:]]*//'; }
# value NAME KEY: the last KEY=number in the step's output (KEY whole: not eval_KEY)
value() { grep -oE -- "(^|[ ,;(])$2=[0-9.e+-]*" "$work/$1.out" 2>/dev/null | tail -n 1 | cut -d= -f2; }
# find_python MODULE: the first of $PRENAS_PYTHON, python3, /usr/bin/python3 that has MODULE
# (looked up, not imported: importing torch takes seconds)
find_python() {
    local py
    for py in ${PRENAS_PYTHON:-} python3 /usr/bin/python3; do
        if "$py" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$1') is None)" 2>/dev/null; then
            echo "$py"
            return 0
        fi
    done
    return 1
}

# ---- the machine ----
machine() {
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ); tier $tier$([ $dry = 1 ] && echo ', dry run'); budget ${budget} s"
    echo "host: $(nproc) cores, $(getconf GNU_LIBC_VERSION 2>/dev/null), $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
    if command -v nvidia-smi >/dev/null; then
        echo "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -n 2 | tr '\n' ' ')"
    else
        echo "gpu: no nvidia-smi"
    fi
    echo "tree: $(git describe --always --dirty --abbrev=10 2>/dev/null || echo 'no git here')"
    local nvcc
    nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
    echo "nvcc: $("$nvcc" --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\), \(V[0-9.]*\).*/\1 (\2)/p')" \
        "cmake: $(cmake --version 2>/dev/null | sed -n '1s/cmake version //p')" \
        "ninja: $(ninja --version 2>/dev/null || echo none)"
}
machine_info=$(machine)
printf '%s\n' "$machine_info" >>"$log"

# ---- tier 1: the op-parity harness, built here from source ----
precisions=(fp32 tf32 bf16)
t1_source="built from source (tests/device)"
t1_configure_cmd() {
    local generator=()
    command -v ninja >/dev/null && generator=(-G Ninja)
    [ -f "$build/CMakeCache.txt" ] && generator=()
    echo cmake -S tests/device -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release
}
# With the other tiers in front (all), the build goes on in the background from the start,
# niced so that it does not slow the timed steps: bg_run writes NAME.out and NAME.rc
# ("RC SECONDS") in $work, bg_collect waits for it (up to the budget) and records it as step()
# does.
t1_chain="" t1_jobs="$jobs jobs"
bg_run() {
    local name=$1 limit=$2 t0=$EPOCHREALTIME rc
    shift 2
    timeout -k 5 "$limit" "$@" >"$work/$name.out" 2>&1
    rc=$?
    echo "$rc $(elapsed "$t0")" >"$work/$name.rc"
    return $rc
}
bg_collect() {
    local name=$1 rc s
    order+=("$name")
    while [ ! -f "$work/$name.rc" ] && kill -0 "$t1_chain" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
        sleep 0.2
    done
    if [ -f "$work/$name.rc" ]; then
        read -r rc s <"$work/$name.rc"
        printf '\n== %s (in the background)\n' "$name" >>"$log"
        cat "$work/$name.out" >>"$log"
        secs[$name]=$s
        case $rc in
        0) status[$name]=ok ;;
        124 | 137) status[$name]=timeout ;;
        *) status[$name]="exit $rc" ;;
        esac
    elif kill -0 "$t1_chain" 2>/dev/null; then
        status[$name]=skipped secs[$name]=0 # the budget ended first
    else
        status[$name]="not run"
    fi
    say "$name: ${status[$name]} in ${secs[$name]:-0} s (background)"
}
t1_background() {
    t1_jobs="$(((jobs + 1) / 2)) jobs, in the background" # half the cores: timed steps run beside it
    # shellcheck disable=SC2046 # the command's words
    (bg_run t1_configure 60 $(t1_configure_cmd) &&
        bg_run t1_build 240 nice -n 10 cmake --build "$build" -j "$(((jobs + 1) / 2))") &
    t1_chain=$!
}
tier1() {
    if [ -n "$t1_chain" ]; then
        bg_collect t1_configure
        ok t1_configure && bg_collect t1_build
    else
        # shellcheck disable=SC2046
        step t1_configure 60 $(t1_configure_cmd)
        ok t1_configure && step t1_build 180 cmake --build "$build" -j "$jobs"
    fi
    counted t1_configure
    ok t1_configure && counted t1_build
    local harness=$build/prenas-op-parity p
    if ! ok t1_build; then
        # the bundle's harness (built here with oneDNN), when tier 2 or 3 unpacked it
        [ $dry = 0 ] && [ -n "$B" ] && [ -x "$B/bin/prenas-op-parity" ] || return
        t1_source="the bundle's prenas-op-parity (built here with oneDNN: tier 1's build failed)"
        harness=$B/bin/prenas-op-parity
    fi
    if [ $dry = 1 ]; then
        expect_step t1_skip 77 "op-parity: skipped:" 30 "$harness" --precision fp32
        step t1_fp32 "$budget" "$harness" --against-cpu --precision fp32 --timing
        counted t1_fp32
    else
        for p in "${precisions[@]}"; do
            step "t1_$p" 45 "$harness" --precision "$p" --timing
            counted "t1_$p"
        done
    fi
}

# ---- the bundle, for tiers 2 and 3 ----
bundle_tar=.device-bundle/prenas-bundle.tar.xz
B=""
unpack_bundle() { # once; sets B
    [ -z "$B" ] || return 0
    [ -z "${status[t2_unpack]:-}" ] || return 1
    if [ ! -f "$bundle_tar" ]; then
        not_run t2_unpack "missing $bundle_tar (run scripts/device-bundle.sh, carry .device-bundle)"
        return 1
    fi
    mkdir -p "$work/bundle"
    if command -v xz >/dev/null; then
        step t2_unpack 60 tar -C "$work/bundle" -xJf "$bundle_tar"
    else # Python's lzma
        step t2_unpack 60 python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
            "$bundle_tar" "$work/bundle"
    fi
    counted t2_unpack
    ok t2_unpack || return 1
    B=$work/bundle/prenas-bundle
    local have want
    have=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
    want=$(cat "$B/glibc-min")
    if [ -n "$have" ] && [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n 1)" != "$want" ]; then
        say "bundle: this glibc $have is older than the bundle needs ($want): the executables cannot start"
    fi
    PRENAS_CUDA_LIBRARY_PATH=$("$B/find-cuda-libs.sh" "$B/cuda-libs.txt" 2>>"$log")
    export PRENAS_CUDA_LIBRARY_PATH
    say "bundle: CUDA libraries from ${PRENAS_CUDA_LIBRARY_PATH:-the default search path}"
    step t2_version 30 "$B/bin/prenas-train" --version
    counted t2_version
}
dev=cuda
[ $dry = 1 ] && dev=cpu

# ---- tier 3: the figures ----
# The PreNAS-Ti subnet (method.md 4.4's 5.99476 M candidate) of the Tiny space, 224/16, 1000
# classes: the subnet of the issue's figures and of bench/step-vs-torch.sh.
ti_arch=192:12:4,4,4,4,3,3,3,3,3,4,3,4:4,4,4,4,4,3.5,3.5,4,4,3.5,4,4
tiny=configs/spaces/vit-tiny.cfg
peak_tflops=${PRENAS_PEAK_TFLOPS:-989} # dense bf16 of the H100 and H200 SXM (datasheet)
fig_batches=(128 256) fig_precisions=(bf16 tf32 fp32) fig_steps=20
[ $dry = 1 ] && fig_batches=(2) fig_precisions=(fp32) fig_steps=1
# Seconds that torch.compile leaves to the steps after it (tier 2, 1: about 90 s expected).
after_compile=100
tier3() {
    unpack_bundle || return
    local f=$work/figures b q batches
    batches=$(IFS=,; echo "${fig_batches[*]}")
    mkdir -p "$f"
    step f_macs 10 "$B/bin/prenas-arch" --config "$tiny" --arch "$ti_arch"
    counted f_macs
    # prenas first: a few seconds each, the figures the goals are about
    for q in "${fig_precisions[@]}"; do
        for b in "${fig_batches[@]}"; do
            step "f_bench_${q}_$b" 40 "$B/bin/prenas-bench-step" --config "$tiny" --arch "$ti_arch" \
                --device "$dev" --precision "$q" --batch "$b" --steps "$fig_steps"
            counted "f_bench_${q}_$b"
        done
    done
    local py
    if py=$(find_python torch); then
        local torch_run=(env PYTHONUNBUFFERED=1 "$py" bench/torch_step.py --config "$tiny" --arch "$ti_arch"
                         --device "$dev" --batch "$batches" --steps "$fig_steps" --threads 4)
        step f_torch_eager 60 "${torch_run[@]}" --mode amp-bf16
        counted f_torch_eager
        # compile is slow (tens of seconds a batch) and not ours: it may take what the steps
        # after it do not need, and a failure of it is reported, not counted
        local left=$((deadline - SECONDS - after_compile))
        step f_torch_compile "$((left < 150 ? left : 150))" "${torch_run[@]}" --mode compile
        if [ $dry = 1 ]; then
            expect_step f_torch_nogpu 2 "no usable GPU" 60 "$py" bench/torch_step.py --config "$tiny" \
                --arch "$ti_arch" --device cuda --mode amp-bf16 --batch 2 --steps 1
        fi
    else
        not_run f_torch_eager "no python3 with torch here"
    fi
    # the Tiny space's zero-cost stage: one gradient pass of the supernet, then the selection
    step f_score_tiny 60 "$B/bin/prenas-score" --config "$tiny" --out "$f/scores.h5" --device "$dev"
    counted f_score_tiny
    ok f_score_tiny && step f_select_tiny 30 "$B/bin/prenas-select" --in "$f/scores.h5" --out "$f/preferred.h5"
    ok f_score_tiny && counted f_select_tiny
}

# ---- tier 2: the real executables from the carried bundle ----
read -r -d '' compare_h5 <<'EOF'
import sys
import h5py
a, b = (h5py.File(p, "r") for p in sys.argv[1:3])
names = lambda f: sorted(g + "/" + n for g in ("params", "optim") for n in _walk(f[g]))
def _walk(group):
    found = []
    group.visititems(lambda n, o: found.append(n) if isinstance(o, h5py.Dataset) else None)
    return found
na, nb = names(a), names(b)
differ = [n for n in na if n not in b or a[n][()].tobytes() != b[n][()].tobytes()]
differ += [n for n in nb if n not in a]
for attr in ("step", "samples"):
    if a["state"].attrs[attr] != b["state"].attrs[attr]:
        differ.append("state@" + attr)
print(f"{len(na)} tensors (params, AdamW moments) at step {a['state'].attrs['step']}:",
      "bit-identical" if not differ else f"{len(differ)} differ, e.g. {differ[:3]}")
sys.exit(1 if differ else 0)
EOF
# python3 -c "$compare_losses" A/train.log B/train.log TOL: the losses of the same steps agree
read -r -d '' compare_losses <<'EOF2'
import sys
def losses(path):
    return {int(w[0][5:]): float(w[2][5:]) for w in (l.split() for l in open(path))
            if len(w) > 2 and w[0].startswith("step=") and w[2].startswith("loss=")}
a, b, tol = losses(sys.argv[1]), losses(sys.argv[2]), float(sys.argv[3])
common = sorted(set(a) & set(b))
worst = max((abs(a[s] - b[s]) for s in common), default=float("inf"))
print(f"{len(common)} steps, losses {a[common[0]]:.6f} .. {a[common[-1]]:.6f}, max |difference| {worst:.2e} (tolerance {tol:g})"
      if common else "no common steps")
sys.exit(0 if common and len(common) == len(a) == len(b) and worst <= tol else 1)
EOF2
# awk -f <(echo "$compare_top1") GPU.csv CPU.csv: top-1 of each architecture within one image
read -r -d '' compare_top1 <<'EOF2'
BEGIN { FS = "," }
FNR == 1 { next }
{   # the architecture, quoted (it holds commas), then preferred, ..., images, top1, ...
    arch = $0; sub(/^"/, "", arch); sub(/".*/, "", arch)
    rest = $0; sub(/^"[^"]*",/, "", rest); n = split(rest, f, ",")
    if (FNR == NR) { top1[arch] = f[9]; images[arch] = f[8]; next }
    seen++
    if (!(arch in top1)) { missing++; next }
    d = top1[arch] - f[9]; if (d < 0) d = -d
    img = d * images[arch] / 100
    if (img > worst) worst = img
    if (img > 1 + 1e-6) bad++
}
END {
    printf "%d architectures, top-1 differs by at most %.1f image(s) of %d%s\n", seen, worst, images[arch],
        missing ? sprintf(", %d not in both", missing) : ""
    exit (seen == 0 || bad || missing) ? 1 : 0
}
EOF2
# the architectures prenas-select prints per interval (its table's last column), sorted
preferred_set() { awk '/^\[/ && $NF ~ /:/ { print $NF }' "$work/$1.out" 2>/dev/null | sort; }
# Options for the two-rank run, where prenas-train gets a choice of the gradient sum's path
# (NCCL comes with the CUDA backend's part 2): it must take the host-staged MPI path here.
ranks_opts=()
tier2() {
    unpack_bundle || return
    local steps=300 batch=256 resume_steps=60 rank_steps=10 rank_batch=64
    [ $dry = 1 ] && steps=20 batch=64 resume_steps=6 rank_steps=4 rank_batch=32
    t2_steps=$steps t2_batch=$batch
    device_opts() { # the stage's --device option, where its --help lists it
        if grep -q -- '--device' <<<"$("$B/bin/$1" --help 2>/dev/null)"; then echo "--device $dev"; fi
    }
    local p=$work/pipeline data=$B/data/dataset.h5 space=configs/spaces/micro.cfg
    local recipe=configs/recipes/micro-fmnist.cfg h5py=""
    h5py=$(find_python h5py) || h5py=""
    mkdir -p "$p"
    # shellcheck disable=SC2046 # device_opts is a list of words
    step t2_score 60 "$B/bin/prenas-score" --config "$space" --out "$p/scores.h5" \
        $(device_opts prenas-score)
    counted t2_score
    # shellcheck disable=SC2046
    step t2_select 30 "$B/bin/prenas-select" --in "$p/scores.h5" --out "$p/preferred.h5" \
        $(device_opts prenas-select)
    counted t2_select
    local train_common=("$B/bin/prenas-train" --config "$space" --recipe "$recipe" --data "$data"
                        --set "batch=$batch" --set "log.every_steps=$((steps / 5))"
                        --set eval.every_epochs=0)
    # shellcheck disable=SC2207
    local train=("${train_common[@]}" $(device_opts prenas-train))
    step t2_train 90 "${train[@]}" --preferred "$p/preferred.h5" --out "$p/train" --steps "$steps"
    counted t2_train
    # shellcheck disable=SC2046
    step t2_evaluate 60 "$B/bin/prenas-evaluate" --supernet "$p/train/supernet.h5" --data "$data" \
        --out "$p/eval.h5" --images 1000 --latency-repeats 3 --no-plot $(device_opts prenas-evaluate)
    counted t2_evaluate
    # the same supernet evaluated on the CPU: top-1 of every architecture within one image
    if ok t2_evaluate; then
        step t2_evaluate_cpu 60 "$B/bin/prenas-evaluate" --supernet "$p/train/supernet.h5" --data "$data" \
            --out "$p/eval-cpu.h5" --images 1000 --latency-repeats 0 --no-plot --device cpu
        counted t2_evaluate_cpu
        ok t2_evaluate_cpu && step t2_eval_agree 10 awk "$compare_top1" "$p/eval.csv" "$p/eval-cpu.csv"
        ok t2_evaluate_cpu && counted t2_eval_agree
    fi
    # the Tiny score of tier 3 again on the CPU: the same preferred set
    if ok f_select_tiny; then
        step t2_score_tiny_cpu 60 "$B/bin/prenas-score" --config "$tiny" --out "$p/tiny-cpu.h5" --device cpu
        counted t2_score_tiny_cpu
        ok t2_score_tiny_cpu && step t2_select_tiny_cpu 30 "$B/bin/prenas-select" --in "$p/tiny-cpu.h5" \
            --out "$p/tiny-cpu-preferred.h5"
        if ok t2_select_tiny_cpu; then
            order+=(t2_score_agree)
            if [ -n "$(preferred_set f_select_tiny)" ] &&
                [ "$(preferred_set f_select_tiny)" = "$(preferred_set t2_select_tiny_cpu)" ]; then
                status[t2_score_agree]=ok
            else
                status[t2_score_agree]="DIFFERENT"
            fi
            counted t2_score_agree
        else
            counted t2_select_tiny_cpu
        fi
    fi
    # resumed = uninterrupted, bit for bit (whole-space sampling: needs no select)
    step t2_resume_a 60 "${train[@]}" --sampling space --out "$p/A" --steps "$resume_steps"
    step t2_resume_b1 40 "${train[@]}" --sampling space --out "$p/B" --steps "$((resume_steps / 2))"
    step t2_resume_b2 40 "${train[@]}" --sampling space --out "$p/B" --steps "$resume_steps"
    if ok t2_resume_a && ok t2_resume_b1 && ok t2_resume_b2; then
        if [ -n "$h5py" ]; then
            step t2_resume_cmp 30 "$h5py" -c "$compare_h5" "$p/A/supernet.h5" "$p/B/supernet.h5"
            counted t2_resume_cmp
        else
            not_run t2_resume_cmp "no python3 with h5py here"
        fi
    elif [ "${status[t2_resume_b2]:-}" = skipped ]; then
        status[t2_resume_cmp]=skipped
    else
        not_run t2_resume_cmp "not compared (a training run failed)"
    fi
    # two ranks on the one GPU (each rank its own context; the gradients summed by MPI through
    # the host) against one rank with the same global batch: the same losses to rounding
    local ranks=(--sampling space --set "batch=$rank_batch" --set log.every_steps=1 "${ranks_opts[@]}")
    if [ -x "$B/bin/mpirun" ]; then
        step t2_ranks2 60 "$B/bin/mpirun" -np 2 --bind-to none --oversubscribe "${train[@]}" "${ranks[@]}" \
            --out "$p/R2" --steps "$rank_steps"
        counted t2_ranks2
        step t2_ranks1 40 "${train[@]}" "${ranks[@]}" --out "$p/R1" --steps "$rank_steps"
        counted t2_ranks1
        if ok t2_ranks2 && ok t2_ranks1; then
            step t2_ranks_cmp 10 "${h5py:-python3}" -c "$compare_losses" "$p/R2/train.log" "$p/R1/train.log" 1e-4
            counted t2_ranks_cmp
        fi
    else
        not_run t2_ranks2 "no bin/mpirun in this bundle (rebuild it with scripts/device-bundle.sh)"
    fi
    # NCCL with one rank, where this bundle has the benchmark (bench/allreduce.c)
    if [ -x "$B/bin/prenas-bench-allreduce" ] && [ $dry = 0 ]; then
        step t2_nccl 30 "$B/bin/prenas-bench-allreduce" --backend nccl
        counted t2_nccl
    else
        order+=(t2_nccl)
        status[t2_nccl]=$([ $dry = 1 ] && echo "not run (dry run: no GPU)" || echo "not run (no prenas-bench-allreduce in this bundle)")
    fi
    if [ $dry = 1 ]; then # no GPU here: --device cuda must fail cleanly
        expect_step t2_nogpu 2 "no usable GPU" 30 "${train_common[@]}" --sampling space \
            --out "$p/C" --steps 2 --device cuda
    fi
}

# all: the figures first, then the tests, then the op-parity harness (its build in the
# background from the start)
if [ "$tier" = all ]; then t1_background; fi
if runs 3; then tier3; fi
if runs 2; then tier2; fi
if runs 1; then tier1; fi
if [ -n "$t1_chain" ] && kill -0 "$t1_chain" 2>/dev/null; then # budget spent: stop the build
    pkill -TERM -P "$t1_chain" 2>/dev/null
    kill "$t1_chain" 2>/dev/null
fi

# ---- the report ----
ops_table() { # PRECISION...: per case its error and verdict at each; then the step rates
    local files=() q
    for q in "$@"; do [ -s "$work/t1_$q.out" ] && files+=("$work/t1_$q.out"); done
    [ ${#files[@]} -gt 0 ] || return 0
    awk -v precs="$*" '
        function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
        function split_head(line, at,    head) { # "NAME   PREC" before position `at`
            head = trim(substr(line, 1, at - 1))
            prec = head; sub(/.* /, "", prec)
            name = trim(substr(head, 1, length(head) - length(prec)))
        }
        BEGIN { n = split(precs, P, " ") }
        (at = index($0, "  err ")) > 0 && ($0 ~ / PASS/ || $0 ~ / FAIL/) {
            split_head($0, at)
            split(substr($0, at + 6), f, " ")
            if (!(name in seen)) { seen[name] = 1; order[++rows] = name }
            cell[name, prec] = sprintf("%s %s", f[1], $0 ~ / PASS/ ? "ok" : "FAIL")
            next
        }
        (at = index($0, "  step  cpu ")) > 0 {
            split_head($0, at)
            split(substr($0, at + 12), f, " ")
            if (!(name in sseen)) { sseen[name] = 1; sorder[++srows] = name; cpu[name] = f[1] }
            gpu[name] = gpu[name] sprintf("  %s %s", prec, f[4])
        }
        END {
            head = sprintf("  %-44s", "op (error vs CPU, verdict)")
            for (i = 1; i <= n; i++) head = head sprintf(" %-12s", P[i])
            print head
            for (r = 1; r <= rows; r++) {
                line = sprintf("  %-44s", order[r])
                for (i = 1; i <= n; i++)
                    line = line sprintf(" %-12s", ((order[r], P[i]) in cell) ? cell[order[r], P[i]] : "-")
                print line
            }
            for (r = 1; r <= srows; r++)
                printf "  %s: img/s cpu %s;%s\n", sorder[r], cpu[sorder[r]], gpu[sorder[r]]
        }' "${files[@]}"
}
stage_line() { # NAME LABEL DETAIL
    printf '  %-10s %-9s %6s s  %s\n' "$2" "${status[$1]:-not run}" "${secs[$1]:-}" "$3"
}
fmt() { awk -v x="$2" "BEGIN { printf \"$1\", x }"; } # FORMAT NUMBER
# cell RATE STEP: "RATE" or why there is none
cell() { if [ -n "$1" ]; then echo "$1"; else echo "(${status[$2]:-not run})"; fi; }
torch_rate() { # STEP MODE BATCH [KEY]: KEY (img_per_s) of that run of bench/torch_step.py
    grep -E "^mode=$2 batch=$3 " "$work/$1.out" 2>/dev/null | grep -o -- "${4:-img_per_s}=[0-9.]*" | tail -n 1 | cut -d= -f2
}
goal() { # VALUE OP LIMIT: met / NOT met / -
    [ -n "$1" ] || { echo "-"; return; }
    awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { m = op == ">=" ? v >= l : v > l; print m ? "met" : "NOT met" }'
}
figures_report() {
    local macs gflop b q r
    macs=$(value f_macs macs)
    gflop=$(awk -v m="${macs:-0}" 'BEGIN { printf "%.3f", 6 * m / 1e9 }')
    echo "figures (tier 3): PreNAS-Ti subnet $ti_arch, 224/16, 1000 classes; device $dev"
    echo "  ${macs:-?} MACs per image (method.md 4.4) x 6 = $gflop GFLOP per trained image;" \
        "MFU = that x img/s over $peak_tflops TFLOP/s (dense bf16, H100/H200 SXM)"
    mfu() { [ -n "$1" ] && [ -n "$macs" ] && awk -v r="$1" -v m="$macs" -v p="$peak_tflops" \
        'BEGIN { printf "%.1f%%", 100 * r * 6 * m / (p * 1e12) }'; }
    printf '  %-30s' "training img/s (MFU)"
    for b in "${fig_batches[@]}"; do printf ' %-26s' "batch $b"; done
    printf '\n'
    declare -gA best_rate best_prec
    for q in "${fig_precisions[@]}"; do
        printf '  %-30s' "prenas $q"
        for b in "${fig_batches[@]}"; do
            r=$(value "f_bench_${q}_$b" img_per_s)
            printf ' %-26s' "$(cell "$r" "f_bench_${q}_$b")$([ -n "$r" ] && echo " ($(mfu "$r"))")"
            # the goals are about bf16; a dry run on the CPU has fp32 alone
            if [ -n "$r" ] && [ -z "${best_rate[$b]:-}" ]; then best_rate[$b]=$r best_prec[$b]=$q; fi
        done
        printf '\n'
    done
    local eager_mode=amp-bf16
    printf '  %-30s' "torch eager AMP bf16"
    for b in "${fig_batches[@]}"; do
        r=$(torch_rate f_torch_eager $eager_mode "$b")
        printf ' %-26s' "$(cell "$r" f_torch_eager)$([ -n "$r" ] && echo " ($(mfu "$r"))")"
    done
    printf '\n  %-30s' "torch.compile AMP bf16"
    for b in "${fig_batches[@]}"; do
        r=$(torch_rate f_torch_compile compile "$b")
        if [ -n "$r" ]; then
            printf ' %-26s' "$r ($(mfu "$r"); $(fmt '%.0f' "$(torch_rate f_torch_compile compile "$b" compile_s)") s to compile)"
        elif grep -q "^compile_failed=.*(mode=compile batch=$b)" "$work/f_torch_compile.out" 2>/dev/null; then
            printf ' %-26s' "(compile failed)"
        else
            printf ' %-26s' "$(cell "" f_torch_compile)"
        fi
    done
    printf '\n  %-30s' "prenas eval img/s, ${fig_precisions[0]}"
    for b in "${fig_batches[@]}"; do
        printf ' %-26s' "$(cell "$(value "f_bench_${fig_precisions[0]}_$b" eval_img_per_s)" "f_bench_${fig_precisions[0]}_$b")"
    done
    printf '\n'
    local why
    why=$(grep -m 1 '^compile_failed=' "$work/f_torch_compile.out" 2>/dev/null | cut -c 1-200)
    [ -n "$why" ] && echo "  torch.compile: $why"
    printf '  %-30s' "goals (prenas ${best_prec[${fig_batches[0]}]:-bf16})"
    for b in "${fig_batches[@]}"; do printf ' %-26s' "batch $b"; done
    local e c m
    printf '\n  %-30s' "/ torch eager AMP, >= 1.5"
    for b in "${fig_batches[@]}"; do
        e=$(torch_rate f_torch_eager $eager_mode "$b")
        r=$([ -n "${best_rate[$b]:-}" ] && [ -n "$e" ] && awk -v a="${best_rate[$b]}" -v b="$e" 'BEGIN { printf "%.2f", a / b }')
        printf ' %-26s' "${r:-?}x $(goal "$r" '>=' 1.5)"
    done
    printf '\n  %-30s' "/ torch.compile, > 1"
    for b in "${fig_batches[@]}"; do
        c=$(torch_rate f_torch_compile compile "$b")
        r=$([ -n "${best_rate[$b]:-}" ] && [ -n "$c" ] && awk -v a="${best_rate[$b]}" -v b="$c" 'BEGIN { printf "%.2f", a / b }')
        printf ' %-26s' "${r:-?}x $(goal "$r" '>' 1)"
    done
    printf '\n  %-30s' "MFU, >= 35 %"
    for b in "${fig_batches[@]}"; do
        m=$([ -n "${best_rate[$b]:-}" ] && [ -n "$macs" ] && awk -v r="${best_rate[$b]}" -v m="$macs" -v p="$peak_tflops" \
            'BEGIN { printf "%.1f", 100 * r * 6 * m / (p * 1e12) }')
        printf ' %-26s' "${m:-?}% $(goal "$m" '>=' 35)"
    done
    printf '\n'
    local tiny_cpu=""
    ok t2_select_tiny_cpu && tiny_cpu="; on the CPU ($(nproc) cores) $(fmt '%.1f' "$(awk -v a="${secs[t2_score_tiny_cpu]}" -v b="${secs[t2_select_tiny_cpu]}" 'BEGIN { print a + b }')") s"
    echo "  zero-cost stage, Tiny: score ${status[f_score_tiny]:-not run} ${secs[f_score_tiny]:-} s" \
        "($(lastline f_score_tiny '^gradient pass' | sed 's/^gradient pass: //')) + select ${status[f_select_tiny]:-not run}" \
        "${secs[f_select_tiny]:-} s on $dev$tiny_cpu"
}
# compact_ops: the op table's rows that are not ok at every precision, a count of the others,
# and the step rates (the whole table stays in device-report.txt)
compact_ops() {
    awk '/^  op \(error vs CPU/ { head = $0; next }
         / img\/s cpu / { print; next }
         /^  / && !/ FAIL/ && !/ - / { good++; next }
         /^  / { if (head) { print head; head = "" } print; next }
         END { if (good) printf "  %d op cases ok at every precision (the table: device-report.txt)\n", good }'
}
write_report() { # full | compact
    echo "================ prenas device check: $( ((failures == 0)) && echo PASSED || echo "FAILED ($failures)") in ${SECONDS} s ================"
    printf '%s\n' "$machine_info"
    if runs 3 && [ -n "${status[f_macs]:-}" ]; then figures_report; fi
    if runs 2 || runs 3; then
        echo "tier 2: bundle $([ -n "$B" ] && head -n 1 "$B/MANIFEST" | sed 's/^prenas-bundle of //')"
        if [ -n "$B" ]; then
            grep -E '^cuda:|^  device' "$work/t2_version.out" 2>/dev/null | sed 's/^ */  /'
        else
            echo "  ${status[t2_unpack]:-not run}"
        fi
    fi
    if runs 2 && [ -n "$B" ]; then
        stage_line t2_score score "$(lastline t2_score '^gradient pass')"
        stage_line t2_select select "$(lastline t2_select 'preferred architectures in' | sed 's/;.*//')"
        train_secs=$(lastline t2_train 's of training in all' | sed 's/.*; \([0-9.]*\) s of training in all/\1/')
        train_detail="$(lastline t2_train '^prenas-train: device' | sed 's/^prenas-train: //'); $t2_steps steps x $t2_batch"
        train_detail+=", $(lastline t2_train '^epoch .* loss' | sed 's/.* loss \([^ ]*\).*/loss \1/')"
        train_detail+=", $(awk -v s="$t2_steps" -v b="$t2_batch" -v t="$train_secs" \
            'BEGIN { if (t > 0) printf "%.0f img/s over %.1f s of training", s * b / t, t }')"
        stage_line t2_train train "$train_detail"
        stage_line t2_evaluate evaluate "$(lastline t2_evaluate '^prenas-evaluate: device' | sed 's/^prenas-evaluate: //'); $(lastline t2_evaluate '^accuracy:')"
        stage_line t2_evaluate_cpu "eval cpu" "$(lastline t2_evaluate_cpu '^accuracy:')"
        echo "  evaluate, $dev against the CPU: ${status[t2_eval_agree]:-not run}: $(tail -n 1 "$work/t2_eval_agree.out" 2>/dev/null)"
        if [ -n "${status[t2_score_agree]:-}" ]; then
            echo "  score Tiny, $dev against the CPU: preferred sets ${status[t2_score_agree]}" \
                "($(preferred_set f_select_tiny | wc -l) architectures on $dev, $(preferred_set t2_select_tiny_cpu | wc -l) on the CPU)"
        else
            echo "  score Tiny, $dev against the CPU: not compared (tier 3's score on $dev ${status[f_select_tiny]:-did not run}," \
                "the CPU's ${status[t2_select_tiny_cpu]:-${status[t2_score_tiny_cpu]:-did not run}})"
        fi
        echo "  resume    ${status[t2_resume_a]:-not run}, ${status[t2_resume_b1]:-not run} + ${status[t2_resume_b2]:-not run}:" \
            "bit-exact $(ok t2_resume_cmp && echo yes || echo NO): $(tail -n 1 "$work/t2_resume_cmp.out" 2>/dev/null || echo "${status[t2_resume_cmp]:-}")"
        echo "  2 ranks on one $dev (mpirun, host-staged MPI) against 1 rank: ${status[t2_ranks2]:-not run}" \
            "${secs[t2_ranks2]:-} s, ${status[t2_ranks1]:-not run} ${secs[t2_ranks1]:-} s; losses ${status[t2_ranks_cmp]:-not compared}:" \
            "$(tail -n 1 "$work/t2_ranks_cmp.out" 2>/dev/null)"
        echo "  NCCL, 1 rank: ${status[t2_nccl]:-not run} ${secs[t2_nccl]:-}$([ -s "$work/t2_nccl.out" ] && echo " s: $(tail -n 2 "$work/t2_nccl.out" | tr '\n' ' ')")"
        [ -n "${status[f_torch_nogpu]:-}" ] && echo "  bench/torch_step.py --device cuda without a GPU: ${status[f_torch_nogpu]}"
        [ -n "${status[t2_nogpu]:-}" ] && echo "  prenas-train --device cuda without a GPU: ${status[t2_nogpu]}"
    fi
    if runs 1; then
        echo "tier 1: op-parity $t1_source: configure ${status[t1_configure]:-not run}" \
            "${secs[t1_configure]:-}s, build ${status[t1_build]:-not run} ${secs[t1_build]:-}s ($t1_jobs)"
        if [ $dry = 1 ]; then
            echo "  on the GPU: ${status[t1_skip]:-not run}"
            run_precisions=(fp32)
        else
            run_precisions=("${precisions[@]}")
        fi
        for q in "${run_precisions[@]}"; do
            echo "  $q: ${status[t1_$q]:-not run} ${secs[t1_$q]:-}s: $(lastline "t1_$q" '^op-parity: [0-9]+ cases')"
        done
        if [ "$1" = full ]; then ops_table "${run_precisions[@]}"; else ops_table "${run_precisions[@]}" | compact_ops; fi
    fi
    skipped=()
    for s in "${order[@]}"; do [ "${status[$s]:-}" = skipped ] && skipped+=("$s"); done
    echo "skipped for time: ${skipped[*]:-none}"
    echo "steps: $(for s in "${order[@]}"; do printf '%s %s %ss; ' "$s" "${status[$s]// /_}" "${secs[$s]:-0}"; done)"
    echo "log: $log; the whole report: $report"
}
# The full report to the file (it comes back from the device tool); printed, the op table is
# cut to what failed, so that the figures fit in the end of the output the tool returns.
write_report full >"$report"
cat "$report" >>"$log"
write_report compact
[ "$failures" -eq 0 ]
