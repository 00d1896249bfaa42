/* Convolutions of the CNN family on views of the supernet's weights (kernels.h).
 *
 * float: oneDNN's convolution primitives (forward, backward data, backward weights), made once
 * per shape and kept (primitives.h). The caller's tensors are described to oneDNN as they lie:
 * maps NCHW, and the weight view a memory descriptor with the supernet's strides whose handle
 * points at the crop's first entry. The primitive is made with every format left to oneDNN
 * (format_tag_any), and each tensor whose chosen layout differs from the caller's is reordered
 * on the way in (or out) through the table's scratch. Why: with plain NCHW maps oneDNN falls
 * back to im2col + sgemm (gemm:jit), which for depthwise convolutions runs one channel per
 * product; with blocked maps (nChw16c) it takes its direct JIT kernels (jit_dw, jit 1x1), ten
 * times faster on the micro depthwise cases. What it costs: the weight view's reorder is one
 * pass over the subnet's weights (cout x cin x k x k entries, read and written), against
 * batch x out_h x out_w times as many multiply-adds in the convolution; a map's reorder is one
 * pass over the map against cin x k x k (or k x k depthwise) multiply-adds per entry: under
 * 10% of the convolution at the micro shapes. A tensor already in the chosen layout is used in
 * place. The weight gradient is computed into the primitive's layout, then reordered into the
 * gradient's view with a sum post-op (dw += , as the other ops' parameter gradients): the
 * reorder writes the view's entries only. One pass is ours: the weight gradient of a depthwise
 * convolution wider than 3x3, which oneDNN's direct kernels do not take
 * (depthwise_backward_weights below).
 *
 * double (the gradient-check build) and PRENAS_NO_DNNL (the device check's tier 1): plain
 * loops, written to be read, summing in double: the reference. */
#include "kernels.h"

#include "error.h"
#include "parallel.h"
#include "primitives.h"

#include <stdlib.h>

int conv_output_size(int size, int kernel, int stride) {
    return (size + 2 * (kernel / 2) - kernel) / stride + 1;
}

/* A shape the op cannot run is the caller's bug. */
static void check_shape(const ConvShape *s) {
    const bool ok = s->batch > 0 && s->height > 0 && s->width > 0 && s->in_channels > 0 &&
                    s->out_channels > 0 && s->kernel % 2 == 1 && s->kernel <= s->weight_kernel &&
                    (s->weight_kernel - s->kernel) % 2 == 0 && s->stride >= 1 && s->stride <= 4 &&
                    (s->depthwise ? s->in_channels == s->out_channels && s->weight_in == 1
                                  : s->in_channels <= s->weight_in);
    if (!ok)
        fatal_at(__FILE__, __LINE__,
                 "convolution: unsupported shape (batch %d, %dx%d, %d -> %d channels, k %d of %d, "
                 "stride %d, %s, weight_in %d)",
                 s->batch, s->height, s->width, s->in_channels, s->out_channels, s->kernel,
                 s->weight_kernel, s->stride, s->depthwise ? "depthwise" : "dense", s->weight_in);
}

/* Entry (o, i, ky, kx) of the subnet's weight in the supernet tensor: the centred crop. */
static size_t weight_at(const ConvShape *s, int o, int i, int ky, int kx) {
    const int K = s->weight_kernel, off = (K - s->kernel) / 2;
    return (((size_t)o * s->weight_in + i) * K + ky + off) * K + kx + off;
}

#ifndef CPU_DNNL_PRIMITIVES

/* The input channels output channel o reads: all of them, or its own (depthwise). */
static int first_input(const ConvShape *s, int o) {
    return s->depthwise ? o : 0;
}
static int inputs_per_output(const ConvShape *s) {
    return s->depthwise ? 1 : s->in_channels;
}

