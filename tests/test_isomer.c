/* Count vectors and isomer-group enumeration against method.md §8.2. */
#include "check.h"

#include "arch.h"
#include "cost.h"
#include "interval.h"
#include "isomer.h"
#include "space.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static Space *load(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "configs/spaces/%s.cfg", name);
    Error err = {0};
    Space *space = space_load_file(path, &err);
    if (!space) {
        fprintf(stderr, "%s\n", err.message);
        exit(1);
    }
    return space;
}

static int64_t binomial(int n, int k) {
    int64_t r = 1;
    for (int i = 1; i <= k; i++) r = r * (n - k + i) / i;
    return r;
}

static void two_choices(void) {
    CountVector *v;
    size_t n = count_vectors(12, 2, false, &v);
    CHECK_EQ_I64(n, 13);
    for (size_t i = 0; i < n; i++) { /* (a, D - a) for a = 0..D, in that order */
        CHECK_EQ_I64(v[i].counts[0], (int64_t)i);
        CHECK_EQ_I64(v[i].counts[1], 12 - (int64_t)i);
    }
    free(v);
}

static void three_choices_quirk(void) {
    for (int depth = 1; depth <= 16; depth++) {
        CountVector *v;
        size_t n = count_vectors(depth, 3, false, &v);
        CHECK_EQ_I64(n, binomial(depth + 1, 2));
        bool middle_always_used = true, sums_ok = true, ordered = true;
        for (size_t i = 0; i < n; i++) {
            middle_always_used &= v[i].counts[1] >= 1;
            sums_ok &= v[i].counts[0] + v[i].counts[1] + v[i].counts[2] == depth;
            /* lexicographic in (b1, b2) = (n0, n0 + n1) */
            if (i > 0) {
                int b1 = v[i].counts[0], b2 = b1 + v[i].counts[1];
                int p1 = v[i - 1].counts[0], p2 = p1 + v[i - 1].counts[1];
                ordered &= b1 > p1 || (b1 == p1 && b2 > p2);
            }
        }
        CHECK(middle_always_used);
        CHECK(sums_ok);
        CHECK(ordered);
        free(v);
    }
    CountVector *v;
    size_t n = count_vectors(2, 3, false, &v); /* b1 < b2 in {0,1,2}: (0,1) (0,2) (1,2) */
    CHECK_EQ_I64(n, 3);
    CHECK(v[0].counts[0] == 0 && v[0].counts[1] == 1 && v[0].counts[2] == 1);
    CHECK(v[1].counts[0] == 0 && v[1].counts[1] == 2 && v[1].counts[2] == 0);
    CHECK(v[2].counts[0] == 1 && v[2].counts[1] == 1 && v[2].counts[2] == 0);
    free(v);
}

static void all_compositions(void) {
    for (int depth = 1; depth <= 16; depth++) {
        for (int k = 1; k <= 4; k++) {
            CountVector *v;
            size_t n = count_vectors(depth, k, true, &v);
            CHECK_EQ_I64(n, binomial(depth + k - 1, k - 1));
            free(v);
        }
    }
}

static void space_sizes(void) {
    static const struct {
        const char *space;
        int64_t total;
        int n_intervals;
        int64_t per_interval[8];
    } expected[] = {
        {"vit-tiny", 1770, 7, {133, 471, 416, 424, 281, 45, 0}},
        {"vit-small", 57918, 4, {15146, 14192, 13198, 15108}},
        {"vit-base", 17421, 3, {1, 6129, 8506}},
    };
    for (int s = 0; s < 3; s++) {
        Space *space = load(expected[s].space);
        IsomerGroups groups;
        Error err = {0};
        CHECK(isomer_groups(space, false, &groups, &err));
        CHECK_EQ_I64(groups.count, expected[s].total);
        const IntervalSpec *spec = &space->param_intervals;
        Intervals in = intervals_make(spec->min, spec->max, spec->width);
        CHECK_EQ_I64(in.count, expected[s].n_intervals);
        int64_t counts[8] = {0};
        for (size_t i = 0; i < groups.count; i++) {
            int k = interval_of(&in, groups.items[i].cost.params);
            if (k >= 0) counts[k]++;
        }
        for (int k = 0; k < in.count; k++) CHECK_EQ_I64(counts[k], expected[s].per_interval[k]);
        isomer_groups_free(&groups);
        space_free(space);
    }
}

