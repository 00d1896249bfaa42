/* prenas-evaluate: the accuracy of subnets with inherited weights (method.md §10.1), their
 * exact cost and measured latency: eval.h5, a CSV and a Markdown table, and a Pareto plot. */
#include "evaluate.h"
#include "arch_list.h"
#include "artefact.h"
#include "backend.h"
#include "checkpoint.h"
#include "cli.h"
#include "clock.h"
#include "comm.h"
#include "dataset.h"
#include "device.h"
#include "eval_table.h"
#include "h5.h"
#include "latency.h"
#include "lineage.h"
#include "model_space.h"
#include "plot.h"
#include "text.h"

#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "usage: prenas-evaluate --supernet RUNDIR/supernet.h5 --data dataset.h5 --out eval.h5\n"
    "                       [--split val|test] [--archs FILE] [--no-preferred] [--images N]\n"
    "                       [--batch B] [--bn-images N] [--latency-batch N] [--latency-repeats R]\n"
    "                       [--no-plot] [--device D] [--precision P]\n"
    "\n"
    "Evaluates subnets of a trained supernet with their inherited weights (method.md 10.1):\n"
    "top-1, top-5 and mean cross-entropy (no label smoothing; the per-image mean, where the\n"
    "reference averages per-batch means), params, FLOPs (the reference's count) and MACs,\n"
    "and the latency of one forward pass at batch 1 and batch N on this machine. A CNN\n"
    "supernet's subnets are each evaluated after BigNAS's BN recalibration (method.md 13) on\n"
    "a fixed set of training images drawn from the training run's seed; their latency counts\n"
    "the resize from the dataset's side to the architecture's resolution.\n"
    "\n"
    "  --supernet FILE     RUNDIR/supernet.h5 or any checkpoint of prenas-train\n"
    "  --data FILE         dataset.h5 (prenas-pack) of the images the supernet takes\n"
    "  --out FILE          eval.h5; beside it FILE's stem .csv, .md and .png\n"
    "  --split NAME        val (default) or test. Val chooses (prenas-specialize, prenas-search);\n"
    "                      test only reports: nothing may be chosen on it\n"
    "  --archs FILE        also these architectures: one canonical string per line, '#'\n"
    "                      comments (e.g. from prenas-arch --isomers); shown apart from the\n"
    "                      preferred ones. A ViT: any subnet the supernet holds; a CNN: any\n"
    "                      architecture of its search space\n"
    "  --no-preferred      only the --archs list, not the supernet's preferred architectures\n"
    "  --images N          the split's first N images (default: all)\n"
    "  --batch B           images per forward pass (default 256); a CNN's recalibration batch\n"
    "  --bn-images N       a CNN's recalibration images (default 2000; the training recipe's\n"
    "                      eval.bn_images reproduces prenas-train's final test table)\n"
    "  --latency-batch N   the second latency's batch (default 64)\n"
    "  --latency-repeats R timed forwards per architecture and batch after 3 untimed ones;\n"
    "                      the median and the min..max are kept (default 10; 0: no latency)\n"
    "  --no-plot           no PNG (no gnuplot needed)\n" DEVICE_OPTIONS_HELP "  --help, --version\n"
    "\n"
    "MPI: ranks take whole architectures (or share the images when there are fewer\n"
    "architectures than ranks); the table is the same for any rank count. Latency is timed\n"
    "by rank 0 alone with its OpenMP threads (OMP_NUM_THREADS) while the other ranks sleep.\n"
    "Progress goes to stderr every 5 s. Exit status: 0 success, 2 bad usage or input, 1 a\n"
    "failure of the machine.\n";

typedef struct {
    const char *supernet, *data, *out, *split, *archs;
    bool preferred, plot;
    int64_t images;
    int batch, latency_batch, latency_repeats;
    int64_t bn_images;
    DeviceOptions device;
} Options;

