/* prenas-predict: a standalone model (model-NAME.h5) on a split of dataset.h5 or on JPEG/PNG
 * files: each image's most probable classes as CSV, and the accuracy where labels are known
 * (method.md §10.2, docs/cli.md). */
#include "predict.h"
#include "artefact.h"
#include "cli.h"
#include "comm.h"
#include "dataset.h"
#include "device.h"
#include "h5.h"
#include "standalone.h"
#include "text.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "usage: prenas-predict --model model-NAME.h5 --data dataset.h5 [--split test|val|train]\n"
    "                      [--top-k K] [--out predictions.csv] [--batch B]\n"
    "       prenas-predict --model model-NAME.h5 IMAGE... [--top-k K] [--out predictions.csv]\n"
    "                      [--batch B]\n"
    "\n"
    "Runs a standalone model (prenas-specialize's model-NAME.h5) and writes, per image, its K\n"
    "most probable classes with their softmax probabilities as CSV:\n"
    "    input[,label],class1,prob1,...,classK,probK\n"
    "input is the file as given, or SPLIT:INDEX (the row in dataset.h5); label, the true\n"
    "class, only with --data. Classes are the model's names, most probable first (ties: the\n"
    "lower class index); fields with commas or quotes are quoted (RFC 4180).\n"
    "\n"
    "  --model FILE       the model to run\n"
    "  --data FILE        predict a split of this dataset.h5 and report its accuracy: top-1 and\n"
    "                     top-5 in percent, counted as prenas-evaluate counts them. Its images\n"
    "                     and classes (size, channels, class count and names) must be the\n"
    "                     model's.\n"
    "  --split NAME       the split of --data (default test)\n"
    "  IMAGE...           JPEG or PNG files (recognised by their first bytes), converted as\n"
    "                     prenas-pack converts a folder: the central square whose side is the\n"
    "                     shorter side, scaled to the model's image size (area average when\n"
    "                     shrinking, bilinear when enlarging), gray/RGB converted to the model's\n"
    "                     channels, PNG alpha ignored; then normalised with the model's mean\n"
    "                     and std. A file that cannot be read as an image is reported (one\n"
    "                     line naming it and why), skipped and counted.\n"
    "  --top-k K          classes per image (default 5; at most the model's class count)\n"
    "  --out FILE         the CSV file, written atomically (default: stdout)\n"
    "  --batch B          images per forward pass (default 64; memory)\n" DEVICE_OPTIONS_HELP
    "  --help, --version\n"
    "\n"
    "The summary (model, images, accuracy) goes to stdout with --out, else to stderr so that\n"
    "stdout is only the CSV. MPI: ranks share the images, rows stay in input order (with\n"
    "other batch boundaries per rank a probability may differ in its last digit). Exit\n"
    "status: 0 success; 2 bad usage or input (a damaged model or dataset, a dataset of\n"
    "another shape or classes, or any IMAGE skipped: the CSV of the others is still\n"
    "written); 1 a failure of the machine.\n";

typedef struct {
    const char *model, *data, *split, *out;
    int top_k, batch;
    char *const *images;
    int n_images;
    DeviceOptions device;
} Options;

static Options parse(int argc, char **argv) {
    enum { OPT_TOP_K = CLI_OPT_FIRST };
    static const struct option options[] = {{"model", required_argument, NULL, 'm'},
                                            {"data", required_argument, NULL, 'd'},
                                            {"split", required_argument, NULL, 's'},
                                            {"top-k", required_argument, NULL, OPT_TOP_K},
                                            {"out", required_argument, NULL, 'o'},
                                            {"batch", required_argument, NULL, 'b'},
                                            DEVICE_LONG_OPTIONS,
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, CLI_OPT_VERSION},
                                            {NULL, 0, NULL, 0}};
    Options o = {.top_k = 5, .batch = 64};
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
        switch (c) {
        case 'm':
            o.model = optarg;
            break;
        case 'd':
            o.data = optarg;
            break;
        case 's':
            o.split = optarg;
            break;
        case OPT_TOP_K:
            o.top_k = (int)cli_long("--top-k", optarg, 1, 1 << 20);
            break;
        case 'o':
            o.out = optarg;
            break;
        case 'b':
            o.batch = (int)cli_long("--batch", optarg, 1, 1 << 16);
            break;
        default:
            if (!device_option(c, optarg, &o.device)) cli_common_option(c, USAGE, argv);
        }
    }
    o.images = argv + optind;
    o.n_images = argc - optind;
    if (!o.model) cli_usage_error("--model model-NAME.h5 is required");
    if (!o.data && o.n_images == 0) cli_usage_error("give --data dataset.h5 or IMAGE files");
    if (o.data && o.n_images > 0)
        cli_usage_error("--data and IMAGE files ('%s') do not go together", o.images[0]);
    if (o.split && !o.data) cli_usage_error("--split goes with --data");
    if (o.split && strcmp(o.split, "test") != 0 && strcmp(o.split, "val") != 0 &&
        strcmp(o.split, "train") != 0)
        cli_usage_error("--split '%s': expected test, val or train", o.split);
    if (!o.split) o.split = "test";
    return o;
}

