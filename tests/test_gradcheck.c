/* Every op's backward, and the whole supernet's, against central finite differences, in
 * double precision: this file is built against the engine compiled with `real` = double
 * (prenas_engine_f64). The op checks are the op-parity harness's cases (tests/ops/op_cases.c)
 * that have a backward, run on the CPU backend. The objective is L = sum(w * y) for fixed
 * random weights w, so the analytic gradient is the op's backward with dy = w. */
#include "check.h"
#include "cnn_case.h"
#include "ops/op_cases.h"

#include "arch.h"
#include "kernels.h"
#include "rng.h"
#include "space.h"
#include "vit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(real) == sizeof(double), "build this test against prenas_engine_f64");

static Rng rng;

static double *random_array(size_t n, double scale) {
    double *a = malloc(n * sizeof *a);
    for (size_t i = 0; i < n; i++) a[i] = scale * (2 * rng_uniform(&rng) - 1);
    return a;
}

static double *zeros(size_t n) {
    return calloc(n, sizeof(double));
}

static double dot(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

typedef double (*Objective)(void *ctx);

/* (L(x_i + h) - L(x_i - h)) / 2h, x restored. */
static double central_difference(Objective f, void *ctx, double *x, size_t i, double h) {
    const double saved = x[i];
    x[i] = saved + h;
    const double plus = f(ctx);
    x[i] = saved - h;
    const double minus = f(ctx);
    x[i] = saved;
    return (plus - minus) / (2 * h);
}

/* Perturbs entries of x by +-h and compares (L+ - L-) / 2h with the analytic gradient: the
 * largest error must be below 1e-7 of the largest gradient entry (double precision central
 * differences with h = 1e-5 are good to about 1e-9 here). L is a sum of `terms` products,
 * whose rounding error (between sqrt(terms) and terms eps) enters divided by h, so h grows
 * with the square root of the terms past 100: 2.8e-4 for the Tiny attention's 75648, where
 * 1e-5 left rounding noise of 1e-7; the truncation error, h^2, stays far below. The small
 * cases and the supernet keep 1e-5.
 * `entries`: how many entries (0: all of them up to 256, else 32), since each costs two
 * forward passes; a sample is the largest analytic entry (a wrong one cannot hide outside it)
 * and the rest spread evenly over x. The largest gradient entry is then the analytic one,
 * over all entries. */
static void check_gradient(const char *what, Objective f, void *ctx, double *x,
                           const double *analytic, size_t n, int entries, size_t terms) {
    const double h = 1e-5 * fmax(1, sqrt((double)terms / 100));
    size_t picks = entries > 0 ? (size_t)entries : n <= 256 ? n : 32;
    if (picks > n) picks = n;
    size_t largest = 0;
    double max_ref = 0, max_err = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(analytic[i]) > max_ref) max_ref = fabs(analytic[largest = i]);
    for (size_t j = 0; j < picks; j++) {
        const size_t i = picks == n ? j
                         : j == 0   ? largest
                                    : (size_t)(((double)j + 0.5) * (double)n / (double)picks);
        const double numeric = central_difference(f, ctx, x, i, h);
        const double err = fabs(numeric - analytic[i]);
        max_err = err > max_err ? err : max_err;
        max_ref = fabs(numeric) > max_ref ? fabs(numeric) : max_ref;
    }
    const double relative = max_err / (max_ref > 1e-12 ? max_ref : 1e-12);
    printf("  %-52s %5zu of %7zu  max|grad| %.3e  max err %.2e  rel %.1e\n", what, picks, n,
           max_ref, max_err, relative);
    if (!CHECK(relative < 1e-7 && max_ref > 0)) fprintf(stderr, "     %s\n", what);
}

/* ---- every op case with a backward (tests/ops/op_cases.c) ---- */

typedef struct {
    const OpCase *c;
    const OpLayout *layout;
    void **host;
} CaseObjective;

