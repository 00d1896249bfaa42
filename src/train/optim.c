#include "optim.h"

#include "error.h"

#include <math.h>
#include <stdlib.h>

double lr_at_epoch(const LrSchedule *s, int epoch) {
    const int t = s->epoch_lag && epoch > 0 ? epoch - 1 : epoch;
    if (t < s->warmup_epochs)
        return s->warmup_lr + t * (s->lr_max - s->warmup_lr) / s->warmup_epochs;
    return s->lr_min + 0.5 * (s->lr_max - s->lr_min) * (1 + cos(M_PI * t / s->epochs));
}

AdamW adamw_create(const ParamTable *table, double beta1, double beta2, double eps,
                   double weight_decay) {
    const Backend *be = table->be;
    AdamW opt = {beta1, beta2, eps, weight_decay, 0, be, NULL, NULL, NULL, table->n_tensors};
    opt.m = be->ops->alloc(be, table->n_params * sizeof *opt.m);
    opt.v = be->ops->alloc(be, table->n_params * sizeof *opt.v);
    const size_t bytes = (size_t)table->n_tensors * sizeof *opt.segments;
    AdamWSegment *segments = xmalloc(bytes);
    for (int i = 0; i < table->n_tensors; i++) {
        const TensorInfo *t = &table->tensors[i];
        segments[i] = (AdamWSegment){t->offset, t->count, t->weight_decay};
    }
    opt.segments = be->ops->alloc(be, bytes);
    be->ops->upload(be, opt.segments, segments, bytes);
    free(segments);
    return opt;
}

void adamw_free(AdamW *opt) {
    if (!opt->be) return;
    opt->be->ops->free(opt->be, opt->m);
    opt->be->ops->free(opt->be, opt->v);
    opt->be->ops->free(opt->be, opt->segments);
    opt->m = opt->v = NULL;
    opt->segments = NULL;
}

void adamw_step(AdamW *opt, ParamTable *table, double lr) {
    opt->step++;
    const AdamWStep step = {lr,
                            opt->beta1,
                            opt->beta2,
                            opt->eps,
                            opt->weight_decay,
                            1 - pow(opt->beta1, (double)opt->step),
                            1 - pow(opt->beta2, (double)opt->step)};
    opt->be->ops->adamw(opt->be, table->params, table->grads, opt->m, opt->v, opt->segments,
                        opt->n_segments, &step);
}
