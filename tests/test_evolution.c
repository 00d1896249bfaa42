/* AutoFormer's evolutionary search (method.md §12.2) with synthetic fitness on the micro
 * space: it finds a known optimum under the limits, never evaluates an architecture twice or
 * outside the space or the limits, keeps the best lists right, and is a function of its seed.
 * The operators: mutation without probability is the parent, crossover children take every
 * position from a parent, random and mutated architectures stay in the space. The same for the
 * micro CNN space (method.md §13): its operators, and a hidden architecture found under FLOPs
 * limits. */
#include "check.h"

#include "arch.h"
#include "cost.h"
#include "evolution.h"
#include "isomer.h"
#include "model_space.h"
#include "rng.h"
#include "space.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fitness of the tests, and a referee watching every architecture it is asked about. */
typedef struct {
    const ModelSpace *space;
    const EvolutionOptions *options;
    const ModelArch *target; /* NULL: fitness = params; else minus the distance to it */
    ModelArch *asked;
    int n_asked, calls, illegal, repeated;
} Referee;

static int vit_distance(const Arch *a, const Arch *b) {
    int d = abs(a->embed_dim - b->embed_dim) / 16 + abs(a->depth - b->depth);
    for (int l = 0; l < SPACE_MAX_DEPTH; l++) {
        const bool in_a = l < a->depth, in_b = l < b->depth;
        if (in_a && in_b)
            d += (a->num_heads[l] != b->num_heads[l]) + (a->mlp_ratio[l] != b->mlp_ratio[l]);
        else if (in_a || in_b)
            d += 2;
    }
    return d;
}

/* The number of choices (resolution, widths, depths, kernels, ratios) that differ. */
static int cnn_distance(const CnnArch *a, const CnnArch *b) {
    int d = (a->resolution != b->resolution) + (a->stem_channels != b->stem_channels) +
            (a->head_channels != b->head_channels);
    for (int i = 0; i < a->n_stages; i++) {
        const CnnStageArch *x = &a->stages[i], *y = &b->stages[i];
        d += (x->depth != y->depth) + (x->channels != y->channels) + (x->kernel != y->kernel) +
             (x->expand_ratio != y->expand_ratio);
    }
    return d;
}

static int distance(const ModelArch *a, const ModelArch *b) {
    return a->family == FAMILY_CNN ? cnn_distance(&a->cnn, &b->cnn)
                                   : vit_distance(&a->vit, &b->vit);
}

static void referee_fitness(const ModelArch *archs, int n, double *fitness, void *ctx) {
    Referee *r = ctx;
    const EvolutionOptions *o = r->options;
    r->calls++;
    CHECK(n >= 1 && n <= o->population);
    r->asked = realloc(r->asked, sizeof *r->asked * (size_t)(r->n_asked + n));
    for (int i = 0; i < n; i++) {
        const ModelArch *a = &archs[i];
        Error err = {0};
        const ModelCost c = model_arch_cost(a, r->space);
        const bool legal = model_arch_check(a, r->space, &err) && o->min_params <= c.params &&
                           c.params <= o->max_params && o->min_flops <= c.flops &&
                           c.flops <= o->max_flops;
        r->illegal += !legal;
        for (int k = 0; k < r->n_asked; k++) r->repeated += model_arch_equal(a, &r->asked[k]);
        r->asked[r->n_asked++] = *a;
        fitness[i] = r->target ? -distance(a, r->target) : (double)c.params;
    }
}

static Space *micro(void) {
    Error err = {0};
    Space *space = space_load_file("configs/spaces/micro.cfg", &err);
    if (!space) fprintf(stderr, "%s\n", err.message);
    return space;
}

/* The two largest parameter counts of architectures of the space within [lo, hi], by brute
 * force over the isomer groups (every architecture costs what its group does). */
static void largest_params_within(const Space *space, int64_t lo, int64_t hi, int64_t top[2]) {
    IsomerGroups groups;
    Error err = {0};
    CHECK(isomer_groups(space, true, &groups, &err));
    top[0] = top[1] = -1;
    for (size_t i = 0; i < groups.count; i++) {
        const int64_t p = groups.items[i].cost.params;
        if (p < lo || p > hi || p == top[0] || p <= top[1]) continue;
        if (p > top[0])
            top[1] = top[0], top[0] = p;
        else
            top[1] = p;
    }
    isomer_groups_free(&groups);
}

