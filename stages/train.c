/* prenas-train: preferred one-shot training of the supernet (method.md §9). */
#include "arch.h"
#include "artefact.h"
#include "checkpoint.h"
#include "cli.h"
#include "comm.h"
#include "cost.h"
#include "dataset.h"
#include "device.h"
#include "eval_table.h"
#include "evaluate.h"
#include "h5.h"
#include "host_memory.h"
#include "lineage.h"
#include "loader.h"
#include "model_space.h"
#include "optim.h"
#include "recipe.h"
#include "sampler.h"
#include "space.h"
#include "trainer.h"
#include "training_set.h"
#include "weights.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char USAGE[] =
    "usage: prenas-train --config SPACE.cfg --recipe RECIPE.cfg --data dataset.h5 --out RUNDIR\n"
    "                    [--preferred preferred.h5] [--sampling MODE] [--arch ARCH] [--resume]\n"
    "                    [--seed S] [--steps N] [--set KEY=VALUE]... [--workers W]\n"
    "                    [--images WHERE] [--device D] [--precision P]\n"
    "\n"
    "Trains the weight-sharing supernet, one architecture per step for all ranks (method.md 9).\n"
    "\n"
    "  --config FILE      the search space (scores, select and this run must share it)\n"
    "  --recipe FILE      the training recipe (configs/recipes/*.cfg)\n"
    "  --data FILE        dataset.h5: trains on 'train', monitors on 'val', reports on 'test'\n"
    "  --preferred FILE   preferred.h5 from prenas-select (balanced, uniform, resample)\n"
    "  --out RUNDIR       the run directory: supernet.h5 (the latest checkpoint),\n"
    "                     checkpoint-<step>.h5, train.log (key:value lines)\n"
    "  --sampling MODE    balanced (default; PreNAS: an (embed dim, depth) group uniformly,\n"
    "                     then a member; a CNN's groups: resolution and widths), uniform (a "
    "preferred architecture uniformly),\n"
    "                     resample (the refined space's per-layer choices uniformly), space\n"
    "                     (the whole search space uniformly: AutoFormer's baseline; no\n"
    "                     --preferred), fixed (one --arch from scratch)\n"
    "  --arch ARCH        the architecture of --sampling fixed\n"
    "  --resume           continue the run in RUNDIR (also automatic when RUNDIR holds a\n"
    "                     checkpoint); the result is the same as an uninterrupted run\n"
    "  --seed S           weights, data order, augmentation, sampling, drop path (default 0)\n"
    "  --steps N          stop after N optimizer steps in total, resumed ones included\n"
    "  --set KEY=VALUE    override a recipe setting, e.g. --set epochs=5 --set mix.prob=0\n"
    "  --workers W        threads augmenting the next batch (default 1)\n"
    "  --images WHERE     memory: every rank holds the dataset's images; file: each step reads\n"
    "                     the images it needs from --data (a dataset larger than memory);\n"
    "                     auto (default): memory if the ranks of a node need at most half of\n"
    "                     its available memory (MemAvailable, or the cgroup's limit: "
    "--mem)\n" DEVICE_OPTIONS_HELP
    "                     (the recipe's device and precision keys; these options win)\n"
    "  --help, --version\n"
    "\n"
    "The recipe's batch is global: with R ranks each takes batch/R images a step and the\n"
    "gradients are averaged (mpirun -np R, or srun). SIGTERM or SIGUSR1 (Slurm's warning before\n"
    "the time limit: sbatch --signal=USR1@120) checkpoints and exits with status 75; run the same\n"
    "command again to continue. Through mpirun send SIGUSR1: Open MPI's mpirun forwards it, but\n"
    "takes SIGTERM as an abort and exits 1 itself (the ranks still checkpoint).\n"
    "Exit status: 0 done (or --steps reached), 75 stopped by a signal and checkpointed,\n"
    "2 bad usage or input, 1 failure.\n";