/* L = sum over the upstream gradients u of <u, the output u belongs to>. */
static double case_objective(void *p) {
    const CaseObjective *o = p;
    op_case_forward(o->c, backend_cpu(), o->layout, o->host);
    double sum = 0;
    for (int i = 0; i < o->layout->count; i++) {
        const OpBuffer *b = &o->layout->b[i];
        if (b->role == ROLE_UPSTREAM) sum += dot(o->host[i], o->host[b->pair], b->count);
    }
    return sum;
}

/* On the CPU backend the host arrays are backend memory, so the case runs on them directly. */
static void op_case_check(const OpCase *c, uint64_t seed) {
    OpLayout layout;
    op_case_layout(c, backend_cpu(), &layout);
    if (!op_case_has_backward(&layout)) return;
    void *host[OP_MAX_BUFFERS] = {0};
    op_host_alloc(&layout, host);
    op_case_init(c, &layout, host, seed);
    double *before[OP_MAX_BUFFERS] = {0};
    for (int i = 0; i < layout.count; i++)
        if (layout.b[i].role == ROLE_GRADIENT && layout.b[i].accumulates) {
            before[i] = malloc(layout.b[i].count * sizeof(double));
            memcpy(before[i], host[i], layout.b[i].count * sizeof(double));
        }
    op_case_forward(c, backend_cpu(), &layout, host);
    op_case_backward(c, backend_cpu(), &layout, host);
    CaseObjective objective = {c, &layout, host};
    size_t terms = 0;
    for (int i = 0; i < layout.count; i++)
        if (layout.b[i].role == ROLE_UPSTREAM) terms += layout.b[i].count;
    for (int i = 0; i < layout.count; i++) {
        const OpBuffer *g = &layout.b[i];
        if (g->role != ROLE_GRADIENT) continue;
        double *analytic = host[i];
        if (before[i]) /* what the backward added */
            for (size_t j = 0; j < g->count; j++) analytic[j] -= before[i][j];
        char what[96];
        snprintf(what, sizeof what, "%s: %s%s", c->name, g->name,
                 g->accumulates ? " (accumulated)" : "");
        check_gradient(what, case_objective, &objective, host[g->pair], analytic, g->count,
                       c->fd_entries, terms);
    }
    for (int i = 0; i < layout.count; i++) free(before[i]);
    op_host_free(&layout, host);
}

/* ---- what differences cannot see: the interleaving and the targets' values ---- */

static void conventions(void) {
    const int rows = 4, qdim = 6;
    double *qkv = random_array((size_t)rows * 3 * qdim, 1), *q = zeros((size_t)rows * qdim),
           *k = zeros((size_t)rows * qdim), *v = zeros((size_t)rows * qdim);
    qkv_split(q, k, v, qkv, rows, qdim);
    CHECK(q[qdim + 2] == qkv[3 * qdim + 6] && k[1] == qkv[4] && v[qdim - 1] == qkv[3 * qdim - 1]);
    free(qkv), free(q), free(k), free(v);

    int labels_a[4] = {0, 3, 4, 1}, labels_b[4] = {2, 3, 0, 4};
    double mix[4] = {0.3, 1, 0.75, 0.5}, targets[20];
    soft_targets(targets, labels_a, labels_b, mix, 0.1, 4, 5);
    CHECK_NEAR(targets[0], 0.02 + 0.3 * 0.9, 1e-15); /* eps/C = 0.02, 1 - eps = 0.9 */
    CHECK_NEAR(targets[2], 0.02 + 0.7 * 0.9, 1e-15);
    CHECK_NEAR(targets[5 + 3], 0.92, 1e-15);
    double mass = 0;
    for (int i = 0; i < 20; i++) mass += targets[i];
    CHECK_NEAR(mass, 4, 1e-12);
}

/* ---- the whole supernet: a subnet narrower and shallower than its supernet ---- */

static const char TEST_SPACE[] =
    "name = \"gradcheck\"; image_size = 8; patch_size = 2; in_channels = 2; num_classes = 5;\n"
    "head_dim = 4; max_relative_position = 1; pooling = \"%s\";\n"
    "supernet = { embed_dim = 12; depth = 3; num_heads = 3; mlp_ratio = 2.0; };\n"
    "choices = { embed_dim = [8, 12]; depth = [2, 3]; num_heads = [1, 2, 3];\n"
    "            mlp_ratio = [1.5, 2.0]; };\n"
    "data_free = { mean = [0.5, 0.5]; std = [0.25, 0.25]; };\n"
    "intervals = { params = { min = 0.0; max = 1.0; width = 0.5; }; };\n";