static Options parse(int argc, char **argv) {
    enum {
        OPT_NO_PREFERRED = CLI_OPT_FIRST,
        OPT_IMAGES,
        OPT_LATENCY_BATCH,
        OPT_LATENCY_REPEATS,
        OPT_NO_PLOT,
        OPT_BN_IMAGES
    };
    static const struct option options[] = {
        {"supernet", required_argument, NULL, 'n'},
        {"data", required_argument, NULL, 'd'},
        {"out", required_argument, NULL, 'o'},
        {"split", required_argument, NULL, 's'},
        {"archs", required_argument, NULL, 'a'},
        {"no-preferred", no_argument, NULL, OPT_NO_PREFERRED},
        {"images", required_argument, NULL, OPT_IMAGES},
        {"batch", required_argument, NULL, 'b'},
        {"latency-batch", required_argument, NULL, OPT_LATENCY_BATCH},
        {"latency-repeats", required_argument, NULL, OPT_LATENCY_REPEATS},
        {"no-plot", no_argument, NULL, OPT_NO_PLOT},
        {"bn-images", required_argument, NULL, OPT_BN_IMAGES},
        DEVICE_LONG_OPTIONS,
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, CLI_OPT_VERSION},
        {NULL, 0, NULL, 0}};
    Options o = {.split = "val",
                 .preferred = true,
                 .plot = true,
                 .batch = CALIBRATION_BATCH,
                 .latency_batch = 64,
                 .latency_repeats = 10,
                 .bn_images = CALIBRATION_IMAGES};
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
        switch (c) {
        case 'n':
            o.supernet = optarg;
            break;
        case 'd':
            o.data = optarg;
            break;
        case 'o':
            o.out = optarg;
            break;
        case 's':
            if (strcmp(optarg, "val") != 0 && strcmp(optarg, "test") != 0)
                cli_usage_error("--split '%s': expected val or test", optarg);
            o.split = optarg;
            break;
        case 'a':
            o.archs = optarg;
            break;
        case OPT_NO_PREFERRED:
            o.preferred = false;
            break;
        case OPT_IMAGES:
            o.images = cli_long("--images", optarg, 1, INT64_MAX);
            break;
        case 'b':
            o.batch = (int)cli_long("--batch", optarg, 1, 65536);
            break;
        case OPT_LATENCY_BATCH:
            o.latency_batch = (int)cli_long("--latency-batch", optarg, 1, 65536);
            break;
        case OPT_LATENCY_REPEATS:
            o.latency_repeats = (int)cli_long("--latency-repeats", optarg, 0, 100000);
            break;
        case OPT_NO_PLOT:
            o.plot = false;
            break;
        case OPT_BN_IMAGES:
            o.bn_images = cli_long("--bn-images", optarg, 1, INT64_MAX);
            break;
        default:
            if (!device_option(c, optarg, &o.device)) cli_common_option(c, USAGE, argv);
        }
    }
    if (optind < argc) cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!o.supernet || !o.data || !o.out)
        cli_usage_error("--supernet, --data and --out are required");
    if (!o.preferred && !o.archs) cli_usage_error("--no-preferred needs --archs FILE");
    return o;
}

/* The supernet's preferred architectures and the --archs list (a listed preferred one is
 * marked preferred). */
