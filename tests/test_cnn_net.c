/* The CNN supernet (src/cnn/cnn_net.h) without an oracle: its tensor table for cnn-micro (names,
 * shapes, decay flags, init kinds), the initialisation, the refusal of a backend without the
 * CNN ops, the gradient listener's calls, repeatability, and that the parameters a subnet's
 * views cover are cnn_arch_cost's params: the gradient entries a backward writes (written())
 * are exactly as many as the subnet's parameters, for the extremes and 20 sampled
 * architectures of two spaces; and ghost batch norm (bn_group) against separate batches. */
#include "check.h"
#include "cnn_case.h"

#include "cnn_cost.h"
#include "kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const TensorInfo *tensor(const CnnNet *net, const char *name) {
    const TensorInfo *t = param_table_find(&net->table, name);
    if (!CHECK(t != NULL)) fprintf(stderr, "     no tensor %s\n", name);
    return t;
}

static void expect_tensor(const CnnNet *net, const char *name, int ndim, const int64_t *shape,
                          bool decay, TensorInit init) {
    const TensorInfo *t = tensor(net, name);
    if (!t) return;
    bool same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!CHECK(same && t->weight_decay == decay && t->init == init))
        fprintf(stderr, "     %s: %d dims [%lld, ...], decay %d, init %d\n", name, t->ndim,
                (long long)t->shape[0], t->weight_decay, (int)t->init);
}

static int largest_resolution(const CnnSpace *space) {
    return space->resolution.values[space->resolution.count - 1];
}

#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})

static void table_case(const CnnSpace *space) {
    Error err = {0};
    CnnNet *net = cnn_net_create(backend_cpu(), space, 2, &err);
    /* stem 3, stage 1 (no expansion) 6, then 9 a layer over 2 + 3 + 3 + 2 layers, head 3,
     * classifier 2 */
    CHECK_EQ_I64(net->table.n_tensors, 3 + 6 + 9 * 10 + 3 + 2);
    CnnArch largest;
    cnn_arch_largest(space, &largest);
    CHECK_EQ_I64(net->table.n_params, cnn_arch_cost(&largest, space).params);
    const TensorInit W = INIT_FAN_OUT_NORMAL;
    expect_tensor(net, "stem.conv.weight", 4, SHAPE(24, 1, 3, 3), true, W);
    expect_tensor(net, "stem.bn.weight", 1, SHAPE(24), false, INIT_ONES);
    expect_tensor(net, "stem.bn.bias", 1, SHAPE(24), false, INIT_ZEROS);
    CHECK(param_table_find(&net->table, "stages.0.0.expand.conv.weight") == NULL);
    expect_tensor(net, "stages.0.0.depthwise.conv.weight", 4, SHAPE(24, 1, 3, 3), true, W);
    expect_tensor(net, "stages.0.0.project.conv.weight", 4, SHAPE(16, 24, 1, 1), true, W);
    expect_tensor(net, "stages.0.0.project.bn.weight", 1, SHAPE(16), false, INIT_ONES);
    expect_tensor(net, "stages.1.0.expand.conv.weight", 4, SHAPE(96, 16, 1, 1), true, W);
    expect_tensor(net, "stages.1.0.expand.bn.weight", 1, SHAPE(96), false, INIT_ONES);
    expect_tensor(net, "stages.1.0.depthwise.conv.weight", 4, SHAPE(96, 1, 5, 5), true, W);
    expect_tensor(net, "stages.1.0.project.bn.weight", 1, SHAPE(24), false, INIT_ONES);
    expect_tensor(net, "stages.1.1.expand.conv.weight", 4, SHAPE(144, 24, 1, 1), true, W);
    expect_tensor(net, "stages.1.1.depthwise.bn.bias", 1, SHAPE(144), false, INIT_ZEROS);
    /* BigNAS: the last BN of a residual block starts at gamma 0 */
    expect_tensor(net, "stages.1.1.project.bn.weight", 1, SHAPE(24), false, INIT_ZEROS);
    expect_tensor(net, "stages.4.1.project.conv.weight", 4, SHAPE(64, 384, 1, 1), true, W);
    expect_tensor(net, "stages.4.1.project.bn.weight", 1, SHAPE(64), false, INIT_ZEROS);
    expect_tensor(net, "head.conv.weight", 4, SHAPE(256, 64, 1, 1), true, W);
    expect_tensor(net, "head.bn.bias", 1, SHAPE(256), false, INIT_ZEROS);
    expect_tensor(net, "classifier.weight", 2, SHAPE(10, 256), true, INIT_SMALL_NORMAL);
    expect_tensor(net, "classifier.bias", 1, SHAPE(10), false, INIT_ZEROS);
    CHECK(param_table_find(&net->table, "stages.4.2.depthwise.conv.weight") == NULL);
    /* the views follow the table */
    CHECK(net->p.layers[1][1].expand.weight ==
          net->table.params + tensor(net, "stages.1.1.expand.conv.weight")->offset);
    CHECK(net->g.classifier_bias == net->table.grads + tensor(net, "classifier.bias")->offset);
    CHECK(net->p.layers[0][0].expand.weight == NULL &&
          net->p.layers[0][0].se_reduce_weight == NULL);

    /* the running statistics: one pair per BN, named after it, reset as PyTorch does */
    CnnBnStats *stats = cnn_bn_stats_create(net);
    CHECK_EQ_I64(stats->table.n_tensors, 2 * (1 + 2 + 3 * 10 + 1));
    const TensorInfo *mean = param_table_find(&stats->table, "stages.2.1.expand.bn.running_mean");
    const TensorInfo *var = param_table_find(&stats->table, "head.bn.running_var");
    CHECK(mean && mean->shape[0] == 192 && var && var->shape[0] == 256);
    CHECK(stats->head.var == stats->table.params + var->offset);
    if (mean && var)
        CHECK(stats->table.params[mean->offset + 7] == 0 && stats->table.params[var->offset] == 1);
    cnn_bn_stats_free(stats);
    cnn_net_free(net);
}

