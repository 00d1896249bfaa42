#ifndef PRENAS_CNN_SELECT_H
#define PRENAS_CNN_SELECT_H

/* The CNN family's preferred set: the best architectures by a zero-cost score in each FLOPs
 * group of the space (cnn_space.h CnnGroups; method.md §13: PreNAS's groups of 200, 400, 600 and
 * 1000 MFLOPs). The ViT's selection enumerates isomer groups (src/search/preferred.h); a CNN
 * space is too large for that (BigNAS's: 6.3e9 architectures), so architectures are drawn:
 *
 *  1. `samples` uniform draws from the whole space (cnn_arch_sample, one stream
 *     RNG_STREAM_CNN_SELECT); each is scored and goes to the group its FLOPs fall in, if any;
 *  2. a group with fewer than `group_min` members after that (the extremes are thin: BigNAS's
 *     200 M band holds about 1 in 10^5 architectures) is filled by rejection: draws from the
 *     group's box (cnn_group_box) until it has `group_min` members or `group_cap` draws were
 *     made (stream RNG_STREAM_CNN_FILL, item g). The box holds every member of the group,
 *     so its members are still uniform draws from the group.
 *
 * Each group keeps its best `top` distinct architectures: score descending, ties by draw
 * number ascending (uniform draws 0 .. samples - 1, then a group's fill draws samples,
 * samples + 1, ...). A duplicate draw of an architecture already kept is skipped. */

#include "cnn_arch.h"
#include "cnn_cost.h"
#include "cnn_space.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* The score of an architecture (cnn_score for SNIP; tests pass others). */
typedef double (*CnnScoreFn)(const CnnArch *arch, const void *ctx);

typedef struct {
    int64_t samples;   /* uniform draws from the whole space */
    int top;           /* kept per group */
    uint64_t seed;     /* of the draws */
    int64_t group_min; /* fill groups up to this many members (0: no filling) */
    int64_t group_cap; /* draws at most per group for the filling */
} CnnSelectOptions;

typedef struct {
    CnnArch arch;
    CnnCost cost;
    double score;
    int64_t draw;
} CnnCandidate;

typedef struct {
    int64_t lo, hi;       /* FLOPs, inclusive (cnn_space.h) */
    int64_t uniform;      /* uniform draws that fell in the group */
    int64_t fill_draws;   /* draws from the group's box */
    int64_t fill_members; /* of them, in the group */
    double box_size;      /* architectures in the box (cnn_space_count) */
    int kept;             /* <= top */
    CnnCandidate *best;   /* [kept], best first */
} CnnGroupSelection;

typedef struct {
    int n_groups;
    CnnGroupSelection groups[CNN_MAX_GROUPS];
    int64_t samples, outside; /* uniform draws, and those in no group */
    double seconds_uniform, seconds_fill;
} CnnSelection;

/* The space must name its groups (space->groups.count > 0). */
CnnSelection cnn_select(const CnnSpace *space, const CnnSelectOptions *options, CnnScoreFn score,
                        const void *ctx);
void cnn_selection_free(CnnSelection *selection);
/* Group by group: its band, its share of the uniform draws, its filling, and its kept
 * architectures (rank, text, MFLOPs, Mparams, score). */
void cnn_selection_print(FILE *out, const CnnSelection *selection, const CnnSpace *space);

/* A sub-space, a product of sub-lists of `space`'s lists, that holds every architecture whose
 * FLOPs lie in [lo, hi]: FLOPs grow with every choice (resolution, widths, depth, kernel,
 * expansion), so a value v of one list can appear in the band only if the space's smallest
 * architecture with v has FLOPs <= hi and its largest with v has FLOPs >= lo; each list keeps
 * those values. False (box unchanged) when a list keeps none: the band is empty. */
bool cnn_group_box(const CnnSpace *space, int64_t lo, int64_t hi, CnnSpace *box);

#endif
