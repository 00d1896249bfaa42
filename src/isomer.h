#ifndef PRENAS_ISOMER_H
#define PRENAS_ISOMER_H

/* Isomer groups (method.md §7, §8.2): architectures of one width and depth whose heads and
 * MLP ratios take each choice on the same number of layers. All members have the same cost;
 * the greedy allocation later picks one representative per group. */

#include "cost.h"
#include "error.h"
#include "space.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    int n_choices;
    int counts[SPACE_MAX_CHOICES]; /* layers at each choice, choices ascending; sum = depth */
} CountVector;

/* The count vectors of `depth` layers over `n_choices` choices, in the reference's order:
 * every (K-1)-subset b1 < ... < b(K-1) of {0..depth}, lexicographically, gives
 * n0 = b1, nk = b(k+1) - bk, n(K-1) = depth - b(K-1). With K = 3 the middle choice therefore
 * always gets at least one layer (the reference's quirk). `all` instead takes every
 * composition (b1 <= ... <= b(K-1)), zero counts included. Returns the number written to a
 * new array in *out. */
size_t count_vectors(int depth, int n_choices, bool all, CountVector **out);

typedef struct {
    int embed_dim, depth;
    CountVector heads, ratios;
    ArchCost cost;
} IsomerGroup;

typedef struct {
    IsomerGroup *items;
    size_t count;
} IsomerGroups;

/* Every group of a `choices`-form space in the order of §8.2: widths and depths in
 * configuration order, then MLP count vectors, then head count vectors. */
bool isomer_groups(const Space *space, bool all_count_vectors, IsomerGroups *out, Error *err);
void isomer_groups_free(IsomerGroups *groups);

#endif
