/* Score tables and preferred selection against brute force: a small space whose supernet has
 * known weights and gradients; every architecture's SNIP score (method.md §6.4) and
 * layer-normalised isomer value (§6.3) are summed directly over its slices, the best isomer
 * of each group and the best group of each interval are found by trying them all, and the
 * selection must agree. Its widths and MLP ratios are inexact in binary (25 x 1.16 = 28.999...
 * gives 28 fc1 rows, 50 x 2.32 gives 115), so the tables cut the matrices where the engine
 * does. */
#include "check.h"

#include "arch.h"
#include "cost.h"
#include "interval.h"
#include "isomer.h"
#include "preferred.h"
#include "rng.h"
#include "scores.h"
#include "space.h"
#include "vit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SPACE_TEXT[] =
    "name = \"select-test\"; image_size = 8; patch_size = 4; in_channels = 1; num_classes = 4;\n"
    "head_dim = 25; max_relative_position = 1;\n"
    "supernet = { embed_dim = 50; depth = 3; num_heads = 2; mlp_ratio = 2.32; };\n"
    "choices = { embed_dim = [25, 50]; depth = [2, 3]; num_heads = [1, 2]; mlp_ratio = [1.16, "
    "2.32]; };\n"
    "data_free = { mean = [0.5]; std = [0.25]; };\n"
    "intervals = { params = { min = 0.008; max = 0.072; width = 0.008; }; };\n";

/* sum |w g| over the leading [rows, cols] block of a matrix with row length ld */
static double block(const real *w, const real *g, int rows, int cols, int ld) {
    double s = 0;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) s += fabs((double)w[r * ld + c] * g[r * ld + c]);
    return s;
}

static double l1(const real *x, int rows, int cols, int ld) {
    double s = 0;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) s += fabs((double)x[r * ld + c]);
    return s;
}

/* method.md §6.4, written out */
static double direct_snip(const Vit *v, const Arch *a) {
    const VitTensors *p = &v->p, *g = &v->g;
    const int E = a->embed_dim, Es = v->embed, Ms = v->hidden, C = v->classes;
    const int patch_in = v->channels * v->patch_size * v->patch_size;
    double s = block(p->patch.weight, g->patch.weight, E, patch_in, patch_in) +
               block(p->patch.bias, g->patch.bias, 1, E, E) +
               block(p->norm_weight, g->norm_weight, 1, E, E) +
               block(p->norm_bias, g->norm_bias, 1, E, E) +
               block(p->head.weight, g->head.weight, C, E, Es) +
               block(p->head.bias, g->head.bias, 1, E < C ? E : C, C);
    for (int l = 0; l < a->depth; l++) {
        const VitBlock *w = &p->blocks[l], *d = &g->blocks[l];
        const int q = v->head_dim * a->num_heads[l], M = arch_hidden_dim(a, l);
        s += block(w->qkv.weight, d->qkv.weight, 3 * q, E, Es) +
             block(w->qkv.bias, d->qkv.bias, 1, 3 * q, 3 * Es) +
             block(w->proj.weight, d->proj.weight, E, q, Es) +
             block(w->proj.bias, d->proj.bias, 1, E, Es) +
             block(w->attn_norm_weight, d->attn_norm_weight, 1, E, Es) +
             block(w->attn_norm_bias, d->attn_norm_bias, 1, E, Es) +
             block(w->ffn_norm_weight, d->ffn_norm_weight, 1, E, Es) +
             block(w->ffn_norm_bias, d->ffn_norm_bias, 1, E, Es) +
             block(w->fc1.weight, d->fc1.weight, M, E, Es) +
             block(w->fc1.bias, d->fc1.bias, 1, M, Ms) +
             block(w->fc2.weight, d->fc2.weight, E, M, Ms) +
             block(w->fc2.bias, d->fc2.bias, 1, E, Es);
    }
    return s;
}

/* method.md §6.3 at the largest width (50, the whole supernet here) */
static double direct_isomer(const Vit *v, const Arch *a) {
    const int Emax = 50, Es = v->embed, Ms = v->hidden;
    double s = 0;
    for (int l = 0; l < a->depth; l++) {
        const VitBlock *w = &v->p.blocks[l], *d = &v->g.blocks[l];
        const int q = v->head_dim * a->num_heads[l], m = mlp_hidden_width(Emax, a->mlp_ratio[l]);
        s += block(w->qkv.weight, d->qkv.weight, 3 * q, Emax, Es) /
                 (l1(w->qkv.weight, 3 * Es, Emax, Es) * l1(d->qkv.weight, 3 * Es, Emax, Es)) +
             block(w->fc1.weight, d->fc1.weight, m, Emax, Es) /
                 (l1(w->fc1.weight, Ms, Emax, Es) * l1(d->fc1.weight, Ms, Emax, Es)) +
             block(w->fc2.weight, d->fc2.weight, Emax, m, Ms) /
                 (l1(w->fc2.weight, Emax, Ms, Ms) * l1(d->fc2.weight, Emax, Ms, Ms));
    }
    return s;
}

typedef struct {
    Arch arch;
    double snip, isomer;
    int64_t params;
    int group_key;
} Brute;

