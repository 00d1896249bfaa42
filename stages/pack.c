/* prenas-pack: image datasets as downloaded (IDX, CIFAR binary, image folders) into one
 * dataset.h5 with explicit train / val / test splits (design.md §5, docs/artefacts.md). */
#include "artefact.h"
#include "cli.h"
#include "clock.h"
#include "dataset.h"
#include "h5.h"
#include "import/import.h"
#include "text.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "usage: prenas-pack --from idx|cifar|folder SRC --out dataset.h5 [--size S]\n"
    "                   [--val-fraction F] [--seed N] [--class-names FILE] [--channels 1|3]\n"
    "\n"
    "Packs an image dataset into dataset.h5: uint8 images [N, H, W, C] and int32 labels per\n"
    "split (train, val, test), class names, per-channel mean / std, and the SHA-256 of every\n"
    "source file in /meta/inputs. The file appears only when complete (written to .tmp, then\n"
    "renamed); on an error, SIGTERM or SIGINT the .tmp is removed and an older file at the\n"
    "same path is left as it was. A second run writing the same output meanwhile is refused.\n"
    "\n"
    "  --from FORMAT      the layout of the directory SRC:\n"
    "     idx             MNIST / Fashion-MNIST: train-images-idx3-ubyte and\n"
    "                     train-labels-idx1-ubyte, optionally t10k-images-idx3-ubyte and\n"
    "                     t10k-labels-idx1-ubyte (the test split); each raw or .gz (raw is\n"
    "                     preferred when both exist). 10 classes \"0\"..\"9\" unless\n"
    "                     --class-names; 1 channel.\n"
    "     cifar           CIFAR-10: data_batch_1.bin .. data_batch_5.bin, optionally\n"
    "                     test_batch.bin, class names from batches.meta.txt; or CIFAR-100:\n"
    "                     train.bin, optionally test.bin, the 100 fine labels, names from\n"
    "                     fine_label_names.txt. Names are \"0\", \"1\", ... without those files.\n"
    "     folder          SRC/CLASS/IMAGE (all train), or SRC/train/CLASS/IMAGE with optional\n"
    "                     SRC/val/ and SRC/test/ alike (their classes must be classes of\n"
    "                     train). Classes are train's sub-folders sorted by name (bytewise);\n"
    "                     images are .jpg, .jpeg and .png files, in any case, in a class\n"
    "                     folder or its sub-folders at any depth (as torchvision's\n"
    "                     ImageFolder); links to folders are followed, except to a folder\n"
    "                     already entered. Other entries are skipped and counted.\n"
    "  --out FILE         the dataset to write (its directory must exist)\n"
    "  --size S           images become S x S: the central square whose side is the shorter\n"
    "                     side is cut out and scaled to S x S, each pixel the average of the\n"
    "                     area it covers when shrinking, bilinear between pixel centres when\n"
    "                     enlarging. Default: the source's size; folders need --size unless\n"
    "                     all their images have one square size.\n"
    "  --channels 1|3     1: luminance 0.299 R + 0.587 G + 0.114 B; 3: RGB (gray copied).\n"
    "                     Default: the source's (IDX 1, CIFAR 3, folders 3). PNG samples\n"
    "                     are taken as stored, whatever gamma the file declares, and alpha\n"
    "                     is ignored, as PIL's convert(\"RGB\") does; CMYK JPEGs are refused.\n"
    "  --val-fraction F   without a val split in SRC, holds out round(F x n) of the n train\n"
    "                     images of each class as val, chosen at random with --seed; both\n"
    "                     parts keep the source order (default 0.1; 0: no val split). Not\n"
    "                     allowed when SRC has its own val/.\n"
    "  --seed N           seed of that choice (default 0)\n"
    "  --class-names FILE one class name per line, by label (idx: sets the class count;\n"
    "                     cifar: replaces the names; not for folders)\n"
    "  --help, --version\n"
    "\n"
    "/<split>/source_index gives each image's position in the source split it came from\n"
    "(records of the IDX or CIFAR files in order; a folder source's files class by class,\n"
    "by folder path, then by name: ImageFolder's order).\n"
    "Progress goes to stderr every 5 s on long runs; a summary to stdout at the end.\n"
    "Exit status: 0 success, 2 bad usage or bad input (one line naming the file), 1 a\n"
    "failure of the machine.\n";

typedef struct {
    SourceOptions source;
    const char *out_path;
    double val_fraction;
    bool val_fraction_given;
    uint64_t seed;
} PackArgs;

static SourceFormat parse_format(const char *value) {
    if (strcmp(value, "idx") == 0) return SOURCE_IDX;
    if (strcmp(value, "cifar") == 0) return SOURCE_CIFAR;
    if (strcmp(value, "folder") == 0) return SOURCE_FOLDER;
    cli_usage_error("--from '%s': expected idx, cifar or folder", value);
}