/* Invariants of any finished search: the referee saw every evaluation exactly once, each
 * generation is at most a population (generation 0 a full one), and after every generation
 * the lists hold the best architectures so far, best first. */
static void check_search(const Evolution *e, const Referee *r) {
    const EvolutionOptions *o = &e->options;
    CHECK_EQ_I64(r->illegal, 0);
    CHECK_EQ_I64(r->repeated, 0);
    CHECK_EQ_I64(r->n_asked, e->n_evaluated);
    CHECK_EQ_I64(e->generations_done, o->generations);
    int64_t end = 0;
    double previous_best = -1e300;
    double *sorted = malloc(sizeof *sorted * (size_t)e->n_evaluated);
    bool lists_ok = true, counts_ok = true, order_ok = true;
    for (int g = 0; g < e->generations_done; g++) {
        const int64_t first = end;
        while (end < e->n_evaluated && e->evaluated[end].generation == g) end++;
        counts_ok &= end - first <= o->population && (g > 0 || end - first == o->population);
        for (int64_t i = first; i < end; i++) {
            double f = e->evaluated[i].fitness; /* insertion into the descending prefix */
            int64_t j = i;
            for (; j > 0 && sorted[j - 1] < f; j--) sorted[j] = sorted[j - 1];
            sorted[j] = f;
        }
        const int64_t *top, *parents;
        const int n_top = evolution_top(e, g, &top), n_parents = evolution_parents(e, g, &parents);
        lists_ok &= n_top == (end < o->keep ? end : o->keep);
        lists_ok &= n_parents == (end < o->parents ? end : o->parents);
        for (int k = 0; k < n_top; k++) lists_ok &= e->evaluated[top[k]].fitness == sorted[k];
        for (int k = 0; k < n_parents; k++)
            lists_ok &= e->evaluated[parents[k]].fitness == sorted[k];
        order_ok &= e->evaluated[top[0]].fitness >= previous_best;
        previous_best = e->evaluated[top[0]].fitness;
    }
    CHECK_EQ_I64(end, e->n_evaluated); /* generations are contiguous in the history */
    CHECK(counts_ok);
    CHECK(lists_ok);
    CHECK(order_ok);
    CHECK(evolution_best(e)->fitness == sorted[0]);
    free(sorted);
}

static bool same_history(const Evolution *a, const Evolution *b) {
    if (a->n_evaluated != b->n_evaluated) return false;
    for (int64_t i = 0; i < a->n_evaluated; i++) {
        const Evaluated *x = &a->evaluated[i], *y = &b->evaluated[i];
        if (!model_arch_equal(&x->arch, &y->arch) || x->fitness != y->fitness ||
            x->generation != y->generation || x->origin != y->origin)
            return false;
    }
    const size_t tops = (size_t)a->generations_done * (size_t)a->options.keep;
    return memcmp(a->top, b->top, sizeof *a->top * tops) == 0;
}

/* fitness = params: the optimum is the largest architecture under the limit. The search is
 * greedy (mutants of the best mostly break the limit), so it may stop one step short: it must
 * reach one of the two largest parameter counts under the limit (it does for seeds 0-9; the
 * second is 0.34 % below the first). */
