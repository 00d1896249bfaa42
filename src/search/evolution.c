#include "evolution.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

EvolutionOptions evolution_defaults(void) {
    return (EvolutionOptions){.population = 50,
                              .parents = 10,
                              .keep = 50,
                              .mutations = 25,
                              .crossovers = 25,
                              .generations = 20,
                              .m_prob = 0.2,
                              .s_prob = 0.4,
                              .min_params = 0,
                              .max_params = INT64_MAX,
                              .min_flops = 0,
                              .max_flops = INT64_MAX};
}

const char *evolution_origin_name(EvolutionOrigin origin) {
    static const char *const names[] = {"random", "mutation", "crossover"};
    return names[origin];
}

/* ---- the operators ---- */

static int pick(const ChoiceList *list, Rng *rng) {
    return list->values[rng_below(rng, (uint64_t)list->count)];
}

static void vit_random(const Space *space, Rng *rng, Arch *arch) {
    if (!space->uniform) {
        arch_sample(space, rng, arch);
        return;
    }
    const SpaceWidth *any = &space->widths[0]; /* every width has the same lists */
    memset(arch, 0, sizeof *arch);
    arch->depth = pick(&any->depths, rng);
    for (int l = 0; l < arch->depth; l++) arch->mlp_ratio[l] = pick(&any->mlp_ratio[l], rng);
    for (int l = 0; l < arch->depth; l++) arch->num_heads[l] = pick(&any->num_heads[l], rng);
    arch->embed_dim = space->widths[rng_below(rng, (uint64_t)space->n_widths)].embed_dim;
}

static void vit_mutate(const Space *space, const Arch *parent, double m_prob, double s_prob,
                       Rng *rng, Arch *child) {
    const SpaceWidth *width = space_width(space, parent->embed_dim);
    *child = *parent;
    if (rng_uniform(rng) < s_prob) {
        const int depth = pick(&width->depths, rng);
        for (int l = parent->depth; l < depth; l++)
            child->mlp_ratio[l] = pick(&width->mlp_ratio[l], rng);
        for (int l = parent->depth; l < depth; l++)
            child->num_heads[l] = pick(&width->num_heads[l], rng);
        for (int l = depth; l < parent->depth; l++) child->mlp_ratio[l] = child->num_heads[l] = 0;
        child->depth = depth;
    }
    for (int l = 0; l < child->depth; l++)
        if (rng_uniform(rng) < m_prob) child->mlp_ratio[l] = pick(&width->mlp_ratio[l], rng);
    for (int l = 0; l < child->depth; l++)
        if (rng_uniform(rng) < m_prob) child->num_heads[l] = pick(&width->num_heads[l], rng);
    if (rng_uniform(rng) < s_prob)
        child->embed_dim = space->widths[rng_below(rng, (uint64_t)space->n_widths)].embed_dim;
}

static void vit_crossover(const Arch *a, const Arch *b, Rng *rng, Arch *child) {
    memset(child, 0, sizeof *child);
    child->depth = a->depth;
    for (int l = 0; l < child->depth; l++)
        child->mlp_ratio[l] = rng_below(rng, 2) ? b->mlp_ratio[l] : a->mlp_ratio[l];
    for (int l = 0; l < child->depth; l++)
        child->num_heads[l] = rng_below(rng, 2) ? b->num_heads[l] : a->num_heads[l];
    child->embed_dim = rng_below(rng, 2) ? b->embed_dim : a->embed_dim;
}

/* A CNN's choices in one order, with the list each is drawn from and whether it is
 * structural (s_prob) or per-layer (m_prob): resolution, stem, per stage depth and width,
 * head, then per stage kernel and expansion ratio. */
enum { CNN_GENES = 3 + 4 * CNN_MAX_STAGES };

static int cnn_genes(const CnnSpace *space, CnnArch *arch, int *genes[CNN_GENES],
                     const CnnChoices *lists[CNN_GENES], bool structural[CNN_GENES]) {
    int n = 0;
#define GENE(field, list, is_structural)                                                           \
    (genes[n] = &(field), lists[n] = &(list), structural[n++] = (is_structural))
    GENE(arch->resolution, space->resolution, true);
    GENE(arch->stem_channels, space->stem.channels, true);
    for (int i = 0; i < space->n_stages; i++) {
        GENE(arch->stages[i].depth, space->stages[i].depth, true);
        GENE(arch->stages[i].channels, space->stages[i].channels, true);
    }
    GENE(arch->head_channels, space->head_channels, true);
    for (int i = 0; i < space->n_stages; i++) {
        GENE(arch->stages[i].kernel, space->stages[i].kernel, false);
        GENE(arch->stages[i].expand_ratio, space->stages[i].expand_ratio, false);
    }
#undef GENE
    return n;
}

