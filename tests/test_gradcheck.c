/* Every op's backward, and the whole supernet's, against central finite differences, in
 * double precision: this file is built against the engine compiled with `real` = double
 * (prenas_engine_f64). The objective is L = sum(w * y) for fixed random weights w, so the
 * analytic gradient is the op's backward with dy = w. */
#include "check.h"

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

/* Perturbs each entry of x by +-h and compares (L+ - L-) / 2h with the analytic gradient:
 * the largest error must be below 1e-7 of the largest gradient entry (double precision
 * central differences with h = 1e-5 are good to about 1e-9 here). */
static void check_gradient(const char *what, Objective f, void *ctx, double *x,
                           const double *analytic, size_t n) {
    const double h = 1e-5;
    double max_err = 0, max_ref = 0;
    for (size_t i = 0; i < n; i++) {
        const double saved = x[i];
        x[i] = saved + h;
        const double plus = f(ctx);
        x[i] = saved - h;
        const double minus = f(ctx);
        x[i] = saved;
        const double numeric = (plus - minus) / (2 * h);
        const double err = fabs(numeric - analytic[i]);
        max_err = err > max_err ? err : max_err;
        max_ref = fabs(numeric) > max_ref ? fabs(numeric) : max_ref;
    }
    const double relative = max_err / (max_ref > 1e-12 ? max_ref : 1e-12);
    printf("  %-44s %6zu entries  max|grad| %.3e  max err %.2e  rel %.1e\n", what, n, max_ref,
           max_err, relative);
    if (!CHECK(relative < 1e-7 && max_ref > 0)) fprintf(stderr, "     %s\n", what);
}

/* ---- linear on a slice: in < ldw, out < the matrix's rows ---- */

typedef struct {
    int rows, in, out, ldw;
    double *x, *w, *b, *y, *wy;
} LinearCase;

static double linear_objective(void *p) {
    LinearCase *c = p;
    linear_forward(c->y, c->x, c->w, c->b, c->rows, c->in, c->out, c->ldw);
    return dot(c->y, c->wy, (size_t)c->rows * c->out);
}

static void linear_case(void) {
    LinearCase c = {.rows = 7, .in = 5, .out = 4, .ldw = 9};
    const int super_rows = 6;
    c.x = random_array((size_t)c.rows * c.in, 1);
    c.w = random_array((size_t)super_rows * c.ldw, 1);
    c.b = random_array((size_t)super_rows, 1);
    c.y = zeros((size_t)c.rows * c.out);
    c.wy = random_array((size_t)c.rows * c.out, 1);
    double *dx = zeros((size_t)c.rows * c.in), *dw = zeros((size_t)super_rows * c.ldw),
           *db = zeros(super_rows);
    linear_backward(dx, dw, db, c.wy, c.x, c.w, c.rows, c.in, c.out, c.ldw);
    check_gradient("linear dx", linear_objective, &c, c.x, dx, (size_t)c.rows * c.in);
    check_gradient("linear dw (slice of a 6x9 matrix)", linear_objective, &c, c.w, dw,
                   (size_t)super_rows * c.ldw);
    check_gradient("linear db", linear_objective, &c, c.b, db, super_rows);
    free(c.x), free(c.w), free(c.b), free(c.y), free(c.wy), free(dx), free(dw), free(db);
}

/* ---- layer norm (input gradient accumulates) ---- */

typedef struct {
    int rows, dim;
    double *x, *gamma, *beta, *y, *mean, *rstd, *wy;
} NormCase;

static double norm_objective(void *p) {
    NormCase *c = p;
    layernorm_forward(c->y, c->mean, c->rstd, c->x, c->gamma, c->beta, c->rows, c->dim);
    return dot(c->y, c->wy, (size_t)c->rows * c->dim);
}

static void layernorm_case(void) {
    NormCase c = {.rows = 5, .dim = 6};
    const size_t n = (size_t)c.rows * c.dim;
    c.x = random_array(n, 2);
    for (size_t i = 0; i < n; i++) c.x[i] += 3; /* a large mean */
    c.gamma = random_array(c.dim, 1), c.beta = random_array(c.dim, 1);
    c.y = zeros(n), c.mean = zeros(c.rows), c.rstd = zeros(c.rows), c.wy = random_array(n, 1);
    norm_objective(&c);
    double *dx0 = random_array(n, 1), *dx = malloc(n * sizeof *dx);
    memcpy(dx, dx0, n * sizeof *dx);
    double *dgamma = zeros(c.dim), *dbeta = zeros(c.dim);
    layernorm_backward_accumulate(dx, dgamma, dbeta, c.wy, c.x, c.mean, c.rstd, c.gamma, c.rows,
                                  c.dim);
    for (size_t i = 0; i < n; i++) dx[i] -= dx0[i]; /* what was added */
    check_gradient("layernorm dx (accumulated)", norm_objective, &c, c.x, dx, n);
    check_gradient("layernorm dgamma", norm_objective, &c, c.gamma, dgamma, c.dim);
    check_gradient("layernorm dbeta", norm_objective, &c, c.beta, dbeta, c.dim);
    free(c.x), free(c.gamma), free(c.beta), free(c.y), free(c.mean), free(c.rstd), free(c.wy);
    free(dx0), free(dx), free(dgamma), free(dbeta);
}

