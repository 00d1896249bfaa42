/* The op-parity harness's case list and the code that runs a case on a backend
 * (op_cases.h). Built twice: into prenas-op-parity with `real` = float and into
 * test_gradcheck with `real` = double, so nothing here assumes either. */
#include "op_cases.h"

#include "error.h"
#include "rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* ---- tolerances ----
 *
 * The error of a buffer is max|got - ref| / max|ref| (ref: the CPU backend), so a tolerance
 * is a fraction of the buffer's largest entry, not of each entry: cancellation in one entry
 * does not fail a case, a wrong entry anywhere does.
 *  - exact: copies and integer results have no rounding to differ in; IEEE-754 multiplication
 *    by one factor (scale) is correctly rounded on both sides.
 *  - elementwise: per-entry float arithmetic in a different order or with fused multiply-adds
 *    (nvcc contracts, the CPU build does not), erff against the CPU's polynomial erf (3e-7),
 *    and short per-row float sums (LayerNorm's statistics, its parameter gradients' column
 *    sums over a few hundred rows): errors of a few ulp of the largest entry, 1e-5 leaves
 *    two orders of margin. These ops use no tensor cores, so the precision changes nothing.
 *  - reduction: sums accumulated in double on both sides, in a different order; the float
 *    results (row sums) round once: 1e-6.
 *  - gemm: fp32 products of k terms summed in a different order: about sqrt(k) ulp of terms
 *    whose sum is of the size of the largest entry, 1e-6 at ViT sizes, so 1e-5. TF32 rounds
 *    both operands to 10-bit mantissas (2^-11 relative, 5e-4): 5e-3. bf16 rounds them to
 *    8 bits (2^-9, 2e-3): 3e-2.
 *  - attention: products, a softmax (exp amplifies the scores' absolute error) and the
 *    backward's products of the forward's probabilities: ten times the gemm tolerance at
 *    fp32; at tf32 twice; at bf16 the gemm's (its products may run in bf16 by backend.h's
 *    contract, though this version keeps them in fp32).
 *  - a whole step: 2 x depth blocks of the above, forward then backward; first estimates, to
 *    be calibrated on the first GPU run (the worst tensor is printed with its error). */
static const double TOLERANCES[TOL_CLASSES][3] = {
    /*                   fp32   tf32    bf16 */
    [TOL_EXACT] = {0, 0, 0},
    [TOL_ELEMENTWISE] = {1e-5, 1e-5, 1e-5},
    [TOL_REDUCTION] = {1e-6, 1e-6, 1e-6},
    [TOL_GEMM] = {1e-5, 5e-3, 3e-2},
    [TOL_ATTENTION] = {1e-4, 1e-2, 3e-2},
    [TOL_STEP_OUTPUT] = {1e-4, 2e-2, 5e-2},
    [TOL_STEP_GRAD] = {1e-3, 5e-2, 1.5e-1},
};

double op_tolerance(ToleranceClass tolerance, Precision precision) {
    return TOLERANCES[tolerance][precision];
}

const char *op_precision_name(Precision precision) {
    static const char *const names[] = {"fp32", "tf32", "bf16"};
    return names[precision];
}

/* ---- the cases ----
 *
 * micro (configs/spaces/micro.cfg): supernet embed 80, 5 heads of 16, MLP 320, 28/4 images of
 * one channel (50 tokens, grid 7, R 7), 10 classes; a subnet 64 wide with 3 heads (q/k/v 48)
 * and MLP ratio 3.5 (224). Tiny (vit-tiny.cfg): supernet embed 256, 4 heads of 64, MLP 1024,
 * 224/16 images of three channels (197 tokens, grid 14, R 14), 1000 classes; a subnet 192
 * wide with 3 heads (q/k/v 192) and ratio 4 (768). Rows are batch x tokens: 100 (micro, batch
 * 2) and 394 (Tiny, batch 2). */
/* CASE(name, family, tolerance class, finite-difference entries, shape fields...) */
#define CASE(name, family, tolerance, fd_entries, ...)                                             \
    { name, family, tolerance, {__VA_ARGS__}, fd_entries }

