#ifndef PRENAS_TESTS_CNN_CASE_H
#define PRENAS_TESTS_CNN_CASE_H

/* What the CNN supernet's tests share (test_cnn_net, test_cnn_oracle, test_gradcheck, in float
 * or double): a space loaded or the test ends, an architecture parsed and checked, and random
 * supernet weights on a CPU net. */

#include "check.h"
#include "cnn_arch.h"
#include "cnn_net.h"
#include "cnn_space.h"
#include "rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline CnnSpace *cnn_case_space(const char *path) {
    Error err = {0};
    CnnSpace *space = cnn_space_load_file(path, &err);
    if (!space) {
        fprintf(stderr, "%s\n", err.message);
        exit(1);
    }
    return space;
}

static inline CnnArch cnn_case_arch(const char *text, const CnnSpace *space) {
    CnnArch arch;
    Error err = {0};
    if (!CHECK(cnn_arch_parse(text, &arch, &err) && cnn_arch_check(&arch, space, &err)))
        fprintf(stderr, "     %s\n", err.message);
    return arch;
}

/* Random weights, not the initialisation (whose zero gammas would stop gradients): conv and
 * linear weights uniform with the variance 1 / fan_in of the supernet's shape, BN gammas in
 * [0.5, 1.5], BN betas and biases in [-0.5, 0.5]. The net's backend must be the CPU. */
static inline void cnn_case_random_weights(CnnNet *net, Rng *rng) {
    for (int i = 0; i < net->table.n_tensors; i++) {
        const TensorInfo *t = &net->table.tensors[i];
        real *data = net->table.params + t->offset;
        const size_t n = strlen(t->name);
        const bool gamma = n > 10 && strcmp(t->name + n - 10, ".bn.weight") == 0;
        double fan_in = 1;
        for (int d = 1; d < t->ndim; d++) fan_in *= (double)t->shape[d];
        for (size_t j = 0; j < t->count; j++) {
            const double u = 2 * rng_uniform(rng) - 1;
            data[j] = (real)(t->ndim >= 2 ? u * sqrt(3 / fan_in) : gamma ? 1 + 0.5 * u : 0.5 * u);
        }
    }
}

#endif
