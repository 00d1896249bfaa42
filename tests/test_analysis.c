/* mean Best Rank and Kendall's tau-b (method.md §11) on hand-computed cases, and the
 * O(n log n) tau against the O(n^2) definition; accuracies from a CSV file in isomer groups,
 * whatever the order of its lines, and a proxy's analysis on them. */
#include "check.h"

#include "analysis.h"
#include "cost.h"
#include "proxy_analysis.h"
#include "rng.h"

#include <stdlib.h>
#include <unistd.h>

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

static const char *const LINES[] = {
    "48:4:3,3,3,4:3,3,3,4,71.5",   "48:4:3,3,4,3:3,3,3,4,70", "48:4:4,3,3,3:3,3,3,4,72",
    "64:5:5,5,5,5,5:4,4,4,4,4,80", "48:4:3,3,3,4:3,4,3,3,69", "48:4:3,3,3,4:4,3,3,3,70",
};
enum { N_LINES = sizeof LINES / sizeof *LINES };

static bool read_lines(const char *path, const int *order, int n, const char *extra,
                       const Space *space, Measurements *m, Error *err) {
    FILE *f = fopen(path, "w");
    fputs("arch,top1\n# a comment\n\n", f);
    for (int i = 0; i < n; i++) fprintf(f, "%s\n", LINES[order[i]]);
    if (extra) fprintf(f, "%s\n", extra);
    fclose(f);
    return measurements_read_csv(path, space, m, err);
}

/* Isomer groups from a CSV file in any order of its lines; errors; a proxy's analysis. */
static void measurements(void) {
    char dir[] = "/tmp/prenas-test-analysis-XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/acc.csv", dir);
    Error err = {0};
    Space *space = space_load_file("configs/spaces/micro.cfg", &err);
    Measurements m, again;
    const int forward[N_LINES] = {0, 1, 2, 3, 4, 5}, backward[N_LINES] = {5, 4, 3, 2, 1, 0};
    CHECK(read_lines(path, forward, N_LINES, NULL, space, &m, &err));
    CHECK(read_lines(path, backward, N_LINES, NULL, space, &again, &err));
    CHECK_EQ_I64(m.n, N_LINES);
    CHECK_EQ_I64(m.n_groups, 2); /* five 48:4 isomers and one 64:5 */
    CHECK_EQ_I64(m.group_start[1], 5);
    CHECK_EQ_I64(m.group_start[2], 6);
    CHECK(m.n == again.n && m.n_groups == again.n_groups &&
          memcmp(m.items, again.items, sizeof *m.items * (size_t)m.n) == 0);
    char first[ARCH_TEXT_MAX];
    arch_format(&m.items[0].arch, first, sizeof first);
    CHECK(strcmp(first, "48:4:3,3,3,4:3,3,3,4") == 0); /* lexicographic, heads first */
    CHECK(strcmp(m.source, path) == 0);

    /* params cannot tell isomers apart (mBR 0.5 in the group of five); over all six, the
     * larger 64:5 architecture is also the most accurate */
    ScoreTables tables = {.layout = score_layout(space)};
    ProxyAnalysis a;
    CHECK(proxy_analysis(&tables, &PROXY_PARAMS, space, &m, &a));
    CHECK_NEAR(a.mbr, 0.5, 1e-15);
    CHECK_EQ_I64(a.mbr_groups, 1);
    CHECK(a.best_rank[1] < 0 && isnan(a.taus[1]) && isnan(a.tau_groups));
    double params[N_LINES], accuracy[N_LINES];
    for (int i = 0; i < N_LINES; i++)
        params[i] = (double)arch_cost(&m.items[i].arch, space).params,
        accuracy[i] = m.items[i].accuracy;
    CHECK_NEAR(a.tau_all, kendall_tau_b(params, accuracy, N_LINES), 1e-15);
    CHECK(a.tau_all > 0);
    proxy_analysis_free(&a);
    CHECK(!proxy_analysis(&tables, &PROXY_SNIP, space, &m, &a)); /* no tables */
    measurements_free(&m), measurements_free(&again);

    err = (Error){0};
    CHECK(!read_lines(path, forward, 2, "48:4:3,3,4,3:3,3,3,4,65", space, &m, &err));
    CHECK(strstr(err.message, "48:4:3,3,4,3:3,3,3,4 is listed twice") != NULL);
    err = (Error){0};
    CHECK(!read_lines(path, forward, 2, "48:4:3,3,3,6:3,3,3,4,65", space, &m, &err));
    CHECK(strstr(err.message, "6 heads, not a choice (3, 4, 5)") != NULL);
    CHECK(strstr(err.message, "(the scores' space), ") != NULL &&
          strstr(err.message, ":6") != NULL);
    err = (Error){0};
    CHECK(!read_lines(path, forward, 1, "48:4:3,3,3,4:3,3,3,4 71", space, &m, &err));
    CHECK(strstr(err.message, "expected ARCH,ACCURACY") != NULL);
    err = (Error){0};
    CHECK(!read_lines(path, forward, 1, NULL, space, &m, &err));
    CHECK(strstr(err.message, "fewer than two architectures") != NULL);
    unlink(path);
    rmdir(dir);
    space_free(space);
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
    measurements();
    return check_summary();
}