void conv2d_forward(CpuPrimitives *cache, real *y, const real *x, const real *w,
                    const ConvShape *s) {
    (void)cache;
    check_shape(s);
    const int H = s->height, W = s->width, k = s->kernel, st = s->stride, pad = k / 2;
    const int OH = conv_output_size(H, k, st), OW = conv_output_size(W, k, st);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < s->batch; b++)
        for (int o = 0; o < s->out_channels; o++) {
            real *out = y + ((size_t)b * s->out_channels + o) * OH * OW;
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++) {
                    double sum = 0;
                    for (int i = 0; i < inputs_per_output(s); i++) {
                        const real *in =
                            x + ((size_t)b * s->in_channels + first_input(s, o) + i) * H * W;
                        for (int ky = 0; ky < k; ky++) {
                            const int iy = oy * st - pad + ky;
                            if (iy < 0 || iy >= H) continue;
                            for (int kx = 0; kx < k; kx++) {
                                const int ix = ox * st - pad + kx;
                                if (ix < 0 || ix >= W) continue;
                                sum += (double)in[iy * W + ix] * w[weight_at(s, o, i, ky, kx)];
                            }
                        }
                    }
                    out[oy * OW + ox] = (real)sum;
                }
        }
}

/* dx[b, c, iy, ix] = sum over the outputs (o, oy, ox) that read it through tap (ky, kx):
 * oy stride = iy + pad - ky. Gathered per input entry, so each is written once. */
static void backward_data(real *dx, const real *dy, const real *w, const ConvShape *s) {
    const int H = s->height, W = s->width, k = s->kernel, st = s->stride, pad = k / 2;
    const int OH = conv_output_size(H, k, st), OW = conv_output_size(W, k, st);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < s->batch; b++)
        for (int c = 0; c < s->in_channels; c++) {
            const int o_first = s->depthwise ? c : 0;
            const int o_end = s->depthwise ? c + 1 : s->out_channels;
            const int i = s->depthwise ? 0 : c; /* c's index among the weight's inputs */
            for (int iy = 0; iy < H; iy++)
                for (int ix = 0; ix < W; ix++) {
                    double sum = 0;
                    for (int o = o_first; o < o_end; o++) {
                        const real *g = dy + ((size_t)b * s->out_channels + o) * OH * OW;
                        for (int ky = 0; ky < k; ky++) {
                            const int ty = iy + pad - ky;
                            if (ty < 0 || ty % st != 0 || ty / st >= OH) continue;
                            for (int kx = 0; kx < k; kx++) {
                                const int tx = ix + pad - kx;
                                if (tx < 0 || tx % st != 0 || tx / st >= OW) continue;
                                sum += (double)g[(ty / st) * OW + tx / st] *
                                       w[weight_at(s, o, i, ky, kx)];
                            }
                        }
                    }
                    dx[(((size_t)b * s->in_channels + c) * H + iy) * W + ix] = (real)sum;
                }
        }
}

/* dw[o, i, ky, kx] += sum over (b, oy, ox) of dy[b, o, oy, ox] x[b, input, oy st - pad + ky,
 * ox st - pad + kx]. */
static void backward_weights(real *dw, const real *dy, const real *x, const ConvShape *s) {
    const int H = s->height, W = s->width, k = s->kernel, st = s->stride, pad = k / 2;
    const int OH = conv_output_size(H, k, st), OW = conv_output_size(W, k, st);
#pragma omp parallel for collapse(2) schedule(static)
    for (int o = 0; o < s->out_channels; o++)
        for (int i = 0; i < inputs_per_output(s); i++)
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++) {
                    double sum = 0;
                    for (int b = 0; b < s->batch; b++) {
                        const real *g = dy + ((size_t)b * s->out_channels + o) * OH * OW;
                        const real *in =
                            x + ((size_t)b * s->in_channels + first_input(s, o) + i) * H * W;
                        for (int oy = 0; oy < OH; oy++) {
                            const int iy = oy * st - pad + ky;
                            if (iy < 0 || iy >= H) continue;
                            for (int ox = 0; ox < OW; ox++) {
                                const int ix = ox * st - pad + kx;
                                if (ix >= 0 && ix < W)
                                    sum += (double)g[oy * OW + ox] * in[iy * W + ix];
                            }
                        }
                    }
                    dw[weight_at(s, o, i, ky, kx)] += (real)sum;
                }
}