int main(void) {
    Error err = {0};
    Space *space = space_load_text(SPACE_TEXT, "select-test", &err);
    if (!space) return 1;
    Vit *vit = vit_create(backend_cpu(), space, 1);
    Rng rng = rng_stream(12, 12);
    for (size_t i = 0; i < vit->table.n_params; i++) {
        vit->table.params[i] = (real)rng_normal(&rng);
        vit->table.grads[i] = (real)rng_normal(&rng);
    }
    ScoreTables tables;
    score_tables_compute(&tables, vit, space);

    /* every architecture of the space */
    Brute *all = xcalloc(256, sizeof *all);
    int n = 0;
    for (int e = 0; e < 2; e++)
        for (int depth = 2; depth <= 3; depth++)
            for (int heads = 0; heads < 1 << depth; heads++)
                for (int ratios = 0; ratios < 1 << depth; ratios++) {
                    Brute *b = &all[n++];
                    b->arch.embed_dim = e ? 50 : 25;
                    b->arch.depth = depth;
                    for (int l = 0; l < depth; l++) {
                        b->arch.num_heads[l] = heads >> l & 1 ? 2 : 1;
                        b->arch.mlp_ratio[l] = ratios >> l & 1 ? 2320 : 1160;
                    }
                    b->snip = direct_snip(vit, &b->arch);
                    b->isomer = direct_isomer(vit, &b->arch);
                    b->params = arch_cost(&b->arch, space).params;
                    b->group_key = (e * 4 + depth) * 16 + __builtin_popcount(heads) * 4 +
                                   __builtin_popcount(ratios);
                }
    CHECK_EQ_I64(n, 160);
    double worst_snip = 0, worst_isomer = 0;
    for (int i = 0; i < n; i++) {
        worst_snip = fmax(
            worst_snip, fabs(score_rank(&tables, &PROXY_SNIP, &all[i].arch, space) - all[i].snip) /
                            all[i].snip);
        worst_isomer = fmax(
            worst_isomer,
            fabs(score_isomer_value(&tables, &PROXY_SNIP_LAYERNORM, &all[i].arch) - all[i].isomer) /
                all[i].isomer);
    }
    printf(
        "tables against direct sums over all 160 architectures: SNIP rel %.1e, isomer rel %.1e\n",
        worst_snip, worst_isomer);
    CHECK(worst_snip < 1e-12);
    CHECK(worst_isomer < 1e-12);

    /* brute force: best isomer per group, then best group per interval */
    const IntervalSpec *spec = &space->param_intervals;
    SelectOptions options = {.budget = BUDGET_PARAMS,
                             .intervals = intervals_make(spec->min, spec->max, spec->width),
                             .per_interval = 1,
                             .isomer = &PROXY_SNIP_LAYERNORM,
                             .rank = &PROXY_SNIP};
    const Brute *best_of_interval[16] = {NULL};
    for (int i = 0; i < n; i++) {
        bool representative = true;
        for (int j = 0; j < n; j++)
            if (all[j].group_key == all[i].group_key && all[j].isomer > all[i].isomer)
                representative = false;
        const int k = interval_of(&options.intervals, all[i].params);
        if (!representative || k < 0) continue;
        if (!best_of_interval[k] || all[i].snip > best_of_interval[k]->snip)
            best_of_interval[k] = &all[i];
    }

    IsomerGroups groups;
    CHECK(isomer_groups(space, false, &groups, &err));
    Candidate *candidates = xcalloc(groups.count, sizeof *candidates);
    candidates_compute(space, &tables, &groups, 0, groups.count, &options, candidates);
    Preferred preferred = preferred_select(candidates, groups.count, &options);
    CHECK_EQ_I64(preferred.n_intervals, 8);
    int at = 0, agree = 0, expected = 0;
    for (int k = 0; k < preferred.n_intervals; k++) {
        expected += best_of_interval[k] != NULL;
        CHECK_EQ_I64(preferred.kept[k], best_of_interval[k] != NULL);
        if (!preferred.kept[k]) continue;
        const Candidate *c = &preferred.chosen[at++];
        agree += arch_equal(&c->arch, &best_of_interval[k]->arch);
        CHECK_NEAR(c->score, best_of_interval[k]->snip, 1e-12 * c->score);
    }
    printf("preferred architectures: %d of %d intervals agree with brute force\n", agree, expected);
    CHECK_EQ_I64(agree, expected);
    CHECK(expected >= 6);

    /* N per interval keeps the N best, best first; intervals with fewer keep all */
    options.per_interval = 3;
    Preferred three = preferred_select(candidates, groups.count, &options);
    bool ordered = true;
    at = 0;
    for (int k = 0; k < three.n_intervals; k++) {
        CHECK(three.kept[k] == (three.in_interval[k] < 3 ? three.in_interval[k] : 3));
        for (int j = 1; j < three.kept[k]; j++)
            ordered &= three.chosen[at + j - 1].score >= three.chosen[at + j].score;
        at += three.kept[k];
    }
    CHECK(ordered);

    preferred_free(&three);
    preferred_free(&preferred);
    free(candidates);
    isomer_groups_free(&groups);
    free(all);
    score_tables_free(&tables);
    vit_free(vit);
    space_free(space);
    return check_summary();
}
