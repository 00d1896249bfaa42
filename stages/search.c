/* prenas-search: AutoFormer's evolutionary search over a trained supernet (method.md §12.2),
 * the baseline that PreNAS's zero-cost selection removes. */
#include "artefact.h"
#include "checkpoint.h"
#include "cli.h"
#include "clock.h"
#include "comm.h"
#include "dataset.h"
#include "device.h"
#include "evaluate.h"
#include "evolution.h"
#include "h5.h"
#include "lineage.h"
#include "model.h"
#include "model_space.h"
#include "rng.h"
#include "space.h"
#include "text.h"
#include "weights.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "usage: prenas-search --supernet RUNDIR/supernet.h5 --data dataset.h5 --out search.h5\n"
    "                     [--min-params N] [--max-params N] [--min-flops N] [--max-flops N]\n"
    "                     [--split val|train] [--images N] [options]\n"
    "\n"
    "AutoFormer's evolutionary search (method.md 12.2): the fitness of an architecture is its\n"
    "top-1 accuracy (%) with the weights it inherits from the trained supernet. Generation 0 is\n"
    "random; each later one is mutants and crossovers of the --parents best so far, filled up\n"
    "with random architectures. Legal: in the space, within the limits (both inclusive), never\n"
    "evaluated before. The result is the best architecture evaluated; search.h5 keeps every\n"
    "evaluation (docs/artefacts.md, prenas.search). A CNN supernet (method.md 13): each\n"
    "architecture is evaluated after BigNAS's BN recalibration on --bn-images training images\n"
    "drawn from the training run's seed, as prenas-evaluate does; the operators are "
    "docs/cli.md's.\n"
    "\n"
    "  --supernet FILE    a prenas.supernet: prenas-train's RUNDIR/supernet.h5 (or any of its\n"
    "                     checkpoints), or a file from tools/torch2h5.py\n"
    "  --data FILE        dataset.h5 with the supernet's image shape and classes\n"
    "  --out FILE         search.h5 to write (atomically): every evaluated architecture with\n"
    "                     its generation, fitness and costs, the best lists after each\n"
    "                     generation, the result\n"
    "  --config FILE      the space to search (default: the supernet's own, the refined space\n"
    "                     when it was trained with --preferred); its supernet must have\n"
    "                     the same tensors, its choices may differ (the whole space). A CNN\n"
    "                     supernet's: the same search space (its name and groups may differ)\n"
    "  --min-params N, --max-params N\n"
    "                     parameter limits (method.md 4.1), e.g. 250000, 250K or 0.25M\n"
    "  --min-flops N, --max-flops N\n"
    "                     FLOPs limits in the reference's count (method.md 4.3), e.g. 1.4G;\n"
    "                     a CNN's: the papers' FLOPs (= MACs), e.g. 4.4M\n"
    "  --split S          where the fitness is measured: val (default), or train with\n"
    "                     --images (AutoFormer's subImageNet is a sample of training images).\n"
    "                     The test split never chooses an architecture.\n"
    "  --images N         a seeded sample of N images of the split (default: all of it)\n"
    "  --population N     architectures per generation (default 50)\n"
    "  --parents K        the best K so far breed (default 10)\n"
    "  --mutations N      mutants per generation at most (default 25)\n"
    "  --crossovers N     crossover children per generation at most (default 25)\n"
    "  --generations N    generations evaluated (default 20)\n"
    "  --m-prob P         probability of re-drawing a layer's ratio or heads (default 0.2);\n"
    "                     a CNN stage's kernel or expansion ratio\n"
    "  --s-prob P         probability of re-drawing the depth, and the width (default 0.4); a\n"
    "                     CNN's resolution, each width and each stage's depth\n"
    "  --bn-images N      a CNN's recalibration images (default 2000)\n"
    "  --seed S           the search's draws and the image sample (default 0)\n"
    "  --batch N          images per forward pass on a rank (default 256; "
    "memory)\n" DEVICE_OPTIONS_HELP "  --help, --version\n"
    "\n"
    "Cost: population x generations evaluations (1000 by default), each a forward pass over the\n"
    "images. Where it departs from the reference (a 21st population evaluated and never used;\n"
    "endless random draws under tight limits): docs/cli.md.\n"
    "Prints one line per generation (evaluations, best fitness so far, time, ETA) and the best\n"
    "architecture at the end. MPI: ranks share the images of every evaluation; the counts are\n"
    "summed, so the search is the same for any rank count. Exit status: 0 success, 2 bad usage\n"
    "or input, 1 failure.\n";