static void largest_under_limit(void) {
    Space *space = micro();
    const ModelSpace ms = model_space_of_vit(space);
    EvolutionOptions o = evolution_defaults();
    o.max_params = 300000;
    o.seed = 3;
    int64_t optimum[2];
    largest_params_within(space, 0, o.max_params, optimum);
    Referee r = {&ms, &o, NULL, NULL, 0, 0, 0, 0};
    Evolution e;
    Error err = {0};
    CHECK(evolution_run(&ms, &o, referee_fitness, NULL, &r, &e, &err));
    check_search(&e, &r);
    const Evaluated *best = evolution_best(&e);
    char text[MODEL_ARCH_TEXT_MAX];
    model_arch_format(&best->arch, text, sizeof text);
    printf("params <= %lld: optimum %lld (next %lld), found %lld (%s) in %lld evaluations\n",
           (long long)o.max_params, (long long)optimum[0], (long long)optimum[1],
           (long long)best->cost.params, text, (long long)e.n_evaluated);
    CHECK(best->cost.params == optimum[0] || best->cost.params == optimum[1]);
    CHECK_EQ_I64(e.n_evaluated, (int64_t)o.population * o.generations);
    int by_origin[3] = {0};
    for (int64_t i = 0; i < e.n_evaluated; i++) by_origin[e.evaluated[i].origin]++;
    printf("  %d random, %d mutants, %d crossovers; rejected %lld limits, %lld seen, %lld "
           "unpaired\n",
           by_origin[0], by_origin[1], by_origin[2], (long long)e.rejected.limits,
           (long long)e.rejected.seen, (long long)e.rejected.unpaired);
    CHECK(by_origin[ORIGIN_MUTATION] > 0 && by_origin[ORIGIN_CROSSOVER] > 0);

    /* the same seed: the same search; another seed: another */
    Referee again = {&ms, &o, NULL, NULL, 0, 0, 0, 0};
    Evolution e2;
    CHECK(evolution_run(&ms, &o, referee_fitness, NULL, &again, &e2, &err));
    CHECK(same_history(&e, &e2));
    evolution_free(&e2);
    o.seed = 4;
    Referee other = {&ms, &o, NULL, NULL, 0, 0, 0, 0};
    CHECK(evolution_run(&ms, &o, referee_fitness, NULL, &other, &e2, &err));
    CHECK(!same_history(&e, &e2));
    CHECK(evolution_best(&e2)->cost.params == optimum[0] ||
          evolution_best(&e2)->cost.params == optimum[1]);
    evolution_free(&e2);
    evolution_free(&e);
    free(r.asked), free(again.asked), free(other.asked);
    space_free(space);
}

/* A search for a hidden architecture (fitness: minus the distance to it) must find it; returns
 * the tries rejected by the limits. */
static int64_t find_target(const ModelSpace *ms, const EvolutionOptions *o, const ModelArch *target,
                           const char *what) {
    Referee r = {ms, o, target, NULL, 0, 0, 0, 0};
    Evolution e;
    Error err = {0};
    CHECK(evolution_run(ms, o, referee_fitness, NULL, &r, &e, &err));
    check_search(&e, &r);
    const Evaluated *best = evolution_best(&e);
    char text[MODEL_ARCH_TEXT_MAX];
    model_arch_format(&best->arch, text, sizeof text);
    printf("%s: found %s at distance %d in generation %d of %lld evaluations; %lld tries outside "
           "the limits\n",
           what, text, (int)-best->fitness, best->generation, (long long)e.n_evaluated,
           (long long)e.rejected.limits);
    CHECK(model_arch_equal(&best->arch, target));
    const int64_t rejected = e.rejected.limits;
    evolution_free(&e);
    free(r.asked);
    return rejected;
}

/* A hidden architecture; fitness = minus the number of positions that differ from it. Both
 * limits are on and the target lies between them. */
static void hidden_target(void) {
    Space *space = micro();
    const ModelSpace ms = model_space_of_vit(space);
    ModelArch target;
    Error err = {0};
    CHECK(model_arch_parse("64:5:4,5,3,4,4:3.5,4,3,3.5,4", &ms, &target, &err));
    const ModelCost cost = model_arch_cost(&target, &ms);
    EvolutionOptions o = evolution_defaults();
    o.min_params = cost.params - 60000, o.max_params = cost.params + 60000;
    o.max_flops = cost.flops + 2000000;
    o.seed = 11;
    find_target(&ms, &o, &target, "hidden target");
    space_free(space);
}

/* The `widths` form: a refined space whose widths have their own depths and lists. Children
 * that leave it are refused, never evaluated. */
