/* mean Best Rank and Kendall's tau-b (method.md §11) on hand-computed cases, and the
 * O(n log n) tau against the O(n^2) definition. */
#include "check.h"

#include "analysis.h"
#include "rng.h"

#include <stdlib.h>

static double naive_tau_b(const double *x, const double *y, int n) {
    long concordant = 0, discordant = 0, tie_x = 0, tie_y = 0, pairs = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            pairs++;
            const double dx = x[i] - x[j], dy = y[i] - y[j];
            if (dx == 0) tie_x++;
            if (dy == 0) tie_y++;
            if (dx != 0 && dy != 0) (dx > 0) == (dy > 0) ? concordant++ : discordant++;
        }
    return (double)(concordant - discordant) /
           sqrt((double)(pairs - tie_x) * (double)(pairs - tie_y));
}

int main(void) {
    const double x[5] = {1, 2, 3, 4, 5}, y[5] = {5, 6, 7, 8, 7};
    CHECK_NEAR(kendall_tau_b(x, y, 5), 7 / sqrt(90.0), 1e-15); /* 8 concordant, 1 discordant */
    const double a[4] = {1, 1, 2, 2}, b[4] = {1, 2, 1, 2};
    CHECK_NEAR(kendall_tau_b(a, b, 4), 0, 1e-15);
    const double up[4] = {1, 2, 3, 4}, down[4] = {4, 3, 2, 1};
    CHECK_NEAR(kendall_tau_b(up, up, 4), 1, 1e-15);
    CHECK_NEAR(kendall_tau_b(up, down, 4), -1, 1e-15);
    CHECK(isnan(kendall_tau_b(up, (const double[]){3, 3, 3, 3}, 4)));
    Rng rng = rng_stream(4, 4);
    enum { N = 600 };
    double *p = malloc(N * sizeof *p), *q = malloc(N * sizeof *q);
    for (int i = 0; i < N; i++) { /* coarse values: many ties */
        p[i] = (double)rng_below(&rng, 20);
        q[i] = p[i] + (double)rng_below(&rng, 15);
    }
    CHECK_NEAR(kendall_tau_b(p, q, N), naive_tau_b(p, q, N), 1e-12);
    free(p), free(q);

    const double proxy[3] = {0.1, 0.9, 0.5}, accuracy[3] = {70, 60, 80};
    CHECK_NEAR(best_rank(proxy, accuracy, 3), 1, 1e-15); /* picks the worst */
    const double favourite[3] = {0.1, 0.5, 0.9};
    CHECK_NEAR(best_rank(favourite, accuracy, 3), 0, 1e-15); /* picks the best */
    const double tied[3] = {70, 70, 80}, pick_first[3] = {0.9, 0.1, 0.5};
    CHECK_NEAR(best_rank(pick_first, tied, 3), 0.75, 1e-15); /* average rank 2.5 of 3 */
    CHECK(best_rank(proxy, accuracy, 1) < 0);
    /* a tie for favourite: any of the tied with equal chance */
    const double two_favourites[3] = {1, 1, 0};
    CHECK_NEAR(best_rank(two_favourites, accuracy, 3), 0.75, 1e-15); /* ranks 2 and 3 */
    const double blind[4] = {5, 5, 5, 5}, four[4] = {60, 80, 70, 70};
    CHECK_NEAR(best_rank(blind, four, 4), 0.5, 1e-15); /* ranks 1, 2.5, 2.5, 4 */
    return check_summary();
}
