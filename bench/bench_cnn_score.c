/* prenas-bench-cnn-score: the CNN family's zero-cost stage end to end (src/cnn/cnn_scores.h,
 * cnn_select.h): the SNIP pass of the supernet's largest architecture at one resolution, the
 * prefix-sum tables, scoring uniformly sampled architectures, and the best per FLOPs group;
 * times, memory and the selected architectures (docs/benchmarks.md "CNN zero-cost selection"). */
#include "backend.h"
#include "cli.h"
#include "clock.h"
#include "cnn_arch.h"
#include "cnn_cost.h"
#include "cnn_scores.h"
#include "cnn_select.h"
#include "cnn_space.h"
#include "error.h"
#include "rng.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

static const char USAGE[] =
    "usage: prenas-bench-cnn-score --config SPACE.cfg [--resolution R] [--samples M] [--top N]\n"
    "                              [--seed S] [--batch B] [--group-min K] [--group-cap C]\n"
    "                              [--init-seed I] [--bignas-gamma]\n"
    "\n"
    "The CNN zero-cost stage on the CPU: one data-free SNIP pass of the supernet's largest\n"
    "architecture at resolution R, the score tables, M uniformly sampled architectures scored,\n"
    "and the best N of each of the space's FLOPs groups (its `groups` key).\n"
    "\n"
    "  --config FILE     a CNN space with FLOPs groups\n"
    "  --resolution R    the pass's input side (default: the space's largest resolution)\n"
    "  --samples M       uniform draws from the space (default 100000)\n"
    "  --top N           architectures kept per group (default 5)\n"
    "  --seed S          the draws, and weights and images unless --init-seed (default 0)\n"
    "  --init-seed I     the supernet's weights and the data-free images (default: S)\n"
    "  --batch B         data-free images in the pass (default 8)\n"
    "  --group-min K     fill a group with fewer members up to K by draws inside its box\n"
    "                    (default 1000; 0: no filling)\n"
    "  --group-cap C     at most C such draws per group (default 1000000)\n"
    "  --bignas-gamma    keep BigNAS's zero gamma of each residual block's last BN in the pass\n"
    "                    (residual layers then have saliency 0: SNIP cannot see depth)\n"
    "  --help, --version\n"
    "Threads: OMP_NUM_THREADS (default: all cores).\n";

typedef struct {
    const char *config;
    int resolution, top, batch;
    int64_t samples, group_min, group_cap;
    uint64_t seed, init_seed;
    bool bignas_gamma, init_seed_given;
} Options;

static Options parse(int argc, char **argv) {
    static const struct option options[] = {{"config", required_argument, NULL, 'c'},
                                            {"resolution", required_argument, NULL, 'r'},
                                            {"samples", required_argument, NULL, 'm'},
                                            {"top", required_argument, NULL, 'n'},
                                            {"seed", required_argument, NULL, 's'},
                                            {"batch", required_argument, NULL, 'b'},
                                            {"group-min", required_argument, NULL, 'k'},
                                            {"group-cap", required_argument, NULL, 'C'},
                                            {"init-seed", required_argument, NULL, 'i'},
                                            {"bignas-gamma", no_argument, NULL, 'g'},
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, CLI_OPT_VERSION},
                                            {NULL, 0, NULL, 0}};
    Options o = {.top = 5, .batch = 8, .samples = 100000, .group_min = 1000, .group_cap = 1000000};
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
        switch (c) {
        case 'c':
            o.config = optarg;
            break;
        case 'r':
            o.resolution = (int)cli_long("--resolution", optarg, 1, CNN_MAX_RESOLUTION);
            break;
        case 'm':
            o.samples = cli_long("--samples", optarg, 0, 1000000000L);
            break;
        case 'n':
            o.top = (int)cli_long("--top", optarg, 1, 10000);
            break;
        case 's':
            o.seed = (uint64_t)cli_long("--seed", optarg, 0, 1L << 62);
            break;
        case 'b':
            o.batch = (int)cli_long("--batch", optarg, 1, 4096);
            break;
        case 'k':
            o.group_min = cli_long("--group-min", optarg, 0, 1000000000L);
            break;
        case 'C':
            o.group_cap = cli_long("--group-cap", optarg, 0, 1000000000000L);
            break;
        case 'i':
            o.init_seed = (uint64_t)cli_long("--init-seed", optarg, 0, 1L << 62);
            o.init_seed_given = true;
            break;
        case 'g':
            o.bignas_gamma = true;
            break;
        default:
            cli_common_option(c, USAGE, argv);
        }
    }
    if (!o.config) cli_usage_error("--config is required");
    if (!o.init_seed_given) o.init_seed = o.seed;
    return o;
}

static double score_of(const CnnArch *arch, const void *tables) {
    return cnn_score(tables, arch);
}

static double peak_rss_mb(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss / 1024.0; /* kB on Linux */
}

