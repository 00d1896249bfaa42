/* prenas-score: one gradient pass of the randomly initialised supernet (method.md §6.1) and
 * the zero-cost tables prenas-select needs (§6.3, §6.4), in scores.h5; for a CNN space the
 * plain SNIP saliency of every supernet parameter (§13, src/cnn/cnn_scores.h). */
#include "arch.h"
#include "artefact.h"
#include "cli.h"
#include "clock.h"
#include "cnn_artefacts.h"
#include "cnn_scores.h"
#include "comm.h"
#include "config.h"
#include "device.h"
#include "gradient_pass.h"
#include "h5.h"
#include "lineage.h"
#include "model.h"
#include "proxy.h"
#include "scores.h"
#include "space.h"
#include "text.h"

#include <getopt.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "usage: prenas-score --config SPACE.cfg --out scores.h5 [--data dataset.h5] [options]\n"
    "\n"
    "Builds the supernet of SPACE.cfg with random weights (seeded), activates the largest\n"
    "architecture of the space, runs one gradient pass in training mode and tabulates every\n"
    "zero-cost proxy's saliencies for prenas-select (method.md 6). For a CNN space (`family =\n"
    "\"cnn\"`): one data-free pass and plain SNIP, |w * dL/dw| of every supernet parameter, which\n"
    "prenas-select sums over each sampled architecture's weights (method.md 13).\n"
    "\n"
    "  --config FILE      the search space\n"
    "  --out FILE         scores.h5 to write (atomically)\n"
    "  --data FILE        data mode: the loss on real training images of a dataset.h5 (no\n"
    "                     augmentation; label smoothing 0.1) instead of the data-free pass:\n"
    "                     Gaussian images with the space's data_free mean/std, loss = sum of\n"
    "                     all logits (the reference's --data-free)\n"
    "  --batch N          images in the pass (default 64, as the reference; a CNN space: 8, one\n"
    "                     forward, as batch norm's statistics tie the batch together: about\n"
    "                     190 MB per image for BigNAS at 224); data mode: images per mini-batch\n"
    "  --batches K        data mode: mini-batches (default 1); the gradient is their mean\n"
    "  --micro-batch M    images per forward/backward on a rank (default 32; memory)\n"
    "  --proxy NAME       the isomer proxy prenas-select uses by default (default\n"
    "                     snip-layernorm); every proxy is tabulated: %s\n"
    "  --drop-path P      drop-path rate of the last supernet block (default 0.1)\n"
    "  --seed S           weights, images and drop path (default 0)\n" DEVICE_OPTIONS_HELP
    "  --help, --version\n"
    "CNN spaces only (the ViT's --data, --batches, --micro-batch, --proxy and --drop-path do not\n"
    "apply; a CNN space is scored data-free, and on the CPU: --device auto means cpu there, and\n"
    "--device cuda is refused, as the CUDA backend has no CNN ops yet):\n"
    "  --resolution R     the pass's input side, one of the space's (default: its largest)\n"
    "  --bignas-gamma     keep BigNAS's zero gamma of each residual block's last BN in the pass\n"
    "                     (then every residual layer has saliency 0 and SNIP cannot see depth)\n"
    "\n"
    "MPI: ranks share the images (the result does not depend on the rank count beyond float\n"
    "rounding); gradients are summed across ranks. A CNN space's pass is one batch on rank 0\n"
    "(other ranks wait). Exit status: 0 success, 2 bad usage or input, 1 failure.\n";

typedef struct {
    const char *config, *out, *data, *proxy;
    int batch, batches, micro_batch, resolution; /* batch 0: the family's default */
    double drop_path;
    uint64_t seed;
    DeviceOptions device;
    bool bignas_gamma;
    const char *vit_only, *cnn_only; /* the first option given that only one family takes */
} Options;