typedef struct {
    Vit *vit;
    Arch arch;
    int batch;
    double *images, *scales, *logits, *wl;
} ModelCase;

static double model_objective(void *p) {
    ModelCase *c = p;
    vit_forward(c->vit, &c->arch, c->images, c->batch, c->scales, c->logits);
    return dot(c->logits, c->wl, (size_t)c->batch * c->vit->classes);
}

static void model_case(bool class_token) {
    char text[sizeof TEST_SPACE + 16];
    snprintf(text, sizeof text, TEST_SPACE, class_token ? "class" : "mean");
    Error err = {0};
    Space *space = space_load_text(text, "gradcheck.cfg", &err);
    if (!CHECK(space != NULL)) {
        fprintf(stderr, "     %s\n", err.message);
        return;
    }
    ModelCase c = {.vit = vit_create(backend_cpu(), space, 3), .batch = 3};
    CHECK(arch_parse("8:2:2,1:2,1.5", &c.arch, &err) && arch_check(&c.arch, space, &err));
    vit_init(c.vit, 11);
    /* Perturb the zero-initialised biases and unit gains so that every path is exercised. */
    for (size_t i = 0; i < c.vit->table.n_params; i++)
        c.vit->table.params[i] += 0.1 * (2 * rng_uniform(&rng) - 1);
    c.images = random_array((size_t)c.batch * 2 * 8 * 8, 1);
    double scales[2 * 2 * 3] = {1, 0, 1.25, 1, 1, 1, 0, 1.25, 1, 1.25, 1, 0};
    c.scales = scales;
    c.logits = zeros((size_t)c.batch * 5);
    c.wl = random_array((size_t)c.batch * 5, 1);
    model_objective(&c);
    param_table_zero_grads(&c.vit->table);
    vit_backward(c.vit, &c.arch, c.wl, c.batch, c.scales);
    double *analytic = malloc(c.vit->table.n_params * sizeof *analytic);
    memcpy(analytic, c.vit->table.grads, c.vit->table.n_params * sizeof *analytic);
    char what[128];
    snprintf(what, sizeof what, "supernet, every parameter (%s pooling)",
             class_token ? "class" : "mean");
    check_gradient(what, model_objective, &c, c.vit->table.params, analytic, c.vit->table.n_params,
                   (int)c.vit->table.n_params, (size_t)c.batch * c.vit->classes);
    free(analytic), free(c.images), free(c.logits), free(c.wl);
    vit_free(c.vit);
    space_free(space);
}

/* ---- the CNN supernet (src/cnn/cnn_net.h) on tests/spaces/cnn-tiny.cfg ---- */

typedef struct {
    CnnNet *net;
    CnnArch arch;
    int batch;
    double *images, *logits, *wl;
} CnnModelCase;

/* L = sum(w * logits) of a training-mode forward (batch statistics: L depends on every image). */
static double cnn_objective(void *p) {
    CnnModelCase *c = p;
    cnn_net_forward(c->net, &c->arch, c->images, c->batch, CNN_TRAINING, NULL, c->logits);
    return dot(c->logits, c->wl, (size_t)c->batch * c->net->classes);
}

/* Central differences at up to 8 entries of x, evenly spread: the largest |(L+ - L-) / 2h|. */
static double largest_difference(Objective f, void *ctx, double *x, size_t n) {
    double largest = 0;
    for (size_t j = 0; j < (n < 8 ? n : 8); j++) {
        const size_t i = n < 8 ? j : (size_t)((j + 0.5) * (double)n / 8);
        largest = fmax(largest, fabs(central_difference(f, ctx, x, i, 1e-5)));
    }
    return largest;
}

