/* prenas-bench-cnn-step: the speed of one training step of a CNN subnet (src/cnn/cnn_net.h) on
 * the CPU: forward with training-mode batch norm, soft-target cross-entropy, backward, AdamW
 * over the whole supernet; with --profile, where the step's time goes, op kind by op kind. The
 * last line is img_per_s=<training images per second>, for bench/cnn-step-vs-torch.sh. */
#include "backend.h"
#include "cli.h"
#include "clock.h"
#include "cnn_arch.h"
#include "cnn_cost.h"
#include "cnn_net.h"
#include "cnn_space.h"
#include "error.h"
#include "kernels.h"
#include "optim.h"
#include "rng.h"

#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

static const char USAGE[] =
    "usage: prenas-bench-cnn-step --config SPACE.cfg [--arch ARCH] [--batch B] [--steps N]\n"
    "                             [--threads T] [--profile]\n"
    "\n"
    "Times training steps of one subnet of a CNN space on the CPU, on random images at the\n"
    "architecture's resolution, after two warm-up steps: forward (batch norm in training\n"
    "mode), soft-target cross-entropy (label smoothing 0.1), backward, AdamW over every\n"
    "supernet tensor (lr 1e-4, weight decay 0.05 where the tensor table says).\n"
    "\n"
    "  --config FILE   the CNN search space (its supernet is allocated whole)\n"
    "  --arch ARCH     the subnet (default: the space's largest)\n"
    "  --batch B       images per step (default 32)\n"
    "  --steps N       measured steps (default 5)\n"
    "  --threads T     OpenMP threads (default: OMP_NUM_THREADS, else all cores)\n"
    "  --profile       also time every backend call, summed per op kind and direction\n"
    "  --help, --version\n"
    "Prints per-phase times, images/s, model GFLOP/s (6 x MACs per image) and peak memory;\n"
    "the last line is img_per_s=<training images per second>.\n";

/* ---- --profile: a backend whose CNN ops time the CPU backend's ---- */

/* What a profile adds up: each op kind in each direction, and the step's other phases. */
typedef enum {
    P_CONV_STEM_F,
    P_CONV_STEM_B,
    P_CONV_POINTWISE_F,
    P_CONV_POINTWISE_B,
    P_CONV_DEPTHWISE_F,
    P_CONV_DEPTHWISE_B,
    P_BN_F,
    P_BN_B,
    P_ACT_F,
    P_ACT_B,
    P_SE_POOL_LINEAR_F,
    P_SE_POOL_LINEAR_B,
    P_RESIDUAL,
    P_LOSS,
    P_ZERO_GRADS,
    P_ADAMW,
    P_KINDS
} ProfileKind;

static const char *const PROFILE_NAMES[P_KINDS] = {
    [P_CONV_STEM_F] = "conv stem (3x3, dense) forward",
    [P_CONV_STEM_B] = "conv stem (3x3, dense) backward",
    [P_CONV_POINTWISE_F] = "conv 1x1 (expand, project, head) forward",
    [P_CONV_POINTWISE_B] = "conv 1x1 (expand, project, head) backward",
    [P_CONV_DEPTHWISE_F] = "conv depthwise forward",
    [P_CONV_DEPTHWISE_B] = "conv depthwise backward",
    [P_BN_F] = "batch norm forward",
    [P_BN_B] = "batch norm backward",
    [P_ACT_F] = "activation forward",
    [P_ACT_B] = "activation backward",
    [P_SE_POOL_LINEAR_F] = "pool, SE, classifier forward",
    [P_SE_POOL_LINEAR_B] = "pool, SE, classifier backward",
    [P_RESIDUAL] = "residual adds (both directions)",
    [P_LOSS] = "loss (softmax cross-entropy)",
    [P_ZERO_GRADS] = "zero the gradients",
    [P_ADAMW] = "AdamW"};

typedef struct {
    double seconds[P_KINDS];
    long calls[P_KINDS];
} ProfileTimes;