void conv2d_backward(CpuPrimitives *cache, real *dx, real *dw, const real *dy, const real *x,
                     const real *w, const ConvShape *s) {
    (void)cache;
    check_shape(s);
    if (dx) backward_data(dx, dy, w, s);
    backward_weights(dw, dy, x, s);
}

#else

typedef enum { CONV_FORWARD, CONV_BACKWARD_DATA, CONV_BACKWARD_WEIGHTS } ConvPass;

typedef struct {
    const ConvShape *s;
    ConvPass pass;
} ConvPlanArg;

/* The three tensors of a pass: the x-shaped map (x or dx), the y-shaped one (y or dy), the
 * weights (or their gradient). A plan's memory[t] is tensor t as the caller holds it (NCHW
 * maps, the weight's view in the supernet tensor), memory[TENSORS + t] the same tensor in the
 * layout the primitive chose (absent when that is the caller's), which lives in the table's
 * scratch slot t; step[t] is the reorder between the two, step[CONVOLUTION] the convolution. */
enum { T_SRC, T_DST, T_WEIGHTS, TENSORS, CONVOLUTION = TENSORS };

/* oneDNN's argument for tensor t in each pass. */
static int argument(ConvPass pass, int t) {
    static const int args[3][TENSORS] = {
        [CONV_FORWARD] = {DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_WEIGHTS},
        [CONV_BACKWARD_DATA] = {DNNL_ARG_DIFF_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS},
        [CONV_BACKWARD_WEIGHTS] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS}};
    return args[pass][t];
}

/* The tensor a pass writes: y, dx, dw (the others it reads). */
static int written(ConvPass pass) {
    return pass == CONV_FORWARD ? T_DST : pass == CONV_BACKWARD_DATA ? T_SRC : T_WEIGHTS;
}

/* The caller's layouts (user[t]: maps NCHW; the weight view, dims [out, in, k, k] or
 * [groups, 1, 1, k, k] depthwise, with the supernet's strides) and the same dims with the
 * format left to the primitive (any[t]). */
typedef struct {
    dnnl_memory_desc_t user[TENSORS], any[TENSORS];
    dnnl_dims_t strides, padding;
} ConvDescs;

static ConvDescs conv_descs(const ConvShape *s) {
    ConvDescs d;
    const int64_t k = s->kernel, K = s->weight_kernel, row = (int64_t)s->weight_in * K * K;
    const int64_t oh = conv_output_size(s->height, s->kernel, s->stride);
    const int64_t ow = conv_output_size(s->width, s->kernel, s->stride);
    const dnnl_dims_t dims[TENSORS] = {
        [T_SRC] = {s->batch, s->in_channels, s->height, s->width},
        [T_DST] = {s->batch, s->out_channels, oh, ow},
        [T_WEIGHTS] = {s->out_channels, s->depthwise ? 1 : s->in_channels, k, k}};
    const dnnl_dims_t grouped = {s->out_channels, 1, 1, k, k};
    const dnnl_dims_t dense_view = {row, K * K, K, 1}, grouped_view = {row, row, K * K, K, 1};
    for (int t = 0; t < TENSORS; t++) {
        const bool depthwise_weights = t == T_WEIGHTS && s->depthwise;
        const int ndims = depthwise_weights ? 5 : 4;
        const int64_t *tensor_dims = depthwise_weights ? grouped : dims[t];
        CHECK_DNNL(dnnl_memory_desc_init_by_tag(&d.any[t], ndims, tensor_dims, dnnl_f32,
                                                dnnl_format_tag_any));
        if (t == T_WEIGHTS)
            d.user[t] =
                plan_strided_md(ndims, tensor_dims, s->depthwise ? grouped_view : dense_view);
        else
            CHECK_DNNL(dnnl_memory_desc_init_by_tag(&d.user[t], 4, dims[t], dnnl_f32, dnnl_nchw));
    }
    d.strides[0] = d.strides[1] = s->stride;
    d.padding[0] = d.padding[1] = s->kernel / 2;
    return d;
}

