#ifndef PRENAS_MODEL_H
#define PRENAS_MODEL_H

/* A supernet with its loss head: the one "subnet + batch -> logits, loss, metrics" entry point
 * that training, scoring, evaluation, search and prediction share. The model owns the step
 * buffers (logits, soft targets, probabilities, per-sample losses, drop-path scales) sized
 * once for `max_batch` images, so no step allocates.
 *
 * A step is model_forward (logits and the loss of every sample) followed, when training or
 * scoring, by model_backward (gradients added to vit->table.grads). The loss heads:
 *  - cross-entropy against soft targets: label smoothing and mixing partners (method.md §9.3);
 *    with smoothing 0 and no mixing it is the plain cross-entropy of evaluation (§10.1);
 *  - the sum of all logits: the data-free objective of zero-cost scoring (§6.1). */

#include "arch.h"
#include "space.h"
#include "vit.h"

#include <stdint.h>

typedef enum { LOSS_CROSS_ENTROPY, LOSS_LOGIT_SUM } LossKind;

typedef struct {
    LossKind kind;
    const int *labels;  /* [n]: cross-entropy */
    const int *partner; /* [n] the mixing partners' labels, or NULL (no mixing) */
    const real *mix;    /* [n] each sample's lambda, or NULL */
    double smoothing;   /* label smoothing epsilon */
} Loss;

typedef struct {
    double max_rate; /* of the last supernet block (method.md §3.5); 0: no drop path */
    uint64_t seed;
    uint64_t first_sample; /* the batch's first sample index: decisions follow the sample */
} DropPath;

typedef struct {
    Vit *vit;
    ParamTable *table; /* the supernet's tensors and arenas: &vit->table */
    const Backend *be; /* table->be */
    int max_batch;
    /* backend memory: */
    real *logits; /* [max_batch, classes]: the last forward's */
    real *loss;   /* [max_batch]: per sample (cross-entropy), or per-sample logit sums */
    real *targets, *probs, *dlogits, *drop_scales;
    real *images, *mix;    /* where host inputs are uploaded (not used on the CPU) */
    int *labels, *partner; /* likewise */
    int *ranks;            /* [max_batch]: label_ranks of the last metrics */
    /* host memory: */
    real *host_drop_scales, *host_logits, *host_loss;
    int *host_ranks;
    LossKind last_kind;
    const real *last_scales; /* the last forward's drop-path scales (backend), or NULL */
} Model;

/* A supernet of the space's shape on backend `be` with room for batches of up to max_batch
 * images. */
Model *model_create(const Backend *be, const Space *space, int max_batch);
void model_free(Model *model);

/* Logits of `arch` for normalised images [n, C, H, W] and each sample's loss; returns the sum
 * of the n losses (NaN or infinite when a logit is). drop NULL: evaluation (no drop path).
 * images and the loss's labels, partners and mix are host memory. */
double model_forward(Model *model, const Arch *arch, const real *images, int n, const Loss *loss,
                     const DropPath *drop);
/* Adds grad_scale x d(sum of the last forward's losses) to vit->table.grads (1/n for a mean). */
void model_backward(Model *model, const Arch *arch, int n, double grad_scale);

typedef struct {
    int64_t top1, top5; /* samples whose label is among the 1 / 5 highest logits */
    int64_t nonfinite;  /* samples with a NaN or infinite logit: never counted as correct */
    double loss_sum;    /* NaN when any sample's loss is */
} BatchMetrics;

/* The last forward's logits [n, classes] on the host (valid until the next call). */
const real *model_logits(const Model *model, int n);

/* Top-k counts and loss of the last forward (LOSS_CROSS_ENTROPY) against `labels`. A logit
 * that is NaN compares false with everything, so a NaN row would otherwise look perfect. */
BatchMetrics model_metrics(const Model *model, const int *labels, int n);

#endif
