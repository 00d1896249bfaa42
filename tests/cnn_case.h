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

#include <math.h>
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

/* Architecture i of a coverage sweep: the space's smallest, its largest, then uniform draws. */
static inline void cnn_case_pick(const CnnSpace *space, int i, Rng *rng, CnnArch *arch) {
    if (i == 0)
        cnn_arch_smallest(space, arch);
    else if (i == 1)
        cnn_arch_largest(space, arch);
    else
        cnn_arch_sample(space, rng, arch);
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

/* Which supernet parameters a subnet's views hold, told by a sign: every gradient starts at
 * -0.0, which `+=` of anything turns into another value, +0.0 included (an increment that
 * cancels exactly, as the gradient of a BN's beta followed by a 1x1 conv and batch norm does in
 * exact arithmetic, sums to +0.0), but -0.0 itself: a sum of products that are all -0.0 (relu6's
 * zero gradient where it clips, times a negative factor) keeps the sign. So the backward runs
 * twice on the same forward, with output gradients d and -d: it is linear in them and rounding
 * is symmetric, so every such -0.0 turns +0.0 in one of the two, while entries no op writes keep
 * -0.0 in both. Random images and d at batch 2 (images [2, c, R, R], logits and dlogits
 * [2, classes] are the caller's); mask[n_params] says which entries a view holds; returns how
 * many. The table's listener hears the first backward only. */
static inline size_t cnn_case_view_mask(CnnNet *net, const CnnArch *arch, Rng *rng, real *images,
                                        real *logits, real *dlogits, bool *mask) {
    const size_t pixels = (size_t)2 * net->in_channels * arch->resolution * arch->resolution;
    for (size_t i = 0; i < pixels; i++) images[i] = (real)rng_normal(rng);
    for (int i = 0; i < 2 * net->classes; i++) dlogits[i] = (real)(2 * rng_uniform(rng) - 1);
    void (*listener)(void *, size_t) = net->table.on_grads_ready;
    for (int sign = 0; sign < 2; sign++) {
        for (size_t i = 0; i < net->table.n_params; i++) net->table.grads[i] = (real)-0.0;
        cnn_net_forward(net, arch, images, 2, CNN_TRAINING, NULL, logits);
        cnn_net_backward(net, arch, dlogits, 2);
        for (size_t i = 0; i < net->table.n_params; i++) {
            const real g = net->table.grads[i];
            mask[i] = (sign == 1 && mask[i]) || !(g == 0 && signbit(g));
        }
        for (int i = 0; i < 2 * net->classes; i++) dlogits[i] = -dlogits[i];
        net->table.on_grads_ready = NULL;
    }
    net->table.on_grads_ready = listener;
    size_t count = 0;
    for (size_t i = 0; i < net->table.n_params; i++) count += mask[i];
    return count;
}

#endif
