#!/bin/bash
# Prepares tier 2 of the device check (docs/device-check.md): builds the real executables here
# for the H200 (Release, sm_90), and packs them with every shared library they need that the
# GPU machine lacks, Open MPI's plugins and help files, and a small Fashion-MNIST slice into
#   .device-bundle/prenas-bundle.tar.xz     (ignored; name .device-bundle in the call's carry)
# scripts/device-check.sh unpacks and runs it there.
#
#   scripts/device-bundle.sh [--build-dir DIR] [--no-build] [--jobs N] [--images TRAIN,VAL,TEST]
#
# Left out, because the GPU machine has them (and ours would clash with its driver and Python):
# the CUDA libraries (cudart, cuBLAS, cuBLASLt in its CUDA 13 toolkit; cuDNN and NCCL in
# Python's site-packages/nvidia/*/lib, found by the bundle's env.sh), the driver's libcuda,
# glibc and the compiler's C++ runtime (libstdc++, libgcc_s; the machine's are newer).
# A program started alone runs Open MPI as an isolated singleton (no orted, no PMIx server);
# bin/mpirun (Open MPI's orterun, with PMIx and its plugins) starts several ranks on that one
# machine. Plugins that need network fabrics (UCX, libfabric, verbs, PSM) are left out with
# their libraries.
set -euo pipefail
cd "$(dirname "$0")/.."

build="build-device"
do_build=1
jobs=$(nproc)
images=4000,1000,1000
usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case $1 in
    --build-dir) build=$2; shift 2 ;;
    --no-build) do_build=0; shift ;;
    --jobs) jobs=$2; shift 2 ;;
    --images) images=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "device-bundle: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done
IFS=, read -r n_train n_val n_test <<<"$images"

# The executables tier 2 runs; prenas-op-parity too once tests/ops/ is built by the main build.
programs=(prenas-arch prenas-inspect prenas-pack prenas-score prenas-select prenas-train
          prenas-evaluate prenas-bench-step)
# Carried when this tree builds them (the device check runs them only where they are there).
optional=(prenas-bench-allreduce)

if [ "$do_build" = 1 ]; then
    echo "== build ($build: Release, sm_90)"
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
    targets=("${programs[@]}")
    known=$(cmake --build "$build" --target help)
    for t in prenas-op-parity "${optional[@]}"; do
        if grep -q -- "$t" <<<"$known"; then targets+=("$t"); fi
    done
    cmake --build "$build" -j "$jobs" --target "${targets[@]}"
fi
declare -A path
for p in "${programs[@]}"; do
    [ -x "$build/$p" ] || { echo "device-bundle: $build/$p is missing (build it first)" >&2; exit 1; }
    path[$p]=$build/$p
done
for p in "${optional[@]}"; do
    if [ -x "$build/$p" ]; then programs+=("$p"); path[$p]=$build/$p; fi
done
for dir in "$build" "$build/tests"; do # tests/CMakeLists.txt builds the harness in tests/
    if [ -x "$dir/prenas-op-parity" ]; then
        programs+=(prenas-op-parity)
        path[prenas-op-parity]=$dir/prenas-op-parity
        break
    fi
done
if ! grep -q 'libcudart\.so' <<<"$(ldd "$build/prenas-train")"; then
    echo "device-bundle: $build has no CUDA backend (nvcc not found?): nothing to run on a GPU" >&2
    exit 1
fi

stage=$build/device-bundle
b=$stage/prenas-bundle
rm -rf "$stage"
mkdir -p "$b"/{libexec,bin,lib,data,ompi/bin,ompi/lib/openmpi3,ompi/lib/pmix,ompi/share,ompi/etc}

# ---- the executables, each behind a wrapper that sets the bundle's environment ----
for p in "${programs[@]}"; do
    cp "${path[$p]}" "$b/libexec/$p"
    strip --strip-unneeded "$b/libexec/$p"
    cat >"$b/bin/$p" <<EOF