static bool plan_table(const Options *o, const TrainedSupernet *s, EvalTable *table, Error *err) {
    if (o->preferred && s->n == 0 && !o->archs)
        return input_error(err,
                           "the supernet was trained on the whole space (--sampling %s): give the "
                           "architectures with --archs FILE, %s",
                           s->sampling, o->supernet);
    ModelArch *extra = NULL;
    int n_extra = 0;
    if (o->archs && !arch_list_read(o->archs, &s->space, &extra, &n_extra, err)) return false;
    const int n_preferred = o->preferred ? s->n : 0;
    EvalTable t = eval_table_new(s->archs, n_preferred, s->interval, s->score, true, &s->space);
    EvalTable more = eval_table_new(extra, n_extra, NULL, NULL, false, &s->space);
    t.rows = xrealloc(t.rows, sizeof *t.rows * ((size_t)t.n + (size_t)n_extra + 1));
    for (int i = 0; i < n_extra; i++) {
        bool known = false;
        for (int j = 0; j < n_preferred && !known; j++)
            known = model_arch_equal(&t.rows[j].arch, &more.rows[i].arch);
        if (!known) t.rows[t.n++] = more.rows[i];
    }
    eval_table_free(&more);
    free(extra);
    snprintf(t.split, sizeof t.split, "%s", o->split);
    *table = t;
    return true;
}

/* Rank 0 times every architecture; the other ranks sleep meanwhile. */
static void measure_latency(Model *model, EvalTable *t, const Options *o, const Comm *comm) {
    t->latency_batch = o->latency_batch;
    t->latency_repeats = o->latency_repeats;
    t->latency_threads = omp_get_max_threads();
    snprintf(t->latency_device, sizeof t->latency_device, "%s", backend_device_name(model->be));
    if (comm->rank == 0 && t->latency_repeats > 0) {
        for (int i = 0; i < t->n; i++) {
            const int batches[2] = {1, o->latency_batch};
            for (int b = 0; b < 2; b++)
                t->rows[i].latency[b] =
                    latency_measure(model, &t->rows[i].arch, batches[b], 3, t->latency_repeats);
        }
    }
    comm_barrier_idle(comm);
}

/* FILE.h5 -> FILE.ext (or FILE.h5.ext when the name does not end in .h5). */
static void sibling(const char *out, const char *ext, char *path, size_t size) {
    const size_t n = strlen(out);
    const int stem = n > 3 && strcmp(out + n - 3, ".h5") == 0 ? (int)(n - 3) : (int)n;
    snprintf(path, size, "%.*s.%s", stem, out, ext);
}

static bool write_outputs(const Options *o, const EvalTable *t, const TrainedSupernet *s,
                          const Lineage *lineage, ArtefactWriter *writer, ArtefactGuard *guard,
                          int comm_size, int argc, char **argv, Error *err) {
    ArtefactMeta meta;
    artefact_meta_init(&meta, EVAL_SCHEMA, EVAL_SCHEMA_VERSION, argc, argv);
    artefact_meta_set_config(&meta, model_space_text(&s->space));
    meta.world_size = comm_size;
    meta.lineage = *lineage;
    bool ok = artefact_meta_add_input(&meta, "supernet", o->supernet, err) &&
              artefact_meta_add_input(&meta, "dataset", o->data, err) &&
              (!o->archs || artefact_meta_add_input(&meta, "archs", o->archs, err));
    char csv[ARTEFACT_PATH_MAX], md[ARTEFACT_PATH_MAX], png[ARTEFACT_PATH_MAX];
    sibling(o->out, "csv", csv, sizeof csv);
    sibling(o->out, "md", md, sizeof md);
    sibling(o->out, "png", png, sizeof png);
    char title[256];
    snprintf(title, sizeof title, "prenas-evaluate: %s, %s split (%lld images)",
             model_space_name(&s->space), t->split,
             t->n ? (long long)t->rows[0].result.images : 0LL);
    artefact_guard_hold(guard);
    ok = ok && eval_table_write_csv(csv, t, err) && eval_table_write_markdown(md, t, err) &&
         (!o->plot || plot_pareto(png, t, title, err));
    artefact_guard_release(guard);
    if (ok) {
        eval_table_write(writer->file, t);
        artefact_commit(writer, &meta);
    }
    artefact_meta_free(&meta);
    if (ok)
        printf("wrote %s, %s, %s%s%s\n", o->out, csv, md, o->plot ? ", " : "", o->plot ? png : "");
    return ok;
}

