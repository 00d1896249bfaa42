/* AdamW and the learning-rate schedule against method.md §9.4-§9.5. */
#include "check.h"

#include "optim.h"
#include "space.h"
#include "vit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Peak 1e-3 and minimum 1e-5, as in method.md §9.5. */
static LrSchedule schedule_of(double warmup_lr, int epochs, int warmup_epochs, bool epoch_lag) {
    return (LrSchedule){1e-3, 1e-5, warmup_lr, epochs, warmup_epochs, epoch_lag};
}

/* method.md §9.5, the reference's lag: epochs 0 and 1 use 1e-6, epoch 20 uses
 * sched(19) = 9.5005e-4, epoch 21 sched(20) ~ 9.961e-4, epoch 499 sched(498) ~ min + 3.9e-8. */
static void schedule_lagged(void) {
    const LrSchedule s = schedule_of(1e-6, 500, 20, true);
    CHECK_NEAR(lr_at_epoch(&s, 0), 1e-6, 1e-15);
    CHECK_NEAR(lr_at_epoch(&s, 1), 1e-6, 1e-15);
    CHECK_NEAR(lr_at_epoch(&s, 2), 1e-6 + (1e-3 - 1e-6) / 20, 1e-15);
    CHECK_NEAR(lr_at_epoch(&s, 20), 9.5005e-4, 1e-12);
    CHECK_NEAR(lr_at_epoch(&s, 21), 9.961e-4, 1e-7);
    CHECK_NEAR(lr_at_epoch(&s, 499) - 1e-5, 3.9e-8, 1e-9);
    bool decreasing = true; /* after the warm-up */
    for (int e = 22; e < 500; e++) decreasing &= lr_at_epoch(&s, e) <= lr_at_epoch(&s, e - 1);
    CHECK(decreasing);
}

/* Without the lag epoch e trains at sched(e). The expected values are the formula's, worked
 * out apart (Python's math.cos; the tolerance is a few rounding steps of a libm): the reference's
 * 500 epochs with 20 of warm-up, and a short recipe with one warm-up epoch, where the lag would
 * spend two epochs at the warm-up rate. */
static void schedule_without_lag(void) {
    const LrSchedule s = schedule_of(1e-6, 500, 20, false);
    CHECK_NEAR(lr_at_epoch(&s, 0), 1e-6, 1e-17);
    CHECK_NEAR(lr_at_epoch(&s, 1), 5.0950000000000005e-05, 1e-17);
    CHECK_NEAR(lr_at_epoch(&s, 19), 9.500500000000001e-4, 1e-17);
    CHECK_NEAR(lr_at_epoch(&s, 20), 9.960967771506667e-4, 1e-17); /* the cosine at t = 20 */
    CHECK_NEAR(lr_at_epoch(&s, 21), 9.956972773794057e-4, 1e-17);
    CHECK_NEAR(lr_at_epoch(&s, 499), 1.000977087621213e-05, 1e-17);
    const LrSchedule quick = schedule_of(1e-4, 30, 1, false);
    CHECK_NEAR(lr_at_epoch(&quick, 0), 1e-4, 1e-17);
    CHECK_NEAR(lr_at_epoch(&quick, 1), 9.972883382072953e-4, 1e-17);
    CHECK_NEAR(lr_at_epoch(&quick, 2), 9.891830623632338e-4, 1e-17);
    CHECK_NEAR(lr_at_epoch(&quick, 15), 5.050000000000001e-4, 1e-17); /* halfway down */
    CHECK_NEAR(lr_at_epoch(&quick, 29), 1.2711661792704668e-05, 1e-17);
    /* the lag is the same schedule one epoch later, with epoch 0 repeated */
    const LrSchedule lagged = schedule_of(1e-4, 30, 1, true);
    bool shifted = lr_at_epoch(&lagged, 0) == lr_at_epoch(&quick, 0);
    for (int e = 1; e < 30; e++) shifted &= lr_at_epoch(&lagged, e) == lr_at_epoch(&quick, e - 1);
    CHECK(shifted);
}

/* One step with a known gradient: m_hat = g, v_hat = g^2, so every entry with g != 0 moves
 * by lr * g / (|g| + eps) after its decay; decay only where §9.4 says. */
static void one_step(void) {
    Error err = {0};
    Space *space = space_load_file("configs/spaces/micro.cfg", &err);
    Vit *vit = vit_create(backend_cpu(), space, 1);
    vit_init(vit, 9);
    real *before = malloc(vit->table.n_params * sizeof(real));
    memcpy(before, vit->table.params, vit->table.n_params * sizeof(real));
    for (size_t i = 0; i < vit->table.n_params; i++)
        vit->table.grads[i] = (real)((i % 3) - 1) * 0.01f;
    const double lr = 1e-3, wd = 0.05;
    AdamW opt = adamw_create(&vit->table, 0.9, 0.999, 1e-8, wd);
    adamw_step(&opt, &vit->table, lr);
    double worst = 0;
    int decayed = 0, not_decayed = 0;
    for (int t = 0; t < vit->table.n_tensors; t++) {
        const TensorInfo *info = &vit->table.tensors[t];
        const double decay = info->weight_decay ? 1 - lr * wd : 1;
        decayed += info->weight_decay;
        not_decayed += !info->weight_decay;
        for (size_t i = info->offset; i < info->offset + info->count; i++) {
            const double g = vit->table.grads[i];
            const double expected = before[i] * decay - (g == 0 ? 0 : lr * g / (fabs(g) + 1e-8));
            worst = fmax(worst, fabs(vit->table.params[i] - expected));
        }
    }
    CHECK(worst < 2e-7);
    /* 6 blocks x (qkv, 4 tables, proj, fc1, fc2) + patch weight + head weight */
    CHECK_EQ_I64(decayed, 6 * 8 + 2);
    CHECK_EQ_I64(not_decayed, vit->table.n_tensors - decayed);
    CHECK(!param_table_find(&vit->table, "pos_embed")->weight_decay);
    CHECK(!param_table_find(&vit->table, "cls_token")->weight_decay);
    CHECK(param_table_find(&vit->table, "blocks.0.attn.rel_pos_embed_k.embeddings_table_v")
              ->weight_decay);
    CHECK_EQ_I64(opt.step, 1);
    /* Second step: the bias corrections follow the step counter. */
    memcpy(before, vit->table.params, vit->table.n_params * sizeof(real));
    adamw_step(&opt, &vit->table, lr);
    const size_t i =
        param_table_find(&vit->table, "head.bias")->offset + 1; /* g = 0.01 * ((i%3)-1) */
    const double g = vit->table.grads[i], m = 0.9 * 0.1 * g + 0.1 * g,
                 v = 0.999 * 0.001 * g * g + 0.001 * g * g;
    const double m_hat = m / (1 - 0.81), v_hat = v / (1 - 0.998001);
    CHECK_NEAR(vit->table.params[i], before[i] - lr * m_hat / (sqrt(v_hat) + 1e-8), 1e-7);
    adamw_free(&opt);
    free(before);
    vit_free(vit);
    space_free(space);
}

int main(void) {
    schedule_lagged();
    schedule_without_lag();
    one_step();
    return check_summary();
}
