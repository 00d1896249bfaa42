/* bf16 matrix products through oneDNN's matmul primitive (gemm_bf16.h).
 *
 * oneDNN 2.6 has no BLAS-style bf16 entry point, and creating a matmul primitive costs far
 * more than running one of the engine's products, so primitives are made once per product
 * shape and kept in a table of plans (primitives.h; a training run meets a few dozen shapes:
 * the preferred subnets' layer widths times forward and backward). Operands are rounded into
 * contiguous scratch, so a shape's key is its sizes, transpositions and the output's row
 * stride. */
#include "gemm_bf16.h"

#include "error.h"
#include "kernels.h"
#include "parallel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CPU_BF16_PRODUCTS
CpuBf16 *cpu_bf16_open(char *why, size_t why_size) {
    snprintf(why, why_size, "this build has no bf16 products (no oneDNN, or the f64 test build)");
    return NULL;
}
void cpu_bf16_close(CpuBf16 *ctx) {
    (void)ctx;
}
#else
#include "primitives.h" /* CHECK_DNNL, dnnl.h */

enum { SCRATCH = 3 };

/* A product's shape. A is stored m x k (k x m when trans_a), B k x n (n x k when trans_b),
 * both contiguous bf16; C is m x n fp32 with row stride ldc. */
typedef struct {
    int m, n, k, ldc;
    bool trans_a, trans_b, bias, accumulate;
} Shape;

/* A matmul plan's memory slots (primitives.h); its step 0 is the matmul. */
enum { MM_SRC, MM_WEIGHTS, MM_DST, MM_BIAS };

struct CpuBf16 {
    CpuPrimitives *plans; /* the matmul primitives, one per product shape */
    uint16_t *scratch[SCRATCH];
    size_t capacity[SCRATCH];
};

CpuBf16 *cpu_bf16_open(char *why, size_t why_size) {
    const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if ((isa & dnnl_cpu_isa_avx512_core_bf16) != dnnl_cpu_isa_avx512_core_bf16) {
        snprintf(why, why_size, "this CPU has no AVX512-BF16 (or DNNL_MAX_CPU_ISA hides it)");
        return NULL;
    }
    CpuBf16 *ctx = xcalloc(1, sizeof *ctx);
    ctx->plans = cpu_primitives_open();
    return ctx;
}

void cpu_bf16_close(CpuBf16 *ctx) {
    if (!ctx) return;
    cpu_primitives_close(ctx->plans);
    for (int i = 0; i < SCRATCH; i++) free(ctx->scratch[i]);
    free(ctx);
}

static void make_plan(DnnlPlan *p, dnnl_engine_t engine, const void *arg) {
    const Shape *s = arg;
    const dnnl_dims_t a_dims = {s->m, s->k}, b_dims = {s->k, s->n}, c_dims = {s->m, s->n};
    const dnnl_dims_t a_strides = {s->trans_a ? 1 : s->k, s->trans_a ? s->m : 1};
    const dnnl_dims_t b_strides = {s->trans_b ? 1 : s->n, s->trans_b ? s->k : 1};
    const dnnl_dims_t c_strides = {s->ldc, 1}, bias_dims = {1, s->n}, bias_strides = {s->n, 1};
    dnnl_memory_desc_t a_md, b_md, c_md, bias_md;
    CHECK_DNNL(dnnl_memory_desc_init_by_strides(&a_md, 2, a_dims, dnnl_bf16, a_strides));
    CHECK_DNNL(dnnl_memory_desc_init_by_strides(&b_md, 2, b_dims, dnnl_bf16, b_strides));
    CHECK_DNNL(dnnl_memory_desc_init_by_strides(&c_md, 2, c_dims, dnnl_f32, c_strides));
    CHECK_DNNL(dnnl_memory_desc_init_by_strides(&bias_md, 2, bias_dims, dnnl_f32, bias_strides));
    dnnl_matmul_desc_t desc;
    CHECK_DNNL(dnnl_matmul_desc_init(&desc, &a_md, &b_md, s->bias ? &bias_md : NULL, &c_md));
    dnnl_primitive_attr_t attr;
    dnnl_post_ops_t post_ops;
    CHECK_DNNL(dnnl_primitive_attr_create(&attr));
    CHECK_DNNL(dnnl_post_ops_create(&post_ops));
    if (s->accumulate) CHECK_DNNL(dnnl_post_ops_append_sum(post_ops, 1.0f));
    CHECK_DNNL(dnnl_primitive_attr_set_post_ops(attr, post_ops));
    dnnl_primitive_desc_t pd;
    CHECK_DNNL(dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL));
    CHECK_DNNL(dnnl_primitive_create(&p->step[0], pd));
    CHECK_DNNL(dnnl_primitive_desc_destroy(pd));
    CHECK_DNNL(dnnl_post_ops_destroy(post_ops));
    CHECK_DNNL(dnnl_primitive_attr_destroy(attr));
    CHECK_DNNL(dnnl_memory_create(&p->memory[MM_SRC], &a_md, engine, DNNL_MEMORY_NONE));
    CHECK_DNNL(dnnl_memory_create(&p->memory[MM_WEIGHTS], &b_md, engine, DNNL_MEMORY_NONE));
    CHECK_DNNL(dnnl_memory_create(&p->memory[MM_DST], &c_md, engine, DNNL_MEMORY_NONE));
    if (s->bias)
        CHECK_DNNL(dnnl_memory_create(&p->memory[MM_BIAS], &bias_md, engine, DNNL_MEMORY_NONE));
}

