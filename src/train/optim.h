#ifndef PRENAS_OPTIM_H
#define PRENAS_OPTIM_H

/* AdamW over the whole supernet and the reference's learning-rate schedule (method.md
 * §9.4, §9.5). The update is dense: entries outside the sampled subnet get a zero gradient
 * and are still decayed and moved by their momentum, as in the reference. */

#include "param_table.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    double lr_max, lr_min, warmup_lr;
    int epochs, warmup_epochs;
    bool epoch_lag; /* the reference's one-epoch lag (below) */
} LrSchedule;

/* The rate used throughout epoch `epoch` (0-based), per-epoch warm-up + cosine:
 *   sched(t) = warmup_lr + t (lr_max - warmup_lr) / warmup_epochs      for t < warmup_epochs
 *   sched(t) = lr_min + (lr_max - lr_min) (1 + cos(pi t / epochs)) / 2   otherwise.
 * With epoch_lag, epoch e trains with sched(max(e - 1, 0)), as the reference does: timm steps
 * the scheduler at the END of each epoch, so epochs 0 and 1 both train at warmup_lr (right for
 * a 500-epoch recipe, an epoch lost for a short one). Without it, epoch e trains with sched(e). */
double lr_at_epoch(const LrSchedule *schedule, int epoch);

typedef struct {
    double beta1, beta2, eps, weight_decay;
    int64_t step; /* updates done */
    const Backend *be;
    real *m, *v;            /* moments, laid out like the supernet's parameters (backend) */
    AdamWSegment *segments; /* each tensor's entries and decay (backend) */
    int n_segments;
} AdamW;

AdamW adamw_create(const ParamTable *table, double beta1, double beta2, double eps,
                   double weight_decay);
void adamw_free(AdamW *opt);
/* One update of every supernet tensor from table->grads; decay only where the tensor table
 * says so (>= 2-D tensors except pos_embed and cls_token). */
void adamw_step(AdamW *opt, ParamTable *table, double lr);

#endif
