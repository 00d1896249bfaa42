#include "recipe.h"

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const crops[] = {"none", "pad", "random-resized", NULL};
static const char *const modes[] = {"elem", "batch", NULL};
static const char *const policies[] = {"none", "v0r", NULL};
static const char *const devices[] = {"auto", "cpu", "cuda", NULL};
static const char *const precisions[] = {"fp32", "tf32", "bf16", NULL};

/* Defaults: the reference's (method.md §9.6 notes), so a recipe states what differs. */
static void defaults(Recipe *r) {
    r->warmup_epochs = 20;
    r->lr_batch = 512;
    r->min_lr = 1e-5;
    r->warmup_lr = 1e-6;
    r->lr_epoch_lag = true;
    r->weight_decay = 0.05;
    r->beta1 = 0.9, r->beta2 = 0.999, r->eps = 1e-8;
    r->label_smoothing = 0.1;
    r->drop_path = 0.1;
    r->mix.mixup_alpha = 0.8, r->mix.cutmix_alpha = 1.0, r->mix.prob = 1.0;
    r->mix.switch_prob = 0.5, r->mix.mode = MIX_ELEM;
    r->augment.crop = CROP_RANDOM_RESIZED, r->augment.pad = 4, r->augment.scale_min = 0.08;
    r->augment.flip = true;
    r->augment.randaugment_ops = 2, r->augment.randaugment_magnitude = 9;
    r->augment.randaugment_std = 0.5;
    r->augment.autoaugment = AUTOAUGMENT_NONE, r->augment.autoaugment_std = 0.5;
    r->augment.erasing_prob = 0.25, r->augment.erasing_count = 1;
    r->repeated_augmentation = 1;
    r->checkpoint_every = 1000, r->checkpoint_keep = 2;
    r->eval_every_epochs = 1, r->eval_batch = 256;
    r->log_every = 50;
    r->max_nonfinite = 20;
}

