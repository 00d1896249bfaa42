/* The CNN family's activations and pooling (kernels.h): SiLU and ReLU6, global average
 * pooling, and squeeze-and-excitation's sigmoid gating.
 *
 * SiLU and ReLU6 in float: oneDNN's eltwise primitives (swish with alpha 1; clip_v2 on
 * [0, 6], whose gradient, like PyTorch's hardtanh, is zero at the bounds themselves), one per
 * size and direction kept in the context's table (primitives.h). In double and PRENAS_NO_DNNL:
 * plain loops, the reference. Pooling and gating are a sum or a product per (sample, channel):
 * plain loops in every build, sums in double in a fixed order. */
#include "kernels.h"

#include "primitives.h"

#include <math.h>

typedef enum { ACT_SILU, ACT_RELU6 } Activation;

static double sigmoid(double x) {
    return 1 / (1 + exp(-x));
}

#ifndef CPU_DNNL_PRIMITIVES

static void activation_forward(CpuPrimitives *cache, Activation a, real *y, const real *x,
                               size_t n) {
    (void)cache;
#pragma omp parallel for schedule(static) if (n >= 16384)
    for (size_t i = 0; i < n; i++)
        y[i] = a == ACT_SILU ? (real)(x[i] * sigmoid(x[i])) : x[i] < 0 ? 0 : x[i] > 6 ? 6 : x[i];
}

/* SiLU: d/dx x s(x) = s (1 + x (1 - s)); ReLU6: 1 strictly inside (0, 6). */
static void activation_backward(CpuPrimitives *cache, Activation a, real *dx, const real *dy,
                                const real *x, size_t n) {
    (void)cache;
#pragma omp parallel for schedule(static) if (n >= 16384)
    for (size_t i = 0; i < n; i++) {
        if (a == ACT_RELU6) {
            dx[i] = x[i] > 0 && x[i] < 6 ? dy[i] : 0;
        } else {
            const double sig = sigmoid(x[i]);
            dx[i] = (real)(dy[i] * sig * (1 + x[i] * (1 - sig)));
        }
    }
}

#else

/* Memory slots: the input x, the output (y, or dx backward), the upstream gradient dy. */
enum { ACT_X, ACT_OUT, ACT_DY };

typedef struct {
    Activation activation;
    bool backward;
    size_t n;
} ActivationArg;

static void make_plan(DnnlPlan *p, dnnl_engine_t engine, const void *arg) {
    const ActivationArg *a = arg;
    const dnnl_dims_t dims = {(int64_t)a->n}, strides = {1};
    const dnnl_memory_desc_t md = plan_strided_md(1, dims, strides);
    const dnnl_alg_kind_t alg =
        a->activation == ACT_SILU ? dnnl_eltwise_swish : dnnl_eltwise_clip_v2;
    const float alpha = a->activation == ACT_SILU ? 1.0f : 0.0f; /* swish: x sigmoid(alpha x) */
    const float beta = a->activation == ACT_SILU ? 0.0f : 6.0f;  /* clip_v2: [alpha, beta] */
    dnnl_eltwise_desc_t desc;
    CHECK_DNNL(dnnl_eltwise_forward_desc_init(&desc, dnnl_forward_training, alg, &md, alpha, beta));
    dnnl_primitive_desc_t pd;
    CHECK_DNNL(dnnl_primitive_desc_create(&pd, &desc, NULL, engine, NULL));
    if (a->backward) { /* made with the forward's hint, kept with the plan */
        p->hint = pd;
        CHECK_DNNL(dnnl_eltwise_backward_desc_init(&desc, alg, &md, &md, alpha, beta));
        CHECK_DNNL(dnnl_primitive_desc_create(&pd, &desc, NULL, engine, p->hint));
    }
    CHECK_DNNL(dnnl_primitive_create(&p->step[0], pd));
    CHECK_DNNL(dnnl_primitive_desc_destroy(pd));
    for (int i = 0; i < (a->backward ? 3 : 2); i++)
        CHECK_DNNL(dnnl_memory_create(&p->memory[i], &md, engine, DNNL_MEMORY_NONE));
}

