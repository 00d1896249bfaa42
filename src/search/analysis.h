#ifndef PRENAS_ANALYSIS_H
#define PRENAS_ANALYSIS_H

/* How well a proxy predicts accuracy (method.md §11): mean Best Rank inside groups of
 * architectures, and Kendall's tau-b. */

#include <stddef.h>

/* Kendall's tau-b between x and y (ties handled), O(n log n) (Knight 1966); NaN when either
 * is constant or n < 2. */
double kendall_tau_b(const double *x, const double *y, size_t n);

/* One group: the proxy picks its highest-proxy member; its accuracy rank r among the group
 * (1 = most accurate, equal accuracies share the average rank) gives (r - 1) / (size - 1):
 * 0 when the proxy picks the best, 1 the worst. When several members tie for the highest
 * value, the pick is any of them with equal chance: their mean (so that the result does not
 * depend on the members' order, and a proxy that cannot tell isomers apart scores as a
 * random pick). Groups of one member are skipped (-1). */
double best_rank(const double *proxy, const double *accuracy, size_t n);

#endif