static void refined_space(void) {
    Space *space = micro();
    static const char *const texts[] = {"48:4:3,3,4,3:3,3.5,3,3", "48:5:3,4,3,3,4:3,3,3.5,3,3",
                                        "64:5:4,4,5,4,4:3.5,4,3.5,3.5,4",
                                        "80:6:5,5,4,5,5,5:4,4,3.5,4,4,4"};
    Arch archs[4];
    Error err = {0};
    for (int i = 0; i < 4; i++) CHECK(arch_parse(texts[i], &archs[i], &err));
    Space *refined = space_refine(space, archs, 4, "refined");
    CHECK(!refined->uniform);
    const ModelSpace ms = model_space_of_vit(refined);
    EvolutionOptions o = evolution_defaults();
    o.population = 20, o.mutations = 8, o.crossovers = 8, o.generations = 6, o.seed = 5;
    Referee r = {&ms, &o, NULL, NULL, 0, 0, 0, 0};
    Evolution e;
    CHECK(evolution_run(&ms, &o, referee_fitness, NULL, &r, &e, &err));
    check_search(&e, &r);
    printf("refined space: %lld evaluated, %lld children outside it refused\n",
           (long long)e.n_evaluated, (long long)e.rejected.outside_space);
    CHECK(e.rejected.outside_space > 0);
    Arch largest;
    arch_largest(refined, &largest);
    CHECK_EQ_I64(evolution_best(&e)->cost.params, arch_cost(&largest, refined).params);
    evolution_free(&e);
    free(r.asked);
    space_free(refined);
    space_free(space);
}

/* Limits that leave nothing are refused up front, naming the extreme architecture; limits
 * that leave one architecture give a search of one evaluation, not an endless one. */
static void limits(void) {
    Space *space = micro();
    const ModelSpace ms = model_space_of_vit(space);
    Arch smallest;
    arch_smallest(space, &smallest);
    const ArchCost small = arch_cost(&smallest, space);
    EvolutionOptions o = evolution_defaults();
    Error err = {0};
    o.max_params = small.params - 1;
    CHECK(!evolution_check_limits(&ms, &o, &err));
    CHECK_STR_CONTAINS(err.message, "the smallest, 48:4:3,3,3,3:3,3,3,3, has 102410");
    CHECK_EQ_I64(small.params, 102410);
    Evolution e;
    Referee r = {&ms, &o, NULL, NULL, 0, 0, 0, 0};
    err = (Error){0};
    CHECK(!evolution_run(&ms, &o, referee_fitness, NULL, &r, &e, &err));
    CHECK_EQ_I64(r.calls, 0);
    o = evolution_defaults();
    o.min_params = 479595;
    err = (Error){0};
    CHECK(!evolution_check_limits(&ms, &o, &err));
    CHECK_STR_CONTAINS(err.message, "the largest, 80:6:5,5,5,5,5,5:4,4,4,4,4,4, has 479594");
    o = evolution_defaults();
    o.max_flops = small.flops_ref - 1;
    err = (Error){0};
    CHECK(!evolution_check_limits(&ms, &o, &err));
    CHECK_STR_CONTAINS(err.message, "FLOPs");
    o = evolution_defaults();
    o.min_params = 200000, o.max_params = 100000;
    err = (Error){0};
    CHECK(!evolution_check_limits(&ms, &o, &err));
    CHECK_STR_CONTAINS(err.message, "empty");

    /* only the smallest architecture has at most its parameters */
    o = evolution_defaults();
    o.max_params = small.params;
    o.population = 4, o.mutations = 2, o.crossovers = 1, o.generations = 3;
    Referee one = {&ms, &o, NULL, NULL, 0, 0, 0, 0};
    err = (Error){0};
    CHECK(evolution_run(&ms, &o, referee_fitness, NULL, &one, &e, &err));
    CHECK_EQ_I64(e.n_evaluated, 1);
    CHECK_EQ_I64(one.repeated, 0);
    CHECK(arch_equal(&evolution_best(&e)->arch.vit, &smallest));
    evolution_free(&e);
    free(one.asked);
    space_free(space);
}