/* `be` first: the ops receive &profiler->be and find the rest from it. The other fields of
 * `be` (kind, name, ctx) are the CPU backend's, so the ops left unwrapped run as they are. */
typedef struct {
    Backend be;
    const Backend *inner;
    BackendOps ops;
    ProfileTimes *times; /* the caller's: the ops see the profiler itself as const */
} Profiler;

static const Profiler *profiler(const Backend *be) {
    return (const Profiler *)be;
}

static void charge(const Backend *be, ProfileKind kind, double since) {
    ProfileTimes *t = profiler(be)->times;
    t->seconds[kind] += monotonic_seconds() - since;
    t->calls[kind]++;
}

/* Runs INNER_CALL (an expression over `in`, the CPU backend, and `inner`, its ops) and charges
 * its time to KIND. */
#define TIMED(be, kind, inner_call)                                                                \
    do {                                                                                           \
        const Backend *in = profiler(be)->inner;                                                   \
        const BackendOps *inner = in->ops;                                                         \
        const double t0_ = monotonic_seconds();                                                    \
        inner_call;                                                                                \
        charge(be, kind, t0_);                                                                     \
    } while (0)

/* The kind of a convolution from its shape alone: grouped per channel, 1x1, or else the stem
 * (the only dense convolution with a larger kernel in the MBConv net). */
static ProfileKind conv_kind(const ConvShape *s, bool backward) {
    const ProfileKind forward = s->depthwise            ? P_CONV_DEPTHWISE_F
                                : s->weight_kernel == 1 ? P_CONV_POINTWISE_F
                                                        : P_CONV_STEM_F;
    return forward + backward; /* each kind's backward follows its forward */
}