static const OpCase CASES[] = {
    /* matrix products: every transpose pair, alpha/beta, leading slices of larger matrices */
    CASE("gemm NN odd 13x7x33", OP_GEMM, TOL_GEMM, 0, .m = 13, .n = 7, .k = 33, .lda = 33, .ldb = 7,
         .ldc = 7, .alpha = 1, .beta = 0),
    CASE("gemm NN empty k 0 (C = beta C)", OP_GEMM, TOL_GEMM, 0, .m = 3, .n = 4, .k = 0, .lda = 1,
         .ldb = 4, .ldc = 5, .alpha = 1, .beta = 0.5),
    CASE("gemm NN rank one 5x3x1", OP_GEMM, TOL_GEMM, 0, .m = 5, .n = 3, .k = 1, .lda = 1, .ldb = 3,
         .ldc = 3, .alpha = 1, .beta = 1),
    CASE("gemm NT odd slices", OP_GEMM, TOL_GEMM, 0, .m = 7, .n = 13, .k = 33, .lda = 40, .ldb = 35,
         .ldc = 16, .trans_b = true, .alpha = 0.5, .beta = 0.75),
    CASE("gemm TN odd slices", OP_GEMM, TOL_GEMM, 0, .m = 13, .n = 7, .k = 33, .lda = 20, .ldb = 9,
         .ldc = 11, .trans_a = true, .alpha = -1, .beta = 1),
    CASE("gemm TT odd slices", OP_GEMM, TOL_GEMM, 0, .m = 33, .n = 13, .k = 7, .lda = 37, .ldb = 8,
         .ldc = 14, .trans_a = true, .trans_b = true, .alpha = 2, .beta = 0.5),
    CASE("gemm NT micro qkv slice", OP_GEMM, TOL_GEMM, 0, .m = 100, .n = 144, .k = 64, .lda = 64,
         .ldb = 80, .ldc = 144, .trans_b = true, .alpha = 1, .beta = 1),
    CASE("gemm NN micro fc2 dx slice", OP_GEMM, TOL_GEMM, 0, .m = 100, .n = 224, .k = 64, .lda = 64,
         .ldb = 320, .ldc = 224, .alpha = 1, .beta = 0),
    CASE("gemm TN micro fc1 dw slice", OP_GEMM, TOL_GEMM, 0, .m = 224, .n = 64, .k = 100,
         .lda = 224, .ldb = 64, .ldc = 80, .trans_a = true, .alpha = 1, .beta = 1),
    CASE("gemm NT tiny qkv slice", OP_GEMM, TOL_GEMM, 0, .m = 394, .n = 576, .k = 192, .lda = 192,
         .ldb = 256, .ldc = 576, .trans_b = true, .alpha = 1, .beta = 1),
    CASE("gemm TN tiny fc1 dw slice", OP_GEMM, TOL_GEMM, 0, .m = 768, .n = 192, .k = 394,
         .lda = 768, .ldb = 192, .ldc = 256, .trans_a = true, .alpha = 1, .beta = 1),

    /* linear layers on leading slices of the supernet's matrices */
    CASE("linear odd slice 7x5->4 of 6x9", OP_LINEAR, TOL_GEMM, 0, .rows = 7, .in = 5, .out = 4,
         .ldw = 9, .super_rows = 6),
    CASE("linear odd 13x33->7", OP_LINEAR, TOL_GEMM, 0, .rows = 13, .in = 33, .out = 7, .ldw = 33,
         .super_rows = 7),
    CASE("linear micro qkv subnet", OP_LINEAR, TOL_GEMM, 8, .rows = 100, .in = 64, .out = 144,
         .ldw = 80, .super_rows = 240),
    CASE("linear micro fc2 subnet", OP_LINEAR, TOL_GEMM, 8, .rows = 100, .in = 224, .out = 64,
         .ldw = 320, .super_rows = 80),
    CASE("linear micro patch embed (no dx)", OP_LINEAR, TOL_GEMM, 8, .rows = 98, .in = 16,
         .out = 64, .ldw = 16, .super_rows = 80, .no_dx = true),
    CASE("linear micro head", OP_LINEAR, TOL_GEMM, 0, .rows = 4, .in = 80, .out = 10, .ldw = 80,
         .super_rows = 10),
    CASE("linear tiny qkv subnet", OP_LINEAR, TOL_GEMM, 2, .rows = 394, .in = 192, .out = 576,
         .ldw = 256, .super_rows = 768),
    CASE("linear tiny head subnet", OP_LINEAR, TOL_GEMM, 4, .rows = 4, .in = 192, .out = 1000,
         .ldw = 256, .super_rows = 1000),

    /* layer norm: rows x features, with a large mean (inputs in [1, 5)) */
    CASE("layernorm odd 5x6", OP_LAYERNORM, TOL_ELEMENTWISE, 0, .rows = 5, .cols = 6),
    CASE("layernorm odd 13x33", OP_LAYERNORM, TOL_ELEMENTWISE, 0, .rows = 13, .cols = 33),
    CASE("layernorm micro 100x64", OP_LAYERNORM, TOL_ELEMENTWISE, 16, .rows = 100, .cols = 64),
    CASE("layernorm tiny 394x192", OP_LAYERNORM, TOL_ELEMENTWISE, 3, .rows = 394, .cols = 192),

    /* GELU on [-4, 4) */
    CASE("gelu odd 40", OP_GELU, TOL_ELEMENTWISE, 0, .rows = 1, .cols = 40),
    CASE("gelu odd 13x33", OP_GELU, TOL_ELEMENTWISE, 0, .rows = 13, .cols = 33),
    CASE("gelu micro hidden 100x224", OP_GELU, TOL_ELEMENTWISE, 0, .rows = 100, .cols = 224),

    /* patches */
    CASE("patchify micro 28/4 x1", OP_PATCHIFY, TOL_EXACT, 0, .batch = 2, .channels = 1,
         .image_size = 28, .patch = 4),
    CASE("patchify odd 21/3 x2", OP_PATCHIFY, TOL_EXACT, 0, .batch = 3, .channels = 2,
         .image_size = 21, .patch = 3),
    CASE("patchify tiny 224/16 x3", OP_PATCHIFY, TOL_EXACT, 0, .batch = 2, .channels = 3,
         .image_size = 224, .patch = 16),

    /* tokens: cls and pos are rows of the supernet's width ld_pos */
    CASE("tokens odd slice", OP_TOKENS, TOL_ELEMENTWISE, 0, .batch = 3, .tokens = 5, .dim = 4,
         .ld_pos = 6),
    CASE("tokens micro subnet", OP_TOKENS, TOL_ELEMENTWISE, 16, .batch = 2, .tokens = 50, .dim = 64,
         .ld_pos = 80),
    CASE("tokens tiny subnet", OP_TOKENS, TOL_ELEMENTWISE, 3, .batch = 2, .tokens = 197, .dim = 192,
         .ld_pos = 256),

    /* pooling */
    CASE("pool mean odd", OP_POOL, TOL_ELEMENTWISE, 0, .batch = 3, .tokens = 5, .dim = 4),
    CASE("pool class odd", OP_POOL, TOL_ELEMENTWISE, 0, .batch = 3, .tokens = 5, .dim = 4,
         .class_token = true),
    CASE("pool mean micro", OP_POOL, TOL_ELEMENTWISE, 16, .batch = 4, .tokens = 50, .dim = 80),
    CASE("pool class micro", OP_POOL, TOL_ELEMENTWISE, 16, .batch = 4, .tokens = 50, .dim = 80,
         .class_token = true),
    CASE("pool mean tiny", OP_POOL, TOL_ELEMENTWISE, 3, .batch = 2, .tokens = 197, .dim = 192),

    /* q/k/v interleaving */
    CASE("qkv odd 4x6", OP_QKV, TOL_EXACT, 0, .rows = 4, .cols = 6),
    CASE("qkv odd 13x7", OP_QKV, TOL_EXACT, 0, .rows = 13, .cols = 7),
    CASE("qkv micro 100x48", OP_QKV, TOL_EXACT, 16, .rows = 100, .cols = 48),
    CASE("qkv tiny 394x192", OP_QKV, TOL_EXACT, 3, .rows = 394, .cols = 192),

    /* attention: clipped relative positions where R < grid - 1 */
    CASE("attention clipped grid 4 R 1", OP_ATTENTION, TOL_ATTENTION, 0, .batch = 2, .grid = 4,
         .heads = 2, .head_dim = 3, .radius = 1),
    CASE("attention odd grid 5 R 2 hd 7", OP_ATTENTION, TOL_ATTENTION, 16, .batch = 1, .grid = 5,
         .heads = 3, .head_dim = 7, .radius = 2),
    CASE("attention micro clipped R 3", OP_ATTENTION, TOL_ATTENTION, 6, .batch = 2, .grid = 7,
         .heads = 2, .head_dim = 16, .radius = 3),
    CASE("attention micro supernet b2 h5", OP_ATTENTION, TOL_ATTENTION, 4, .batch = 2, .grid = 7,
         .heads = 5, .head_dim = 16, .radius = 7),
    CASE("attention micro subnet b4 h3", OP_ATTENTION, TOL_ATTENTION, 3, .batch = 4, .grid = 7,
         .heads = 3, .head_dim = 16, .radius = 7),
    CASE("attention tiny b2 h3", OP_ATTENTION, TOL_ATTENTION, 3, .batch = 2, .grid = 14, .heads = 3,
         .head_dim = 64, .radius = 14),

    /* residual stream: tokens = rows per sample */
    CASE("residual odd", OP_RESIDUAL, TOL_ELEMENTWISE, 0, .batch = 3, .tokens = 2, .dim = 4),
    CASE("residual odd drop path", OP_RESIDUAL, TOL_ELEMENTWISE, 0, .batch = 3, .tokens = 2,
         .dim = 4, .drop_path = true),
    CASE("residual micro drop path", OP_RESIDUAL, TOL_ELEMENTWISE, 16, .batch = 4, .tokens = 50,
         .dim = 64, .drop_path = true),
    CASE("residual micro in place", OP_RESIDUAL, TOL_ELEMENTWISE, 0, .batch = 4, .tokens = 50,
         .dim = 80, .drop_path = true, .in_place = true),
    CASE("residual tiny", OP_RESIDUAL, TOL_ELEMENTWISE, 3, .batch = 2, .tokens = 197, .dim = 192),

    /* loss */
    CASE("soft targets mixed 4x5", OP_SOFT_TARGETS, TOL_ELEMENTWISE, 0, .batch = 4, .classes = 5,
         .mix = true, .smoothing = 0.1),
    CASE("soft targets micro 8x10", OP_SOFT_TARGETS, TOL_ELEMENTWISE, 0, .batch = 8, .classes = 10,
         .smoothing = 0.1),
    CASE("soft targets tiny mixed 4x1000", OP_SOFT_TARGETS, TOL_ELEMENTWISE, 0, .batch = 4,
         .classes = 1000, .mix = true, .smoothing = 0.1),
    CASE("cross-entropy mixed 4x5", OP_CROSS_ENTROPY, TOL_ELEMENTWISE, 0, .batch = 4, .classes = 5,
         .mix = true, .smoothing = 0.1),
    CASE("cross-entropy micro 8x10", OP_CROSS_ENTROPY, TOL_ELEMENTWISE, 0, .batch = 8,
         .classes = 10, .smoothing = 0.1),
    CASE("cross-entropy plain 13x7", OP_CROSS_ENTROPY, TOL_ELEMENTWISE, 0, .batch = 13,
         .classes = 7),
    CASE("cross-entropy tiny mixed 4x1000", OP_CROSS_ENTROPY, TOL_ELEMENTWISE, 16, .batch = 4,
         .classes = 1000, .mix = true, .smoothing = 0.1),
    CASE("row sums micro 8x10", OP_ROW_SUMS, TOL_REDUCTION, 0, .rows = 8, .cols = 10),
    CASE("row sums odd 13x33", OP_ROW_SUMS, TOL_REDUCTION, 0, .rows = 13, .cols = 33),
    CASE("row sums tiny 4x1000", OP_ROW_SUMS, TOL_REDUCTION, 0, .rows = 4, .cols = 1000),
    CASE("label ranks micro 8x10 nonfinite", OP_LABEL_RANKS, TOL_EXACT, 0, .batch = 8,
         .classes = 10),
    CASE("label ranks tiny 7x1000 nonfinite", OP_LABEL_RANKS, TOL_EXACT, 0, .batch = 7,
         .classes = 1000),

    /* optimiser: rows x cols entries in segments, decay alternating */
    CASE("adamw 3 segments", OP_ADAMW, TOL_ELEMENTWISE, 0, .rows = 1, .cols = 1000, .segments = 3),
    CASE("adamw 5 segments with gaps", OP_ADAMW, TOL_ELEMENTWISE, 0, .rows = 1, .cols = 333,
         .segments = 5, .gap = true),
    CASE("adamw arena 40 segments", OP_ADAMW, TOL_ELEMENTWISE, 0, .rows = 100, .cols = 1003,
         .segments = 40),

    /* arena-wide element-wise ops and reductions */
    CASE("fill odd 33", OP_FILL, TOL_EXACT, 0, .rows = 1, .cols = 33, .value = 0.25),
    CASE("fill 100003", OP_FILL, TOL_EXACT, 0, .rows = 1, .cols = 100003, .value = -3.5),
    CASE("scale odd 33", OP_SCALE, TOL_EXACT, 0, .rows = 1, .cols = 33, .value = 1.0 / 3),
    CASE("scale 100003", OP_SCALE, TOL_EXACT, 0, .rows = 1, .cols = 100003, .value = 0.5),
    CASE("sum odd 7", OP_SUM, TOL_REDUCTION, 0, .rows = 1, .cols = 7),
    CASE("sum 100003", OP_SUM, TOL_REDUCTION, 0, .rows = 1, .cols = 100003),
    CASE("sum 1000003", OP_SUM, TOL_REDUCTION, 0, .rows = 1, .cols = 1000003),
    CASE("sum squares odd 33", OP_SUM_SQUARES, TOL_REDUCTION, 0, .rows = 1, .cols = 33),
    CASE("sum squares 1000003", OP_SUM_SQUARES, TOL_REDUCTION, 0, .rows = 1, .cols = 1000003),
    CASE("count nonfinite odd 7", OP_COUNT_NONFINITE, TOL_EXACT, 0, .rows = 1, .cols = 7),
    CASE("count nonfinite 100003", OP_COUNT_NONFINITE, TOL_EXACT, 0, .rows = 1, .cols = 100003),
    CASE("sum abs product odd 13x7 ld 33", OP_SUM_ABS_PRODUCT, TOL_REDUCTION, 0, .rows = 13,
         .cols = 7, .ld = 33),
    CASE("sum abs product micro 240x64 ld 80", OP_SUM_ABS_PRODUCT, TOL_REDUCTION, 0, .rows = 240,
         .cols = 64, .ld = 80),
    CASE("sum abs odd 13x7 ld 33", OP_SUM_ABS, TOL_REDUCTION, 0, .rows = 13, .cols = 7, .ld = 33),
    CASE("sum abs tiny 768x192 ld 256", OP_SUM_ABS, TOL_REDUCTION, 0, .rows = 768, .cols = 192,
         .ld = 256),

    /* The CNN family. Micro CNN: 28 x 28 single-channel images, a stride-2 stem to 14 x 14,
     * MBConv blocks of 8 to 64 channels (expansions to 96), kernels 3 or 5 (5 x 5 supernet
     * kernels cropped to 3 x 3), batch 2 to 4; every weight a view of a larger supernet
     * tensor. The small odd cases check every entry of the supernet weight's gradient (fd 1000:
     * all), so a write outside the view is seen. */
    CASE("conv odd 3x3 of 5x5 s1 7x7 3->4 of 5->6", OP_CONV, TOL_GEMM, 1000, .batch = 2,
         .height = 7, .width = 7, .cin = 3, .cout = 4, .kernel = 3, .stride = 1, .super_cin = 5,
         .super_cout = 6, .super_kernel = 5),
    CASE("conv odd 5x5 s2 13x13 4->5 of 6->8", OP_CONV, TOL_GEMM, 64, .batch = 2, .height = 13,
         .width = 13, .cin = 4, .cout = 5, .kernel = 5, .stride = 2, .super_cin = 6,
         .super_cout = 8, .super_kernel = 5),
    CASE("conv odd pointwise s2 13x7 5->3 of 7->4", OP_CONV, TOL_GEMM, 1000, .batch = 3,
         .height = 13, .width = 7, .cin = 5, .cout = 3, .kernel = 1, .stride = 2, .super_cin = 7,
         .super_cout = 4, .super_kernel = 1),
    CASE("depthwise odd 3x3 of 5x5 s2 13x13 6 of 9", OP_CONV, TOL_GEMM, 1000, .batch = 3,
         .height = 13, .width = 13, .cin = 6, .cout = 6, .kernel = 3, .stride = 2,
         .depthwise = true, .super_cin = 1, .super_cout = 9, .super_kernel = 5),
    CASE("depthwise odd 5x5 s1 7x7 5 of 5", OP_CONV, TOL_GEMM, 0, .batch = 2, .height = 7,
         .width = 7, .cin = 5, .cout = 5, .kernel = 5, .stride = 1, .depthwise = true,
         .super_cin = 1, .super_cout = 5, .super_kernel = 5),
    CASE("conv micro stem 3x3 s2 28x28 1->16 of 24 (no dx)", OP_CONV, TOL_GEMM, 16, .batch = 2,
         .height = 28, .width = 28, .cin = 1, .cout = 16, .kernel = 3, .stride = 2, .super_cin = 1,
         .super_cout = 24, .super_kernel = 3, .no_dx = true),
    CASE("conv micro 3x3 of 5x5 s2 28x28 8->16 of 16->24", OP_CONV, TOL_GEMM, 6, .batch = 2,
         .height = 28, .width = 28, .cin = 8, .cout = 16, .kernel = 3, .stride = 2, .super_cin = 16,
         .super_cout = 24, .super_kernel = 5),
    CASE("conv micro pointwise 14x14 16->64 of 24->96", OP_CONV, TOL_GEMM, 6, .batch = 4,
         .height = 14, .width = 14, .cin = 16, .cout = 64, .kernel = 1, .stride = 1,
         .super_cin = 24, .super_cout = 96, .super_kernel = 1),
    CASE("conv micro pointwise 14x14 64->24 of 96->32", OP_CONV, TOL_GEMM, 6, .batch = 4,
         .height = 14, .width = 14, .cin = 64, .cout = 24, .kernel = 1, .stride = 1,
         .super_cin = 96, .super_cout = 32, .super_kernel = 1),
    CASE("depthwise micro 3x3 of 5x5 s2 28x28 32 of 48", OP_CONV, TOL_GEMM, 6, .batch = 2,
         .height = 28, .width = 28, .cin = 32, .cout = 32, .kernel = 3, .stride = 2,
         .depthwise = true, .super_cin = 1, .super_cout = 48, .super_kernel = 5),
    CASE("depthwise micro 5x5 s1 14x14 64 of 96", OP_CONV, TOL_GEMM, 6, .batch = 4, .height = 14,
         .width = 14, .cin = 64, .cout = 64, .kernel = 5, .stride = 1, .depthwise = true,
         .super_cin = 1, .super_cout = 96, .super_kernel = 5),

    /* batch norm on leading channels; inputs in [1, 5): a large mean */
    CASE("batchnorm odd 2x5 of 8 7x7", OP_BATCHNORM, TOL_ELEMENTWISE, 0, .batch = 2, .channels = 5,
         .super_channels = 8, .height = 7, .width = 7, .momentum = 0.1),
    CASE("batchnorm odd 3x3 of 4 13x13", OP_BATCHNORM, TOL_ELEMENTWISE, 0, .batch = 3,
         .channels = 3, .super_channels = 4, .height = 13, .width = 13, .momentum = 0.01),
    CASE("batchnorm micro 2x16 of 24 28x28", OP_BATCHNORM, TOL_ELEMENTWISE, 8, .batch = 2,
         .channels = 16, .super_channels = 24, .height = 28, .width = 28, .momentum = 0.1),
    CASE("batchnorm micro 4x64 of 96 14x14", OP_BATCHNORM, TOL_ELEMENTWISE, 8, .batch = 4,
         .channels = 64, .super_channels = 96, .height = 14, .width = 14, .momentum = 0.1),
    CASE("batchnorm eval odd 3x5 of 8 7x7", OP_BATCHNORM_EVAL, TOL_ELEMENTWISE, 0, .batch = 3,
         .channels = 5, .super_channels = 8, .height = 7, .width = 7),
    CASE("batchnorm eval micro 4x64 of 96 14x14", OP_BATCHNORM_EVAL, TOL_ELEMENTWISE, 0, .batch = 4,
         .channels = 64, .super_channels = 96, .height = 14, .width = 14),
    CASE("batchnorm recalibrate 3 batches odd 2x5 of 8", OP_BATCHNORM_RECALIBRATE, TOL_ELEMENTWISE,
         0, .batch = 2, .channels = 5, .super_channels = 8, .height = 7, .width = 7, .batches = 3),
    CASE("batchnorm recalibrate 4 batches micro 4x32 of 48", OP_BATCHNORM_RECALIBRATE,
         TOL_ELEMENTWISE, 0, .batch = 4, .channels = 32, .super_channels = 48, .height = 14,
         .width = 14, .batches = 4),

    /* activations: SiLU on [-6, 6), ReLU6 on [-2, 8) (both bounds inside); rows x cols */
    CASE("silu odd 13x33", OP_SILU, TOL_ELEMENTWISE, 0, .rows = 13, .cols = 33),
    CASE("silu micro 4x64x14x14", OP_SILU, TOL_ELEMENTWISE, 16, .rows = 256, .cols = 196),
    CASE("relu6 odd 13x33", OP_RELU6, TOL_ELEMENTWISE, 0, .rows = 13, .cols = 33),
    CASE("relu6 micro 4x64x14x14", OP_RELU6, TOL_ELEMENTWISE, 16, .rows = 256, .cols = 196),

    /* global average pooling and squeeze-and-excitation gating */
    CASE("global pool odd 3x5 7x7", OP_GLOBAL_POOL, TOL_ELEMENTWISE, 0, .batch = 3, .channels = 5,
         .height = 7, .width = 7),
    CASE("global pool micro 4x96 7x7", OP_GLOBAL_POOL, TOL_ELEMENTWISE, 16, .batch = 4,
         .channels = 96, .height = 7, .width = 7),
    CASE("channel scale odd 3x5 13x13", OP_CHANNEL_SCALE, TOL_ELEMENTWISE, 0, .batch = 3,
         .channels = 5, .height = 13, .width = 13),
    CASE("channel scale micro 4x64 14x14", OP_CHANNEL_SCALE, TOL_ELEMENTWISE, 16, .batch = 4,
         .channels = 64, .height = 14, .width = 14),

    /* the batch resize to a sampled resolution (configs/spaces/cnn-micro.cfg: 24, 28, 32 from
     * Fashion-MNIST's 28; BigNAS: 192 to 320 from 320), odd sizes both ways, non-square maps,
     * one axis unchanged, and the identity (a copy). Exact: every product is exact in double
     * and each sum rounds once in a fixed order (kernels/cpu/resize.c), so fused multiply-adds
     * change nothing */
    CASE("resize micro up 28->32 x1", OP_RESIZE, TOL_EXACT, 0, .batch = 4, .channels = 1,
         .height = 28, .width = 28, .out_h = 32, .out_w = 32),
    CASE("resize micro down 28->24 x1", OP_RESIZE, TOL_EXACT, 0, .batch = 4, .channels = 1,
         .height = 28, .width = 28, .out_h = 24, .out_w = 24),
    CASE("resize micro identity 28 x1", OP_RESIZE, TOL_EXACT, 0, .batch = 4, .channels = 1,
         .height = 28, .width = 28, .out_h = 28, .out_w = 28),
    CASE("resize bignas down 320->192 x3", OP_RESIZE, TOL_EXACT, 0, .batch = 2, .channels = 3,
         .height = 320, .width = 320, .out_h = 192, .out_w = 192),
    CASE("resize odd down 13->7 x2", OP_RESIZE, TOL_EXACT, 0, .batch = 3, .channels = 2,
         .height = 13, .width = 13, .out_h = 7, .out_w = 7),
    CASE("resize odd up 7->13 x2", OP_RESIZE, TOL_EXACT, 0, .batch = 3, .channels = 2, .height = 7,
         .width = 7, .out_h = 13, .out_w = 13),
    CASE("resize non-square 13x28->24x9 x3", OP_RESIZE, TOL_EXACT, 0, .batch = 2, .channels = 3,
         .height = 13, .width = 28, .out_h = 24, .out_w = 9),
    CASE("resize one axis 28x20->28x33 x1", OP_RESIZE, TOL_EXACT, 0, .batch = 2, .channels = 1,
         .height = 28, .width = 20, .out_h = 28, .out_w = 33),
};

