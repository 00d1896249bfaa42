#ifndef PRENAS_BACKEND_H
#define PRENAS_BACKEND_H

/* Where the engine computes: a backend owns memory (the supernet's arenas, activations, step
 * buffers) and implements the op set on it. Two exist, both in one binary and chosen at run
 * time: the CPU (kernels/cpu/, the reference) and CUDA (kernels/cuda/, when built with nvcc).
 * The model code (src/vit/vit.c, src/model/model.c, src/train/optim.c, src/train/trainer.c) calls
 * ops only through `be->ops`, on pointers the backend allocated; only weight, checkpoint and table
 * code copies to and from the host (`upload`, `download`). After ggml's backend interface and
 * llm.c's one model API over CPU and CUDA files.
 *
 * Every compute op has the signature and meaning of its CPU version in kernels.h with the
 * backend first; shapes and conventions are documented there. A backend may leave an op
 * family out (a NULL entry): the CNN family's ops exist on the CPU only for now. Pointers are
 * backend memory: on the CPU, host memory; on CUDA, device memory. Ops run in order on the
 * backend's stream; the ops that return a value to the host (`sum`, `sum_squares`,
 * `count_nonfinite`, the proxies' sums) wait for it, `download` waits for everything before it.
 *
 * Determinism: every reduction is done in a fixed order on both backends (no atomics), so a
 * run repeats bit-exactly on the same backend and machine, and resumes bit-exactly. */

#include "real.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { DEVICE_CPU, DEVICE_CUDA } DeviceKind;

/* Matrix-product precision. fp32: fp32 operands and accumulation (CUDA: no tensor cores).
 * tf32: CUDA tensor cores on fp32 operands rounded to 10-bit mantissas, fp32 accumulation.
 * bf16: operands rounded to bfloat16, fp32 accumulation, fp32 master weights and fp32
 * everything else (LayerNorm, softmax, loss, optimiser). The CPU offers fp32 and bf16 (the
 * linear layers' products through oneDNN's AVX512-BF16 kernels, kernels/cpu/gemm_bf16.h;
 * the attention's per-head products stay fp32); asked for bf16 on a CPU without AVX512-BF16
 * it runs fp32 and says so in the backend's name. */
typedef enum { PRECISION_FP32, PRECISION_TF32, PRECISION_BF16 } Precision;

typedef struct Backend Backend;
typedef struct BackendOps BackendOps;

struct Backend {
    DeviceKind kind;
    Precision precision;
    int device;     /* GPU ordinal; -1 on the CPU */
    char name[256]; /* what was chosen, for the log: "cuda:0 (NVIDIA H200, sm_90), tf32" */
    const BackendOps *ops;
    void *ctx; /* the backend's own state (CUDA: stream, cuBLASLt handle, workspaces; CPU:
                * kernels/cpu/cpu_context.h, NULL for backend_cpu()) */
};

/* ---- choosing a backend ---- */

/* The CPU backend: no state, never fails; shared by code that has no device choice (tests,
 * weight conversion). Constant, so it is not global mutable state; without a context, its
 * convolutions make their oneDNN primitives per call (backend_open("cpu") keeps them). */
const Backend *backend_cpu(void);

/* Opens the backend named by `device` ("auto", "cpu", "cuda") at `precision` ("fp32", "tf32",
 * "bf16"; NULL: fp32). "auto" is CUDA when it was built and a GPU is usable, else the CPU.
 * With CUDA, each rank takes GPU (node-local rank mod GPUs on the node); the node-local rank
 * comes from SLURM_LOCALID, OMPI_COMM_WORLD_LOCAL_RANK, MPI_LOCALRANKID or
 * MV2_COMM_WORLD_LOCAL_RANK (0 when none is set). On failure (an unknown name, "cuda" without a
 * usable GPU or without a CUDA build, tf32 on the CPU) writes one line to `why` and returns false.
 * bf16 on a CPU without AVX512-BF16 opens fp32 (the name says why). */
bool backend_open(Backend *be, const char *device, const char *precision, char *why,
                  size_t why_size);
void backend_close(Backend *be);

/* The node-local rank of this process from the launcher's variables (0 when alone). */
int backend_local_rank(void);

/* What the build and this machine offer (BLAS, ISA, threads; CUDA runtime, driver, devices,
 * cuBLAS, cuDNN, NCCL). Printed by every executable's --version. */
void backend_describe(FILE *out);
/* "cpu" or "cuda": the device of a measured latency as eval.h5 records it. */
const char *backend_device_name(const Backend *be);

/* ---- the op set ---- */

#include "kernels.h" /* AttentionShape, AdamWStep, ConvShape, BatchNormShape */

/* One tensor of an arena for the optimiser: its entries and whether it is decayed. */
typedef struct {
    size_t offset, count;
    int weight_decay; /* 1: decayed (method.md §9.4) */
} AdamWSegment;

