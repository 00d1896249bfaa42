/* prenas-bench-step: the speed of one training step (forward, loss, backward, AdamW over the
 * whole supernet) and of evaluation for one subnet, on the CPU or a GPU. The last line is
 * img_per_s=<training images per second>, for scripts (bench/step-vs-torch.sh). */
#include "arch.h"
#include "backend.h"
#include "cli.h"
#include "clock.h"
#include "cost.h"
#include "error.h"
#include "kernels.h"
#include "optim.h"
#include "rng.h"
#include "space.h"
#include "vit.h"

#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static const char USAGE[] =
    "usage: prenas-bench-step --config SPACE.cfg [--arch ARCH] [--batch B] [--steps N]\n"
    "                         [--device D] [--precision P]\n"
    "\n"
    "Times training steps (forward, soft-target loss, backward, AdamW over every supernet\n"
    "tensor) and evaluation passes of one subnet on random images, after two warm-up steps.\n"
    "\n"
    "  --config FILE   the search space (its supernet is allocated whole)\n"
    "  --arch ARCH     the subnet (default: the space's largest)\n"
    "  --batch B       images per step (default 8)\n"
    "  --steps N       measured steps (default 5)\n"
    "  --device D      auto (default: cuda when a GPU is usable), cpu or cuda\n"
    "  --precision P   matrix products: fp32 (default), bf16 or tf32 (GPU only); the GEMM\n"
    "                  ceiling is measured at this precision\n"
    "  --help, --version\n"
    "Threads: OMP_NUM_THREADS (default: all cores).\n"
    "Prints per-phase times, images/s, model GFLOP/s (6 x MACs per trained image, 2 x per\n"
    "evaluated image; MACs of method.md 4.4), the sgemm rate of this machine measured in the\n"
    "same run, and peak memory; the last line is img_per_s=<training images per second>.\n";

/* The best of three n^3 products through the backend's gemm: the ceiling to compare with. */
static double sgemm_gflops(const Backend *be, int n) {
    const size_t count = (size_t)n * n, bytes = count * sizeof(real);
    real *host = malloc(bytes);
    for (size_t i = 0; i < count; i++) host[i] = (real)(i % 7) * 0.1f;
    real *a = be->ops->alloc(be, bytes), *b = be->ops->alloc(be, bytes),
         *c = be->ops->alloc(be, bytes);
    be->ops->upload(be, a, host, bytes);
    be->ops->upload(be, b, host, bytes);
    double best = 1e30;
    for (int r = 0; r < 4; r++) {
        double t0 = monotonic_seconds();
        be->ops->gemm(be, false, true, n, n, n, 1, a, n, b, n, 0, c, n);
        be->ops->sync(be);
        double dt = monotonic_seconds() - t0;
        if (r > 0 && dt < best) best = dt; /* the first run pays for page faults, JIT, setup */
    }
    be->ops->free(be, a), be->ops->free(be, b), be->ops->free(be, c);
    free(host);
    return 2.0 * n * n * n / best / 1e9;
}

typedef struct {
    double forward, loss, backward, optimizer;
} StepTimes;

