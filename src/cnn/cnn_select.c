/* Top architectures per FLOPs group by sampling (cnn_select.h). */
#include "cnn_select.h"

#include "clock.h"
#include "error.h"
#include "rng.h"

#include <stdlib.h>
#include <string.h>

/* ---- the group's box ---- */

enum { MAX_LISTS = 3 + 4 * CNN_MAX_STAGES };

/* Every list of a space and the field of an architecture each fills, in cnn_arch_sample's
 * order: lists[i] of `space` (when not NULL) and fields[i] of `arch` (when not NULL). */
static int lists_and_fields(CnnSpace *space, CnnArch *arch, CnnChoices **lists, int **fields) {
    int n = 0;
#define PAIR(list, field)                                                                          \
    (lists ? (void)(lists[n] = &space->list) : (void)0,                                            \
     fields ? (void)(fields[n] = &arch->field) : (void)0, n++)
    const int stages = space ? space->n_stages : arch->n_stages;
    PAIR(resolution, resolution);
    PAIR(stem.channels, stem_channels);
    for (int s = 0; s < stages; s++) {
        PAIR(stages[s].depth, stages[s].depth);
        PAIR(stages[s].channels, stages[s].channels);
        PAIR(stages[s].kernel, stages[s].kernel);
        PAIR(stages[s].expand_ratio, stages[s].expand_ratio);
    }
    PAIR(head_channels, head_channels);
#undef PAIR
    return n;
}

bool cnn_group_box(const CnnSpace *space, int64_t lo, int64_t hi, CnnSpace *box) {
    CnnSpace *out = xmalloc(sizeof *out);
    *out = *space;
    CnnChoices *lists[MAX_LISTS];
    const int n = lists_and_fields(out, NULL, lists, NULL);
    CnnArch small, large;
    cnn_arch_smallest(space, &small);
    cnn_arch_largest(space, &large);
    int *small_fields[MAX_LISTS], *large_fields[MAX_LISTS];
    lists_and_fields(NULL, &small, NULL, small_fields);
    lists_and_fields(NULL, &large, NULL, large_fields);
    bool empty = false;
    for (int i = 0; i < n && !empty; i++) {
        const CnnChoices all = *lists[i];
        const int keep_small = *small_fields[i], keep_large = *large_fields[i];
        lists[i]->count = 0;
        for (int j = 0; j < all.count; j++) {
            *small_fields[i] = *large_fields[i] = all.values[j];
            if (cnn_arch_cost(&small, space).flops <= hi &&
                cnn_arch_cost(&large, space).flops >= lo)
                lists[i]->values[lists[i]->count++] = all.values[j];
        }
        *small_fields[i] = keep_small; /* the other lists' bounds use the whole space's extremes */
        *large_fields[i] = keep_large;
        empty = lists[i]->count == 0;
    }
    if (!empty) *box = *out;
    free(out);
    return !empty;
}

/* ---- keeping the best ---- */

static bool better(const CnnCandidate *a, const CnnCandidate *b) {
    return a->score > b->score || (a->score == b->score && a->draw < b->draw);
}

/* Inserts c in the group's best-first list of at most `top`, unless it is already there. */
static void keep(CnnGroupSelection *g, int top, const CnnCandidate *c) {
    if (g->kept == top && !better(c, &g->best[top - 1])) return;
    for (int i = 0; i < g->kept; i++)
        if (cnn_arch_equal(&g->best[i].arch, &c->arch)) return;
    int i = g->kept < top ? g->kept++ : top - 1;
    for (; i > 0 && better(c, &g->best[i - 1]); i--) g->best[i] = g->best[i - 1];
    g->best[i] = *c;
}

static void consider(CnnGroupSelection *g, const CnnSelectOptions *o, const CnnArch *arch,
                     const CnnCost *cost, int64_t draw, CnnScoreFn score, const void *ctx) {
    const CnnCandidate c = {*arch, *cost, score(arch, ctx), draw};
    keep(g, o->top, &c);
}