typedef struct {
    const char *supernet, *data, *out, *config, *split;
    int64_t images; /* 0: the whole split */
    int64_t bn_images;
    int batch;
    EvolutionOptions evolution;
    DeviceOptions device;
} Options;

static Options parse(int argc, char **argv) {
    enum {
        OPT_MIN_PARAMS = CLI_OPT_FIRST,
        OPT_MAX_PARAMS,
        OPT_MIN_FLOPS,
        OPT_MAX_FLOPS,
        OPT_POPULATION,
        OPT_PARENTS,
        OPT_MUTATIONS,
        OPT_CROSSOVERS,
        OPT_GENERATIONS,
        OPT_M_PROB,
        OPT_S_PROB,
        OPT_BN_IMAGES,
    };
    static const struct option options[] = {
        {"supernet", required_argument, NULL, 'n'},
        {"data", required_argument, NULL, 'd'},
        {"out", required_argument, NULL, 'o'},
        {"config", required_argument, NULL, 'c'},
        {"split", required_argument, NULL, 'p'},
        {"images", required_argument, NULL, 'i'},
        {"batch", required_argument, NULL, 'b'},
        {"seed", required_argument, NULL, 's'},
        {"bn-images", required_argument, NULL, OPT_BN_IMAGES},
        {"min-params", required_argument, NULL, OPT_MIN_PARAMS},
        {"max-params", required_argument, NULL, OPT_MAX_PARAMS},
        {"min-flops", required_argument, NULL, OPT_MIN_FLOPS},
        {"max-flops", required_argument, NULL, OPT_MAX_FLOPS},
        {"population", required_argument, NULL, OPT_POPULATION},
        {"parents", required_argument, NULL, OPT_PARENTS},
        {"mutations", required_argument, NULL, OPT_MUTATIONS},
        {"crossovers", required_argument, NULL, OPT_CROSSOVERS},
        {"generations", required_argument, NULL, OPT_GENERATIONS},
        {"m-prob", required_argument, NULL, OPT_M_PROB},
        {"s-prob", required_argument, NULL, OPT_S_PROB},
        DEVICE_LONG_OPTIONS,
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, CLI_OPT_VERSION},
        {NULL, 0, NULL, 0}};
    Options o = {.split = "val",
                 .batch = CALIBRATION_BATCH,
                 .bn_images = CALIBRATION_IMAGES,
                 .evolution = evolution_defaults()};
    EvolutionOptions *e = &o.evolution;
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
        case 'c':
            o.config = optarg;
            break;
        case 'p':
            o.split = optarg;
            break;
        case 'i':
            o.images = cli_long("--images", optarg, 1, INT64_MAX);
            break;
        case 'b':
            o.batch = (int)cli_long("--batch", optarg, 1, 1 << 16);
            break;
        case 's':
            e->seed = (uint64_t)cli_long("--seed", optarg, 0, INT64_MAX);
            break;
        case OPT_MIN_PARAMS:
            e->min_params = cli_size("--min-params", optarg, 1);
            break;
        case OPT_MAX_PARAMS:
            e->max_params = cli_size("--max-params", optarg, 1);
            break;
        case OPT_MIN_FLOPS:
            e->min_flops = cli_size("--min-flops", optarg, 1);
            break;
        case OPT_MAX_FLOPS:
            e->max_flops = cli_size("--max-flops", optarg, 1);
            break;
        case OPT_POPULATION:
            e->population = (int)cli_long("--population", optarg, 1, 1 << 20);
            break;
        case OPT_PARENTS:
            e->parents = (int)cli_long("--parents", optarg, 1, 1 << 20);
            break;
        case OPT_MUTATIONS:
            e->mutations = (int)cli_long("--mutations", optarg, 0, 1 << 20);
            break;
        case OPT_CROSSOVERS:
            e->crossovers = (int)cli_long("--crossovers", optarg, 0, 1 << 20);
            break;
        case OPT_GENERATIONS:
            e->generations = (int)cli_long("--generations", optarg, 1, 1 << 20);
            break;
        case OPT_M_PROB:
            e->m_prob = cli_double("--m-prob", optarg, 0, 1);
            break;
        case OPT_S_PROB:
            e->s_prob = cli_double("--s-prob", optarg, 0, 1);
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
    if (strcmp(o.split, "test") == 0)
        cli_usage_error("--split test: the test split never chooses an architecture (use val, or "
                        "train with --images N)");
    if (strcmp(o.split, "val") != 0 && strcmp(o.split, "train") != 0)
        cli_usage_error("--split '%s': expected val or train", o.split);
    if (strcmp(o.split, "train") == 0 && o.images == 0)
        cli_usage_error("--split train needs --images N: a sample of the training images, as "
                        "AutoFormer's subImageNet");
    if (e->mutations + e->crossovers > e->population)
        cli_usage_error("--mutations %d and --crossovers %d exceed --population %d", e->mutations,
                        e->crossovers, e->population);
    return o;
}

