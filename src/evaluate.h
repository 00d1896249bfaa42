#ifndef PRENAS_EVALUATE_H
#define PRENAS_EVALUATE_H

/* A subnet's accuracy with inherited weights (method.md §10.1) on held-out images: top-1,
 * top-5 and mean cross-entropy (no smoothing). Ranks share the images; the counts are summed,
 * so the result does not depend on the rank count. */

#include "arch.h"
#include "comm.h"
#include "dataset.h"
#include "vit.h"

#include <stdint.h>

typedef struct {
    double top1, top5, loss; /* top-k in percent */
    int64_t images;
} EvalResult;

typedef struct {
    const SplitImages *split;
    int64_t count;            /* its first `count` images */
    const double *mean, *std; /* the training split's */
} EvalImages;

/* A streamed split that cannot be read ends the run (die_alone). */

EvalResult evaluate_subnet(Vit *vit, const Arch *arch, const EvalImages *data, int batch,
                           const Comm *comm);

#endif
