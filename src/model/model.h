#ifndef PRENAS_MODEL_H
#define PRENAS_MODEL_H

/* A supernet of either family (model_family.h) with its loss head: the one "subnet + batch ->
 * logits, loss, metrics" entry point that training, scoring, evaluation, search and prediction
 * share. The model owns the step buffers (logits, soft targets, probabilities, per-sample
 * losses, drop-path scales, the CNN's resized batch) sized once for `max_batch` images, so no
 * step allocates.
 *
 * A step is model_forward (logits and the loss of every sample) followed, when training or
 * scoring, by model_backward (gradients added to table->grads). The loss heads:
 *  - cross-entropy against soft targets: label smoothing and mixing partners (method.md §9.3);
 *    with smoothing 0 and no mixing it is the plain cross-entropy of evaluation (§10.1);
 *  - the sum of all logits: the data-free objective of zero-cost scoring (§6.1). */

#include "cnn_net.h"
#include "model_family.h"
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
    ModelFamily family;
    Vit *vit;          /* FAMILY_VIT; NULL otherwise */
    CnnNet *cnn;       /* FAMILY_CNN; NULL otherwise */
    CnnBnStats *bn;    /* FAMILY_CNN: the running statistics of evaluation (model_recalibrate) */
    ModelArch bn_arch; /* the subnet they were recalibrated for (bn_batches > 0) */
    int bn_batches;
    ParamTable *table; /* the supernet's tensors and arenas: &vit->table or &cnn->table */
    const Backend *be; /* table->be */
    int max_batch;
    int classes, channels, image_side; /* of the logits and of the images model_forward takes */
    /* backend memory: */
    real *logits; /* [max_batch, classes]: the last forward's */
    real *loss;   /* [max_batch]: per sample (cross-entropy), or per-sample logit sums */
    real *targets, *probs, *dlogits, *drop_scales;
    real *images, *mix;    /* where host inputs are uploaded (not used on the CPU) */
    real *resized;         /* FAMILY_CNN: the batch at the architecture's resolution */
    int *labels, *partner; /* likewise */
    int *ranks;            /* [max_batch]: label_ranks of the last metrics */
    /* host memory: */
    real *host_drop_scales, *host_logits, *host_loss;
    int *host_ranks;
    LossKind last_kind;
    const real *last_scales; /* the last forward's drop-path scales (backend), or NULL */
} Model;

/* A supernet of the space's shape on backend `be` with room for batches of up to max_batch
 * images image_side x image_side (0: the space's own size: the ViT's image size, the CNN's
 * largest resolution). The ViT takes only its image size; the CNN resizes each batch to the
 * architecture's resolution (bilinear, torchvision's Resize without antialiasing). NULL with
 * err set when the backend lacks the family's ops (cnn_net_create). The parameters start
 * uninitialised: model_init. */
Model *model_create(const Backend *be, const ModelSpace *space, int max_batch, int image_side,
                    Error *err);
void model_free(Model *model);
/* The family's initialisation from `seed` (vit_init, cnn_net_init). */
void model_init(Model *model, uint64_t seed);

/* Logits of `arch` for normalised images [n, C, S, S] (S the model's image_side) and each
 * sample's loss; returns the sum of the n losses (NaN or infinite when a logit is). drop NULL:
 * evaluation (no drop path; a CNN normalises by the statistics model_recalibrate gathered for
 * this very architecture, which must come first); else training (a CNN normalises by batch
 * statistics; drop path is the ViT's only: a CNN takes max_rate 0). images and the loss's
 * labels, partners and mix are host memory. */
double model_forward(Model *model, const ModelArch *arch, const real *images, int n,
                     const Loss *loss, const DropPath *drop);
/* The evaluation logits of `arch` (into the model's buffer: model_logits) for normalised
 * images [n, C, S, S] already in backend memory, and nothing else: no upload, no loss. What
 * latency_measure times; a CNN needs model_recalibrate first, as for model_forward. */
void model_infer(Model *model, const ModelArch *arch, const real *images, int n);
/* Adds grad_scale x d(sum of the last forward's losses) to table->grads (1/n for a mean). */
void model_backward(Model *model, const ModelArch *arch, int n, double grad_scale);

/* Training batches normalised in groups of `images` (cnn_net.h bn_group; 0: the whole batch), so
 * that a CNN trains alike on any rank count whose share of the batch is whole groups. A ViT has
 * no batch norm: nothing to set. */
void model_set_bn_group(Model *model, int images);

/* Whether evaluation needs model_recalibrate first: the CNN's batch norms (BigNAS). */
bool model_needs_recalibration(const Model *model);
/* BigNAS's BN recalibration (cnn_net_recalibrate_batch): batch `batches_seen` (0 first, which
 * starts afresh) of normalised training images [n, C, S, S] (host) goes into the cumulative
 * running statistics of `arch`, which evaluation forwards then use. Nothing for a ViT. */
void model_recalibrate(Model *model, const ModelArch *arch, const real *images, int n,
                       int batches_seen);

/* The statistics now in model->bn (written there by the caller: a standalone model's stored
 * ones) are `arch`'s recalibrated ones: evaluation forwards of `arch` may use them. */
void model_adopt_bn_statistics(Model *model, const ModelArch *arch);

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
