#include "cost.h"

#include <math.h>

ArchTotals arch_totals(const Arch *arch, const Space *space) {
    ArchTotals t = {arch->embed_dim, arch->depth, 0, 0};
    for (int l = 0; l < arch->depth; l++) {
        t.sum_qkv_dim += arch_qkv_dim(arch, space, l);
        t.sum_hidden += arch_hidden_dim(arch, l);
    }
    return t;
}

static int64_t params_of(const Space *s, ArchTotals t) {
    const int64_t E = t.embed_dim, D = t.depth, C = s->num_classes;
    const int64_t patch_in = (int64_t)s->in_channels * s->patch_size * s->patch_size;
    const int64_t rel_tables = 4 * (2 * (int64_t)s->max_relative_position + 2) * s->head_dim;
    return E * (patch_in + 1)               /* patch conv weight + bias */
           + E * (space_num_patches(s) + 2) /* cls token + position embedding */
           + 2 * E                          /* final LayerNorm */
           + C * E + C                      /* head, with its full bias */
           + D * (6 * E + rel_tables)       /* per block: 2 LayerNorms, proj and fc2 biases */
           + t.sum_qkv_dim * (4 * E + 3)    /* qkv weight + bias, proj weight */
           + t.sum_hidden * (2 * E + 1);    /* fc1 weight + bias, fc2 weight */
}

/* Literally the reference's get_complexity(sequence_length = Np), including the +1 / +2 it
 * adds to the sequence length on the way into blocks and the halves it counts in floats. */
static double flops_ref_of(const Space *s, ArchTotals t) {
    const double E = t.embed_dim, D = t.depth, C = s->num_classes, R = s->max_relative_position;
    const double Np = space_num_patches(s), n = Np + 2;
    const double patch_in = (double)s->in_channels * s->patch_size * s->patch_size;
    const double sum_q = (double)t.sum_qkv_dim, sum_m = (double)t.sum_hidden;
    return E + Np * patch_in * E                                 /* patch conv, bias counted once */
           + (Np + 1) * E / 2.0                                  /* position-embedding add */
           + D * 2 * n * E                                       /* two LayerNorms per block */
           + n * 3 * sum_q * E                                   /* qkv */
           + 2 * n * n * sum_q                                   /* q.k^T and A.v */
           + n * sum_q * E                                       /* proj */
           + D * (2 * R * n * n + n * n / 2.0) + n * sum_q / 2.0 /* relative positions */
           + 2 * n * E * sum_m                                   /* fc1 + fc2 */
           + (Np + 1) * C * E;                                   /* head, over all tokens */
}

static int64_t macs_of(const Space *s, ArchTotals t) {
    const int64_t E = t.embed_dim, C = s->num_classes, Np = space_num_patches(s), N = Np + 1;
    const int64_t patch_in = (int64_t)s->in_channels * s->patch_size * s->patch_size;
    return Np * patch_in * E + C * E   /* patch conv, head on the pooled token */
           + N * E * 3 * t.sum_qkv_dim /* qkv */
           + 4 * N * N * t.sum_qkv_dim /* q.k^T, A.v and the relative terms q.Rk, A.Rv */
           + N * t.sum_qkv_dim * E     /* proj */
           + 2 * N * E * t.sum_hidden; /* fc1 + fc2 */
}

ArchCost cost_of_totals(const Space *space, ArchTotals totals) {
    return (ArchCost){params_of(space, totals), llround(flops_ref_of(space, totals)),
                      macs_of(space, totals)};
}

ArchCost arch_cost(const Arch *arch, const Space *space) {
    return cost_of_totals(space, arch_totals(arch, space));
}

int64_t supernet_param_count(const Space *space) {
    const SupernetShape *sn = &space->supernet;
    ArchTotals whole = {sn->embed_dim, sn->depth,
                        (int64_t)sn->depth * space->head_dim * sn->num_heads,
                        (int64_t)sn->depth * mlp_hidden_width(sn->embed_dim, sn->mlp_ratio)};
    return params_of(space, whole);
}