static void cnn_mutate(const CnnSpace *space, const CnnArch *parent, double m_prob, double s_prob,
                       Rng *rng, CnnArch *child) {
    *child = *parent;
    int *genes[CNN_GENES];
    const CnnChoices *lists[CNN_GENES];
    bool structural[CNN_GENES];
    const int n = cnn_genes(space, child, genes, lists, structural);
    for (int i = 0; i < n; i++)
        if (rng_uniform(rng) < (structural[i] ? s_prob : m_prob))
            *genes[i] = lists[i]->values[rng_below(rng, (uint64_t)lists[i]->count)];
}

static void cnn_crossover(const CnnArch *a, const CnnArch *b, Rng *rng, CnnArch *child) {
    *child = *a;
    CnnArch other = *b;
    int *mine[CNN_GENES], *theirs[CNN_GENES];
    const CnnChoices *lists[CNN_GENES];
    bool structural[CNN_GENES];
    /* the genes' places only: a CnnSpace of the child's stage count serves as the layout */
    CnnSpace layout = {.n_stages = a->n_stages};
    const int n = cnn_genes(&layout, child, mine, lists, structural);
    cnn_genes(&layout, &other, theirs, lists, structural);
    for (int i = 0; i < n; i++)
        if (rng_below(rng, 2)) *mine[i] = *theirs[i];
}

void evolution_random(const ModelSpace *space, Rng *rng, ModelArch *arch) {
    if (space->family == FAMILY_CNN) {
        model_arch_sample(space, rng, arch); /* uniform: a CNN space is a product of its lists */
        return;
    }
    memset(arch, 0, sizeof *arch);
    arch->family = FAMILY_VIT;
    vit_random(space->vit, rng, &arch->vit);
}

void evolution_mutate(const ModelSpace *space, const ModelArch *parent, double m_prob,
                      double s_prob, Rng *rng, ModelArch *child) {
    *child = *parent;
    if (space->family == FAMILY_CNN)
        cnn_mutate(space->cnn, &parent->cnn, m_prob, s_prob, rng, &child->cnn);
    else
        vit_mutate(space->vit, &parent->vit, m_prob, s_prob, rng, &child->vit);
}

void evolution_crossover(const ModelArch *a, const ModelArch *b, Rng *rng, ModelArch *child) {
    *child = *a;
    if (a->family == FAMILY_CNN)
        cnn_crossover(&a->cnn, &b->cnn, rng, &child->cnn);
    else
        vit_crossover(&a->vit, &b->vit, rng, &child->vit);
}

bool evolution_pairs(const ModelArch *a, const ModelArch *b) {
    return a->family == FAMILY_CNN || a->vit.depth == b->vit.depth;
}

/* ---- limits ---- */

static bool within(int64_t value, int64_t lo, int64_t hi) {
    return lo <= value && value <= hi;
}

/* The architecture whose cost is least (largest: most) by params or by flops. In the ViT's
 * `widths` form a wider width may allow a shallower depth, so every width's extreme is looked
 * at; a CNN's costs grow with every choice, so its smallest and largest are the extremes. */
static void cost_extreme(const ModelSpace *space, bool largest, bool by_flops, ModelArch *arch,
                         ModelCost *cost) {
    if (space->family == FAMILY_CNN) {
        if (largest)
            model_arch_largest(space, arch);
        else
            model_arch_smallest(space, arch);
        *cost = model_arch_cost(arch, space);
        return;
    }
    const Space *vit = space->vit;
    for (int w = 0; w < vit->n_widths; w++) {
        Arch a;
        arch_width_extreme(&vit->widths[w], largest, &a);
        const ModelArch m = model_arch_of_vit(&a);
        const ModelCost c = model_arch_cost(&m, space);
        const int64_t value = by_flops ? c.flops : c.params;
        const int64_t best = by_flops ? cost->flops : cost->params;
        if (w == 0 || (largest ? value > best : value < best)) *arch = m, *cost = c;
    }
}

