/* The greedy isomer allocation (method.md §7): exact for two choices (checked against brute
 * force), hand-computed cases for three, and the tie rule. */
#include "check.h"

#include "allocate.h"
#include "rng.h"

#include <stdlib.h>

/* Best sum of increments over all ways to give choice 1 to exactly n1 of `depth` layers. */
static double brute_force(int depth, int n1, const double *inc) {
    double best = -1;
    for (unsigned mask = 0; mask < 1u << depth; mask++) {
        if (__builtin_popcount(mask) != n1) continue;
        double sum = 0;
        for (int l = 0; l < depth; l++)
            if (mask >> l & 1) sum += inc[l * 2 + 1];
        best = sum > best ? sum : best;
    }
    return best;
}

static void two_choices_are_exact(void) {
    Rng rng = rng_stream(17, 1);
    int checked = 0, exact = 0;
    for (int depth = 1; depth <= 12; depth++) {
        for (int trial = 0; trial < 20; trial++) {
            double inc[2 * 12];
            for (int i = 0; i < 2 * depth; i++) inc[i] = rng_uniform(&rng);
            for (int n1 = 0; n1 <= depth; n1++) {
                int counts[2] = {depth - n1, n1}, choice[12];
                allocate_choices(depth, 2, counts, inc, choice);
                double sum = 0;
                int ones = 0;
                for (int l = 0; l < depth; l++) {
                    sum += choice[l] == 1 ? inc[l * 2 + 1] : 0;
                    ones += choice[l] == 1;
                }
                checked++;
                exact += ones == n1 && sum == brute_force(depth, n1, inc);
            }
        }
    }
    CHECK_EQ_I64(exact, checked);
}

static void three_choices_by_hand(void) {
    /* increments of choice 1 and 2 per layer (column 0 unused) */
    const double inc[4 * 3] = {0, 0.1, 0.9, 0, 0.5, 0.1, 0, 0.3, 0.4, 0, 0.2, 0.8};
    int counts[3] = {1, 1, 2}, choice[4];
    allocate_choices(4, 3, counts, inc, choice);
    /* choice 2 first: layers 0 (0.9) and 3 (0.8); then choice 1 among 1, 2: layer 1 (0.5) */
    CHECK(choice[0] == 2 && choice[1] == 1 && choice[2] == 0 && choice[3] == 2);
    /* greedy: the top choice ignores what the layer would gain from the middle one */
    const double greedy[2 * 3] = {0, 10, 1, 0, 0, 0.9};
    int one_each[3] = {0, 1, 1};
    allocate_choices(2, 3, one_each, greedy, choice);
    CHECK(choice[0] == 2 && choice[1] == 1); /* 1 + 0, although 10 + 0.9 was possible */
}

static void ties_go_to_larger_layers(void) {
    const double zero[5 * 2] = {0};
    int counts[2] = {3, 2}, choice[5];
    allocate_choices(5, 2, counts, zero, choice);
    CHECK(choice[0] == 0 && choice[1] == 0 && choice[2] == 0 && choice[3] == 1 && choice[4] == 1);
    const double some[4 * 2] = {0, 0.5, 0, 0.7, 0, 0.5, 0, 0.1};
    int one[2] = {2, 2};
    allocate_choices(4, 2, one, some, choice);
    CHECK(choice[1] == 1 && choice[2] == 1 && choice[0] == 0 && choice[3] == 0);
}

int main(void) {
    two_choices_are_exact();
    three_choices_by_hand();
    ties_go_to_larger_layers();
    return check_summary();
}
