// The CUDA op set: one function per BackendOps member (backend.h), same signature, defined
// in one file per op family (as kernels/cpu/); backend_cuda.cu puts them in the table.
#ifndef PRENAS_CUDA_OPS_CUH
#define PRENAS_CUDA_OPS_CUH

#include "common.cuh"

// gemm.cu: cuBLASLt at be->precision
void cuda_gemm(const Backend *, bool trans_a, bool trans_b, int m, int n, int k, real alpha,
               const real *a, int lda, const real *b, int ldb, real beta, real *c, int ldc);
void cuda_linear_forward(const Backend *, real *y, const real *x, const real *w, const real *b,
                         int rows, int in, int out, int ldw);
void cuda_linear_backward(const Backend *, real *dx, real *dw, real *db, const real *dy,
                          const real *x, const real *w, int rows, int in, int out, int ldw);
// layernorm.cu
void cuda_layernorm_forward(const Backend *, real *y, real *mean, real *rstd, const real *x,
                            const real *gamma, const real *beta, int rows, int dim);
void cuda_layernorm_backward_accumulate(const Backend *, real *dx, real *dgamma, real *dbeta,
                                        const real *dy, const real *x, const real *mean,
                                        const real *rstd, const real *gamma, int rows, int dim);
// gelu.cu
void cuda_gelu_forward(const Backend *, real *y, const real *x, size_t n);
void cuda_gelu_backward(const Backend *, real *dx, const real *dy, const real *x, size_t n);
// embed.cu: patches, tokens, pooling, q/k/v interleaving
void cuda_patchify(const Backend *, real *patches, const real *images, int batch, int channels,
                   int image_size, int patch);
void cuda_tokens_forward(const Backend *, real *x, const real *patch_embedded, const real *cls,
                         const real *pos, int batch, int tokens, int dim, int ld_pos);
void cuda_tokens_backward(const Backend *, real *dpatch_embedded, real *dcls, real *dpos,
                          const real *dx, int batch, int tokens, int dim, int ld_pos);
void cuda_pool_forward(const Backend *, real *out, const real *x, int batch, int tokens, int dim,
                       bool class_token);
void cuda_pool_backward(const Backend *, real *dx, const real *dout, int batch, int tokens,
                        int dim, bool class_token);
void cuda_qkv_split(const Backend *, real *q, real *k, real *v, const real *qkv, int rows,
                    int qdim);
void cuda_qkv_merge(const Backend *, real *dqkv, const real *dq, const real *dk, const real *dv,
                    int rows, int qdim);
// resize.cu: the CNN family's batch resize (its other ops are CPU only for now)
void cuda_resize_bilinear(const Backend *, real *y, const real *x, int batch, int channels,
                          int in_h, int in_w, int out_h, int out_w);
// attention.cu
size_t cuda_attention_workspace_size(const Backend *, const AttentionShape *shape);
void cuda_attention_forward(const Backend *, real *out, real *probs, const real *q, const real *k,
                            const real *v, const real *key_v, const real *key_h,
                            const real *value_v, const real *value_h, real *workspace,
                            const AttentionShape *shape);
void cuda_attention_backward(const Backend *, real *dq, real *dk, real *dv, real *dkey_v,
                             real *dkey_h, real *dvalue_v, real *dvalue_h, const real *dout,
                             const real *probs, const real *q, const real *k, const real *v,
                             const real *key_v, const real *key_h, const real *value_v,
                             const real *value_h, real *workspace, const AttentionShape *shape);
// residual.cu
void cuda_residual_forward(const Backend *, real *out, const real *x, const real *branch,
                           const real *sample_scale, int batch, int rows_per_sample, int dim);
void cuda_residual_backward(const Backend *, real *dbranch, const real *dout,
                            const real *sample_scale, int batch, int rows_per_sample, int dim);
// loss.cu
void cuda_soft_targets(const Backend *, real *targets, const int *label_a, const int *label_b,
                       const real *mix, double smoothing, int batch, int classes);
void cuda_cross_entropy_forward(const Backend *, real *loss, real *probs, const real *logits,
                                const real *targets, int batch, int classes);
void cuda_cross_entropy_backward(const Backend *, real *dlogits, const real *probs,
                                 const real *targets, int batch, int classes, double scale);
void cuda_row_sums(const Backend *, real *out, const real *x, int rows, int cols);
void cuda_label_ranks(const Backend *, int *rank, const real *logits, const int *labels,
                      int batch, int classes);
// adamw.cu
void cuda_adamw(const Backend *, real *param, const real *grad, real *m, real *v,
                const AdamWSegment *segments, int n_segments, const AdamWStep *step);
// reduce.cu: arena-wide element-wise ops and ordered reductions
void cuda_fill(const Backend *, real *x, size_t n, double value);
void cuda_scale(const Backend *, real *x, size_t n, double factor);
double cuda_sum(const Backend *, const real *x, size_t n);
double cuda_sum_squares(const Backend *, const real *x, size_t n);
size_t cuda_count_nonfinite(const Backend *, const real *x, size_t n);
double cuda_sum_abs_product(const Backend *, const real *a, const real *b, int rows, int cols,
                            int ld);
double cuda_sum_abs(const Backend *, const real *a, int rows, int cols, int ld);

#endif