#undef CASE

int op_case_count(void) {
    return (int)(sizeof CASES / sizeof CASES[0]);
}

const OpCase *op_case(int i) {
    return &CASES[i];
}

const char *op_family_name(OpFamily family) {
    static const char *const names[OP_FAMILIES] = {
        [OP_GEMM] = "gemm",
        [OP_LINEAR] = "linear",
        [OP_LAYERNORM] = "layernorm",
        [OP_GELU] = "gelu",
        [OP_PATCHIFY] = "patchify",
        [OP_TOKENS] = "tokens",
        [OP_POOL] = "pool",
        [OP_QKV] = "qkv",
        [OP_ATTENTION] = "attention",
        [OP_RESIDUAL] = "residual",
        [OP_SOFT_TARGETS] = "soft_targets",
        [OP_CROSS_ENTROPY] = "cross_entropy",
        [OP_ROW_SUMS] = "row_sums",
        [OP_LABEL_RANKS] = "label_ranks",
        [OP_ADAMW] = "adamw",
        [OP_FILL] = "fill",
        [OP_SCALE] = "scale",
        [OP_SUM] = "sum",
        [OP_SUM_SQUARES] = "sum_squares",
        [OP_COUNT_NONFINITE] = "count_nonfinite",
        [OP_SUM_ABS_PRODUCT] = "sum_abs_product",
        [OP_SUM_ABS] = "sum_abs",
        [OP_CONV] = "conv2d",
        [OP_BATCHNORM] = "batchnorm",
        [OP_BATCHNORM_EVAL] = "batchnorm_eval",
        [OP_BATCHNORM_RECALIBRATE] = "batchnorm_recalibrate",
        [OP_SILU] = "silu",
        [OP_RELU6] = "relu6",
        [OP_GLOBAL_POOL] = "global_avg_pool",
        [OP_CHANNEL_SCALE] = "channel_scale",
        [OP_RESIZE] = "resize_bilinear",
    };
    return names[family];
}

