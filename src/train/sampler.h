#ifndef PRENAS_SAMPLER_H
#define PRENAS_SAMPLER_H

/* Which subnet trains at each step (method.md §9.1, §9.9, §12.1). One architecture per step,
 * the same on every rank: step s draws from its own stream (seed, s), so ranks agree without
 * talking and a resumed run continues the sequence exactly. */

#include "arch.h"
#include "space.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    SAMPLING_BALANCED, /* PreNAS: an (embed dim, depth) group uniformly, then a member of it */
    SAMPLING_UNIFORM,  /* a preferred architecture uniformly */
    SAMPLING_RESAMPLE, /* uniformly from the refined space's per-layer choices */
    SAMPLING_SPACE,    /* uniformly from the whole search space (AutoFormer's training) */
    SAMPLING_FIXED,    /* one architecture (training it from scratch) */
} SamplingMode;

bool sampling_parse(const char *name, SamplingMode *mode);
const char *sampling_name(SamplingMode mode);

enum { SAMPLER_MAX_CANDIDATES = 4096 };

typedef struct {
    SamplingMode mode;
    uint64_t seed;
    const Arch *candidates; /* balanced, uniform */
    int n_candidates;
    int n_groups;
    int group_of[SAMPLER_MAX_CANDIDATES]; /* candidate -> group, groups by first appearance */
    int group_size[SAMPLER_MAX_CANDIDATES];
    const Space *space; /* resample: the refined space; space: the search space */
    Arch fixed;
} Sampler;

void sampler_init(Sampler *sampler, SamplingMode mode, uint64_t seed, const Arch *candidates,
                  int n_candidates, const Space *space, const Arch *fixed);
void sampler_draw(const Sampler *sampler, int64_t step, Arch *arch);
/* balanced and uniform: the probability of each candidate (tests, logs) */
double sampler_probability(const Sampler *sampler, int candidate);

#endif