static Options parse(int argc, char **argv) {
    enum { OPT_BATCHES = CLI_OPT_FIRST, OPT_MICRO, OPT_DROP, OPT_RESOLUTION, OPT_GAMMA };
    static const struct option options[] = {{"config", required_argument, NULL, 'c'},
                                            {"out", required_argument, NULL, 'o'},
                                            {"data", required_argument, NULL, 'd'},
                                            {"batch", required_argument, NULL, 'b'},
                                            {"batches", required_argument, NULL, OPT_BATCHES},
                                            {"micro-batch", required_argument, NULL, OPT_MICRO},
                                            {"proxy", required_argument, NULL, 'p'},
                                            {"drop-path", required_argument, NULL, OPT_DROP},
                                            {"seed", required_argument, NULL, 's'},
                                            {"resolution", required_argument, NULL, OPT_RESOLUTION},
                                            {"bignas-gamma", no_argument, NULL, OPT_GAMMA},
                                            DEVICE_LONG_OPTIONS,
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, CLI_OPT_VERSION},
                                            {NULL, 0, NULL, 0}};
    Options o = {.proxy = "snip-layernorm", .batches = 1, .micro_batch = 32, .drop_path = 0.1};
    char names[128];
    proxy_names(names, sizeof names);
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
        switch (c) {
        case 'c':
            o.config = optarg;
            break;
        case 'o':
            o.out = optarg;
            break;
        case 'd':
            o.data = optarg;
            cli_first(&o.vit_only, "--data");
            break;
        case 'b':
            o.batch = (int)cli_long("--batch", optarg, 1, 1 << 20);
            break;
        case OPT_BATCHES:
            o.batches = (int)cli_long("--batches", optarg, 1, 1 << 20);
            cli_first(&o.vit_only, "--batches");
            break;
        case OPT_MICRO:
            o.micro_batch = (int)cli_long("--micro-batch", optarg, 1, 1 << 16);
            cli_first(&o.vit_only, "--micro-batch");
            break;
        case 'p':
            o.proxy = optarg;
            cli_first(&o.vit_only, "--proxy");
            break;
        case OPT_DROP:
            o.drop_path = cli_double("--drop-path", optarg, 0, 0.99);
            cli_first(&o.vit_only, "--drop-path");
            break;
        case OPT_RESOLUTION:
            o.resolution = (int)cli_long("--resolution", optarg, 1, CNN_MAX_RESOLUTION);
            cli_first(&o.cnn_only, "--resolution");
            break;
        case OPT_GAMMA:
            o.bignas_gamma = true;
            cli_first(&o.cnn_only, "--bignas-gamma");
            break;
        case 's':
            o.seed = (uint64_t)cli_long("--seed", optarg, 0, INT64_MAX);
            break;
        case 'h':
            printf(USAGE, names);
            exit(0);
        default:
            if (!device_option(c, optarg, &o.device)) cli_common_option(c, NULL, argv);
        }
    }
    if (optind < argc) cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!o.config) cli_usage_error("--config SPACE.cfg is required");
    if (!o.out) cli_usage_error("--out scores.h5 is required");
    if (!proxy_find(o.proxy)) cli_usage_error("--proxy '%s': unknown (known: %s)", o.proxy, names);
    return o;
}

static void print_summary(const ScoreTables *tables, const Proxy *proxy, const Space *space,
                          const GradientPassResult *pass) {
    const ScoreLayout *l = &tables->layout;
    const ProxyTables *t = score_tables_find(tables, proxy);
    printf("gradient pass: %lld images, objective %.6g, %.2f s\n", (long long)pass->images,
           pass->objective, pass->seconds);
    Arch smallest, largest;
    arch_smallest(space, &smallest);
    arch_largest(space, &largest);
    printf("SNIP score (method.md 6.4): smallest architecture %.6g, largest %.6g\n",
           score_rank(tables, &PROXY_SNIP, &smallest, space),
           score_rank(tables, &PROXY_SNIP, &largest, space));
    if (!space->uniform) return;
    /* the increments the isomer allocation will compare, at the largest width */
    const int w = layout_width(l, largest.embed_dim), H = l->max_heads;
    const ChoiceList *heads = &space->choices.num_heads, *ratios = &space->choices.mlp_ratio;
    printf("%s increments at width %d (layer: heads %d->%d ..., mlp ...):\n", proxy->name,
           largest.embed_dim, heads->values[0],
           heads->count > 1 ? heads->values[1] : heads->values[0]);
    for (int layer = 0; layer < largest.depth; layer++) {
        const size_t at = (size_t)w * l->depth + layer;
        printf("  layer %2d  heads", layer);
        for (int k = 1; k < heads->count; k++)
            printf(" %.4g", t->alloc_heads[at * (H + 1) + heads->values[k]] -
                                t->alloc_heads[at * (H + 1) + heads->values[k - 1]]);
        printf("  mlp");
        for (int k = 1; k < ratios->count; k++)
            printf(" %.4g",
                   t->alloc_mlp[at * l->n_ratios + layout_ratio(l, ratios->values[k])] -
                       t->alloc_mlp[at * l->n_ratios + layout_ratio(l, ratios->values[k - 1])]);
        printf("\n");
    }
}

