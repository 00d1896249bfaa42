/* prenas-specialize: the model a trained supernet deploys under resource constraints
 * (method.md §10.2, paper Eq. 12), written as a dense standalone subnet (model-NAME.h5). */
#include "specialize.h"
#include "artefact.h"
#include "backend.h"
#include "checkpoint.h"
#include "cli.h"
#include "dataset.h"
#include "device.h"
#include "eval_table.h"
#include "evaluate.h"
#include "h5.h"
#include "lineage.h"
#include "model_space.h"
#include "standalone.h"
#include "weights.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char USAGE[] =
    "usage: prenas-specialize --supernet RUNDIR/supernet.h5 [--eval eval.h5] [--data dataset.h5]\n"
    "                         [--test eval-test.h5] LIMIT... --out model-NAME.h5\n"
    "       prenas-specialize --supernet RUNDIR/supernet.h5 [--eval eval.h5] [--data dataset.h5]\n"
    "                         [--test eval-test.h5] [LIMIT...] --budgets LIST|FILE --out-dir DIR\n"
    "\n"
    "Chooses the architecture a trained supernet deploys under resource limits (method.md 10.2,\n"
    "paper Eq. 12) and writes it as a dense standalone model (schema prenas.model): the\n"
    "supernet's slices copied into the subnet's own shapes, with the input normalisation and\n"
    "class names of the training dataset. A CNN's model carries its batch norms' running\n"
    "statistics, recalibrated as prenas-evaluate recalibrates them (BigNAS, method.md 13): on\n"
    "eval.h5's set (its image count and batch) of the dataset's training images, drawn from\n"
    "the training run's seed; without --eval on 2000 images in batches of 256.\n"
    "\n"
    "  --supernet FILE      a trained supernet (RUNDIR/supernet.h5 or a checkpoint)\n"
    "  --eval FILE          eval.h5 of prenas-evaluate for this supernet (checked by SHA-256):\n"
    "                       choose by measured val top-1 among all its architectures. Without\n"
    "                       it: by the preferred ranking, among the architectures the supernet\n"
    "                       was trained on, the highest interval, then the highest proxy score.\n"
    "                       Ties go to fewer params, then to the architecture string.\n"
    "  --test FILE          eval.h5 of prenas-evaluate --split test for this supernet (checked\n"
    "                       by SHA-256): each model's test top-1 in the table (never chooses)\n"
    "  --data FILE          dataset.h5 whose train split's mean / std and class names go into\n"
    "                       the model (default: the supernet's training dataset, when it is\n"
    "                       still there unchanged)\n"
    "LIMIT: an upper bound (inclusive); repeat and combine them, all must hold:\n"
    "  --max-params N       parameters (method.md 4.1)\n"
    "  --max-flops N        FLOPs as the reference counts them (4.3; the paper's numbers); a\n"
    "                       CNN's as the CNN papers count them (= MACs, e.g. 4.4M)\n"
    "  --max-macs N         multiply-accumulates (4.4)\n"
    "  --max-latency-ms X   batch-1 median latency measured by prenas-evaluate on this backend\n"
    "                       (needs --eval)\n"
    "  N is a whole count, bare or with a decimal suffix K, M or G: 300000, 300K, 0.3M, 1.4G.\n"
    "  --out FILE           the model to write (atomically)\n"
    "  --budgets LIST|FILE  one model per budget: entries [KIND:]VALUE separated by commas (or\n"
    "                       one per line in FILE, # comments), KIND params (default), flops,\n"
    "                       macs or latency (ms; needs --eval); the LIMIT options hold for\n"
    "                       every budget too: --budgets 0.2M,0.3M,flops:60M,latency:1.5ms\n"
    "  --out-dir DIR        where --budgets writes model-<budget>.h5: model-0.2M.h5,\n"
    "                       model-flops-60M.h5, model-latency-1.5ms.h5 (DIR is created), and\n"
    "                       models.txt, the summary table\n"
    "  --device D           where the models will run: auto (default: cuda when a GPU is\n"
    "                       usable), cpu or cuda; a latency limit needs latencies measured there\n"
    "  --help, --version\n"
    "\n"
    "Prints each choice with the reason (the limits, the accuracy and its split, or the interval\n"
    "and score) and the runner-up, then a table of the models written: limits, params, MACs,\n"
    "val and test top-1, latency, file, architecture. A limit no architecture meets is an error\n"
    "naming the smallest. Nothing is written unless every model can be.\n"
    "Exit status: 0 success, 2 bad usage or input, 1 failure.\n";