CnnSelection cnn_select(const CnnSpace *space, const CnnSelectOptions *o, CnnScoreFn score,
                        const void *ctx) {
    const CnnGroups *groups = &space->groups;
    if (groups->count < 1 || o->top < 1 || o->samples < 0)
        fatal_at(__FILE__, __LINE__, "cnn_select: %d groups, top %d, %lld samples", groups->count,
                 o->top, (long long)o->samples);
    CnnSelection sel = {.n_groups = groups->count, .samples = o->samples};
    for (int g = 0; g < groups->count; g++) {
        sel.groups[g].lo = groups->lo[g];
        sel.groups[g].hi = groups->hi[g];
        sel.groups[g].best = xcalloc((size_t)o->top, sizeof *sel.groups[g].best);
    }
    double start = monotonic_seconds();
    Rng rng = rng_stream(o->seed, RNG_STREAM_CNN_SELECT);
    for (int64_t i = 0; i < o->samples; i++) {
        CnnArch arch;
        cnn_arch_sample(space, &rng, &arch);
        const CnnCost cost = cnn_arch_cost(&arch, space);
        const int g = cnn_group_of(groups, cost.flops);
        if (g < 0) {
            sel.outside++;
            continue;
        }
        sel.groups[g].uniform++;
        consider(&sel.groups[g], o, &arch, &cost, i, score, ctx);
    }
    sel.seconds_uniform = monotonic_seconds() - start;

    start = monotonic_seconds();
    CnnSpace *box = xmalloc(sizeof *box);
    for (int g = 0; g < groups->count; g++) {
        CnnGroupSelection *gs = &sel.groups[g];
        if (gs->uniform >= o->group_min || !cnn_group_box(space, gs->lo, gs->hi, box)) continue;
        gs->box_size = cnn_space_count(box);
        Rng fill = rng_stream_at(o->seed, RNG_STREAM_CNN_FILL, (uint64_t)g);
        while (gs->uniform + gs->fill_members < o->group_min && gs->fill_draws < o->group_cap) {
            CnnArch arch;
            cnn_arch_sample(box, &fill, &arch);
            const CnnCost cost = cnn_arch_cost(&arch, space);
            const int64_t draw = o->samples + gs->fill_draws++;
            if (cost.flops < gs->lo || cost.flops > gs->hi) continue;
            gs->fill_members++;
            consider(gs, o, &arch, &cost, draw, score, ctx);
        }
    }
    free(box);
    sel.seconds_fill = monotonic_seconds() - start;
    return sel;
}

void cnn_selection_free(CnnSelection *sel) {
    for (int g = 0; g < sel->n_groups; g++) free(sel->groups[g].best);
    memset(sel, 0, sizeof *sel);
}

void cnn_selection_print(FILE *out, const CnnSelection *sel, const CnnSpace *space) {
    for (int g = 0; g < sel->n_groups; g++) {
        const CnnGroupSelection *gs = &sel->groups[g];
        fprintf(out, "group %g MFLOPs, [%.1f, %.1f] M: %lld of %lld uniform draws (%.4f %%)",
                space->groups.target[g], gs->lo / 1e6, gs->hi / 1e6, (long long)gs->uniform,
                (long long)sel->samples,
                sel->samples ? 100.0 * (double)gs->uniform / (double)sel->samples : 0.0);
        if (gs->fill_draws)
            fprintf(out, "; filled with %lld of %lld draws from its box of %.4g architectures",
                    (long long)gs->fill_members, (long long)gs->fill_draws, gs->box_size);
        fprintf(out, "\n  rank %-78s %8s %7s  %s\n", "architecture", "MFLOPs", "Mparams", "SNIP");
        for (int i = 0; i < gs->kept; i++) {
            const CnnCandidate *c = &gs->best[i];
            char text[CNN_ARCH_TEXT_MAX];
            cnn_arch_format(&c->arch, text, sizeof text);
            fprintf(out, "  %4d %-78s %8.1f %7.3f  %.6e\n", i + 1, text, c->cost.flops / 1e6,
                    c->cost.params / 1e6, c->score);
        }
        if (gs->kept == 0) fprintf(out, "  (none: no draw fell in the band)\n");
    }
}
