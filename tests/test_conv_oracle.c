/* The CNN family's ops on the CPU backend (oneDNN in this float build) against an independent
 * PyTorch implementation (tests/oracle/conv_oracle.py, float64 autograd; the batch resize
 * against PyTorch's own float32 F.interpolate).
 *
 * For each case this test writes the inputs (a supernet-shaped weight and the view's
 * parameters for a convolution: BigNAS kernel sharing), runs forward and backward through
 * backend_open("cpu")'s op table, and writes the outputs and gradients to one HDF5 file; the
 * script recomputes them from the inputs with torch.nn.functional (conv2d, batch_norm, silu,
 * hardtanh, adaptive_avg_pool2d, sigmoid) and autograd, prints the largest absolute and
 * relative error of every tensor, and fails past the tolerances it states. Weight gradients
 * accumulate into arrays that start non-zero, whose entries outside the view must come back
 * bit for bit.
 *
 * Each op also runs a second time on the same inputs: the kept oneDNN plans (the second call
 * finds them in the context's table) must give the same bits. */
#include "check.h"
#include "oracle_run.h"

#include "backend.h"
#include "h5.h"
#include "rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(sizeof(real) == sizeof(float), "the oracle checks the float engine");

static Rng rng;

static real *random_array(size_t n, double lo, double hi) {
    real *a = malloc(n * sizeof *a);
    for (size_t i = 0; i < n; i++) a[i] = (real)(lo + (hi - lo) * rng_uniform(&rng));
    return a;
}

static real *copy_of(const real *a, size_t n) {
    real *b = malloc(n * sizeof *b);
    memcpy(b, a, n * sizeof *b);
    return b;
}

static bool same(const real *a, const real *b, size_t n) {
    return memcmp(a, b, n * sizeof *a) == 0;
}

/* A float dataset of rank 1 to 4 (dims[i] 0 ends the list). */
static void put(hid_t g, const char *name, const real *data, hsize_t d0, hsize_t d1, hsize_t d2,
                hsize_t d3) {
    const hsize_t dims[4] = {d0, d1, d2, d3};
    int rank = 1;
    while (rank < 4 && dims[rank]) rank++;
    h5_write(g, name, H5T_NATIVE_FLOAT, rank, dims, data);
}

/* A group of the file for one case: `kind` picks the script's check, `label` is printed. */
static hid_t case_group(hid_t file, const char *name, const char *kind, const char *label) {
    hid_t g = h5_create_group(file, name);
    h5_attr_string(g, "kind", kind);
    h5_attr_string(g, "label", label);
    return g;
}

/* ---- convolutions: supernet weight [super_out, weight_in, K, K] and its view ---- */

typedef struct {
    const char *name;
    ConvShape s;
    int super_out;
} ConvCase;

/* ConvShape's fields in order: batch, height, width, in and out channels, kernel, stride,
 * depthwise, weight_in, weight_kernel; then the supernet's output channels. */
static const ConvCase CONV_CASES[] = {
    {"conv 3x3 of 5x5, stride 2, 8->12 of 16->24 channels, 13x13",
     {2, 13, 13, 8, 12, 3, 2, false, 16, 5},
     24},
    {"conv 3x3 stem, stride 2, 1->16 of 1->24 channels, 28x28",
     {4, 28, 28, 1, 16, 3, 2, false, 1, 3},
     24},
    {"depthwise 3x3 of 5x5, stride 2, 32 of 48 channels, 28x28",
     {2, 28, 28, 32, 32, 3, 2, true, 1, 5},
     48},
    {"depthwise 5x5, stride 1, 24 of 32 channels, 14x14",
     {4, 14, 14, 24, 24, 5, 1, true, 1, 5},
     32},
    {"depthwise 3x3 of 5x5, stride 1, 7 of 9 channels, 7x13",
     {3, 7, 13, 7, 7, 3, 1, true, 1, 5},
     9},
    {"pointwise 16->64 of 24->96 channels, 14x14", {4, 14, 14, 16, 64, 1, 1, false, 24, 1}, 96},
    {"pointwise stride 2, 5->3 of 7->4 channels, 13x7", {3, 13, 7, 5, 3, 1, 2, false, 7, 1}, 4},
    {"depthwise 5x5 of 7x7, stride 3, 6 of 8 channels, 9x10 (tests/spaces/cnn-se.cfg)",
     {2, 9, 10, 6, 6, 5, 3, true, 1, 7},
     8},
};

