#include "loader.h"

#include "clock.h"
#include "error.h"
#include "mix.h"
#include "rng.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* The arrays hold the rank's stretch (mix.h); images and labels show its own samples. */
Batch loader_batch(const Loader *l) {
    const MixStretch m = l->stretch;
    const size_t span = (size_t)m.span, size = image_bytes(l->split->shape);
    Batch b = {.raw = xmalloc(size * span),
               .stretch_images = xmalloc(sizeof(real) * size * span),
               .stretch_labels = xmalloc(sizeof(int) * span),
               .partner = xmalloc(sizeof(int) * (size_t)m.count),
               .mix = xmalloc(sizeof(real) * (size_t)m.count),
               .step = -1};
    b.images = b.stretch_images + size * (size_t)m.lead;
    b.labels = b.stretch_labels + m.lead;
    return b;
}

void batch_free(Batch *b) {
    free(b->raw), free(b->stretch_images), free(b->stretch_labels), free(b->partner), free(b->mix);
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

/* Position in the epoch's order of the first sample of this rank's stretch of `step`. */
static int64_t stretch_position(const Loader *l, int64_t step) {
    return step % l->steps_per_epoch * l->recipe->batch + l->stretch.first;
}

/* The stored images and labels of this rank's stretch of `step`. A streamed split that cannot
 * be read leaves zeros and the first such error in the loader (loader_next reports it). */
static void gather(Loader *l, int64_t step, Batch *b) {
    const int64_t *order = epoch_order(l, step / l->steps_per_epoch);
    const int64_t first = stretch_position(l, step);
    for (int i = 0; i < l->stretch.span; i++) {
        l->rows[i] = order[first + i];
        b->stretch_labels[i] = l->split->labels[l->rows[i]];
    }
    Error err = {0};
    if (split_images_gather(l->split, l->rows, l->stretch.span, b->raw, &err)) return;
    memset(b->raw, 0, image_bytes(l->split->shape) * (size_t)l->stretch.span);
    if (!l->error.code) l->error = err;
}

static void augment(Loader *l, int64_t step, Batch *b) {
    const int64_t epoch = step / l->steps_per_epoch, first = stretch_position(l, step);
    const uint64_t first_sample = (uint64_t)(epoch * l->order_length + first);
    const ImageShape s = l->augmenter.shape;
    const size_t bytes = image_bytes(s);
#pragma omp parallel for schedule(dynamic, 4) num_threads(l->workers)
    for (int i = 0; i < l->stretch.span; i++) {
        Rng rng = rng_stream_at(l->seed, RNG_STREAM_AUGMENT, first_sample + (uint64_t)i);
        uint8_t *scratch = l->scratch + (size_t)omp_get_thread_num() * 2 * bytes;
        augment_image(&l->augmenter, b->raw + (size_t)i * bytes,
                      b->stretch_images + (size_t)i * bytes, scratch, &rng);
    }
    const MixStreams streams = {l->seed, step, first_sample};
    mix_batch(l->recipe, &l->stretch, streams, b->stretch_images, b->stretch_labels, s, b->partner,
              b->mix);
    b->step = step;
    b->epoch = epoch;
    b->first_sample = (int64_t)first_sample + l->stretch.lead;
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
    if (l->per_rank_batch * comm->size != recipe->batch || l->steps_per_epoch < 1 ||
        (recipe_mixes(recipe) && recipe->batch % 2 != 0))
        fatal_at(__FILE__, __LINE__, "batch %d does not fit %d ranks, %lld images and mixing",
                 recipe->batch, comm->size, (long long)split->count);
    l->stretch = mix_stretch(recipe, l->rank * l->per_rank_batch, l->per_rank_batch);
    l->order = xmalloc(sizeof *l->order * (size_t)l->order_length);
    l->order_epoch = -1;
    l->rows = xmalloc(sizeof *l->rows * (size_t)l->stretch.span);
    l->scratch = xmalloc(2 * image_bytes(split->shape) * (size_t)l->workers);
    for (int i = 0; i < 2; i++) l->slots[i] = loader_batch(l);
    l->requested = l->ready = -1;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->changed, NULL);
}

const Batch *loader_next(Loader *l, int64_t step, double *waited, Error *err) {
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
    if (l->error.code && !err->code) *err = l->error;
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
