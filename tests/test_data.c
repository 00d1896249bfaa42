/* Recipes, augmentation and batches: --set overrides, augmentation that does what it says,
 * mixup's lambda distribution, and batches that do not depend on the rank count. */
#include "check.h"

#include "artefact.h"
#include "augment.h"
#include "comm.h"
#include "dataset.h"
#include "loader.h"
#include "mix.h"
#include "recipe.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/prenas-test-data-XXXXXX";

static const char RECIPE[] =
    "name = \"test\";\nepochs = 3;\nbatch = 8;\nlr = 1e-3;\nwarmup_epochs = 1;\n"
    "mix = { mixup_alpha = 0.0; cutmix_alpha = 0.0; prob = 1.0; switch_prob = 0.5; mode = "
    "\"elem\"; };\n"
    "augment = { crop = \"pad\"; pad = 2; flip = true;\n"
    "            randaugment = { ops = 0; magnitude = 9.0; std = 0.5; };\n"
    "            autoaugment = { policy = \"none\"; std = 0.5; };\n"
    "            erasing = { prob = 0.0; count = 1; }; };\n";

static Recipe *load(const char *text, const char *const *sets, int n, Error *err) {
    char path[256];
    snprintf(path, sizeof path, "%s/recipe.cfg", dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return recipe_load(path, sets, n, err);
}

static void recipes(void) {
    Error err = {0};
    Recipe *r = load(RECIPE, NULL, 0, &err);
    if (!CHECK(r != NULL)) {
        fprintf(stderr, "     %s\n", err.message);
        return;
    }
    CHECK(r->lr_epoch_lag); /* the reference's one-epoch lag unless a recipe says otherwise */
    recipe_free(r);
    /* clip_grad, lr_epoch_lag and the log group are absent from the file: --set adds them */
    const char *sets[] = {"epochs=7",      "mix.cutmix_alpha=1.0", "augment.crop=none",
                          "clip_grad=1.5", "log.every_steps=7",    "lr_epoch_lag=false"};
    r = load(RECIPE, sets, 6, &err);
    if (!CHECK(r != NULL)) {
        fprintf(stderr, "     %s\n", err.message);
        return;
    }
    CHECK_EQ_I64(r->epochs, 7);
    CHECK_NEAR(r->clip_grad, 1.5, 0);
    CHECK_EQ_I64(r->log_every, 7);
    CHECK(!r->lr_epoch_lag);
    CHECK_NEAR(r->mix.cutmix_alpha, 1.0, 0);
    CHECK(r->augment.crop == CROP_NONE);
    CHECK_NEAR(r->label_smoothing, 0.1, 0); /* the reference's default */
    CHECK_STR_CONTAINS(r->text, "epochs = 7");
    CHECK_NEAR(recipe_peak_lr(r), 1e-3 * 8 / 512, 1e-18);
    recipe_free(r);
    static const struct {
        const char *set, *message;
    } bad[] = {{"epochz=3", "--set epochz: unknown key (expected one of: name, epochs,"},
               {"epochs=three", "--set epochs=three: the value does not fit"},
               {"augment.crop=diagonal",
                "augment.crop: \"diagonal\" is not one of \"none\", \"pad\", \"random-resized\""},
               {"warmup_epochs=5", "warmup_epochs: 5 warm-up epochs for 3 epochs"},
               {"lr_epoch_lag=1", "--set lr_epoch_lag: expected true or false"},
               {"lr_epoch_lag=no", "--set lr_epoch_lag: expected true or false"},
               {"augment", "--set 'augment': expected KEY=VALUE"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Error e = {0};
        CHECK(load(RECIPE, &bad[i].set, 1, &e) == NULL);
        CHECK_EQ_I64(e.code, EXIT_INPUT);
        CHECK_STR_CONTAINS(e.message, bad[i].message);
    }
    /* RandAugment and AutoAugment exclude each other */
    const char *both[] = {"augment.randaugment.ops=2", "augment.autoaugment.policy=v0r"};
    Error conflict = {0};
    CHECK(load(RECIPE, both, 2, &conflict) == NULL);
    CHECK_STR_CONTAINS(conflict.message, "randaugment.ops = 2 and autoaugment.policy = \"v0r\"");
    Error e = {0};
    CHECK(load("epochs = 3;\nbatch = 8;\nlr = 1e-3;\ncolour = 1;\n", NULL, 0, &e) == NULL);
    CHECK_STR_CONTAINS(e.message, "colour: unknown key");
    CHECK_STR_CONTAINS(e.message, "recipe.cfg:4");
    Error lag = {0};
    CHECK(load("epochs = 3;\nbatch = 8;\nlr = 1e-3;\nlr_epoch_lag = 0;\n", NULL, 0, &lag) == NULL);
    CHECK_STR_CONTAINS(lag.message, "lr_epoch_lag: expected true or false, ");
    CHECK_STR_CONTAINS(lag.message, "recipe.cfg:4");
}

/* The shipped recipes load, with the reference's values where method.md §9.6 gives them, and
 * the main job's quick recipe differs from the long micro one only where it means to. */
static void shipped_recipes(void) {
    static const struct {
        const char *path;
        double weight_decay, min_lr, mixup;
        int randaugment_ops, erasing_count;
        AutoAugmentPolicy autoaugment;
    } expected[] = {{"configs/recipes/vit-tiny.cfg", 0.02, 1e-5, 0, 2, 1, AUTOAUGMENT_NONE},
                    {"configs/recipes/vit-small.cfg", 0.05, 1e-5, 0.8, 0, 1, AUTOAUGMENT_V0R},
                    {"configs/recipes/vit-base.cfg", 0.05, 1e-7, 0.8, 3, 2, AUTOAUGMENT_NONE}};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        Error err = {0};
        Recipe *r = recipe_load(expected[i].path, NULL, 0, &err);
        if (!CHECK(r != NULL)) {
            fprintf(stderr, "     %s\n", err.message);
            continue;
        }
        CHECK_NEAR(recipe_peak_lr(r), 1e-3, 1e-15);
        CHECK_EQ_I64(r->epochs, 500);
        CHECK_EQ_I64(r->warmup_epochs, 20);
        CHECK_EQ_I64(r->repeated_augmentation, 3);
        CHECK_NEAR(r->weight_decay, expected[i].weight_decay, 0);
        CHECK_NEAR(r->min_lr, expected[i].min_lr, 0);
        CHECK_NEAR(r->mix.mixup_alpha, expected[i].mixup, 0);
        CHECK_EQ_I64(r->augment.randaugment_ops, expected[i].randaugment_ops);
        CHECK_EQ_I64(r->augment.erasing_count, expected[i].erasing_count);
        CHECK(r->augment.autoaugment == expected[i].autoaugment);
        CHECK(r->lr_epoch_lag);
        recipe_free(r);
    }
    Error err = {0};
    Recipe *full = recipe_load("configs/recipes/micro-fmnist.cfg", NULL, 0, &err);
    Recipe *quick = recipe_load("configs/recipes/micro-fmnist-quick.cfg", NULL, 0, &err);
    if (!CHECK(full && quick)) {
        fprintf(stderr, "     %s\n", err.message);
        recipe_free(full);
        recipe_free(quick);
        return;
    }
    CHECK_EQ_I64(full->epochs, 100);
    CHECK_EQ_I64(full->warmup_epochs, 2);
    CHECK(full->lr_epoch_lag);
    CHECK_EQ_I64(quick->warmup_epochs, 1);
    CHECK(!quick->lr_epoch_lag);
    CHECK_EQ_I64(quick->batch, 64);
    CHECK_NEAR(recipe_peak_lr(quick), recipe_peak_lr(full), 0);
    /* The quick recipe is a copy of the long one (its header says so): apart from name, file,
     * text, epoch budget, batch (and lr_batch: the same peak rate), warm-up, lag, precision and
     * val checks, every setting byte for byte the same. Both were calloc'ed and filled by the
     * same parser, so padding and pointers agree as well. */
    Recipe same;
    memcpy(&same, quick, sizeof same);
    memcpy(same.name, full->name, sizeof same.name);
    memcpy(same.source, full->source, sizeof same.source);
    same.text = full->text;
    same.epochs = full->epochs, same.warmup_epochs = full->warmup_epochs;
    same.batch = full->batch, same.lr_batch = full->lr_batch;
    same.eval_every_epochs = full->eval_every_epochs;
    same.lr_epoch_lag = full->lr_epoch_lag;
    same.precision = full->precision;
    CHECK(strcmp(quick->precision, "bf16") == 0 && strcmp(full->precision, "fp32") == 0);
    CHECK(memcmp(&same, full, sizeof same) == 0);
    recipe_free(full);
    recipe_free(quick);
}

/* What docs/cli.md says a resumed run may change: name, device, precision, max_nonfinite and
 * every checkpoint.*, eval.* and log.* key. */
static bool documented_resumable(const char *path) {
    static const char *const listed[] = {"name",        "device", "precision", "max_nonfinite",
                                         "checkpoint.", "eval.",  "log.",      NULL};
    for (const char *const *l = listed; *l; l++) {
        const size_t n = strlen(*l);
        if (strncmp(path, *l, n) == 0 && (path[n] == '\0' || (*l)[n - 1] == '.')) return true;
    }
    return false;
}

/* "path=value" with another valid value of the key than r's: the least step its kind allows
 * (one, the next double, the other truth value, another name), so that the check must see
 * every bit. */
static void another_value(const RecipeKey *k, const Recipe *r, char *set, size_t size) {
    char now[128];
    recipe_key_value(k, r, now, sizeof now);
    const double v = strtod(now, NULL);
    const char *const *other = k->names;
    switch (k->kind) {
    case RECIPE_INT:
        snprintf(set, size, "%s=%.0f", k->path, v < k->max ? v + 1 : v - 1);
        break;
    case RECIPE_REAL: /* the next double above 0 is subnormal, which strtod refuses */
        snprintf(set, size, "%s=%.17g", k->path,
                 v == 0 ? DBL_MIN : nextafter(v, v < k->max ? k->max : k->min));
        break;
    case RECIPE_BOOL:
        snprintf(set, size, "%s=%s", k->path, strcmp(now, "true") == 0 ? "false" : "true");
        break;
    case RECIPE_ENUM:
    case RECIPE_WORD:
        while (strcmp(*other, now) == 0) other++;
        snprintf(set, size, "%s=%s", k->path, *other);
        break;
    case RECIPE_TEXT:
        snprintf(set, size, "%s=%s-2", k->path, now);
        break;
    }
}

/* The resume rule covers every recipe key: one that trains, changed alone and by the least
 * step, is refused naming it; one that may change is accepted. The keys marked resumable are
 * those docs/cli.md lists, so a training key cannot be marked so by mistake either. */
static void resume_keys(void) {
    Error err = {0};
    Recipe *base = load(RECIPE, NULL, 0, &err);
    if (!CHECK(base != NULL)) return;
    for (const RecipeKey *k = recipe_keys; k->path; k++) {
        char set[256], was[256], now[256], prefix[128];
        another_value(k, base, set, sizeof set);
        Recipe *changed = load(RECIPE, (const char *[]){set}, 1, &err);
        if (!CHECK(changed != NULL)) {
            fprintf(stderr, "     %s: %s\n", set, err.message);
            err = (Error){0};
            continue;
        }
        if (!CHECK(k->resumable == documented_resumable(k->path)))
            fprintf(stderr, "     %s: marked %sresumable, unlike docs/cli.md\n", k->path,
                    k->resumable ? "" : "not ");
        const bool alike = recipe_trains_alike(base, changed, was, now, sizeof was);
        const size_t n = (size_t)snprintf(prefix, sizeof prefix, "%s = ", k->path);
        const bool named = !alike && strncmp(was, prefix, n) == 0 && strncmp(now, prefix, n) == 0 &&
                           strcmp(was, now) != 0;
        if (!CHECK(k->resumable ? alike : named))
            fprintf(stderr, "     --set %s: %s%s%s\n", set, alike ? "accepted" : was,
                    alike ? "" : " vs ", alike ? "" : now);
        /* the --set took effect (a field differs: both were calloc'ed and filled by the same
         * parser, so padding agrees), so that accepting it means something */
        Recipe same;
        memcpy(&same, changed, sizeof same);
        same.text = base->text;
        CHECK(memcmp(&same, base, sizeof same) != 0);
        recipe_free(changed);
    }
    recipe_free(base);
}

/* A 6x6 single-channel image with distinct pixels. */
static void make_image(uint8_t *image) {
    for (int i = 0; i < 36; i++) image[i] = (uint8_t)(10 + 5 * i);
}

static void augmentation(void) {
    Error err = {0};
    Recipe *r = load(RECIPE, NULL, 0, &err);
    const ImageShape shape = {6, 6, 1, 10};
    const double mean[1] = {0}, std[1] = {1.0}; /* output = pixel / 255 */
    uint8_t image[36], scratch[72];
    make_image(image);
    real out[36];
    /* no crop, no flip: the image, scaled */
    Augmenter a = augmenter_make(r, shape, mean, std);
    a.settings.crop = CROP_NONE, a.settings.flip = false;
    Rng rng = rng_stream(1, 1);
    augment_image(&a, image, out, scratch, &rng);
    bool same = true;
    for (int i = 0; i < 36; i++) same &= fabsf(out[i] - image[i] / 255.0f) < 1e-6f;
    CHECK(same);
    /* pad-crop: a shifted copy with zeros coming in; every output pixel is 0 or an input pixel
     * from a shift of at most 2 */
    a.settings.crop = CROP_PAD, a.settings.pad = 2;
    int shifted = 0;
    for (int trial = 0; trial < 50; trial++) {
        augment_image(&a, image, out, scratch, &rng);
        bool plausible = true;
        for (int y = 0; y < 6; y++)
            for (int x = 0; x < 6; x++) {
                const int v = (int)lroundf(out[y * 6 + x] * 255);
                const int i = (v - 10) / 5, sy = i / 6, sx = i % 6;
                plausible &= v == 0 ||
                             (v >= 10 && (v - 10) % 5 == 0 && abs(sy - y) <= 2 && abs(sx - x) <= 2);
            }
        CHECK(plausible);
        shifted += lroundf(out[0] * 255) != image[0];
    }
    CHECK(shifted > 30); /* 24 of 25 offsets move the corner */
    /* flip only: mirrored rows */
    a.settings.crop = CROP_NONE, a.settings.flip = true;
    int flipped = 0;
    for (int trial = 0; trial < 200; trial++) {
        augment_image(&a, image, out, scratch, &rng);
        const bool mirrored =
            lroundf(out[0] * 255) == image[5] && lroundf(out[5] * 255) == image[0];
        flipped += mirrored;
        CHECK(mirrored || lroundf(out[0] * 255) == image[0]);
    }
    CHECK(flipped > 70 && flipped < 130); /* binomial(200, 1/2), 4.2 sd */
    /* RandAugment with every op keeps images valid (in [0, 1]) */
    a.settings.flip = false, a.settings.randaugment_ops = 3, a.settings.randaugment_magnitude = 9;
    bool in_range = true;
    for (int trial = 0; trial < 300; trial++) {
        augment_image(&a, image, out, scratch, &rng);
        for (int i = 0; i < 36; i++) in_range &= out[i] >= 0 && out[i] <= 1;
    }
    CHECK(in_range);
    /* so does AutoAugment v0r, and it changes most images (policies of probability < 1) */
    a.settings.randaugment_ops = 0, a.settings.autoaugment = AUTOAUGMENT_V0R;
    int changed = 0;
    for (int trial = 0; trial < 300; trial++) {
        augment_image(&a, image, out, scratch, &rng);
        bool differs = false;
        for (int i = 0; i < 36; i++) {
            in_range &= out[i] >= 0 && out[i] <= 1;
            differs |= lroundf(out[i] * 255) != image[i];
        }
        changed += differs;
    }
    CHECK(in_range);
    CHECK(changed > 150 && changed < 300);
    a.settings.autoaugment = AUTOAUGMENT_NONE;
    /* random erasing: about the given share of images carry N(0,1) noise (values outside [0,1]) */
    a.settings.randaugment_ops = 0, a.settings.erasing_prob = 0.5;
    int erased = 0;
    for (int trial = 0; trial < 400; trial++) {
        augment_image(&a, image, out, scratch, &rng);
        bool noise = false;
        for (int i = 0; i < 36; i++) noise |= out[i] < 0 || out[i] > 1;
        erased += noise;
    }
    CHECK(erased > 120 && erased < 210); /* ~0.5 x 400 less the boxes whose noise stays in [0, 1] */
    recipe_free(r);
}

/* Mixes a whole global batch as one rank does, with the randomness of `step`. */
static void mix_whole(const Recipe *r, real *images, ImageShape shape, const int *labels,
                      int *partner, real *mix, int64_t step) {
    const MixStretch whole = mix_stretch(r, 0, r->batch);
    CHECK(whole.first == 0 && whole.span == r->batch && whole.lead == 0);
    const MixStreams streams = {7, step, (uint64_t)(step * r->batch)};
    mix_batch(r, &whole, streams, images, labels, shape, partner, mix);
}

static void mixing(void) {
    Error err = {0};
    const char *sets[] = {"mix.mixup_alpha=0.8", "mix.cutmix_alpha=0.0", "batch=4"};
    Recipe *r = load(RECIPE, sets, 3, &err);
    Rng rng = rng_stream(2, 2);
    double sum = 0, sum_sq = 0;
    const int n = 20000;
    for (int i = 0; i < n; i++) {
        const double x = rng_beta(&rng, 0.8, 0.8);
        sum += x, sum_sq += x * x;
    }
    /* Beta(0.8, 0.8): mean 1/2, variance 1 / (4 (2 a + 1)) = 0.0962 */
    CHECK_NEAR(sum / n, 0.5, 0.012);
    CHECK_NEAR(sum_sq / n - (sum / n) * (sum / n), 0.25 / 2.6, 0.006);
    /* elem mode: neighbours (0, 1) and (2, 3) are partners, each sample with its own lambda */
    const ImageShape shape = {4, 4, 1, 10};
    real images[4 * 16], mix[4];
    int labels[4] = {0, 1, 2, 3}, partner[4];
    for (int i = 0; i < 64; i++) images[i] = (real)(i / 16); /* image k is all k */
    mix_whole(r, images, shape, labels, partner, mix, 0);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ_I64(partner[i], i ^ 1);
        CHECK_NEAR(images[i * 16], mix[i] * i + (1 - mix[i]) * (i ^ 1), 1e-5);
        CHECK(mix[i] > 0 && mix[i] < 1);
    }
    CHECK(mix[0] != mix[1] && mix[2] != mix[3]);
    recipe_free(r);
    /* cutmix: lambda is corrected to the pasted area */
    const char *cut[] = {"mix.mixup_alpha=0.0", "mix.cutmix_alpha=1.0", "batch=2"};
    r = load(RECIPE, cut, 3, &err);
    const ImageShape big = {16, 16, 1, 10};
    real *many = malloc(sizeof(real) * 2 * 256);
    int pasted = 0;
    for (int trial = 0; trial < 50; trial++) {
        for (int i = 0; i < 512; i++) many[i] = (real)(i / 256);
        int two[2] = {0, 1}, other[2];
        real lambda[2];
        mix_whole(r, many, big, two, other, lambda, trial);
        int from_partner = 0;
        for (int p = 0; p < 256; p++) from_partner += many[p] == 1;
        CHECK_NEAR(lambda[0], 1 - from_partner / 256.0, 1e-6);
        pasted += from_partner > 0;
    }
    CHECK(pasted > 40);
    recipe_free(r);
    /* batch mode: one lambda and one box for the whole batch (timm), so both samples take
     * their partner's pixels at the same places */
    const char *batch_mode[] = {"mix.mixup_alpha=0.0", "mix.cutmix_alpha=1.0", "mix.mode=batch",
                                "batch=2"};
    r = load(RECIPE, batch_mode, 4, &err);
    for (int trial = 0; trial < 20; trial++) {
        for (int i = 0; i < 512; i++) many[i] = (real)(i / 256);
        int two[2] = {0, 1}, other[2];
        real lambda[2];
        mix_whole(r, many, big, two, other, lambda, trial);
        CHECK(lambda[0] == lambda[1]);
        bool same_box = true;
        for (int p = 0; p < 256; p++) same_box &= (many[p] == 1) == (many[256 + p] == 0);
        CHECK(same_box);
    }
    free(many);
    recipe_free(r);
    /* an odd global batch cannot be paired */
    const char *odd[] = {"mix.mixup_alpha=0.8", "batch=7"};
    Error e = {0};
    CHECK(load(RECIPE, odd, 2, &e) == NULL);
    CHECK_STR_CONTAINS(e.message, "batch: 7 is odd, and mixup/cutmix mix the samples of a batch in "
                                  "pairs");
    CHECK_STR_CONTAINS(e.message, "recipe.cfg:3");
}

