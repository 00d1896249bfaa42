#ifndef PRENAS_KERNELS_H
#define PRENAS_KERNELS_H

/* The op set of the supernets (design.md §3): the ViT's (method.md §3) and, below, the CNN's
 * (method.md §13). Every op is a pair of plain functions on arrays of `real`, forward and
 * backward; the CUDA backend has the same signatures (the CNN's to come). Shapes are in
 * comments as [rows, columns]; matrices are row-major.
 *
 * Backward conventions: parameter gradients (dw, db, dgamma, tables) are ACCUMULATED (+=),
 * so a step's gradients can come from several passes; input gradients are OVERWRITTEN,
 * except where the name says `_accumulate` (layer norm, whose input gradient joins the
 * residual stream's). */

#include "real.h"

#include <stdbool.h>
#include <stddef.h>

/* ---- matrix products ---- */

/* C[m, n] = alpha * op(A) op(B) + beta * C with op(X) = X or X^T; leading dimensions let
 * A and B be leading slices of larger (supernet) matrices without copies. */
void gemm(bool trans_a, bool trans_b, int m, int n, int k, real alpha, const real *a, int lda,
          const real *b, int ldb, real beta, real *c, int ldc);

/* y[rows, out] = x[rows, in] W^T + b, with W the leading [out, in] block of a matrix whose
 * rows are `ldw` long (method.md §3.4: every subnet uses leading slices). */
void linear_forward(real *y, const real *x, const real *w, const real *b, int rows, int in, int out,
                    int ldw);
/* dx = dy W (skipped when dx is NULL); dw += dy^T x; db += column sums of dy. */
void linear_backward(real *dx, real *dw, real *db, const real *dy, const real *x, const real *w,
                     int rows, int in, int out, int ldw);

/* ---- normalisation and activation ---- */

/* Over the `dim` features of each row (eps 1e-5, biased variance); saves mean and 1/std. */
void layernorm_forward(real *y, real *mean, real *rstd, const real *x, const real *gamma,
                       const real *beta, int rows, int dim);
void layernorm_backward_accumulate(real *dx, real *dgamma, real *dbeta, const real *dy,
                                   const real *x, const real *mean, const real *rstd,
                                   const real *gamma, int rows, int dim);

/* Exact GELU, 0.5 x (1 + erf(x / sqrt 2)). */
void gelu_forward(real *y, const real *x, size_t n);
void gelu_backward(real *dx, const real *dy, const real *x, size_t n);

/* ---- embedding and pooling ---- */

/* Non-overlapping patches of images [batch, channels, size, size] as rows
 * [batch * (size/patch)^2, channels * patch * patch], ordered (channel, y, x) like the
 * convolution weight; a patch embedding is then a linear layer. */
void patchify(real *patches, const real *images, int batch, int channels, int image_size,
              int patch);
/* x[b, 0] = cls + pos[0]; x[b, 1 + p] = patch_embedded[b, p] + pos[1 + p]; `dim` features,
 * cls and pos rows `ld_pos` apart (the supernet width). */
void tokens_forward(real *x, const real *patch_embedded, const real *cls, const real *pos,
                    int batch, int tokens, int dim, int ld_pos);
void tokens_backward(real *dpatch_embedded, real *dcls, real *dpos, const real *dx, int batch,
                     int tokens, int dim, int ld_pos);

/* out[b] = mean of tokens 1..tokens-1 (the reference's --gp), or token 0 (class token). */
void pool_forward(real *out, const real *x, int batch, int tokens, int dim, bool class_token);
void pool_backward(real *dx, const real *dout, int batch, int tokens, int dim, bool class_token);

/* ---- attention ---- */

/* The qkv projection's output rows are interleaved (method.md §3.4: output 3f + t is
 * feature f of q, k or v); split them into [rows, qdim] each, and merge gradients back. */
void qkv_split(real *q, real *k, real *v, const real *qkv, int rows, int qdim);
void qkv_merge(real *dqkv, const real *dq, const real *dk, const real *dv, int rows, int qdim);

typedef struct {
    int batch, tokens, heads, head_dim;
    int grid;                  /* patches per side: tokens = 1 + grid^2 */
    int max_relative_position; /* R: distances clipped to [-R, R]; tables have 2R + 2 rows */
    double scale;              /* head_dim^-1/2 */
    int threads;               /* threads the workspace has room for */
} AttentionShape;

/* Entries of scratch the two attention ops need for this shape. */
size_t attention_workspace_size(const AttentionShape *shape);

/* Per head j of q, k, v [batch * tokens, heads * head_dim]:
 *   L = scale (Q K^T + Q.Rk),  A = softmax(L),  O = A V + A.Rv
 * with Rk[i, k] = key_v[row_v(i, k)] + key_h[row_h(i, k)] (value_* likewise; tables
 * [2R + 2, head_dim], shared by the heads). Table rows (method.md §3.6): the key's grid row
 * (column) minus the query's, clipped to [-R, R], plus R + 1; row 0 whenever the class
 * token is involved. Saves the probabilities A [batch, heads, tokens, tokens]. */