static void print_summary(FILE *out, const Options *o, const Standalone *s, const Backend *be,
                          const PredictCounts *c) {
    char arch[MODEL_ARCH_TEXT_MAX];
    model_arch_format(&s->arch, arch, sizeof arch);
    fprintf(out, "prenas-predict: %s (%s, %lld params): %lld %s", o->model, arch,
            (long long)s->cost.params, (long long)c->images, plural(c->images, "image", "images"));
    if (o->data) fprintf(out, " of the %s split of %s", o->split, o->data);
    fprintf(out, " on %s -> %s\n", be->name, o->out ? o->out : "stdout");
    if (c->labelled > 0)
        fprintf(out, "%s split: top-1 %.2f %% (%lld), top-5 %.2f %% (%lld) of %lld images\n",
                o->split, 100.0 * (double)c->top1 / (double)c->labelled, (long long)c->top1,
                100.0 * (double)c->top5 / (double)c->labelled, (long long)c->top5,
                (long long)c->labelled);
    if (c->nonfinite > 0)
        fprintf(out, "%lld %s with a non-finite logit (NaN probabilities; never correct)\n",
                (long long)c->nonfinite, plural(c->nonfinite, "image", "images"));
}

int main(int argc, char **argv) {
    const Options o = parse(argc, argv);
    Error err = {0};
    if (!artefact_check_not_input(o.out, 2, (const char *[]){o.model, o.data}, &err)) die(&err);
    /* before MPI starts threads; static: the signal thread may outlive main's frame */
    static ArtefactGuard guard;
    artefact_guard_start(&guard);
    Comm comm = comm_start(&argc, &argv);
    h5_silence();
    /* a mistyped --out is reported before the work */
    if (o.out && !artefact_check_output(o.out, &err)) die(&err);
    Standalone model;
    Artefact artefact;
    if (!standalone_read(o.model, &model, &artefact, &err)) die(&err);
    artefact_close(&artefact);
    DatasetFile data;
    if (o.data && (!dataset_open(&data, o.data, &err) ||
                   !predict_check_dataset(&model, o.model, &data, &err)))
        die(&err);

    Backend backend;
    device_open(&backend, device_for_family(o.device.device, model.arch.family), o.device.precision,
                &comm, NULL);
    Predictor predictor;
    if (!predictor_init(&predictor, &backend, &model, o.batch, o.top_k, o.data != NULL, &err))
        die(&err);
    if (o.data)
        predict_split(&predictor, &data, o.split, &comm, &err);
    else
        predict_files(&predictor, o.images, o.n_images, &comm);
    comm_check(&comm, &err);
    Predictions result;
    predictor_gather(&predictor, &comm, &result);
    const PredictCounts *counts = &result.counts;
    if (comm.rank == 0) {
        fputs(result.failures, stderr);
        if (o.out) {
            artefact_guard_hold(&guard);
            atomic_write_text(o.out, result.csv, &err);
            artefact_guard_release(&guard);
        } else {
            fputs(result.csv, stdout);
        }
        if (!err.code) print_summary(o.out ? stdout : stderr, &o, &model, &backend, counts);
        if (!err.code && counts->failed > 0)
            input_error(&err, "%lld of %d %s could not be read as images and %s skipped",
                        (long long)counts->failed, o.n_images, plural(o.n_images, "file", "files"),
                        plural(counts->failed, "was", "were"));
    }
    comm_check(&comm, &err);

    predictions_free(&result);
    predictor_free(&predictor);
    backend_close(&backend);
    if (o.data) dataset_close(&data);
    standalone_free(&model);
    comm_finish();
    return 0;
}
