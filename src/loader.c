#include "loader.h"

#include "clock.h"
#include "error.h"
#include "mix.h"
#include "rng.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

static void batch_alloc(Batch *b, int n, ImageShape s) {
    b->raw = xmalloc(image_bytes(s) * (size_t)n);
    b->images = xmalloc(sizeof(real) * image_bytes(s) * (size_t)n);
    b->labels = xmalloc(sizeof(int) * (size_t)n);
    b->partner = xmalloc(sizeof(int) * (size_t)n);
    b->mix = xmalloc(sizeof(real) * (size_t)n);
    b->step = -1;
}

Batch loader_batch(const Loader *l) {
    Batch b;
    batch_alloc(&b, l->per_rank_batch, l->split->shape);
    return b;
}

void batch_free(Batch *b) {
    free(b->raw), free(b->images), free(b->labels), free(b->partner), free(b->mix);
}

static bool streamed(const Loader *l) {
    return l->split->images == NULL;
}

/* The epoch's sequence of image indices (cached for the current epoch). */
static const int64_t *epoch_order(Loader *l, int64_t epoch) {
    if (l->order_epoch == epoch) return l->order;
    const int repeats = l->recipe->repeated_augmentation;
    int64_t *permutation = xmalloc(sizeof *permutation * (size_t)l->split->count);
    for (int64_t i = 0; i < l->split->count; i++) permutation[i] = i;
    Rng rng = rng_stream_at(l->seed, RNG_STREAM_DATA_ORDER, (uint64_t)epoch);
    rng_shuffle_i64(&rng, permutation, l->split->count);
    for (int64_t i = 0; i < l->split->count; i++)
        for (int r = 0; r < repeats; r++) l->order[i * repeats + r] = permutation[i];
    free(permutation);
    l->order_epoch = epoch;
    return l->order;
}

/* Position in the epoch's order of this rank's first sample of `step`. */
static int64_t first_position(const Loader *l, int64_t step) {
    const int64_t global = (int64_t)l->per_rank_batch * l->world;
    return step % l->steps_per_epoch * global + (int64_t)l->rank * l->per_rank_batch;
}

/* The stored images and labels of this rank's samples of `step`. */
static void gather(Loader *l, int64_t step, Batch *b) {
    const int64_t *order = epoch_order(l, step / l->steps_per_epoch);
    const int64_t first = first_position(l, step);
    for (int i = 0; i < l->per_rank_batch; i++) {
        l->rows[i] = order[first + i];
        b->labels[i] = l->split->labels[l->rows[i]];
    }
    Error err = {0};
    if (!split_images_gather(l->split, l->rows, l->per_rank_batch, b->raw, &err)) die_alone(&err);
}

static void augment(Loader *l, int64_t step, Batch *b) {
    const int64_t epoch = step / l->steps_per_epoch, first = first_position(l, step);
    const ImageShape s = l->augmenter.shape;
    const size_t bytes = image_bytes(s);
#pragma omp parallel for schedule(dynamic, 4) num_threads(l->workers)
    for (int i = 0; i < l->per_rank_batch; i++) {
        const int64_t position = first + i;
        Rng rng = rng_stream_at(l->seed, RNG_STREAM_AUGMENT,
                                (uint64_t)epoch * l->order_length + (uint64_t)position);
        uint8_t *scratch = l->scratch + (size_t)omp_get_thread_num() * 2 * bytes;
        augment_image(&l->augmenter, b->raw + (size_t)i * bytes, b->images + (size_t)i * bytes,
                      scratch, &rng);
    }
    Rng mix_rng = rng_stream_at(l->seed, RNG_STREAM_MIX,
                                (uint64_t)step * (uint64_t)l->world + (uint64_t)l->rank);
    mix_batch(l->recipe, b->images, l->per_rank_batch, s, b->labels, b->partner, b->mix, &mix_rng);
    b->step = step;
    b->epoch = epoch;
    b->first_sample = epoch * l->order_length + first;
}