static const char *space_source(const ModelSpace *space) {
    return space->family == FAMILY_CNN ? space->cnn->source : space->vit->source;
}

static bool check_limit(const ModelSpace *space, const char *what, bool by_flops, int64_t lo,
                        int64_t hi, Error *err) {
    if (lo > hi)
        return input_error(err, "the %s limits are empty: min %lld > max %lld", what, (long long)lo,
                           (long long)hi);
    ModelArch small, large;
    ModelCost small_cost, large_cost;
    cost_extreme(space, false, by_flops, &small, &small_cost);
    cost_extreme(space, true, by_flops, &large, &large_cost);
    const int64_t low = by_flops ? small_cost.flops : small_cost.params;
    const int64_t high = by_flops ? large_cost.flops : large_cost.params;
    char text[MODEL_ARCH_TEXT_MAX];
    if (hi < low) {
        model_arch_format(&small, text, sizeof text);
        return input_error(err,
                           "no architecture of the space has at most %lld %s: the smallest, %s, "
                           "has %lld, %s",
                           (long long)hi, what, text, (long long)low, space_source(space));
    }
    if (lo > high) {
        model_arch_format(&large, text, sizeof text);
        return input_error(err,
                           "no architecture of the space has at least %lld %s: the largest, %s, "
                           "has %lld, %s",
                           (long long)lo, what, text, (long long)high, space_source(space));
    }
    return true;
}

bool evolution_check_limits(const ModelSpace *space, const EvolutionOptions *o, Error *err) {
    const char *flops = space->family == FAMILY_CNN ? "FLOPs" : "FLOPs (the reference's count)";
    return check_limit(space, "parameters", false, o->min_params, o->max_params, err) &&
           check_limit(space, flops, true, o->min_flops, o->max_flops, err);
}

/* ---- the search ---- */

/* The search's working state: the result being built, and the set of architectures already
 * taken (open addressing over indices into evaluated, -1 free, at most half full). */
typedef struct {
    const ModelSpace *space;
    const EvolutionOptions *o;
    Evolution *e;
    int64_t *slots;
    size_t mask;
} Search;

