#include "isomer.h"

#include "rng.h"
#include "sorted.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    int depth, n_choices;
    bool all;
    int bounds[SPACE_MAX_CHOICES];
    CountVector *out;
    size_t count, capacity;
} VectorWalk;

static void emit(VectorWalk *w) {
    if (w->count == w->capacity) {
        w->capacity = w->capacity ? 2 * w->capacity : 64;
        w->out = xrealloc(w->out, w->capacity * sizeof *w->out);
    }
    CountVector *v = &w->out[w->count++];
    int k_last = w->n_choices - 1;
    v->n_choices = w->n_choices;
    for (int k = 0; k <= k_last; k++) {
        int from = k == 0 ? 0 : w->bounds[k - 1];
        int to = k == k_last ? w->depth : w->bounds[k];
        v->counts[k] = to - from;
    }
}

static void walk(VectorWalk *w, int position, int start) {
    if (position == w->n_choices - 1) {
        emit(w);
        return;
    }
    for (int b = start; b <= w->depth; b++) {
        w->bounds[position] = b;
        walk(w, position + 1, w->all ? b : b + 1);
    }
}

size_t count_vectors(int depth, int n_choices, bool all, CountVector **out) {
    VectorWalk w = {.depth = depth, .n_choices = n_choices, .all = all};
    walk(&w, 0, 0);
    *out = w.out;
    return w.count;
}

static ArchTotals group_totals(const Space *space, const IsomerGroup *g) {
    ArchTotals t = {g->embed_dim, g->depth, 0, 0};
    for (int k = 0; k < g->heads.n_choices; k++)
        t.sum_qkv_dim +=
            (int64_t)g->heads.counts[k] * space->head_dim * space->choices.num_heads.values[k];
    for (int k = 0; k < g->ratios.n_choices; k++)
        t.sum_hidden += (int64_t)g->ratios.counts[k] *
                        mlp_hidden_width(g->embed_dim, space->choices.mlp_ratio.values[k]);
    return t;
}

bool isomer_groups(const Space *space, bool all_count_vectors, IsomerGroups *out, Error *err) {
    out->items = NULL;
    out->count = 0;
    if (!space->uniform)
        return input_error(err,
                           "isomer groups are defined for a space in the 'choices' form; this one "
                           "lists per-layer choices ('widths'), %s",
                           space->source);
    size_t capacity = 0;
    for (int e = 0; e < space->choices.embed_dim.count; e++) {
        for (int d = 0; d < space->choices.depth.count; d++) {
            int depth = space->choices.depth.values[d];
            CountVector *ratio_vectors, *head_vectors;
            size_t n_ratio = count_vectors(depth, space->choices.mlp_ratio.count, all_count_vectors,
                                           &ratio_vectors);
            size_t n_head = count_vectors(depth, space->choices.num_heads.count, all_count_vectors,
                                          &head_vectors);
            if (out->count + n_ratio * n_head > capacity) {
                capacity = 2 * (out->count + n_ratio * n_head);
                out->items = xrealloc(out->items, capacity * sizeof *out->items);
            }
            for (size_t i = 0; i < n_ratio; i++) {
                for (size_t j = 0; j < n_head; j++) {
                    IsomerGroup *g = &out->items[out->count++];
                    g->embed_dim = space->choices.embed_dim.values[e];
                    g->depth = depth;
                    g->ratios = ratio_vectors[i];
                    g->heads = head_vectors[j];
                    g->cost = cost_of_totals(space, group_totals(space, g));
                }
            }
            free(ratio_vectors);
            free(head_vectors);
        }
    }
    return true;
}

void isomer_groups_free(IsomerGroups *groups) {
    free(groups->items);
    groups->items = NULL;
    groups->count = 0;
}

/* ---- The members of one architecture's isomer group ---- */

/* One per-layer list of the architecture (its heads or its MLP ratios) and the arrangements
 * of its values over the layers. Arrangements are numbered in lexicographic order among those
 * the space allows, so that a member is a number: listing is counting, sampling is drawing
 * numbers. A "state" is what is left to place, the remaining count of each value, written in
 * mixed radix (stride[v] per remaining layer at value v); the layer it starts at follows. */
typedef struct {
    bool varies;
    int depth;
    IsomerMultiset set;
    int own[SPACE_MAX_DEPTH];          /* the architecture's list, as indices into set.values */
    uint32_t allowed[SPACE_MAX_DEPTH]; /* bit v: the space lets the layer take set.values[v] */
    uint64_t size;                     /* arrangements: the multinomial coefficient */
    uint64_t in_space;                 /* arrangements the space allows */
    size_t stride[SPACE_MAX_CHOICES], n_states;
    /* per state: the allowed ways to place what remains; only when `size` is countable (a
     * multinomial below 2^64 keeps the table under a million states: 746 496 at most) */
    uint64_t *ways;
} Layers;

