#!/bin/bash
# NCCL on a GPU (ctest cuda_nccl, label cuda; skipped where no GPU is usable):
# - prenas-bench-allreduce sums correctly with NCCL on one rank, every size up to the Base
#   supernet's gradient;
# - the trainer's NCCL path on one rank (PRENAS_NCCL=1, with small buckets so that several
#   are summed while the backward pass runs) equals a run without any sum bit for bit: one
#   rank's sum is the identity, so any race between the two streams would show;
# - two ranks on one GPU: NCCL refuses them ("Duplicate GPU detected"), so the ranks fall back
#   to host-staged MPI_Allreduce with a warning naming them, and train as one rank does to
#   float rounding. With two GPUs or more, the two ranks use NCCL instead.
source "$(dirname "$0")/lib.sh"
start_scratch
require_gpu "$bin/prenas-bench-allreduce"
gpus=$("$bin/prenas-bench-allreduce" --version | grep -c '^  device [0-9]*:')
launch=(mpirun --bind-to none)

run "${launch[@]}" -np 1 "$bin/prenas-bench-allreduce" --backend nccl --iters 5 --warmup 2
expect_status 0 "NCCL, one rank"
echo "$out"
expect_out_has "1 rank(s), ncclAllReduce on GPU memory" "the NCCL path"
expect_out_has "# wrong results: none" "every size summed right"
expect_out_has "320641440" "up to the Base supernet's gradient"

if [ "$gpus" -eq 1 ]; then
    run "${launch[@]}" -np 2 "$bin/prenas-bench-allreduce" --backend auto --max-bytes 16777216 --iters 3
    expect_status 0 "two ranks on one GPU, auto"
    echo "$out"
    expect_out_has "staged through the host" "falls back to host-staged MPI"
    expect_out_has "NCCL refuses two ranks on one GPU" "says why"
    expect_out_has "# wrong results: none" "host-staged sums are right"
    run "${launch[@]}" -np 2 "$bin/prenas-bench-allreduce" --backend nccl --max-bytes 4096
    expect_status 2 "two ranks on one GPU, --backend nccl"
    grep -qF "ranks 0 and 1 share the GPU" <<<"$err" && pass || fail "no reason: $err"
else
    run "${launch[@]}" -np 2 "$bin/prenas-bench-allreduce" --backend nccl --max-bytes 16777216 --iters 3
    expect_status 0 "two ranks on two GPUs"
    echo "$out"
    expect_out_has "# wrong results: none" "NCCL sums over two GPUs"
fi

fmnist_slice 1024 256 256
common=(--config "$src/configs/spaces/micro.cfg" --recipe "$src/configs/recipes/micro-fmnist.cfg"
        --data "$work/data.h5" --sampling space --set batch=32 --set checkpoint.every_steps=100
        --set eval.every_epochs=0 --set log.every_steps=1 --set clip_grad=1 --device cuda)
run env PRENAS_NCCL=0 "$bin/prenas-train" "${common[@]}" --out "$work/one" --steps 4
expect_status 0 "one rank, no sum"
run env PRENAS_NCCL=1 PRENAS_GRAD_BUCKET_BYTES=65536 "$bin/prenas-train" "${common[@]}" \
    --out "$work/one-nccl" --steps 4
expect_status 0 "one rank through NCCL"
grep -F "gradients summed by NCCL" <<<"$out"
grep -qE "gradients summed by NCCL .* in ([2-9]|[1-9][0-9]+) bucket" <<<"$out" && pass ||
    fail "several buckets announced: $out"
same_state "$work/one/supernet.h5" "$work/one-nccl/supernet.h5" && pass ||
    fail "one rank through NCCL differs from one rank without a sum"

run "${launch[@]}" -np 2 "$bin/prenas-train" "${common[@]}" --out "$work/two" --steps 4
expect_status 0 "two ranks"
if [ "$gpus" -eq 1 ]; then
    grep -F "warning: NCCL is not used" <<<"$err"
    grep -qF "NCCL refuses two ranks on one GPU" <<<"$err" && pass ||
        fail "no warning naming the shared GPU: $err"
else
    expect_out_has "gradients summed by NCCL" "two ranks on two GPUs use NCCL"
fi
same_over_ranks "$work/two" "$work/one" 4
expect_out_has "ok" "2 ranks x 16 = 1 rank x 32 on the GPU (losses and weights): $out $err"
finish
