/* The op-parity harness's one list of op cases: every op of BackendOps (kernels/backend.h) at
 * the shapes the supernet runs it at (the micro space: embed 80, heads of 16, 50 tokens on a
 * 7 x 7 grid; Tiny: embed up to 256, heads of 64, 197 tokens on a 14 x 14 grid, R = 14), on
 * leading slices of larger matrices (ld > cols, as subnets use the supernet's tensors) and at
 * odd sizes (7, 13, 33) that no vector width divides.
 *
 * A case is a set of named buffers (OpLayout) and the op calls that read and write them,
 * forward and, where the op set has one, backward. The same code drives three modes:
 *  - tests/test_gradcheck.c: central finite differences in double precision on the CPU
 *    backend (this file built against prenas_engine_f64) for every case with a backward;
 *  - tests/ops/op_parity.c: one backend against another (CUDA against the CPU) on identical
 *    inputs, every buffer compared after forward and backward;
 *  - op_parity.c --timing: the same calls timed on each backend.
 *
 * What each case measures: every buffer that is not scratch is compared after the case ran,
 * inputs included (an op must not write its inputs, and entries outside a slice must be left
 * as they were): the error of a buffer is max|got - ref| / max|ref| over its entries, against
 * the tolerance of the case's class at the backend's precision (op_tolerance); integer and
 * segment buffers, inputs and upstream gradients must match exactly. With a backward, the
 * finite-difference mode checks each GRADIENT buffer against the derivative of
 * L = sum over UPSTREAM buffers u of <u, the output u is paired with>. */
#ifndef PRENAS_TESTS_OP_CASES_H
#define PRENAS_TESTS_OP_CASES_H

#include "backend.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    OP_GEMM,          /* C = alpha op(A) op(B) + beta C on leading slices */
    OP_LINEAR,        /* forward; backward dx (or none), dw +=, db += */
    OP_LAYERNORM,     /* forward with saved statistics; backward dx +=, dgamma +=, dbeta += */
    OP_GELU,          /* forward; backward dx */
    OP_PATCHIFY,      /* images to patch rows (forward only) */
    OP_TOKENS,        /* class token + patches + positions; backward d patches, dcls +=, dpos += */
    OP_POOL,          /* mean of the patch tokens or the class token; backward dx */
    OP_QKV,           /* qkv_split forward, qkv_merge as its backward */
    OP_ATTENTION,     /* attention with 2-D relative positions; backward incl. the tables */
    OP_RESIDUAL,      /* out = x + scale[b] branch; backward dbranch */
    OP_SOFT_TARGETS,  /* smoothed, optionally mixed targets (forward only) */
    OP_CROSS_ENTROPY, /* soft_targets, then cross_entropy_forward; backward dlogits */
    OP_ROW_SUMS,      /* per-row sums (forward only) */
    OP_LABEL_RANKS,   /* classes above the label, -1 for rows with NaN or infinity */
    OP_ADAMW,         /* one AdamW update over segments of an arena */
    OP_FILL,          /* x[1 .. n-1) = value: the ends must stay */
    OP_SCALE,         /* x[1 .. n-1) *= value */
    OP_SUM,           /* the host-returning reductions, in double */
    OP_SUM_SQUARES,
    OP_COUNT_NONFINITE,
    OP_SUM_ABS_PRODUCT, /* over the leading [rows, cols] block, row stride ld */
    OP_SUM_ABS,
    /* the CNN family (CPU only for now: op_case_supported) */
    OP_CONV,                  /* conv on a supernet weight's view; backward dx (or none), dw += */
    OP_BATCHNORM,             /* training forward + running stats; backward dx, dgamma, dbeta += */
    OP_BATCHNORM_EVAL,        /* inference with running statistics (forward only) */
    OP_BATCHNORM_RECALIBRATE, /* cumulative running statistics over several batches */
    OP_SILU,                  /* forward; backward dx */
    OP_RELU6,                 /* forward; backward dx */
    OP_GLOBAL_POOL,           /* NCHW -> NC mean; backward dx */
    OP_CHANNEL_SCALE,         /* x sigmoid(gate) per (sample, channel); backward dx, dgate */
    OP_RESIZE,                /* bilinear batch resize (forward only) */
    OP_FAMILIES
} OpFamily;

/* How close two backends must agree, by what the op computes (op_tolerance has the values). */
typedef enum {
    TOL_EXACT,       /* data movement, copies, integer results: bit for bit */
    TOL_ELEMENTWISE, /* per-entry arithmetic and short per-row sums, no tensor cores */
    TOL_REDUCTION,   /* long sums accumulated in double */
    TOL_GEMM,        /* matrix products: at be->precision */
    TOL_ATTENTION,   /* chains of products through a softmax */
    TOL_STEP_OUTPUT, /* a whole training step: loss and logits */
    TOL_STEP_GRAD,   /* a whole training step: each gradient tensor */
    TOL_CLASSES
} ToleranceClass;