static void p_conv2d_forward(const Backend *be, real *y, const real *x, const real *w,
                             const ConvShape *s) {
    TIMED(be, conv_kind(s, false), inner->conv2d_forward(in, y, x, w, s));
}
static void p_conv2d_backward(const Backend *be, real *dx, real *dw, const real *dy, const real *x,
                              const real *w, const ConvShape *s) {
    TIMED(be, conv_kind(s, true), inner->conv2d_backward(in, dx, dw, dy, x, w, s));
}
static void p_batchnorm_forward_train(const Backend *be, real *y, real *mean, real *rstd,
                                      real *running_mean, real *running_var, const real *x,
                                      const real *gamma, const real *beta, const BatchNormShape *s,
                                      double momentum) {
    TIMED(be, P_BN_F,
          inner->batchnorm_forward_train(in, y, mean, rstd, running_mean, running_var, x, gamma,
                                         beta, s, momentum));
}
static void p_batchnorm_backward(const Backend *be, real *dx, real *dgamma, real *dbeta,
                                 const real *dy, const real *x, const real *mean, const real *rstd,
                                 const real *gamma, const BatchNormShape *s) {
    TIMED(be, P_BN_B,
          inner->batchnorm_backward(in, dx, dgamma, dbeta, dy, x, mean, rstd, gamma, s));
}
static void p_silu_forward(const Backend *be, real *y, const real *x, size_t n) {
    TIMED(be, P_ACT_F, inner->silu_forward(in, y, x, n));
}
static void p_silu_backward(const Backend *be, real *dx, const real *dy, const real *x, size_t n) {
    TIMED(be, P_ACT_B, inner->silu_backward(in, dx, dy, x, n));
}
static void p_relu6_forward(const Backend *be, real *y, const real *x, size_t n) {
    TIMED(be, P_ACT_F, inner->relu6_forward(in, y, x, n));
}
static void p_relu6_backward(const Backend *be, real *dx, const real *dy, const real *x, size_t n) {
    TIMED(be, P_ACT_B, inner->relu6_backward(in, dx, dy, x, n));
}
static void p_global_avg_pool_forward(const Backend *be, real *y, const real *x, int batch,
                                      int channels, int spatial) {
    TIMED(be, P_SE_POOL_LINEAR_F,
          inner->global_avg_pool_forward(in, y, x, batch, channels, spatial));
}
static void p_global_avg_pool_backward(const Backend *be, real *dx, const real *dy, int batch,
                                       int channels, int spatial) {
    TIMED(be, P_SE_POOL_LINEAR_B,
          inner->global_avg_pool_backward(in, dx, dy, batch, channels, spatial));
}
static void p_channel_scale_forward(const Backend *be, real *y, const real *x, const real *gate,
                                    int batch, int channels, int spatial) {
    TIMED(be, P_SE_POOL_LINEAR_F,
          inner->channel_scale_forward(in, y, x, gate, batch, channels, spatial));
}
static void p_channel_scale_backward(const Backend *be, real *dx, real *dgate, const real *dy,
                                     const real *x, const real *gate, int batch, int channels,
                                     int spatial) {
    TIMED(be, P_SE_POOL_LINEAR_B,
          inner->channel_scale_backward(in, dx, dgate, dy, x, gate, batch, channels, spatial));
}
static void p_linear_forward(const Backend *be, real *y, const real *x, const real *w,
                             const real *b, int rows, int n_in, int n_out, int ldw) {
    TIMED(be, P_SE_POOL_LINEAR_F, inner->linear_forward(in, y, x, w, b, rows, n_in, n_out, ldw));
}
static void p_linear_backward(const Backend *be, real *dx, real *dw, real *db, const real *dy,
                              const real *x, const real *w, int rows, int n_in, int n_out,
                              int ldw) {
    TIMED(be, P_SE_POOL_LINEAR_B,
          inner->linear_backward(in, dx, dw, db, dy, x, w, rows, n_in, n_out, ldw));
}
static void p_residual_forward(const Backend *be, real *out, const real *x, const real *branch,
                               const real *sample_scale, int batch, int rows_per_sample, int dim) {
    TIMED(be, P_RESIDUAL,
          inner->residual_forward(in, out, x, branch, sample_scale, batch, rows_per_sample, dim));
}
static void p_cross_entropy_forward(const Backend *be, real *loss, real *probs, const real *logits,
                                    const real *targets, int batch, int classes) {
    TIMED(be, P_LOSS,
          inner->cross_entropy_forward(in, loss, probs, logits, targets, batch, classes));
}
static void p_cross_entropy_backward(const Backend *be, real *dlogits, const real *probs,
                                     const real *targets, int batch, int classes, double scale) {
    TIMED(be, P_LOSS,
          inner->cross_entropy_backward(in, dlogits, probs, targets, batch, classes, scale));
}
static void p_zero(const Backend *be, void *ptr, size_t bytes) {
    TIMED(be, P_ZERO_GRADS, inner->zero(in, ptr, bytes));
}
static void p_adamw(const Backend *be, real *param, const real *grad, real *m, real *v,
                    const AdamWSegment *segments, int n_segments, const AdamWStep *step) {
    TIMED(be, P_ADAMW, inner->adamw(in, param, grad, m, v, segments, n_segments, step));
}

/* Wraps every op a CNN training step calls (the net's, the loss's, AdamW's and the gradient
 * zeroing); the rest (alloc, upload) pass through untimed. */
static void profiler_open(Profiler *p, const Backend *inner, ProfileTimes *times) {
    *p = (Profiler){.be = *inner, .inner = inner, .ops = *inner->ops, .times = times};
    BackendOps *o = &p->ops;
    o->conv2d_forward = p_conv2d_forward;
    o->conv2d_backward = p_conv2d_backward;
    o->batchnorm_forward_train = p_batchnorm_forward_train;
    o->batchnorm_backward = p_batchnorm_backward;
    o->silu_forward = p_silu_forward;
    o->silu_backward = p_silu_backward;
    o->relu6_forward = p_relu6_forward;
    o->relu6_backward = p_relu6_backward;
    o->global_avg_pool_forward = p_global_avg_pool_forward;
    o->global_avg_pool_backward = p_global_avg_pool_backward;
    o->channel_scale_forward = p_channel_scale_forward;
    o->channel_scale_backward = p_channel_scale_backward;
    o->linear_forward = p_linear_forward;
    o->linear_backward = p_linear_backward;
    o->residual_forward = p_residual_forward;
    o->cross_entropy_forward = p_cross_entropy_forward;
    o->cross_entropy_backward = p_cross_entropy_backward;
    o->zero = p_zero;
    o->adamw = p_adamw;
    p->be.ops = o;
}