/* forward: y = f(x); backward: dx = f'(x) dy */
static void eltwise(CpuPrimitives *cache, Activation a, real *out, const real *dy, const real *x,
                    size_t n) {
    if (n == 0) return;
    CpuPrimitives *t = cpu_primitives_begin(cache);
    const ActivationArg arg = {a, dy != NULL, n};
    const int64_t key[PLAN_KEY] = {PLAN_ELTWISE, a, dy != NULL, (int64_t)n};
    DnnlPlan *p = cpu_plan(t, key, make_plan, &arg);
    CHECK_DNNL(dnnl_memory_set_data_handle(p->memory[ACT_X], (void *)x));
    CHECK_DNNL(dnnl_memory_set_data_handle(p->memory[ACT_OUT], out));
    if (dy) {
        CHECK_DNNL(dnnl_memory_set_data_handle(p->memory[ACT_DY], (void *)dy));
        const dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, p->memory[ACT_X]},
                                         {DNNL_ARG_DIFF_DST, p->memory[ACT_DY]},
                                         {DNNL_ARG_DIFF_SRC, p->memory[ACT_OUT]}};
        cpu_plan_run(t, p->step[0], 3, args);
    } else {
        const dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, p->memory[ACT_X]},
                                         {DNNL_ARG_DST, p->memory[ACT_OUT]}};
        cpu_plan_run(t, p->step[0], 2, args);
    }
    cpu_primitives_end(cache, t);
}

static void activation_forward(CpuPrimitives *cache, Activation a, real *y, const real *x,
                               size_t n) {
    eltwise(cache, a, y, NULL, x, n);
}

static void activation_backward(CpuPrimitives *cache, Activation a, real *dx, const real *dy,
                                const real *x, size_t n) {
    eltwise(cache, a, dx, dy, x, n);
}
#endif

void silu_forward(CpuPrimitives *cache, real *y, const real *x, size_t n) {
    activation_forward(cache, ACT_SILU, y, x, n);
}
void silu_backward(CpuPrimitives *cache, real *dx, const real *dy, const real *x, size_t n) {
    activation_backward(cache, ACT_SILU, dx, dy, x, n);
}
void relu6_forward(CpuPrimitives *cache, real *y, const real *x, size_t n) {
    activation_forward(cache, ACT_RELU6, y, x, n);
}
void relu6_backward(CpuPrimitives *cache, real *dx, const real *dy, const real *x, size_t n) {
    activation_backward(cache, ACT_RELU6, dx, dy, x, n);
}

/* ---- pooling and gating: one (sample, channel) plane per iteration ---- */

void global_avg_pool_forward(real *y, const real *x, int batch, int channels, int spatial) {
    const int planes = batch * channels;
#pragma omp parallel for schedule(static) if (planes >= 256)
    for (int p = 0; p < planes; p++) {
        const real *in = x + (size_t)p * spatial;
        double sum = 0;
        for (int i = 0; i < spatial; i++) sum += in[i];
        y[p] = (real)(sum / spatial);
    }
}

void global_avg_pool_backward(real *dx, const real *dy, int batch, int channels, int spatial) {
    const int planes = batch * channels;
#pragma omp parallel for schedule(static) if (planes >= 256)
    for (int p = 0; p < planes; p++) {
        const real g = (real)(dy[p] / (double)spatial);
        for (int i = 0; i < spatial; i++) dx[(size_t)p * spatial + i] = g;
    }
}

void channel_scale_forward(real *y, const real *x, const real *gate, int batch, int channels,
                           int spatial) {
    const int planes = batch * channels;
#pragma omp parallel for schedule(static) if (planes >= 256)
    for (int p = 0; p < planes; p++) {
        const real g = (real)sigmoid(gate[p]);
        for (int i = 0; i < spatial; i++)
            y[(size_t)p * spatial + i] = x[(size_t)p * spatial + i] * g;
    }
}

/* dx = dy s; dgate = s (1 - s) sum(dy x) over the plane. */
void channel_scale_backward(real *dx, real *dgate, const real *dy, const real *x, const real *gate,
                            int batch, int channels, int spatial) {
    const int planes = batch * channels;
#pragma omp parallel for schedule(static) if (planes >= 256)
    for (int p = 0; p < planes; p++) {
        const double s = sigmoid(gate[p]);
        const size_t at = (size_t)p * spatial;
        double sum = 0;
        for (int i = 0; i < spatial; i++) {
            sum += (double)dy[at + i] * x[at + i];
            dx[at + i] = (real)(dy[at + i] * s);
        }
        dgate[p] = (real)(s * (1 - s) * sum);
    }
}