/* ---- layouts ---- */

static int add_buffer(OpLayout *l, const char *name, BufferKind kind, BufferRole role, size_t count,
                      double lo, double hi) {
    if (l->count == OP_MAX_BUFFERS) fatal_at(__FILE__, __LINE__, "too many buffers in a case");
    OpBuffer *b = &l->b[l->count];
    *b = (OpBuffer){.kind = kind, .role = role, .count = count, .lo = lo, .hi = hi, .pair = -1};
    snprintf(b->name, sizeof b->name, "%s", name);
    return l->count++;
}

static int input(OpLayout *l, const char *name, size_t count, double lo, double hi) {
    return add_buffer(l, name, BUF_REAL, ROLE_INPUT, count, lo, hi);
}

/* Outputs start as random values, identical on both backends: an entry one backend forgets
 * to write then differs from the other's. */
static int output(OpLayout *l, const char *name, size_t count) {
    return add_buffer(l, name, BUF_REAL, ROLE_OUTPUT, count, -1, 1);
}

static int upstream(OpLayout *l, const char *name, int of_output) {
    const int i = add_buffer(l, name, BUF_REAL, ROLE_UPSTREAM, l->b[of_output].count, -1, 1);
    l->b[i].pair = of_output;
    return i;
}

static int gradient(OpLayout *l, const char *name, int of_input, bool accumulates) {
    const int i = add_buffer(l, name, BUF_REAL, ROLE_GRADIENT, l->b[of_input].count, -1, 1);
    l->b[i].pair = of_input;
    l->b[i].accumulates = accumulates;
    return i;
}