void loader_fill(Loader *l, int64_t step, Batch *b) {
    gather(l, step, b);
    augment(l, step, b);
}

static void *prefetch(void *arg) {
    Loader *l = arg;
    pthread_mutex_lock(&l->lock);
    for (;;) {
        while (!l->stop && l->requested <= l->ready) pthread_cond_wait(&l->changed, &l->lock);
        if (l->stop) break;
        const int64_t step = l->requested;
        pthread_mutex_unlock(&l->lock);
        Batch *b = &l->slots[step % 2];
        if (!streamed(l)) gather(l, step, b);
        augment(l, step, b);
        pthread_mutex_lock(&l->lock);
        l->ready = step;
        pthread_cond_broadcast(&l->changed);
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

void loader_init(Loader *l, const SplitImages *split, const double *mean, const double *std,
                 const Recipe *recipe, const Comm *comm, uint64_t seed, int workers) {
    memset(l, 0, sizeof *l);
    l->split = split;
    l->recipe = recipe;
    l->augmenter = augmenter_make(recipe, split->shape, mean, std);
    l->rank = comm->rank;
    l->world = comm->size;
    l->per_rank_batch = recipe->batch / comm->size;
    l->workers = workers < 1 ? 1 : workers;
    l->seed = seed;
    l->order_length = split->count * recipe->repeated_augmentation;
    l->steps_per_epoch = split->count / recipe->batch;
    if (l->per_rank_batch * comm->size != recipe->batch || l->steps_per_epoch < 1)
        fatal_at(__FILE__, __LINE__, "batch %d does not fit %d ranks and %lld images",
                 recipe->batch, comm->size, (long long)split->count);
    l->order = xmalloc(sizeof *l->order * (size_t)l->order_length);
    l->order_epoch = -1;
    l->rows = xmalloc(sizeof *l->rows * (size_t)l->per_rank_batch);
    l->scratch = xmalloc(2 * image_bytes(split->shape) * (size_t)l->workers);
    for (int i = 0; i < 2; i++) batch_alloc(&l->slots[i], l->per_rank_batch, split->shape);
    l->requested = l->ready = -1;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->changed, NULL);
}

const Batch *loader_next(Loader *l, int64_t step, double *waited) {
    const double start = monotonic_seconds();
    const bool by_caller = streamed(l); /* reads in this thread, the background one augments */
    pthread_mutex_lock(&l->lock);
    if (!l->running) {
        if (by_caller) gather(l, step, &l->slots[step % 2]);
        l->running = true;
        l->requested = step;
        if (pthread_create(&l->thread, NULL, prefetch, l) != 0)
            fatal_at(__FILE__, __LINE__, "cannot start the data thread");
    }
    if (l->requested != step && l->ready != step) { /* a jump (first call after resume) */
        while (l->requested > l->ready) pthread_cond_wait(&l->changed, &l->lock);
        if (by_caller) gather(l, step, &l->slots[step % 2]);
        l->requested = step;
        pthread_cond_broadcast(&l->changed);
    }
    if (by_caller) { /* into the slot the caller has finished with, while `step` is augmented */
        pthread_mutex_unlock(&l->lock);
        gather(l, step + 1, &l->slots[(step + 1) % 2]);
        pthread_mutex_lock(&l->lock);
    }
    while (l->ready != step) pthread_cond_wait(&l->changed, &l->lock);
    l->requested = step + 1; /* the other slot: the caller keeps this one until its next call */
    pthread_cond_broadcast(&l->changed);
    pthread_mutex_unlock(&l->lock);
    *waited += monotonic_seconds() - start;
    return &l->slots[step % 2];
}

void loader_free(Loader *l) {
    if (l->running) {
        pthread_mutex_lock(&l->lock);
        l->stop = true;
        pthread_cond_broadcast(&l->changed);
        pthread_mutex_unlock(&l->lock);
        pthread_join(l->thread, NULL);
    }
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->changed);
    for (int i = 0; i < 2; i++) batch_free(&l->slots[i]);
    free(l->order), free(l->rows), free(l->scratch);
}