typedef struct {
    const char *supernet, *eval, *test, *data, *out, *out_dir, *budgets;
    Constraints limits; /* the LIMIT options: every model's */
    Target *targets;    /* --budgets, or the one --out model */
    int n_targets;
    DeviceOptions device;
} Options;

static Options parse(int argc, char **argv) {
    enum { OPT_MAX_FIRST = CLI_OPT_FIRST, OPT_OUT_DIR = OPT_MAX_FIRST + LIMIT_KINDS, OPT_BUDGETS };
    static const struct option options[] = {
        {"supernet", required_argument, NULL, 's'},
        {"eval", required_argument, NULL, 'e'},
        {"test", required_argument, NULL, 't'},
        {"data", required_argument, NULL, 'd'},
        {"max-params", required_argument, NULL, OPT_MAX_FIRST + LIMIT_PARAMS},
        {"max-flops", required_argument, NULL, OPT_MAX_FIRST + LIMIT_FLOPS},
        {"max-macs", required_argument, NULL, OPT_MAX_FIRST + LIMIT_MACS},
        {"max-latency-ms", required_argument, NULL, OPT_MAX_FIRST + LIMIT_LATENCY},
        {"out", required_argument, NULL, 'o'},
        {"budgets", required_argument, NULL, OPT_BUDGETS},
        {"out-dir", required_argument, NULL, OPT_OUT_DIR},
        DEVICE_LONG_OPTIONS,
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, CLI_OPT_VERSION},
        {NULL, 0, NULL, 0}};
    Options o = {0};
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
        if (c >= OPT_MAX_FIRST && c < OPT_MAX_FIRST + LIMIT_KINDS) {
            const LimitKind kind = (LimitKind)(c - OPT_MAX_FIRST);
            if (!constraints_add(&o.limits, kind, optarg))
                cli_usage_error("--max-%s%s '%s': expected %s", limit_name(kind),
                                kind == LIMIT_LATENCY ? "-ms" : "", optarg, limit_syntax(kind));
            continue;
        }
        switch (c) {
        case 's':
            o.supernet = optarg;
            break;
        case 'e':
            o.eval = optarg;
            break;
        case 't':
            o.test = optarg;
            break;
        case 'd':
            o.data = optarg;
            break;
        case 'o':
            o.out = optarg;
            break;
        case OPT_BUDGETS:
            o.budgets = optarg;
            break;
        case OPT_OUT_DIR:
            o.out_dir = optarg;
            break;
        default:
            if (!device_option(c, optarg, &o.device)) cli_common_option(c, USAGE, argv);
        }
    }
    if (optind < argc) cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!o.supernet) cli_usage_error("--supernet supernet.h5 is required");
    if (!o.out == !o.budgets) cli_usage_error("give --out FILE or --budgets LIST --out-dir DIR");
    if (o.budgets && !o.out_dir) cli_usage_error("--budgets needs --out-dir DIR");
    if (o.device.precision) cli_usage_error("--precision: prenas-specialize runs no model");
    if (o.out_dir && !o.budgets) cli_usage_error("--out-dir goes with --budgets");
    if (o.out && constraints_empty(&o.limits))
        cli_usage_error("no limit: give --max-params, --max-flops, --max-macs or --max-latency-ms");
    if (o.budgets) {
        Error err = {0};
        if (!targets_load(o.budgets, &o.targets, &o.n_targets, &err)) die(&err);
    } else {
        o.targets = xcalloc(1, sizeof *o.targets);
        o.n_targets = 1;
    }
    for (int i = 0; i < o.n_targets; i++) {
        constraints_merge(&o.targets[i].limits, &o.limits);
        if (o.targets[i].limits.max_latency_ms > 0 && !o.eval)
            cli_usage_error("a latency limit needs --eval eval.h5 (latencies are measured by "
                            "prenas-evaluate)");
    }
    return o;
}

/* eval.h5, checked to be this supernet's evaluation. */
static void read_eval(const Options *o, EvalTable *table, Artefact *eval, ArtefactMeta *meta,
                      Error *err) {
    if (!eval_table_read(o->eval, table, eval, err) ||
        !specialize_check_eval(eval, artefact_meta_input(meta, "supernet"), err) ||
        !artefact_meta_add_input(meta, "eval", o->eval, err))
        die(err);
}