static dnnl_primitive_desc_t forward_pd(const ConvDescs *d, dnnl_engine_t engine) {
    dnnl_convolution_desc_t desc;
    CHECK_DNNL(dnnl_convolution_forward_desc_init(
        &desc, dnnl_forward_training, dnnl_convolution_direct, &d->any[T_SRC], &d->any[T_WEIGHTS],
        NULL, &d->any[T_DST], d->strides, d->padding, d->padding));
    dnnl_primitive_desc_t pd;
    CHECK_DNNL(dnnl_primitive_desc_create(&pd, &desc, NULL, engine, NULL));
    return pd;
}

static dnnl_memory_t handle_memory(const dnnl_memory_desc_t *md, dnnl_engine_t engine) {
    dnnl_memory_t m;
    CHECK_DNNL(dnnl_memory_create(&m, md, engine, DNNL_MEMORY_NONE));
    return m;
}

static void make_plan(DnnlPlan *p, dnnl_engine_t engine, const void *arg) {
    const ConvPlanArg *a = arg;
    const ConvDescs d = conv_descs(a->s);
    dnnl_primitive_desc_t pd = forward_pd(&d, engine);
    if (a->pass != CONV_FORWARD) { /* the backward primitives are made with the forward's hint */
        p->hint = pd;
        dnnl_convolution_desc_t desc;
        if (a->pass == CONV_BACKWARD_DATA)
            CHECK_DNNL(dnnl_convolution_backward_data_desc_init(
                &desc, dnnl_convolution_direct, &d.any[T_SRC], &d.any[T_WEIGHTS], &d.any[T_DST],
                d.strides, d.padding, d.padding));
        else
            CHECK_DNNL(dnnl_convolution_backward_weights_desc_init(
                &desc, dnnl_convolution_direct, &d.any[T_SRC], &d.any[T_WEIGHTS], NULL,
                &d.any[T_DST], d.strides, d.padding, d.padding));
        CHECK_DNNL(dnnl_primitive_desc_create(&pd, &desc, NULL, engine, p->hint));
    }
    CHECK_DNNL(dnnl_primitive_create(&p->step[CONVOLUTION], pd));
    for (int t = 0; t < TENSORS; t++) {
        const dnnl_memory_desc_t chosen =
            *dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, argument(a->pass, t));
        p->memory[t] = handle_memory(&d.user[t], engine);
        /* the weight gradient is added to the caller's (a reorder with a sum post-op), so it
         * always goes through a buffer; the rest only where the layouts differ */
        const bool accumulate = t == T_WEIGHTS && a->pass == CONV_BACKWARD_WEIGHTS;
        if (!accumulate && dnnl_memory_desc_equal(&d.user[t], &chosen)) continue;
        p->memory[TENSORS + t] = handle_memory(&chosen, engine);
        p->step[t] = t == written(a->pass) ? plan_reorder(engine, &chosen, &d.user[t], accumulate)
                                           : plan_reorder(engine, &d.user[t], &chosen, 0);
    }
    CHECK_DNNL(dnnl_primitive_desc_destroy(pd));
}

/* Reorder tensor t between the caller's layout and the primitive's. */
static void reorder(CpuPrimitives *table, DnnlPlan *p, int t, bool to_user) {
    const dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, p->memory[to_user ? TENSORS + t : t]},
                                     {DNNL_ARG_DST, p->memory[to_user ? t : TENSORS + t]}};
    cpu_plan_run(table, p->step[t], 2, args);
}

/* One pass on the caller's arrays: x or dx, y or dy, the weight (or its gradient: the
 * supernet tensor, read or written at the crop's first entry). */