/* Everything an evaluation needs; the context of the search's callbacks. */
typedef struct {
    DatasetFile data;
    SplitImages split, sample;
    SplitImages train;       /* a CNN's recalibration images (streamed) */
    Calibration calibration; /* a CNN's; unused for a ViT */
    Lineage lineage;         /* the supernet's space, the data's classes */
    EvalImages images;
    int64_t split_count;
    Model *model;
    int batch;
    const Comm *comm;
    const char *split_name; /* named in every line */
    double start;
    int64_t reported; /* evaluations already in a progress line */
} Run;

/* The evaluation images: the split, or a seeded sample of it held in memory. */
static bool open_images(Run *r, const Options *o, const ModelSpace *space, Error *err) {
    if (!dataset_open(&r->data, o->data, err) || !model_space_fits_dataset(space, &r->data, err) ||
        !lineage_of_supernet_on(o->supernet, &r->data, &r->lineage, err) ||
        !split_images_open(&r->data, o->split, false, &r->split, err))
        return false;
    r->split_count = r->split.count;
    if (r->split.count == 0)
        return input_error(err, "the dataset has no '%s' split, %s", o->split, o->data);
    if (o->images > r->split.count)
        return input_error(err, "--images %lld: the '%s' split has %lld images, %s",
                           (long long)o->images, o->split, (long long)r->split.count, o->data);
    const SplitInfo *train = dataset_split(&r->data, "train");
    r->images = (EvalImages){&r->split, r->split.count, train->mean, train->std, NULL};
    if (o->images == 0) return true;
    int64_t *rows = xmalloc(sizeof *rows * (size_t)r->split.count);
    for (int64_t i = 0; i < r->split.count; i++) rows[i] = i;
    Rng rng = rng_stream(o->evolution.seed, RNG_STREAM_SEARCH_IMAGES);
    rng_shuffle_i64(&rng, rows, r->split.count);
    /* ascending, so that the sample is read in runs */
    bool *picked = xcalloc((size_t)r->split.count, sizeof *picked);
    for (int64_t i = 0; i < o->images; i++) picked[rows[i]] = true;
    int64_t n = 0;
    for (int64_t i = 0; i < r->split.count; i++)
        if (picked[i]) rows[n++] = i;
    free(picked);
    const bool ok = split_images_subset(&r->split, rows, n, &r->sample, err);
    free(rows);
    r->images.split = &r->sample;
    r->images.count = n;
    return ok;
}

/* The one place a subnet is evaluated. */
static void top1(const ModelArch *archs, int n, double *fitness, void *ctx) {
    Run *r = ctx;
    Error err = {0}; /* a streamed split's (or a CNN's recalibration) rows may fail to be read */
    for (int i = 0; i < n; i++)
        fitness[i] = evaluate_subnet(r->model, &archs[i], &r->images, r->batch, r->comm, &err).top1;
    comm_check(r->comm, &err);
}

/* A CNN's recalibration set, as prenas-evaluate's: the training split, the run's seed. */
static bool open_calibration(Run *r, const Options *o, uint64_t seed, Error *err) {
    if (!split_images_open(&r->data, "train", false, &r->train, err)) return false;
    if (r->train.count == 0)
        return input_error(err,
                           "a CNN's evaluation recalibrates on training images, and the dataset "
                           "has none, %s",
                           o->data);
    const SplitInfo *train = dataset_split(&r->data, "train");
    calibration_init(&r->calibration, &r->train, train->mean, train->std, o->bn_images, o->batch,
                     seed);
    r->images.calibration = &r->calibration;
    return true;
}