int main(int argc, char **argv) {
    const Options o = parse(argc, argv);
    Error err = {0};
    if (!artefact_check_not_input(o.out, 2, (const char *[]){o.supernet, o.data}, &err)) die(&err);
    /* before MPI starts threads; static: the signal thread may outlive main's frame */
    static ArtefactGuard guard;
    artefact_guard_start(&guard);
    Comm comm = comm_start(&argc, &argv);
    h5_silence();
    ModelFamily family;
    if (!trained_supernet_peek(o.supernet, &family, NULL, &err)) die(&err);
    Backend backend;
    device_open(&backend, device_for_family(o.device.device, family), o.device.precision, &comm,
                stdout);
    DatasetFile data;
    if (!dataset_open(&data, o.data, &err)) die(&err);
    TrainedSupernet supernet;
    if (!trained_supernet_open(&supernet, &backend, o.supernet,
                               o.batch > o.latency_batch ? o.batch : o.latency_batch,
                               data.shape.height, &err))
        die(&err);
    SplitImages split;
    Lineage lineage;
    if (!model_space_fits_dataset(&supernet.space, &data, &err) ||
        !lineage_of_supernet_on(o.supernet, &data, &lineage, &err) ||
        !split_images_open(&data, o.split, true, &split, &err))
        die(&err);
    if (split.count == 0) die_input("the dataset has no %s images, %s", o.split, o.data);
    EvalTable table;
    if (!plan_table(&o, &supernet, &table, &err)) die(&err);
    ArtefactWriter writer = {.file = -1};
    if (comm.rank == 0) artefact_begin_guarded(&writer, o.out, &guard, &err);
    comm_check(&comm, &err);

    /* a CNN's recalibration set: read from the file, a few thousand rows of the train split */
    const SplitInfo *train = dataset_split(&data, "train");
    const bool recalibrates = model_needs_recalibration(supernet.model);
    SplitImages train_split = {0};
    Calibration calibration = {0};
    if (recalibrates) {
        if (!split_images_open(&data, "train", false, &train_split, &err)) die(&err);
        if (train_split.count == 0)
            die_input("a CNN's evaluation recalibrates on training images, and the dataset has "
                      "none, %s",
                      o.data);
        calibration_init(&calibration, &train_split, train->mean, train->std, o.bn_images, o.batch,
                         supernet.seed);
        table.bn_images = calibration.count, table.bn_batch = calibration.batch;
    }
    const EvalImages images = {&split, o.images && o.images < split.count ? o.images : split.count,
                               train->mean, train->std, recalibrates ? &calibration : NULL};
    if (comm.rank == 0)
        printf("prenas-evaluate: %d %s of %s (step %lld), %s split (%lld images), %d "
               "rank(s) x %d thread(s)\n",
               table.n, plural(table.n, "architecture", "architectures"), o.supernet,
               (long long)supernet.step, o.split, (long long)images.count, comm.size,
               omp_get_max_threads());
    const double start = monotonic_seconds();
    evaluate_table(supernet.model, &table, &images, o.batch, &comm, true);
    const double seconds = monotonic_seconds() - start;
    if (comm.rank == 0)
        printf("accuracy: %d x %lld images in %.2f s, %.1f img/s\n", table.n,
               (long long)images.count, seconds, (double)table.n * (double)images.count / seconds);
    measure_latency(supernet.model, &table, &o, &comm);
    if (comm.rank == 0) {
        eval_table_print(stdout, &table);
        if (!write_outputs(&o, &table, &supernet, &lineage, &writer, &guard, comm.size, argc, argv,
                           &err))
            artefact_abort(&writer);
    }
    comm_check(&comm, &err);
    eval_table_free(&table);
    if (recalibrates) calibration_free(&calibration), split_images_close(&train_split);
    split_images_close(&split);
    dataset_close(&data);
    trained_supernet_close(&supernet);
    backend_close(&backend);
    comm_finish();
    return 0;
}
