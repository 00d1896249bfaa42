#ifndef PRENAS_ANALYSIS_H
#define PRENAS_ANALYSIS_H

/* How well a proxy predicts accuracy (method.md §11): mean Best Rank inside groups of
 * architectures, and Kendall's tau-b. */

#include <stddef.h>

/* Kendall's tau-b between x and y (ties handled), O(n log n) (Knight 1966); NaN when either
 * is constant or n < 2. */
double kendall_tau_b(const double *x, const double *y, size_t n);

/* One group: the proxy picks its highest-proxy member (the first one on equal values); its
 * accuracy rank r among the group (1 = most accurate, equal accuracies share the average
 * rank) gives (r - 1) / (size - 1): 0 when the proxy picks the best, 1 the worst. Groups of
 * one member are skipped (-1). */
double best_rank(const double *proxy, const double *accuracy, size_t n);

#endif