/* A member as value indices, heads then ratios, unused layers zero: memcmp orders members as
 * the listing does. For groups too large to number. */
typedef struct {
    uint8_t heads[SPACE_MAX_DEPTH], ratios[SPACE_MAX_DEPTH];
} MemberKey;

struct IsomerIndex {
    Layers heads, ratios;
    uint64_t *ranks; /* a sample's member numbers, ascending; NULL: member i is number i */
    MemberKey *keys; /* a sample of a group too large to number, ascending */
};

static uint64_t mul_saturated(uint64_t a, uint64_t b) {
    return a != 0 && b > (ISOMER_TOO_MANY - 1) / a ? ISOMER_TOO_MANY : a * b;
}

/* C(n, k) for n <= SPACE_MAX_DEPTH: exact in 64 bits (C(64, 32) < 2^61), by Pascal's rule
 * because the multiplicative formula overflows on the way. */
static uint64_t binomial(int n, int k) {
    uint64_t row[SPACE_MAX_DEPTH + 1] = {1};
    for (int i = 1; i <= n; i++)
        for (int j = i; j > 0; j--) row[j] += row[j - 1];
    return row[k];
}

static uint64_t multinomial(const IsomerMultiset *set) {
    uint64_t product = 1;
    int placed = 0;
    for (int v = 0; v < set->n_values; v++) {
        placed += set->counts[v];
        product = mul_saturated(product, binomial(placed, set->counts[v]));
    }
    return product;
}

static bool layer_allows(const Layers *d, int layer, int v) {
    return (d->allowed[layer] >> v) & 1u;
}

/* The allowed ways to place the remaining values of every state, from the empty state (all
 * placed: one way) up; a state's successors have smaller numbers, so one ascending pass. */
static void count_ways(Layers *d) {
    d->n_states = 1;
    for (int v = 0; v < d->set.n_values; v++) {
        d->stride[v] = d->n_states;
        d->n_states *= (size_t)d->set.counts[v] + 1;
    }
    d->ways = xmalloc(d->n_states * sizeof *d->ways);
    d->ways[0] = 1;
    for (size_t s = 1; s < d->n_states; s++) {
        int remaining[SPACE_MAX_CHOICES], left = 0;
        for (int v = 0; v < d->set.n_values; v++) {
            remaining[v] = (int)(s / d->stride[v] % ((size_t)d->set.counts[v] + 1));
            left += remaining[v];
        }
        int layer = d->depth - left;
        uint64_t ways = 0;
        for (int v = 0; v < d->set.n_values; v++)
            if (remaining[v] > 0 && layer_allows(d, layer, v)) ways += d->ways[s - d->stride[v]];
        d->ways[s] = ways;
    }
    d->in_space = d->ways[d->n_states - 1];
}

static bool layers_init(Layers *d, bool varies, const int *list, int depth,
                        const ChoiceList *choices, const char *what, const char *arch_text,
                        Error *err) {
    memset(d, 0, sizeof *d);
    d->varies = varies;
    d->depth = depth;
    for (int l = 0; l < depth; l++) /* a refined space may use more values over all layers */
        if (!sorted_insert(d->set.values, &d->set.n_values, SPACE_MAX_CHOICES, list[l]))
            return input_error(err, "architecture %s has more than %d distinct %s", arch_text,
                               SPACE_MAX_CHOICES, what);
    for (int l = 0; l < depth; l++) {
        int v = 0;
        while (d->set.values[v] != list[l]) v++;
        d->own[l] = v;
        d->set.counts[v]++;
        for (int u = 0; u < d->set.n_values; u++)
            if (choice_list_contains(&choices[l], d->set.values[u])) d->allowed[l] |= 1u << u;
    }
    if (!varies) {
        d->size = d->in_space = 1;
        return true;
    }
    d->size = multinomial(&d->set);
    if (d->size == ISOMER_TOO_MANY)
        d->in_space = ISOMER_TOO_MANY;
    else
        count_ways(d);
    return true;
}