static void report(const Evolution *e, void *ctx) {
    Run *r = ctx;
    if (r->comm->rank != 0) return;
    const int done = e->generations_done, total = e->options.generations;
    const double elapsed = monotonic_seconds() - r->start;
    const Evaluated *best = evolution_best(e);
    printf("generation %*d/%d: %lld evaluated (%lld in all), best %s top-1 %.2f %% (%.4f M "
           "params), %.1f s, ETA %.0f s\n",
           total >= 10 ? 2 : 1, done, total, (long long)(e->n_evaluated - r->reported),
           (long long)e->n_evaluated, r->split_name, best->fitness, best->cost.params / 1e6,
           elapsed, elapsed / done * (total - done));
    fflush(stdout);
    r->reported = e->n_evaluated;
}

/* /meta of search.h5: the space searched, and the supernet and dataset as inputs. */
static bool describe(ArtefactMeta *meta, const Options *o, const ModelSpace *space, const Run *r,
                     const Comm *comm, int argc, char **argv, Error *err) {
    artefact_meta_init(meta, SEARCH_SCHEMA, SEARCH_SCHEMA_VERSION, argc, argv);
    artefact_meta_set_config(meta, model_space_text(space));
    meta->lineage = r->lineage;
    meta->seed = o->evolution.seed;
    meta->world_size = comm->size;
    return artefact_meta_add_input(meta, "supernet", o->supernet, err) &&
           artefact_meta_add_input(meta, "dataset", o->data, err);
}

static void print_limits(const EvolutionOptions *e, ModelFamily family) {
    const char *names[2] = {"params", family == FAMILY_CNN ? "FLOPs" : "flops_ref"};
    const int64_t lo[2] = {e->min_params, e->min_flops}, hi[2] = {e->max_params, e->max_flops};
    for (int i = 0; i < 2; i++) {
        if (hi[i] < INT64_MAX)
            printf("; %s in [%lld, %lld]", names[i], (long long)lo[i], (long long)hi[i]);
        else if (lo[i] > 0)
            printf("; %s at least %lld", names[i], (long long)lo[i]);
    }
}

static void print_summary(const Evolution *e, const Run *r, const Options *o, double seconds) {
    const Evaluated *best = evolution_best(e);
    char text[MODEL_ARCH_TEXT_MAX];
    model_arch_format(&best->arch, text, sizeof text);
    printf("best: %s\n"
           "  top-1 %.2f %% on %lld '%s' images, %lld params (%.4f M), %s %.4f G, "
           "%.4f G MACs; found in generation %d/%d (%s)\n",
           text, best->fitness, (long long)r->images.count, o->split, (long long)best->cost.params,
           best->cost.params / 1e6, best->arch.family == FAMILY_CNN ? "FLOPs" : "flops_ref",
           best->cost.flops / 1e9, best->cost.macs / 1e9, best->generation + 1, e->generations_done,
           evolution_origin_name(best->origin));
    const EvolutionRejects *x = &e->rejected;
    printf("%lld evaluations in %d generations, %.1f s (%.3f s each) on %d rank(s); tries "
           "rejected: %lld outside the limits, %lld seen before, %lld outside the space, %lld "
           "crossover parents of unequal depths -> %s\n",
           (long long)e->n_evaluated, e->generations_done, seconds, seconds / e->n_evaluated,
           r->comm->size, (long long)x->limits, (long long)x->seen, (long long)x->outside_space,
           (long long)x->unpaired, o->out);
}

/* The supernet's own space, or --config when its supernet has the same tensors: its choices
 * may differ (e.g. the whole search space over a supernet trained on its preferred subnets,
 * as a search after PreNAS's training would look). A CNN's --config must define the same
 * search (cnn_space_recorded): its supernet is trained on the whole space already. */
static bool search_space(const char *trained_text, const Options *o, ModelSpace *space,
                         Error *err) {
    if (!model_space_load_text(trained_text, o->supernet, space, err)) return false;
    if (!o->config) return true;
    if (space->family == FAMILY_CNN) {
        CnnSpace *given = cnn_space_recorded(trained_text, o->supernet, o->config,
                                             "the supernet was trained", err);
        model_space_free(space);
        *space = (ModelSpace){.family = FAMILY_CNN, .cnn = given};
        return given != NULL;
    }
    Space *given = space_load_file(o->config, err);
    if (given && !space_same_supernet(given, space->vit)) {
        input_error(err,
                    "the supernet was trained for the space '%s' recorded in %s, whose tensors "
                    "differ from %s's",
                    space->vit->name, o->supernet, o->config);
        space_free(given);
        given = NULL;
    }
    model_space_free(space);
    *space = (ModelSpace){.family = FAMILY_VIT, .vit = given};
    return given != NULL;
}

