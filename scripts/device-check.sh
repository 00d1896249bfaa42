#!/bin/bash
# The device check (docs/device-check.md), run on the GPU machine from the repository root:
#   bash scripts/device-check.sh [--tier 1|2|all] [--dry-run] [--budget SECONDS] [--jobs N]
#                                [--build-dir DIR] [--keep]
# Tier 1 builds the op-parity harness there from source with the CUDA toolkit alone
# (tests/device/) and runs it at fp32, tf32 and bf16 with --timing: every op's error against
# the CPU and a whole training step's images/s. Tier 2 runs the real executables, built here by
# scripts/device-bundle.sh and carried in .device-bundle/: --version, a small Fashion-MNIST
# pipeline (score, select, train, evaluate) on the GPU, a resumed training run compared bit for
# bit with an uninterrupted one, and prenas-bench-step on the Tiny space at each precision.
# Every step is time-boxed and the check goes on after a failure; everything goes to
# $OUT/device-check.log (OUT: the device tool's folder, else /tmp/prenas-device-check), and one
# compact report is printed at the end (also $OUT/device-report.txt).
# --dry-run, for a machine without a GPU: tier 1 runs the harness with --against-cpu (the CPU
# against itself) and checks that it skips (exit 77) on the GPU; tier 2 runs everything with
# --device cpu, smaller, and checks that --device cuda fails cleanly (exit 2, no usable GPU).
# Exit status: 0 when every step passed, 1 otherwise, 2 on a usage error.
set -uo pipefail # no -e: a failed step is reported, and the check goes on
cd "$(dirname "$0")/.." || exit 2
export LC_ALL=C

tier=all dry=0 budget="" jobs=16 build=build-tier1 keep=0
usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }
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
case $tier in 1 | 2 | all) ;; *) echo "device-check: --tier 1, 2 or all" >&2; exit 2 ;; esac
# Under 5 minutes on the GPU machine; a 2-core machine without a GPU needs longer.
[ -n "$budget" ] || budget=$([ $dry = 1 ] && echo 1500 || echo 240)

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

say() { printf '[%3ds] %s\n' "$SECONDS" "$*" | tee -a "$log"; }
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# step NAME LIMIT CMD...: CMD with at most LIMIT seconds (fewer when the budget ends sooner);
# output to the log and $work/NAME.out; status[NAME]: ok, exit N, timeout or skipped. CMD is a
# program (timeout runs it), not a shell function.
step() {
    local name=$1 limit=$2
    shift 2
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
    else
        status[$name]="FAILED (exit $rc; expected exit $want and '$text')"
        failures=$((failures + 1))
    fi
}
ok() { [ "${status[$1]:-}" = ok ]; }
counted() { ok "$1" || failures=$((failures + 1)); }
lastline() { grep -E -- "$2" "$work/$1.out" 2>/dev/null | tail -n 1 | sed 's/^[[:space:]]*//'; }

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
tier1() {
    local t1_deadline=$deadline
    # with tier 2 to come, tier 1 leaves it at least 100 s
    if [ "$tier" = all ]; then deadline=$((budget - 100 > SECONDS ? budget - 100 : SECONDS)); fi
    local generator=()
    command -v ninja >/dev/null && generator=(-G Ninja)
    [ -f "$build/CMakeCache.txt" ] && generator=()
    step t1_configure 60 cmake -S tests/device -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release
    ok t1_configure && step t1_build 180 cmake --build "$build" -j "$jobs"
    counted t1_configure
    ok t1_configure && counted t1_build
    if ok t1_build; then
        local p
        if [ $dry = 1 ]; then
            expect_step t1_skip 77 "op-parity: skipped:" 30 "$build/prenas-op-parity" --precision fp32
            step t1_fp32 "$((budget))" "$build/prenas-op-parity" --against-cpu --precision fp32 --timing
            counted t1_fp32
        else
            for p in "${precisions[@]}"; do
                step "t1_$p" 60 "$build/prenas-op-parity" --precision "$p" --timing
                counted "t1_$p"
            done
        fi
    fi
    deadline=$t1_deadline
}