#!/bin/sh
# prenas-bundle: runs libexec/$p with the bundle's libraries and Open MPI (env.sh)
here=\$(cd "\$(dirname "\$0")/.." && pwd)
. "\$here/env.sh"
exec "\$here/libexec/$p" "\$@"
EOF
    chmod 755 "$b/bin/$p"
done

# ---- Open MPI: plugins, help files, configuration (paths from ompi_info) ----
ompi_path() { ompi_info --parsable --path "$1" | sed -n "s/^path:$1://p"; }
pkglibdir=$(ompi_path pkglibdir)
pkgdatadir=$(ompi_path pkgdatadir)
sysconfdir=$(ompi_path sysconfdir)
[ -d "$pkglibdir" ] || { echo "device-bundle: no Open MPI plugins at '$pkglibdir'" >&2; exit 1; }
not_needed='libucp|libucs|libuct|libucm|libfabric|libibverbs|librdmacm|libpsm|libinfinipath|libefa'
dropped=()
for component in "$pkglibdir"/*.so; do
    if ldd "$component" | grep -Eq "^[[:space:]]*($not_needed)"; then
        dropped+=("$(basename "$component" .so)")
    else
        cp "$component" "$b/ompi/lib/openmpi3/"
    fi
done
cp -r "$pkgdatadir" "$b/ompi/share/openmpi"
cp "$sysconfdir"/openmpi-mca-params.conf "$sysconfdir"/openmpi-default-hostfile "$b/ompi/etc/" 2>/dev/null || true
# mpirun (orterun: it starts the ranks of one machine itself, no orted) and the external PMIx
# that Open MPI's pmix plugin (ext3x) serves them with: its plugins and help files, relocated
# by env.sh's PMIX_* variables
cp "$(ompi_path bindir)/orterun" "$b/ompi/bin/orterun"
strip --strip-unneeded "$b/ompi/bin/orterun"
cat >"$b/bin/mpirun" <<'EOF'
#!/bin/sh
# prenas-bundle: Open MPI's mpirun with the bundle's libraries, plugins and PMIx (env.sh);
# the ranks it starts (bin/prenas-*) find their PMIx server through the environment it sets
# (one machine: nothing is started over ssh, which may not be there; Open MPI still wants an
# agent that exists)
here=$(cd "$(dirname "$0")/.." && pwd)
PRENAS_BUNDLE_LAUNCHER=1
OMPI_MCA_plm_rsh_agent=${OMPI_MCA_plm_rsh_agent:-false}
export OMPI_MCA_plm_rsh_agent
. "$here/env.sh"
exec "$here/ompi/bin/orterun" "$@"
EOF
chmod 755 "$b/bin/mpirun"
pmix_lib=$(ldd "$pkglibdir/mca_pmix_ext3x.so" | awk '$1 ~ /^libpmix\.so/ {print $3}')
pmix_prefix=$(dirname "$(dirname "$(readlink -f "$pmix_lib")")") # .../pmix2 of .../pmix2/lib/libpmix.so.2
[ -d "$pmix_prefix/lib/pmix" ] || { echo "device-bundle: no PMIx plugins at $pmix_prefix/lib/pmix" >&2; exit 1; }
cp "$pmix_prefix"/lib/pmix/*.so "$b/ompi/lib/pmix/"
cp -r "$pmix_prefix/share/pmix" "$b/ompi/share/pmix"
cp "$pmix_prefix/share/pmix-mca-params.conf" "$b/ompi/etc/" 2>/dev/null || true

# ---- every shared library they need, except glibc, the C++ runtime and the CUDA libraries ----
system='^(linux-vdso|ld-linux|libc|libm|libmvec|libdl|libpthread|librt|libresolv|libutil|libanl|libstdc\+\+|libgcc_s)\.so'
gpu='^(libcuda|libcudart|libcublas|libcublasLt|libcudnn[a-z_]*|libnccl)\.so'
ldd_all=$(ldd "$b"/libexec/* "$b"/ompi/bin/* "$b"/ompi/lib/openmpi3/*.so "$b"/ompi/lib/pmix/*.so 2>&1)
if grep -q 'not found' <<<"$ldd_all"; then
    grep 'not found' <<<"$ldd_all" | sort -u >&2
    echo "device-bundle: unresolved libraries above" >&2
    exit 1
fi
deps=$(awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' <<<"$ldd_all" | sort -u)
: >"$b/cuda-libs.txt"
while read -r name path; do
    if [[ $name =~ $gpu ]]; then
        echo "$name" >>"$b/cuda-libs.txt"
    elif ! [[ $name =~ $system ]]; then
        cp -L "$path" "$b/lib/$name"
    fi
done <<<"$deps"
sort -u -o "$b/cuda-libs.txt" "$b/cuda-libs.txt"

# ---- the small Fashion-MNIST pipeline's dataset: the first images of each split ----
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    "$build/prenas-pack" --from idx /usr/share/datasets/fashion-mnist \
    --class-names configs/datasets/fashion-mnist.classes --out "$tmp/full.h5" >/dev/null
"${PRENAS_PYTHON:-/usr/bin/python3}" tests/cli/small_dataset.py "$tmp/full.h5" "$b/data/dataset.h5" "$n_train" "$n_val" "$n_test"

# ---- env.sh: the environment, relative to the bundle's folder ----
cat >"$b/env.sh" <<'EOF'
# prenas-bundle/env.sh, sourced by bin/*: the bundle's libraries first, then the CUDA
# libraries of this machine (cuda-libs.txt: found once in the CUDA toolkit and Python's
# site-packages/nvidia/*/lib, kept in PRENAS_CUDA_LIBRARY_PATH), and Open MPI and PMIx
# relocated here. A program started alone runs as an isolated singleton (no orted, no PMIx
# server); bin/mpirun (PRENAS_BUNDLE_LAUNCHER) and the ranks it starts (they find the
# OMPI_COMM_WORLD_SIZE and PMIX_RANK of their job) use mpirun's PMIx server.
if [ -z "${PRENAS_CUDA_LIBRARY_PATH+set}" ]; then
    PRENAS_CUDA_LIBRARY_PATH=$("$here/find-cuda-libs.sh" "$here/cuda-libs.txt")
    export PRENAS_CUDA_LIBRARY_PATH