/* Sample standard deviation of a tensor. */
static double tensor_std(const CnnNet *net, const TensorInfo *t) {
    const real *x = net->table.params + t->offset;
    double sum = 0, squares = 0;
    for (size_t i = 0; i < t->count; i++) sum += x[i], squares += (double)x[i] * x[i];
    const double mean = sum / t->count;
    return sqrt(squares / t->count - mean * mean);
}

static void init_case(const CnnSpace *space) {
    Error err = {0};
    CnnNet *net = cnn_net_create(backend_cpu(), space, 1, &err);
    cnn_net_init(net, 5);
    const TensorInfo *expand = tensor(net, "stages.2.1.expand.conv.weight"); /* [192, 32, 1, 1] */
    const TensorInfo *dw = tensor(net, "stages.3.0.depthwise.conv.weight");  /* [192, 1, 5, 5] */
    const TensorInfo *classifier = tensor(net, "classifier.weight");
    /* kaiming fan_out: std sqrt(2 / (out k^2)); normal(0, 0.01): within 10% on 1920+ entries */
    CHECK_NEAR(tensor_std(net, expand), sqrt(2.0 / 192), 0.1 * sqrt(2.0 / 192));
    CHECK_NEAR(tensor_std(net, dw), sqrt(2.0 / (192 * 25)), 0.1 * sqrt(2.0 / (192 * 25)));
    CHECK_NEAR(tensor_std(net, classifier), 0.01, 0.001);
    const TensorInfo *gamma0 = tensor(net, "stages.2.2.project.bn.weight");
    const TensorInfo *gamma1 = tensor(net, "stages.2.0.project.bn.weight");
    bool zeros = true, ones = true;
    for (size_t i = 0; i < gamma0->count; i++) zeros &= net->table.params[gamma0->offset + i] == 0;
    for (size_t i = 0; i < gamma1->count; i++) ones &= net->table.params[gamma1->offset + i] == 1;
    CHECK(zeros && ones);
    /* the same seed gives the same values; each tensor has its own stream */
    real *first = malloc(net->table.n_params * sizeof *first);
    memcpy(first, net->table.params, net->table.n_params * sizeof *first);
    cnn_net_init(net, 5);
    CHECK(memcmp(first, net->table.params, net->table.n_params * sizeof *first) == 0);
    CHECK(net->table.params[expand->offset] != net->table.params[dw->offset]);
    free(first);
    cnn_net_free(net);
}