static int result(OpLayout *l, const char *name) {
    return add_buffer(l, name, BUF_RESULT, ROLE_OUTPUT, 1, 0, 0);
}

static AttentionShape attention_shape(const OpShape *s) {
    return (AttentionShape){.batch = s->batch,
                            .tokens = 1 + s->grid * s->grid,
                            .heads = s->heads,
                            .head_dim = s->head_dim,
                            .grid = s->grid,
                            .max_relative_position = s->radius,
                            .scale = 1 / sqrt((double)s->head_dim),
#ifdef _OPENMP
                            .threads = omp_get_max_threads()
#else
                            .threads = 1
#endif
    };
}

static ConvShape conv_shape(const OpShape *s) {
    return (ConvShape){.batch = s->batch,
                       .height = s->height,
                       .width = s->width,
                       .in_channels = s->cin,
                       .out_channels = s->cout,
                       .kernel = s->kernel,
                       .stride = s->stride,
                       .depthwise = s->depthwise,
                       .weight_in = s->super_cin,
                       .weight_kernel = s->super_kernel};
}

static BatchNormShape batchnorm_shape(const OpShape *s) {
    return (BatchNormShape){s->batch, s->channels, s->height, s->width, 1e-5};
}

/* Batch norm's per-channel parameters and running statistics, super_channels long (the
 * variances positive); the running ones are updated in place by the training forward. Returns
 * gamma's index; beta's is the next. */
static int batchnorm_parameters(OpLayout *l, const OpShape *s, BufferRole running) {
    const int gamma = input(l, "gamma", (size_t)s->super_channels, -1, 1);
    input(l, "beta", (size_t)s->super_channels, -1, 1);
    add_buffer(l, "running_mean", BUF_REAL, running, (size_t)s->super_channels, -1, 1);
    add_buffer(l, "running_var", BUF_REAL, running, (size_t)s->super_channels, 0.5, 1.5);
    return gamma;
}