void attention_forward(real *out, real *probs, const real *q, const real *k, const real *v,
                       const real *key_v, const real *key_h, const real *value_v,
                       const real *value_h, real *workspace, const AttentionShape *shape);
void attention_backward(real *dq, real *dk, real *dv, real *dkey_v, real *dkey_h, real *dvalue_v,
                        real *dvalue_h, const real *dout, const real *probs, const real *q,
                        const real *k, const real *v, const real *key_v, const real *key_h,
                        const real *value_v, const real *value_h, real *workspace,
                        const AttentionShape *shape);

/* ---- residual stream ---- */

/* out[b, t] = x[b, t] + scale[b] * branch[b, t] (drop path: scale is 0 or 1/(1-p) per
 * sample; NULL means 1; out may be x), and its backward dbranch = scale[b] * dout. */
void residual_forward(real *out, const real *x, const real *branch, const real *sample_scale,
                      int batch, int rows_per_sample, int dim);
void residual_backward(real *dbranch, const real *dout, const real *sample_scale, int batch,
                       int rows_per_sample, int dim);

/* ---- loss ---- */

/* Soft targets [batch, classes]: label smoothing eps and a mix of two labels,
 * t = lambda * smooth(label_a) + (1 - lambda) * smooth(label_b) (method.md §9.3);
 * mix NULL means lambda 1. */
void soft_targets(real *targets, const int *label_a, const int *label_b, const real *mix,
                  double smoothing, int batch, int classes);
/* loss[b] = -sum_c t[b, c] log softmax(z[b])_c; saves the softmax. */
void cross_entropy_forward(real *loss, real *probs, const real *logits, const real *targets,
                           int batch, int classes);
/* dz = scale * (sum_c t * softmax(z) - t); scale is 1/batch for a mean loss. */
void cross_entropy_backward(real *dlogits, const real *probs, const real *targets, int batch,
                            int classes, double scale);

/* ---- optimisation ---- */

typedef struct {
    double lr, beta1, beta2, eps, weight_decay;
    double bias_correction1, bias_correction2; /* 1 - beta^t */
} AdamWStep;

/* Decoupled AdamW (method.md §9.4) on n entries: p *= 1 - lr wd, then
 * p -= lr (m / bc1) / (sqrt(v / bc2) + eps). */
void adamw_update(real *param, const real *grad, real *m, real *v, size_t n, const AdamWStep *s);

/* ---- the CNN family (BigNAS MBConv, method.md §13): convolution, batch norm, activations ----
 *
 * Maps are NCHW, PyTorch's layout: x[b, c, y, x] at ((b * channels + c) * height + y) * width
 * + x. A subnet's parameters are views of the supernet's (BigNAS weight sharing): the leading
 * channels of every per-channel array, and of a convolution weight the leading output and
 * input channels and the centred k x k crop of its K x K kernel. Input gradients are
 * OVERWRITTEN and parameter gradients ACCUMULATED into the supernet-shaped gradient arrays, as
 * above; entries of those arrays outside the view are never written. */

/* oneDNN primitives kept per shape (kernels/cpu/primitives.h); the CPU backend's context holds
 * a table. NULL: the primitives are made for the call alone (same results, slower). The plain
 * loops (the double build, PRENAS_NO_DNNL) ignore it. */
typedef struct CpuPrimitives CpuPrimitives;

/* A convolution without bias (batch norm follows every one), padding k/2 on every side, from
 * x [batch, in_channels, height, width] to y [batch, out_channels, out_h, out_w]
 * (conv_output_size). The weight is the supernet's [Cout_max, weight_in, K, K], K =
 * weight_kernel; the subnet's is its leading out_channels rows, leading in_channels of
 * weight_in, and the centre k x k (offset (K - k) / 2 on both axes: BigNAS kernel sharing).
 * depthwise: groups = in_channels = out_channels, weight [C_max, 1, K, K] (weight_in 1);
 * otherwise groups = 1 (k x k and pointwise). */
typedef struct {
    int batch, height, width;
    int in_channels, out_channels;
    int kernel, stride; /* odd k <= weight_kernel, K - k even; stride 1 to 4 (CNN_MAX_STRIDE) */
    bool depthwise;
    int weight_in, weight_kernel;
} ConvShape;

/* floor((size + 2 (k / 2) - k) / stride) + 1, as PyTorch's Conv2d with padding k / 2. */
int conv_output_size(int size, int kernel, int stride);
/* y = conv(x, W view) (overwritten). */
void conv2d_forward(CpuPrimitives *cache, real *y, const real *x, const real *w,
                    const ConvShape *s);
/* dx = conv_transpose(dy, W view) (overwritten; skipped when dx is NULL: the stem's input);
 * dw[view] += the weight gradient. */
