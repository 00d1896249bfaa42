/* The CPU backend: host memory and the reference ops of kernels.h behind the op table of
 * backend.h. The ops are the kernels' own functions with the backend first, which they use
 * only for its context (cpu_context.h: bf16 products, the oneDNN primitives kept per shape);
 * the arena-wide reductions keep the fixed OpenMP order the trainer used before the backend
 * existed, so CPU runs repeat bit-exactly for a given thread count. */
#include "backend.h"

#include "cpu_context.h"
#include "error.h"
#include "gemm_bf16.h"
#include "kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

CpuContext *cpu_context_open(bool want_bf16, char *why, size_t why_size) {
    CpuContext *ctx = xcalloc(1, sizeof *ctx);
    ctx->primitives = cpu_primitives_open();
    if (want_bf16) ctx->bf16 = cpu_bf16_open(why, why_size);
    return ctx;
}

void cpu_context_close(CpuContext *ctx) {
    if (!ctx) return;
    cpu_primitives_close(ctx->primitives);
    cpu_bf16_close(ctx->bf16);
    free(ctx);
}

/* The context's parts; backend_cpu() has none. */
static CpuPrimitives *primitives(const Backend *be) {
    return be->ctx ? ((CpuContext *)be->ctx)->primitives : NULL;
}
#ifdef CPU_BF16_PRODUCTS
static CpuBf16 *bf16(const Backend *be) {
    return be->ctx ? ((CpuContext *)be->ctx)->bf16 : NULL;
}
#endif

static void *cpu_alloc(const Backend *be, size_t bytes) {
    (void)be;
    return xcalloc(1, bytes ? bytes : 1);
}
static void cpu_free(const Backend *be, void *ptr) {
    (void)be;
    free(ptr);
}
static void cpu_copy(const Backend *be, void *dst, const void *src, size_t bytes) {
    (void)be;
    if (bytes && dst != src) memmove(dst, src, bytes);
}
static void cpu_zero(const Backend *be, void *ptr, size_t bytes) {
    (void)be;
    if (bytes) memset(ptr, 0, bytes);
}
static void cpu_sync(const Backend *be) {
    (void)be;
}
static double cpu_time_ms(const Backend *be, void (*work)(void *), void *arg) {
    (void)be;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    work(arg);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return 1e3 * (double)(t1.tv_sec - t0.tv_sec) + 1e-6 * (double)(t1.tv_nsec - t0.tv_nsec);
}

/* At bf16 (a context with bf16 products) the products go through gemm_bf16.h; a product
 * scaled other than C = op(A) op(B) (+ C), which the engine does not use, stays fp32. */
