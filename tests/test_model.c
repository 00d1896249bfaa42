/* The model's loss head (src/model/model.h): forward + backward through it equal the op-level
 * composition they replace, the logit-sum head's gradient is that of the sum of logits, and
 * a NaN or infinite logit is never counted correct (a NaN compares false with everything, so
 * a naive count would call a diverged model perfect). */
#include "check.h"

#include "kernels.h"
#include "model.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static Space *micro(void) {
    Error err = {0};
    Space *space = space_load_file("configs/spaces/micro.cfg", &err);
    if (!space) {
        fprintf(stderr, "%s\n", err.message);
        exit(1);
    }
    return space;
}

static real *random_images(int n, int size, uint64_t seed) {
    real *x = malloc(sizeof(real) * (size_t)n * size);
    Rng rng = rng_stream(seed, 1);
    for (size_t i = 0; i < (size_t)n * size; i++) x[i] = (real)rng_normal(&rng);
    return x;
}

/* Cross-entropy through the model against the ops called one by one. */
static void cross_entropy_head(void) {
    Space *space = micro();
    Model *m =
        model_create(backend_cpu(), &(const ModelSpace){FAMILY_VIT, space, NULL}, 4, 0, NULL);
    Arch arch;
    arch_largest(space, &arch);
    vit_init(m->vit, 5);
    const int n = 4, C = m->vit->classes;
    real *images = random_images(n, 784, 2);
    const int labels[4] = {1, 7, 3, 3}, partner[4] = {2, 2, 9, 0};
    const real mix[4] = {1, 0.25f, 0.5f, 0.9f};
    const Loss loss = {LOSS_CROSS_ENTROPY, labels, partner, mix, 0.1};
    const DropPath drop = {0.1, 9, 40};
    param_table_zero_grads(&m->vit->table);
    const double sum = model_forward(m, &(const ModelArch){.family = FAMILY_VIT, .vit = arch},
                                     images, n, &loss, &drop);
    model_backward(m, &(const ModelArch){.family = FAMILY_VIT, .vit = arch}, n, 0.25);
    real *grads = malloc(sizeof(real) * m->vit->table.n_params);
    memcpy(grads, m->vit->table.grads, sizeof(real) * m->vit->table.n_params);

    real logits[40], targets[40], probs[40], dlogits[40], per[4], scales[2 * 64 * 4];
    vit_drop_path_scales(scales, m->vit, &arch, n, 0.1, 9, 40);
    param_table_zero_grads(&m->vit->table);
    vit_forward(m->vit, &arch, images, n, scales, logits);
    soft_targets(targets, labels, partner, mix, 0.1, n, C);
    cross_entropy_forward(per, probs, logits, targets, n, C);
    cross_entropy_backward(dlogits, probs, targets, n, C, 0.25);
    vit_backward(m->vit, &arch, dlogits, n, scales);
    double expected = 0;
    for (int i = 0; i < n; i++) expected += per[i];
    CHECK(sum == expected);
    CHECK(memcmp(grads, m->vit->table.grads, sizeof(real) * m->vit->table.n_params) == 0);
    free(grads), free(images);
    model_free(m);
    space_free(space);
}

/* The logit-sum head: d(sum of logits)/d(logits) = 1, so its gradient equals a backward
 * of all-ones dlogits scaled. */
static void logit_sum_head(void) {
    Space *space = micro();
    Model *m =
        model_create(backend_cpu(), &(const ModelSpace){FAMILY_VIT, space, NULL}, 2, 0, NULL);
    Arch arch;
    arch_smallest(space, &arch);
    vit_init(m->vit, 6);
    real *images = random_images(2, 784, 3);
    const Loss loss = {.kind = LOSS_LOGIT_SUM};
    param_table_zero_grads(&m->vit->table);
    const double sum = model_forward(m, &(const ModelArch){.family = FAMILY_VIT, .vit = arch},
                                     images, 2, &loss, NULL);
    double expected = 0;
    for (int i = 0; i < 2 * m->vit->classes; i++) expected += m->logits[i];
    CHECK_NEAR(sum, expected, 1e-5 * fabs(expected) + 1e-6);
    model_backward(m, &(const ModelArch){.family = FAMILY_VIT, .vit = arch}, 2, 3.0);
    real *grads = malloc(sizeof(real) * m->vit->table.n_params);
    memcpy(grads, m->vit->table.grads, sizeof(real) * m->vit->table.n_params);
    real logits[20], threes[20];
    for (int i = 0; i < 20; i++) threes[i] = 3;
    param_table_zero_grads(&m->vit->table);
    vit_forward(m->vit, &arch, images, 2, NULL, logits);
    vit_backward(m->vit, &arch, threes, 2, NULL);
    CHECK(memcmp(grads, m->vit->table.grads, sizeof(real) * m->vit->table.n_params) == 0);
    free(grads), free(images);
    model_free(m);
    space_free(space);
}

/* Top-k counts on hand-made logits, including NaN and infinite rows. */
static void metrics_of_nonfinite_logits(void) {
    Space *space = micro();
    Model *m =
        model_create(backend_cpu(), &(const ModelSpace){FAMILY_VIT, space, NULL}, 4, 0, NULL);
    const int C = m->vit->classes, labels[4] = {0, 1, 2, 3};
    for (int i = 0; i < 4 * C; i++) m->logits[i] = (real)(i % C) * 0.01f;
    m->logits[0 * C + 0] = 5;                               /* sample 0: correct */
    m->logits[1 * C + 1] = NAN;                             /* sample 1: its own logit NaN */
    for (int c = 0; c < C; c++) m->logits[2 * C + c] = NAN; /* sample 2: all NaN */
    m->logits[3 * C + 5] = INFINITY;                        /* sample 3: another class infinite */
    for (int i = 0; i < 4; i++) m->loss[i] = 1;
    m->loss[2] = NAN;
    const BatchMetrics r = model_metrics(m, labels, 4);
    CHECK_EQ_I64(r.top1, 1);
    CHECK_EQ_I64(r.top5, 1);
    CHECK_EQ_I64(r.nonfinite, 3);
    CHECK(isnan(r.loss_sum)); /* a NaN loss is reported, not hidden */
    model_free(m);
    space_free(space);
}

int main(void) {
    cross_entropy_head();
    logit_sum_head();
    metrics_of_nonfinite_logits();
    return check_summary();
}