static PackArgs parse_args(int argc, char **argv) {
    enum { OPT_VAL_FRACTION = CLI_OPT_FIRST, OPT_CLASS_NAMES };
    static const struct option options[] = {
        {"from", required_argument, NULL, 'f'},
        {"out", required_argument, NULL, 'o'},
        {"size", required_argument, NULL, 's'},
        {"channels", required_argument, NULL, 'c'},
        {"val-fraction", required_argument, NULL, OPT_VAL_FRACTION},
        {"seed", required_argument, NULL, 'S'},
        {"class-names", required_argument, NULL, OPT_CLASS_NAMES},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, CLI_OPT_VERSION},
        {NULL, 0, NULL, 0}};
    PackArgs args = {.val_fraction = 0.1};
    const char *format = NULL;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
        switch (c) {
        case 'f':
            format = optarg;
            break;
        case 'o':
            args.out_path = optarg;
            break;
        case 's':
            args.source.size = (int)cli_long("--size", optarg, 1, 8192);
            break;
        case 'c':
            args.source.channels = (int)cli_long("--channels", optarg, 1, 3);
            if (args.source.channels == 2) cli_usage_error("--channels '2': expected 1 or 3");
            break;
        case OPT_VAL_FRACTION:
            args.val_fraction = cli_double("--val-fraction", optarg, 0, 1);
            if (args.val_fraction == 1)
                cli_usage_error("--val-fraction 1 would leave nothing to train on");
            args.val_fraction_given = true;
            break;
        case 'S':
            args.seed = (uint64_t)cli_long("--seed", optarg, 0, LONG_MAX);
            break;
        case OPT_CLASS_NAMES:
            args.source.class_names_path = optarg;
            break;
        default:
            cli_common_option(c, USAGE, argv);
        }
    }
    if (!format) cli_usage_error("--from idx|cifar|folder is required");
    args.source.format = parse_format(format);
    if (optind == argc) cli_usage_error("no SRC directory given");
    if (optind + 1 < argc) cli_usage_error("unexpected argument '%s'", argv[optind + 1]);
    args.source.path = argv[optind];
    if (!args.out_path) cli_usage_error("--out dataset.h5 is required");
    if (args.source.format == SOURCE_FOLDER && args.source.class_names_path)
        cli_usage_error("--class-names does not apply to folders: the class folders name them");
    return args;
}

static void print_summary(const char *path, const Source *source, const PackTotals *totals,
                          double seconds) {
    Error err = {0};
    DatasetFile dataset;
    if (!dataset_open(&dataset, path, &err)) die(&err);
    printf("%s: ", path);
    dataset_print_summary(&dataset, stdout);
    dataset_close(&dataset);
    if (source->skipped)
        printf("skipped %lld %s, e.g. %s\n", (long long)source->skipped,
               plural(source->skipped, "entry that is not an image", "entries that are not images"),
               source->first_skipped);
    printf("packed %lld images, %.1f MB of pixels, in %.2f s: %.1f MB/s\n",
           (long long)totals->images, (double)totals->pixel_bytes / 1e6, seconds,
           (double)totals->pixel_bytes / 1e6 / seconds);
}

/* After the output was begun, every error removes it again. */
static _Noreturn void abandon(ArtefactWriter *writer, const Error *err) {
    artefact_abort(writer);
    die(err);
}

/* The train images held out as val, unless the source has its own val split or F is 0
 * (then holdout->is_val stays NULL). */
static bool plan_val(Source *source, const PackArgs *args, Holdout *holdout, Error *err) {
    *holdout = (Holdout){0};
    bool own_val = source_split(source, "val") != NULL;
    if (own_val && args->val_fraction_given)
        return input_error(err, "--val-fraction: the source has its own val split, %s",
                           args->source.path);
    if (own_val || args->val_fraction == 0) return true;
    holdout_choose(holdout, &source->splits[0], source->shape.num_classes, args->val_fraction,
                   args->seed);
    /* An empty val split would only fail later, in the stage that evaluates on it. */
    if (holdout->val_count == 0)
        return input_error(err,
                           "--val-fraction %g holds out no image (round(%g x n) is 0 for every "
                           "class); raise it, or give 0 for no val split, %s",
                           args->val_fraction, args->val_fraction, args->source.path);
    return true;
}

int main(int argc, char **argv) {
    const double start = monotonic_seconds();
    /* before OpenMP starts threads; static: the signal thread may outlive main's frame */
    PackArgs args = parse_args(argc, argv);
    static ArtefactGuard guard;
    artefact_guard_start(&guard);
    h5_silence();

    /* The output first: a mistyped --out is reported before a long scan of the source. */
    Error err = {0};
    ArtefactWriter writer;
    if (!artefact_begin_guarded(&writer, args.out_path, &guard, &err)) die(&err);
    Source source;
    Holdout holdout;
    if (!source_open(&source, &args.source, &err) || !plan_val(&source, &args, &holdout, &err))
        abandon(&writer, &err);

    ArtefactMeta meta;
    artefact_meta_init(&meta, DATASET_SCHEMA, DATASET_SCHEMA_VERSION, argc, argv);
    meta.seed = args.seed;
    for (int i = 0; i < source.n_files; i++)
        if (!artefact_meta_add_input(&meta, source.files[i].role, source.files[i].path, &err))
            abandon(&writer, &err);
    PackTotals totals;
    if (!pack_write(writer.file, &source, holdout.is_val ? &holdout : NULL, &totals, &err))
        abandon(&writer, &err);
    artefact_commit(&writer, &meta);
    print_summary(args.out_path, &source, &totals, monotonic_seconds() - start);

    artefact_meta_free(&meta);
    holdout_free(&holdout);
    source_close(&source);
    return 0;
}