static void run(CpuPrimitives *cache, const ConvShape *s, ConvPass pass, const real *src,
                const real *dst, const real *weights) {
    CpuPrimitives *table = cpu_primitives_begin(cache);
    const int64_t key[PLAN_KEY] = {PLAN_CONV, pass,           s->batch,        s->height,
                                   s->width,  s->in_channels, s->out_channels, s->kernel,
                                   s->stride, s->depthwise,   s->weight_in,    s->weight_kernel};
    const ConvPlanArg arg = {s, pass};
    DnnlPlan *p = cpu_plan(table, key, make_plan, &arg);
    const size_t crop = (size_t)(s->weight_kernel - s->kernel) / 2 * (s->weight_kernel + 1);
    const real *user[TENSORS] = {src, dst, weights + crop};
    dnnl_exec_arg_t args[TENSORS];
    for (int t = 0; t < TENSORS; t++) {
        CHECK_DNNL(dnnl_memory_set_data_handle(p->memory[t], (void *)user[t]));
        dnnl_memory_t used = p->memory[t];
        if (p->memory[TENSORS + t]) { /* the primitive's layout, in scratch slot t */
            const dnnl_memory_desc_t *md;
            CHECK_DNNL(dnnl_memory_get_memory_desc(p->memory[TENSORS + t], &md));
            void *buffer = cpu_scratch(table, t, dnnl_memory_desc_get_size(md));
            CHECK_DNNL(dnnl_memory_set_data_handle(p->memory[TENSORS + t], buffer));
            used = p->memory[TENSORS + t];
            if (t != written(pass)) reorder(table, p, t, false);
        }
        args[t] = (dnnl_exec_arg_t){argument(pass, t), used};
    }
    cpu_plan_run(table, p->step[CONVOLUTION], TENSORS, args);
    if (p->step[written(pass)]) reorder(table, p, written(pass), true);
    cpu_primitives_end(cache, table);
}

void conv2d_forward(CpuPrimitives *cache, real *y, const real *x, const real *w,
                    const ConvShape *s) {
    check_shape(s);
    run(cache, s, CONV_FORWARD, x, y, w);
}

/* ---- the weight gradient of a depthwise convolution wider than 3x3: a loop of our own ----
 *
 * oneDNN's direct depthwise backward-weights kernel (jit_uni_dw_conv_bwd_weights, 2.6) takes
 * kernels up to 3 columns only; for 5x5 and 7x7 it falls back to im2col and one small GEMM per
 * channel (x64:gemm:jit), which took 375 of the 650 ms oneDNN spent in a micro training step
 * (the largest subnet, batch 128, one thread; docs/benchmarks.md, "CNN training step against
 * PyTorch"), at about 1 GFLOP/s.
 *
 * dw[c, ky, kx] += sum over (b, oy, ox) of dy[b, c, oy, ox] x[b, c, oy s - pad + ky,
 * ox s - pad + kx]. The zero-padded input plane of each (sample, channel) is split into its
 * s x s phases, P_ab[i, j] = xpad[i s + a, j s + b], each stored as Hq = OH + q rows of
 * Wq = OW + q, q = (k - 1) / s, and dy likewise with zeros in its last q rows and columns; then
 * tap (ky, kx) is a dot product between dy and phase (ky mod s, kx mod s) shifted by
 * (ky / s) Wq + kx / s, as if both were flat arrays: the zeros of dy cancel the products that
 * wrap around a row or into the next plane. So the planes of several samples, one after the
 * other, make one long dot product per tap (short ones would cost their calls: the late
 * stages' maps are 4 x 4). Each runs in LANES fixed float lanes, element-wise (so it vectorises
 * without reassociating a sum, and its order does not depend on alignment), summed into double
 * after every ~CHUNK products per lane group; the threads split the channels and a channel's
 * sums are one thread's, in a fixed order: the same bits for any thread count and every call. */

enum { LANES = 16, CHUNK = 1024 };

/* sum over j < n of a[j] b[j], n a multiple of LANES, in LANES float lanes. */
CPU_DISPATCH static double lane_dot(const real *restrict a, const real *restrict b, int n) {
    real lane[LANES] = {0};
    for (int j = 0; j < n; j += LANES)
        for (int l = 0; l < LANES; l++) lane[l] += a[j + l] * b[j + l];
    double sum = 0;
    for (int l = 0; l < LANES; l++) sum += lane[l];
    return sum;
}