/* The pairs of a global batch (mix.h): an involution without fixed points, partners at least
 * `repeated_augmentation` apart (never two copies of one image) once the batch has two blocks'
 * halves, and a rank's stretch reaching over exactly the partners on its neighbours. */
static void mixing_pairs(void) {
    Error err = {0};
    static const struct {
        int batch, repeats, position, partner;
    } known[] = {{8, 1, 0, 1},  {8, 1, 5, 4},   {14, 1, 13, 12}, {12, 3, 0, 6}, {12, 3, 11, 5},
                 {20, 3, 3, 7}, {20, 3, 8, 14}, {20, 3, 19, 13}, {16, 2, 5, 7}, {6, 4, 1, 4}};
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
        char batch[32], repeats[48];
        snprintf(batch, sizeof batch, "batch=%d", known[k].batch);
        snprintf(repeats, sizeof repeats, "repeated_augmentation=%d", known[k].repeats);
        const char *sets[] = {"mix.mixup_alpha=0.8", batch, repeats};
        Recipe *r = load(RECIPE, sets, 3, &err);
        if (!CHECK(r != NULL)) return;
        CHECK_EQ_I64(mix_partner(r, known[k].position), known[k].partner);
        recipe_free(r);
    }
    bool involution = true, apart = true;
    for (int repeats = 1; repeats <= 5; repeats++)
        for (int batch = 2; batch <= 40; batch += 2) {
            char b[32], rep[48];
            snprintf(b, sizeof b, "batch=%d", batch);
            snprintf(rep, sizeof rep, "repeated_augmentation=%d", repeats);
            Recipe *r = load(RECIPE, (const char *[]){"mix.mixup_alpha=0.8", b, rep}, 3, &err);
            const int d = repeats <= 1 ? 1 : repeats <= 2 ? 2 : repeats <= 4 ? 4 : 8;
            for (int p = 0; p < batch; p++) {
                const int q = mix_partner(r, p);
                involution &= q >= 0 && q < batch && q != p && mix_partner(r, q) == p;
                apart &= batch < 2 * d || abs(q - p) >= repeats;
            }
            recipe_free(r);
        }
    CHECK(involution);
    CHECK(apart);
    /* batch 14 over 2 ranks: 7 each, the pair (6, 7) is cut */
    Recipe *r = load(RECIPE, (const char *[]){"mix.mixup_alpha=0.8", "batch=14"}, 2, &err);
    MixStretch m = mix_stretch(r, 0, 7);
    CHECK(m.first == 0 && m.span == 8 && m.lead == 0 && m.count == 7);
    m = mix_stretch(r, 7, 7);
    CHECK(m.first == 6 && m.span == 8 && m.lead == 1 && m.count == 7);
    m = mix_stretch(r, 4, 4); /* whole pairs: nothing more */
    CHECK(m.first == 4 && m.span == 4 && m.lead == 0);
    recipe_free(r);
    /* without mixing the stretch is the rank's part */
    r = load(RECIPE, (const char *[]){"batch=14"}, 1, &err);
    m = mix_stretch(r, 7, 7);
    CHECK(m.first == 7 && m.span == 7 && m.lead == 0);
    recipe_free(r);
}