/* Arrangement number `rank` among the allowed ones, as value indices per layer. */
static void layers_unrank(const Layers *d, uint64_t rank, int *indices) {
    if (!d->varies) {
        memcpy(indices, d->own, sizeof(int) * (size_t)d->depth);
        return;
    }
    int remaining[SPACE_MAX_CHOICES];
    memcpy(remaining, d->set.counts, sizeof remaining);
    size_t state = d->n_states - 1;
    for (int l = 0; l < d->depth; l++) {
        for (int v = 0; v < d->set.n_values; v++) {
            if (remaining[v] == 0 || !layer_allows(d, l, v)) continue;
            uint64_t ways = d->ways[state - d->stride[v]];
            if (rank < ways) {
                indices[l] = v;
                remaining[v]--;
                state -= d->stride[v];
                break;
            }
            rank -= ways;
        }
    }
}

/* The architecture's own arrangement's number: the arrangements that precede it. */
static uint64_t layers_own_rank(const Layers *d) {
    if (!d->varies) return 0;
    int remaining[SPACE_MAX_CHOICES];
    memcpy(remaining, d->set.counts, sizeof remaining);
    size_t state = d->n_states - 1;
    uint64_t rank = 0;
    for (int l = 0; l < d->depth; l++) {
        for (int v = 0; v < d->own[l]; v++)
            if (remaining[v] > 0 && layer_allows(d, l, v)) rank += d->ways[state - d->stride[v]];
        remaining[d->own[l]]--;
        state -= d->stride[d->own[l]];
    }
    return rank;
}

/* Open addressing over numbers below ISOMER_TOO_MANY, which marks an empty slot. */
typedef struct {
    uint64_t *slots;
    size_t mask;
} RankSet;

static RankSet rank_set_make(uint64_t n) {
    size_t capacity = 16;
    while (capacity < 2 * n) capacity *= 2;
    RankSet set = {xmalloc(capacity * sizeof *set.slots), capacity - 1};
    memset(set.slots, 0xff, capacity * sizeof *set.slots);
    return set;
}

/* False when already present. */
static bool rank_set_insert(RankSet *set, uint64_t rank) {
    size_t i = (size_t)(rank * UINT64_C(0x9E3779B97F4A7C15) >> 20) & set->mask;
    for (; set->slots[i] != ISOMER_TOO_MANY; i = (i + 1) & set->mask)
        if (set->slots[i] == rank) return false;
    set->slots[i] = rank;
    return true;
}

static int compare_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* n distinct numbers below `total`, `own` among them, uniformly, ascending: own and n - 1
 * of the other total - 1 numbers by Floyd's algorithm (one draw per number, whatever n). */
static uint64_t *sample_ranks(uint64_t total, uint64_t own, uint64_t n, Rng *rng) {
    uint64_t others = total - 1, wanted = n - 1;
    uint64_t *ranks = xmalloc(n * sizeof *ranks);
    RankSet set = rank_set_make(wanted);
    for (uint64_t j = others - wanted, k = 0; j < others; j++) {
        uint64_t t = rng_below(rng, j + 1);
        if (!rank_set_insert(&set, t)) { /* j itself is new: every number so far is below it */
            t = j;
            rank_set_insert(&set, j);
        }
        ranks[k++] = t;
    }
    free(set.slots);
    for (uint64_t k = 0; k < wanted; k++) ranks[k] += ranks[k] >= own; /* skip own's number */
    ranks[wanted] = own;
    qsort(ranks, n, sizeof *ranks, compare_u64);
    return ranks;
}

/* A uniformly random allowed arrangement: a shuffle of the multiset (each distinct
 * arrangement equally likely), redrawn until the space allows it. False when `budget`
 * shuffles run out first. */
static bool draw_arrangement(const Layers *d, Rng *rng, uint8_t *indices, uint64_t *budget) {
    for (;;) {
        if (*budget == 0) return false;
        --*budget;
        for (int l = 0; l < d->depth; l++) indices[l] = (uint8_t)d->own[l];
        if (!d->varies) return true;
        for (int l = d->depth - 1; l > 0; l--) {
            int j = (int)rng_below(rng, (uint64_t)l + 1);
            uint8_t t = indices[l];
            indices[l] = indices[j], indices[j] = t;
        }
        bool allowed = true;
        for (int l = 0; l < d->depth && allowed; l++) allowed = layer_allows(d, l, indices[l]);
        if (allowed) return true;
    }
}

static int compare_keys(const void *a, const void *b) {
    return memcmp(a, b, sizeof(MemberKey));
}

/* A group too large to number: draw members until n distinct ones (own among them), in
 * rounds that top up what duplicates took away. */