void op_case_layout(const OpCase *c, const Backend *be, OpLayout *l) {
    const OpShape *s = &c->s;
    l->count = 0;
    const size_t n = (size_t)s->rows * s->cols;
    switch (c->family) {
    case OP_GEMM: {
        const size_t rows_a = s->trans_a ? s->k : s->m, rows_b = s->trans_b ? s->n : s->k;
        input(l, "a", rows_a * s->lda, -1, 1);
        input(l, "b", rows_b * s->ldb, -1, 1);
        output(l, "c", (size_t)s->m * s->ldc);
        break;
    }
    case OP_LINEAR: {
        const int x = input(l, "x", (size_t)s->rows * s->in, -1, 1);
        const int w = input(l, "w", (size_t)s->super_rows * s->ldw, -1, 1);
        const int b = input(l, "b", (size_t)s->super_rows, -1, 1);
        const int y = output(l, "y", (size_t)s->rows * s->out);
        upstream(l, "dy", y);
        if (!s->no_dx) gradient(l, "dx", x, false);
        gradient(l, "dw", w, true);
        gradient(l, "db", b, true);
        break;
    }
    case OP_LAYERNORM: {
        const int x = input(l, "x", n, 1, 5); /* a large mean */
        const int gamma = input(l, "gamma", (size_t)s->cols, -1, 1);
        const int beta = input(l, "beta", (size_t)s->cols, -1, 1);
        const int y = output(l, "y", n);
        output(l, "mean", (size_t)s->rows);
        output(l, "rstd", (size_t)s->rows);
        upstream(l, "dy", y);
        gradient(l, "dx", x, true);
        gradient(l, "dgamma", gamma, true);
        gradient(l, "dbeta", beta, true);
        break;
    }
    case OP_GELU: {
        const int x = input(l, "x", n, -4, 4);
        upstream(l, "dy", output(l, "y", n));
        gradient(l, "dx", x, false);
        break;
    }
    case OP_PATCHIFY: {
        const size_t grid = (size_t)(s->image_size / s->patch);
        input(l, "images", (size_t)s->batch * s->channels * s->image_size * s->image_size, -1, 1);
        output(l, "patches", (size_t)s->batch * grid * grid * s->channels * s->patch * s->patch);
        break;
    }
    case OP_TOKENS: {
        const int embedded =
            input(l, "embedded", (size_t)s->batch * (s->tokens - 1) * s->dim, -1, 1);
        const int cls = input(l, "cls", (size_t)s->ld_pos, -1, 1);
        const int pos = input(l, "pos", (size_t)s->tokens * s->ld_pos, -1, 1);
        upstream(l, "dx", output(l, "x", (size_t)s->batch * s->tokens * s->dim));
        gradient(l, "dembedded", embedded, false);
        gradient(l, "dcls", cls, true);
        gradient(l, "dpos", pos, true);
        break;
    }
    case OP_POOL: {
        const int x = input(l, "x", (size_t)s->batch * s->tokens * s->dim, -1, 1);
        upstream(l, "dout", output(l, "out", (size_t)s->batch * s->dim));
        gradient(l, "dx", x, false);
        break;
    }
    case OP_QKV: {
        const int qkv = input(l, "qkv", 3 * n, -1, 1);
        upstream(l, "dq", output(l, "q", n));
        upstream(l, "dk", output(l, "k", n));
        upstream(l, "dv", output(l, "v", n));
        gradient(l, "dqkv", qkv, false);
        break;
    }
    case OP_ATTENTION: {
        const AttentionShape shape = attention_shape(s);
        const size_t qkv = (size_t)s->batch * shape.tokens * s->heads * s->head_dim;
        const size_t table = (size_t)(2 * s->radius + 2) * s->head_dim;
        const int q = input(l, "q", qkv, -1, 1), k = input(l, "k", qkv, -1, 1),
                  v = input(l, "v", qkv, -1, 1);
        const int key_v = input(l, "key_v", table, -1, 1), key_h = input(l, "key_h", table, -1, 1),
                  value_v = input(l, "value_v", table, -1, 1),
                  value_h = input(l, "value_h", table, -1, 1);
        const int out = output(l, "out", qkv);
        output(l, "probs", (size_t)s->batch * s->heads * shape.tokens * shape.tokens);
        add_buffer(l, "workspace", BUF_SCRATCH, ROLE_SCRATCH,
                   be->ops->attention_workspace_size(be, &shape), 0, 0);
        upstream(l, "dout", out);
        gradient(l, "dq", q, false);
        gradient(l, "dk", k, false);
        gradient(l, "dv", v, false);
        gradient(l, "dkey_v", key_v, true);
        gradient(l, "dkey_h", key_h, true);
        gradient(l, "dvalue_v", value_v, true);
        gradient(l, "dvalue_h", value_h, true);
        break;
    }
    case OP_RESIDUAL: {
        const size_t count = (size_t)s->batch * s->tokens * s->dim;
        if (s->in_place) {
            output(l, "x", count); /* read and overwritten */
            input(l, "branch", count, -1, 1);
            if (s->drop_path) input(l, "scale", (size_t)s->batch, 0, 0);
            break;
        }
        input(l, "x", count, -1, 1);
        const int branch = input(l, "branch", count, -1, 1);
        if (s->drop_path) input(l, "scale", (size_t)s->batch, 0, 0); /* op_case_init */
        upstream(l, "dout", output(l, "out", count));
        gradient(l, "dbranch", branch, false);
        break;
    }
    case OP_SOFT_TARGETS:
    case OP_CROSS_ENTROPY: {
        const size_t count = (size_t)s->batch * s->classes;
        add_buffer(l, "label_a", BUF_INT, ROLE_INPUT, (size_t)s->batch, 0, s->classes);
        if (s->mix) {
            add_buffer(l, "label_b", BUF_INT, ROLE_INPUT, (size_t)s->batch, 0, s->classes);
            input(l, "mix", (size_t)s->batch, 0, 1);
        }
        if (c->family == OP_SOFT_TARGETS) {
            output(l, "targets", count);
            break;
        }
        const int logits = input(l, "logits", count, -3, 3);
        output(l, "targets", count);
        const int loss = output(l, "loss", (size_t)s->batch);
        output(l, "probs", count);
        upstream(l, "dloss", loss); /* the constant 1/batch (op_case_init): a mean loss */
        gradient(l, "dlogits", logits, false);
        break;
    }
    case OP_ROW_SUMS:
        input(l, "x", n, -1, 1);
        output(l, "out", (size_t)s->rows);
        break;
    case OP_LABEL_RANKS:
        input(l, "logits", (size_t)s->batch * s->classes, -3, 3);
        add_buffer(l, "labels", BUF_INT, ROLE_INPUT, (size_t)s->batch, 0, s->classes);
        add_buffer(l, "rank", BUF_INT, ROLE_OUTPUT, (size_t)s->batch, -5, 5);
        break;
    case OP_ADAMW:
        output(l, "param", n);
        input(l, "grad", n, -1, 1);
        add_buffer(l, "m", BUF_REAL, ROLE_OUTPUT, n, -0.1, 0.1);
        add_buffer(l, "v", BUF_REAL, ROLE_OUTPUT, n, 0, 0.01);
        add_buffer(l, "segments", BUF_SEGMENTS, ROLE_INPUT, (size_t)s->segments, 0, 0);
        break;
    case OP_FILL:
    case OP_SCALE:
        output(l, "x", n);
        break;
    case OP_SUM:
    case OP_SUM_SQUARES:
    case OP_COUNT_NONFINITE:
        input(l, "x", n, -1, 1);
        result(l, "result");
        break;
    case OP_SUM_ABS_PRODUCT:
        input(l, "a", (size_t)s->rows * s->ld, -1, 1);
        input(l, "b", (size_t)s->rows * s->ld, -1, 1);
        result(l, "result");
        break;
    case OP_SUM_ABS:
        input(l, "a", (size_t)s->rows * s->ld, -1, 1);
        result(l, "result");
        break;
    case OP_CONV: {
        const size_t out_h = (size_t)conv_output_size(s->height, s->kernel, s->stride);
        const size_t out_w = (size_t)conv_output_size(s->width, s->kernel, s->stride);
        const int x = input(l, "x", (size_t)s->batch * s->cin * s->height * s->width, -1, 1);
        const int w =
            input(l, "w", (size_t)s->super_cout * s->super_cin * s->super_kernel * s->super_kernel,
                  -1, 1);
        upstream(l, "dy", output(l, "y", (size_t)s->batch * s->cout * out_h * out_w));
        if (!s->no_dx) gradient(l, "dx", x, false);
        gradient(l, "dw", w, true);
        break;
    }
    case OP_BATCHNORM:
    case OP_BATCHNORM_EVAL:
    case OP_BATCHNORM_RECALIBRATE: {
        const size_t count = (size_t)s->batch * s->channels * s->height * s->width;
        const size_t batches = c->family == OP_BATCHNORM_RECALIBRATE ? (size_t)s->batches : 1;
        const int x = input(l, "x", batches * count, 1, 5);
        if (c->family == OP_BATCHNORM_EVAL) {
            batchnorm_parameters(l, s, ROLE_INPUT);
            output(l, "y", count);
            break;
        }
        const int gamma = batchnorm_parameters(l, s, ROLE_OUTPUT);
        const int y = output(l, "y", batches * count);
        output(l, "mean", (size_t)s->channels);
        output(l, "rstd", (size_t)s->channels);
        if (c->family == OP_BATCHNORM_RECALIBRATE) break;
        upstream(l, "dy", y);
        gradient(l, "dx", x, false);
        gradient(l, "dgamma", gamma, true);
        gradient(l, "dbeta", gamma + 1, true);
        break;
    }
    case OP_SILU:
    case OP_RELU6: {
        const int x = c->family == OP_SILU ? input(l, "x", n, -6, 6) : input(l, "x", n, -2, 8);
        upstream(l, "dy", output(l, "y", n));
        gradient(l, "dx", x, false);
        break;
    }
    case OP_GLOBAL_POOL: {
        const size_t planes = (size_t)s->batch * s->channels;
        const int x = input(l, "x", planes * s->height * s->width, -1, 1);
        upstream(l, "dy", output(l, "y", planes));
        gradient(l, "dx", x, false);
        break;
    }
    case OP_CHANNEL_SCALE: {
        const size_t planes = (size_t)s->batch * s->channels;
        const int x = input(l, "x", planes * s->height * s->width, -1, 1);
        const int gate = input(l, "gate", planes, -3, 3);
        upstream(l, "dy", output(l, "y", planes * s->height * s->width));
        gradient(l, "dx", x, false);
        gradient(l, "dgate", gate, false);
        break;
    }
    case OP_RESIZE: {
        const size_t planes = (size_t)s->batch * s->channels;
        input(l, "x", planes * s->height * s->width, -1, 1);
        output(l, "y", planes * s->out_h * s->out_w);
        break;
    }
    case OP_FAMILIES:
        fatal_at(__FILE__, __LINE__, "no such op family");
    }
}

bool op_case_supported(const OpCase *c, const Backend *be) {
    const BackendOps *o = be->ops;
    switch (c->family) {
    case OP_CONV:
        return o->conv2d_forward && o->conv2d_backward;
    case OP_BATCHNORM:
        return o->batchnorm_forward_train && o->batchnorm_backward;
    case OP_BATCHNORM_EVAL:
        return o->batchnorm_forward_eval != NULL;
    case OP_BATCHNORM_RECALIBRATE:
        return o->batchnorm_recalibrate != NULL;
    case OP_SILU:
        return o->silu_forward && o->silu_backward;
    case OP_RELU6:
        return o->relu6_forward && o->relu6_backward;
    case OP_GLOBAL_POOL:
        return o->global_avg_pool_forward && o->global_avg_pool_backward;
    case OP_CHANNEL_SCALE:
        return o->channel_scale_forward && o->channel_scale_backward;
    case OP_RESIZE:
        return o->resize_bilinear != NULL;
    default: /* the ViT's op set: every backend has it */
        return true;
    }
}

bool op_case_has_backward(const OpLayout *l) {
    for (int i = 0; i < l->count; i++)
        if (l->b[i].role == ROLE_GRADIENT) return true;
    return false;
}

size_t op_buffer_entry_size(const OpBuffer *b) {
    switch (b->kind) {
    case BUF_INT:
        return sizeof(int);
    case BUF_SEGMENTS:
        return sizeof(AdamWSegment);
    case BUF_RESULT:
        return sizeof(double);
    case BUF_REAL:
    case BUF_SCRATCH:
        break;
    }
    return sizeof(real);
}

/* ---- host arrays and their contents ---- */

void op_host_alloc(const OpLayout *l, void **host) {
    for (int i = 0; i < l->count; i++)
        host[i] = xcalloc(l->b[i].count ? l->b[i].count : 1, op_buffer_entry_size(&l->b[i]));
}

void op_host_free(const OpLayout *l, void **host) {
    for (int i = 0; i < l->count; i++) {
        free(host[i]);
        host[i] = NULL;
    }
}