struct BackendOps {
    /* memory: alloc returns zero-filled memory (fatal on failure, like xcalloc) */
    void *(*alloc)(const Backend *, size_t bytes);
    void (*free)(const Backend *, void *ptr);
    void (*upload)(const Backend *, void *dst, const void *host_src, size_t bytes);
    void (*download)(const Backend *, void *host_dst, const void *src, size_t bytes);
    void (*copy)(const Backend *, void *dst, const void *src, size_t bytes);
    void (*zero)(const Backend *, void *ptr, size_t bytes);
    void (*sync)(const Backend *);
    /* Milliseconds the backend spends on what work(arg) enqueues: the host's monotonic clock
     * on the CPU, CUDA events on the stream on a GPU (the host's launch overhead between the
     * events counts, its time before the first launch does not) */
    double (*time_ms)(const Backend *, void (*work)(void *arg), void *arg);

    /* matrix products (kernels.h), at be->precision */
    void (*gemm)(const Backend *, bool trans_a, bool trans_b, int m, int n, int k, real alpha,
                 const real *a, int lda, const real *b, int ldb, real beta, real *c, int ldc);
    void (*linear_forward)(const Backend *, real *y, const real *x, const real *w, const real *b,
                           int rows, int in, int out, int ldw);
    void (*linear_backward)(const Backend *, real *dx, real *dw, real *db, const real *dy,
                            const real *x, const real *w, int rows, int in, int out, int ldw);

    void (*layernorm_forward)(const Backend *, real *y, real *mean, real *rstd, const real *x,
                              const real *gamma, const real *beta, int rows, int dim);
    void (*layernorm_backward_accumulate)(const Backend *, real *dx, real *dgamma, real *dbeta,
                                          const real *dy, const real *x, const real *mean,
                                          const real *rstd, const real *gamma, int rows, int dim);
    void (*gelu_forward)(const Backend *, real *y, const real *x, size_t n);
    void (*gelu_backward)(const Backend *, real *dx, const real *dy, const real *x, size_t n);

    void (*patchify)(const Backend *, real *patches, const real *images, int batch, int channels,
                     int image_size, int patch);
    void (*tokens_forward)(const Backend *, real *x, const real *patch_embedded, const real *cls,
                           const real *pos, int batch, int tokens, int dim, int ld_pos);
    void (*tokens_backward)(const Backend *, real *dpatch_embedded, real *dcls, real *dpos,
                            const real *dx, int batch, int tokens, int dim, int ld_pos);
    void (*pool_forward)(const Backend *, real *out, const real *x, int batch, int tokens, int dim,
                         bool class_token);
    void (*pool_backward)(const Backend *, real *dx, const real *dout, int batch, int tokens,
                          int dim, bool class_token);

    void (*qkv_split)(const Backend *, real *q, real *k, real *v, const real *qkv, int rows,
                      int qdim);
    void (*qkv_merge)(const Backend *, real *dqkv, const real *dq, const real *dk, const real *dv,
                      int rows, int qdim);
    /* entries of `real` scratch the attention ops need for this shape on this backend */
    size_t (*attention_workspace_size)(const Backend *, const AttentionShape *shape);
    void (*attention_forward)(const Backend *, real *out, real *probs, const real *q, const real *k,
                              const real *v, const real *key_v, const real *key_h,
                              const real *value_v, const real *value_h, real *workspace,
                              const AttentionShape *shape);
    void (*attention_backward)(const Backend *, real *dq, real *dk, real *dv, real *dkey_v,
                               real *dkey_h, real *dvalue_v, real *dvalue_h, const real *dout,
                               const real *probs, const real *q, const real *k, const real *v,
                               const real *key_v, const real *key_h, const real *value_v,
                               const real *value_h, real *workspace, const AttentionShape *shape);