/* A group's cost from its counts equals the cost of any member built layer by layer; the
 * Base [30, 42) interval holds exactly the 41.966944 M group (13 layers at 3.0, one at 3.5). */
static void groups_cost_like_members(void) {
    Space *space = load("vit-base");
    IsomerGroups groups;
    Error err = {0};
    CHECK(isomer_groups(space, false, &groups, &err));
    bool all_equal = true;
    for (size_t i = 0; i < groups.count; i += 97) {
        const IsomerGroup *g = &groups.items[i];
        Arch a = {.embed_dim = g->embed_dim, .depth = g->depth};
        int layer = 0;
        for (int k = 0; k < g->heads.n_choices; k++)
            for (int j = 0; j < g->heads.counts[k]; j++)
                a.num_heads[layer++] = space->choices.num_heads.values[k];
        layer = 0;
        for (int k = g->ratios.n_choices - 1; k >= 0; k--) /* any order: isomers */
            for (int j = 0; j < g->ratios.counts[k]; j++)
                a.mlp_ratio[layer++] = space->choices.mlp_ratio.values[k];
        all_equal &= arch_cost(&a, space).params == g->cost.params &&
                     arch_cost(&a, space).flops_ref == g->cost.flops_ref;
    }
    CHECK(all_equal);
    int in_first = 0;
    for (size_t i = 0; i < groups.count; i++) {
        if (groups.items[i].cost.params >= 30000000 && groups.items[i].cost.params < 42000000) {
            in_first++;
            CHECK_EQ_I64(groups.items[i].cost.params, 41966944);
            CHECK_EQ_I64(groups.items[i].ratios.counts[0], 13);
            CHECK_EQ_I64(groups.items[i].ratios.counts[1], 1);
        }
    }
    CHECK_EQ_I64(in_first, 1);
    isomer_groups_free(&groups);
    /* With every count vector the all-3.0 minimum (41.687896 M) appears too. */
    CHECK(isomer_groups(space, true, &groups, &err));
    bool has_minimum = false;
    for (size_t i = 0; i < groups.count; i++)
        has_minimum |= groups.items[i].cost.params == 41687896;
    CHECK(has_minimum);
    isomer_groups_free(&groups);
    space_free(space);
}

static void refined_space_refused(void) {
    Error err = {0};
    Space *space = space_load_text(
        "name = \"r\"; image_size = 28; patch_size = 4; in_channels = 1; num_classes = 10;\n"
        "head_dim = 16; max_relative_position = 7;\n"
        "supernet = { embed_dim = 64; depth = 2; num_heads = 4; mlp_ratio = 4.0; };\n"
        "widths = ( { embed_dim = 64; depth = [2]; num_heads = ([4], [3, 4]);\n"
        "             mlp_ratio = ([4.0], [3.0]); } );\n"
        "data_free = { mean = [0.5]; std = [0.25]; };\n"
        "intervals = { params = { min = 0.0; max = 1.0; width = 0.5; }; };\n",
        "refined.cfg", &err);
    CHECK(space != NULL);
    IsomerGroups groups;
    CHECK(!isomer_groups(space, false, &groups, &err));
    CHECK_STR_CONTAINS(err.message, "'choices' form");
    space_free(space);
}

/* ---- The members of one architecture's isomer group (method.md §11.1) ---- */

/* Lexicographic over the per-layer lists, heads first: the listing's order. */
static int compare_members(const Arch *a, const Arch *b) {
    for (int l = 0; l < a->depth; l++)
        if (a->num_heads[l] != b->num_heads[l]) return a->num_heads[l] < b->num_heads[l] ? -1 : 1;
    for (int l = 0; l < a->depth; l++)
        if (a->mlp_ratio[l] != b->mlp_ratio[l]) return a->mlp_ratio[l] < b->mlp_ratio[l] ? -1 : 1;
    return 0;
}

static void sort_layers(int *values, int n) {
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && values[j] < values[j - 1]; j--) {
            int t = values[j];
            values[j] = values[j - 1], values[j - 1] = t;
        }
}