static void score_vit(Options o, const Comm *comm, ArtefactGuard *guard, int argc, char **argv) {
    if (o.cnn_only)
        cli_usage_error("%s is for CNN spaces; %s is a ViT space", o.cnn_only, o.config);
    if (!o.data && o.batches != 1) cli_usage_error("--batches goes with --data");
    if (!o.batch) o.batch = 64;
    if (o.micro_batch > o.batch * o.batches) o.micro_batch = o.batch * o.batches;
    Error err = {0};
    Space *space = space_load_file(o.config, &err);
    if (!space) die(&err);
    GradientPass pass = {.space = space,
                         .options = {o.batch, o.batches, o.micro_batch, o.drop_path, o.seed}};
    if (o.data && !gradient_pass_open_data(&pass, o.data, &err)) die(&err);
    /* the device first: its refusal exits at once, with no output begun */
    Backend backend;
    device_open(&backend, o.device.device, o.device.precision, comm, stdout);
    /* the output directory must be writable before an hour of work; only rank 0 writes */
    ArtefactWriter writer = {.file = -1};
    if (comm->rank == 0) artefact_begin_guarded(&writer, o.out, guard, &err);
    comm_check(comm, &err);
    const ModelSpace model_space = model_space_of_vit(space);
    Model *model = model_create(&backend, &model_space, o.micro_batch, 0, &err);
    if (!model) die(&err);
    Vit *vit = model->vit;
    vit_init(vit, o.seed); /* the same weights on every rank */
    Arch largest;
    arch_largest(space, &largest);
    GradientPassResult result = gradient_pass_run(&pass, comm, model, &largest, &err);
    if (comm_failed(comm, &err) && comm->rank == 0) artefact_abort(&writer);
    comm_check(comm, &err);
    /* the tables are sums over the host's copy of the weights and gradients */
    Vit *host = backend.kind == DEVICE_CPU ? vit : vit_host_copy(vit, space);
    comm_sum_reals(comm, host->table.grads, host->table.n_params);
    comm_sum_doubles(comm, &result.objective, 1);

    if (comm->rank == 0) {
        const double start = MPI_Wtime();
        ScoreTables tables;
        score_tables_compute(&tables, host, space);
        const double table_seconds = MPI_Wtime() - start;
        ArtefactMeta meta;
        artefact_meta_init(&meta, SCORES_SCHEMA, SCORES_SCHEMA_VERSION, argc, argv);
        artefact_meta_set_config(&meta, space->text);
        meta.seed = o.seed;
        meta.world_size = comm->size;
        lineage_of_scores(space, o.data ? &pass.dataset : NULL, &meta.lineage);
        if (o.data && !artefact_meta_add_input(&meta, "dataset", o.data, &err)) {
            artefact_abort(&writer);
            die(&err);
        }
        char text[ARCH_TEXT_MAX];
        arch_format(&largest, text, sizeof text);
        hid_t f = writer.file;
        h5_attr_string(f, "mode", o.data ? "data" : "data-free");
        h5_attr_int(f, "images", result.images);
        h5_attr_string(f, "architecture", text);
        h5_attr_string(f, "default_proxy", o.proxy);
        h5_attr_doubles(f, "drop_path", &o.drop_path, 1);
        h5_attr_doubles(f, "objective", &result.objective, 1);
        h5_attr_doubles(f, "gradient_seconds", &result.seconds, 1);
        h5_attr_doubles(f, "table_seconds", &table_seconds, 1);
        scores_write(f, &tables);
        artefact_commit(&writer, &meta);
        artefact_meta_free(&meta);
        printf("prenas-score: %s, %s, %d rank(s), seed %llu -> %s\n", space->name,
               o.data ? "data mode" : "data-free", comm->size, (unsigned long long)o.seed, o.out);
        print_summary(&tables, proxy_find(o.proxy), space, &result);
        printf("tables of %d proxies in %.2f s\n", tables.n_proxies, table_seconds);
        score_tables_free(&tables);
    }
    gradient_pass_close(&pass);
    if (host != vit) vit_free(host);
    model_free(model);
    backend_close(&backend);
    space_free(space);
}

/* Usage errors of a CNN pass: a resolution the space does not have, and a batch whose last
 * feature map leaves batch norm one value per channel (its batch statistics need two). */
static void check_pass(const CnnSpace *space, const CnnArch *arch, int batch) {
    if (!cnn_choices_contain(&space->resolution, arch->resolution)) {
        char list[CNN_MAX_CHOICES * 8];
        cnn_choices_format(&space->resolution, list, sizeof list);
        cli_usage_error("--resolution %d: not one of the space's resolutions (%s), %s",
                        arch->resolution, list, space->source);
    }
    int side = cnn_conv_side(arch->resolution, space->stem.stride);
    for (int s = 0; s < space->n_stages; s++) side = cnn_conv_side(side, space->stages[s].stride);
    if ((int64_t)batch * side * side < 2)
        cli_usage_error("--batch %d at resolution %d leaves batch norm one value per channel in "
                        "the last stage (%d x %d): its batch statistics need two; give --batch 2 "
                        "or more",
                        batch, arch->resolution, side, side);
}

