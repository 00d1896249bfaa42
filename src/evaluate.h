#ifndef PRENAS_EVALUATE_H
#define PRENAS_EVALUATE_H

/* A subnet's accuracy with inherited weights (method.md §10.1) on held-out images: top-1,
 * top-5 and mean cross-entropy (no smoothing). Ranks share the images; the counts are summed,
 * so the result does not depend on the rank count. */

#include "arch.h"
#include "comm.h"
#include "dataset.h"
#include "model.h"

#include <stdint.h>

typedef struct {
    double top1, top5, loss; /* top-k in percent; loss NaN when a logit was not finite */
    int64_t images;
    int64_t nonfinite; /* images with a NaN or infinite logit, counted as wrong */
} EvalResult;

typedef struct {
    const SplitImages *split;
    int64_t count;            /* its first `count` images */
    const double *mean, *std; /* the training split's */
} EvalImages;

/* A streamed split that cannot be read ends the run (die_alone). */

struct EvalTable;
/* The accuracy of every row of an evaluation table (src/eval_table.h). Ranks take whole
 * architectures (round robin) when there are at least as many as ranks, so every result is
 * the one a single rank computes, bit for bit, whatever the rank count; with fewer
 * architectures than ranks they share each architecture's images (equal counts, the loss
 * equal to rounding). Every rank ends with every row. Rank 0 reports progress and an ETA on
 * stderr every few seconds when `progress`. */
void evaluate_table(Model *model, struct EvalTable *table, const EvalImages *data, int batch,
                    const Comm *comm, bool progress);

EvalResult evaluate_subnet(Model *model, const Arch *arch, const EvalImages *data, int batch,
                           const Comm *comm);

#endif
