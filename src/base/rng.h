#ifndef PRENAS_RNG_H
#define PRENAS_RNG_H

/* Counter-based random numbers (Philox4x32-10, Salmon et al. 2011): the n-th number of a
 * stream is a pure function of (seed, stream, n). A run is therefore reproducible from its
 * seed, any consumer can have its own independent stream, and saving a stream's position
 * is saving one counter. The same generator is cheap on a GPU. */

#include <stdint.h>

/* Stream numbers: one per consumer, so adding randomness in one place never shifts another. */
enum {
    RNG_STREAM_DATASET_SPLIT = 1,   /* prenas-pack: which training images become validation */
    RNG_STREAM_INIT = 2,            /* supernet initialisation, mixed with each tensor's name */
    RNG_STREAM_DROP_PATH = 3,       /* drop-path decisions, one stream per sample */
    RNG_STREAM_DATA_FREE = 4,       /* prenas-score: the synthetic images, one stream per image */
    RNG_STREAM_SCORE_SAMPLE = 5,    /* prenas-score, data mode: which training images */
    RNG_STREAM_SAMPLER = 6,         /* prenas-train: the subnet of each step */
    RNG_STREAM_DATA_ORDER = 7,      /* prenas-train: each epoch's order of the images */
    RNG_STREAM_AUGMENT = 8,         /* prenas-train: each sample's augmentation */
    RNG_STREAM_MIX = 9,             /* prenas-train: mixup / cutmix, elem mode: one per sample */
    RNG_STREAM_EVOLUTION = 10,      /* prenas-search: each generation's draws */
    RNG_STREAM_SEARCH_IMAGES = 11,  /* prenas-search: which images measure the fitness */
    RNG_STREAM_ISOMERS = 12,        /* prenas-arch --isomers --limit: which members */
    RNG_STREAM_MIX_BATCH = 13,      /* prenas-train: mixup / cutmix, batch mode: one per step */
    RNG_STREAM_ARCH_SAMPLE = 14,    /* prenas-arch --sample: which architectures */
    RNG_STREAM_CNN_SELECT = 15,     /* CNN selection: the uniform draws */
    RNG_STREAM_CNN_FILL = 16,       /* CNN selection: draws inside group g (item g) */
    RNG_STREAM_BN_CALIBRATION = 17, /* BN recalibration: which training images */
};

typedef struct {
    uint64_t key;     /* from (seed, stream) */
    uint64_t counter; /* blocks of four 32-bit outputs consumed */
    uint32_t block[4];
    int used; /* outputs of `block` already handed out; 4 = none left */
} Rng;

Rng rng_stream(uint64_t seed, uint64_t stream);
/* Stream `stream` of item `index` (a sample, an image): randomness tied to the item, not to
 * the rank that happens to process it, so results do not depend on the rank count. */
Rng rng_stream_at(uint64_t seed, uint64_t stream, uint64_t index);
/* The Philox4x32-10 bijection itself (checked against the authors' known-answer vectors). */
void philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);
/* Four 32-bit outputs of block `counter` of the stream with this key (stateless form). */
void rng_block(uint64_t key, uint64_t counter, uint32_t out[4]);

uint32_t rng_u32(Rng *rng);
uint64_t rng_u64(Rng *rng);
double rng_uniform(Rng *rng);             /* [0, 1), 53 bits */
uint64_t rng_below(Rng *rng, uint64_t n); /* uniform in [0, n), unbiased; n > 0 */
double rng_normal(Rng *rng);              /* standard normal */
void rng_shuffle_i64(Rng *rng, int64_t *values, int64_t n);

#endif