static SplitImages in_memory(uint8_t *images, int32_t *labels, int64_t n, ImageShape shape) {
    return (SplitImages){.name = "train",
                         .shape = shape,
                         .count = n,
                         .labels = labels,
                         .images = images,
                         .streamed = -1,
                         .path = "memory"};
}

/* Rank r of R takes the r-th slice of the global batch: the slices of 2 ranks are the
 * batch of 1 rank, sample for sample. */
static void batches_split_over_ranks(void) {
    Error err = {0};
    const char *sets[] = {"augment.erasing.prob=0.5"};
    Recipe *r = load(RECIPE, sets, 1, &err);
    const ImageShape shape = {6, 6, 1, 10};
    enum { N = 20 };
    uint8_t images[N * 36];
    int32_t labels[N];
    for (int i = 0; i < N * 36; i++) images[i] = (uint8_t)(i * 7);
    for (int i = 0; i < N; i++) labels[i] = i % 10;
    const double mean[1] = {0.5}, std[1] = {0.25};
    const SplitImages split = in_memory(images, labels, N, shape);
    Loader one, half[2];
    loader_init(&one, &split, mean, std, r, &(Comm){0, 1}, 9, 1);
    loader_init(&half[0], &split, mean, std, r, &(Comm){0, 2}, 9, 1);
    loader_init(&half[1], &split, mean, std, r, &(Comm){1, 2}, 9, 2);
    CHECK_EQ_I64(one.steps_per_epoch, 2); /* 20 images, batch 8, the last 4 dropped */
    Batch whole = loader_batch(&one), part[2] = {loader_batch(&half[0]), loader_batch(&half[1])};
    int seen[N] = {0};
    for (int64_t step = 0; step < 5; step++) {
        loader_fill(&one, step, &whole);
        loader_fill(&half[0], step, &part[0]);
        loader_fill(&half[1], step, &part[1]);
        CHECK(memcmp(whole.images, part[0].images, sizeof(real) * 4 * 36) == 0);
        CHECK(memcmp(whole.images + 4 * 36, part[1].images, sizeof(real) * 4 * 36) == 0);
        CHECK(memcmp(whole.labels + 4, part[1].labels, sizeof(int) * 4) == 0);
        CHECK_EQ_I64(whole.epoch, step / 2);
        CHECK_EQ_I64(part[1].first_sample, whole.first_sample + 4);
        if (step < 2)
            for (int i = 0; i < 8; i++) seen[whole.labels[i]]++;
    }
    int total = 0;
    for (int i = 0; i < 10; i++) total += seen[i];
    CHECK_EQ_I64(total, 16); /* two full batches of the first epoch */
    batch_free(&whole), batch_free(&part[0]), batch_free(&part[1]);
    loader_free(&one), loader_free(&half[0]), loader_free(&half[1]);
    recipe_free(r);
}