/* A backend like the CPU but without the CNN ops (as CUDA is today). */
static void refusal_case(const CnnSpace *space) {
    BackendOps ops = *backend_cpu()->ops;
    ops.conv2d_forward = NULL;
    Backend be = *backend_cpu();
    be.ops = &ops;
    snprintf(be.name, sizeof be.name, "cuda:0 (test)");
    Error err = {0};
    CHECK(cnn_net_create(&be, space, 1, &err) == NULL);
    CHECK(err.code == EXIT_INPUT);
    CHECK_STR_CONTAINS(err.message, "not implemented on the cuda:0 (test) backend");
}

typedef struct {
    size_t calls, last;
    bool ordered; /* every call at or before the previous one's */
} Listener;

static void on_ready(void *ctx, size_t first) {
    Listener *l = ctx;
    l->ordered &= l->calls == 0 || first <= l->last;
    l->calls++;
    l->last = first;
}

/* The gradient entries a backward of random inputs at batch 2 writes (cnn_case_view_mask).
 * Also checks the listener's calls: one per layer and the head, from the back, the last at 0. */
static size_t written(CnnNet *net, const CnnArch *arch, Rng *rng, real *images, real *logits,
                      real *dlogits) {
    Listener listener = {0, 0, true};
    net->table.on_grads_ready = on_ready;
    net->table.on_grads_ready_ctx = &listener;
    bool *mask = malloc(net->table.n_params * sizeof *mask);
    const size_t count = cnn_case_view_mask(net, arch, rng, images, logits, dlogits, mask);
    free(mask);
    net->table.on_grads_ready = NULL;
    int layers = 0;
    for (int s = 0; s < arch->n_stages; s++) layers += arch->stages[s].depth;
    CHECK(listener.ordered && listener.last == 0 && listener.calls == (size_t)layers + 2);
    return count;
}

static void coverage_case(const char *path, uint64_t seed) {
    CnnSpace *space = cnn_case_space(path);
    Error err = {0};
    CnnNet *net = cnn_net_create(backend_cpu(), space, 2, &err);
    Rng rng = rng_stream(seed, 1);
    cnn_case_random_weights(net, &rng);
    const int side = largest_resolution(space);
    real *images = malloc((size_t)2 * net->in_channels * side * side * sizeof *images);
    real *logits = malloc((size_t)2 * net->classes * sizeof *logits);
    real *dlogits = malloc((size_t)2 * net->classes * sizeof *dlogits);
    int agree = 0;
    for (int i = 0; i < 22; i++) {
        CnnArch arch;
        cnn_case_pick(space, i, &rng, &arch);
        const size_t views = written(net, &arch, &rng, images, logits, dlogits);
        const int64_t params = cnn_arch_cost(&arch, space).params;
        char text[CNN_ARCH_TEXT_MAX];
        cnn_arch_format(&arch, text, sizeof text);
        if (i < 3)
            printf("  %-60s params %lld, gradient entries written %zu\n", text, (long long)params,
                   views);
        if ((int64_t)views == params)
            agree++;
        else
            fprintf(stderr, "     %s: views cover %zu entries, cnn_arch_cost says %lld\n", text,
                    views, (long long)params);
    }
    printf("%s: %d of 22 architectures' views cover exactly cnn_arch_cost's params\n", path, agree);
    CHECK_EQ_I64(agree, 22);

    /* repeatable: the same forward gives the same bits */
    CnnArch arch;
    cnn_arch_largest(space, &arch);
    real *again = malloc((size_t)2 * net->classes * sizeof *again);
    cnn_net_forward(net, &arch, images, 2, CNN_TRAINING, NULL, logits);
    cnn_net_forward(net, &arch, images, 2, CNN_TRAINING, NULL, again);
    CHECK(memcmp(logits, again, (size_t)2 * net->classes * sizeof *again) == 0);
    free(again), free(images), free(logits), free(dlogits);
    cnn_net_free(net);
    cnn_space_free(space);
}