static void profile_print(const ProfileTimes *t, int steps, double step_seconds) {
    printf("profile: wall time inside each kind of backend call, per measured step\n");
    double timed = 0;
    for (int k = 0; k < P_KINDS; k++) {
        if (t->calls[k] == 0) continue;
        const double ms = 1e3 * t->seconds[k] / steps;
        timed += t->seconds[k] / steps;
        printf("  %-42s %9.2f ms %5.1f%%  (%ld calls)\n", PROFILE_NAMES[k], ms,
               100 * t->seconds[k] / steps / step_seconds, t->calls[k] / steps);
    }
    printf("  %-42s %9.2f ms %5.1f%%\n", "outside the backend calls", 1e3 * (step_seconds - timed),
           100 * (step_seconds - timed) / step_seconds);
}

/* ---- the step ---- */

typedef struct {
    double forward, loss, backward, optimizer;
} StepTimes;

/* Random images [batch, channels, R, R] and labels, as soft targets (smoothing 0.1). */
static real *random_batch(const Backend *be, int batch, int channels, int side, int classes,
                          real *targets) {
    const BackendOps *ops = be->ops;
    const size_t pixels = (size_t)batch * channels * side * side;
    real *host = malloc(pixels * sizeof *host);
    int *labels = malloc(sizeof *labels * (size_t)batch);
    Rng rng = rng_stream(1, 1);
    for (size_t i = 0; i < pixels; i++) host[i] = (real)rng_normal(&rng);
    for (int b = 0; b < batch; b++) labels[b] = (int)rng_below(&rng, (uint64_t)classes);
    real *images = ops->alloc(be, pixels * sizeof *images);
    int *device_labels = ops->alloc(be, sizeof *labels * (size_t)batch);
    ops->upload(be, images, host, pixels * sizeof *host);
    ops->upload(be, device_labels, labels, sizeof *labels * (size_t)batch);
    ops->soft_targets(be, targets, device_labels, device_labels, NULL, 0.1, batch, classes);
    ops->free(be, device_labels);
    free(host), free(labels);
    return images;
}