/* Whether b is an isomer of a that keeps what `vary` leaves fixed. */
static bool isomer_of(const Arch *a, const Arch *b, IsomerVary vary) {
    if (a->embed_dim != b->embed_dim || a->depth != b->depth) return false;
    Arch x = *a, y = *b;
    if (vary & ISOMER_VARY_HEADS) {
        sort_layers(x.num_heads, x.depth);
        sort_layers(y.num_heads, y.depth);
    }
    if (vary & ISOMER_VARY_RATIOS) {
        sort_layers(x.mlp_ratio, x.depth);
        sort_layers(y.mlp_ratio, y.depth);
    }
    return arch_equal(&x, &y);
}

/* Every member is a distinct isomer of the listing's architecture in the space, in ascending
 * order; returns how often the architecture itself appears. */
static int check_members(const Space *space, const IsomerListing *listing) {
    bool ordered = true, isomers = true, in_space = true;
    int own = 0;
    Arch previous, member;
    for (uint64_t i = 0; i < listing->count; i++) {
        isomer_listing_member(listing, i, &member);
        if (i > 0) ordered &= compare_members(&previous, &member) < 0;
        isomers &= isomer_of(&listing->arch, &member, listing->vary);
        Error err = {0};
        in_space &= arch_check(&member, space, &err);
        own += arch_equal(&member, &listing->arch);
        previous = member;
    }
    CHECK(ordered);
    CHECK(isomers);
    CHECK(in_space);
    return own;
}

/* Layers [0, D - k) at `low`, the last k at `high`. */
static void split_layers(int *values, int depth, int k, int low, int high) {
    for (int l = 0; l < depth; l++) values[l] = l < depth - k ? low : high;
}

/* The paper's two cases on the Tiny space (E 192, D 12): k layers of 12 at ratio 4 (heads 4
 * everywhere), or at 4 heads (ratio 4 everywhere); groups of C(12, k). */
static void paper_cases(void) {
    Space *space = load("vit-tiny");
    static const int64_t sizes[] = {12, 66, 220, 495, 792, 924, 792, 495, 220, 66, 12};
    for (int k = 1; k <= 11; k++) {
        CHECK_EQ_I64(binomial(12, k), sizes[k - 1]);
        for (int c = 0; c < 2; c++) {
            Arch arch = {.embed_dim = 192, .depth = 12};
            IsomerVary vary = c == 0 ? ISOMER_VARY_RATIOS : ISOMER_VARY_HEADS;
            if (vary == ISOMER_VARY_RATIOS) {
                split_layers(arch.num_heads, 12, 0, 4, 4);
                split_layers(arch.mlp_ratio, 12, k, 3500, 4000);
            } else {
                split_layers(arch.num_heads, 12, k, 3, 4);
                split_layers(arch.mlp_ratio, 12, 0, 4000, 4000);
            }
            IsomerListing listing;
            Error err = {0};
            CHECK(isomer_listing(space, &arch, vary, 0, 0, &listing, &err));
            CHECK_EQ_I64(listing.size, sizes[k - 1]);
            CHECK_EQ_I64(listing.in_space, sizes[k - 1]);
            CHECK_EQ_I64(listing.count, sizes[k - 1]);
            CHECK(!listing.sampled);
            CHECK_EQ_I64(check_members(space, &listing), 1);
            isomer_listing_free(&listing);
        }
    }
    space_free(space);
}

/* Heads and ratios both permuted: the product of the two multinomials; each alone, its own. */
static void mixed_group(void) {
    Space *space = load("vit-tiny");
    Arch arch;
    Error err = {0};
    CHECK(arch_parse("192:12:4,3,4,4,3,4,3,4,3,4,3,4:4,3.5,3.5,3.5,4,3.5,3.5,4,3.5,3.5,3.5,3.5",
                     &arch, &err));
    static const struct {
        IsomerVary vary;
        int64_t size;
    } cases[] = {
        {ISOMER_VARY_BOTH, 792 * 220}, {ISOMER_VARY_HEADS, 792}, {ISOMER_VARY_RATIOS, 220}};
    for (int c = 0; c < 3; c++) {
        IsomerListing listing;
        CHECK(isomer_listing(space, &arch, cases[c].vary, 0, 0, &listing, &err));
        CHECK_EQ_I64(listing.size, cases[c].size);
        CHECK_EQ_I64(listing.count, cases[c].size);
        CHECK_EQ_I64(listing.heads.n_values, 2);
        CHECK_EQ_I64(listing.heads.counts[0], 5);  /* 3 heads on 5 layers */
        CHECK_EQ_I64(listing.ratios.counts[1], 3); /* ratio 4 on 3 layers */
        CHECK_EQ_I64(check_members(space, &listing), 1);
        isomer_listing_free(&listing);
    }
    space_free(space);
}