static volatile sig_atomic_t signalled = 0;

/* SIGTERM and SIGUSR1 are blocked in every thread (before MPI and OpenMP start theirs) and
 * taken here with sigwait: an asynchronous handler could interrupt a JIT-compiled oneDNN
 * kernel, whose data below the stack pointer the signal frame would overwrite. */
static void *wait_for_signals(void *set) {
    int number;
    while (sigwait(set, &number) == 0) signalled = number;
    return NULL;
}

typedef enum { IMAGES_AUTO, IMAGES_MEMORY, IMAGES_FILE } ImagePlace;

static bool image_place_parse(const char *text, ImagePlace *place) {
    static const char *const names[] = {"auto", "memory", "file"};
    for (int i = 0; i < 3; i++)
        if (strcmp(text, names[i]) == 0) return *place = (ImagePlace)i, true;
    return false;
}

typedef struct {
    const char *config, *recipe, *data, *preferred, *out, *arch;
    DeviceOptions device;
    SamplingMode sampling;
    bool resume;
    uint64_t seed;
    int64_t steps;
    int workers, n_sets;
    ImagePlace images;
    const char *sets[64];
} Options;

static Options parse(int argc, char **argv) {
    enum { OPT_RESUME = CLI_OPT_FIRST, OPT_WORKERS, OPT_IMAGES };
    static const struct option options[] = {{"config", required_argument, NULL, 'c'},
                                            {"recipe", required_argument, NULL, 'r'},
                                            {"data", required_argument, NULL, 'd'},
                                            {"preferred", required_argument, NULL, 'p'},
                                            {"out", required_argument, NULL, 'o'},
                                            {"sampling", required_argument, NULL, 'm'},
                                            {"arch", required_argument, NULL, 'a'},
                                            {"resume", no_argument, NULL, OPT_RESUME},
                                            {"seed", required_argument, NULL, 's'},
                                            {"steps", required_argument, NULL, 'n'},
                                            {"set", required_argument, NULL, 'e'},
                                            {"workers", required_argument, NULL, OPT_WORKERS},
                                            {"images", required_argument, NULL, OPT_IMAGES},
                                            DEVICE_LONG_OPTIONS,
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, CLI_OPT_VERSION},
                                            {NULL, 0, NULL, 0}};
    Options o = {.sampling = SAMPLING_BALANCED, .steps = -1, .workers = 1};
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
        switch (c) {
        case 'c':
            o.config = optarg;
            break;
        case 'r':
            o.recipe = optarg;
            break;
        case 'd':
            o.data = optarg;
            break;
        case 'p':
            o.preferred = optarg;
            break;
        case 'o':
            o.out = optarg;
            break;
        case 'm':
            if (!sampling_parse(optarg, &o.sampling))
                cli_usage_error(
                    "--sampling '%s': expected balanced, uniform, resample, space or fixed",
                    optarg);
            break;
        case 'a':
            o.arch = optarg;
            break;
        case OPT_RESUME:
            o.resume = true;
            break;
        case 's':
            o.seed = (uint64_t)cli_long("--seed", optarg, 0, INT64_MAX);
            break;
        case 'n':
            o.steps = cli_long("--steps", optarg, 0, INT64_MAX);
            break;
        case 'e':
            if (o.n_sets == 64) cli_usage_error("more than 64 --set");
            o.sets[o.n_sets++] = optarg;
            break;
        case OPT_WORKERS:
            o.workers = (int)cli_long("--workers", optarg, 1, 256);
            break;
        case OPT_IMAGES:
            if (!image_place_parse(optarg, &o.images))
                cli_usage_error("--images '%s': expected memory, file or auto", optarg);
            break;
        default:
            if (!device_option(c, optarg, &o.device)) cli_common_option(c, USAGE, argv);
        }
    }
    if (optind < argc) cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!o.config || !o.recipe || !o.data || !o.out)
        cli_usage_error("--config, --recipe, --data and --out are required");
    const bool needs_preferred = o.sampling != SAMPLING_SPACE && o.sampling != SAMPLING_FIXED;
    if (needs_preferred && !o.preferred)
        cli_usage_error("--sampling %s needs --preferred preferred.h5", sampling_name(o.sampling));
    if ((o.sampling == SAMPLING_FIXED) != (o.arch != NULL))
        cli_usage_error("--arch goes with --sampling fixed, and --sampling fixed needs --arch");
    return o;
}

