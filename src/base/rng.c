#include "rng.h"

#include <math.h>

static uint64_t mix64(uint64_t x) { /* splitmix64's finaliser */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

Rng rng_stream(uint64_t seed, uint64_t stream) {
    Rng rng = {mix64(mix64(seed) ^ (stream + 0x9e3779b97f4a7c15ULL)), 0, {0}, 4};
    return rng;
}

Rng rng_stream_at(uint64_t seed, uint64_t stream, uint64_t index) {
    return rng_stream(seed, mix64(stream * 0xd1b54a32d192ed03ULL + index));
}

void philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

void rng_block(uint64_t key, uint64_t counter, uint32_t out[4]) {
    const uint32_t c[4] = {(uint32_t)counter, (uint32_t)(counter >> 32), 0, 0};
    const uint32_t k[2] = {(uint32_t)key, (uint32_t)(key >> 32)};
    philox4x32_10(c, k, out);
}

uint32_t rng_u32(Rng *rng) {
    if (rng->used == 4) {
        rng_block(rng->key, rng->counter++, rng->block);
        rng->used = 0;
    }
    return rng->block[rng->used++];
}

uint64_t rng_u64(Rng *rng) {
    uint64_t high = rng_u32(rng);
    return high << 32 | rng_u32(rng);
}

double rng_uniform(Rng *rng) {
    return (double)(rng_u64(rng) >> 11) * 0x1.0p-53;
}

uint64_t rng_below(Rng *rng, uint64_t n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* reject the uneven tail */
    uint64_t x;
    do x = rng_u64(rng);
    while (x >= limit);
    return x % n;
}

double rng_normal(Rng *rng) { /* Box-Muller; one of the pair is enough here */
    double u1 = 1.0 - rng_uniform(rng), u2 = rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void rng_shuffle_i64(Rng *rng, int64_t *values, int64_t n) {
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)rng_below(rng, (uint64_t)i + 1);
        int64_t t = values[i];
        values[i] = values[j];
        values[j] = t;
    }
}
