#include "loader.h"

#include "error.h"
#include "mix.h"
#include "rng.h"

#include <mpi.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static void batch_alloc(Batch *b, int n, ImageShape s) {
    b->images = xmalloc(sizeof(real) * (size_t)n * s.channels * s.height * s.width);
    b->labels = xmalloc(sizeof(int) * (size_t)n);
    b->partner = xmalloc(sizeof(int) * (size_t)n);
    b->mix = xmalloc(sizeof(real) * (size_t)n);
    b->step = -1;
}

static void batch_free(Batch *b) {
    free(b->images), free(b->labels), free(b->partner), free(b->mix);
}

/* The epoch's sequence of image indices (cached for the current epoch). */
static const int64_t *epoch_order(Loader *l, int64_t epoch) {
    if (l->order_epoch == epoch) return l->order;
    const int repeats = l->recipe->repeated_augmentation;
    int64_t *permutation = xmalloc(sizeof *permutation * (size_t)l->count);
    for (int64_t i = 0; i < l->count; i++) permutation[i] = i;
    Rng rng = rng_stream_at(l->seed, RNG_STREAM_DATA_ORDER, (uint64_t)epoch);
    rng_shuffle_i64(&rng, permutation, l->count);
    for (int64_t i = 0; i < l->count; i++)
        for (int r = 0; r < repeats; r++) l->order[i * repeats + r] = permutation[i];
    free(permutation);
    l->order_epoch = epoch;
    return l->order;
}

void loader_fill(Loader *l, int64_t step, Batch *b) {
    const int64_t epoch = step / l->steps_per_epoch, k = step % l->steps_per_epoch;
    const int64_t global = (int64_t)l->per_rank_batch * l->world;
    const int64_t first = k * global + (int64_t)l->rank * l->per_rank_batch;
    const int64_t *order = epoch_order(l, epoch);
    const ImageShape s = l->augmenter.shape;
    const size_t image_bytes = (size_t)s.height * s.width * s.channels;
    const size_t image_reals = image_bytes;
#pragma omp parallel for schedule(dynamic, 4) num_threads(l->workers)
    for (int i = 0; i < l->per_rank_batch; i++) {
        const int64_t position = first + i, index = order[position];
        Rng rng = rng_stream_at(l->seed, RNG_STREAM_AUGMENT,
                                (uint64_t)epoch * l->order_length + (uint64_t)position);
        uint8_t *scratch = l->scratch + (size_t)omp_get_thread_num() * 2 * image_bytes;
        augment_image(&l->augmenter, l->images + (size_t)index * image_bytes,
                      b->images + (size_t)i * image_reals, scratch, &rng);
        b->labels[i] = l->labels[index];
    }
    Rng mix_rng = rng_stream_at(l->seed, RNG_STREAM_MIX,
                                (uint64_t)step * (uint64_t)l->world + (uint64_t)l->rank);
    mix_batch(l->recipe, b->images, l->per_rank_batch, s, b->labels, b->partner, b->mix, &mix_rng);
    b->step = step;
    b->epoch = epoch;
    b->first_sample = epoch * l->order_length + first;
}

static void *prefetch(void *arg) {
    Loader *l = arg;
    pthread_mutex_lock(&l->lock);
    for (;;) {
        while (!l->stop && l->requested <= l->ready) pthread_cond_wait(&l->changed, &l->lock);
        if (l->stop) break;
        const int64_t step = l->requested;
        pthread_mutex_unlock(&l->lock);
        loader_fill(l, step, &l->slots[step % 2]);
        pthread_mutex_lock(&l->lock);
        l->ready = step;
        pthread_cond_broadcast(&l->changed);
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

void loader_init(Loader *l, const uint8_t *images, const int32_t *labels, int64_t count,
                 ImageShape shape, const double *mean, const double *std, const Recipe *recipe,
                 const Comm *comm, uint64_t seed, int workers) {
    memset(l, 0, sizeof *l);
    l->images = images;
    l->labels = labels;
    l->count = count;
    l->recipe = recipe;
    l->augmenter = augmenter_make(recipe, shape, mean, std);
    l->rank = comm->rank;
    l->world = comm->size;
    l->per_rank_batch = recipe->batch / comm->size;
    l->workers = workers < 1 ? 1 : workers;
    l->seed = seed;
    l->order_length = count * recipe->repeated_augmentation;
    l->steps_per_epoch = count / recipe->batch;
    if (l->per_rank_batch * comm->size != recipe->batch || l->steps_per_epoch < 1)
        fatal_at(__FILE__, __LINE__, "batch %d does not fit %d ranks and %lld images",
                 recipe->batch, comm->size, (long long)count);
    l->order = xmalloc(sizeof *l->order * (size_t)l->order_length);
    l->order_epoch = -1;
    const size_t image_bytes = (size_t)shape.height * shape.width * shape.channels;
    l->scratch = xmalloc(2 * image_bytes * (size_t)l->workers);
    for (int i = 0; i < 2; i++) batch_alloc(&l->slots[i], l->per_rank_batch, shape);
    l->requested = l->ready = -1;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->changed, NULL);
}

const Batch *loader_next(Loader *l, int64_t step, double *waited) {
    const double start = MPI_Wtime();
    pthread_mutex_lock(&l->lock);
    if (!l->running) {
        l->running = true;
        l->requested = step;
        if (pthread_create(&l->thread, NULL, prefetch, l) != 0)
            fatal_at(__FILE__, __LINE__, "cannot start the data thread");
    }
    if (l->requested != step && l->ready != step) { /* a jump (first call after resume) */
        while (l->requested > l->ready) pthread_cond_wait(&l->changed, &l->lock);
        l->requested = step;
        pthread_cond_broadcast(&l->changed);
    }
    while (l->ready != step) pthread_cond_wait(&l->changed, &l->lock);
    l->requested = step + 1; /* the other slot: the caller keeps this one until its next call */
    pthread_cond_broadcast(&l->changed);
    pthread_mutex_unlock(&l->lock);
    *waited += MPI_Wtime() - start;
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
    free(l->order), free(l->scratch);
}