static void conv_case(const Backend *be, hid_t file, int index, const ConvCase *c) {
    const ConvShape *s = &c->s;
    const int oh = conv_output_size(s->height, s->kernel, s->stride);
    const int ow = conv_output_size(s->width, s->kernel, s->stride);
    const size_t nx = (size_t)s->batch * s->in_channels * s->height * s->width;
    const size_t ny = (size_t)s->batch * s->out_channels * oh * ow;
    const size_t nw = (size_t)c->super_out * s->weight_in * s->weight_kernel * s->weight_kernel;
    real *x = random_array(nx, -1, 1), *w = random_array(nw, -1, 1), *dy = random_array(ny, -1, 1);
    real *dw0 = random_array(nw, -1, 1); /* a gradient accumulated before */
    real *y = malloc(ny * sizeof *y), *dx = malloc(nx * sizeof *dx), *dw = copy_of(dw0, nw);
    real *y2 = malloc(ny * sizeof *y), *dx2 = malloc(nx * sizeof *dx), *dw2 = copy_of(dw0, nw);
    be->ops->conv2d_forward(be, y, x, w, s);
    be->ops->conv2d_backward(be, dx, dw, dy, x, w, s);
    be->ops->conv2d_forward(be, y2, x, w, s);
    be->ops->conv2d_backward(be, dx2, dw2, dy, x, w, s);
    if (!CHECK(same(y, y2, ny) && same(dx, dx2, nx) && same(dw, dw2, nw)))
        fprintf(stderr, "     %s: a second run on the kept plans differs\n", c->name);

    char name[32];
    snprintf(name, sizeof name, "conv%d", index);
    hid_t g = case_group(file, name, "conv", c->name);
    h5_attr_int(g, "kernel", s->kernel);
    h5_attr_int(g, "stride", s->stride);
    h5_attr_int(g, "depthwise", s->depthwise);
    h5_attr_int(g, "in_channels", s->in_channels);
    h5_attr_int(g, "out_channels", s->out_channels);
    const hsize_t K = (hsize_t)s->weight_kernel;
    put(g, "x", x, (hsize_t)s->batch, (hsize_t)s->in_channels, (hsize_t)s->height,
        (hsize_t)s->width);
    put(g, "w", w, (hsize_t)c->super_out, (hsize_t)s->weight_in, K, K);
    put(g, "dw_before", dw0, (hsize_t)c->super_out, (hsize_t)s->weight_in, K, K);
    put(g, "dy", dy, (hsize_t)s->batch, (hsize_t)s->out_channels, (hsize_t)oh, (hsize_t)ow);
    put(g, "y", y, (hsize_t)s->batch, (hsize_t)s->out_channels, (hsize_t)oh, (hsize_t)ow);
    put(g, "dx", dx, (hsize_t)s->batch, (hsize_t)s->in_channels, (hsize_t)s->height,
        (hsize_t)s->width);
    put(g, "dw", dw, (hsize_t)c->super_out, (hsize_t)s->weight_in, K, K);
    H5Gclose(g);
    free(x), free(w), free(dy), free(dw0), free(y), free(dx), free(dw), free(y2), free(dx2);
    free(dw2);
}

/* ---- batch norm: leading channels of C_max-long arrays ---- */

typedef struct {
    real *gamma, *beta, *running_mean, *running_var, *dgamma, *dbeta;
} NormParams;

static NormParams norm_params(int c_max) {
    return (NormParams){random_array(c_max, 0.5, 1.5),  random_array(c_max, -0.5, 0.5),
                        random_array(c_max, -0.5, 0.5), random_array(c_max, 0.5, 2),
                        random_array(c_max, -1, 1),     random_array(c_max, -1, 1)};
}

static void norm_params_free(NormParams *p) {
    free(p->gamma), free(p->beta), free(p->running_mean), free(p->running_var);
    free(p->dgamma), free(p->dbeta);
}