/* ---- GELU ---- */

typedef struct {
    size_t n;
    double *x, *y, *wy;
} PointwiseCase;

static double gelu_objective(void *p) {
    PointwiseCase *c = p;
    gelu_forward(c->y, c->x, c->n);
    return dot(c->y, c->wy, c->n);
}

static void gelu_case(void) {
    PointwiseCase c = {.n = 40};
    c.x = random_array(c.n, 4), c.y = zeros(c.n), c.wy = random_array(c.n, 1);
    double *dx = zeros(c.n);
    gelu_backward(dx, c.wy, c.x, c.n);
    check_gradient("gelu dx", gelu_objective, &c, c.x, dx, c.n);
    free(c.x), free(c.y), free(c.wy), free(dx);
}

/* ---- tokens and pooling ---- */

typedef struct {
    int batch, tokens, dim, ld_pos;
    bool class_token;
    double *embedded, *cls, *pos, *x, *pooled, *wx, *wp;
} TokenCase;

static double tokens_objective(void *p) {
    TokenCase *c = p;
    tokens_forward(c->x, c->embedded, c->cls, c->pos, c->batch, c->tokens, c->dim, c->ld_pos);
    return dot(c->x, c->wx, (size_t)c->batch * c->tokens * c->dim);
}

static double pool_objective(void *p) {
    TokenCase *c = p;
    pool_forward(c->pooled, c->x, c->batch, c->tokens, c->dim, c->class_token);
    return dot(c->pooled, c->wp, (size_t)c->batch * c->dim);
}

static void token_cases(void) {
    TokenCase c = {.batch = 3, .tokens = 5, .dim = 4, .ld_pos = 6};
    const size_t n = (size_t)c.batch * c.tokens * c.dim;
    c.embedded = random_array((size_t)c.batch * (c.tokens - 1) * c.dim, 1);
    c.cls = random_array(c.ld_pos, 1), c.pos = random_array((size_t)c.tokens * c.ld_pos, 1);
    c.x = zeros(n), c.pooled = zeros((size_t)c.batch * c.dim);
    c.wx = random_array(n, 1), c.wp = random_array((size_t)c.batch * c.dim, 1);
    double *dembedded = zeros((size_t)c.batch * (c.tokens - 1) * c.dim), *dcls = zeros(c.ld_pos),
           *dpos = zeros((size_t)c.tokens * c.ld_pos);
    tokens_backward(dembedded, dcls, dpos, c.wx, c.batch, c.tokens, c.dim, c.ld_pos);
    check_gradient("tokens d patch embedding", tokens_objective, &c, c.embedded, dembedded,
                   (size_t)c.batch * (c.tokens - 1) * c.dim);
    check_gradient("tokens d class token (slice)", tokens_objective, &c, c.cls, dcls, c.ld_pos);
    check_gradient("tokens d position embedding (slice)", tokens_objective, &c, c.pos, dpos,
                   (size_t)c.tokens * c.ld_pos);
    for (int mode = 0; mode < 2; mode++) {
        c.class_token = mode == 1;
        double *dx = zeros(n);
        pool_backward(dx, c.wp, c.batch, c.tokens, c.dim, c.class_token);
        check_gradient(c.class_token ? "pool dx (class token)" : "pool dx (mean of patches)",
                       pool_objective, &c, c.x, dx, n);
        free(dx);
    }
    free(c.embedded), free(c.cls), free(c.pos), free(c.x), free(c.pooled), free(c.wx), free(c.wp);
    free(dembedded), free(dcls), free(dpos);
}

/* ---- q/k/v interleaving: merge is the exact adjoint of split ---- */