# ---- tier 2: the real executables from the carried bundle ----
bundle_tar=.device-bundle/prenas-bundle.tar.xz
B=""
# python3 -c "$compare_h5" A.h5 B.h5: /params, /optim and /state's step and samples, bit for bit
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
tier2() {
    if [ ! -f "$bundle_tar" ]; then
        status[t2_unpack]="missing $bundle_tar (run scripts/device-bundle.sh, carry .device-bundle)"
        failures=$((failures + 1))
        say "tier 2: ${status[t2_unpack]}"
        return
    fi
    mkdir -p "$work/bundle"
    if command -v xz >/dev/null; then
        step t2_unpack 60 tar -C "$work/bundle" -xJf "$bundle_tar"
    else # Python's lzma
        step t2_unpack 60 python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
            "$bundle_tar" "$work/bundle"
    fi
    counted t2_unpack
    ok t2_unpack || return
    B=$work/bundle/prenas-bundle
    local have want
    have=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
    want=$(cat "$B/glibc-min")
    if [ -n "$have" ] && [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n 1)" != "$want" ]; then
        say "tier 2: this glibc $have is older than the bundle needs ($want): the executables cannot start"
    fi
    PRENAS_CUDA_LIBRARY_PATH=$("$B/find-cuda-libs.sh" "$B/cuda-libs.txt" 2>>"$log")
    export PRENAS_CUDA_LIBRARY_PATH
    say "tier 2: CUDA libraries from ${PRENAS_CUDA_LIBRARY_PATH:-the default search path}"
    if [ "$tier" = all ] && [ $dry = 0 ] && ! ok t1_build && [ -x "$B/bin/prenas-op-parity" ]; then
        t1_source="the bundle's prenas-op-parity (built here with oneDNN: tier 1's build failed)"
        local q
        for q in "${precisions[@]}"; do
            step "t1_$q" 60 "$B/bin/prenas-op-parity" --precision "$q" --timing
        done
    fi

    dev=cuda steps=300 batch=256
    local resume_steps=60 bench_batch=128 bench_steps=10
    local bench_precisions=("${precisions[@]}")
    if [ $dry = 1 ]; then
        dev=cpu steps=20 batch=64 resume_steps=6 bench_batch=2 bench_steps=1 bench_precisions=(fp32)
    fi
    device_opts() { # the stage's --device/--precision options, where its --help lists them
        if grep -q -- '--device' <<<"$("$B/bin/$1" --help 2>/dev/null)"; then echo "--device $dev"; fi
    }
    local p=$work/pipeline data=$B/data/dataset.h5 space=configs/spaces/micro.cfg
    local recipe=configs/recipes/micro-fmnist.cfg
    mkdir -p "$p"
    step t2_version 30 "$B/bin/prenas-train" --version
    counted t2_version
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
    # resumed = uninterrupted, bit for bit (whole-space sampling: needs no select)
    step t2_resume_a 60 "${train[@]}" --sampling space --out "$p/A" --steps "$resume_steps"
    step t2_resume_b1 40 "${train[@]}" --sampling space --out "$p/B" --steps "$((resume_steps / 2))"
    step t2_resume_b2 40 "${train[@]}" --sampling space --out "$p/B" --steps "$resume_steps"
    if ok t2_resume_a && ok t2_resume_b1 && ok t2_resume_b2; then
        local py
        for py in ${PRENAS_PYTHON:-} python3 /usr/bin/python3; do
            "$py" -c 'import h5py' 2>/dev/null && break
        done
        step t2_resume_cmp 30 "$py" -c "$compare_h5" "$p/A/supernet.h5" "$p/B/supernet.h5"
        counted t2_resume_cmp
    else
        status[t2_resume_cmp]="not compared (a training run failed)"
        failures=$((failures + 1))
    fi
    local q
    for q in "${bench_precisions[@]}"; do
        step "t2_bench_$q" 45 "$B/bin/prenas-bench-step" --config configs/spaces/vit-tiny.cfg \
            --device "$dev" --precision "$q" --batch "$bench_batch" --steps "$bench_steps"
        counted "t2_bench_$q"
    done
    if [ $dry = 1 ]; then # no GPU here: --device cuda must fail cleanly
        expect_step t2_nogpu 2 "no usable GPU" 30 "${train_common[@]}" --sampling space \
            --out "$p/C" --steps 2 --device cuda
    fi
}