static int find(const OpLayout *l, const char *name) {
    for (int i = 0; i < l->count; i++)
        if (strcmp(l->b[i].name, name) == 0) return i;
    return -1;
}

/* The buffer called `name`, or NULL when the case has none (an optional operand). */
static void *at(const OpLayout *l, void *const *p, const char *name) {
    const int i = find(l, name);
    return i < 0 ? NULL : p[i];
}

/* The inputs a uniform fill cannot give: drop-path scales with zeros, mixing weights with
 * lambda = 1 among them, the mean loss's constant upstream gradient, non-finite logits and
 * ties, AdamW's segments. */
static void special_values(const OpCase *c, const OpLayout *l, void **host, Rng *rng) {
    const OpShape *s = &c->s;
    real *scale = at(l, host, "scale"), *mix = at(l, host, "mix"), *dloss = at(l, host, "dloss");
    int *label_a = at(l, host, "label_a"), *label_b = at(l, host, "label_b");
    if (scale) {
        static const double pattern[] = {0, 1 / 0.9, 1, 1 / 0.8};
        for (int b = 0; b < s->batch; b++) scale[b] = (real)pattern[b % 4];
    }
    if (mix) {
        static const double pattern[] = {0.3, 1, 0.75, 0.5};
        for (int b = 0; b < s->batch; b++) mix[b] = (real)pattern[b % 4];
        label_b[s->batch - 1] = label_a[s->batch - 1]; /* a sample mixed with its own label */
    }
    if (dloss)
        for (int b = 0; b < s->batch; b++) dloss[b] = (real)(1.0 / s->batch);
    if (c->family == OP_LABEL_RANKS) {
        real *logits = at(l, host, "logits");
        const int *labels = at(l, host, "labels");
        const int C = s->classes;
        logits[1 * C + (labels[1] + 1) % C] = (real)NAN;
        logits[3 * C + labels[3]] = (real)INFINITY; /* the label's own logit */
        logits[5 * C + 0] = -(real)INFINITY;
        logits[0 * C + (labels[0] + 2) % C] = logits[0 * C + labels[0]]; /* a tie: not above */
    }
    if (c->family == OP_COUNT_NONFINITE && s->cols > 100) {
        real *x = at(l, host, "x");
        const size_t n = (size_t)s->rows * s->cols;
        x[0] = (real)NAN;
        x[n - 1] = (real)INFINITY;
        x[n / 2] = -(real)INFINITY;
        for (int i = 0; i < 5; i++) x[rng_below(rng, n)] = (real)NAN;
    }
    if (c->family == OP_ADAMW) {
        /* segments of varied lengths in order; with gaps, every other segment is followed by
         * entries no segment covers (they must stay as they were) */
        AdamWSegment *seg = at(l, host, "segments");
        const size_t n = (size_t)s->rows * s->cols;
        const size_t share = n / (size_t)s->segments;
        size_t offset = 0;
        for (int i = 0; i < s->segments; i++) {
            size_t count = i == s->segments - 1 ? n - offset : share / 2 + rng_below(rng, share);
            if (offset + count > n) count = n - offset;
            size_t skip = s->gap && i % 2 == 1 ? count / 3 : 0;
            seg[i] = (AdamWSegment){offset, count - skip, i % 2 == 0};
            offset += count;
        }
    }
}

void op_case_init(const OpCase *c, const OpLayout *l, void **host, uint64_t seed) {
    Rng rng = rng_stream(seed, 0);
    for (int i = 0; i < l->count; i++) {
        const OpBuffer *b = &l->b[i];
        if (b->kind == BUF_REAL) {
            real *x = host[i];
            for (size_t j = 0; j < b->count; j++)
                x[j] = (real)(b->lo + (b->hi - b->lo) * rng_uniform(&rng));
        } else if (b->kind == BUF_INT) {
            int *x = host[i];
            for (size_t j = 0; j < b->count; j++)
                x[j] = (int)b->lo + (int)rng_below(&rng, (uint64_t)(b->hi - b->lo));
        }
    }
    special_values(c, l, host, &rng);
}

/* ---- the op calls ---- */

#define P(name) at(l, p, name)

void op_case_forward(const OpCase *c, const Backend *be, const OpLayout *l, void *const *p) {
    const OpShape *s = &c->s;
    const BackendOps *ops = be->ops;
    const size_t n = (size_t)s->rows * s->cols;
    switch (c->family) {
    case OP_GEMM:
        ops->gemm(be, s->trans_a, s->trans_b, s->m, s->n, s->k, (real)s->alpha, P("a"), s->lda,
                  P("b"), s->ldb, (real)s->beta, P("c"), s->ldc);
        break;
    case OP_LINEAR:
        ops->linear_forward(be, P("y"), P("x"), P("w"), P("b"), s->rows, s->in, s->out, s->ldw);
        break;
    case OP_LAYERNORM:
        ops->layernorm_forward(be, P("y"), P("mean"), P("rstd"), P("x"), P("gamma"), P("beta"),
                               s->rows, s->cols);
        break;
    case OP_GELU:
        ops->gelu_forward(be, P("y"), P("x"), n);
        break;
    case OP_PATCHIFY:
        ops->patchify(be, P("patches"), P("images"), s->batch, s->channels, s->image_size,
                      s->patch);
        break;
    case OP_TOKENS:
        ops->tokens_forward(be, P("x"), P("embedded"), P("cls"), P("pos"), s->batch, s->tokens,
                            s->dim, s->ld_pos);
        break;
    case OP_POOL:
        ops->pool_forward(be, P("out"), P("x"), s->batch, s->tokens, s->dim, s->class_token);
        break;
    case OP_QKV:
        ops->qkv_split(be, P("q"), P("k"), P("v"), P("qkv"), s->rows, s->cols);
        break;
    case OP_ATTENTION: {
        const AttentionShape shape = attention_shape(s);
        ops->attention_forward(be, P("out"), P("probs"), P("q"), P("k"), P("v"), P("key_v"),
                               P("key_h"), P("value_v"), P("value_h"), P("workspace"), &shape);
        break;
    }
    case OP_RESIDUAL:
        ops->residual_forward(be, s->in_place ? P("x") : P("out"), P("x"), P("branch"), P("scale"),
                              s->batch, s->tokens, s->dim);
        break;
    case OP_SOFT_TARGETS:
    case OP_CROSS_ENTROPY: {
        /* without mixing the model passes the labels as their own partners (model.c) */
        const int *label_b = s->mix ? P("label_b") : P("label_a");
        ops->soft_targets(be, P("targets"), P("label_a"), label_b, P("mix"), s->smoothing, s->batch,
                          s->classes);
        if (c->family == OP_CROSS_ENTROPY)
            ops->cross_entropy_forward(be, P("loss"), P("probs"), P("logits"), P("targets"),
                                       s->batch, s->classes);
        break;
    }
    case OP_ROW_SUMS:
        ops->row_sums(be, P("out"), P("x"), s->rows, s->cols);
        break;
    case OP_LABEL_RANKS:
        ops->label_ranks(be, P("rank"), P("logits"), P("labels"), s->batch, s->classes);
        break;
    case OP_ADAMW: {
        /* the third step of lr 0.05, large next to the parameters so that an error in the
         * update is not hidden under them */
        const double beta1 = 0.9, beta2 = 0.999;
        const AdamWStep step = {
            0.05, beta1, beta2, 1e-8, 0.05, 1 - pow(beta1, 3), 1 - pow(beta2, 3)};
        ops->adamw(be, P("param"), P("grad"), P("m"), P("v"), P("segments"), s->segments, &step);
        break;
    }
    case OP_FILL:
        ops->fill(be, (real *)P("x") + 1, n - 2, s->value);
        break;
    case OP_SCALE:
        ops->scale(be, (real *)P("x") + 1, n - 2, s->value);
        break;
    case OP_SUM:
        *(double *)P("result") = ops->sum(be, P("x"), n);
        break;
    case OP_SUM_SQUARES:
        *(double *)P("result") = ops->sum_squares(be, P("x"), n);
        break;
    case OP_COUNT_NONFINITE:
        *(double *)P("result") = (double)ops->count_nonfinite(be, P("x"), n);
        break;
    case OP_SUM_ABS_PRODUCT:
        *(double *)P("result") = ops->sum_abs_product(be, P("a"), P("b"), s->rows, s->cols, s->ld);
        break;
    case OP_SUM_ABS:
        *(double *)P("result") = ops->sum_abs(be, P("a"), s->rows, s->cols, s->ld);
        break;
    case OP_CONV: {
        const ConvShape shape = conv_shape(s);
        ops->conv2d_forward(be, P("y"), P("x"), P("w"), &shape);
        break;
    }
    case OP_BATCHNORM: {
        const BatchNormShape shape = batchnorm_shape(s);
        ops->batchnorm_forward_train(be, P("y"), P("mean"), P("rstd"), P("running_mean"),
                                     P("running_var"), P("x"), P("gamma"), P("beta"), &shape,
                                     s->momentum);
        break;
    }
    case OP_BATCHNORM_EVAL: {
        const BatchNormShape shape = batchnorm_shape(s);
        ops->batchnorm_forward_eval(be, P("y"), P("x"), P("gamma"), P("beta"), P("running_mean"),
                                    P("running_var"), &shape);
        break;
    }
    case OP_BATCHNORM_RECALIBRATE: {
        const BatchNormShape shape = batchnorm_shape(s);
        const size_t count = (size_t)s->batch * s->channels * s->height * s->width;
        for (int k = 0; k < s->batches; k++)
            ops->batchnorm_recalibrate(be, (real *)P("y") + k * count, P("mean"), P("rstd"),
                                       P("running_mean"), P("running_var"),
                                       (const real *)P("x") + k * count, P("gamma"), P("beta"),
                                       &shape, k);
        break;
    }
    case OP_SILU:
        ops->silu_forward(be, P("y"), P("x"), n);
        break;
    case OP_RELU6:
        ops->relu6_forward(be, P("y"), P("x"), n);
        break;
    case OP_GLOBAL_POOL:
        ops->global_avg_pool_forward(be, P("y"), P("x"), s->batch, s->channels,
                                     s->height * s->width);
        break;
    case OP_CHANNEL_SCALE:
        ops->channel_scale_forward(be, P("y"), P("x"), P("gate"), s->batch, s->channels,
                                   s->height * s->width);
        break;
    case OP_RESIZE:
        ops->resize_bilinear(be, P("y"), P("x"), s->batch, s->channels, s->height, s->width,
                             s->out_h, s->out_w);
        break;
    case OP_FAMILIES:
        break;
    }
}