fi
LD_LIBRARY_PATH=$here/lib${PRENAS_CUDA_LIBRARY_PATH:+:$PRENAS_CUDA_LIBRARY_PATH}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
export OPAL_PREFIX="$here/ompi" OPAL_EXEC_PREFIX="$here/ompi" OPAL_BINDIR="$here/ompi/bin"
export OPAL_LIBDIR="$here/lib" OPAL_PKGLIBDIR="$here/ompi/lib/openmpi3"
export OPAL_DATAROOTDIR="$here/ompi/share" OPAL_DATADIR="$here/ompi/share"
export OPAL_PKGDATADIR="$here/ompi/share/openmpi" OPAL_SYSCONFDIR="$here/ompi/etc"
export OMPI_MCA_mca_base_component_path="$here/ompi/lib/openmpi3"
export OMPI_MCA_mca_base_param_files="$here/ompi/etc/openmpi-mca-params.conf"
export PMIX_PREFIX="$here/ompi" PMIX_EXEC_PREFIX="$here/ompi" PMIX_LIBDIR="$here/lib"
export PMIX_PKGLIBDIR="$here/ompi/lib/pmix" PMIX_DATAROOTDIR="$here/ompi/share"
export PMIX_DATADIR="$here/ompi/share" PMIX_PKGDATADIR="$here/ompi/share/pmix"
export PMIX_SYSCONFDIR="$here/ompi/etc" PMIX_MCA_mca_base_component_path="$here/ompi/lib/pmix"
if [ -z "${PRENAS_BUNDLE_LAUNCHER:-}" ] && [ -z "${OMPI_COMM_WORLD_SIZE:-}" ] && [ -z "${PMIX_RANK:-}" ]; then
    export OMPI_MCA_ess_singleton_isolated=1 OMPI_MCA_pmix=isolated
