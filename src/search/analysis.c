#include "analysis.h"

#include "error.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double x, y;
} Pair;

static int by_x_then_y(const void *a, const void *b) {
    const Pair *p = a, *q = b;
    if (p->x != q->x) return p->x < q->x ? -1 : 1;
    return p->y < q->y ? -1 : p->y > q->y;
}

/* Sorts v by y, counting the swaps a bubble sort would make (discordant pairs). */
static int64_t merge_count(Pair *v, Pair *tmp, size_t n) {
    if (n < 2) return 0;
    const size_t half = n / 2;
    int64_t swaps = merge_count(v, tmp, half) + merge_count(v + half, tmp, n - half);
    size_t i = 0, j = half, k = 0;
    while (i < half && j < n) {
        if (v[j].y < v[i].y) {
            swaps += (int64_t)(half - i);
            tmp[k++] = v[j++];
        } else {
            tmp[k++] = v[i++];
        }
    }
    while (i < half) tmp[k++] = v[i++];
    while (j < n) tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
    return swaps;
}

/* Pairs tied in the key over runs of equal keys in sorted order. */
static int64_t tied_pairs(const Pair *v, size_t n, int by_y, int joint) {
    int64_t total = 0, run = 1;
    for (size_t i = 1; i <= n; i++) {
        bool same = i < n && (by_y ? v[i].y == v[i - 1].y : v[i].x == v[i - 1].x) &&
                    (!joint || (v[i].x == v[i - 1].x && v[i].y == v[i - 1].y));
        if (same) {
            run++;
        } else {
            total += run * (run - 1) / 2;
            run = 1;
        }
    }
    return total;
}

double kendall_tau_b(const double *x, const double *y, size_t n) {
    if (n < 2) return NAN;
    Pair *v = xmalloc(n * sizeof *v), *tmp = xmalloc(n * sizeof *tmp);
    for (size_t i = 0; i < n; i++) v[i] = (Pair){x[i], y[i]};
    qsort(v, n, sizeof *v, by_x_then_y);
    const int64_t n0 = (int64_t)n * ((int64_t)n - 1) / 2;
    const int64_t ties_x = tied_pairs(v, n, 0, 0), ties_xy = tied_pairs(v, n, 0, 1);
    const int64_t swaps = merge_count(v, tmp, n); /* v is now sorted by y */
    const int64_t ties_y = tied_pairs(v, n, 1, 0);
    free(v), free(tmp);
    /* concordant - discordant = n0 - ties_x - ties_y + ties_xy - 2 swaps */
    const double numerator = (double)(n0 - ties_x - ties_y + ties_xy - 2 * swaps);
    const double denominator = sqrt((double)(n0 - ties_x) * (double)(n0 - ties_y));
    return denominator > 0 ? numerator / denominator : NAN;
}

static int ascending(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The first index of sorted[0, n) whose value is not below (strict: above) v. */
static size_t bound(const double *sorted, size_t n, double v, bool strict) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (sorted[mid] < v || (strict && sorted[mid] == v))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

double best_rank(const double *proxy, const double *accuracy, size_t n) {
    if (n < 2) return -1;
    double top = proxy[0];
    for (size_t i = 1; i < n; i++)
        if (proxy[i] > top) top = proxy[i];
    double *sorted = xmalloc(n * sizeof *sorted);
    memcpy(sorted, accuracy, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, ascending);
    double ranks = 0;
    size_t picks = 0;
    for (size_t i = 0; i < n; i++) {
        if (proxy[i] != top) continue;
        const size_t below = bound(sorted, n, accuracy[i], false);
        const size_t not_above = bound(sorted, n, accuracy[i], true);
        /* 1 + those more accurate, plus half of the others it ties with: the average rank */
        ranks += (double)(n - not_above) + (double)(not_above - below + 1) / 2;
        picks++;
    }
    free(sorted);
    return (ranks / (double)picks - 1) / (double)(n - 1);
}
