#ifndef PRENAS_EVALUATE_H
#define PRENAS_EVALUATE_H

/* A subnet's accuracy with inherited weights (method.md §10.1) on held-out images: top-1,
 * top-5 and mean cross-entropy (no smoothing). Ranks share the images; the counts are summed,
 * so the result does not depend on the rank count. */

#include "comm.h"
#include "dataset.h"
#include "model.h"

#include <stdint.h>

typedef struct {
    double top1, top5, loss; /* top-k in percent; loss NaN when a logit was not finite */
    int64_t images;
    int64_t nonfinite; /* images with a NaN or infinite logit, counted as wrong */
} EvalResult;

/* BigNAS's BN recalibration set (method.md §13): `count` training images, the same ones for
 * every subnet, every rank and every call (the first `count` of a permutation of the split drawn
 * from (seed, RNG_STREAM_BN_CALIBRATION)), without augmentation (the evaluation's
 * normalisation only), in batches of `batch` (the last one may be smaller) whose statistics
 * are averaged with equal weights, as PyTorch's momentum=None (cnn_net_recalibrate_batch). OFA
 * and BigNAS's successors recalibrate on 2000 images. */
enum { CALIBRATION_IMAGES = 2000, CALIBRATION_BATCH = 256 }; /* the stages' defaults */

typedef struct {
    const SplitImages *split;
    const double *mean, *std;
    int64_t count;
    int batch;
    int64_t *rows; /* [split->count]: the permutation */
} Calibration;

/* `count` images, or the whole split when it is smaller. */
void calibration_init(Calibration *calibration, const SplitImages *train, const double *mean,
                      const double *std, int64_t count, int batch, uint64_t seed);
void calibration_free(Calibration *calibration);

/* BigNAS's BN recalibration of `arch` on the set (nothing for a ViT, whose `calibration` may be
 * NULL): model_recalibrate over its batches, after which evaluation forwards of `arch` use the
 * statistics. Rows of a streamed split this rank cannot read set err (the first such error)
 * and count as zeros; the caller decides (comm_check, or die). */
void calibration_run(const Calibration *calibration, Model *model, const ModelArch *arch,
                     Error *err);

typedef struct {
    const SplitImages *split;
    int64_t count;                  /* its first `count` images */
    const double *mean, *std;       /* the training split's */
    const Calibration *calibration; /* the CNN's (model_needs_recalibration); NULL for a ViT */
} EvalImages;

struct EvalTable;
/* The accuracy of every row of an evaluation table (src/eval/eval_table.h). Ranks take whole
 * architectures (round robin) when there are at least as many as ranks, so every result is
 * the one a single rank computes, bit for bit, whatever the rank count; with fewer
 * architectures than ranks they share each architecture's images (equal counts, the loss
 * equal to rounding). Every rank ends with every row. Rank 0 reports progress and an ETA on
 * stderr every few seconds when `progress`. Images of a streamed split that a rank cannot read
 * end the run on every rank with that rank's one-line error (comm_check). */
void evaluate_table(Model *model, struct EvalTable *table, const EvalImages *data, int batch,
                    const Comm *comm, bool progress);

/* A subnet's accuracy, summed over the ranks of `comm`; a CNN's after its BN recalibration on
 * data->calibration (each rank the whole set: the same statistics everywhere). Images of a
 * streamed split that this rank cannot read set err (the first such error) and count as zeros:
 * the ranks must agree (comm_check) before a result is used, since another rank may have read
 * its share. */
EvalResult evaluate_subnet(Model *model, const ModelArch *arch, const EvalImages *data, int batch,
                           const Comm *comm, Error *err);

#endif