static void qkv_case(void) {
    const int rows = 4, qdim = 6;
    double *qkv = random_array((size_t)rows * 3 * qdim, 1), *q = zeros((size_t)rows * qdim),
           *k = zeros((size_t)rows * qdim), *v = zeros((size_t)rows * qdim);
    double *dq = random_array((size_t)rows * qdim, 1), *dk = random_array((size_t)rows * qdim, 1),
           *dv = random_array((size_t)rows * qdim, 1), *dqkv = zeros((size_t)rows * 3 * qdim);
    qkv_split(q, k, v, qkv, rows, qdim);
    qkv_merge(dqkv, dq, dk, dv, rows, qdim);
    const double lhs = dot(q, dq, (size_t)rows * qdim) + dot(k, dk, (size_t)rows * qdim) +
                       dot(v, dv, (size_t)rows * qdim);
    CHECK_NEAR(lhs, dot(qkv, dqkv, (size_t)rows * 3 * qdim), 1e-12);
    CHECK(q[qdim + 2] == qkv[3 * qdim + 6] && k[1] == qkv[4] && v[qdim - 1] == qkv[3 * qdim - 1]);
    free(qkv), free(q), free(k), free(v), free(dq), free(dk), free(dv), free(dqkv);
}

/* ---- attention with clipped relative positions and the class token ---- */

typedef struct {
    AttentionShape shape;
    double *q, *k, *v, *key_v, *key_h, *value_v, *value_h, *out, *probs, *wo, *workspace;
} AttentionCase;

static double attention_objective(void *p) {
    AttentionCase *c = p;
    attention_forward(c->out, c->probs, c->q, c->k, c->v, c->key_v, c->key_h, c->value_v,
                      c->value_h, c->workspace, &c->shape);
    return dot(c->out, c->wo,
               (size_t)c->shape.batch * c->shape.tokens * c->shape.heads * c->shape.head_dim);
}

static void attention_case(void) {
    /* 4x4 grid + class token; R = 1 clips every distance beyond one patch */
    const int batch = 2, grid = 4, tokens = grid * grid + 1, heads = 2, head_dim = 3, R = 1;
    const int T = 2 * R + 2, qd = heads * head_dim;
    AttentionCase c = {.shape = {.batch = batch,
                                 .tokens = tokens,
                                 .heads = heads,
                                 .head_dim = head_dim,
                                 .grid = grid,
                                 .max_relative_position = R,
                                 .scale = 1 / sqrt(3.0),
                                 .threads = 2}};
    const size_t n = (size_t)batch * tokens * qd, tn = (size_t)T * head_dim;
    c.q = random_array(n, 1), c.k = random_array(n, 1), c.v = random_array(n, 1);
    c.key_v = random_array(tn, 1), c.key_h = random_array(tn, 1);
    c.value_v = random_array(tn, 1), c.value_h = random_array(tn, 1);
    c.out = zeros(n), c.probs = zeros((size_t)batch * heads * tokens * tokens),
    c.wo = random_array(n, 1);
    c.workspace = zeros(attention_workspace_size(&c.shape));
    attention_objective(&c);
    double *dq = zeros(n), *dk = zeros(n), *dv = zeros(n), *dkv = zeros(tn), *dkh = zeros(tn),
           *dvv = zeros(tn), *dvh = zeros(tn);
    attention_backward(dq, dk, dv, dkv, dkh, dvv, dvh, c.wo, c.probs, c.q, c.k, c.v, c.key_v,
                       c.key_h, c.value_v, c.value_h, c.workspace, &c.shape);
    check_gradient("attention dq", attention_objective, &c, c.q, dq, n);
    check_gradient("attention dk", attention_objective, &c, c.k, dk, n);
    check_gradient("attention dv", attention_objective, &c, c.v, dv, n);
    check_gradient("attention d key table (vertical)", attention_objective, &c, c.key_v, dkv, tn);
    check_gradient("attention d key table (horizontal)", attention_objective, &c, c.key_h, dkh, tn);
    check_gradient("attention d value table (vertical)", attention_objective, &c, c.value_v, dvv,
                   tn);
    check_gradient("attention d value table (horizontal)", attention_objective, &c, c.value_h, dvh,
                   tn);
    free(c.q), free(c.k), free(c.v), free(c.key_v), free(c.key_h), free(c.value_v), free(c.value_h);
    free(c.out), free(c.probs), free(c.wo), free(dq), free(dk), free(dv), free(dkv), free(dkh);
    free(dvv), free(dvh), free(c.workspace);
}

/* ---- residual with drop path ---- */

typedef struct {
    int batch, rows, dim;
    double *x, *branch, *scale, *out, *wo;
} ResidualCase;

