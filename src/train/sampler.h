#ifndef PRENAS_SAMPLER_H
#define PRENAS_SAMPLER_H

/* Which subnet trains at each step (method.md §9.1, §9.9, §12.1). One architecture per step,
 * the same on every rank: step s draws from its own stream (seed, s), so ranks agree without
 * talking and a resumed run continues the sequence exactly. */

#include "model_family.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    SAMPLING_BALANCED, /* PreNAS: a group uniformly, then a member of it: groups of the same
                          (embed dim, depth) for the ViT, (resolution, widths) for the CNN
                          (model_arch_same_group) */
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
    const ModelArch *candidates; /* balanced, uniform */
    int n_candidates;
    int n_groups;
    int group_of[SAMPLER_MAX_CANDIDATES]; /* candidate -> group, groups by first appearance */
    int group_size[SAMPLER_MAX_CANDIDATES];
    const ModelSpace *space; /* resample: the refined space; space: the search space */
    ModelArch fixed;
} Sampler;

void sampler_init(Sampler *sampler, SamplingMode mode, uint64_t seed, const ModelArch *candidates,
                  int n_candidates, const ModelSpace *space, const ModelArch *fixed);
void sampler_draw(const Sampler *sampler, int64_t step, ModelArch *arch);
/* balanced and uniform: the probability of each candidate (tests, logs) */
double sampler_probability(const Sampler *sampler, int candidate);

#endif