static void matmul(CpuBf16 *ctx, const Shape *s, const uint16_t *a, const uint16_t *b,
                   const float *bias, float *c) {
    const int64_t key[PLAN_KEY] = {PLAN_MATMUL_BF16, s->m,       s->n,    s->k,         s->ldc,
                                   s->trans_a,       s->trans_b, s->bias, s->accumulate};
    DnnlPlan *p = cpu_plan(ctx->plans, key, make_plan, s);
    CHECK_DNNL(dnnl_memory_set_data_handle(p->memory[MM_SRC], (void *)a));
    CHECK_DNNL(dnnl_memory_set_data_handle(p->memory[MM_WEIGHTS], (void *)b));
    CHECK_DNNL(dnnl_memory_set_data_handle(p->memory[MM_DST], c));
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, p->memory[MM_SRC]},
                               {DNNL_ARG_WEIGHTS, p->memory[MM_WEIGHTS]},
                               {DNNL_ARG_DST, p->memory[MM_DST]}};
    int nargs = 3;
    if (s->bias) {
        CHECK_DNNL(dnnl_memory_set_data_handle(p->memory[MM_BIAS], (void *)bias));
        args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, p->memory[MM_BIAS]};
    }
    cpu_plan_run(ctx->plans, p->step[0], nargs, args);
}

/* Scratch buffer `slot` holding the rows x cols matrix x (row stride ld) rounded to bf16. */
static const uint16_t *rounded(CpuBf16 *ctx, int slot, const float *x, int rows, int cols, int ld) {
    const size_t n = (size_t)rows * cols;
    if (ctx->capacity[slot] < n) {
        free(ctx->scratch[slot]);
        ctx->scratch[slot] = xmalloc(n * sizeof(uint16_t));
        ctx->capacity[slot] = n;
    }
    uint16_t *out = ctx->scratch[slot];
    if (ld == cols) {
#pragma omp parallel if (n >= 65536)
        {
            size_t first, count;
            thread_range(n, &first, &count);
            round_to_bf16(out + first, x + first, count);
        }
    } else {
#pragma omp parallel for schedule(static) if (n >= 65536)
        for (int r = 0; r < rows; r++)
            round_to_bf16(out + (size_t)r * cols, x + (size_t)r * ld, (size_t)cols);
    }
    return out;
}

void gemm_bf16(CpuBf16 *ctx, bool trans_a, bool trans_b, int m, int n, int k, const float *a,
               int lda, const float *b, int ldb, bool accumulate, float *c, int ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) { /* an empty sum; oneDNN rejects empty products */
        if (!accumulate)
            for (int i = 0; i < m; i++) memset(c + (size_t)i * ldc, 0, (size_t)n * sizeof *c);
        return;
    }
    const uint16_t *a16 = trans_a ? rounded(ctx, 0, a, k, m, lda) : rounded(ctx, 0, a, m, k, lda);
    const uint16_t *b16 = trans_b ? rounded(ctx, 1, b, n, k, ldb) : rounded(ctx, 1, b, k, n, ldb);
    const Shape s = {m, n, k, ldc, trans_a, trans_b, false, accumulate};
    matmul(ctx, &s, a16, b16, NULL, c);
}

void linear_forward_bf16(CpuBf16 *ctx, float *y, const float *x, const float *w, const float *b,
                         int rows, int in, int out, int ldw) {
    if (rows <= 0 || out <= 0) return;
    const uint16_t *x16 = rounded(ctx, 0, x, rows, in, in);
    const uint16_t *w16 = rounded(ctx, 1, w, out, in, ldw);
    const Shape s = {rows, out, in, out, false, true, true, false}; /* y = x W^T + b */
    matmul(ctx, &s, x16, w16, b, y);
}

void linear_backward_bf16(CpuBf16 *ctx, float *dx, float *dw, float *db, const float *dy,
                          const float *x, const float *w, int rows, int in, int out, int ldw) {
    if (rows <= 0 || out <= 0) return;
    const uint16_t *dy16 = rounded(ctx, 0, dy, rows, out, out);
    if (dx) {
        const uint16_t *w16 = rounded(ctx, 1, w, out, in, ldw);
        const Shape s = {rows, in, out, in, false, false, false, false}; /* dx = dy W */
        matmul(ctx, &s, dy16, w16, NULL, dx);
    }
    const uint16_t *x16 = rounded(ctx, 2, x, rows, in, in);
    const Shape s = {out, in, rows, ldw, true, false, false, true}; /* dW += dy^T x */
    matmul(ctx, &s, dy16, x16, NULL, dw);
    column_sums_accumulate(db, dy, rows, out, out);
}
#endif

CPU_DISPATCH void round_to_bf16(uint16_t *out, const float *x, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], sizeof u);
        const uint16_t nearest_even = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
        out[i] = (u & 0x7fffffffu) > 0x7f800000u ? (uint16_t)((u >> 16) | 0x40u) : nearest_even;
    }
}
