#ifndef PRENAS_PROXY_ANALYSIS_H
#define PRENAS_PROXY_ANALYSIS_H

/* How well a zero-cost proxy of scores.h5 predicts measured accuracies (method.md §11): the
 * measurements, from prenas-evaluate's eval.h5 or a CSV file, in isomer groups, and per proxy
 * the mean Best Rank inside the groups and Kendall's tau-b overall and inside them. */

#include "arch.h"
#include "error.h"
#include "proxy.h"
#include "scores.h"
#include "space.h"

#include <stdbool.h>

typedef struct {
    Arch arch;
    double accuracy;
} Measured;

/* Isomers (the same width and depth, the same multisets of heads and of MLP ratios) are
 * consecutive; groups, and members inside a group, are in lexicographic order of their
 * per-layer lists, so that nothing depends on the order of the source. */
typedef struct {
    int n, n_groups;
    Measured *items;
    int *group_start; /* [n_groups + 1]: group g is items [group_start[g], group_start[g + 1]) */
    char *source;     /* where the accuracies come from, one line for a report */
} Measurements;

/* Both readers require every architecture to be one of `space`, the space the scores were
 * computed for (only its architectures have proxy values), at least two architectures, and
 * none twice. */
/* The top-1 accuracies of eval.h5 (prenas-evaluate); `source` names the split, the dataset
 * and the supernet. */
bool measurements_read_eval(const char *path, const Space *space, Measurements *out, Error *err);
/* Lines ARCH,ACCURACY with finite accuracies; blank lines and `#` comments are allowed, and
 * line 1 is a header when its first field is not an architecture. */
bool measurements_read_csv(const char *path, const Space *space, Measurements *out, Error *err);
void measurements_free(Measurements *m);

typedef struct {
    double mbr;               /* over the groups of two or more members; NaN when none */
    int mbr_groups;           /* those groups */
    double tau_all;           /* ranking value against accuracy over every architecture */
    double tau_groups;        /* the mean of the groups' taus that are defined; NaN when none */
    double *best_rank, *taus; /* per group: -1 for a group of one, NaN where tau is undefined */
} ProxyAnalysis;

/* Inside a group, isomers are compared by the allocation value the proxy gives them (what
 * prenas-select maximises); over all architectures by its ranking value; a proxy without
 * tables (params) by its architecture value in both. False when scores.h5 has no tables for
 * the proxy. */
bool proxy_analysis(const ScoreTables *tables, const Proxy *proxy, const Space *space,
                    const Measurements *m, ProxyAnalysis *out);
void proxy_analysis_free(ProxyAnalysis *a);

#endif