static bool takes_from(const Arch *child, const Arch *a, const Arch *b) {
    if (child->depth != a->depth) return false;
    if (child->embed_dim != a->embed_dim && child->embed_dim != b->embed_dim) return false;
    for (int l = 0; l < child->depth; l++)
        if ((child->num_heads[l] != a->num_heads[l] && child->num_heads[l] != b->num_heads[l]) ||
            (child->mlp_ratio[l] != a->mlp_ratio[l] && child->mlp_ratio[l] != b->mlp_ratio[l]))
            return false;
    return true;
}

static void operators(void) {
    Space *space = micro();
    const ModelSpace ms = model_space_of_vit(space);
    Rng rng = rng_stream(9, 1);
    int same = 0, in_space = 0, kept_shape = 0, from_parents = 0, from_b = 0, random_ok = 0;
    const int n = 2000;
    for (int i = 0; i < n; i++) {
        ModelArch parent, other, child;
        Error err = {0};
        evolution_random(&ms, &rng, &parent);
        random_ok += arch_check(&parent.vit, space, &err);
        evolution_mutate(&ms, &parent, 0, 0, &rng, &child);
        same += model_arch_equal(&child, &parent);
        evolution_mutate(&ms, &parent, 1, 1, &rng, &child);
        in_space += arch_check(&child.vit, space, &err) && arch_in_space(&child.vit, space);
        evolution_mutate(&ms, &parent, 1, 0, &rng, &child);
        kept_shape +=
            child.vit.depth == parent.vit.depth && child.vit.embed_dim == parent.vit.embed_dim;
        do evolution_random(&ms, &rng, &other);
        while (!evolution_pairs(&parent, &other));
        CHECK(other.vit.depth == parent.vit.depth);
        evolution_crossover(&parent, &other, &rng, &child);
        from_parents += takes_from(&child.vit, &parent.vit, &other.vit);
        from_b += child.vit.embed_dim == other.vit.embed_dim &&
                  other.vit.embed_dim != parent.vit.embed_dim;
    }
    CHECK_EQ_I64(random_ok, n);
    CHECK_EQ_I64(same, n);
    CHECK_EQ_I64(in_space, n);
    CHECK_EQ_I64(kept_shape, n);
    CHECK_EQ_I64(from_parents, n);
    /* the width comes from the second parent half the time: 2/3 of pairs differ in width */
    CHECK(abs(from_b - n / 3) < 5 * 21); /* binomial(2000, 1/3): sd 21 */

    /* the random draws cover the space: every width, depth and choice */
    int widths[3] = {0}, depths[3] = {0}, heads[3] = {0};
    for (int i = 0; i < 3000; i++) {
        ModelArch a;
        evolution_random(&ms, &rng, &a);
        widths[(a.vit.embed_dim - 48) / 16]++;
        depths[a.vit.depth - 4]++;
        heads[a.vit.num_heads[a.vit.depth - 1] - 3]++;
    }
    for (int k = 0; k < 3; k++)
        CHECK(abs(widths[k] - 1000) < 130 && abs(depths[k] - 1000) < 130 &&
              abs(heads[k] - 1000) < 130); /* sd 26 */
    space_free(space);
}

static ModelSpace cnn_micro(void) {
    ModelSpace space;
    Error err = {0};
    if (!model_space_load_file("configs/spaces/cnn-micro.cfg", &space, &err))
        fprintf(stderr, "%s\n", err.message);
    return space;
}

/* Whether every choice of the child is one of its parents'. */
static bool cnn_takes_from(const CnnArch *c, const CnnArch *a, const CnnArch *b) {
#define FROM(field) (c->field == a->field || c->field == b->field)
    bool ok = FROM(resolution) && FROM(stem_channels) && FROM(head_channels);
    for (int i = 0; i < c->n_stages; i++)
        ok = ok && FROM(stages[i].depth) && FROM(stages[i].channels) && FROM(stages[i].kernel) &&
             FROM(stages[i].expand_ratio);
#undef FROM
    return ok;
}

/* The structural choices (resolution, widths, depths) of two architectures are equal. */
static bool cnn_same_structure(const CnnArch *a, const CnnArch *b) {
    bool same = a->resolution == b->resolution && a->stem_channels == b->stem_channels &&
                a->head_channels == b->head_channels;
    for (int i = 0; i < a->n_stages; i++)
        same = same && a->stages[i].depth == b->stages[i].depth &&
               a->stages[i].channels == b->stages[i].channels;
    return same;
}