[ "$tier" = 2 ] || tier1
[ "$tier" = 1 ] || tier2

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
{
    echo "================ prenas device check: $( ((failures == 0)) && echo PASSED || echo "FAILED ($failures)") in ${SECONDS} s ================"
    printf '%s\n' "$machine_info"
    if [ "$tier" != 2 ]; then
        echo "tier 1: op-parity $t1_source: configure ${status[t1_configure]:-not run}" \
            "${secs[t1_configure]:-}s, build ${status[t1_build]:-not run} ${secs[t1_build]:-}s ($jobs jobs)"
        if [ $dry = 1 ]; then
            echo "  on the GPU: ${status[t1_skip]:-not run}"
            run_precisions=(fp32)
        else
            run_precisions=("${precisions[@]}")
        fi
        for q in "${run_precisions[@]}"; do
            echo "  $q: ${status[t1_$q]:-not run} ${secs[t1_$q]:-}s: $(lastline "t1_$q" '^op-parity: [0-9]+ cases')"
        done
        ops_table "${run_precisions[@]}"
    fi
    if [ "$tier" != 1 ]; then
        echo "tier 2: bundle $([ -n "$B" ] && head -n 1 "$B/MANIFEST" | sed 's/^prenas-bundle of //')"
        if [ -n "$B" ]; then
            grep -E '^cuda:|^  device' "$work/t2_version.out" 2>/dev/null | sed 's/^ */  /'
            stage_line t2_score score "$(lastline t2_score '^gradient pass')"
            stage_line t2_select select "$(lastline t2_select 'preferred architectures in' | sed 's/;.*//')"
            train_secs=$(lastline t2_train 's of training in all' | sed 's/.*; \([0-9.]*\) s of training in all/\1/')
            train_detail="$(lastline t2_train '^prenas-train: device' | sed 's/^prenas-train: //'); $steps steps x $batch"
            train_detail+=", $(lastline t2_train '^epoch .* loss' | sed 's/.* loss \([^ ]*\).*/loss \1/')"
            train_detail+=", $(awk -v s="$steps" -v b="$batch" -v t="$train_secs" \
                'BEGIN { if (t > 0) printf "%.0f img/s over %.1f s of training", s * b / t, t }')"
            stage_line t2_train train "$train_detail"
            stage_line t2_evaluate evaluate "$(lastline t2_evaluate '^prenas-evaluate: device' | sed 's/^prenas-evaluate: //'); $(lastline t2_evaluate '^accuracy:')"
            echo "  resume    ${status[t2_resume_a]:-not run}, ${status[t2_resume_b1]:-not run} + ${status[t2_resume_b2]:-not run}:" \
                "bit-exact $(ok t2_resume_cmp && echo yes || echo NO): $(tail -n 1 "$work/t2_resume_cmp.out" 2>/dev/null || echo "${status[t2_resume_cmp]:-}")"
            for q in "${precisions[@]}"; do
                [ -n "${status[t2_bench_$q]:-}" ] || continue
                stage_line "t2_bench_$q" "bench $q" "vit-tiny: $(lastline "t2_bench_$q" '^img_per_s=') $(lastline "t2_bench_$q" '^eval_img_per_s=') $(lastline "t2_bench_$q" '^device ' | sed 's/;.*//')"
            done
            [ -n "${status[t2_nogpu]:-}" ] && echo "  --device cuda without a GPU: ${status[t2_nogpu]}"
        else
            echo "  ${status[t2_unpack]:-not run}"
        fi
    fi
    echo "log: $log"
} >"$report"
cat "$report" >>"$log"
cat "$report"
[ "$failures" -eq 0 ]