/* A CNN space (method.md §13): one data-free pass on rank 0, the saliency into scores.h5. */
static void score_cnn(Options o, const Comm *comm, ArtefactGuard *guard, int argc, char **argv) {
    if (o.vit_only)
        cli_usage_error("%s is for ViT spaces; %s is a CNN space (scored data-free, by plain SNIP)",
                        o.vit_only, o.config);
    if (!o.batch) o.batch = 8;
    Error err = {0};
    CnnSpace *space = cnn_space_load_file(o.config, &err);
    if (!space) die(&err);
    CnnArch pass_arch;
    cnn_arch_largest(space, &pass_arch);
    if (o.resolution) pass_arch.resolution = o.resolution;
    check_pass(space, &pass_arch, o.batch);
    Backend backend;
    device_open(&backend, device_for_family(o.device.device, FAMILY_CNN), o.device.precision, comm,
                stdout);
    ArtefactWriter writer = {.file = -1};
    if (comm->rank == 0) artefact_begin_guarded(&writer, o.out, guard, &err);
    comm_check(comm, &err);
    /* collective: a backend without CNN ops (CUDA) fails every rank, with no output left */
    CnnNet *net = comm->rank == 0
                      ? cnn_score_net_create(&backend, space, pass_arch.resolution, o.batch, &err)
                      : NULL;
    if (comm_failed(comm, &err) && comm->rank == 0) artefact_abort(&writer);
    comm_check(comm, &err);
    if (comm->rank == 0) {
        cnn_score_init(net, o.seed, o.bignas_gamma);
        const size_t image = (size_t)net->in_channels * pass_arch.resolution * pass_arch.resolution;
        real *images = xmalloc(sizeof *images * image * (size_t)o.batch);
        cnn_data_free_images(images, o.batch, net->in_channels, pass_arch.resolution, o.seed);
        const double start = monotonic_seconds();
        const double objective = cnn_score_pass(net, &pass_arch, images, NULL, o.batch);
        const double seconds = monotonic_seconds() - start;
        double *saliency = cnn_saliency(net);

        ArtefactMeta meta;
        artefact_meta_init(&meta, SCORES_SCHEMA, SCORES_SCHEMA_VERSION, argc, argv);
        artefact_meta_set_config(&meta, space->text);
        meta.seed = o.seed;
        meta.world_size = comm->size;
        cnn_space_digest(space, meta.lineage.space);
        char text[CNN_ARCH_TEXT_MAX];
        cnn_arch_format(&pass_arch, text, sizeof text);
        hid_t f = writer.file;
        h5_attr_string(f, "mode", "data-free");
        h5_attr_int(f, "images", o.batch);
        h5_attr_string(f, "architecture", text);
        h5_attr_int(f, "resolution", pass_arch.resolution);
        h5_attr_int(f, "bignas_gamma", o.bignas_gamma);
        h5_attr_doubles(f, "objective", &objective, 1);
        h5_attr_doubles(f, "gradient_seconds", &seconds, 1);
        cnn_scores_write(f, net, saliency);
        artefact_commit(&writer, &meta);
        artefact_meta_free(&meta);

        CnnScoreTables *tables = cnn_score_tables_build(net, space, saliency);
        CnnArch smallest, largest;
        cnn_arch_smallest(space, &smallest);
        cnn_arch_largest(space, &largest);
        printf("prenas-score: %s (CNN), data-free, seed %llu -> %s\n", space->name,
               (unsigned long long)o.seed, o.out);
        printf("gradient pass: %s, %d %s, objective %.6g, %.2f s; %zu parameters (%s)\n", text,
               o.batch, plural(o.batch, "image", "images"), objective, seconds, net->table.n_params,
               o.bignas_gamma ? "BigNAS's zero residual gammas kept" : "residual gammas 1");
        printf("SNIP score (method.md 13): smallest architecture %.6g, largest %.6g\n",
               cnn_score(tables, &smallest), cnn_score(tables, &largest));
        cnn_score_tables_free(tables);
        free(saliency);
        free(images);
        cnn_net_free(net);
    }
    backend_close(&backend);
    cnn_space_free(space);
}

int main(int argc, char **argv) {
    const Options o = parse(argc, argv);
    Error err = {0};
    if (!artefact_check_not_input(o.out, 2, (const char *[]){o.config, o.data}, &err)) die(&err);
    /* before MPI starts threads; static: the signal thread may outlive main's frame */
    static ArtefactGuard guard;
    artefact_guard_start(&guard);
    Comm comm = comm_start(&argc, &argv);
    h5_silence();
    ModelFamily family;
    if (!cfg_file_family(o.config, &family, &err)) die(&err);
    if (family == FAMILY_CNN)
        score_cnn(o, &comm, &guard, argc, argv);
    else
        score_vit(o, &comm, &guard, argc, argv);
    comm_finish();
    return 0;
}
