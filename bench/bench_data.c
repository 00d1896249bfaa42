/* prenas-bench-data: how fast the training data pipeline alone prepares batches (augmentation,
 * mixing, normalisation), to compare with the training throughput: if it is much faster, the
 * prefetching loader keeps the model from ever waiting. The last line is img_per_s=<float>. */
#include "cli.h"
#include "clock.h"
#include "comm.h"
#include "dataset.h"
#include "h5.h"
#include "loader.h"
#include "recipe.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static const char USAGE[] =
    "usage: prenas-bench-data --data dataset.h5 --recipe RECIPE.cfg [--steps N] [--workers W]\n"
    "                         [--set KEY=VALUE]... [--from-file]\n"
    "\n"
    "Prepares N batches of the recipe's global batch (default 50) on one process, as\n"
    "prenas-train's loader does, with W augmentation threads (default 1), and prints images\n"
    "per second. --from-file reads each batch's images from the file (prenas-train --images\n"
    "file) instead of holding the split in memory.\n";

int main(int argc, char **argv) {
    static const struct option options[] = {{"data", required_argument, NULL, 'd'},
                                            {"recipe", required_argument, NULL, 'r'},
                                            {"steps", required_argument, NULL, 'n'},
                                            {"workers", required_argument, NULL, 'w'},
                                            {"set", required_argument, NULL, 'e'},
                                            {"from-file", no_argument, NULL, 'f'},
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, CLI_OPT_VERSION},
                                            {NULL, 0, NULL, 0}};
    const char *data = NULL, *recipe_path = NULL, *sets[64];
    int steps = 50, workers = 1, n_sets = 0;
    bool from_file = false;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
        switch (c) {
        case 'd':
            data = optarg;
            break;
        case 'r':
            recipe_path = optarg;
            break;
        case 'n':
            steps = (int)cli_long("--steps", optarg, 1, 1000000);
            break;
        case 'w':
            workers = (int)cli_long("--workers", optarg, 1, 256);
            break;
        case 'f':
            from_file = true;
            break;
        case 'e':
            if (n_sets == 64) cli_usage_error("more than 64 --set");
            sets[n_sets++] = optarg;
            break;
        default:
            cli_common_option(c, USAGE, argv);
        }
    }
    if (!data || !recipe_path) cli_usage_error("--data and --recipe are required");
    h5_silence();
    Error err = {0};
    Recipe *recipe = recipe_load(recipe_path, sets, n_sets, &err);
    DatasetFile ds;
    if (!recipe || !dataset_open(&ds, data, &err)) die(&err);
    const SplitInfo *train = dataset_split(&ds, "train");
    const ImageShape s = ds.shape;
    SplitImages split;
    if (!split_images_open(&ds, "train", !from_file, &split, &err)) die(&err);
    Loader loader;
    loader_init(&loader, &split, train->mean, train->std, recipe, &(Comm){0, 1}, 0, workers);
    Batch batch = loader_batch(&loader);
    loader_fill(&loader, 0, &batch); /* the epoch order, outside the timing */
    const double start = monotonic_seconds();
    for (int step = 1; step <= steps; step++) loader_fill(&loader, step, &batch);
    const double rate = (double)steps * recipe->batch / (monotonic_seconds() - start);
    printf("%d batches of %d %dx%dx%d images %s, %d augmentation thread(s): %.0f img/s\n", steps,
           recipe->batch, s.height, s.width, s.channels,
           from_file ? "read from the file" : "in memory", workers, rate);
    printf("img_per_s=%.1f\n", rate);
    batch_free(&batch);
    loader_free(&loader);
    split_images_close(&split);
    dataset_close(&ds);
    recipe_free(recipe);
    return 0;
}