int main(int argc, char **argv) {
    static const struct option options[] = {{"config", required_argument, NULL, 'c'},
                                            {"arch", required_argument, NULL, 'a'},
                                            {"batch", required_argument, NULL, 'b'},
                                            {"steps", required_argument, NULL, 's'},
                                            {"device", required_argument, NULL, 'D'},
                                            {"precision", required_argument, NULL, 'P'},
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, CLI_OPT_VERSION},
                                            {NULL, 0, NULL, 0}};
    const char *config = NULL, *arch_text = NULL, *device = "auto", *precision = NULL;
    int batch = 8, steps = 5;
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
            batch = (int)cli_long("--batch", optarg, 1, 65536);
            break;
        case 's':
            steps = (int)cli_long("--steps", optarg, 1, 1000000);
            break;
        case 'D':
            device = optarg;
            break;
        case 'P':
            precision = optarg;
            break;
        default:
            cli_common_option(c, USAGE, argv);
        }
    }
    if (optind < argc) cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!config) cli_usage_error("--config SPACE.cfg is required");
    Error err = {0};
    Space *space = space_load_file(config, &err);
    if (!space) die(&err);
    Arch arch;
    if (arch_text) {
        if (!arch_parse(arch_text, &arch, &err) || !arch_check(&arch, space, &err)) die(&err);
    } else {
        arch_largest(space, &arch);
    }
    char text[ARCH_TEXT_MAX];
    arch_format(&arch, text, sizeof text);
    const ArchCost cost = arch_cost(&arch, space);
    printf("space %s, subnet %s (%.3fM parameters, %.3f GMACs per image)\n", space->name, text,
           cost.params / 1e6, cost.macs / 1e9);
    Backend backend;
    char why[512];
    if (!backend_open(&backend, device, precision, why, sizeof why)) die_input("%s", why);
    const Backend *be = &backend;
    const BackendOps *ops = be->ops;
    printf("device %s; batch %d, %d OpenMP threads, %d measured steps after 2 warm-up\n", be->name,
           batch, omp_get_max_threads(), steps);

    Vit *vit = vit_create(be, space, batch);
    vit_init(vit, 1);
    AdamW opt = adamw_create(&vit->table, 0.9, 0.999, 1e-8, 0.05);
    const int C = vit->classes;
    const size_t pixels = (size_t)batch * vit->channels * vit->image_size * vit->image_size;
    const size_t out = sizeof(real) * (size_t)batch * (size_t)C;
    real *images = ops->alloc(be, pixels * sizeof(real)), *targets = ops->alloc(be, out);
    real *logits = ops->alloc(be, out), *probs = ops->alloc(be, out);
    real *dlogits = ops->alloc(be, out), *loss = ops->alloc(be, sizeof(real) * (size_t)batch);
    int *labels = ops->alloc(be, sizeof(int) * (size_t)batch);
    {
        real *host_images = malloc(pixels * sizeof(real));
        int *host_labels = malloc(sizeof(int) * (size_t)batch);
        Rng rng = rng_stream(1, 1);
        for (size_t i = 0; i < pixels; i++) host_images[i] = (real)rng_normal(&rng);
        for (int b = 0; b < batch; b++) host_labels[b] = (int)rng_below(&rng, (uint64_t)C);
        ops->upload(be, images, host_images, pixels * sizeof(real));
        ops->upload(be, labels, host_labels, sizeof(int) * (size_t)batch);
        free(host_images), free(host_labels);
    }
    ops->soft_targets(be, targets, labels, labels, NULL, 0.1, batch, C);

    StepTimes total = {0};
    /* a device runs ops asynchronously: each phase ends with a sync to be timed alone */
    for (int s = -2; s < steps; s++) {
        double t0 = monotonic_seconds();
        param_table_zero_grads(&vit->table);
        vit_forward(vit, &arch, images, batch, NULL, logits);
        ops->sync(be);
        double t1 = monotonic_seconds();
        ops->cross_entropy_forward(be, loss, probs, logits, targets, batch, C);
        ops->cross_entropy_backward(be, dlogits, probs, targets, batch, C, 1.0 / batch);
        ops->sync(be);
        double t2 = monotonic_seconds();
        vit_backward(vit, &arch, dlogits, batch, NULL);
        ops->sync(be);
        double t3 = monotonic_seconds();
        adamw_step(&opt, &vit->table, 1e-4);
        ops->sync(be);
        double t4 = monotonic_seconds();
        if (s < 0) continue;
        total.forward += t1 - t0, total.loss += t2 - t1, total.backward += t3 - t2;
        total.optimizer += t4 - t3;
    }
    double step_time = (total.forward + total.loss + total.backward + total.optimizer) / steps;
    double train_rate = batch / step_time;
    printf("train step %.4f s: forward %.4f, loss %.4f, backward %.4f, AdamW %.4f (%zu entries)\n",
           step_time, total.forward / steps, total.loss / steps, total.backward / steps,
           total.optimizer / steps, vit->table.n_params);

    double eval_time = 0;
    for (int s = -1; s < steps; s++) {
        double t0 = monotonic_seconds();
        vit_forward(vit, &arch, images, batch, NULL, logits);
        ops->sync(be);
        if (s >= 0) eval_time += monotonic_seconds() - t0;
    }
    double eval_rate = batch * steps / eval_time;
    const int ceiling_n = be->kind == DEVICE_CUDA ? 8192 : 2048;
    double ceiling = sgemm_gflops(be, ceiling_n);
    double train_gflops = 6.0 * cost.macs * train_rate / 1e9,
           eval_gflops = 2.0 * cost.macs * eval_rate / 1e9;
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    printf("train %.2f img/s, %.1f GFLOP/s; eval %.2f img/s, %.1f GFLOP/s\n", train_rate,
           train_gflops, eval_rate, eval_gflops);
    printf("gemm %d^3 on this device now: %.1f GFLOP/s (train reaches %.0f%%, eval %.0f%%)\n",
           ceiling_n, ceiling, 100 * train_gflops / ceiling, 100 * eval_gflops / ceiling);
    printf("peak RSS %.0f MiB\n", usage.ru_maxrss / 1024.0);
    printf("eval_img_per_s=%.3f\n", eval_rate);
    printf("img_per_s=%.3f\n", train_rate);

    adamw_free(&opt);
    void *buffers[] = {images, targets, logits, probs, dlogits, loss, labels};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) ops->free(be, buffers[i]);
    vit_free(vit);
    backend_close(&backend);
    space_free(space);
    return 0;
}