/* Whether the images go in memory: --images, or for auto whether every rank's copy fits in
 * half of what its node has left (the same answer on all ranks). */
static bool images_in_memory(ImagePlace place, const DatasetFile *data, const Comm *comm) {
    if (place != IMAGES_AUTO) return place == IMAGES_MEMORY;
    double bytes = 0;
    for (int i = 0; i < data->n_splits; i++)
        bytes += (double)data->splits[i].count * (double)image_bytes(data->shape);
    const double available = (double)host_memory_available();
    double too_big = available > 0 && bytes * comm_node_size(comm) > available / 2;
    comm_sum_doubles(comm, &too_big, 1);
    return too_big == 0;
}

/* The rows of the final test table: the architectures trained on, or the monitored pair. */
static EvalTable test_table(const TrainingSet *set) {
    return set->n
               ? eval_table_new(set->archs, set->n, set->interval, set->score, true, &set->training)
               : eval_table_new(set->monitored, set->n_monitored, NULL, NULL, false,
                                &set->training);
}

/* A live progress bar only on a terminal that is really the user's: MPI launchers hand their
 * ranks a pseudo-terminal even when their own output goes to a file. */
static bool live_bar(void) {
    return isatty(STDOUT_FILENO) && !getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") &&
           !getenv("SLURM_PROCID");
}