static void cpu_gemm(const Backend *be, bool ta, bool tb, int m, int n, int k, real alpha,
                     const real *a, int lda, const real *b, int ldb, real beta, real *c, int ldc) {
#ifdef CPU_BF16_PRODUCTS
    if (bf16(be) && alpha == 1 && (beta == 0 || beta == 1)) {
        gemm_bf16(bf16(be), ta, tb, m, n, k, a, lda, b, ldb, beta == 1, c, ldc);
        return;
    }
#endif
    (void)be;
    gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
static void cpu_linear_forward(const Backend *be, real *y, const real *x, const real *w,
                               const real *b, int rows, int in, int out, int ldw) {
#ifdef CPU_BF16_PRODUCTS
    if (bf16(be)) {
        linear_forward_bf16(bf16(be), y, x, w, b, rows, in, out, ldw);
        return;
    }
#endif
    (void)be;
    linear_forward(y, x, w, b, rows, in, out, ldw);
}
static void cpu_linear_backward(const Backend *be, real *dx, real *dw, real *db, const real *dy,
                                const real *x, const real *w, int rows, int in, int out, int ldw) {
#ifdef CPU_BF16_PRODUCTS
    if (bf16(be)) {
        linear_backward_bf16(bf16(be), dx, dw, db, dy, x, w, rows, in, out, ldw);
        return;
    }
#endif
    (void)be;
    linear_backward(dx, dw, db, dy, x, w, rows, in, out, ldw);
}
static void cpu_layernorm_forward(const Backend *be, real *y, real *mean, real *rstd, const real *x,
                                  const real *gamma, const real *beta, int rows, int dim) {
    (void)be;
    layernorm_forward(y, mean, rstd, x, gamma, beta, rows, dim);
}
static void cpu_layernorm_backward_accumulate(const Backend *be, real *dx, real *dgamma,
                                              real *dbeta, const real *dy, const real *x,
                                              const real *mean, const real *rstd, const real *gamma,
                                              int rows, int dim) {
    (void)be;
    layernorm_backward_accumulate(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, rows, dim);
}
static void cpu_gelu_forward(const Backend *be, real *y, const real *x, size_t n) {
    (void)be;
    gelu_forward(y, x, n);
}
static void cpu_gelu_backward(const Backend *be, real *dx, const real *dy, const real *x,
                              size_t n) {
    (void)be;
    gelu_backward(dx, dy, x, n);
}
static void cpu_patchify(const Backend *be, real *patches, const real *images, int batch,
                         int channels, int image_size, int patch) {
    (void)be;
    patchify(patches, images, batch, channels, image_size, patch);
}
static void cpu_tokens_forward(const Backend *be, real *x, const real *patch_embedded,
                               const real *cls, const real *pos, int batch, int tokens, int dim,
                               int ld_pos) {
    (void)be;
    tokens_forward(x, patch_embedded, cls, pos, batch, tokens, dim, ld_pos);
}
static void cpu_tokens_backward(const Backend *be, real *dpatch_embedded, real *dcls, real *dpos,
                                const real *dx, int batch, int tokens, int dim, int ld_pos) {
    (void)be;
    tokens_backward(dpatch_embedded, dcls, dpos, dx, batch, tokens, dim, ld_pos);
}
static void cpu_pool_forward(const Backend *be, real *out, const real *x, int batch, int tokens,
                             int dim, bool class_token) {
    (void)be;
    pool_forward(out, x, batch, tokens, dim, class_token);
}
static void cpu_pool_backward(const Backend *be, real *dx, const real *dout, int batch, int tokens,
                              int dim, bool class_token) {
    (void)be;
    pool_backward(dx, dout, batch, tokens, dim, class_token);
}
static void cpu_qkv_split(const Backend *be, real *q, real *k, real *v, const real *qkv, int rows,
                          int qdim) {
    (void)be;
    qkv_split(q, k, v, qkv, rows, qdim);
}
static void cpu_qkv_merge(const Backend *be, real *dqkv, const real *dq, const real *dk,
                          const real *dv, int rows, int qdim) {
    (void)be;
    qkv_merge(dqkv, dq, dk, dv, rows, qdim);
}
static size_t cpu_attention_workspace_size(const Backend *be, const AttentionShape *shape) {
    (void)be;
    return attention_workspace_size(shape);
}
static void cpu_attention_forward(const Backend *be, real *out, real *probs, const real *q,
                                  const real *k, const real *v, const real *key_v,
                                  const real *key_h, const real *value_v, const real *value_h,
                                  real *workspace, const AttentionShape *shape) {
    (void)be;
    attention_forward(out, probs, q, k, v, key_v, key_h, value_v, value_h, workspace, shape);
}
static void cpu_attention_backward(const Backend *be, real *dq, real *dk, real *dv, real *dkey_v,
                                   real *dkey_h, real *dvalue_v, real *dvalue_h, const real *dout,
                                   const real *probs, const real *q, const real *k, const real *v,
                                   const real *key_v, const real *key_h, const real *value_v,
                                   const real *value_h, real *workspace,
                                   const AttentionShape *shape) {
    (void)be;
    attention_backward(dq, dk, dv, dkey_v, dkey_h, dvalue_v, dvalue_h, dout, probs, q, k, v, key_v,
                       key_h, value_v, value_h, workspace, shape);
}
static void cpu_conv2d_forward(const Backend *be, real *y, const real *x, const real *w,
                               const ConvShape *s) {
    conv2d_forward(primitives(be), y, x, w, s);
}
static void cpu_conv2d_backward(const Backend *be, real *dx, real *dw, const real *dy,
                                const real *x, const real *w, const ConvShape *s) {
    conv2d_backward(primitives(be), dx, dw, dy, x, w, s);
}
static void cpu_batchnorm_forward_train(const Backend *be, real *y, real *mean, real *rstd,
                                        real *running_mean, real *running_var, const real *x,
                                        const real *gamma, const real *beta,
                                        const BatchNormShape *s, double momentum) {
    (void)be;
    batchnorm_forward_train(y, mean, rstd, running_mean, running_var, x, gamma, beta, s, momentum);
}
static void cpu_batchnorm_recalibrate(const Backend *be, real *y, real *mean, real *rstd,
                                      real *running_mean, real *running_var, const real *x,
                                      const real *gamma, const real *beta, const BatchNormShape *s,
                                      int batches_seen) {
    (void)be;
    batchnorm_recalibrate(y, mean, rstd, running_mean, running_var, x, gamma, beta, s,
                          batches_seen);
}
static void cpu_batchnorm_forward_eval(const Backend *be, real *y, const real *x, const real *gamma,
                                       const real *beta, const real *running_mean,
                                       const real *running_var, const BatchNormShape *s) {
    (void)be;
    batchnorm_forward_eval(y, x, gamma, beta, running_mean, running_var, s);
}
static void cpu_batchnorm_backward(const Backend *be, real *dx, real *dgamma, real *dbeta,
                                   const real *dy, const real *x, const real *mean,
                                   const real *rstd, const real *gamma, const BatchNormShape *s) {
    (void)be;
    batchnorm_backward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, s);
}
static void cpu_silu_forward(const Backend *be, real *y, const real *x, size_t n) {
    silu_forward(primitives(be), y, x, n);
}
static void cpu_silu_backward(const Backend *be, real *dx, const real *dy, const real *x,
                              size_t n) {
    silu_backward(primitives(be), dx, dy, x, n);
}
static void cpu_relu6_forward(const Backend *be, real *y, const real *x, size_t n) {
    relu6_forward(primitives(be), y, x, n);
}
static void cpu_relu6_backward(const Backend *be, real *dx, const real *dy, const real *x,
                               size_t n) {
    relu6_backward(primitives(be), dx, dy, x, n);
}
static void cpu_global_avg_pool_forward(const Backend *be, real *y, const real *x, int batch,
                                        int channels, int spatial) {
    (void)be;
    global_avg_pool_forward(y, x, batch, channels, spatial);
}
static void cpu_global_avg_pool_backward(const Backend *be, real *dx, const real *dy, int batch,
                                         int channels, int spatial) {
    (void)be;
    global_avg_pool_backward(dx, dy, batch, channels, spatial);
}
static void cpu_channel_scale_forward(const Backend *be, real *y, const real *x, const real *gate,
                                      int batch, int channels, int spatial) {
    (void)be;
    channel_scale_forward(y, x, gate, batch, channels, spatial);
}
static void cpu_channel_scale_backward(const Backend *be, real *dx, real *dgate, const real *dy,
                                       const real *x, const real *gate, int batch, int channels,
                                       int spatial) {
    (void)be;
    channel_scale_backward(dx, dgate, dy, x, gate, batch, channels, spatial);
}
static void cpu_resize_bilinear(const Backend *be, real *y, const real *x, int batch, int channels,
                                int in_h, int in_w, int out_h, int out_w) {
    (void)be;
    resize_bilinear(y, x, batch, channels, in_h, in_w, out_h, out_w);
}
static void cpu_residual_forward(const Backend *be, real *out, const real *x, const real *branch,
                                 const real *sample_scale, int batch, int rows_per_sample,
                                 int dim) {
    (void)be;
    residual_forward(out, x, branch, sample_scale, batch, rows_per_sample, dim);
}
static void cpu_residual_backward(const Backend *be, real *dbranch, const real *dout,
                                  const real *sample_scale, int batch, int rows_per_sample,
                                  int dim) {
    (void)be;
    residual_backward(dbranch, dout, sample_scale, batch, rows_per_sample, dim);
}
static void cpu_soft_targets(const Backend *be, real *targets, const int *label_a,
                             const int *label_b, const real *mix, double smoothing, int batch,
                             int classes) {
    (void)be;
    soft_targets(targets, label_a, label_b, mix, smoothing, batch, classes);
}
static void cpu_cross_entropy_forward(const Backend *be, real *loss, real *probs,
                                      const real *logits, const real *targets, int batch,
                                      int classes) {
    (void)be;
    cross_entropy_forward(loss, probs, logits, targets, batch, classes);
}
static void cpu_cross_entropy_backward(const Backend *be, real *dlogits, const real *probs,
                                       const real *targets, int batch, int classes, double scale) {
    (void)be;
    cross_entropy_backward(dlogits, probs, targets, batch, classes, scale);
}
static void cpu_row_sums(const Backend *be, real *out, const real *x, int rows, int cols) {
    (void)be;
    for (int r = 0; r < rows; r++) {
        double s = 0;
        for (int c = 0; c < cols; c++) s += x[(size_t)r * cols + c];
        out[r] = (real)s;
    }
}
static void cpu_label_ranks(const Backend *be, int *rank, const real *logits, const int *labels,
                            int batch, int classes) {
    (void)be;
    for (int i = 0; i < batch; i++) {
        const real *z = logits + (size_t)i * classes;
        bool finite = true;
        for (int c = 0; c < classes; c++) finite = finite && isfinite(z[c]);
        int above = 0;
        for (int c = 0; c < classes; c++) above += z[c] > z[labels[i]];
        rank[i] = finite ? above : -1;
    }
}
static void cpu_adamw(const Backend *be, real *param, const real *grad, real *m, real *v,
                      const AdamWSegment *segments, int n_segments, const AdamWStep *step) {
    (void)be;
    AdamWStep s = *step;
    for (int i = 0; i < n_segments; i++) {
        const AdamWSegment *g = &segments[i];
        s.weight_decay = g->weight_decay ? step->weight_decay : 0;
        adamw_update(param + g->offset, grad + g->offset, m + g->offset, v + g->offset, g->count,
                     &s);
    }
}
static void cpu_fill(const Backend *be, real *x, size_t n, double value) {
    (void)be;
    const real r = (real)value;
    for (size_t i = 0; i < n; i++) x[i] = r;
}
static void cpu_scale(const Backend *be, real *x, size_t n, double factor) {
    (void)be;
    const real r = (real)factor;
#pragma omp parallel for schedule(static) if (n >= 65536)
    for (size_t i = 0; i < n; i++) x[i] *= r;
}
static double cpu_sum(const Backend *be, const real *x, size_t n) {
    (void)be;
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += x[i];
    return sum;
}
static double cpu_sum_squares(const Backend *be, const real *x, size_t n) {
    (void)be;
    double sum = 0;
#pragma omp parallel for reduction(+ : sum) schedule(static)
    for (size_t i = 0; i < n; i++) sum += (double)x[i] * x[i];
    return sum;
}
static size_t cpu_count_nonfinite(const Backend *be, const real *x, size_t n) {
    (void)be;
    size_t bad = 0;
#pragma omp parallel for reduction(+ : bad) schedule(static)
    for (size_t i = 0; i < n; i++) bad += !isfinite(x[i]);
    return bad;
}
static double cpu_sum_abs_product(const Backend *be, const real *a, const real *b, int rows,
                                  int cols, int ld) {
    (void)be;
    return sum_abs_product(a, b, rows, cols, ld);
}
static double cpu_sum_abs(const Backend *be, const real *a, int rows, int cols, int ld) {
    (void)be;
    return sum_abs(a, rows, cols, ld);
}