static void cnn_operators(void) {
    ModelSpace ms = cnn_micro();
    if (!CHECK(ms.cnn)) return;
    Rng rng = rng_stream(9, 2);
    int random_ok = 0, same = 0, in_space = 0, kept_structure = 0, kept_layers = 0;
    int from_parents = 0, from_b = 0, differs = 0;
    const int n = 2000;
    for (int i = 0; i < n; i++) {
        ModelArch parent, other, child;
        Error err = {0};
        evolution_random(&ms, &rng, &parent);
        random_ok += model_arch_check(&parent, &ms, &err);
        evolution_mutate(&ms, &parent, 0, 0, &rng, &child);
        same += model_arch_equal(&child, &parent);
        evolution_mutate(&ms, &parent, 1, 1, &rng, &child);
        in_space += model_arch_check(&child, &ms, &err);
        evolution_mutate(&ms, &parent, 1, 0, &rng, &child); /* kernels and ratios only */
        kept_structure += cnn_same_structure(&child.cnn, &parent.cnn);
        evolution_mutate(&ms, &parent, 0, 1, &rng, &child); /* the structure only */
        bool layers = true;
        for (int s = 0; s < parent.cnn.n_stages; s++)
            layers = layers && child.cnn.stages[s].kernel == parent.cnn.stages[s].kernel &&
                     child.cnn.stages[s].expand_ratio == parent.cnn.stages[s].expand_ratio;
        kept_layers += layers;
        evolution_random(&ms, &rng, &other);
        CHECK(evolution_pairs(&parent, &other)); /* any two CNNs of a space */
        evolution_crossover(&parent, &other, &rng, &child);
        from_parents += cnn_takes_from(&child.cnn, &parent.cnn, &other.cnn) &&
                        model_arch_check(&child, &ms, &err);
        /* the resolution of the second parent half the time where the two differ */
        differs += other.cnn.resolution != parent.cnn.resolution;
        from_b += other.cnn.resolution != parent.cnn.resolution &&
                  child.cnn.resolution == other.cnn.resolution;
    }
    CHECK_EQ_I64(random_ok, n);
    CHECK_EQ_I64(same, n);
    CHECK_EQ_I64(in_space, n);
    CHECK_EQ_I64(kept_structure, n);
    CHECK_EQ_I64(kept_layers, n);
    CHECK_EQ_I64(from_parents, n);
    CHECK(abs(2 * from_b - differs) < 5 * 37); /* binomial(~1333, 1/2): sd 18, doubled */
    model_space_free(&ms);
}

/* A hidden CNN architecture, FLOPs limits around it: found exactly, every evaluation legal. */
static void cnn_hidden_target(void) {
    ModelSpace ms = cnn_micro();
    if (!CHECK(ms.cnn)) return;
    ModelArch target;
    Error err = {0};
    CHECK(model_arch_parse("28:16:16x1k3e1:24x2k5e6:24x3k3e6:48x2k5e6:56x1k3e6:256", &ms, &target,
                           &err));
    const ModelCost cost = model_arch_cost(&target, &ms);
    EvolutionOptions o = evolution_defaults();
    o.min_flops = cost.flops - 2000000, o.max_flops = cost.flops + 2000000;
    o.seed = 2;
    char what[64];
    snprintf(what, sizeof what, "CNN hidden target (FLOPs %lld +- 2M)", (long long)cost.flops);
    CHECK(find_target(&ms, &o, &target, what) > 0);
    /* limits the space cannot meet name its smallest architecture */
    o = evolution_defaults();
    o.max_flops = 1000;
    err = (Error){0};
    CHECK(!evolution_check_limits(&ms, &o, &err));
    CHECK_STR_CONTAINS(err.message, "at most 1000 FLOPs: the smallest, 24:16:8x1k3e1:");
    model_space_free(&ms);
}

int main(void) {
    operators();
    limits();
    largest_under_limit();
    hidden_target();
    refined_space();
    cnn_operators();
    cnn_hidden_target();
    return check_summary();
}
