#ifndef PRENAS_EVOLUTION_H
#define PRENAS_EVOLUTION_H

/* AutoFormer's evolutionary search over a trained supernet (method.md §12.2; the reference's
 * EvolutionSearcher in evolution.py), the baseline that PreNAS's zero-cost selection replaces.
 *
 * Generation 0 is `population` random legal architectures. After each generation has been
 * evaluated, it is merged into the top-`parents` and top-`keep` lists (stable sort by fitness,
 * descending, truncated); the next generation is up to `mutations` mutants and `crossovers`
 * children of the top-`parents` list (at most 10 tries per wanted child, the reference's
 * max_iters) filled up with random legal architectures. The result is the best of the
 * top-`keep` list after the last generation.
 *
 * Legal: in the space, min <= params <= max and min <= flops <= max (both inclusive), and
 * never evaluated before in this search.
 *
 * Where prenas differs from the reference, and why:
 *  - the reference evaluates one more population after its last merge and never looks at it;
 *    here `generations` populations are evaluated and every one is merged, which gives the
 *    same result for 1/21 fewer evaluations;
 *  - random filling stops after EVOLUTION_RANDOM_TRIES draws per wanted architecture (the
 *    reference draws forever when the limits leave too few architectures);
 *  - two crossover parents of different depths after 50 re-draws make a failed try (the
 *    reference zips tuples of different lengths into a malformed candidate);
 *  - in the `widths` form, choices are drawn from the lists of the architecture's width, and
 *    a child whose new width does not allow its depth or choices is an illegal try.
 *
 * A CNN space (method.md §13) searches the same way with the operators below; its flops are
 * the papers' FLOPs (= MACs, cnn_cost.h) where a ViT's are the reference's flops_ref.
 *
 * Randomness: generation g draws from the stream (seed, RNG_STREAM_EVOLUTION, g), so the
 * search is a function of the seed and the fitness values. */

#include "error.h"
#include "h5.h"
#include "model_family.h"
#include "rng.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define SEARCH_SCHEMA "prenas.search"
enum { SEARCH_SCHEMA_VERSION = 1, EVOLUTION_RANDOM_TRIES = 20000 };

typedef struct {
    int population;            /* 50 */
    int parents;               /* 10: the top-k list that breeds (the reference's select_num) */
    int keep;                  /* 50: the top list the result is taken from */
    int mutations, crossovers; /* 25, 25 per generation at most */
    int generations;           /* 20 populations evaluated */
    double m_prob, s_prob;     /* 0.2: per-layer re-draw; 0.4: depth and width re-draw */
    int64_t min_params, max_params; /* inclusive; 0 and INT64_MAX: no limit */
    int64_t min_flops, max_flops;   /* the reference's count (§4.3), inclusive */
    uint64_t seed;
} EvolutionOptions;

EvolutionOptions evolution_defaults(void);

typedef enum { ORIGIN_RANDOM, ORIGIN_MUTATION, ORIGIN_CROSSOVER } EvolutionOrigin;
const char *evolution_origin_name(EvolutionOrigin origin); /* "random", "mutation", ... */

typedef struct {
    ModelArch arch;
    ModelCost cost; /* flops: the ViT's flops_ref, the CNN's FLOPs */
    double fitness; /* higher is better; NaN ranks below everything */
    int generation;
    EvolutionOrigin origin;
} Evaluated;

/* Tries that made no architecture, by reason (for reports: limits that are too tight). */
typedef struct {
    int64_t limits, seen, outside_space, unpaired;
} EvolutionRejects;

typedef struct {
    EvolutionOptions options;
    Evaluated *evaluated; /* every architecture evaluated, in evaluation order */
    int64_t n_evaluated;
    int generations_done;
    /* after generation g: rows g of [generations, parents] and [generations, keep], indices
     * into `evaluated`, best first, -1 past the list's end */
    int64_t *parents, *top;
    EvolutionRejects rejected;
    int64_t capacity; /* allocated length of `evaluated` */
} Evolution;

/* A whole generation's fitness at once (the stage shares each evaluation among its ranks):
 * fitness[i] of archs[i], i < n. Every rank must be given the same values. */
typedef void (*EvolutionFitness)(const ModelArch *archs, int n, double *fitness, void *ctx);
/* Called after each generation has been evaluated and merged (progress reports). */
typedef void (*EvolutionProgress)(const Evolution *evolution, void *ctx);

/* Whether the limits leave the space any architecture, judged by its extremes: an input error
 * naming the smallest (or largest) architecture and its cost when they cannot. */
bool evolution_check_limits(const ModelSpace *space, const EvolutionOptions *options, Error *err);
/* The search; false and err set when the limits admit no architecture (checked first, then
 * when generation 0 finds none in its random draws). `progress` may be NULL. */
bool evolution_run(const ModelSpace *space, const EvolutionOptions *options,
                   EvolutionFitness fitness, EvolutionProgress progress, void *ctx,
                   Evolution *evolution, Error *err);
void evolution_free(Evolution *evolution);
/* The best of the top-`keep` list after the last generation. */
const Evaluated *evolution_best(const Evolution *evolution);
/* The top-`parents` or top-`keep` list after generation g: its length, *list its indices. */
int evolution_parents(const Evolution *evolution, int generation, const int64_t **list);
int evolution_top(const Evolution *evolution, int generation, const int64_t **list);

/* The operators (exposed for tests). A ViT's draw in the reference's order:
 *   random: depth, every layer's MLP ratio, every layer's heads, width (`choices` form); the
 *     width first in the `widths` form, where it decides the other lists (arch_sample);
 *   mutate: with probability s_prob a new depth (new layers: their ratios, then their heads);
 *     every ratio re-drawn with probability m_prob, then every head count; with probability
 *     s_prob a new width;
 *   crossover: each position (ratios, heads, width) from either parent with probability 1/2;
 *     the parents have the same depth.
 * A CNN's (the reference has none; AutoFormer's rates, as OFA's evolution re-draws each gene):
 *   random: uniform over the space (cnn_arch_sample);
 *   mutate: the structural choices, resolution, stem width, then per stage its depth and
 *     width, then the head width, each re-drawn with probability s_prob; the per-layer
 *     choices, every stage's kernel then expansion ratio, each with probability m_prob;
 *   crossover: each of those choices from either parent with probability 1/2 (any two CNNs of
 *     a space pair: they have the same stages).
 * `parent` must be in the space. */
void evolution_random(const ModelSpace *space, Rng *rng, ModelArch *arch);
void evolution_mutate(const ModelSpace *space, const ModelArch *parent, double m_prob,
                      double s_prob, Rng *rng, ModelArch *child);
void evolution_crossover(const ModelArch *a, const ModelArch *b, Rng *rng, ModelArch *child);
/* Whether two architectures can be crossed: a ViT's of the same depth, any two CNNs. */
bool evolution_pairs(const ModelArch *a, const ModelArch *b);

/* search.h5 (docs/artefacts.md): the options, the history, the lists after each generation
 * and the result. `split` and `images` say what the fitness was measured on. */
void evolution_write(hid_t file, const Evolution *evolution, const char *split, int64_t images,
                     double seconds);
/* A few lines on a search.h5 for prenas-inspect: its result, split and evaluations. */
bool evolution_print_file(const H5Source *src, FILE *out);

#endif