/* Scoring alone, over the first `samples` uniform draws (the selection's own): its rate. */
static double time_scoring(const CnnSpace *space, const CnnScoreTables *tables, int64_t samples,
                           uint64_t seed) {
    Rng rng = rng_stream(seed, RNG_STREAM_CNN_SELECT);
    CnnArch *archs = xmalloc(sizeof *archs * (size_t)(samples > 0 ? samples : 1));
    for (int64_t i = 0; i < samples; i++) cnn_arch_sample(space, &rng, &archs[i]);
    volatile double sink = 0;
    const double start = monotonic_seconds();
    for (int64_t i = 0; i < samples; i++) sink = sink + cnn_score(tables, &archs[i]);
    const double seconds = monotonic_seconds() - start;
    free(archs);
    return seconds;
}

int main(int argc, char **argv) {
    const Options o = parse(argc, argv);
    Error err = {0};
    CnnSpace *space = cnn_space_load_file(o.config, &err);
    if (!space) die(&err);
    if (space->groups.count == 0)
        cli_usage_error("%s names no FLOPs groups (its `groups` key, docs/spaces.md)", o.config);
    Backend be;
    char why[256];
    if (!backend_open(&be, "cpu", NULL, why, sizeof why)) cli_usage_error("%s", why);

    CnnArch pass_arch;
    cnn_arch_largest(space, &pass_arch);
    if (o.resolution) pass_arch.resolution = o.resolution;
    char text[CNN_ARCH_TEXT_MAX];
    cnn_arch_format(&pass_arch, text, sizeof text);
    printf("space %s (%s): %.4g architectures, %d FLOPs groups\n", space->name, o.config,
           cnn_space_count(space), space->groups.count);

    double t0 = monotonic_seconds();
    CnnNet *net = cnn_score_net_create(&be, space, pass_arch.resolution, o.batch, &err);
    if (!net) die(&err);
    cnn_score_init(net, o.init_seed, o.bignas_gamma);
    const double t_create = monotonic_seconds() - t0;
    const size_t image = (size_t)net->in_channels * pass_arch.resolution * pass_arch.resolution;
    real *images = xmalloc(sizeof *images * image * (size_t)o.batch);
    cnn_data_free_images(images, o.batch, net->in_channels, pass_arch.resolution, o.init_seed);
    t0 = monotonic_seconds();
    const double loss = cnn_score_pass(net, &pass_arch, images, NULL, o.batch);
    const double t_pass = monotonic_seconds() - t0;
    /* again: the first pays for oneDNN's primitives, made once per convolution shape */
    t0 = monotonic_seconds();
    cnn_score_pass(net, &pass_arch, images, NULL, o.batch);
    const double t_again = monotonic_seconds() - t0;
    t0 = monotonic_seconds();
    double *saliency = cnn_saliency(net);
    const double t_saliency = monotonic_seconds() - t0;
    t0 = monotonic_seconds();
    CnnScoreTables *tables = cnn_score_tables_build(net, space, saliency);
    const double t_tables = monotonic_seconds() - t0;
    const CnnCost pass_cost = cnn_arch_cost(&pass_arch, space);
    printf("supernet: %zu parameters; net created and initialised in %.2f s (%s)\n",
           net->table.n_params, t_create,
           o.bignas_gamma ? "BigNAS's zero residual gammas kept" : "residual gammas 1");
    printf("pass: %s, %.1f MFLOPs per image, batch %d data-free N(0,1), L = sum of logits "
           "= %.6g: %.2f s (again: %.2f s)\n",
           text, pass_cost.flops / 1e6, o.batch, loss, t_pass, t_again);
    printf("saliency |w * dL/dw|: %.3f s; tables: %.3f s, %.1f MB\n", t_saliency, t_tables,
           tables->bytes / 1e6);
    free(saliency);
    free(images);
    cnn_net_free(net);

    CnnArch small, large;
    cnn_arch_smallest(space, &small);
    cnn_arch_largest(space, &large);
    printf("score of the smallest %.6e, of the largest %.6e\n", cnn_score(tables, &small),
           cnn_score(tables, &large));
    const double t_scoring = time_scoring(space, tables, o.samples, o.seed);
    printf("scoring %lld uniform architectures: %.3f s (%.2f us each)\n", (long long)o.samples,
           t_scoring, o.samples ? 1e6 * t_scoring / (double)o.samples : 0.0);

    const CnnSelectOptions so = {o.samples, o.top, o.seed, o.group_min, o.group_cap};
    CnnSelection sel = cnn_select(space, &so, score_of, tables);
    printf("selection: %lld uniform draws (cost, group, score of members) %.3f s, %lld in no "
           "group; filling %.3f s\n",
           (long long)sel.samples, sel.seconds_uniform, (long long)sel.outside, sel.seconds_fill);
    printf("\n");
    cnn_selection_print(stdout, &sel, space);
    printf("\npeak RSS %.0f MB\n", peak_rss_mb());
    cnn_selection_free(&sel);
    cnn_score_tables_free(tables);
    backend_close(&be);
    cnn_space_free(space);
    return 0;
}