void op_case_backward(const OpCase *c, const Backend *be, const OpLayout *l, void *const *p) {
    const OpShape *s = &c->s;
    const BackendOps *ops = be->ops;
    const size_t n = (size_t)s->rows * s->cols;
    switch (c->family) {
    case OP_LINEAR:
        ops->linear_backward(be, P("dx"), P("dw"), P("db"), P("dy"), P("x"), P("w"), s->rows, s->in,
                             s->out, s->ldw);
        break;
    case OP_LAYERNORM:
        ops->layernorm_backward_accumulate(be, P("dx"), P("dgamma"), P("dbeta"), P("dy"), P("x"),
                                           P("mean"), P("rstd"), P("gamma"), s->rows, s->cols);
        break;
    case OP_GELU:
        ops->gelu_backward(be, P("dx"), P("dy"), P("x"), n);
        break;
    case OP_TOKENS:
        ops->tokens_backward(be, P("dembedded"), P("dcls"), P("dpos"), P("dx"), s->batch, s->tokens,
                             s->dim, s->ld_pos);
        break;
    case OP_POOL:
        ops->pool_backward(be, P("dx"), P("dout"), s->batch, s->tokens, s->dim, s->class_token);
        break;
    case OP_QKV:
        ops->qkv_merge(be, P("dqkv"), P("dq"), P("dk"), P("dv"), s->rows, s->cols);
        break;
    case OP_ATTENTION: {
        const AttentionShape shape = attention_shape(s);
        ops->attention_backward(be, P("dq"), P("dk"), P("dv"), P("dkey_v"), P("dkey_h"),
                                P("dvalue_v"), P("dvalue_h"), P("dout"), P("probs"), P("q"), P("k"),
                                P("v"), P("key_v"), P("key_h"), P("value_v"), P("value_h"),
                                P("workspace"), &shape);
        break;
    }
    case OP_RESIDUAL:
        if (!s->in_place)
            ops->residual_backward(be, P("dbranch"), P("dout"), P("scale"), s->batch, s->tokens,
                                   s->dim);
        break;
    case OP_CROSS_ENTROPY:
        ops->cross_entropy_backward(be, P("dlogits"), P("probs"), P("targets"), s->batch,
                                    s->classes, 1.0 / s->batch);
        break;
    case OP_CONV: {
        const ConvShape shape = conv_shape(s);
        ops->conv2d_backward(be, P("dx"), P("dw"), P("dy"), P("x"), P("w"), &shape);
        break;
    }
    case OP_BATCHNORM: {
        const BatchNormShape shape = batchnorm_shape(s);
        ops->batchnorm_backward(be, P("dx"), P("dgamma"), P("dbeta"), P("dy"), P("x"), P("mean"),
                                P("rstd"), P("gamma"), &shape);
        break;
    }
    case OP_SILU:
        ops->silu_backward(be, P("dx"), P("dy"), P("x"), n);
        break;
    case OP_RELU6:
        ops->relu6_backward(be, P("dx"), P("dy"), P("x"), n);
        break;
    case OP_GLOBAL_POOL:
        ops->global_avg_pool_backward(be, P("dx"), P("dy"), s->batch, s->channels,
                                      s->height * s->width);
        break;
    case OP_CHANNEL_SCALE:
        ops->channel_scale_backward(be, P("dx"), P("dgate"), P("dy"), P("x"), P("gate"), s->batch,
                                    s->channels, s->height * s->width);
        break;
    default: /* forward-only ops */
        break;
    }
}

#undef P

/* ---- backend memory ---- */

void op_device_upload(const Backend *be, const OpLayout *l, void *const *host, void **dev) {
    for (int i = 0; i < l->count; i++) {
        const OpBuffer *b = &l->b[i];
        const size_t bytes = b->count * op_buffer_entry_size(b);
        if (b->kind == BUF_RESULT) {
            dev[i] = xcalloc(b->count, sizeof(double));
            continue;
        }
        dev[i] = be->ops->alloc(be, bytes);
        if (b->kind != BUF_SCRATCH) be->ops->upload(be, dev[i], host[i], bytes);
    }
}

void op_device_download(const Backend *be, const OpLayout *l, void *const *dev, void **host) {
    for (int i = 0; i < l->count; i++) {
        const OpBuffer *b = &l->b[i];
        const size_t bytes = b->count * op_buffer_entry_size(b);
        if (b->kind == BUF_RESULT)
            memcpy(host[i], dev[i], bytes);
        else if (b->kind != BUF_SCRATCH)
            be->ops->download(be, host[i], dev[i], bytes);
    }
}

void op_device_free(const Backend *be, const OpLayout *l, void **dev) {
    for (int i = 0; i < l->count; i++) {
        if (l->b[i].kind == BUF_RESULT)
            free(dev[i]);
        else
            be->ops->free(be, dev[i]);
        dev[i] = NULL;
    }
}

void op_case_run(const OpCase *c, const Backend *be, const OpLayout *l, bool backward,
                 void *const *in, void **out) {
    void *dev[OP_MAX_BUFFERS] = {0};
    op_device_upload(be, l, in, dev);
    op_case_forward(c, be, l, dev);
    if (backward && op_case_has_backward(l)) op_case_backward(c, be, l, dev);
    op_device_download(be, l, dev, out);
    op_device_free(be, l, dev);
}
