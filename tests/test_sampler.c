/* Architecture sampling (method.md §9.1, §9.9, §12.1): balanced frequencies against the
 * golden probabilities, step streams, and draws that stay in their space. */
#include "check.h"
#include "golden.h"

#include "model_space.h"
#include "sampler.h"

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

/* The golden candidates [first, first + n) as ViT architectures. */
static void golden(int first, int n, ModelArch *archs) {
    Error err = {0};
    for (int i = 0; i < n; i++)
        CHECK(model_arch_read_stored(GOLDEN_CANDIDATES[first + i].arch, FAMILY_VIT, NULL, "golden",
                                     &archs[i], &err));
}

static void balanced_tiny(void) {
    ModelArch archs[6];
    golden(0, 6, archs);
    Sampler s;
    sampler_init(&s, SAMPLING_BALANCED, 7, archs, 6, NULL, NULL);
    /* groups (192,12), (216,12), (240,12){8.0, 9.0}, (240,14){10.0, 11.0}: 1/4 1/4 1/8 x 4 */
    const double expected[6] = {0.25, 0.25, 0.125, 0.125, 0.125, 0.125};
    CHECK_EQ_I64(s.n_groups, 4);
    for (int i = 0; i < 6; i++) CHECK_NEAR(sampler_probability(&s, i), expected[i], 1e-15);
    const long n = 200000;
    long counts[6] = {0};
    for (long step = 0; step < n; step++) {
        ModelArch a;
        sampler_draw(&s, step, &a);
        for (int i = 0; i < 6; i++) counts[i] += model_arch_equal(&a, &archs[i]);
    }
    long total = 0;
    for (int i = 0; i < 6; i++) total += counts[i];
    CHECK_EQ_I64(total, n);
    printf("balanced, Tiny golden candidates, %ld draws:\n", n);
    CHECK(chi_square_ok(counts, expected, 6, n, 20.515)); /* 5 dof */
    /* Small's four singleton groups: 1/4 each */
    ModelArch small[4];
    golden(6, 4, small);
    sampler_init(&s, SAMPLING_BALANCED, 7, small, 4, NULL, NULL);
    CHECK_EQ_I64(s.n_groups, 4);
    CHECK_NEAR(sampler_probability(&s, 3), 0.25, 1e-15);
}

static void uniform_and_steps(void) {
    ModelArch archs[6];
    golden(0, 6, archs);
    Sampler s;
    sampler_init(&s, SAMPLING_UNIFORM, 3, archs, 6, NULL, NULL);
    const long n = 120000;
    long counts[6] = {0};
    const double expected[6] = {1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 6};
    for (long step = 0; step < n; step++) {
        ModelArch a;
        sampler_draw(&s, step, &a);
        for (int i = 0; i < 6; i++) counts[i] += model_arch_equal(&a, &archs[i]);
    }
    printf("uniform, %ld draws:\n", n);
    CHECK(chi_square_ok(counts, expected, 6, n, 20.515));
    /* a step's draw depends on the step only: the same again, in any order */
    ModelArch first, again;
    sampler_draw(&s, 12345, &first);
    sampler_draw(&s, 3, &again);
    sampler_draw(&s, 12345, &again);
    CHECK(model_arch_equal(&first, &again));
}

static void whole_space_draws(void) {
    Error err = {0};
    ModelSpace space;
    CHECK(model_space_load_file("configs/spaces/vit-small.cfg", &space, &err));
    Sampler s;
    sampler_init(&s, SAMPLING_SPACE, 5, NULL, 0, &space, NULL);
    int valid = 0, depth13 = 0;
    const int n = 20000;
    for (int step = 0; step < n; step++) {
        ModelArch a;
        Error e = {0};
        sampler_draw(&s, step, &a);
        valid += a.family == FAMILY_VIT && arch_check(&a.vit, space.vit, &e);
        depth13 += a.vit.depth == 13;
    }
    CHECK_EQ_I64(valid, n);
    CHECK(abs(depth13 - n / 2) < 5 * 71); /* binomial(20000, 1/2): sd 71 */
    ModelArch fixed;
    golden(7, 1, &fixed);
    sampler_init(&s, SAMPLING_FIXED, 5, NULL, 0, &space, &fixed);
    ModelArch a;
    sampler_draw(&s, 99, &a);
    CHECK(model_arch_equal(&a, &fixed));
    model_space_free(&space);
}

/* The CNN's groups: the same resolution and widths (stem, stages, head), whatever the depths,
 * kernels and expansions; each group 1/groups of the steps, shared by its members. */
static void balanced_cnn(void) {
    Error err = {0};
    ModelSpace space;
    CHECK(model_space_load_file("configs/spaces/cnn-micro.cfg", &space, &err));
    const char *texts[5] = {
        "28:16:8x1k3e1:16x1k3e6:24x1k3e6:40x1k3e6:56x1k3e6:192",
        "28:16:8x1k3e1:16x2k5e6:24x3k5e6:40x1k3e6:56x2k3e6:192", /* the first's group */
        "24:16:8x1k3e1:16x1k3e6:24x1k3e6:40x1k3e6:56x1k3e6:192", /* another resolution */
        "28:24:8x1k3e1:16x1k3e6:24x1k3e6:40x1k3e6:56x1k3e6:192", /* another stem */
        "28:16:8x1k3e1:16x1k3e6:24x1k3e6:48x1k3e6:56x1k3e6:192", /* another stage width */
    };
    ModelArch archs[5];
    for (int i = 0; i < 5; i++) CHECK(model_arch_parse(texts[i], &space, &archs[i], &err));
    Sampler s;
    sampler_init(&s, SAMPLING_BALANCED, 11, archs, 5, &space, NULL);
    CHECK_EQ_I64(s.n_groups, 4);
    const double expected[5] = {0.125, 0.125, 0.25, 0.25, 0.25};
    for (int i = 0; i < 5; i++) CHECK_NEAR(sampler_probability(&s, i), expected[i], 1e-15);
    const long n = 100000;
    long counts[5] = {0};
    for (long step = 0; step < n; step++) {
        ModelArch a;
        sampler_draw(&s, step, &a);
        for (int i = 0; i < 5; i++) counts[i] += model_arch_equal(&a, &archs[i]);
    }
    printf("balanced, CNN micro space, %ld draws:\n", n);
    CHECK(chi_square_ok(counts, expected, 5, n, 18.467)); /* 4 dof */
    /* the whole space: every draw in it */
    sampler_init(&s, SAMPLING_SPACE, 5, NULL, 0, &space, NULL);
    int valid = 0;
    for (int step = 0; step < 2000; step++) {
        ModelArch a;
        Error e = {0};
        sampler_draw(&s, step, &a);
        valid += a.family == FAMILY_CNN && cnn_arch_check(&a.cnn, space.cnn, &e);
    }
    CHECK_EQ_I64(valid, 2000);
    model_space_free(&space);
}

int main(void) {
    balanced_tiny();
    uniform_and_steps();
    whole_space_draws();
    balanced_cnn();
    return check_summary();
}