static void put_maps(hid_t g, const char *name, const real *data, int batches,
                     const BatchNormShape *s) {
    put(g, name, data, (hsize_t)batches * s->batch, (hsize_t)s->channels, (hsize_t)s->height,
        (hsize_t)s->width);
}

/* Training forward with running statistics (momentum 0.1), backward, and inference with the
 * updated statistics, on x of mean 2 (a large mean next to its spread). */
static void batchnorm_case(const Backend *be, hid_t file) {
    const BatchNormShape s = {4, 24, 14, 14, 1e-5};
    const int c_max = 32;
    const double momentum = 0.1;
    const size_t n = (size_t)s.batch * s.channels * s.height * s.width;
    NormParams p = norm_params(c_max);
    real *x = random_array(n, 0, 4), *dy = random_array(n, -1, 1);
    real *y = malloc(n * sizeof *y), *dx = malloc(n * sizeof *dx), *y_eval = malloc(n * sizeof *y);
    real *mean = malloc(s.channels * sizeof *mean), *rstd = malloc(s.channels * sizeof *rstd);
    hid_t g = case_group(file, "batchnorm", "batchnorm",
                         "batch norm 24 of 32 channels, 4 x 14 x 14, momentum 0.1");
    h5_attr_doubles(g, "momentum", &momentum, 1);
    h5_attr_doubles(g, "eps", &s.eps, 1);
    put_maps(g, "x", x, 1, &s);
    put_maps(g, "dy", dy, 1, &s);
    put(g, "gamma", p.gamma, c_max, 0, 0, 0);
    put(g, "beta", p.beta, c_max, 0, 0, 0);
    put(g, "running_mean_before", p.running_mean, c_max, 0, 0, 0);
    put(g, "running_var_before", p.running_var, c_max, 0, 0, 0);
    put(g, "dgamma_before", p.dgamma, c_max, 0, 0, 0);
    put(g, "dbeta_before", p.dbeta, c_max, 0, 0, 0);
    be->ops->batchnorm_forward_train(be, y, mean, rstd, p.running_mean, p.running_var, x, p.gamma,
                                     p.beta, &s, momentum);
    be->ops->batchnorm_backward(be, dx, p.dgamma, p.dbeta, dy, x, mean, rstd, p.gamma, &s);
    be->ops->batchnorm_forward_eval(be, y_eval, x, p.gamma, p.beta, p.running_mean, p.running_var,
                                    &s);
    put_maps(g, "y", y, 1, &s);
    put_maps(g, "dx", dx, 1, &s);
    put_maps(g, "y_eval", y_eval, 1, &s);
    put(g, "mean", mean, (hsize_t)s.channels, 0, 0, 0);
    put(g, "rstd", rstd, (hsize_t)s.channels, 0, 0, 0);
    put(g, "running_mean", p.running_mean, c_max, 0, 0, 0);
    put(g, "running_var", p.running_var, c_max, 0, 0, 0);
    put(g, "dgamma", p.dgamma, c_max, 0, 0, 0);
    put(g, "dbeta", p.dbeta, c_max, 0, 0, 0);
    H5Gclose(g);
    norm_params_free(&p);
    free(x), free(dy), free(y), free(dx), free(y_eval), free(mean), free(rstd);
}

/* Recalibration: three batches in a row from arbitrary running statistics, which the first
 * batch must replace (PyTorch's momentum=None, num_batches_tracked from 0). */