static bool sample_keys(IsomerIndex *index, const char *arch_text, uint64_t n, Rng *rng,
                        const Space *space, Error *err) {
    MemberKey *keys = xcalloc(n, sizeof *keys);
    for (int l = 0; l < index->heads.depth; l++) {
        keys[0].heads[l] = (uint8_t)index->heads.own[l];
        keys[0].ratios[l] = (uint8_t)index->ratios.own[l];
    }
    uint64_t distinct = 1, budget = mul_saturated(n, 64) + 4096, drawn = 0;
    while (distinct < n) {
        for (uint64_t k = distinct; k < n; k++, drawn++) {
            if (!draw_arrangement(&index->heads, rng, keys[k].heads, &budget) ||
                !draw_arrangement(&index->ratios, rng, keys[k].ratios, &budget)) {
                free(keys);
                return input_error(err,
                                   "isomer group of %s: only %llu distinct members of the space "
                                   "in %llu random permutations, %llu asked for; the group is "
                                   "too large to count, %s",
                                   arch_text, (unsigned long long)distinct,
                                   (unsigned long long)drawn, (unsigned long long)n, space->source);
            }
        }
        qsort(keys, n, sizeof *keys, compare_keys);
        distinct = 1;
        for (uint64_t k = 1; k < n; k++)
            if (memcmp(&keys[k], &keys[distinct - 1], sizeof *keys) != 0)
                keys[distinct++] = keys[k];
    }
    index->keys = keys;
    return true;
}

bool isomer_listing(const Space *space, const Arch *arch, IsomerVary vary, uint64_t limit,
                    uint64_t seed, IsomerListing *out, Error *err) {
    memset(out, 0, sizeof *out);
    if (!arch_check(arch, space, err)) return false;
    char text[ARCH_TEXT_MAX];
    arch_format(arch, text, sizeof text);
    const SpaceWidth *width = space_width(space, arch->embed_dim);
    IsomerIndex *index = xcalloc(1, sizeof *index);
    out->index = index;
    if (!layers_init(&index->heads, vary & ISOMER_VARY_HEADS, arch->num_heads, arch->depth,
                     width->num_heads, "head counts", text, err) ||
        !layers_init(&index->ratios, vary & ISOMER_VARY_RATIOS, arch->mlp_ratio, arch->depth,
                     width->mlp_ratio, "MLP ratios", text, err)) {
        isomer_listing_free(out);
        return false;
    }
    *out = (IsomerListing){.arch = *arch,
                           .vary = vary,
                           .heads = index->heads.set,
                           .ratios = index->ratios.set,
                           .size = mul_saturated(index->heads.size, index->ratios.size),
                           .index = index};
    Rng rng = rng_stream(seed, RNG_STREAM_ISOMERS);
    if (out->size == ISOMER_TOO_MANY) {
        out->in_space = ISOMER_TOO_MANY;
        if (limit == 0) {
            isomer_listing_free(out);
            return input_error(err,
                               "isomer group of %s has %llu or more members, too many to count "
                               "or list in full (a random sample can be), %s",
                               text, (unsigned long long)ISOMER_TOO_MANY, space->source);
        }
        out->sampled = true;
        out->count = limit;
        if (!sample_keys(index, text, limit, &rng, space, err)) {
            isomer_listing_free(out);
            return false;
        }
        return true;
    }
    out->in_space = index->heads.in_space * index->ratios.in_space;
    out->count = out->in_space;
    if (limit == 0 || limit >= out->in_space) return true;
    uint64_t own =
        layers_own_rank(&index->heads) * index->ratios.in_space + layers_own_rank(&index->ratios);
    out->sampled = true;
    out->count = limit;
    index->ranks = sample_ranks(out->in_space, own, limit, &rng);
    return true;
}

void isomer_listing_member(const IsomerListing *listing, uint64_t i, Arch *member) {
    const IsomerIndex *index = listing->index;
    int heads[SPACE_MAX_DEPTH], ratios[SPACE_MAX_DEPTH];
    if (index->keys) {
        for (int l = 0; l < listing->arch.depth; l++) {
            heads[l] = index->keys[i].heads[l];
            ratios[l] = index->keys[i].ratios[l];
        }
    } else {
        uint64_t rank = index->ranks ? index->ranks[i] : i;
        layers_unrank(&index->heads, rank / index->ratios.in_space, heads);
        layers_unrank(&index->ratios, rank % index->ratios.in_space, ratios);
    }
    *member = listing->arch;
    for (int l = 0; l < member->depth; l++) {
        member->num_heads[l] = listing->heads.values[heads[l]];
        member->mlp_ratio[l] = listing->ratios.values[ratios[l]];
    }
}

void isomer_listing_free(IsomerListing *listing) {
    IsomerIndex *index = listing->index;
    if (index) {
        free(index->heads.ways);
        free(index->ratios.ways);
        free(index->ranks);
        free(index->keys);
        free(index);
    }
    listing->index = NULL;
}