static bool same_members(const IsomerListing *a, const IsomerListing *b) {
    if (a->count != b->count) return false;
    for (uint64_t i = 0; i < a->count; i++) {
        Arch x, y;
        isomer_listing_member(a, i, &x);
        isomer_listing_member(b, i, &y);
        if (!arch_equal(&x, &y)) return false;
    }
    return true;
}

/* --limit: reproducible by seed, ARCH always included, sorted, distinct, uniform. */
static void sampling(void) {
    Space *space = load("vit-tiny");
    Arch arch;
    Error err = {0};
    CHECK(arch_parse("192:12:4,3,4,4,3,4,3,4,3,4,3,4:4,3.5,3.5,3.5,4,3.5,3.5,4,3.5,3.5,3.5,3.5",
                     &arch, &err));
    IsomerListing a, b, c;
    CHECK(isomer_listing(space, &arch, ISOMER_VARY_BOTH, 100, 7, &a, &err));
    CHECK(isomer_listing(space, &arch, ISOMER_VARY_BOTH, 100, 7, &b, &err));
    CHECK(isomer_listing(space, &arch, ISOMER_VARY_BOTH, 100, 8, &c, &err));
    CHECK(a.sampled);
    CHECK_EQ_I64(a.count, 100);
    CHECK_EQ_I64(a.in_space, 792 * 220);
    CHECK_EQ_I64(check_members(space, &a), 1);
    CHECK(same_members(&a, &b));
    CHECK(!same_members(&a, &c));
    isomer_listing_free(&a);
    isomer_listing_free(&b);
    isomer_listing_free(&c);

    /* A limit at least the group's size lists it all. */
    CHECK(isomer_listing(space, &arch, ISOMER_VARY_HEADS, 792, 7, &a, &err));
    CHECK(!a.sampled);
    CHECK_EQ_I64(a.count, 792);
    isomer_listing_free(&a);

    /* Group of 12 (one layer at ratio 4): with limit n, each of the 11 others is drawn with
     * probability (n - 1) / 11; over 11 000 seeds, 1000 (n - 1) times each, give or take
     * 32 (n - 1)^(1/2) or so. */
    Arch one;
    CHECK(arch_parse("192:12:4,4,4,4,4,4,4,4,4,4,4,4:3.5,3.5,3.5,3.5,3.5,3.5,3.5,3.5,3.5,3.5,3.5,4",
                     &one, &err));
    for (int n = 2; n <= 11; n += 3) {
        int64_t drawn[12] = {0};
        bool always_own = true;
        for (uint64_t seed = 0; seed < 11000; seed++) {
            CHECK(isomer_listing(space, &one, ISOMER_VARY_RATIOS, (uint64_t)n, seed, &a, &err));
            always_own &= check_members(space, &a) == 1 && a.count == (uint64_t)n;
            for (uint64_t i = 0; i < a.count; i++) {
                Arch m;
                isomer_listing_member(&a, i, &m);
                int layer = 0; /* the member is named by its layer at ratio 4 */
                while (m.mlp_ratio[layer] != 4000) layer++;
                drawn[layer]++;
            }
            isomer_listing_free(&a);
        }
        CHECK(always_own);
        CHECK_EQ_I64(drawn[11], 11000);
        for (int layer = 0; layer < 11; layer++)
            CHECK_NEAR((double)drawn[layer], 1000.0 * (n - 1), 6 * 32 * sqrt(n - 1.0));
    }
    space_free(space);
}

/* A refined space forbids some values on some layers: the listing is exactly the permutations
 * arch_check accepts, found here by brute force over every per-layer assignment. */
static const char REFINED[] =
    "name = \"r\"; image_size = 28; patch_size = 4; in_channels = 1; num_classes = 10;\n"
    "head_dim = 16; max_relative_position = 7;\n"
    "supernet = { embed_dim = 64; depth = 6; num_heads = 4; mlp_ratio = 4.0; };\n"
    "widths = ( { embed_dim = 64; depth = [6];\n"
    "  num_heads = ([2, 4], [2], [2, 4], [4], [2, 4], [2, 4]);\n"
    "  mlp_ratio = ([2.0, 3.0], [3.0], [2.0, 3.0, 4.0], [2.0], [3.0, 4.0], [2.0, 3.0]); } );\n"
    "data_free = { mean = [0.5]; std = [0.25]; };\n"
    "intervals = { params = { min = 0.0; max = 1.0; width = 0.5; }; };\n";