void conv2d_backward(CpuPrimitives *cache, real *dx, real *dw, const real *dy, const real *x,
                     const real *w, const ConvShape *s);

/* Batch normalisation over x [batch, channels, height, width] per channel (PyTorch's
 * BatchNorm2d): gamma, beta, running_mean and running_var are the leading `channels` entries
 * of the supernet's C_max-long arrays. eps: PyTorch's default is 1e-5. */
typedef struct {
    int batch, channels, height, width;
    double eps;
} BatchNormShape;

/* Training mode: per-channel mean and biased variance over batch x height x width,
 * y = (x - mean) rstd gamma + beta with rstd = 1/sqrt(var + eps); saves mean and rstd
 * [channels] for the backward. Running statistics (skipped when running_mean is NULL), as
 * PyTorch: running = (1 - momentum) running + momentum batch, the variance unbiased (times
 * M / (M - 1), M = batch x height x width) in running_var. */
void batchnorm_forward_train(real *y, real *mean, real *rstd, real *running_mean, real *running_var,
                             const real *x, const real *gamma, const real *beta,
                             const BatchNormShape *s, double momentum);
/* Recalibration of a subnet's statistics before it is evaluated (BigNAS; PyTorch's
 * momentum=None): the training forward with a cumulative average, running += (batch - running)
 * / (batches_seen + 1), so that after n batches the running statistics are the mean of the n
 * batches' (the first batch replaces what was there). */
void batchnorm_recalibrate(real *y, real *mean, real *rstd, real *running_mean, real *running_var,
                           const real *x, const real *gamma, const real *beta,
                           const BatchNormShape *s, int batches_seen);
/* Inference: y = (x - running_mean) / sqrt(running_var + eps) gamma + beta. */
void batchnorm_forward_eval(real *y, const real *x, const real *gamma, const real *beta,
                            const real *running_mean, const real *running_var,
                            const BatchNormShape *s);
/* Backward of the training forward: with xhat = (x - mean) rstd, M = batch x height x width,
 * dx = rstd gamma (dy - mean(dy) - xhat mean(dy xhat)) (overwritten), dgamma += sum dy xhat,
 * dbeta += sum dy. */
void batchnorm_backward(real *dx, real *dgamma, real *dbeta, const real *dy, const real *x,
                        const real *mean, const real *rstd, const real *gamma,
                        const BatchNormShape *s);

/* SiLU (swish), x sigmoid(x), and ReLU6, min(max(x, 0), 6) (PyTorch's hardtanh(0, 6): its
 * gradient is dy where 0 < x < 6, else 0), on n entries; dx overwritten. */
void silu_forward(CpuPrimitives *cache, real *y, const real *x, size_t n);
void silu_backward(CpuPrimitives *cache, real *dx, const real *dy, const real *x, size_t n);
void relu6_forward(CpuPrimitives *cache, real *y, const real *x, size_t n);
void relu6_backward(CpuPrimitives *cache, real *dx, const real *dy, const real *x, size_t n);

/* Global average pooling, x [batch, channels, spatial] -> y [batch, channels] (PyTorch's
 * adaptive_avg_pool2d(x, 1) with spatial = height x width); dx = dy / spatial (overwritten). */
void global_avg_pool_forward(real *y, const real *x, int batch, int channels, int spatial);
void global_avg_pool_backward(real *dx, const real *dy, int batch, int channels, int spatial);

/* Squeeze-and-excitation's gating: y[b, c, :] = x[b, c, :] sigmoid(gate[b, c]) on
 * x [batch, channels, spatial], gate [batch, channels]; backward dx and dgate (both inputs are
 * activations: overwritten). */
void channel_scale_forward(real *y, const real *x, const real *gate, int batch, int channels,
                           int spatial);
void channel_scale_backward(real *dx, real *dgate, const real *dy, const real *x, const real *gate,
                            int batch, int channels, int spatial);

/* The input resolution as an architecture dimension (BigNAS, AttentiveNAS): the batch
 * x [batch, channels, in_h, in_w] resized to y [batch, channels, out_h, out_w] (overwritten;
 * y and x do not overlap), bilinear as PyTorch's F.interpolate(x, size=(out_h, out_w),
 * mode="bilinear", align_corners=False, antialias=False): per axis, scale = in / out, source
 * coordinate (d + 0.5) scale - 0.5 clamped at 0, its floor and the next entry (both clamped to
 * in - 1) weighted by the fraction; the precisions PyTorch's (kernels/cpu/resize.c). Equal
 * sizes are a copy. Forward only: the images need no gradient. */
void resize_bilinear(real *y, const real *x, int batch, int channels, int in_h, int in_w, int out_h,
                     int out_w);

/* ---- reductions (zero-cost proxies) ---- */

/* sum |a * b| and sum |a| over the leading [rows, cols] block of matrices with row stride
 * `ld`, accumulated in double. */
double sum_abs_product(const real *a, const real *b, int rows, int cols, int ld);
double sum_abs(const real *a, int rows, int cols, int ld);

#endif