/* A case's dimensions; each family reads the fields its comment names. */
typedef struct {
    /* gemm: A [trans_a ? k : m, lda], B [trans_b ? n : k, ldb], C [m, ldc] */
    int m, n, k, lda, ldb, ldc;
    bool trans_a, trans_b;
    double alpha, beta;
    /* linear: x [rows, in], W the leading [out, in] block of [super_rows, ldw]; no_dx: the
     * patch embedding's backward, which has no input gradient */
    int in, out, ldw, super_rows;
    bool no_dx;
    /* rows x cols: layernorm (dim = cols), gelu and fill/scale/sum (n = rows * cols), qkv
     * (qdim = cols), row sums, adamw (n = rows * cols entries); ld: the reductions' row stride */
    int rows, cols, ld;
    /* tokens, pooling, attention (tokens = 1 + grid^2), residual (rows per sample = tokens) */
    int batch, tokens, dim, ld_pos, heads, head_dim, grid, radius;
    bool class_token;
    /* patchify */
    int channels, image_size, patch;
    /* residual: drop-path scales per sample (zeros among them); in place: out = x */
    bool drop_path, in_place;
    /* loss: classes, mixing partners with per-sample lambda, label smoothing */
    int classes;
    bool mix;
    double smoothing;
    /* adamw: segments over the arena; gap: entries between segments, which must stay */
    int segments;
    bool gap;
    /* fill value, scale factor */
    double value;
    /* CNN maps [batch, channels, height, width]. conv: cin -> cout channels, kernel k of the
     * supernet's super_kernel, weight [super_cout, super_cin, K, K] (depthwise: cin = cout,
     * super_cin 1), no_dx as linear's. batch norm: channels of super_channels-long arrays,
     * momentum; recalibration: `batches` batches in a row. pooling, gating: channels. resize:
     * channels, height x width to out_h x out_w. */
    int cin, cout, height, width, kernel, stride, super_cin, super_cout, super_kernel;
    bool depthwise;
    int super_channels, batches;
    double momentum;
    int out_h, out_w;
} OpShape;

typedef struct {
    const char *name;
    OpFamily family;
    ToleranceClass tolerance;
    OpShape s;
    /* finite differences: entries checked per differentiable input (0: all when there are at
     * most 256, else 32 spread over it); the Tiny shapes check a few, their cost is the op */
    int fd_entries;
} OpCase;

typedef enum {
    BUF_REAL,     /* real, backend memory */
    BUF_INT,      /* int, backend memory (labels, ranks) */
    BUF_SEGMENTS, /* AdamWSegment, backend memory */
    BUF_RESULT,   /* double on the host: what a reduction returned */
    BUF_SCRATCH   /* real, backend memory sized by the backend itself; never compared */
} BufferKind;

typedef enum {
    ROLE_INPUT,    /* read only */
    ROLE_OUTPUT,   /* written (or updated in place) by the forward */
    ROLE_UPSTREAM, /* the gradient arriving at output `pair`, read by the backward */
    ROLE_GRADIENT, /* the backward's gradient of input `pair` */
    ROLE_SCRATCH
} BufferRole;

typedef struct {
    char name[16];
    BufferKind kind;
    BufferRole role;
    size_t count;     /* entries */
    double lo, hi;    /* initial values uniform in [lo, hi) (ints: whole numbers in it) */
    int pair;         /* UPSTREAM: its output; GRADIENT: its input; -1 otherwise */
    bool accumulates; /* GRADIENT: the backward adds to it (initial contents kept) */
} OpBuffer;

enum { OP_MAX_BUFFERS = 24 };

typedef struct {
    int count;
    OpBuffer b[OP_MAX_BUFFERS];
} OpLayout;

/* The case list. */
int op_case_count(void);
const OpCase *op_case(int i);
const char *op_family_name(OpFamily family);

/* The tolerance of a class at a precision (one table in op_cases.c, with why). */
double op_tolerance(ToleranceClass tolerance, Precision precision);
const char *op_precision_name(Precision precision);

/* The case's buffers on backend `be` (scratch sizes are the backend's own). */
void op_case_layout(const OpCase *c, const Backend *be, OpLayout *layout);
/* Whether backend `be` implements the case's ops (backend.h: a family may be NULL there). */
bool op_case_supported(const OpCase *c, const Backend *be);
/* Whether the case has a backward (some buffer is a GRADIENT). */
bool op_case_has_backward(const OpLayout *layout);
/* Bytes of one entry of a buffer. */
size_t op_buffer_entry_size(const OpBuffer *buffer);

/* Host arrays for every buffer of a layout (scratch too: on the CPU backend the host is the
 * backend), zero-filled; free with op_host_free. */
void op_host_alloc(const OpLayout *layout, void **host);
void op_host_free(const OpLayout *layout, void **host);
/* The case's inputs and the initial contents of every other buffer, a pure function of
 * (case, seed): identical on every backend. */
void op_case_init(const OpCase *c, const OpLayout *layout, void **host, uint64_t seed);

/* The op calls on pointers `p` (backend memory for the backend's buffers, host memory for
 * BUF_RESULT), in layout order. */
void op_case_forward(const OpCase *c, const Backend *be, const OpLayout *layout, void *const *p);
void op_case_backward(const OpCase *c, const Backend *be, const OpLayout *layout, void *const *p);

/* Backend memory for every buffer, uploaded from `host` (scratch allocated, not uploaded;
 * results get host memory of their own, copied out by op_device_download). */
void op_device_upload(const Backend *be, const OpLayout *layout, void *const *host, void **dev);
void op_device_download(const Backend *be, const OpLayout *layout, void *const *dev, void **host);
void op_device_free(const Backend *be, const OpLayout *layout, void **dev);

/* The whole run on a backend: upload `in`, forward, backward (when asked and the case has
 * one), download every buffer into `out` (allocated like op_host_alloc). `layout` is the
 * layout on `be`; `in` and `out` have that layout's non-scratch buffers. */
void op_case_run(const OpCase *c, const Backend *be, const OpLayout *layout, bool backward,
                 void *const *in, void **out);

#endif