static uint64_t arch_hash(const ModelArch *a) {
    char text[MODEL_ARCH_TEXT_MAX]; /* canonical: one architecture, one text */
    model_arch_format(a, text, sizeof text);
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (const char *c = text; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
    return h;
}

/* The slot of `arch`: where it is, or the free slot where it would go. */
static size_t seen_slot(const Search *s, const ModelArch *arch) {
    size_t i = (size_t)arch_hash(arch) & s->mask;
    while (s->slots[i] >= 0 && !model_arch_equal(&s->e->evaluated[s->slots[i]].arch, arch))
        i = (i + 1) & s->mask;
    return i;
}

static void seen_grow(Search *s) {
    const size_t size = 2 * (s->mask + 1);
    free(s->slots);
    s->slots = xmalloc(sizeof *s->slots * size);
    for (size_t i = 0; i < size; i++) s->slots[i] = -1;
    s->mask = size - 1;
    for (int64_t k = 0; k < s->e->n_evaluated; k++)
        s->slots[seen_slot(s, &s->e->evaluated[k].arch)] = k;
}

/* Takes `arch` into the generation if it is legal; false (and the reason counted) if not. */
/* Whether the space allows it (a ViT child whose new width does not allow its choices, say). */
static bool in_space(const ModelArch *arch, const ModelSpace *space) {
    Error ignored = {0};
    return space->family == FAMILY_CNN ? model_arch_check(arch, space, &ignored)
                                       : arch_in_space(&arch->vit, space->vit);
}

static bool admit(Search *s, const ModelArch *arch, int generation, EvolutionOrigin origin) {
    Evolution *e = s->e;
    if (!in_space(arch, s->space)) {
        e->rejected.outside_space++;
        return false;
    }
    const ModelCost cost = model_arch_cost(arch, s->space);
    if (!within(cost.params, s->o->min_params, s->o->max_params) ||
        !within(cost.flops, s->o->min_flops, s->o->max_flops)) {
        e->rejected.limits++;
        return false;
    }
    const size_t slot = seen_slot(s, arch);
    if (s->slots[slot] >= 0) {
        e->rejected.seen++;
        return false;
    }
    if (e->n_evaluated == e->capacity) {
        e->capacity = e->capacity ? 2 * e->capacity : 256;
        e->evaluated = xrealloc(e->evaluated, sizeof *e->evaluated * (size_t)e->capacity);
    }
    s->slots[slot] = e->n_evaluated;
    e->evaluated[e->n_evaluated++] =
        (Evaluated){*arch, cost, NAN, generation, origin}; /* fitness comes with the generation */
    if (2 * (size_t)e->n_evaluated > s->mask) seen_grow(s);
    return true;
}

/* Crossover parents: two of the list, re-drawn up to 50 times until they pair (a ViT's:
 * until their depths agree). */
static bool cross(const Search *s, const int64_t *parents, int n, Rng *rng, ModelArch *child) {
    const Evaluated *ev = s->e->evaluated;
    for (int redraws = 0;; redraws++) {
        const ModelArch *a = &ev[parents[rng_below(rng, (uint64_t)n)]].arch;
        const ModelArch *b = &ev[parents[rng_below(rng, (uint64_t)n)]].arch;
        if (evolution_pairs(a, b)) {
            evolution_crossover(a, b, rng, child);
            return true;
        }
        if (redraws == 50) return false;
    }
}

/* Up to `wanted` children of the previous generation's parents, in at most 10 tries each. */
static void breed(Search *s, int generation, EvolutionOrigin origin, int wanted, Rng *rng) {
    const int64_t *parents;
    const int n = evolution_parents(s->e, generation - 1, &parents);
    int made = 0;
    for (int tries = 10 * wanted; made < wanted && tries > 0; tries--) {
        ModelArch child;
        if (origin == ORIGIN_MUTATION) {
            const ModelArch *parent = &s->e->evaluated[parents[rng_below(rng, (uint64_t)n)]].arch;
            evolution_mutate(s->space, parent, s->o->m_prob, s->o->s_prob, rng, &child);
        } else if (!cross(s, parents, n, rng, &child)) {
            s->e->rejected.unpaired++;
            continue;
        }
        made += admit(s, &child, generation, origin);
    }
}

static void fill_random(Search *s, int generation, int64_t first, Rng *rng) {
    Evolution *e = s->e;
    int64_t tries = (int64_t)EVOLUTION_RANDOM_TRIES * (s->o->population - (e->n_evaluated - first));
    while (e->n_evaluated - first < s->o->population && tries-- > 0) {
        ModelArch arch;
        evolution_random(s->space, rng, &arch);
        admit(s, &arch, generation, ORIGIN_RANDOM);
    }
}

static double rank_key(const Evolution *e, int64_t index) {
    const double f = e->evaluated[index].fitness;
    return isnan(f) ? -INFINITY : f;
}

/* Row g of `rows` ([generations, cap]): row g-1's list and generation g's architectures,
 * stably sorted by fitness (best first, earlier first among equals: Python's sort), cut to
 * `cap`. */
static void merge(const Evolution *e, int64_t *rows, int cap, int g, int64_t first,
                  int64_t *scratch) {
    int n = 0;
    for (int k = 0; g > 0 && k < cap && rows[(size_t)(g - 1) * cap + k] >= 0; k++)
        scratch[n++] = rows[(size_t)(g - 1) * cap + k];
    for (int64_t i = first; i < e->n_evaluated; i++) scratch[n++] = i;
    for (int i = 1; i < n; i++) {
        const int64_t x = scratch[i];
        int j = i;
        for (; j > 0 && rank_key(e, scratch[j - 1]) < rank_key(e, x); j--)
            scratch[j] = scratch[j - 1];
        scratch[j] = x;
    }
    for (int k = 0; k < cap; k++) rows[(size_t)g * cap + k] = k < n ? scratch[k] : -1;
}

bool evolution_run(const ModelSpace *space, const EvolutionOptions *o, EvolutionFitness fitness,
                   EvolutionProgress progress, void *ctx, Evolution *e, Error *err) {
    memset(e, 0, sizeof *e);
    if (!evolution_check_limits(space, o, err)) return false;
    e->options = *o;
    const size_t G = (size_t)o->generations;
    e->parents = xmalloc(sizeof *e->parents * G * (size_t)o->parents);
    e->top = xmalloc(sizeof *e->top * G * (size_t)o->keep);
    Search s = {space, o, e, xmalloc(sizeof(int64_t) * 1024), 1023};
    for (size_t i = 0; i <= s.mask; i++) s.slots[i] = -1;
    ModelArch *archs = xmalloc(sizeof *archs * (size_t)o->population);
    double *values = xmalloc(sizeof *values * (size_t)o->population);
    const int cap = o->keep > o->parents ? o->keep : o->parents;
    int64_t *scratch = xmalloc(sizeof *scratch * (size_t)(cap + o->population));
    bool ok = true;
    for (int g = 0; g < o->generations; g++) {
        Rng rng = rng_stream_at(o->seed, RNG_STREAM_EVOLUTION, (uint64_t)g);
        const int64_t first = e->n_evaluated;
        if (g > 0) {
            breed(&s, g, ORIGIN_MUTATION, o->mutations, &rng);
            breed(&s, g, ORIGIN_CROSSOVER, o->crossovers, &rng);
        }
        fill_random(&s, g, first, &rng);
        const int n = (int)(e->n_evaluated - first);
        if (n == 0 && g == 0) {
            ok =
                input_error(err,
                            "no architecture of the space within the limits (params [%lld, "
                            "%lld], %s [%lld, %lld]) in %lld random draws, %s",
                            (long long)o->min_params, (long long)o->max_params,
                            space->family == FAMILY_CNN ? "FLOPs" : "flops_ref",
                            (long long)o->min_flops, (long long)o->max_flops,
                            (long long)EVOLUTION_RANDOM_TRIES * o->population, space_source(space));
            break;
        }
        for (int i = 0; i < n; i++) archs[i] = e->evaluated[first + i].arch;
        if (n > 0) fitness(archs, n, values, ctx);
        for (int i = 0; i < n; i++) e->evaluated[first + i].fitness = values[i];
        merge(e, e->parents, o->parents, g, first, scratch);
        merge(e, e->top, o->keep, g, first, scratch);
        e->generations_done = g + 1;
        if (progress) progress(e, ctx);
    }
    free(scratch), free(values), free(archs), free(s.slots);
    if (!ok) evolution_free(e);
    return ok;
}

void evolution_free(Evolution *e) {
    free(e->evaluated), free(e->parents), free(e->top);
    memset(e, 0, sizeof *e);
}

static int list_of(const int64_t *rows, int cap, int g, const int64_t **list) {
    *list = rows + (size_t)g * cap;
    int n = 0;
    while (n < cap && (*list)[n] >= 0) n++;
    return n;
}

int evolution_parents(const Evolution *e, int generation, const int64_t **list) {
    return list_of(e->parents, e->options.parents, generation, list);
}

int evolution_top(const Evolution *e, int generation, const int64_t **list) {
    return list_of(e->top, e->options.keep, generation, list);
}

const Evaluated *evolution_best(const Evolution *e) {
    const int64_t *top;
    evolution_top(e, e->generations_done - 1, &top);
    return &e->evaluated[top[0]];
}

/* ---- search.h5 ---- */

void evolution_write(hid_t file, const Evolution *e, const char *split, int64_t images,
                     double seconds) {
    const EvolutionOptions *o = &e->options;
    h5_attr_string(file, "split", split);
    h5_attr_int(file, "images", images);
    h5_attr_doubles(file, "seconds", &seconds, 1);
    h5_attr_int(file, "evaluations", e->n_evaluated);
    const char *const int_names[] = {"population",       "parents",       "keep",
                                     "mutations",        "crossovers",    "generations",
                                     "rejected_limits",  "rejected_seen", "rejected_outside_space",
                                     "rejected_unpaired"};
    const int64_t ints[] = {o->population,       o->parents,       o->keep,
                            o->mutations,        o->crossovers,    o->generations,
                            e->rejected.limits,  e->rejected.seen, e->rejected.outside_space,
                            e->rejected.unpaired};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        h5_attr_int(file, int_names[i], ints[i]);
    h5_attr_doubles(file, "m_prob", &o->m_prob, 1);
    h5_attr_doubles(file, "s_prob", &o->s_prob, 1);
    if (o->min_params > 0) h5_attr_int(file, "min_params", o->min_params);
    if (o->max_params < INT64_MAX) h5_attr_int(file, "max_params", o->max_params);
    if (o->min_flops > 0) h5_attr_int(file, "min_flops", o->min_flops);
    if (o->max_flops < INT64_MAX) h5_attr_int(file, "max_flops", o->max_flops);

    const size_t n = (size_t)e->n_evaluated;
    char **texts = xmalloc(sizeof *texts * n);
    const char **origins = xmalloc(sizeof *origins * n);
    int *generation = xmalloc(sizeof *generation * n);
    double *fitness = xmalloc(sizeof *fitness * n);
    int64_t *costs = xmalloc(sizeof *costs * 3 * n);
    for (size_t i = 0; i < n; i++) {
        const Evaluated *v = &e->evaluated[i];
        texts[i] = xmalloc(MODEL_ARCH_TEXT_MAX);
        model_arch_format(&v->arch, texts[i], MODEL_ARCH_TEXT_MAX);
        origins[i] = evolution_origin_name(v->origin);
        generation[i] = v->generation;
        fitness[i] = v->fitness;
        costs[i] = v->cost.params, costs[n + i] = v->cost.flops, costs[2 * n + i] = v->cost.macs;
    }
    hid_t history = h5_create_group(file, "history");
    const hsize_t count[1] = {n};
    h5_write_strings(history, "arch", (const char *const *)texts, (int)n);
    h5_write_strings(history, "origin", origins, (int)n);
    h5_write(history, "generation", H5T_NATIVE_INT, 1, count, generation);
    h5_write(history, "fitness", H5T_NATIVE_DOUBLE, 1, count, fitness);
    h5_write(history, "params", H5T_NATIVE_INT64, 1, count, costs);
    h5_write(history, "flops_ref", H5T_NATIVE_INT64, 1, count, costs + n);
    h5_write(history, "macs", H5T_NATIVE_INT64, 1, count, costs + 2 * n);
    CHECK_H5(H5Gclose(history));
    for (size_t i = 0; i < n; i++) free(texts[i]);
    free(texts), free(origins), free(generation), free(fitness), free(costs);

    hid_t generations = h5_create_group(file, "generations");
    const hsize_t parents[2] = {(hsize_t)e->generations_done, (hsize_t)o->parents};
    const hsize_t top[2] = {(hsize_t)e->generations_done, (hsize_t)o->keep};
    h5_write(generations, "parents", H5T_NATIVE_INT64, 2, parents, e->parents);
    h5_write(generations, "top", H5T_NATIVE_INT64, 2, top, e->top);
    CHECK_H5(H5Gclose(generations));

    const Evaluated *best = evolution_best(e);
    char text[MODEL_ARCH_TEXT_MAX];
    model_arch_format(&best->arch, text, sizeof text);
    hid_t result = h5_create_group(file, "result");
    h5_attr_string(result, "arch", text);
    h5_attr_doubles(result, "fitness", &best->fitness, 1);
    h5_attr_int(result, "params", best->cost.params);
    h5_attr_int(result, "flops_ref", best->cost.flops);
    h5_attr_int(result, "macs", best->cost.macs);
    h5_attr_int(result, "index", best - e->evaluated);
    h5_attr_int(result, "generation", best->generation);
    CHECK_H5(H5Gclose(result));
}

bool evolution_print_file(const H5Source *src, FILE *out) {
    char split[16], arch[MODEL_ARCH_TEXT_MAX];
    int64_t images, evaluations, generations, population, params, flops;
    double fitness;
    hid_t result = H5Gopen2(src->file, "result", H5P_DEFAULT);
    if (result < 0) return input_error(src->err, "no /result group, %s", src->path);
    const bool ok = h5_read_attr_string(src, src->file, "split", split, sizeof split) &&
                    h5_read_attr_int(src, src->file, "images", &images) &&
                    h5_read_attr_int(src, src->file, "evaluations", &evaluations) &&
                    h5_read_attr_int(src, src->file, "generations", &generations) &&
                    h5_read_attr_int(src, src->file, "population", &population) &&
                    h5_read_attr_string(src, result, "arch", arch, sizeof arch) &&
                    h5_read_attr_doubles(src, result, "fitness", &fitness, 1) &&
                    h5_read_attr_int(src, result, "params", &params) &&
                    h5_read_attr_int(src, result, "flops_ref", &flops);
    CHECK_H5(H5Gclose(result));
    if (!ok) return false;
    fprintf(out,
            "  evolutionary search: %lld architectures evaluated in %lld generations of %lld, "
            "fitness = top-1 on %lld '%s' images\n"
            "  result: %s, top-1 %.2f %%, %.6f M params, %.4f G FLOPs (flops_ref)\n",
            (long long)evaluations, (long long)generations, (long long)population,
            (long long)images, split, arch, fitness, params / 1e6, flops / 1e9);
    return true;
}