static void recalibrate_case(const Backend *be, hid_t file) {
    const BatchNormShape s = {2, 16, 7, 7, 1e-5};
    const int c_max = 24, batches = 3;
    const size_t n = (size_t)s.batch * s.channels * s.height * s.width;
    NormParams p = norm_params(c_max);
    real *x = random_array(batches * n, -1, 3), *y = malloc(batches * n * sizeof *y);
    real *mean = malloc(s.channels * sizeof *mean), *rstd = malloc(s.channels * sizeof *rstd);
    hid_t g = case_group(file, "recalibrate", "recalibrate",
                         "batch norm recalibration, 3 batches of 2 x 16 of 24 x 7 x 7");
    h5_attr_int(g, "batches", batches);
    h5_attr_doubles(g, "eps", &s.eps, 1);
    put_maps(g, "x", x, batches, &s);
    put(g, "gamma", p.gamma, c_max, 0, 0, 0);
    put(g, "beta", p.beta, c_max, 0, 0, 0);
    put(g, "running_mean_before", p.running_mean, c_max, 0, 0, 0);
    put(g, "running_var_before", p.running_var, c_max, 0, 0, 0);
    for (int k = 0; k < batches; k++)
        be->ops->batchnorm_recalibrate(be, y + k * n, mean, rstd, p.running_mean, p.running_var,
                                       x + k * n, p.gamma, p.beta, &s, k);
    put_maps(g, "y", y, batches, &s);
    put(g, "running_mean", p.running_mean, c_max, 0, 0, 0);
    put(g, "running_var", p.running_var, c_max, 0, 0, 0);
    H5Gclose(g);
    norm_params_free(&p);
    free(x), free(y), free(mean), free(rstd);
}

/* ---- activations, pooling, gating ---- */

/* SiLU and ReLU6 on [-8, 8) with the ReLU6 bounds 0 and 6 among the inputs (their gradient:
 * zero, as PyTorch's hardtanh). */
static void activation_case(const Backend *be, hid_t file, bool silu) {
    const size_t n = 4 * 32 * 14 * 14;
    real *x = random_array(n, -8, 8), *dy = random_array(n, -1, 1);
    x[0] = 0, x[1] = 6, x[2] = -0.0f, x[n - 1] = 6;
    real *y = malloc(n * sizeof *y), *dx = malloc(n * sizeof *dx);
    hid_t g = case_group(file, silu ? "silu" : "relu6", silu ? "silu" : "relu6",
                         silu ? "SiLU, 4 x 32 x 14 x 14" : "ReLU6, 4 x 32 x 14 x 14");
    if (silu) {
        be->ops->silu_forward(be, y, x, n);
        be->ops->silu_backward(be, dx, dy, x, n);
    } else {
        be->ops->relu6_forward(be, y, x, n);
        be->ops->relu6_backward(be, dx, dy, x, n);
    }
    put(g, "x", x, n, 0, 0, 0);
    put(g, "dy", dy, n, 0, 0, 0);
    put(g, "y", y, n, 0, 0, 0);
    put(g, "dx", dx, n, 0, 0, 0);
    H5Gclose(g);
    free(x), free(dy), free(y), free(dx);
}

static void pool_case(const Backend *be, hid_t file) {
    const int batch = 4, channels = 64, side = 7, spatial = side * side;
    const size_t planes = (size_t)batch * channels, n = planes * spatial;
    real *x = random_array(n, -1, 3), *dy = random_array(planes, -1, 1);
    real *y = malloc(planes * sizeof *y), *dx = malloc(n * sizeof *dx);
    be->ops->global_avg_pool_forward(be, y, x, batch, channels, spatial);
    be->ops->global_avg_pool_backward(be, dx, dy, batch, channels, spatial);
    hid_t g = case_group(file, "pool", "pool", "global average pool, 4 x 64 x 7 x 7");
    put(g, "x", x, batch, channels, side, side);
    put(g, "dy", dy, batch, channels, 0, 0);
    put(g, "y", y, batch, channels, 0, 0);
    put(g, "dx", dx, batch, channels, side, side);
    H5Gclose(g);
    free(x), free(dy), free(y), free(dx);
}

static void gate_case(const Backend *be, hid_t file) {
    const int batch = 2, channels = 16, side = 14, spatial = side * side;
    const size_t planes = (size_t)batch * channels, n = planes * spatial;
    real *x = random_array(n, -2, 2), *gate = random_array(planes, -4, 4);
    real *dy = random_array(n, -1, 1), *y = malloc(n * sizeof *y), *dx = malloc(n * sizeof *dx);
    real *dgate = malloc(planes * sizeof *dgate);
    be->ops->channel_scale_forward(be, y, x, gate, batch, channels, spatial);
    be->ops->channel_scale_backward(be, dx, dgate, dy, x, gate, batch, channels, spatial);
    hid_t g = case_group(file, "gate", "gate", "squeeze-and-excitation gate, 2 x 16 x 14 x 14");
    put(g, "x", x, batch, channels, side, side);
    put(g, "gate", gate, batch, channels, 0, 0);
    put(g, "dy", dy, batch, channels, side, side);
    put(g, "y", y, batch, channels, side, side);
    put(g, "dx", dx, batch, channels, side, side);
    put(g, "dgate", dgate, batch, channels, 0, 0);
    H5Gclose(g);
    free(x), free(gate), free(dy), free(y), free(dx), free(dgate);
}

