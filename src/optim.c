#include "optim.h"

#include "error.h"

#include <math.h>
#include <stdlib.h>

double lr_at_epoch(const LrSchedule *s, int epoch) {
    const int t = epoch > 0 ? epoch - 1 : 0;
    if (t < s->warmup_epochs)
        return s->warmup_lr + t * (s->lr_max - s->warmup_lr) / s->warmup_epochs;
    return s->lr_min + 0.5 * (s->lr_max - s->lr_min) * (1 + cos(M_PI * t / s->epochs));
}

AdamW adamw_create(const Vit *vit, double beta1, double beta2, double eps, double weight_decay) {
    AdamW opt = {beta1, beta2, eps, weight_decay, 0, NULL, NULL};
    opt.m = xcalloc(vit->n_params, sizeof *opt.m);
    opt.v = xcalloc(vit->n_params, sizeof *opt.v);
    return opt;
}

void adamw_free(AdamW *opt) {
    free(opt->m);
    free(opt->v);
    opt->m = opt->v = NULL;
}

void adamw_step(AdamW *opt, Vit *vit, double lr) {
    opt->step++;
    AdamWStep step = {lr,
                      opt->beta1,
                      opt->beta2,
                      opt->eps,
                      0,
                      1 - pow(opt->beta1, (double)opt->step),
                      1 - pow(opt->beta2, (double)opt->step)};
    for (int i = 0; i < vit->n_tensors; i++) {
        const TensorInfo *t = &vit->tensors[i];
        step.weight_decay = t->weight_decay ? opt->weight_decay : 0;
        adamw_update(vit->params + t->offset, vit->grads + t->offset, opt->m + t->offset,
                     opt->v + t->offset, t->count, &step);
    }
}