/* Mixing keeps a global batch independent of the rank count: the images, partners and lambdas
 * of 2, 3 and 4 ranks (6, 4 and 3 samples each: partners on other ranks) put together are those
 * of 1 rank, bit for bit, in both modes, with and without repeated augmentation. */
static void mixed_batches_split_over_ranks(void) {
    const ImageShape shape = {6, 6, 1, 20};
    enum { N = 20, G = 12 };
    uint8_t images[N * 36];
    int32_t labels[N];
    for (int i = 0; i < N * 36; i++) images[i] = (uint8_t)(i * 7 + i / 36);
    for (int i = 0; i < N; i++) labels[i] = i; /* the label names the image */
    const double mean[1] = {0.5}, std[1] = {0.25};
    const SplitImages split = in_memory(images, labels, N, shape);
    const char *modes[] = {"mix.mode=elem", "mix.mode=batch"};
    const char *repeats[] = {"repeated_augmentation=1", "repeated_augmentation=3"};
    for (int mode = 0; mode < 2; mode++)
        for (int repeat = 0; repeat < 2; repeat++) {
            Error err = {0};
            const char *sets[] = {"batch=12", "mix.mixup_alpha=0.8", "mix.cutmix_alpha=1.0",
                                  modes[mode], repeats[repeat]};
            Recipe *r = load(RECIPE, sets, 5, &err);
            if (!CHECK(r != NULL)) {
                fprintf(stderr, "     %s\n", err.message);
                continue;
            }
            Loader one;
            loader_init(&one, &split, mean, std, r, &(Comm){0, 1}, 3, 1);
            Batch whole = loader_batch(&one);
            for (int world = 2; world <= 4; world++) {
                const int b = G / world;
                Loader part[4];
                Batch got[4];
                for (int rank = 0; rank < world; rank++) {
                    loader_init(&part[rank], &split, mean, std, r, &(Comm){rank, world}, 3, 1);
                    got[rank] = loader_batch(&part[rank]);
                }
                for (int64_t step = 0; step < 3; step++) {
                    loader_fill(&one, step, &whole);
                    int mixed = 0;
                    for (int i = 0; i < G; i++) mixed += whole.mix[i] < 1;
                    CHECK(mixed > G / 2);
                    bool distinct = true; /* never mixed with another augmentation of itself */
                    for (int i = 0; i < G; i++) distinct &= whole.partner[i] != whole.labels[i];
                    CHECK(distinct);
                    for (int rank = 0; rank < world; rank++) {
                        loader_fill(&part[rank], step, &got[rank]);
                        const size_t at = (size_t)rank * b;
                        CHECK(memcmp(got[rank].images, whole.images + at * 36,
                                     sizeof(real) * b * 36) == 0);
                        CHECK(memcmp(got[rank].labels, whole.labels + at, sizeof(int) * b) == 0);
                        CHECK(memcmp(got[rank].partner, whole.partner + at, sizeof(int) * b) == 0);
                        CHECK(memcmp(got[rank].mix, whole.mix + at, sizeof(real) * b) == 0);
                    }
                }
                for (int rank = 0; rank < world; rank++) {
                    batch_free(&got[rank]);
                    loader_free(&part[rank]);
                }
            }
            batch_free(&whole);
            loader_free(&one);
            recipe_free(r);
        }
}

