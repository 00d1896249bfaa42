#!/bin/bash
# --device and --precision as a user meets them: every stage that runs a model lists them;
# an unknown device or precision, tf32 on the CPU, and cuda where no GPU is usable are one-line
# errors (exit 2) with nothing written; auto falls back to the CPU and says why; the recipe's
# device key is validated like any other key.
source "$(dirname "$0")/lib.sh"
start_scratch
micro=$src/configs/spaces/micro.cfg

for stage in score train evaluate search predict specialize bench-step; do
    run "$bin/prenas-$stage" --help
    grep -qF -- "--device" <<<"$out" && pass || fail "prenas-$stage --help lacks --device"
done

run "$bin/prenas-score" --config "$micro" --out "$work/s.h5" --device tpu
expect_status 2 "unknown device"
expect_error_line "--device tpu: expected auto, cpu or cuda" "unknown device"
run "$bin/prenas-score" --config "$micro" --out "$work/s.h5" --device cpu --precision fp16
expect_status 2 "unknown precision"
expect_error_line "--precision fp16: expected fp32, tf32 or bf16" "unknown precision"
run "$bin/prenas-score" --config "$micro" --out "$work/s.h5" --device cpu --precision tf32
expect_status 2 "tf32 on the CPU"
expect_error_line "--precision tf32: TF32 is a GPU tensor-core format" "tf32 on the CPU"
[ ! -e "$work/s.h5" ] && pass || fail "a refused device still wrote its output"
# bf16 on the CPU: oneDNN's AVX512-BF16 products where the CPU has them; where it has not
# (DNNL_MAX_CPU_ISA hides them here), the same run in fp32, and the announcement says why.
run "$bin/prenas-score" --config "$micro" --out "$work/bf16.h5" --device cpu --precision bf16
expect_status 0 "bf16 on the CPU"
if grep -qw avx512_bf16 /proc/cpuinfo; then
    expect_out_has "prenas-score: device cpu, bf16" "bf16 on a CPU with AVX512-BF16"
else
    expect_out_has "prenas-score: device cpu, fp32 (bf16 asked, but" "bf16 without AVX512-BF16"
fi
run env DNNL_MAX_CPU_ISA=AVX512_CORE "$bin/prenas-score" --config "$micro" --out "$work/bf16-off.h5" \
    --device cpu --precision bf16
expect_status 0 "bf16 asked where the CPU has none"
expect_out_has "device cpu, fp32 (bf16 asked, but this CPU has no AVX512-BF16" \
    "bf16 falls back to fp32 and says why"

# On a machine without a usable GPU (CI): cuda is refused with the reason, auto says why it
# chose the CPU. With a GPU both run there (the cuda ctest label covers that machine).
if "$bin/prenas-score" --version | grep -qE "no usable GPU|cuda: not built"; then
    run "$bin/prenas-score" --config "$micro" --out "$work/s.h5" --device cuda
    expect_status 2 "cuda without a GPU"
    expect_error_line "prenas-score: error: --device cuda: " "cuda without a GPU"
    [ ! -e "$work/s.h5" ] && pass || fail "cuda without a GPU still wrote its output"
    run "$bin/prenas-score" --config "$micro" --out "$work/auto.h5"
    expect_status 0 "auto without a GPU"
    expect_out_has "prenas-score: device cpu, fp32" "auto announces the CPU"
fi
run "$bin/prenas-score" --config "$micro" --out "$work/cpu.h5" --device cpu
expect_status 0 "score on the CPU"
expect_out_has "prenas-score: device cpu, fp32" "the device is announced"

fmnist_slice 256 64 64
run "$bin/prenas-train" --config "$micro" --recipe "$src/configs/recipes/micro-fmnist.cfg" \
    --data "$work/data.h5" --sampling space --set batch=16 --set device=tpu --out "$work/run" \
    --steps 1
expect_status 2 "recipe device key"
expect_error_line "device" "the recipe's device key is checked"
run "$bin/prenas-train" --config "$micro" --recipe "$src/configs/recipes/micro-fmnist.cfg" \
    --data "$work/data.h5" --sampling space --set batch=16 --set device=cuda --device cpu \
    --out "$work/run" --steps 2 --set eval.every_epochs=0
expect_status 0 "--device wins over the recipe's key"
expect_out_has "prenas-train: device cpu, fp32" "--device wins over the recipe's key"
finish
