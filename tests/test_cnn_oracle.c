/* The CNN supernet (src/cnn/cnn_net.h) against an independent PyTorch implementation
 * (tests/oracle/cnn_oracle.py, float64 autograd): for subnets of cnn-micro (its smallest, its
 * largest, two with cropped kernels and sliced widths) and of tests/spaces/cnn-se.cfg (SE,
 * relu6, expansion 1 beside larger ratios, a 1x1 crop, stride 3), this test writes random
 * supernet weights (weights_write), a batch of 4 images and labels, and what the C engine
 * computes from them in float32: logits, the mean cross-entropy (the loss head is this test's:
 * training does not exist yet for the CNN) and every supernet-shaped gradient; then three
 * recalibration batches, the running statistics they leave (by name), and evaluation-mode
 * logits of a fourth batch. The script builds each subnet as a torch.nn network from the space
 * file and the architecture text, slicing and cropping the supernet tensors itself, recomputes
 * everything, prints the largest error of every tensor and fails past its tolerances; it also
 * checks that every gradient entry outside the subnet's views is exactly 0 in C, and every
 * running statistic outside them exactly as reset (mean 0, variance 1). */
#include "check.h"
#include "cnn_case.h"
#include "oracle_run.h"

#include "h5.h"
#include "kernels.h"
#include "weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(sizeof(real) == sizeof(float), "the oracle checks the float engine");

enum { BATCH = 4, RECALIBRATION_BATCHES = 3 };

typedef struct {
    const char *label, *space, *arch; /* arch NULL: the space's smallest (first) or largest */
    bool largest;
} OracleCase;

static const OracleCase CASES[] = {
    {"cnn-micro: the smallest subnet", "configs/spaces/cnn-micro.cfg", NULL, false},
    {"cnn-micro: the largest subnet (the supernet)", "configs/spaces/cnn-micro.cfg", NULL, true},
    {"cnn-micro: 3x3 of 5x5 in stage 3, widths sliced everywhere", "configs/spaces/cnn-micro.cfg",
     "28:16:16x1k3e1:16x2k5e6:32x2k3e6:40x3k5e6:56x2k3e6:192", false},
    {"cnn-micro: shallow stages, 3x3 of 5x5 in stages 2 and 4", "configs/spaces/cnn-micro.cfg",
     "24:24:8x1k3e1:24x1k3e6:24x3k5e6:48x2k3e6:64x2k5e6:256", false},
    {"cnn-se: SE at 3 input channels (C_se 1), 1x1 of 3x3, e 1 of 3", "tests/spaces/cnn-se.cfg",
     "17:6:8x2k3e1:12x3k5e4:3x2k1e2:24x2k3e6:32", false},
    {"cnn-se: 3x3 of 7x7 at stride 3, e 1 of 6, at 30 pixels", "tests/spaces/cnn-se.cfg",
     "30:10:5x1k3e3:16x2k3e1:20x1k3e2:24x2k3e6:40", false},
};

static void write_maps(hid_t g, const char *name, const real *data, int n, int channels, int side) {
    const hsize_t dims[4] = {(hsize_t)n, (hsize_t)channels, (hsize_t)side, (hsize_t)side};
    h5_write(g, name, H5T_NATIVE_FLOAT, 4, dims, data);
}

static void write_matrix(hid_t g, const char *name, const real *data, int rows, int cols) {
    const hsize_t dims[2] = {(hsize_t)rows, (hsize_t)cols};
    h5_write(g, name, H5T_NATIVE_FLOAT, 2, dims, data);
}

/* Mean cross-entropy of the labels and its gradient (1/batch of softmax - one-hot). */
static double loss_head(const real *logits, const int *labels, int classes, real *dlogits) {
    real targets[BATCH * 64], probs[BATCH * 64], loss[BATCH];
    soft_targets(targets, labels, labels, NULL, 0, BATCH, classes);
    cross_entropy_forward(loss, probs, logits, targets, BATCH, classes);
    cross_entropy_backward(dlogits, probs, targets, BATCH, classes, 1.0 / BATCH);
    double mean = 0;
    for (int b = 0; b < BATCH; b++) mean += loss[b] / BATCH;
    return mean;
}