int main(int argc, char **argv) {
    Options o = parse(argc, argv);
    static sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    Comm comm = comm_start(&argc, &argv);
    h5_silence();
    Error err = {0};
    Recipe *recipe = recipe_load(o.recipe, o.sets, o.n_sets, &err);
    if (!recipe) die(&err);
    if (recipe->batch % comm.size != 0)
        die_input("the recipe's global batch %d does not split over %d ranks, %s", recipe->batch,
                  comm.size, o.recipe);
    TrainingSet set;
    if (!training_set_open(&set, o.config, o.sampling, o.preferred, o.arch, &err)) die(&err);
    const ModelSpace *training = &set.training;
    if (training->family == FAMILY_CNN && recipe->drop_path > 0)
        die_input("drop_path %g: drop path is the ViT's; a CNN trains without it (--set "
                  "drop_path=0, or a CNN recipe: configs/recipes/cnn-*.cfg), %s",
                  recipe->drop_path, o.recipe);
    const int share = recipe->batch / comm.size;
    if (training->family == FAMILY_CNN && recipe->bn_group && share % recipe->bn_group != 0)
        die_input("bn_group %d: each of the %d ranks' %d images must be whole batch-norm groups, "
                  "%s",
                  recipe->bn_group, comm.size, share, o.recipe);
    DatasetFile data;
    if (!dataset_open(&data, o.data, &err)) die(&err);
    Lineage lineage;
    char space_digest[SHA256_HEX_SIZE];
    model_space_digest(&set.search, space_digest);
    if (!model_space_fits_dataset(training, &data, &err) ||
        !lineage_of_training(space_digest, o.preferred, &data, &lineage, &err))
        die(&err);
    const bool in_memory = images_in_memory(o.images, &data, &comm);
    SplitImages train, val, test;
    if (!split_images_open(&data, "train", in_memory, &train, &err) ||
        !split_images_open(&data, "val", in_memory, &val, &err) ||
        !split_images_open(&data, "test", in_memory, &test, &err))
        die(&err);
    if (train.count < recipe->batch)
        die_input("the recipe's batch %d is larger than the %lld training images, %s",
                  recipe->batch, (long long)train.count, o.data);
    const SplitInfo *train_info = dataset_split(&data, "train");
    struct stat st;
    char latest[4200];
    snprintf(latest, sizeof latest, "%s/supernet.h5", o.out);
    if (comm.rank == 0 && stat(o.out, &st) != 0 && mkdir(o.out, 0777) != 0)
        input_error(&err, "cannot create the run directory: %m, %s", o.out);
    else if (comm.rank == 0) /* a read-only one, before any training is lost */
        artefact_check_output(latest, &err);
    comm_check(&comm, &err);

    /* a fresh supernet, or the run in RUNDIR continued */
    checkpoint_latest(o.out, latest, sizeof latest);
    if (o.resume && !latest[0]) die_input("--resume: no checkpoint in %s", o.out);
    Backend backend;
    device_open(
        &backend,
        device_for_family(o.device.device ? o.device.device : recipe->device, training->family),
        o.device.precision ? o.device.precision : recipe->precision, &comm, stdout);
    Model *model =
        model_create(&backend, training,
                     recipe->batch / comm.size < recipe->eval_batch ? recipe->eval_batch
                                                                    : recipe->batch / comm.size,
                     data.shape.height, &err);
    if (!model) die(&err); /* the backend's ops: the same answer on every rank */
    model_set_bn_group(model, recipe->bn_group);
    AdamW opt =
        adamw_create(model->table, recipe->beta1, recipe->beta2, recipe->eps, recipe->weight_decay);
    TrainState state = {.seed = o.seed, .world_size = comm.size, .batch = recipe->batch};
    snprintf(state.sampling, sizeof state.sampling, "%s", sampling_name(o.sampling));
    dataset_identity(&data, state.dataset);
    ArtefactMeta inputs;
    artefact_meta_init(&inputs, SUPERNET_SCHEMA, SUPERNET_SCHEMA_VERSION, argc, argv);
    if (comm.rank == 0) {
        if (artefact_meta_add_input(&inputs, "dataset", o.data, &err) && o.preferred)
            artefact_meta_add_input(&inputs, "preferred", o.preferred, &err);
    }
    comm_check(&comm, &err);
    const CheckpointContext context = {model_space_text(training),
                                       &set,
                                       recipe->text,
                                       inputs.inputs,
                                       inputs.n_inputs,
                                       argc,
                                       argv,
                                       &lineage};
    if (latest[0]) {
        if (!checkpoint_resume(latest, &context, recipe, &state, model->table, &opt, &err))
            die(&err);
        if (comm.rank == 0) {
            checkpoint_rotate(o.out, recipe->checkpoint_keep);
            printf("resuming %s at step %lld%s\n", latest, (long long)state.step,
                   state.world_size != comm.size
                       ? " (on another rank count: equal up to float rounding)"
                       : "");
        }
        state.world_size = comm.size;
    } else {
        model_init(model, o.seed);
    }

    Loader loader;
    loader_init(&loader, &train, train_info->mean, train_info->std, recipe, &comm, state.seed,
                o.workers);
    Sampler sampler;
    sampler_init(&sampler, o.sampling, state.seed, set.archs, set.n,
                 o.sampling == SAMPLING_RESAMPLE ? &set.training : &set.search, set.archs);
    /* a CNN's subnets are evaluated after BN recalibration on training images (evaluate.h) */
    Calibration calibration;
    calibration_init(&calibration, &train, train_info->mean, train_info->std,
                     recipe->eval_bn_images, recipe->eval_batch, state.seed);
    FILE *log = NULL;
    if (comm.rank == 0) {
        char path[4200];
        snprintf(path, sizeof path, "%s/train.log", o.out);
        log = fopen(path, "a");
        if (!log) fatal_at(__FILE__, __LINE__, "cannot open %s: %m", path);
        fprintf(log,
                "start step=%lld ranks=%d sampling=%s seed=%llu batch=%d steps_per_epoch=%lld "
                "images=%s\n",
                (long long)state.step, comm.size, sampling_name(o.sampling),
                (unsigned long long)state.seed, recipe->batch, (long long)loader.steps_per_epoch,
                in_memory ? "memory" : "file");
        printf(
            "prenas-train: %s, %s sampling, %d preferred, %d rank(s) x %d images, %lld steps per "
            "epoch, %d epochs, peak lr %.3g, images %s -> %s\n",
            model_space_name(training), sampling_name(o.sampling), set.n, comm.size,
            recipe->batch / comm.size, (long long)loader.steps_per_epoch, recipe->epochs,
            recipe_peak_lr(recipe), in_memory ? "in memory" : "read from the file", o.out);
        fflush(stdout);
    }
    pthread_t waiter;
    if (pthread_create(&waiter, NULL, wait_for_signals, &stop_signals) != 0 ||
        pthread_detach(waiter) != 0)
        fatal_at(__FILE__, __LINE__, "cannot start the signal thread");

    const int64_t end = (int64_t)recipe->epochs * loader.steps_per_epoch;
    Trainer trainer = {.recipe = recipe,
                       .comm = &comm,
                       .model = model,
                       .opt = &opt,
                       .loader = &loader,
                       .sampler = &sampler,
                       .state = &state,
                       .checkpoint = &context,
                       .rundir = o.out,
                       .val = {val.count ? &val : &test, val.count ? val.count : test.count,
                               train_info->mean, train_info->std, &calibration},
                       .monitored = set.monitored,
                       .monitored_names = set.monitored_names,
                       .n_monitored = set.n_monitored,
                       .stop_step = o.steps >= 0 && o.steps < end ? o.steps : end,
                       .signalled = &signalled,
                       .log = log,
                       .live_bar = live_bar()};
    if (latest[0]) /* supernet.h5 is a hard link to this one */
        snprintf(trainer.last_good, sizeof trainer.last_good, "%s/checkpoint-%08lld.h5", o.out,
                 (long long)state.step);
    const TrainOutcome outcome = trainer_run(&trainer, &err);
    comm_check(&comm, &err);
    const StepTimes *t = &trainer.times;
    if (comm.rank == 0 && t->steps > 0)
        printf("\nper step: data wait %.4f s, forward %.4f s, backward %.4f s, allreduce %.4f s, "
               "AdamW %.4f s; %lld skipped steps; %.1f s of training in all\n",
               t->data / t->steps, t->forward / t->steps, t->backward / t->steps,
               t->allreduce / t->steps, t->optimizer / t->steps, (long long)state.skipped,
               state.seconds);
    if (outcome == TRAIN_STOPPED_BY_SIGNAL && comm.rank == 0)
        printf(
            "stopped by signal %d at step %lld: checkpointed; run the same command to continue\n",
            (int)signalled, (long long)state.step);
    if (outcome == TRAIN_DONE && test.count > 0) {
        const EvalImages test_images = {&test, test.count, train_info->mean, train_info->std,
                                        &calibration};
        EvalTable table = test_table(&set);
        snprintf(table.split, sizeof table.split, "test");
        evaluate_table(model, &table, &test_images, recipe->eval_batch, &comm, false);
        if (comm.rank == 0) {
            eval_table_print(stdout, &table);
            if (log) eval_table_log(log, "test", &table);
        }
        eval_table_free(&table);
    }
    if (log) fclose(log);
    loader_free(&loader);
    calibration_free(&calibration);
    artefact_meta_free(&inputs);
    adamw_free(&opt);
    model_free(model);
    backend_close(&backend);
    split_images_close(&train), split_images_close(&val), split_images_close(&test);
    dataset_close(&data);
    training_set_close(&set);
    recipe_free(recipe);
    comm_finish();
    return outcome == TRAIN_STOPPED_BY_SIGNAL ? EXIT_STOPPED : 0;
}
