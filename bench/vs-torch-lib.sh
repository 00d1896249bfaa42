# Sourced by bench/step-vs-torch.sh and bench/cnn-step-vs-torch.sh (from the repository's root,
# under set -euo pipefail). torch_env_setup: a fair PyTorch for the CPU comparisons, as
# step-vs-torch.sh's --help describes. Installs libopenblas0-pthread and python3-torch when
# missing (as root or through sudo); sets OMP_NUM_THREADS (default 2), python (Debian's, which
# has torch), flags and has_flag FLAG (this CPU's), system_blas and openblas_core (what
# libblas.so.3 resolves to, and the core OpenBLAS picks by itself), and torch_env: `env` and the
# variables PyTorch's runs get (OpenBLAS preloaded when libblas.so.3 is not it; on AVX-512,
# ATEN_CPU_CAPABILITY=avx512 and, when OpenBLAS's own core has no AVX-512 kernels,
# OPENBLAS_CORETYPE=SkylakeX, unless the environment sets them). torch_env_report SCRIPT
# prints what was chosen, for the report. Also what both scripts share around it: print_help,
# check_runs, img_of, why_failed, median, ratio.
torch_env_setup() {
    local packages=(libopenblas0-pthread python3-torch) missing=() p sudo openblas
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "$(basename "$0" .sh): installing ${missing[*]}" >&2
        sudo=()
        if [ "$(id -u)" -ne 0 ]; then
            command -v sudo >/dev/null || { echo "$0: run as root or install: ${missing[*]}" >&2; exit 1; }
            sudo=(sudo)
        fi
        "${sudo[@]}" apt-get update -q >&2
        # through env: sudo's env_reset would drop DEBIAN_FRONTEND, and apt would ask on a terminal
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            "${missing[@]}" >&2
    fi

    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
    python=/usr/bin/python3
    openblas=$(dpkg -L libopenblas0-pthread | grep '/libblas\.so\.3$')
    system_blas=$(readlink -f "$(dirname "$(dirname "$openblas")")/libblas.so.3")
    flags=$(grep -m1 '^flags' /proc/cpuinfo)
    has_flag() { grep -qw "$1" <<<"$flags"; }
    torch_env=(env)
    if [ "$system_blas" != "$(readlink -f "$openblas")" ]; then
        torch_env+=("LD_PRELOAD=$openblas${LD_PRELOAD:+ $LD_PRELOAD}")
    fi
    openblas_core=$(env -u OPENBLAS_CORETYPE "$python" -c 'import ctypes, sys
blas = ctypes.CDLL(sys.argv[1])
blas.openblas_get_corename.restype = ctypes.c_char_p
print(blas.openblas_get_corename().decode())' "$openblas")
    if has_flag avx512f; then
        [ -n "${ATEN_CPU_CAPABILITY:-}" ] || torch_env+=(ATEN_CPU_CAPABILITY=avx512)
        if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
            case $openblas_core in
            SkylakeX | Cooperlake | SapphireRapids) ;; # OpenBLAS's AVX-512 cores
            *) torch_env+=(OPENBLAS_CORETYPE=SkylakeX) ;;
            esac
        fi
    fi
}

torch_env_report() { # SCRIPT: the PyTorch script the report names
    local added=${torch_env[*]:1} inherited
    inherited=$(env | grep -E '^(OPENBLAS_CORETYPE|ATEN_CPU_CAPABILITY)=' | paste -sd ' ' || true)
    echo "system libblas.so.3: $system_blas; OpenBLAS's own choice of core here: $openblas_core"
    echo "PyTorch: $python $1; set here: ${added:-nothing}; from the environment:" \
        "${inherited:-nothing}"
}

img_of() { sed -n 's/^img_per_s=//p' "$1"; } # FILE: the img_per_s= figure, empty for none
why_failed() { # OUT: the last line of its stderr (OUT.err), else of its stdout
    awk 'FNR == 1 && NR > 1 && last != "" { exit } NF { last = $0 }
         END { print (last == "" ? "no output" : last) }' "$1.err" "$1"
}
median() { # of the numbers on stdin, to 5 significant digits; empty for none
    awk NF | sort -g | awk '{ v[NR] = $1 }
        END { if (NR) printf "%.5g\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b > 0) printf "%.2fx", a / b }'; }

print_help() { # SCRIPT: its comment block from line 2 to `set -euo`, unindented
    sed -n '2,/^set -euo/{/^set -euo/d; s/^# \{0,1\}//; p}' "$1"
}
check_runs() { # STEPS PAIRS PROGRAM DIR...: usage errors (exit 2) unless STEPS >= 3, PAIRS >= 1
    # and every DIR/PROGRAM is executable
    local steps=$1 pairs=$2 program=$3 dir
    shift 3
    [[ $steps =~ ^[0-9]+$ && $steps -ge 3 ]] || { echo "$0: --steps: at least 3" >&2; exit 2; }
    [[ $pairs =~ ^[0-9]+$ && $pairs -ge 1 ]] || { echo "$0: --pairs: at least 1" >&2; exit 2; }
    for dir in "$@"; do
        [ -x "$dir/$program" ] || { echo "$0: no $dir/$program" >&2; exit 2; }
    done
}