static void run_case(hid_t file, int index, const OracleCase *c, Rng *rng) {
    CnnSpace *space = cnn_case_space(c->space);
    CnnArch arch;
    if (c->arch)
        arch = cnn_case_arch(c->arch, space);
    else if (c->largest)
        cnn_arch_largest(space, &arch);
    else
        cnn_arch_smallest(space, &arch);
    char text[CNN_ARCH_TEXT_MAX];
    cnn_arch_format(&arch, text, sizeof text);
    Error err = {0};
    CnnNet *net = cnn_net_create(backend_cpu(), space, BATCH, &err);
    cnn_case_random_weights(net, rng);
    const int R = arch.resolution, classes = net->classes;
    const size_t image = (size_t)net->in_channels * R * R;
    const int n_images = BATCH * (2 + RECALIBRATION_BATCHES);
    real *images = malloc(n_images * image * sizeof *images);
    for (size_t i = 0; i < n_images * image; i++) images[i] = (real)rng_normal(rng);
    int labels[BATCH];
    for (int b = 0; b < BATCH; b++) labels[b] = (int)rng_below(rng, (uint64_t)classes);
    real logits[BATCH * 64], dlogits[BATCH * 64], eval_logits[BATCH * 64];
    CHECK(classes <= 64);

    param_table_zero_grads(&net->table);
    cnn_net_forward(net, &arch, images, BATCH, CNN_TRAINING, NULL, logits);
    const double loss = loss_head(logits, labels, classes, dlogits);
    cnn_net_backward(net, &arch, dlogits, BATCH);

    CnnBnStats *stats = cnn_bn_stats_create(net);
    const real *recalibration = images + BATCH * image, *eval = recalibration + 3 * BATCH * image;
    for (int k = 0; k < RECALIBRATION_BATCHES; k++)
        cnn_net_recalibrate_batch(net, &arch, recalibration + k * BATCH * image, BATCH, k, stats);
    cnn_net_forward(net, &arch, eval, BATCH, CNN_EVALUATION, stats, eval_logits);

    char name[32];
    snprintf(name, sizeof name, "case%d", index);
    hid_t g = h5_create_group(file, name);
    h5_attr_string(g, "label", c->label);
    h5_attr_string(g, "space", c->space);
    h5_attr_string(g, "arch", text);
    weights_write(g, "params", &net->table, net->table.params);
    weights_write(g, "grads", &net->table, net->table.grads);
    weights_write(g, "stats", &stats->table, stats->table.params);
    write_maps(g, "images", images, BATCH, net->in_channels, R);
    write_maps(g, "recalibration_images", recalibration, RECALIBRATION_BATCHES * BATCH,
               net->in_channels, R);
    write_maps(g, "eval_images", eval, BATCH, net->in_channels, R);
    const hsize_t n = BATCH;
    h5_write(g, "labels", H5T_NATIVE_INT, 1, &n, labels);
    write_matrix(g, "logits", logits, BATCH, classes);
    write_matrix(g, "eval_logits", eval_logits, BATCH, classes);
    const hsize_t one = 1;
    h5_write(g, "loss", H5T_NATIVE_DOUBLE, 1, &one, &loss);
    H5Gclose(g);
    cnn_bn_stats_free(stats);
    free(images);
    cnn_net_free(net);
    cnn_space_free(space);
}

int main(void) {
    h5_silence();
    Rng rng = rng_stream(2023, 16);
    char dir[] = "/tmp/prenas-test-cnn-oracle-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char path[512];
    snprintf(path, sizeof path, "%s/cnn-oracle.h5", dir);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(f >= 0);
    for (int i = 0; i < (int)(sizeof CASES / sizeof CASES[0]); i++) run_case(f, i, &CASES[i], &rng);
    H5Fclose(f);
    oracle_run("tests/oracle/cnn_oracle.py", path, dir);
    return check_summary();
}