/* The next assignment of `values` (ascending) to `depth` layers, layer 0 most significant. */
static bool next_assignment(int *indices, int depth, int n_values) {
    for (int l = depth - 1; l >= 0; l--) {
        if (++indices[l] < n_values) return true;
        indices[l] = 0;
    }
    return false;
}

static void refined_space(void) {
    Error err = {0};
    Space *space = space_load_text(REFINED, "refined.cfg", &err);
    CHECK(space != NULL);
    Arch arch;
    CHECK(arch_parse("64:6:2,2,4,4,2,4:2,3,4,2,3,3", &arch, &err));
    static const int heads[] = {2, 4}, ratios[] = {2000, 3000, 4000};
    for (int vary = ISOMER_VARY_HEADS; vary <= ISOMER_VARY_BOTH; vary++) {
        Arch *expected = xmalloc(64 * 729 * sizeof *expected);
        int64_t n_expected = 0, group = 0;
        int h[6] = {0};
        do {
            int r[6] = {0};
            do {
                Arch a = arch;
                for (int l = 0; l < 6; l++) {
                    a.num_heads[l] = heads[h[l]];
                    a.mlp_ratio[l] = ratios[r[l]];
                }
                if (!isomer_of(&arch, &a, (IsomerVary)vary)) continue;
                group++;
                if (arch_check(&a, space, &err)) expected[n_expected++] = a;
            } while (next_assignment(r, 6, 3));
        } while (next_assignment(h, 6, 2));
        static const int64_t sizes[] = {0, 20, 60, 20 * 60};
        CHECK_EQ_I64(group, sizes[vary]);
        IsomerListing listing;
        CHECK(isomer_listing(space, &arch, (IsomerVary)vary, 0, 0, &listing, &err));
        CHECK_EQ_I64(listing.size, group);
        CHECK_EQ_I64(listing.in_space, n_expected);
        CHECK(listing.in_space < listing.size);
        bool equal = listing.count == (uint64_t)n_expected;
        for (int64_t i = 0; equal && i < n_expected; i++) {
            Arch m;
            isomer_listing_member(&listing, (uint64_t)i, &m);
            equal = arch_equal(&m, &expected[i]);
        }
        CHECK(equal);
        isomer_listing_free(&listing);
        CHECK(isomer_listing(space, &arch, (IsomerVary)vary, 3, 1, &listing, &err));
        CHECK_EQ_I64(listing.count, 3);
        CHECK_EQ_I64(check_members(space, &listing), 1);
        isomer_listing_free(&listing);
        free(expected);
    }
    space_free(space);
}

/* A space of `depth` layers with one `widths` group of embed dim 4 x max_heads (the supernet's
 * q/k/v rows are its heads), each layer's lists given. */
static Space *deep_space(int depth, int max_heads, const char *const *heads,
                         const char *const *ratios) {
    size_t size = 4096 + (size_t)depth * 64;
    char *text = xmalloc(size);
    int n =
        snprintf(text, size,
                 "name = \"deep\"; image_size = 8; patch_size = 4; in_channels = 1;\n"
                 "num_classes = 2; head_dim = 4; max_relative_position = 2;\n"
                 "supernet = { embed_dim = %d; depth = %d; num_heads = %d; mlp_ratio = 3.0; };\n"
                 "widths = ( { embed_dim = %d; depth = [%d]; num_heads = (",
                 4 * max_heads, depth, max_heads, 4 * max_heads, depth);
    for (int l = 0; l < depth; l++)
        n += snprintf(text + n, size - (size_t)n, "%s[%s]", l ? ", " : "", heads[l]);
    n += snprintf(text + n, size - (size_t)n, "); mlp_ratio = (");
    for (int l = 0; l < depth; l++)
        n += snprintf(text + n, size - (size_t)n, "%s[%s]", l ? ", " : "", ratios[l]);
    snprintf(text + n, size - (size_t)n,
             "); } );\ndata_free = { mean = [0.5]; std = [0.25]; };\n"
             "intervals = { params = { min = 0.0; max = 1.0; width = 0.5; }; };\n");
    Error err = {0};
    Space *space = space_load_text(text, "deep.cfg", &err);
    if (!space) fprintf(stderr, "%s\n", err.message);
    free(text);
    return space;
}

