#!/bin/bash
# PreNAS's specialisation against the search it removes, for one parameter budget on one
# trained supernet: (a) prenas-evaluate of the preferred subnets on val + prenas-specialize
# (the preferred architecture with the best val top-1 within the budget); (b) AutoFormer's
# evolutionary search (prenas-search, defaults of method.md 12.2) over the whole search space
# SPACE.cfg on IMAGES val images. Both winners are then evaluated on the test split. Prints
# wall time, evaluations and val/test top-1 side by side.
# usage: bench/search-vs-specialize.sh BUILD_DIR SUPERNET.h5 DATASET.h5 SPACE.cfg BUDGET [RANKS] [IMAGES]
set -euo pipefail
cd "$(dirname "$0")/.."
build=$1 supernet=$2 data=$3 space=$4 budget=$5 ranks=${6:-2} images=${7:-1000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMP_NUM_THREADS=$(($(nproc) / ranks > 0 ? $(nproc) / ranks : 1))
mpi=(mpirun -np "$ranks" --bind-to none)
now() { date +%s.%N; }
attr() { /usr/bin/python3 -c "import h5py,sys; v = h5py.File(sys.argv[1])[sys.argv[2]].attrs[sys.argv[3]]; print(v.decode() if isinstance(v, bytes) else v)" "$@"; }

t0=$(now)
"${mpi[@]}" "$build/prenas-evaluate" --supernet "$supernet" --data "$data" --out "$work/eval.h5" \
    --latency-repeats 0 --no-plot >/dev/null
"$build/prenas-specialize" --supernet "$supernet" --data "$data" --eval "$work/eval.h5" \
    --max-params "$budget" --out "$work/model.h5" >/dev/null
t1=$(now)
"${mpi[@]}" "$build/prenas-search" --supernet "$supernet" --data "$data" --config "$space" \
    --max-params "$budget" --images "$images" --out "$work/search.h5" >"$work/search.txt"
t2=$(now)
specialized=$(attr "$work/model.h5" / arch)
searched=$(attr "$work/search.h5" result arch)
evaluations=$(attr "$work/search.h5" / evaluations)
printf '%s\n%s\n' "$specialized" "$searched" >"$work/archs.txt"
"${mpi[@]}" "$build/prenas-evaluate" --supernet "$supernet" --data "$data" --out "$work/test.h5" \
    --split test --archs "$work/archs.txt" --no-preferred --latency-repeats 0 --no-plot >/dev/null
"${mpi[@]}" "$build/prenas-evaluate" --supernet "$supernet" --data "$data" --out "$work/val.h5" \
    --archs "$work/archs.txt" --no-preferred --latency-repeats 0 --no-plot >/dev/null
row() { /usr/bin/python3 -c "
import csv, sys
rows = {r['arch']: r for r in csv.DictReader(open(sys.argv[1]))}
r = rows[sys.argv[2]]
print(r['params'], r['top1'])" "$1" "$2"; }
printf '%-11s %9s %10s %11s %9s %9s  %s\n' method seconds evaluated params val_top1 test_top1 architecture
for m in specialize search; do
    if [ $m = specialize ]; then arch=$specialized seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') n=$(/usr/bin/python3 -c "import h5py; print(len(h5py.File('$work/eval.h5')['arch']))")
    else arch=$searched seconds=$(awk -v a="$t1" -v b="$t2" 'BEGIN { print b - a }') n=$evaluations; fi
    read -r params val <<<"$(row "$work/val.csv" "$arch")"
    read -r _ test <<<"$(row "$work/test.csv" "$arch")"
    printf '%-11s %9.1f %10s %11s %9s %9s  %s\n' $m "$seconds" "$n" "$params" "$val" "$test" "$arch"
done
echo "(budget $budget params; search fitness on $images val images, the table's val top-1 on the whole val split; $ranks rank(s) x $OMP_NUM_THREADS thread(s))"
