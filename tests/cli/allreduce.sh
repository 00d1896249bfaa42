#!/bin/bash
# prenas-bench-allreduce on the CPU: two ranks sum correctly at every size from 1 KiB up, the
# table's bandwidths follow nccl-tests' definitions, and NCCL where there is no GPU (ctest
# hides it here) is a one-line error. On a GPU, tests/cli/nccl.sh.
source "$(dirname "$0")/lib.sh"
start_scratch

run mpirun -np 2 --bind-to none "$bin/prenas-bench-allreduce" --backend mpi --max-bytes 1048576 \
    --iters 3 --warmup 1
expect_status 0 "2 ranks, MPI, 1 KiB to 1 MiB"
expect_out_has "2 rank(s), MPI_Allreduce on host memory" "the header names the path"
rows=$(grep -v '^#' <<<"$out")
[ "$(grep -c ' ok$' <<<"$rows")" -eq 11 ] && pass || fail "11 sizes (1 KiB x 2^0..10), all ok: $rows"
grep -q WRONG <<<"$out" && fail "a wrong sum: $out" || pass
# with 2 ranks busbw = algbw * 2(2-1)/2 = algbw; sizes double from 1024 bytes of 256 floats
awk '!/^#/ { if ($6 != $7) bad = 1; if ($1 != 1024 * 2 ^ (NR - 1) || $2 != $1 / 4) bad = 1 }
     END { exit bad }' <<<"$rows" && pass || fail "sizes, counts or busbw: $rows"
expect_out_has "# wrong results: none" "the summary"

# the largest size need not be a power of two: it ends the table
run mpirun -np 2 --bind-to none "$bin/prenas-bench-allreduce" --backend mpi --min-bytes 4096 \
    --max-bytes 10000 --iters 2 --warmup 0
expect_status 0 "4096 to 10000 bytes"
[ "$(grep -v '^#' <<<"$out" | awk '{ print $1 }' | tr '\n' ' ')" = "4096 8192 10000 " ] && pass ||
    fail "sizes 4096 8192 10000: $out"

run "$bin/prenas-bench-allreduce" --backend nccl --max-bytes 4096
expect_status 2 "NCCL without a GPU"
expect_error_line "--device cuda:" "NCCL without a GPU names the missing GPU"
run "$bin/prenas-bench-allreduce" --backend gloo
expect_status 2 "an unknown backend"
expect_error_line "--backend 'gloo': expected mpi, nccl or auto" "unknown backend"
run "$bin/prenas-bench-allreduce" --min-bytes 2
expect_status 2 "a message under one float"
expect_error_line "expected 4 <= min <= max" "too small"
finish
