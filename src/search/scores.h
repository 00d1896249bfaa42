#ifndef PRENAS_SCORES_H
#define PRENAS_SCORES_H

/* What prenas-select needs from the gradient pass, per proxy (method.md §6.3, §6.4), as small
 * tables of sums of per-weight saliencies over leading blocks of the supernet's matrices:
 *
 *  allocation (isomers, §7): per width w, layer l,
 *    alloc_heads[w][l][h] = saliency of the q/k/v rows of the first h heads,
 *    alloc_mlp[w][l][r]   = saliency of fc1 rows and fc2 columns [0, mlp_hidden_width(E, r)),
 *  restricted to the width's columns (or the space's largest width) and, for layer-normalised
 *  proxies, divided by ||W||_1 ||G||_1 of each matrix. Increments of §6.3 are differences of
 *  consecutive choices, e.g. alloc_heads[w][l][4] - alloc_heads[w][l][3].
 *
 *  ranking (§6.4): the saliency of everything a subnet inherits, split so that any
 *  architecture's total costs O(depth):
 *    rank_global[w] + sum over l < D of (rank_fixed[l][w] + rank_heads[l][w][h_l]
 *                                         + rank_mlp[l][w][r_l]).
 *
 * Stored in scores.h5 (schema prenas.scores, docs/artefacts.md). */

#include "h5.h"
#include "proxy.h"
#include "space.h"
#include "vit.h"

#include <stdbool.h>

#define SCORES_SCHEMA "prenas.scores"
enum { SCORES_SCHEMA_VERSION = 1, SCORES_MAX_RATIOS = 64, SCORES_MAX_PROXIES = 8 };

typedef struct {
    int n_widths, depth, max_heads, head_dim, n_ratios;
    int widths[SPACE_MAX_CHOICES]; /* the space's widths, configuration order */
    int ratios[SCORES_MAX_RATIOS]; /* every MLP ratio of the space, thousandths, ascending */
} ScoreLayout;

typedef struct {
    const Proxy *proxy;
    double *alloc_heads; /* [n_widths][depth][max_heads + 1] */
    double *alloc_mlp;   /* [n_widths][depth][n_ratios] */
    double *rank_global; /* [n_widths] */
    double *rank_fixed;  /* [depth][n_widths] */
    double *rank_heads;  /* [depth][n_widths][max_heads + 1] */
    double *rank_mlp;    /* [depth][n_widths][n_ratios] */
} ProxyTables;

typedef struct {
    ScoreLayout layout;
    int n_proxies;
    ProxyTables proxies[SCORES_MAX_PROXIES];
} ScoreTables;

ScoreLayout score_layout(const Space *space);
int layout_width(const ScoreLayout *layout, int embed_dim); /* index, or -1 */
int layout_ratio(const ScoreLayout *layout, int ratio);     /* index, or -1 */

/* Every registered proxy's tables from the supernet's parameters and gradients. */
void score_tables_compute(ScoreTables *tables, const Vit *vit, const Space *space);
void score_tables_free(ScoreTables *tables);
const ProxyTables *score_tables_find(const ScoreTables *tables, const Proxy *proxy);

/* The ranking value of an architecture (§6.4 for saliency proxies). */
double score_rank(const ScoreTables *tables, const Proxy *proxy, const Arch *arch,
                  const Space *space);
/* The isomer value: the allocation saliency its choices collect, summed over its layers
 * (what the allocation of §7 maximises inside an isomer group, for K = 2). */
double score_isomer_value(const ScoreTables *tables, const Proxy *proxy, const Arch *arch);

void scores_write(hid_t file, const ScoreTables *tables);
/* Tables for every proxy this build knows that the file holds; the layout must be `space`'s. */
bool scores_read(const H5Source *src, const Space *space, ScoreTables *tables);

#endif