static const BackendOps cpu_ops = {
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .copy = cpu_copy,
    .zero = cpu_zero,
    .sync = cpu_sync,
    .time_ms = cpu_time_ms,
    .gemm = cpu_gemm,
    .linear_forward = cpu_linear_forward,
    .linear_backward = cpu_linear_backward,
    .layernorm_forward = cpu_layernorm_forward,
    .layernorm_backward_accumulate = cpu_layernorm_backward_accumulate,
    .gelu_forward = cpu_gelu_forward,
    .gelu_backward = cpu_gelu_backward,
    .patchify = cpu_patchify,
    .tokens_forward = cpu_tokens_forward,
    .tokens_backward = cpu_tokens_backward,
    .pool_forward = cpu_pool_forward,
    .pool_backward = cpu_pool_backward,
    .qkv_split = cpu_qkv_split,
    .qkv_merge = cpu_qkv_merge,
    .attention_workspace_size = cpu_attention_workspace_size,
    .attention_forward = cpu_attention_forward,
    .attention_backward = cpu_attention_backward,
    .conv2d_forward = cpu_conv2d_forward,
    .conv2d_backward = cpu_conv2d_backward,
    .batchnorm_forward_train = cpu_batchnorm_forward_train,
    .batchnorm_recalibrate = cpu_batchnorm_recalibrate,
    .batchnorm_forward_eval = cpu_batchnorm_forward_eval,
    .batchnorm_backward = cpu_batchnorm_backward,
    .silu_forward = cpu_silu_forward,
    .silu_backward = cpu_silu_backward,
    .relu6_forward = cpu_relu6_forward,
    .relu6_backward = cpu_relu6_backward,
    .global_avg_pool_forward = cpu_global_avg_pool_forward,
    .global_avg_pool_backward = cpu_global_avg_pool_backward,
    .channel_scale_forward = cpu_channel_scale_forward,
    .channel_scale_backward = cpu_channel_scale_backward,
    .resize_bilinear = cpu_resize_bilinear,
    .residual_forward = cpu_residual_forward,
    .residual_backward = cpu_residual_backward,
    .soft_targets = cpu_soft_targets,
    .cross_entropy_forward = cpu_cross_entropy_forward,
    .cross_entropy_backward = cpu_cross_entropy_backward,
    .row_sums = cpu_row_sums,
    .label_ranks = cpu_label_ranks,
    .adamw = cpu_adamw,
    .fill = cpu_fill,
    .scale = cpu_scale,
    .sum = cpu_sum,
    .sum_squares = cpu_sum_squares,
    .count_nonfinite = cpu_count_nonfinite,
    .sum_abs_product = cpu_sum_abs_product,
    .sum_abs = cpu_sum_abs,
};

static const Backend cpu_backend = {.kind = DEVICE_CPU,
                                    .precision = PRECISION_FP32,
                                    .device = -1,
                                    .name = "cpu, fp32",
                                    .ops = &cpu_ops,
                                    .ctx = NULL};

const Backend *backend_cpu(void) {
    return &cpu_backend;
}