int main(int argc, char **argv) {
    static const struct option options[] = {{"config", required_argument, NULL, 'c'},
                                            {"arch", required_argument, NULL, 'a'},
                                            {"batch", required_argument, NULL, 'b'},
                                            {"steps", required_argument, NULL, 's'},
                                            {"threads", required_argument, NULL, 't'},
                                            {"profile", no_argument, NULL, 'p'},
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, CLI_OPT_VERSION},
                                            {NULL, 0, NULL, 0}};
    const char *config = NULL, *arch_text = NULL;
    int batch = 32, steps = 5, threads = 0;
    bool profile = false;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'a':
            arch_text = optarg;
            break;
        case 'b':
            batch = (int)cli_long("--batch", optarg, 2, 65536); /* BN needs two values */
            break;
        case 's':
            steps = (int)cli_long("--steps", optarg, 1, 1000000);
            break;
        case 't':
            threads = (int)cli_long("--threads", optarg, 1, 4096);
            break;
        case 'p':
            profile = true;
            break;
        default:
            cli_common_option(c, USAGE, argv);
        }
    }
    if (optind < argc) cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!config) cli_usage_error("--config SPACE.cfg is required");
    if (threads > 0) omp_set_num_threads(threads); /* before oneDNN starts its thread pool */
    Error err = {0};
    CnnSpace *space = cnn_space_load_file(config, &err);
    if (!space) die(&err);
    CnnArch arch;
    if (arch_text) {
        if (!cnn_arch_parse(arch_text, &arch, &err) || !cnn_arch_check(&arch, space, &err))
            die(&err);
    } else {
        cnn_arch_largest(space, &arch);
    }
    char text[CNN_ARCH_TEXT_MAX];
    cnn_arch_format(&arch, text, sizeof text);
    const CnnCost cost = cnn_arch_cost(&arch, space);
    printf("space %s, subnet %s (%.3fM parameters, %.3f GMACs per image)\n", space->name, text,
           cost.params / 1e6, cost.macs / 1e9);

    Backend cpu;
    char why[512];
    if (!backend_open(&cpu, "cpu", "fp32", why, sizeof why)) die_input("%s", why);
    ProfileTimes times = {0};
    Profiler timed;
    if (profile) profiler_open(&timed, &cpu, &times);
    const Backend *be = profile ? &timed.be : &cpu;
    const BackendOps *ops = be->ops;
    printf("device %s; batch %d, %d OpenMP threads, %d measured steps after 2 warm-up\n", cpu.name,
           batch, omp_get_max_threads(), steps);

    CnnNet *net = cnn_net_create(be, space, batch, &err);
    if (!net) die(&err);
    cnn_net_init(net, 1);
    AdamW opt = adamw_create(&net->table, 0.9, 0.999, 1e-8, 0.05);
    const int C = net->classes;
    const size_t out = sizeof(real) * (size_t)batch * C;
    real *targets = ops->alloc(be, out), *logits = ops->alloc(be, out);
    real *probs = ops->alloc(be, out), *dlogits = ops->alloc(be, out);
    real *loss = ops->alloc(be, sizeof(real) * (size_t)batch);
    real *images = random_batch(be, batch, net->in_channels, arch.resolution, C, targets);

    StepTimes total = {0};
    for (int s = -2; s < steps; s++) {
        if (s == 0) times = (ProfileTimes){0}; /* the warm-up makes the oneDNN primitives */
        const double t0 = monotonic_seconds();
        param_table_zero_grads(&net->table);
        cnn_net_forward(net, &arch, images, batch, CNN_TRAINING, NULL, logits);
        const double t1 = monotonic_seconds();
        ops->cross_entropy_forward(be, loss, probs, logits, targets, batch, C);
        ops->cross_entropy_backward(be, dlogits, probs, targets, batch, C, 1.0 / batch);
        const double t2 = monotonic_seconds();
        cnn_net_backward(net, &arch, dlogits, batch);
        const double t3 = monotonic_seconds();
        adamw_step(&opt, &net->table, 1e-4);
        const double t4 = monotonic_seconds();
        if (s < 0) continue;
        total.forward += t1 - t0, total.loss += t2 - t1, total.backward += t3 - t2;
        total.optimizer += t4 - t3;
    }
    const double step_time =
        (total.forward + total.loss + total.backward + total.optimizer) / steps;
    const double rate = batch / step_time;
    double mean_loss = 0;
    for (int b = 0; b < batch; b++) mean_loss += loss[b] / batch; /* CPU memory */
    printf("train step %.2f ms: forward %.2f (with zeroing the gradients), loss %.2f, backward "
           "%.2f, AdamW %.2f (%zu entries); last loss %.4f\n",
           1e3 * step_time, 1e3 * total.forward / steps, 1e3 * total.loss / steps,
           1e3 * total.backward / steps, 1e3 * total.optimizer / steps, net->table.n_params,
           mean_loss);
    if (profile) profile_print(&times, steps, step_time);
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    printf("train %.2f img/s, %.1f GFLOP/s (6 x MACs per image); peak RSS %.0f MiB\n", rate,
           6.0 * cost.macs * rate / 1e9, usage.ru_maxrss / 1024.0);
    printf("img_per_s=%.3f\n", rate);

    adamw_free(&opt);
    real *buffers[] = {images, targets, logits, probs, dlogits, loss};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) ops->free(be, buffers[i]);
    cnn_net_free(net);
    backend_close(&cpu);
    cnn_space_free(space);
    return 0;
}