static char **output_paths(const Options *o) {
    char **paths = xcalloc((size_t)o->n_targets, sizeof *paths);
    for (int i = 0; i < o->n_targets; i++) {
        if (o->out) {
            paths[i] = xstrdup(o->out);
            continue;
        }
        const size_t size = strlen(o->out_dir) + TARGET_NAME_MAX + 16;
        paths[i] = xmalloc(size);
        snprintf(paths[i], size, "%s/model-%s.h5", o->out_dir, o->targets[i].name);
    }
    return paths;
}

static _Noreturn void abandon(ArtefactWriter *writers, int n, const Error *err) {
    for (int i = 0; i < n; i++) artefact_abort(&writers[i]);
    die(err);
}

/* Every output begun before any is written: a path that cannot be written stops the run before
 * a single model appears. */
static ArtefactWriter *begin_outputs(const Options *o, char *const *paths, ArtefactGuard *guard,
                                     Error *err) {
    struct stat st;
    if (o->out_dir && stat(o->out_dir, &st) != 0 && mkdir(o->out_dir, 0777) != 0) {
        input_error(err, "cannot create the output directory: %m, %s", o->out_dir);
        die(err);
    }
    ArtefactWriter *writers = xcalloc((size_t)o->n_targets, sizeof *writers);
    const char *inputs[] = {o->supernet, o->eval, o->test, o->data};
    for (int i = 0; i < o->n_targets; i++)
        if (!artefact_check_not_input(paths[i], 4, inputs, err) ||
            !artefact_begin_guarded(&writers[i], paths[i], guard, err))
            abandon(writers, i, err);
    return writers;
}

/* A CNN's recalibration set (nothing for a ViT): eval.h5's, else the stages' default. */
typedef struct {
    SplitImages train;
    Calibration calibration;
} CnnCalibration;

static void calibration_open(CnnCalibration *c, DatasetFile *data, const EvalTable *eval,
                             uint64_t seed) {
    Error err = {0};
    if (!split_images_open(data, "train", false, &c->train, &err)) die(&err);
    if (c->train.count == 0)
        die_input("a CNN's batch norms are recalibrated on training images, and the dataset has "
                  "none, %s",
                  data->artefact.path);
    const SplitInfo *train = dataset_split(data, "train");
    calibration_init(&c->calibration, &c->train, train->mean, train->std,
                     eval ? eval->bn_images : CALIBRATION_IMAGES,
                     eval ? eval->bn_batch : CALIBRATION_BATCH, seed);
}

/* The standalone model of a choice, in memory: every model is built before any is written. */
static bool build_model(Standalone *s, const TrainedSupernet *sup, const Candidates *c,
                        const Constraints *limits, const Choice *choice, const DatasetFile *data,
                        const CnnCalibration *cnn, Error *err) {
    const ModelArch *arch = &c->table->rows[choice->chosen].arch;
    if (cnn) calibration_run(&cnn->calibration, sup->model, arch, err);
    if (err->code) return false;
    standalone_extract(s, sup->model, arch, &sup->space);
    specialize_set_data(s, data);
    specialize_label(s, c, limits, choice);
    return true;
}

static void write_model(ArtefactWriter *writer, ArtefactMeta *meta, const Standalone *s) {
    standalone_write(writer->file, s);
    artefact_meta_set_config(meta, model_space_text(&s->space));
    artefact_commit(writer, meta);
}

/* DIR/models.txt: the summary table kept beside the models, for whoever reads them later. */
static bool write_summary(const char *out_dir, const char *summary, ArtefactGuard *guard,
                          Error *err) {
    char path[ARTEFACT_PATH_MAX];
    snprintf(path, sizeof path, "%s/models.txt", out_dir);
    artefact_guard_hold(guard);
    const bool ok = atomic_write_text(path, summary, err);
    artefact_guard_release(guard);
    return ok;
}