/* 64 layers at three head counts (21, 21, 22 layers): 64! / (21! 21! 22!) > 2^64 members. Too
 * many to list; a sample works, by rejection, unless the space allows too few of them. */
static void too_many_to_count(void) {
    const char *any_heads[64], *one_head[64], *ratio[64];
    static const char *const single[] = {"1", "2", "3"};
    Arch arch = {.embed_dim = 12, .depth = 64};
    for (int l = 0; l < 64; l++) {
        int v = l < 21 ? 0 : l < 42 ? 1 : 2;
        any_heads[l] = "1, 2, 3";
        one_head[l] = single[v];
        ratio[l] = "3.0";
        arch.num_heads[l] = v + 1;
        arch.mlp_ratio[l] = 3000;
    }
    Space *space = deep_space(64, 3, any_heads, ratio);
    CHECK(space != NULL);
    IsomerListing listing;
    Error err = {0};
    CHECK(!isomer_listing(space, &arch, ISOMER_VARY_BOTH, 0, 0, &listing, &err));
    CHECK_STR_CONTAINS(err.message, "18446744073709551615 or more members, too many to count");
    CHECK(isomer_listing(space, &arch, ISOMER_VARY_BOTH, 50, 3, &listing, &err));
    CHECK_EQ_I64(listing.size, ISOMER_TOO_MANY);
    CHECK_EQ_I64(listing.count, 50);
    CHECK(listing.sampled);
    CHECK_EQ_I64(check_members(space, &listing), 1);
    IsomerListing again;
    CHECK(isomer_listing(space, &arch, ISOMER_VARY_BOTH, 50, 3, &again, &err));
    CHECK(same_members(&listing, &again));
    isomer_listing_free(&listing);
    isomer_listing_free(&again);
    space_free(space);

    /* Each layer allows only its own head count: the architecture is the group's only member
     * in the space. */
    space = deep_space(64, 3, one_head, ratio);
    CHECK(space != NULL);
    CHECK(isomer_listing(space, &arch, ISOMER_VARY_HEADS, 1, 3, &listing, &err));
    CHECK_EQ_I64(listing.count, 1);
    isomer_listing_free(&listing);
    err = (Error){0};
    CHECK(!isomer_listing(space, &arch, ISOMER_VARY_HEADS, 2, 3, &listing, &err));
    CHECK_STR_CONTAINS(err.message, "only 1 distinct members of the space");
    space_free(space);
}

static void bad_architectures(void) {
    Space *space = load("vit-tiny");
    Arch arch;
    IsomerListing listing;
    Error err = {0};
    CHECK(arch_parse("192:12:4,4,4,4,4,4,4,4,4,4,4,4:4,4,4,4,4,4,4,4,4,4,4,3", &arch, &err));
    CHECK(!isomer_listing(space, &arch, ISOMER_VARY_BOTH, 0, 0, &listing, &err));
    CHECK_STR_CONTAINS(err.message, "layer 11 has MLP ratio 3, not a choice (3.5, 4)");
    space_free(space);

    /* A refined space may use more values over its layers than a list may hold. */
    const char *heads[17], *ratio[17];
    char values[17][8];
    arch = (Arch){.embed_dim = 68, .depth = 17};
    for (int l = 0; l < 17; l++) {
        snprintf(values[l], sizeof values[l], "%d", l + 1);
        heads[l] = values[l];
        ratio[l] = "3.0";
        arch.num_heads[l] = l + 1;
        arch.mlp_ratio[l] = 3000;
    }
    space = deep_space(17, 17, heads, ratio);
    CHECK(space != NULL);
    err = (Error){0};
    CHECK(!isomer_listing(space, &arch, ISOMER_VARY_RATIOS, 0, 0, &listing, &err));
    CHECK_STR_CONTAINS(err.message, "more than 16 distinct head counts");
    space_free(space);
}

int main(void) {
    two_choices();
    three_choices_quirk();
    all_compositions();
    space_sizes();
    groups_cost_like_members();
    refined_space_refused();
    paper_cases();
    mixed_group();
    sampling();
    refined_space();
    too_many_to_count();
    bad_architectures();
    return check_summary();
}