/* The largest |a - b| over n entries, relative to the largest |b| (at least 1e-30). */
static double max_rel_diff(const real *a, const real *b, size_t n) {
    double diff = 0, scale = 1e-30;
    for (size_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs((double)a[i] - (double)b[i]));
        scale = fmax(scale, fabs((double)b[i]));
    }
    return diff / scale;
}

/* Ghost batch norm (CnnNet.bn_group): a batch of 6 in groups of 3 gives each group the logits,
 * and the batch the gradient sum, that each group alone gives as a batch of 3 with whole-batch
 * statistics, to float rounding: what lets 2 ranks with 3 images each train as 1 rank with 6
 * (cli_cnn_train). A bn_group equal to the batch is the whole batch, bit for bit. */
static void ghost_bn_case(const CnnSpace *space) {
    enum { BATCH = 6, GROUP = 3 };
    Error err = {0};
    CnnNet *net = cnn_net_create(backend_cpu(), space, BATCH, &err);
    Rng rng = rng_stream(31, 1);
    cnn_case_random_weights(net, &rng);
    const size_t n = net->table.n_params, classes = (size_t)net->classes;
    real *grouped = malloc(n * sizeof *grouped);
    real *logits = malloc(2 * BATCH * classes * sizeof *logits), *alone = logits + BATCH * classes;
    real *dlogits = malloc(BATCH * classes * sizeof *dlogits);
    for (int which = 0; which < 2; which++) {
        CnnArch arch;
        if (which)
            cnn_arch_largest(space, &arch);
        else
            cnn_arch_smallest(space, &arch);
        const size_t image = (size_t)net->in_channels * arch.resolution * arch.resolution;
        real *images = malloc(BATCH * image * sizeof *images);
        for (size_t i = 0; i < BATCH * image; i++) images[i] = (real)rng_normal(&rng);
        for (size_t i = 0; i < BATCH * classes; i++) dlogits[i] = (real)rng_normal(&rng);

        net->bn_group = GROUP;
        memset(net->table.grads, 0, n * sizeof *net->table.grads);
        cnn_net_forward(net, &arch, images, BATCH, CNN_TRAINING, NULL, logits);
        cnn_net_backward(net, &arch, dlogits, BATCH);
        memcpy(grouped, net->table.grads, n * sizeof *grouped);

        net->bn_group = 0;
        memset(net->table.grads, 0, n * sizeof *net->table.grads);
        for (int g = 0; g < BATCH / GROUP; g++) {
            cnn_net_forward(net, &arch, images + g * GROUP * image, GROUP, CNN_TRAINING, NULL,
                            alone + g * GROUP * classes);
            cnn_net_backward(net, &arch, dlogits + g * GROUP * classes, GROUP);
        }
        const double d_logits = max_rel_diff(logits, alone, BATCH * classes);
        const double d_grads = max_rel_diff(grouped, net->table.grads, n);
        printf("  ghost batch norm, %s: logits within %.2g, gradients within %.2g (relative)\n",
               which ? "largest" : "smallest", d_logits, d_grads);
        CHECK(d_logits <= 1e-5 && d_grads <= 1e-4); /* a wrong grouping is off by O(1) */

        net->bn_group = BATCH;
        cnn_net_forward(net, &arch, images, BATCH, CNN_TRAINING, NULL, logits);
        net->bn_group = 0;
        cnn_net_forward(net, &arch, images, BATCH, CNN_TRAINING, NULL, alone);
        CHECK(memcmp(logits, alone, BATCH * classes * sizeof *logits) == 0);
        free(images);
    }
    free(grouped), free(logits), free(dlogits);
    cnn_net_free(net);
}

int main(void) {
    CnnSpace *micro = cnn_case_space("configs/spaces/cnn-micro.cfg");
    table_case(micro);
    init_case(micro);
    refusal_case(micro);
    ghost_bn_case(micro);
    cnn_space_free(micro);
    coverage_case("configs/spaces/cnn-micro.cfg", 21);
    coverage_case("tests/spaces/cnn-tiny.cfg", 22);
    return check_summary();
}