/* out[j] = in[j st + first] for j in [0, n), zero where that index falls outside [0, len). */
static void gather_row(real *out, const real *in, int len, int n, int st, int first) {
    const int lo = first >= 0 ? 0 : (-first + st - 1) / st;
    const int hi_in = first < len ? (len - 1 - first) / st + 1 : 0;
    const int hi = hi_in < n ? hi_in : n;
    for (int j = 0; j < n; j++) out[j] = 0;
    for (int j = lo; j < hi; j++) out[j] = in[j * st + first];
}

static void depthwise_backward_weights(real *dw, const real *dy, const real *x,
                                       const ConvShape *s) {
    const int H = s->height, W = s->width, k = s->kernel, st = s->stride, pad = k / 2;
    const int OH = conv_output_size(H, k, st), OW = conv_output_size(W, k, st);
    const int q = (k - 1) / st, Wq = OW + q, block = (OH + q) * Wq;
    const int per = block >= CHUNK ? 1 : CHUNK / block; /* samples per dot product */
    const int longest = (per * block + LANES - 1) / LANES * LANES;
    /* a phase is read up to q Wq + q entries past the dot product's length */
    const size_t phase = (size_t)longest + (size_t)q * Wq + q;
#pragma omp parallel
    {
        real *g = xmalloc((size_t)longest * sizeof *g);
        real *phases = xmalloc((size_t)st * st * phase * sizeof *phases);
        double *sum = xmalloc((size_t)k * k * sizeof *sum);
#pragma omp for schedule(static)
        for (int c = 0; c < s->in_channels; c++) {
            for (int t = 0; t < k * k; t++) sum[t] = 0;
            for (int b0 = 0; b0 < s->batch; b0 += per) {
                const int nb = s->batch - b0 < per ? s->batch - b0 : per;
                const int n = (nb * block + LANES - 1) / LANES * LANES;
                for (int b = 0; b < nb; b++) {
                    const size_t plane = (size_t)(b0 + b) * s->in_channels + c;
                    const real *in = x + plane * H * W, *grad = dy + plane * OH * OW;
                    real *gb = g + (size_t)b * block;
                    for (int i = 0; i < OH + q; i++)
                        gather_row(gb + i * Wq, grad + (size_t)i * OW, i < OH ? OW : 0, Wq, 1, 0);
                    for (int a = 0; a < st * st; a++) {
                        real *p = phases + a * phase + (size_t)b * block;
                        for (int i = 0; i < OH + q; i++) {
                            const int iy = i * st + a / st - pad;
                            const bool inside = iy >= 0 && iy < H;
                            gather_row(p + i * Wq, in + (size_t)(inside ? iy : 0) * W,
                                       inside ? W : 0, Wq, st, a % st - pad);
                        }
                    }
                }
                /* zeros past the planes: nothing stale (a NaN times zero) enters a sum */
                for (int j = nb * block; j < n; j++) g[j] = 0;
                for (int a = 0; a < st * st; a++)
                    for (size_t j = (size_t)nb * block; j < (size_t)n + (size_t)q * Wq + q; j++)
                        phases[a * phase + j] = 0;
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        const real *p = phases + (size_t)((ky % st) * st + kx % st) * phase;
                        sum[ky * k + kx] += lane_dot(g, p + (ky / st) * Wq + kx / st, n);
                    }
            }
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++)
                    dw[weight_at(s, c, 0, ky, kx)] += (real)sum[ky * k + kx];
        }
        free(g);
        free(phases);
        free(sum);
    }
}

void conv2d_backward(CpuPrimitives *cache, real *dx, real *dw, const real *dy, const real *x,
                     const real *w, const ConvShape *s) {
    check_shape(s);
    if (dx) run(cache, s, CONV_BACKWARD_DATA, dx, dy, w);
    if (s->depthwise && s->kernel > 3)
        depthwise_backward_weights(dw, dy, x, s);
    else
        run(cache, s, CONV_BACKWARD_WEIGHTS, x, dy, dw);
}
#endif
