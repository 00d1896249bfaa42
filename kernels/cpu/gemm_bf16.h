#ifndef PRENAS_CPU_GEMM_BF16_H
#define PRENAS_CPU_GEMM_BF16_H

/* Matrix products with bfloat16 operands and fp32 accumulation on the CPU: the reference's
 * mixed precision (torch.cuda.amp autocast: matmuls in reduced precision, weights, LayerNorm,
 * softmax, loss and optimiser in fp32), through oneDNN's matmul primitive, whose AVX512-BF16
 * kernels (vdpbf16ps) multiply twice as many pairs per cycle as its sgemm.
 *
 * Operands are fp32 in memory (master weights and activations stay fp32); each product rounds
 * them to bf16 (round to nearest even, NaN kept NaN: what vcvtneps2bf16 does) into scratch
 * owned by the context, then multiplies. Outputs are fp32. One context per backend; it is
 * not thread-safe (the engine calls products from one thread; oneDNN threads inside).
 *
 * Errors: any oneDNN failure is fatal with file:line (a primitive oneDNN offered at open time
 * but refuses later is a bug, not bad input). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct CpuBf16 CpuBf16;

/* The products exist in float builds with oneDNN; in the f64 test engine and in the device
 * check's tier 1 (PRENAS_NO_DNNL) only cpu_bf16_open (which says why not) and round_to_bf16. */
#if !defined(PRENAS_REAL_DOUBLE) && !defined(PRENAS_NO_DNNL)
#define CPU_BF16_PRODUCTS 1
#endif

/* A context, or NULL with one line in `why` when this CPU cannot multiply bf16 at speed
 * (oneDNN's effective ISA below avx512_core_bf16: no AVX512-BF16, or DNNL_MAX_CPU_ISA caps it)
 * or this build has no oneDNN. */
CpuBf16 *cpu_bf16_open(char *why, size_t why_size);
void cpu_bf16_close(CpuBf16 *ctx);

/* x (n floats) rounded to bf16 bit patterns, round to nearest even; NaN stays a quiet NaN. */
void round_to_bf16(uint16_t *out, const float *x, size_t n);

/* C (m x n, row stride ldc) = op(A) op(B) (+ C when accumulate), as kernels.h's gemm with
 * alpha = 1 and beta = accumulate; A, B rounded to bf16 first. */
void gemm_bf16(CpuBf16 *ctx, bool trans_a, bool trans_b, int m, int n, int k, const float *a,
               int lda, const float *b, int ldb, bool accumulate, float *c, int ldc);

/* kernels.h's linear_forward / linear_backward with the products in bf16; the bias and its
 * gradient (column sums of dy) stay fp32. */
void linear_forward_bf16(CpuBf16 *ctx, float *y, const float *x, const float *w, const float *b,
                         int rows, int in, int out, int ldw);
void linear_backward_bf16(CpuBf16 *ctx, float *dx, float *dw, float *db, const float *dy,
                          const float *x, const float *w, int rows, int in, int out, int ldw);

#endif