    /* The CNN family (kernels.h, the oneDNN table of the context standing in for its cache
     * argument). CPU only for now: on CUDA (cuDNN to come) these are NULL, so a caller must
     * check before it calls (prenas-op-parity reports the family as not implemented on that
     * backend and skips its cases), and a CNN model refuses a backend without them. */
    void (*conv2d_forward)(const Backend *, real *y, const real *x, const real *w,
                           const ConvShape *s);
    void (*conv2d_backward)(const Backend *, real *dx, real *dw, const real *dy, const real *x,
                            const real *w, const ConvShape *s);
    void (*batchnorm_forward_train)(const Backend *, real *y, real *mean, real *rstd,
                                    real *running_mean, real *running_var, const real *x,
                                    const real *gamma, const real *beta, const BatchNormShape *s,
                                    double momentum);
    void (*batchnorm_recalibrate)(const Backend *, real *y, real *mean, real *rstd,
                                  real *running_mean, real *running_var, const real *x,
                                  const real *gamma, const real *beta, const BatchNormShape *s,
                                  int batches_seen);
    void (*batchnorm_forward_eval)(const Backend *, real *y, const real *x, const real *gamma,
                                   const real *beta, const real *running_mean,
                                   const real *running_var, const BatchNormShape *s);
    void (*batchnorm_backward)(const Backend *, real *dx, real *dgamma, real *dbeta, const real *dy,
                               const real *x, const real *mean, const real *rstd, const real *gamma,
                               const BatchNormShape *s);
    void (*silu_forward)(const Backend *, real *y, const real *x, size_t n);
    void (*silu_backward)(const Backend *, real *dx, const real *dy, const real *x, size_t n);
    void (*relu6_forward)(const Backend *, real *y, const real *x, size_t n);
    void (*relu6_backward)(const Backend *, real *dx, const real *dy, const real *x, size_t n);
    void (*global_avg_pool_forward)(const Backend *, real *y, const real *x, int batch,
                                    int channels, int spatial);
    void (*global_avg_pool_backward)(const Backend *, real *dx, const real *dy, int batch,
                                     int channels, int spatial);
    void (*channel_scale_forward)(const Backend *, real *y, const real *x, const real *gate,
                                  int batch, int channels, int spatial);
    void (*channel_scale_backward)(const Backend *, real *dx, real *dgate, const real *dy,
                                   const real *x, const real *gate, int batch, int channels,
                                   int spatial);
    /* the batch resize: on both backends (kernels/cuda/resize.cu), the same bits; still NULL
     * on a backend without it, so callers check it like the others */
    void (*resize_bilinear)(const Backend *, real *y, const real *x, int batch, int channels,
                            int in_h, int in_w, int out_h, int out_w);

    void (*residual_forward)(const Backend *, real *out, const real *x, const real *branch,
                             const real *sample_scale, int batch, int rows_per_sample, int dim);
    void (*residual_backward)(const Backend *, real *dbranch, const real *dout,
                              const real *sample_scale, int batch, int rows_per_sample, int dim);

    /* labels are backend memory too */
    void (*soft_targets)(const Backend *, real *targets, const int *label_a, const int *label_b,
                         const real *mix, double smoothing, int batch, int classes);
    void (*cross_entropy_forward)(const Backend *, real *loss, real *probs, const real *logits,
                                  const real *targets, int batch, int classes);
    void (*cross_entropy_backward)(const Backend *, real *dlogits, const real *probs,
                                   const real *targets, int batch, int classes, double scale);
    /* out[b] = sum_c x[b, c] (the data-free objective's per-sample loss) */
    void (*row_sums)(const Backend *, real *out, const real *x, int rows, int cols);
    /* rank[b] = number of classes whose logit is above the label's; -1 when any logit of the
     * row is NaN or infinite (model_metrics turns these into top-1/top-5 counts) */
    void (*label_ranks)(const Backend *, int *rank, const real *logits, const int *labels,
                        int batch, int classes);

    /* AdamW over a whole arena in one pass: segments (backend memory) say each tensor's
     * entries and decay; the update is kernels.h's adamw_update entry by entry */
    void (*adamw)(const Backend *, real *param, const real *grad, real *m, real *v,
                  const AdamWSegment *segments, int n_segments, const AdamWStep *step);

    /* arena-wide element-wise ops and reductions (sums in double, fixed order) */
    void (*fill)(const Backend *, real *x, size_t n, double value);
    void (*scale)(const Backend *, real *x, size_t n, double factor);
    double (*sum)(const Backend *, const real *x, size_t n);
    double (*sum_squares)(const Backend *, const real *x, size_t n);
    size_t (*count_nonfinite)(const Backend *, const real *x, size_t n);
    /* the proxies' reductions (kernels.h) */
    double (*sum_abs_product)(const Backend *, const real *a, const real *b, int rows, int cols,
                              int ld);
    double (*sum_abs)(const Backend *, const real *a, int rows, int cols, int ld);
};

/* ---- host views of backend memory ---- */

/* A host copy of `bytes` of backend memory for code that reads or writes arrays on the host
 * (weights, checkpoints, score tables): on the CPU the memory itself (no copy), elsewhere a
 * downloaded copy. backend_host_end writes the copy back when `write_back`, then frees it. */
void *backend_host_begin(const Backend *be, const void *src, size_t bytes);
void backend_host_end(const Backend *be, void *host, void *dst, size_t bytes, bool write_back);
/* Host input for an op: on the CPU `host` itself, elsewhere `host` uploaded into `staging`
 * (backend memory of at least `bytes`) and `staging` returned. */
const void *backend_input(const Backend *be, void *staging, const void *host, size_t bytes);

#ifdef PRENAS_HAVE_CUDA
#ifdef __cplusplus
extern "C" {
#endif
/* kernels/cuda/backend_cuda.cu: opens GPU `device` (ordinal) at `precision`; false with a
 * reason when there is none or it is unusable. */
bool cuda_backend_open(Backend *be, int device, Precision precision, char *why, size_t why_size);
void cuda_backend_close(Backend *be);
/* the number of usable GPUs (0 with the reason in `why` when none) */
int cuda_device_count(char *why, size_t why_size);
void cuda_backend_describe(FILE *out);
#ifdef __cplusplus
}
#endif
#endif

#endif