/* ---- the batch resize: the op-parity harness's shapes (tests/ops/op_cases.c) ---- */

typedef struct {
    int batch, channels, in_h, in_w, out_h, out_w;
} ResizeCase;

static const ResizeCase RESIZE_CASES[] = {
    {4, 1, 28, 28, 32, 32},     /* cnn-micro.cfg: Fashion-MNIST's 28 up to 32 */
    {4, 1, 28, 28, 24, 24},     /* and down to 24 */
    {4, 1, 28, 28, 28, 28},     /* the identity: a copy */
    {2, 3, 320, 320, 192, 192}, /* BigNAS's smallest resolution from its largest */
    {3, 2, 13, 13, 7, 7},       /* odd sizes both ways */
    {3, 2, 7, 7, 13, 13},
    {2, 3, 13, 28, 24, 9},  /* non-square, one axis up and the other down */
    {2, 1, 28, 20, 28, 33}, /* one axis unchanged */
    {2, 8, 9, 9, 14, 14},   /* channels-first with 8 channels (ATen's vectorised path) */
};

/* Inputs in [-1, 3) (a mean off zero); the output is the leading part of a larger buffer,
 * whose tail must stay as it was. */
static void resize_case(const Backend *be, hid_t file, int index, const ResizeCase *c) {
    const size_t nx = (size_t)c->batch * c->channels * c->in_h * c->in_w;
    const size_t ny = (size_t)c->batch * c->channels * c->out_h * c->out_w;
    real *x = random_array(nx, -1, 3), *y = random_array(ny + 7, -1, 1);
    real *tail = copy_of(y + ny, 7);
    be->ops->resize_bilinear(be, y, x, c->batch, c->channels, c->in_h, c->in_w, c->out_h, c->out_w);
    if (!CHECK(same(y + ny, tail, 7)))
        fprintf(stderr, "     resize %d: wrote past its output\n", index);

    char name[32], label[96];
    snprintf(name, sizeof name, "resize%d", index);
    snprintf(label, sizeof label, "bilinear resize %d x %d x %dx%d -> %dx%d", c->batch, c->channels,
             c->in_h, c->in_w, c->out_h, c->out_w);
    hid_t g = case_group(file, name, "resize", label);
    put(g, "x", x, (hsize_t)c->batch, (hsize_t)c->channels, (hsize_t)c->in_h, (hsize_t)c->in_w);
    put(g, "y", y, (hsize_t)c->batch, (hsize_t)c->channels, (hsize_t)c->out_h, (hsize_t)c->out_w);
    H5Gclose(g);
    free(x), free(y), free(tail);
}

int main(void) {
    h5_silence();
    rng = rng_stream(2023, 15);
    Backend be;
    char why[512];
    if (!CHECK(backend_open(&be, "cpu", "fp32", why, sizeof why))) {
        fprintf(stderr, "     %s\n", why);
        return check_summary();
    }
    char dir[] = "/tmp/prenas-test-conv-oracle-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char path[512];
    snprintf(path, sizeof path, "%s/conv-oracle.h5", dir);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(f >= 0);
    for (int i = 0; i < (int)(sizeof CONV_CASES / sizeof CONV_CASES[0]); i++)
        conv_case(&be, f, i, &CONV_CASES[i]);
    batchnorm_case(&be, f);
    recalibrate_case(&be, f);
    activation_case(&be, f, true);
    activation_case(&be, f, false);
    pool_case(&be, f);
    gate_case(&be, f);
    for (int i = 0; i < (int)(sizeof RESIZE_CASES / sizeof RESIZE_CASES[0]); i++)
        resize_case(&be, f, i, &RESIZE_CASES[i]);
    H5Fclose(f);
    backend_close(&be);

    oracle_run("tests/oracle/conv_oracle.py", path, dir);
    return check_summary();
}
