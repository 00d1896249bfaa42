#ifndef PRENAS_COST_H
#define PRENAS_COST_H

/* The resource model of method.md §4. Every count depends on an architecture only through
 * its width, depth, total q/k/v width and total MLP width, so isomers (permutations of the
 * per-layer choices) cost the same and a whole isomer group is costed from its totals. */

#include "arch.h"
#include "space.h"

#include <stdint.h>

typedef struct {
    int embed_dim, depth;
    int64_t sum_qkv_dim; /* sum over layers of head_dim * heads */
    int64_t sum_hidden;  /* sum over layers of mlp_hidden_width(E, ratio) */
} ArchTotals;

typedef struct {
    int64_t params;    /* §4.1, the reference's get_sampled_params_numel: exact */
    int64_t flops_ref; /* §4.3, the reference's get_complexity(Np), rounded to an integer */
    int64_t macs;      /* §4.4, multiply-accumulates of the matrix products */
} ArchCost;

ArchTotals arch_totals(const Arch *arch, const Space *space);
ArchCost cost_of_totals(const Space *space, ArchTotals totals);
ArchCost arch_cost(const Arch *arch, const Space *space);
/* Every tensor of the supernet, as the reference allocates it. */
int64_t supernet_param_count(const Space *space);

#endif