int main(int argc, char **argv) {
    Options o = parse(argc, argv);
    Error err = {0};
    if (!artefact_check_not_input(o.out, 2, (const char *[]){o.supernet, o.data}, &err)) die(&err);
    /* before MPI starts threads; static: the signal thread may outlive main's frame */
    static ArtefactGuard guard;
    artefact_guard_start(&guard);
    Comm comm = comm_start(&argc, &argv);
    h5_silence();
    char *trained = weights_supernet_space(o.supernet, &err);
    ModelSpace space = {0};
    const bool found = trained && search_space(trained, &o, &space, &err);
    free(trained);
    ModelFamily family;
    uint64_t seed = 0; /* the training run's: a CNN's recalibration images */
    if (!found || !evolution_check_limits(&space, &o.evolution, &err) ||
        !trained_supernet_peek(o.supernet, &family, &seed, &err))
        die(&err);
    Run run = {.sample = {.streamed = -1}, .batch = o.batch, .comm = &comm, .split_name = o.split};
    if (!open_images(&run, &o, &space, &err) ||
        (space.family == FAMILY_CNN && !open_calibration(&run, &o, seed, &err)))
        die(&err);
    Backend backend;
    device_open(&backend, device_for_family(o.device.device, space.family), o.device.precision,
                &comm, stdout);
    /* a CNN takes the dataset's images and resizes them to each architecture's resolution */
    run.model = model_create(&backend, &space, o.batch,
                             space.family == FAMILY_CNN ? run.data.shape.height : 0, &err);
    if (!run.model) die(&err);
    if (!weights_load_supernet(o.supernet, run.model->table, &err)) die(&err);
    ArtefactWriter writer = {.file = -1};
    ArtefactMeta meta = {0};
    if (comm.rank == 0 && artefact_begin_guarded(&writer, o.out, &guard, &err)) {
        if (!describe(&meta, &o, &space, &run, &comm, argc, argv, &err)) artefact_abort(&writer);
    }
    comm_check(&comm, &err);

    if (comm.rank == 0) {
        printf("prenas-search: %s, supernet %s; fitness top-1 on %lld of %lld '%s' images; %d "
               "rank(s); population %d, parents %d, mutations %d, crossovers %d, generations "
               "%d, m_prob %g, s_prob %g, seed %llu",
               model_space_name(&space), o.supernet, (long long)run.images.count,
               (long long)run.split_count, o.split, comm.size, o.evolution.population,
               o.evolution.parents, o.evolution.mutations, o.evolution.crossovers,
               o.evolution.generations, o.evolution.m_prob, o.evolution.s_prob,
               (unsigned long long)o.evolution.seed);
        print_limits(&o.evolution, space.family);
        if (space.family == FAMILY_CNN)
            printf("; batch norms recalibrated on %lld training images (seed %llu)",
                   (long long)run.calibration.count, (unsigned long long)seed);
        printf("\n");
        fflush(stdout);
    }
    run.start = monotonic_seconds();
    Evolution evolution;
    if (!evolution_run(&space, &o.evolution, top1, report, &run, &evolution, &err)) {
        if (comm.rank == 0) artefact_abort(&writer);
        die(&err);
    }
    const double seconds = monotonic_seconds() - run.start;
    if (comm.rank == 0) {
        evolution_write(writer.file, &evolution, o.split, run.images.count, seconds);
        artefact_commit(&writer, &meta);
        print_summary(&evolution, &run, &o, seconds);
    }
    evolution_free(&evolution);
    artefact_meta_free(&meta);
    model_free(run.model);
    backend_close(&backend);
    if (space.family == FAMILY_CNN)
        calibration_free(&run.calibration), split_images_close(&run.train);
    split_images_close(&run.sample), split_images_close(&run.split);
    dataset_close(&run.data);
    model_space_free(&space);
    comm_finish();
    return 0;
}