static double residual_objective(void *p) {
    ResidualCase *c = p;
    residual_forward(c->out, c->x, c->branch, c->scale, c->batch, c->rows, c->dim);
    return dot(c->out, c->wo, (size_t)c->batch * c->rows * c->dim);
}

static void residual_case(void) {
    ResidualCase c = {.batch = 3, .rows = 2, .dim = 4};
    const size_t n = (size_t)c.batch * c.rows * c.dim;
    double scale[3] = {0, 1 / 0.9, 1};
    c.x = random_array(n, 1), c.branch = random_array(n, 1), c.scale = scale, c.out = zeros(n);
    c.wo = random_array(n, 1);
    double *dbranch = zeros(n);
    residual_backward(dbranch, c.wo, c.scale, c.batch, c.rows, c.dim);
    check_gradient("residual d branch (drop path 0, 1/0.9, 1)", residual_objective, &c, c.branch,
                   dbranch, n);
    check_gradient("residual dx (identity)", residual_objective, &c, c.x, c.wo, n);
    free(c.x), free(c.branch), free(c.out), free(c.wo), free(dbranch);
}

/* ---- soft-target cross-entropy ---- */

typedef struct {
    int batch, classes;
    double *logits, *targets, *loss, *probs;
} LossCase;

static double loss_objective(void *p) {
    LossCase *c = p;
    cross_entropy_forward(c->loss, c->probs, c->logits, c->targets, c->batch, c->classes);
    double mean = 0;
    for (int b = 0; b < c->batch; b++) mean += c->loss[b] / c->batch;
    return mean;
}

static void loss_case(void) {
    LossCase c = {.batch = 4, .classes = 5};
    int labels_a[4] = {0, 3, 4, 1}, labels_b[4] = {2, 3, 0, 4};
    double mix[4] = {0.3, 1, 0.75, 0.5};
    c.logits = random_array(20, 3), c.targets = zeros(20), c.loss = zeros(4), c.probs = zeros(20);
    soft_targets(c.targets, labels_a, labels_b, mix, 0.1, c.batch, c.classes);
    CHECK_NEAR(c.targets[0], 0.02 + 0.3 * 0.9, 1e-15); /* eps/C = 0.02, 1 - eps = 0.9 */
    CHECK_NEAR(c.targets[2], 0.02 + 0.7 * 0.9, 1e-15);
    CHECK_NEAR(c.targets[5 + 3], 0.92, 1e-15);
    double mass = 0;
    for (int i = 0; i < 20; i++) mass += c.targets[i];
    CHECK_NEAR(mass, 4, 1e-12);
    loss_objective(&c);
    double *dlogits = zeros(20);
    cross_entropy_backward(dlogits, c.probs, c.targets, c.batch, c.classes, 1.0 / c.batch);
    check_gradient("cross-entropy dlogits (smoothed, mixed targets)", loss_objective, &c, c.logits,
                   dlogits, 20);
    free(c.logits), free(c.targets), free(c.loss), free(c.probs), free(dlogits);
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
    for (size_t i = 0; i < c.vit->n_params; i++)
        c.vit->params[i] += 0.1 * (2 * rng_uniform(&rng) - 1);
    c.images = random_array((size_t)c.batch * 2 * 8 * 8, 1);
    double scales[2 * 2 * 3] = {1, 0, 1.25, 1, 1, 1, 0, 1.25, 1, 1.25, 1, 0};
    c.scales = scales;
    c.logits = zeros((size_t)c.batch * 5);
    c.wl = random_array((size_t)c.batch * 5, 1);
    model_objective(&c);
    vit_zero_grads(c.vit);
    vit_backward(c.vit, &c.arch, c.wl, c.batch, c.scales);
    double *analytic = malloc(c.vit->n_params * sizeof *analytic);
    memcpy(analytic, c.vit->grads, c.vit->n_params * sizeof *analytic);
    char what[128];
    snprintf(what, sizeof what, "supernet, every parameter (%s pooling)",
             class_token ? "class" : "mean");
    check_gradient(what, model_objective, &c, c.vit->params, analytic, c.vit->n_params);
    free(analytic), free(c.images), free(c.logits), free(c.wl);
    vit_free(c.vit);
    space_free(space);
}

int main(void) {
    rng = rng_stream(2024, 99);
    printf("central differences, double precision:\n");
    linear_case();
    layernorm_case();
    gelu_case();
    token_cases();
    qkv_case();
    attention_case();
    residual_case();
    loss_case();
    model_case(false);
    model_case(true);
    return check_summary();
}