static bool read_recipe(CfgReader *c, const config_setting_t *root, Recipe *r) {
    static const char *const keys[] = {"name",
                                       "epochs",
                                       "warmup_epochs",
                                       "batch",
                                       "lr",
                                       "lr_batch",
                                       "min_lr",
                                       "warmup_lr",
                                       "lr_epoch_lag",
                                       "weight_decay",
                                       "adamw",
                                       "label_smoothing",
                                       "drop_path",
                                       "clip_grad",
                                       "mix",
                                       "augment",
                                       "repeated_augmentation",
                                       "checkpoint",
                                       "eval",
                                       "log",
                                       "max_nonfinite",
                                       "device",
                                       "precision",
                                       NULL};
    static const char *const adamw_keys[] = {"beta1", "beta2", "eps", NULL};
    static const char *const mix_keys[] = {"mixup_alpha", "cutmix_alpha", "prob",
                                           "switch_prob", "mode",         NULL};
    static const char *const augment_keys[] = {"crop",        "pad",         "scale_min", "flip",
                                               "randaugment", "autoaugment", "erasing",   NULL};
    static const char *const ra_keys[] = {"ops", "magnitude", "std", NULL};
    static const char *const aa_keys[] = {"policy", "std", NULL};
    static const char *const erasing_keys[] = {"prob", "count", NULL};
    static const char *const checkpoint_keys[] = {"every_steps", "keep", NULL};
    static const char *const eval_keys[] = {"every_epochs", "batch", "max_images", NULL};
    static const char *const log_keys[] = {"every_steps", NULL};
    int device = 0, precision = 0;
    if (!cfg_check_keys(c, root, keys)) return false;
    const config_setting_t *name = config_setting_get_member(root, "name");
    if (name && config_setting_type(name) == CONFIG_TYPE_STRING)
        snprintf(r->name, sizeof r->name, "%s", config_setting_get_string(name));
    int crop = (int)r->augment.crop, mode = (int)r->mix.mode, max_images = 0;
    int policy = (int)r->augment.autoaugment;
    bool ok = cfg_int(c, root, "epochs", 1, 1000000, &r->epochs) &&
              cfg_int(c, root, "batch", 1, 1 << 24, &r->batch) &&
              cfg_real(c, root, "lr", 0, 10, &r->lr) &&
              cfg_int_or(c, root, "warmup_epochs", 0, 1000000, &r->warmup_epochs) &&
              cfg_real_or(c, root, "lr_batch", 1, 1 << 24, &r->lr_batch) &&
              cfg_real_or(c, root, "min_lr", 0, 10, &r->min_lr) &&
              cfg_real_or(c, root, "warmup_lr", 0, 10, &r->warmup_lr) &&
              cfg_bool_or(c, root, "lr_epoch_lag", &r->lr_epoch_lag) &&
              cfg_real_or(c, root, "weight_decay", 0, 10, &r->weight_decay) &&
              cfg_real_or(c, root, "label_smoothing", 0, 0.99, &r->label_smoothing) &&
              cfg_real_or(c, root, "drop_path", 0, 0.99, &r->drop_path) &&
              cfg_real_or(c, root, "clip_grad", 0, 1e9, &r->clip_grad) &&
              cfg_int_or(c, root, "repeated_augmentation", 1, 64, &r->repeated_augmentation) &&
              cfg_int_or(c, root, "max_nonfinite", 1, 1000000, &r->max_nonfinite) &&
              cfg_choice_or(c, root, "device", devices, &device) &&
              cfg_choice_or(c, root, "precision", precisions, &precision);
    r->device = devices[device];
    r->precision = precisions[precision];
    const config_setting_t *g;
    if (ok && (g = cfg_group_or(c, root, "adamw")))
        ok = cfg_check_keys(c, g, adamw_keys) &&
             cfg_real_or(c, g, "beta1", 0, 0.999999, &r->beta1) &&
             cfg_real_or(c, g, "beta2", 0, 0.999999, &r->beta2) &&
             cfg_real_or(c, g, "eps", 0, 1, &r->eps);
    if (ok && (g = cfg_group_or(c, root, "mix")))
        ok = cfg_check_keys(c, g, mix_keys) &&
             cfg_real_or(c, g, "mixup_alpha", 0, 100, &r->mix.mixup_alpha) &&
             cfg_real_or(c, g, "cutmix_alpha", 0, 100, &r->mix.cutmix_alpha) &&
             cfg_real_or(c, g, "prob", 0, 1, &r->mix.prob) &&
             cfg_real_or(c, g, "switch_prob", 0, 1, &r->mix.switch_prob) &&
             cfg_choice_or(c, g, "mode", modes, &mode);
    if (ok && (g = cfg_group_or(c, root, "augment"))) {
        ok = cfg_check_keys(c, g, augment_keys) && cfg_choice_or(c, g, "crop", crops, &crop) &&
             cfg_int_or(c, g, "pad", 0, 1024, &r->augment.pad) &&
             cfg_real_or(c, g, "scale_min", 0.01, 1, &r->augment.scale_min) &&
             cfg_bool_or(c, g, "flip", &r->augment.flip);
        const config_setting_t *h;
        if (ok && (h = cfg_group_or(c, g, "randaugment")))
            ok = cfg_check_keys(c, h, ra_keys) &&
                 cfg_int_or(c, h, "ops", 0, 16, &r->augment.randaugment_ops) &&
                 cfg_real_or(c, h, "magnitude", 0, 10, &r->augment.randaugment_magnitude) &&
                 cfg_real_or(c, h, "std", 0, 10, &r->augment.randaugment_std);
        if (ok && (h = cfg_group_or(c, g, "autoaugment")))
            ok = cfg_check_keys(c, h, aa_keys) &&
                 cfg_choice_or(c, h, "policy", policies, &policy) &&
                 cfg_real_or(c, h, "std", 0, 10, &r->augment.autoaugment_std);
        if (ok && (h = cfg_group_or(c, g, "erasing")))
            ok = cfg_check_keys(c, h, erasing_keys) &&
                 cfg_real_or(c, h, "prob", 0, 1, &r->augment.erasing_prob) &&
                 cfg_int_or(c, h, "count", 1, 16, &r->augment.erasing_count);
    }
    if (ok && (g = cfg_group_or(c, root, "checkpoint")))
        ok = cfg_check_keys(c, g, checkpoint_keys) &&
             cfg_int_or(c, g, "every_steps", 1, 1 << 30, &r->checkpoint_every) &&
             cfg_int_or(c, g, "keep", 1, 1000, &r->checkpoint_keep);
    if (ok && (g = cfg_group_or(c, root, "eval")))
        ok = cfg_check_keys(c, g, eval_keys) &&
             cfg_int_or(c, g, "every_epochs", 0, 1000000, &r->eval_every_epochs) &&
             cfg_int_or(c, g, "batch", 1, 65536, &r->eval_batch) &&
             cfg_int_or(c, g, "max_images", 0, 1 << 30, &max_images);
    if (ok && (g = cfg_group_or(c, root, "log")))
        ok = cfg_check_keys(c, g, log_keys) &&
             cfg_int_or(c, g, "every_steps", 1, 1 << 30, &r->log_every);
    r->augment.crop = (CropKind)crop;
    r->augment.autoaugment = (AutoAugmentPolicy)policy;
    r->mix.mode = (MixMode)mode;
    r->eval_max_images = max_images;
    if (ok && r->warmup_epochs >= r->epochs && r->warmup_epochs > 0)
        ok = cfg_fail(c, config_setting_get_member(root, "warmup_epochs"),
                      "%d warm-up epochs for %d epochs", r->warmup_epochs, r->epochs);
    if (ok && r->augment.autoaugment != AUTOAUGMENT_NONE && r->augment.randaugment_ops > 0)
        ok = cfg_fail(c, config_setting_get_member(root, "augment"),
                      "randaugment.ops = %d and autoaugment.policy = \"%s\": choose one "
                      "(set randaugment.ops = 0 or the policy to \"none\")",
                      r->augment.randaugment_ops, policies[policy]);
    if (ok && recipe_mixes(r) && r->batch % 2 != 0)
        ok = cfg_fail(c, config_setting_get_member(root, "batch"),
                      "%d is odd, and mixup/cutmix mix the samples of a batch in pairs (set an "
                      "even batch, or mix.mixup_alpha = mix.cutmix_alpha = 0)",
                      r->batch);
    return ok && c->err->code == 0;
}