int main(int argc, char **argv) {
    Options o = parse(argc, argv);
    /* before OpenMP starts threads; static: the signal thread may outlive main's frame */
    static ArtefactGuard guard;
    artefact_guard_start(&guard);
    h5_silence();
    Error err = {0};
    ModelFamily family;
    Artefact recorded; /* the supernet's /meta: its training dataset */
    ArtefactMeta meta;
    artefact_meta_init(&meta, MODEL_SCHEMA, MODEL_SCHEMA_VERSION, argc, argv);
    if (!trained_supernet_peek(o.supernet, &family, NULL, &err) ||
        !artefact_open(&recorded, o.supernet, SUPERNET_SCHEMA, SUPERNET_SCHEMA_VERSION, &err) ||
        !artefact_meta_add_input(&meta, "supernet", o.supernet, &err))
        die(&err);
    EvalTable table;
    Artefact eval = {.file = -1};
    if (o.eval) read_eval(&o, &table, &eval, &meta, &err);
    Backend target; /* only its name: the weights are copied out on the host */
    char why[512];
    if (!backend_open(&target, o.device.device ? o.device.device : "auto", NULL, why, sizeof why))
        die_input("%s", why);
    const char *device = backend_device_name(&target);
    backend_close(&target);
    EvalTable test = {0};
    Artefact tested = {.file = -1};
    if (o.test &&
        (!eval_table_read(o.test, &test, &tested, &err) ||
         !specialize_check_test(&tested, &test, artefact_meta_input(&meta, "supernet"), &err)))
        die(&err);

    /* a CNN runs on the host to recalibrate its batch norms: batches of the images' side */
    DatasetFile data;
    TrainedSupernet sup;
    const int max_batch = family == FAMILY_CNN ? (o.eval ? table.bn_batch : CALIBRATION_BATCH) : 1;
    if (!specialize_dataset(o.data, &recorded, &data, &err) ||
        !trained_supernet_open(&sup, backend_cpu(), o.supernet, max_batch, data.shape.height,
                               &err) ||
        !model_space_fits_dataset(&sup.space, &data, &err) ||
        !lineage_of_supernet_on(o.supernet, &data, &meta.lineage, &err) ||
        !artefact_meta_add_input(&meta, "dataset", data.artefact.path, &err))
        die(&err);
    if (!o.eval)
        table = eval_table_new(sup.archs, sup.n, sup.interval, sup.score, true, &sup.space);
    const Candidates c = {&table, o.eval ? CHOOSE_BY_ACCURACY : CHOOSE_BY_RANKING,
                          o.eval ? o.eval : o.supernet, device};

    /* the rows are the supernet's own, or eval.h5's, checked to be this supernet's */
    Choice *choices = xcalloc((size_t)o.n_targets, sizeof *choices);
    for (int i = 0; i < o.n_targets; i++)
        if (!specialize_choose(&c, &o.targets[i].limits, &choices[i], &err) ||
            !model_arch_check(&table.rows[choices[i].chosen].arch, &sup.space, &err))
            die(&err);
    CnnCalibration cnn;
    if (family == FAMILY_CNN) calibration_open(&cnn, &data, o.eval ? &table : NULL, sup.seed);

    printf("prenas-specialize: %s (space %s, %s sampling, step %lld); input normalisation and "
           "classes from %s\n",
           o.supernet, model_space_name(&sup.space), sup.sampling[0] ? sup.sampling : "unknown",
           (long long)sup.step, data.artefact.path);
    if (family == FAMILY_CNN)
        printf("batch norms recalibrated for each model on %lld training images in batches of %d "
               "(seed %llu)\n",
               (long long)cnn.calibration.count, cnn.calibration.batch,
               (unsigned long long)sup.seed);
    char **paths = output_paths(&o);
    ArtefactWriter *writers = begin_outputs(&o, paths, &guard, &err);
    Standalone *models = xcalloc((size_t)o.n_targets, sizeof *models);
    for (int i = 0; i < o.n_targets; i++) {
        specialize_explain(stdout, &c, &o.targets[i].limits, &choices[i]);
        if (!build_model(&models[i], &sup, &c, &o.targets[i].limits, &choices[i], &data,
                         family == FAMILY_CNN ? &cnn : NULL, &err))
            abandon(writers, o.n_targets, &err);
    }
    for (int i = 0; i < o.n_targets; i++) {
        write_model(&writers[i], &meta, &models[i]);
        standalone_free(&models[i]);
    }
    free(models);
    printf("\n");
    char *summary = specialize_summary(&c, o.test ? &test : NULL, o.targets, choices,
                                       (const char *const *)paths, o.n_targets);
    fputs(summary, stdout);
    if (o.out_dir && !write_summary(o.out_dir, summary, &guard, &err)) die(&err);

    for (int i = 0; i < o.n_targets; i++) free(paths[i]);
    free(paths), free(writers), free(choices), free(o.targets);
    if (family == FAMILY_CNN) calibration_free(&cnn.calibration), split_images_close(&cnn.train);
    dataset_close(&data);
    free(summary);
    if (o.eval) artefact_close(&eval);
    if (o.test) artefact_close(&tested);
    eval_table_free(&table);
    eval_table_free(&test);
    artefact_close(&recorded);
    artefact_meta_free(&meta);
    trained_supernet_close(&sup);
    return 0;
}
