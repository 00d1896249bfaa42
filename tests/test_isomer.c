/* Count vectors and isomer-group enumeration against method.md §8.2. */
#include "check.h"

#include "arch.h"
#include "cost.h"
#include "interval.h"
#include "isomer.h"
#include "space.h"

#include <stdio.h>
#include <stdlib.h>

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

/* Groups of tests/spaces/ratio.cfg cost what the reference counts with hidden widths
 * int(E * r) (values from /usr/bin/python3): the one-layer group at each ratio. */
static void inexact_ratios(void) {
    static const int64_t expected[4] = {539679, 658005, 894657, 909087}; /* 1.025 .. 4.225 */
    Error err = {0};
    Space *space = space_load_file("tests/spaces/ratio.cfg", &err);
    if (!CHECK(space != NULL)) return;
    IsomerGroups groups;
    CHECK(isomer_groups(space, true, &groups, &err));
    int seen = 0;
    for (size_t i = 0; i < groups.count; i++) {
        const IsomerGroup *g = &groups.items[i];
        if (g->depth != 1) continue;
        for (int k = 0; k < 4; k++)
            if (g->ratios.counts[k] == 1) CHECK_EQ_I64(g->cost.params, expected[k]);
        seen++;
    }
    CHECK_EQ_I64(seen, 4);
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

int main(void) {
    two_choices();
    three_choices_quirk();
    all_compositions();
    space_sizes();
    groups_cost_like_members();
    inexact_ratios();
    refined_space_refused();
    return check_summary();
}