else
    unset OMPI_MCA_ess_singleton_isolated OMPI_MCA_pmix PRENAS_BUNDLE_LAUNCHER
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
EOF
cat >"$b/find-cuda-libs.sh" <<'EOF'
#!/bin/sh
# find-cuda-libs.sh LIST: prints a colon-separated library path holding every library named in
# LIST that the dynamic loader does not already find: the CUDA toolkit's lib64 first, then
# Python's site-packages/nvidia/*/lib (pip's nvidia-cudnn-cu13, nvidia-nccl-cu13, ...).
# Missing ones are named on stderr.
dirs=""
for d in "${CUDA_HOME:-/usr/local/cuda}/lib64" /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
         "$(dirname "$(command -v nvcc 2>/dev/null || echo /nonexistent/bin/nvcc)")/../lib64"; do
    [ -d "$d" ] && dirs="$dirs $d"
done
for py in python3 /usr/bin/python3; do
    sites=$("$py" -c 'import site, sys; print("\n".join(site.getsitepackages() + [site.getusersitepackages()] + sys.path))' 2>/dev/null) || continue
    for s in $sites; do
        [ -d "$s/nvidia" ] && dirs="$dirs $(find "$s/nvidia" -maxdepth 3 -type d -name lib 2>/dev/null | sort | tr '\n' ' ')"
    done
    break
done
path=""
while read -r lib; do
    [ -n "$lib" ] || continue
    found=""
    for d in $dirs; do
        if [ -e "$d/$lib" ]; then found=$(cd "$d" && pwd); break; fi
    done
    if [ -z "$found" ]; then
        ldconfig -p 2>/dev/null | grep -q "^[[:space:]]*$lib " || echo "find-cuda-libs: $lib not found" >&2
        continue
    fi
    case ":$path:" in *":$found:"*) ;; *) path=${path:+$path:}$found ;; esac
done <"$1"
echo "$path"
EOF
chmod 755 "$b/find-cuda-libs.sh"

# ---- the manifest: what was built, from what, and what it needs there ----
glibc=$(objdump -T "$b"/libexec/* "$b"/lib/* "$b"/ompi/lib/openmpi3/*.so 2>/dev/null |
    grep -o 'GLIBC_[0-9.]*' | sort -t. -k2,2n -k3,3n -u | tail -1)
{
    echo "prenas-bundle of $(git describe --always --dirty --abbrev=10 2>/dev/null || echo unknown)," \
        "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "nvcc: $(nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p' || echo '?')," \
        "CMAKE_CUDA_ARCHITECTURES=90, Release"
    echo "needs: glibc >= ${glibc#GLIBC_}; from the machine: $(tr '\n' ' ' <"$b/cuda-libs.txt")"
    echo "dataset: data/dataset.h5, Fashion-MNIST train/val/test $n_train/$n_val/$n_test"
    echo "programs: ${programs[*]}"
    echo "libraries: $(cd "$b/lib" && ls | tr '\n' ' ')"
    echo "Open MPI plugins left out: ${dropped[*]:-none}"
} >"$b/MANIFEST"
echo "${glibc#GLIBC_}" >"$b/glibc-min"

mkdir -p .device-bundle
rm -f .device-bundle/prenas-bundle.tar.xz
XZ_OPT=-9e tar -C "$stage" --owner=0 --group=0 -cJf .device-bundle/prenas-bundle.tar.xz prenas-bundle
cp "$b/MANIFEST" .device-bundle/MANIFEST
echo "== $(du -sh "$b" | cut -f1) unpacked, $(du -h .device-bundle/prenas-bundle.tar.xz | cut -f1)" \
    "packed: .device-bundle/prenas-bundle.tar.xz"
cat "$b/MANIFEST"
