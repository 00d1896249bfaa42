#include "sampler.h"

#include "error.h"
#include "rng.h"

#include <string.h>

static const char *const NAMES[] = {"balanced", "uniform", "resample", "space", "fixed"};

bool sampling_parse(const char *name, SamplingMode *mode) {
    for (int m = 0; m < 5; m++)
        if (!strcmp(name, NAMES[m])) {
            *mode = (SamplingMode)m;
            return true;
        }
    return false;
}

const char *sampling_name(SamplingMode mode) {
    return NAMES[mode];
}

void sampler_init(Sampler *s, SamplingMode mode, uint64_t seed, const ModelArch *candidates,
                  int n_candidates, const ModelSpace *space, const ModelArch *fixed) {
    memset(s, 0, sizeof *s);
    s->mode = mode;
    s->seed = seed;
    s->candidates = candidates;
    s->n_candidates = n_candidates;
    s->space = space;
    if (fixed) s->fixed = *fixed;
    if (n_candidates > SAMPLER_MAX_CANDIDATES)
        fatal_at(__FILE__, __LINE__, "more than %d preferred architectures",
                 SAMPLER_MAX_CANDIDATES);
    /* the family's groups, in order of first appearance */
    for (int i = 0; i < n_candidates; i++) {
        int g = 0;
        while (g < i && !model_arch_same_group(&candidates[g], &candidates[i])) g++;
        s->group_of[i] = g == i ? s->n_groups++ : s->group_of[g];
        s->group_size[s->group_of[i]]++;
    }
}

/* The k-th member (in list order) of group g. */
static int member_of(const Sampler *s, int g, int k) {
    for (int i = 0; i < s->n_candidates; i++)
        if (s->group_of[i] == g && k-- == 0) return i;
    fatal_at(__FILE__, __LINE__, "group %d has no member %d", g, k);
}

void sampler_draw(const Sampler *s, int64_t step, ModelArch *arch) {
    Rng rng = rng_stream_at(s->seed, RNG_STREAM_SAMPLER, (uint64_t)step);
    switch (s->mode) {
    case SAMPLING_BALANCED: {
        const int g = (int)rng_below(&rng, (uint64_t)s->n_groups);
        *arch = s->candidates[member_of(s, g, (int)rng_below(&rng, (uint64_t)s->group_size[g]))];
        break;
    }
    case SAMPLING_UNIFORM:
        *arch = s->candidates[rng_below(&rng, (uint64_t)s->n_candidates)];
        break;
    case SAMPLING_RESAMPLE:
    case SAMPLING_SPACE:
        model_arch_sample(s->space, &rng, arch);
        break;
    case SAMPLING_FIXED:
        *arch = s->fixed;
        break;
    }
}

double sampler_probability(const Sampler *s, int candidate) {
    if (s->mode == SAMPLING_UNIFORM) return 1.0 / s->n_candidates;
    return 1.0 / s->n_groups / s->group_size[s->group_of[candidate]];
}
