#ifndef PRENAS_LOADER_H
#define PRENAS_LOADER_H

/* Training batches (method.md §9.7, design.md "data pipeline"). An epoch's order is a
 * permutation of the training split seeded by (seed, epoch) with each image repeated
 * `repeated_augmentation` times in a row; the epoch uses its first ⌊N/G⌋·G positions (N images,
 * G the global batch), as the reference's repeated-augmentation sampler does: with 3 repeats an
 * epoch sees about N/3 distinct images 3 times each, and costs the same as without. Step k of
 * the epoch takes the positions [k G, (k+1) G), and rank r the slice [k G + r b, k G + (r+1) b)
 * with b = G / ranks. A sample's global index is e·N·repeats + its position in epoch e's order.
 * Every sample's augmentation comes from the stream of its global index, and its mixing from
 * its index and its position in the global batch (mix.h), so a batch is the same whatever the
 * rank count, and a resumed run sees the same data.
 *
 * A background thread prepares the next step's batch while the current one trains
 * (double buffering), augmenting with `workers` threads. A split held in memory is read by that
 * thread too; a streamed one by the caller's thread in loader_next (HDF5 is not thread-safe
 * here), while the background thread augments the batch before. */

#include "augment.h"
#include "comm.h"
#include "dataset.h"
#include "mix.h"
#include "recipe.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* A rank's b samples of one step. The arrays behind them hold the rank's stretch (mix.h): its
 * samples and, when its part of the global batch cuts a mixing block, the partners that
 * neighbouring ranks hold, prepared here too so that mixing does not depend on the rank count. */
typedef struct {
    real *images; /* [b, C, H, W], inside stretch_images */
    int *labels;  /* [b], inside stretch_labels */
    int *partner; /* [b]: the label each sample is mixed with */
    real *mix;    /* [b]: mixup / cutmix lambda per sample (1: not mixed) */
    int64_t step, epoch;
    int64_t first_sample; /* global index of this rank's first sample (drop-path streams) */
    uint8_t *raw;         /* [span, H, W, C]: the stored images of the stretch */
    real *stretch_images; /* [span, C, H, W] */
    int *stretch_labels;  /* [span] */
} Batch;

typedef struct {
    const SplitImages *split;
    const Recipe *recipe;
    Augmenter augmenter;
    int rank, world, per_rank_batch, workers;
    uint64_t seed;
    int64_t order_length, steps_per_epoch; /* order_length: N x repeats */
    MixStretch stretch;                    /* this rank's positions in every global batch */
    int64_t *order, order_epoch, *rows;    /* rows: the stretch's images of one step */
    Batch slots[2];
    uint8_t *scratch; /* per worker */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int64_t requested, ready;
    bool running, stop;
    Error error; /* the first read of a streamed split that failed */
} Loader;

/* The split stays the caller's. The per-rank batch must divide evenly: recipe->batch % world. */
void loader_init(Loader *loader, const SplitImages *split, const double *mean, const double *std,
                 const Recipe *recipe, const Comm *comm, uint64_t seed, int workers);
/* The batch of `step`; the thread then prepares step + 1. Adds the time waited. When this rank
 * could not read images of a streamed split (for this step or the next), sets err: the ranks
 * must then agree to stop before the next step (trainer.c), since the others may have read
 * theirs; the unread images are zeros, so a step may finish but must not be kept. */
const Batch *loader_next(Loader *loader, int64_t step, double *waited, Error *err);
/* A batch, prepared in the calling thread (the data-only benchmark, tests), into one from
 * loader_batch (freed with batch_free). */
void loader_fill(Loader *loader, int64_t step, Batch *batch);
Batch loader_batch(const Loader *loader);
void batch_free(Batch *batch);
void loader_free(Loader *loader);

#endif
