/* The validation split carved out of a source that has none: stratified, so that val has the
 * class balance of train and every class is represented, and seeded, so that the same seed
 * always holds out the same images. */
#include "import.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>

void holdout_choose(Holdout *holdout, const SourceSplit *train, int num_classes, double fraction,
                    uint64_t seed) {
    *holdout = (Holdout){.fraction = fraction, .seed = seed};
    const int64_t count = train->count;
    holdout->is_val = xcalloc((size_t)count, sizeof *holdout->is_val);

    /* The indices of each class, in source order (a counting sort by label). */
    int64_t *class_start = xcalloc((size_t)num_classes + 1, sizeof *class_start);
    for (int64_t i = 0; i < count; i++) class_start[train->labels[i] + 1]++;
    for (int k = 0; k < num_classes; k++) class_start[k + 1] += class_start[k];
    int64_t *next = xmalloc((size_t)num_classes * sizeof *next);
    for (int k = 0; k < num_classes; k++) next[k] = class_start[k];
    int64_t *by_class = xmalloc((size_t)count * sizeof *by_class);
    for (int64_t i = 0; i < count; i++) by_class[next[train->labels[i]]++] = i;

    /* Classes in label order from one stream: the choice depends on the seed and the labels
     * only. */
    Rng rng = rng_stream(seed, RNG_STREAM_DATASET_SPLIT);
    for (int k = 0; k < num_classes; k++) {
        int64_t *members = by_class + class_start[k], n = class_start[k + 1] - class_start[k];
        int64_t held = llround(fraction * (double)n);
        rng_shuffle_i64(&rng, members, n);
        for (int64_t j = 0; j < held; j++) holdout->is_val[members[j]] = 1;
        holdout->val_count += held;
    }
    free(by_class);
    free(next);
    free(class_start);
}

void holdout_free(Holdout *holdout) {
    free(holdout->is_val);
    holdout->is_val = NULL;
}
