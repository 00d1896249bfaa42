/* Architecture sampling (method.md §9.1, §9.9, §12.1): balanced frequencies against the
 * golden probabilities, step streams, and draws that stay in their space. */
#include "check.h"
#include "golden.h"

#include "arch.h"
#include "sampler.h"
#include "space.h"

#include <stdio.h>
#include <stdlib.h>

/* Chi-square test of observed counts against probabilities. The critical values are the
 * 0.999 quantiles, so a correct sampler fails with probability 0.001 for a random seed; the
 * seed here is fixed, which makes the test deterministic. */
static bool chi_square_ok(const long *observed, const double *p, int k, long n, double critical) {
    double chi2 = 0;
    for (int i = 0; i < k; i++)
        chi2 += (observed[i] - n * p[i]) * (observed[i] - n * p[i]) / (n * p[i]);
    printf("  chi-square %.2f with %d degrees of freedom (reject above %.2f)\n", chi2, k - 1,
           critical);
    return chi2 < critical;
}

static void balanced_tiny(void) {
    Arch archs[6];
    Error err = {0};
    for (int i = 0; i < 6; i++) CHECK(arch_parse(GOLDEN_CANDIDATES[i].arch, &archs[i], &err));
    Sampler s;
    sampler_init(&s, SAMPLING_BALANCED, 7, archs, 6, NULL, NULL);
    /* groups (192,12), (216,12), (240,12){8.0, 9.0}, (240,14){10.0, 11.0}: 1/4 1/4 1/8 x 4 */
    const double expected[6] = {0.25, 0.25, 0.125, 0.125, 0.125, 0.125};
    CHECK_EQ_I64(s.n_groups, 4);
    for (int i = 0; i < 6; i++) CHECK_NEAR(sampler_probability(&s, i), expected[i], 1e-15);
    const long n = 200000;
    long counts[6] = {0};
    for (long step = 0; step < n; step++) {
        Arch a;
        sampler_draw(&s, step, &a);
        for (int i = 0; i < 6; i++) counts[i] += arch_equal(&a, &archs[i]);
    }
    long total = 0;
    for (int i = 0; i < 6; i++) total += counts[i];
    CHECK_EQ_I64(total, n);
    printf("balanced, Tiny golden candidates, %ld draws:\n", n);
    CHECK(chi_square_ok(counts, expected, 6, n, 20.515)); /* 5 dof */
    /* Small's four singleton groups: 1/4 each */
    Arch small[4];
    for (int i = 0; i < 4; i++) CHECK(arch_parse(GOLDEN_CANDIDATES[6 + i].arch, &small[i], &err));
    sampler_init(&s, SAMPLING_BALANCED, 7, small, 4, NULL, NULL);
    CHECK_EQ_I64(s.n_groups, 4);
    CHECK_NEAR(sampler_probability(&s, 3), 0.25, 1e-15);
}

static void uniform_and_steps(void) {
    Arch archs[6];
    Error err = {0};
    for (int i = 0; i < 6; i++) CHECK(arch_parse(GOLDEN_CANDIDATES[i].arch, &archs[i], &err));
    Sampler s;
    sampler_init(&s, SAMPLING_UNIFORM, 3, archs, 6, NULL, NULL);
    const long n = 120000;
    long counts[6] = {0};
    const double expected[6] = {1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 6};
    for (long step = 0; step < n; step++) {
        Arch a;
        sampler_draw(&s, step, &a);
        for (int i = 0; i < 6; i++) counts[i] += arch_equal(&a, &archs[i]);
    }
    printf("uniform, %ld draws:\n", n);
    CHECK(chi_square_ok(counts, expected, 6, n, 20.515));
    /* a step's draw depends on the step only: the same again, in any order */
    Arch first, again;
    sampler_draw(&s, 12345, &first);
    sampler_draw(&s, 3, &again);
    sampler_draw(&s, 12345, &again);
    CHECK(arch_equal(&first, &again));
}

static void whole_space_draws(void) {
    Error err = {0};
    Space *space = space_load_file("configs/spaces/vit-small.cfg", &err);
    Sampler s;
    sampler_init(&s, SAMPLING_SPACE, 5, NULL, 0, space, NULL);
    int valid = 0, depth13 = 0;
    const int n = 20000;
    for (int step = 0; step < n; step++) {
        Arch a;
        Error e = {0};
        sampler_draw(&s, step, &a);
        valid += arch_check(&a, space, &e);
        depth13 += a.depth == 13;
    }
    CHECK_EQ_I64(valid, n);
    CHECK(abs(depth13 - n / 2) < 5 * 71); /* binomial(20000, 1/2): sd 71 */
    Arch fixed;
    CHECK(arch_parse(GOLDEN_CANDIDATES[7].arch, &fixed, &err));
    sampler_init(&s, SAMPLING_FIXED, 5, NULL, 0, space, &fixed);
    Arch a;
    sampler_draw(&s, 99, &a);
    CHECK(arch_equal(&a, &fixed));
    space_free(space);
}

int main(void) {
    balanced_tiny();
    uniform_and_steps();
    whole_space_draws();
    return check_summary();
}