/* Repeated augmentation (method.md §9.7): an epoch keeps N samples, so with 3 repeats it has
 * as many steps as without; each image comes 3 times in a row, augmented differently. */
static void repeated_augmentation(void) {
    Error err = {0};
    char text[sizeof RECIPE + 64];
    snprintf(text, sizeof text, "%srepeated_augmentation = 1;\n", RECIPE);
    const char *sets[] = {"repeated_augmentation=3", "batch=6"};
    Recipe *r = load(text, sets, 2, &err);
    if (!CHECK(r != NULL)) return;
    const ImageShape shape = {6, 6, 1, 20};
    enum { N = 20 };
    uint8_t images[N * 36];
    int32_t labels[N];
    for (int i = 0; i < N * 36; i++) images[i] = (uint8_t)(i * 7);
    for (int i = 0; i < N; i++) labels[i] = i; /* the label names the image */
    const double mean[1] = {0.5}, std[1] = {0.25};
    const SplitImages split = in_memory(images, labels, N, shape);
    Loader l;
    loader_init(&l, &split, mean, std, r, &(Comm){0, 1}, 4, 1);
    CHECK_EQ_I64(l.steps_per_epoch, 3); /* 20 images, batch 6: 18 positions, 6 images x 3 */
    Batch b = loader_batch(&l);
    int distinct = 0, last = -1;
    for (int64_t step = 0; step < 3; step++) {
        loader_fill(&l, step, &b);
        for (int i = 0; i < 6; i += 3) {
            CHECK(b.labels[i] == b.labels[i + 1] && b.labels[i] == b.labels[i + 2]);
            CHECK(memcmp(b.images + i * 36, b.images + (i + 1) * 36, sizeof(real) * 36) != 0 ||
                  memcmp(b.images + i * 36, b.images + (i + 2) * 36, sizeof(real) * 36) != 0);
            distinct += b.labels[i] != last;
            last = b.labels[i];
        }
    }
    CHECK_EQ_I64(distinct, 6);
    batch_free(&b);
    loader_free(&l);
    recipe_free(r);
}