Recipe *recipe_parse(const char *text, const char *origin, const char *const *sets, int n_sets,
                     Error *err) {
    config_t cfg;
    config_init(&cfg);
    Recipe *r = xcalloc(1, sizeof *r);
    snprintf(r->source, sizeof r->source, "%s", origin);
    defaults(r);
    CfgReader reader = {r->source, err};
    bool ok = cfg_parse(&cfg, text, origin, err) &&
              cfg_apply_sets(&cfg, sets, n_sets, origin, err) &&
              read_recipe(&reader, config_root_setting(&cfg), r);
    if (ok) r->text = cfg_text(&cfg);
    config_destroy(&cfg);
    if (!ok) {
        free(r);
        return NULL;
    }
    return r;
}

Recipe *recipe_load(const char *path, const char *const *sets, int n_sets, Error *err) {
    char *text = cfg_read_file(path, "recipe", err);
    if (!text) return NULL;
    Recipe *r = recipe_parse(text, path, sets, n_sets, err);
    free(text);
    return r;
}

void recipe_free(Recipe *recipe) {
    if (!recipe) return;
    free(recipe->text);
    free(recipe);
}

double recipe_peak_lr(const Recipe *r) {
    return r->lr * r->batch / r->lr_batch;
}

bool recipe_mixes(const Recipe *r) {
    return r->mix.mixup_alpha > 0 || r->mix.cutmix_alpha > 0;
}

/* Every setting the weights of a step depend on, one "key = value" line each, reals to the
 * last bit. Left out, because a resumed run may change them: name (a label), device and
 * precision (where and how the same products run, as the rank count: docs/cli.md),
 * checkpoint.*, eval.*, log.* (what is saved and reported, never what is trained) and
 * max_nonfinite (only when a failing run gives up). */
static char *training_settings(const Recipe *r) {
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f) fatal_at(__FILE__, __LINE__, "open_memstream: %m");
    const AugmentSettings *a = &r->augment;
    fprintf(f, "epochs = %d\nwarmup_epochs = %d\nbatch = %d\n", r->epochs, r->warmup_epochs,
            r->batch);
    fprintf(f, "lr = %.17g\nlr_batch = %.17g\nmin_lr = %.17g\nwarmup_lr = %.17g\n", r->lr,
            r->lr_batch, r->min_lr, r->warmup_lr);
    fprintf(f, "lr_epoch_lag = %s\nweight_decay = %.17g\n", r->lr_epoch_lag ? "true" : "false",
            r->weight_decay);
    fprintf(f, "adamw.beta1 = %.17g\nadamw.beta2 = %.17g\nadamw.eps = %.17g\n", r->beta1, r->beta2,
            r->eps);
    fprintf(f, "label_smoothing = %.17g\ndrop_path = %.17g\nclip_grad = %.17g\n",
            r->label_smoothing, r->drop_path, r->clip_grad);
    fprintf(f,
            "mix.mixup_alpha = %.17g\nmix.cutmix_alpha = %.17g\nmix.prob = %.17g\n"
            "mix.switch_prob = %.17g\nmix.mode = %s\n",
            r->mix.mixup_alpha, r->mix.cutmix_alpha, r->mix.prob, r->mix.switch_prob,
            modes[r->mix.mode]);
    fprintf(f, "augment.crop = %s\naugment.pad = %d\naugment.scale_min = %.17g\n", crops[a->crop],
            a->pad, a->scale_min);
    fprintf(f, "augment.flip = %s\naugment.randaugment.ops = %d\n", a->flip ? "true" : "false",
            a->randaugment_ops);
    fprintf(f, "augment.randaugment.magnitude = %.17g\naugment.randaugment.std = %.17g\n",
            a->randaugment_magnitude, a->randaugment_std);
    fprintf(f, "augment.autoaugment.policy = %s\naugment.autoaugment.std = %.17g\n",
            policies[a->autoaugment], a->autoaugment_std);
    fprintf(f, "augment.erasing.prob = %.17g\naugment.erasing.count = %d\n", a->erasing_prob,
            a->erasing_count);
    fprintf(f, "repeated_augmentation = %d\n", r->repeated_augmentation);
    if (fclose(f) != 0) fatal_at(__FILE__, __LINE__, "open_memstream: %m");
    return text;
}

bool recipe_trains_alike(const Recipe *was, const Recipe *now, char *was_line, char *now_line,
                         size_t size) {
    char *a = training_settings(was), *b = training_settings(now);
    const char *x = a, *y = b;
    while (*x && *y) {
        const size_t nx = strcspn(x, "\n"), ny = strcspn(y, "\n");
        if (nx != ny || memcmp(x, y, nx) != 0) {
            snprintf(was_line, size, "%.*s", (int)nx, x);
            snprintf(now_line, size, "%.*s", (int)ny, y);
            break;
        }
        x += nx + 1, y += ny + 1;
    }
    const bool alike = !*x && !*y;
    free(a), free(b);
    return alike;
}