/* Every tensor the subnet uses, against differences (all entries up to 256 a tensor, else 32).
 * Two kinds are told apart by their analytic gradient: a tensor the subnet does not reach (all
 * zero) must leave L exactly unchanged; one whose gradient vanishes in exact arithmetic (below
 * 1e-9 of the net's largest: the beta of a batch norm followed by a 1x1 conv and another batch
 * norm, which removes any per-channel shift) must have differences below 1e-7 of it. */
static void cnn_model_case(const CnnSpace *space, const char *arch_text) {
    CnnModelCase c = {.batch = 3};
    Error err = {0};
    c.net = cnn_net_create(backend_cpu(), space, c.batch, &err);
    c.arch = cnn_case_arch(arch_text, space);
    cnn_case_random_weights(c.net, &rng);
    const int R = c.arch.resolution, classes = c.net->classes;
    c.images = random_array((size_t)c.batch * c.net->in_channels * R * R, 1);
    c.logits = zeros((size_t)c.batch * classes);
    c.wl = random_array((size_t)c.batch * classes, 1);
    ParamTable *t = &c.net->table;
    cnn_objective(&c);
    param_table_zero_grads(t);
    cnn_net_backward(c.net, &c.arch, c.wl, c.batch);
    double *analytic = malloc(t->n_params * sizeof *analytic), largest = 0;
    memcpy(analytic, t->grads, t->n_params * sizeof *analytic);
    for (size_t j = 0; j < t->n_params; j++) largest = fmax(largest, fabs(analytic[j]));
    printf("  CNN supernet, subnet %s:\n", arch_text);
    int unreached = 0, unreached_ok = 0, vanishing = 0, vanishing_ok = 0;
    for (int i = 0; i < t->n_tensors; i++) {
        const TensorInfo *ti = &t->tensors[i];
        double *x = t->params + ti->offset, *g = analytic + ti->offset, tensor_max = 0;
        for (size_t j = 0; j < ti->count; j++) tensor_max = fmax(tensor_max, fabs(g[j]));
        if (tensor_max >= 1e-9 * largest) {
            check_gradient(ti->name, cnn_objective, &c, x, g, ti->count, 0,
                           (size_t)c.batch * classes);
        } else if (tensor_max > 0) {
            const double numeric = largest_difference(cnn_objective, &c, x, ti->count);
            printf("  %-52s vanishing: analytic %.1e, differences %.1e\n", ti->name, tensor_max,
                   numeric);
            vanishing++;
            vanishing_ok += numeric < 1e-7 * largest;
        } else {
            const double saved = x[0], base = cnn_objective(&c);
            x[0] = saved + 1;
            unreached++;
            unreached_ok += cnn_objective(&c) == base;
            x[0] = saved;
        }
    }
    printf("  %d tensors with a vanishing gradient: differences below 1e-7 of the largest "
           "gradient: %d\n",
           vanishing, vanishing_ok);
    printf("  %d tensors outside the subnet: L unchanged by each one's first entry: %d\n",
           unreached, unreached_ok);
    CHECK_EQ_I64(vanishing_ok, vanishing);
    CHECK_EQ_I64(unreached_ok, unreached);
    free(analytic), free(c.images), free(c.logits), free(c.wl);
    cnn_net_free(c.net);
}

int main(void) {
    rng = rng_stream(2024, 99);
    printf("central differences, double precision:\n");
    for (int i = 0; i < op_case_count(); i++) op_case_check(op_case(i), 1000 + (uint64_t)i);
    conventions();
    model_case(false);
    model_case(true);
    CnnSpace *tiny = cnn_case_space("tests/spaces/cnn-tiny.cfg");
    cnn_model_case(tiny, "8:6:5x2k3e2:8x2k5e3:12"); /* the largest: every tensor */
    /* widths sliced, 3x3 of 5x5, no expansion in stage 1, one layer each (not the 1x1 crop:
     * a 1x1 depthwise weight followed by batch norm changes L only through eps, so sharply
     * that differences lose their accuracy; tests/test_cnn_oracle.c has it) */
    cnn_model_case(tiny, "6:4:4x1k3e1:6x1k3e2:8");
    cnn_space_free(tiny);
    return check_summary();
}