/* A split read from the file step by step gives the batches of the same split in memory,
 * through the prefetching thread, across an epoch boundary and a jump (a resumed run); a
 * sample of its rows gathered into memory holds those rows. */
static void streamed_batches(void) {
    Error err = {0};
    Recipe *r = load(RECIPE, (const char *[]){"augment.erasing.prob=0.5"}, 1, &err);
    const ImageShape shape = {6, 6, 1, 10};
    enum { N = 20 };
    uint8_t images[N * 36];
    int32_t labels[N];
    int64_t index[N];
    for (int i = 0; i < N * 36; i++) images[i] = (uint8_t)(i * 13 + i / 36);
    for (int i = 0; i < N; i++) labels[i] = (i * 3) % 10, index[i] = i;
    char path[256];
    snprintf(path, sizeof path, "%s/dataset.h5", dir);
    const char *names[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    char *argv[] = {"test"};
    ArtefactMeta meta;
    artefact_meta_init(&meta, DATASET_SCHEMA, DATASET_SCHEMA_VERSION, 1, argv);
    ArtefactWriter w;
    CHECK(artefact_begin(&w, path, &err));
    dataset_write_header(w.file, shape, names);
    SplitWriter train = split_writer_open(w.file, "train", shape, N, "unit test");
    split_writer_append(&train, images, labels, index, N);
    split_writer_close(&train);
    artefact_commit(&w, &meta);
    artefact_meta_free(&meta);

    DatasetFile ds;
    SplitImages file;
    if (!CHECK(dataset_open(&ds, path, &err) &&
               split_images_open(&ds, "train", false, &file, &err)))
        return;
    CHECK(file.images == NULL && file.streamed >= 0 && file.count == N);
    const SplitImages memory = in_memory(images, labels, N, shape);
    const double mean[1] = {0.5}, std[1] = {0.25};
    Loader streaming, reference;
    loader_init(&streaming, &file, mean, std, r, &(Comm){0, 1}, 5, 2);
    loader_init(&reference, &memory, mean, std, r, &(Comm){0, 1}, 5, 1);
    Batch expected = loader_batch(&reference);
    const int64_t steps[] = {0, 1, 2, 3, 4, 9, 10, 11}; /* 2 steps an epoch; 4 -> 9 jumps */
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        double waited = 0;
        const Batch *got = loader_next(&streaming, steps[k], &waited, &err);
        CHECK(err.code == 0);
        loader_fill(&reference, steps[k], &expected);
        CHECK_EQ_I64(got->step, steps[k]);
        CHECK(memcmp(got->raw, expected.raw, 8 * 36) == 0);
        CHECK(memcmp(got->images, expected.images, sizeof(real) * 8 * 36) == 0);
        CHECK(memcmp(got->labels, expected.labels, sizeof(int) * 8) == 0);
    }
    batch_free(&expected);
    loader_free(&streaming), loader_free(&reference);

    /* a sample of the streamed split, held in memory (prenas-search --images) */
    const int64_t rows[] = {3, 4, 5, 11, 19};
    SplitImages sample;
    if (CHECK(split_images_subset(&file, rows, 5, &sample, &err))) {
        CHECK(sample.images != NULL && sample.streamed < 0 && sample.count == 5);
        bool same = true;
        for (int i = 0; i < 5; i++)
            same &= sample.labels[i] == labels[rows[i]] &&
                    memcmp(sample.images + 36 * i, images + 36 * rows[i], 36) == 0;
        CHECK(same);
        split_images_close(&sample);
    }
    split_images_close(&file);
    dataset_close(&ds);
    recipe_free(r);
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    recipes();
    shipped_recipes();
    resume_keys();
    augmentation();
    mixing();
    mixing_pairs();
    batches_split_over_ranks();
    mixed_batches_split_over_ranks();
    repeated_augmentation();
    streamed_batches();
    char command[128];
    snprintf(command, sizeof command, "rm -rf %s", dir);
    int rc = check_summary();
    if (system(command) != 0) rc = 1;
    return rc;
}
