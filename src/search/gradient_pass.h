#ifndef PRENAS_GRADIENT_PASS_H
#define PRENAS_GRADIENT_PASS_H

/* The single gradient pass of zero-cost scoring (method.md §6.1): the randomly initialised
 * supernet in training mode (drop path on) runs its largest architecture forward and
 * backward on
 *  - data-free: `batch` synthetic images, every pixel of channel c drawn from
 *    N(mean_c, std_c^2) with the space's data_free statistics, loss = sum of all logits;
 *  - data mode: batch x batches training images (a seeded sample), soft-target cross-entropy
 *    with label smoothing 0.1, averaged (no augmentation, unlike the reference).
 * Images and drop-path decisions are tied to the image's index, so the ranks of a job can
 * share the images in any way: the summed gradient is the same up to float rounding. */

#include "comm.h"
#include "dataset.h"
#include "model.h"
#include "space.h"

#include <stdint.h>

typedef struct {
    int batch, batches, micro_batch;
    double drop_path; /* rate of the last supernet block */
    uint64_t seed;
} GradientPassOptions;

typedef struct {
    const Space *space;
    GradientPassOptions options;
    DatasetFile dataset; /* data mode */
    SplitImages train;   /* data mode: streamed, only the picked images are read */
    bool data_mode;
    int64_t *picked; /* data mode: train-split rows by image index */
} GradientPass;

/* Data mode: the dataset must match the space's input and classes and hold enough images. */
bool gradient_pass_open_data(GradientPass *pass, const char *path, Error *err);
void gradient_pass_close(GradientPass *pass);

typedef struct {
    double objective; /* the loss, summed over ranks by the caller */
    double seconds;
    int64_t images;
} GradientPassResult;

/* This rank's share of the pass, into model->vit->table.grads (zeroed first); the caller sums the
 * ranks' gradients. */
GradientPassResult gradient_pass_run(GradientPass *pass, const Comm *comm, Model *model,
                                     const Arch *arch, Error *err);

#endif
