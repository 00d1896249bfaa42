#ifndef PRENAS_ISOMER_H
#define PRENAS_ISOMER_H

/* Isomer groups (method.md §7, §8.2, §11.1): architectures of one width and depth whose heads
 * and MLP ratios take each choice on the same number of layers. All members have the same
 * cost; the greedy allocation picks one representative per group, and the analysis of §11
 * evaluates every member of a group. */

#include "arch.h"
#include "cost.h"
#include "error.h"
#include "space.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* ---- The members of one architecture's isomer group (method.md §11.1) ---- */

/* Which per-layer lists the members permute; the other stays as the architecture has it. */
typedef enum { ISOMER_VARY_HEADS = 1, ISOMER_VARY_RATIOS = 2, ISOMER_VARY_BOTH = 3 } IsomerVary;

/* Member counts saturate at this value, which reads "this many or more: too many to count". */
#define ISOMER_TOO_MANY UINT64_MAX

/* The distinct values of one per-layer list, ascending, and the layers that take each. */
typedef struct {
    int n_values;
    int values[SPACE_MAX_CHOICES]; /* heads, or MLP ratios in thousandths */
    int counts[SPACE_MAX_CHOICES];
} IsomerMultiset;

typedef struct IsomerIndex IsomerIndex;

typedef struct {
    Arch arch; /* whose group this is */
    IsomerVary vary;
    IsomerMultiset heads, ratios;
    uint64_t size;     /* members: the product of the varied lists' multinomial coefficients */
    uint64_t in_space; /* members the space allows (all, in a `choices` space); ISOMER_TOO_MANY
                        * when `size` is, as they are then not counted */
    uint64_t count;    /* members listed: in_space, or the sample's size */
    bool sampled;      /* a seeded uniform sample (arch among it), else every member in the space */
    IsomerIndex *index;
} IsomerListing;

/* The members of arch's isomer group that are architectures of `space` (a refined space may
 * forbid a value on some layers), in lexicographic order of (heads, MLP ratios), arch
 * included. `limit` 0, or at least their number, lists all of them; a smaller `limit` lists
 * that many drawn uniformly without replacement from stream RNG_STREAM_ISOMERS of
 * `seed`, arch always among them. A group whose size saturates (ISOMER_TOO_MANY) can only be
 * sampled, by rejection, which fails when random permutations rarely land in the space.
 * Fails, too, when arch is not an architecture of the space. Members are made on demand by
 * isomer_listing_member, so a complete listing costs no memory per member. */
bool isomer_listing(const Space *space, const Arch *arch, IsomerVary vary, uint64_t limit,
                    uint64_t seed, IsomerListing *out, Error *err);
/* Member i (0 <= i < count) in the listing's order. */
void isomer_listing_member(const IsomerListing *listing, uint64_t i, Arch *member);
void isomer_listing_free(IsomerListing *listing);

#endif
