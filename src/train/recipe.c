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

#define AT(field) offsetof(Recipe, field)

_Static_assert(sizeof(CropKind) == sizeof(int) && sizeof(MixMode) == sizeof(int) &&
                   sizeof(AutoAugmentPolicy) == sizeof(int),
               "RECIPE_ENUM stores an int index");

/* In the order of the shipped recipes: lists of known keys and the resume check follow it. The
 * defaults are the reference's (method.md §9.6 notes), so a recipe states what differs. Resumable,
 * because they only decide where and how the same products run or what is saved and reported
 * (docs/cli.md): name (a label), device and precision (as the rank count), checkpoint.*, eval.*,
 * log.* and max_nonfinite (only when a failing run gives up). Left unmarked, a key is compared. */
const RecipeKey recipe_keys[] = {
    {"name", RECIPE_TEXT, AT(name), 0, sizeof((Recipe *)0)->name, .resumable = true},
    {"epochs", RECIPE_INT, AT(epochs), 1, 1000000, .required = true},
    {"warmup_epochs", RECIPE_INT, AT(warmup_epochs), 0, 1000000, .fallback = 20},
    {"batch", RECIPE_INT, AT(batch), 1, 1 << 24, .required = true},
    {"lr", RECIPE_REAL, AT(lr), 0, 10, .required = true},
    {"lr_batch", RECIPE_REAL, AT(lr_batch), 1, 1 << 24, .fallback = 512},
    {"min_lr", RECIPE_REAL, AT(min_lr), 0, 10, .fallback = 1e-5},
    {"warmup_lr", RECIPE_REAL, AT(warmup_lr), 0, 10, .fallback = 1e-6},
    {"lr_epoch_lag", RECIPE_BOOL, AT(lr_epoch_lag), .fallback = true},
    {"weight_decay", RECIPE_REAL, AT(weight_decay), 0, 10, .fallback = 0.05},
    {"adamw.beta1", RECIPE_REAL, AT(beta1), 0, 0.999999, .fallback = 0.9},
    {"adamw.beta2", RECIPE_REAL, AT(beta2), 0, 0.999999, .fallback = 0.999},
    {"adamw.eps", RECIPE_REAL, AT(eps), 0, 1, .fallback = 1e-8},
    {"bn_group", RECIPE_INT, AT(bn_group), 0, 65536, .fallback = 0},
    {"label_smoothing", RECIPE_REAL, AT(label_smoothing), 0, 0.99, .fallback = 0.1},
    {"drop_path", RECIPE_REAL, AT(drop_path), 0, 0.99, .fallback = 0.1},
    {"clip_grad", RECIPE_REAL, AT(clip_grad), 0, 1e9, .fallback = 0},
    {"mix.mixup_alpha", RECIPE_REAL, AT(mix.mixup_alpha), 0, 100, .fallback = 0.8},
    {"mix.cutmix_alpha", RECIPE_REAL, AT(mix.cutmix_alpha), 0, 100, .fallback = 1.0},
    {"mix.prob", RECIPE_REAL, AT(mix.prob), 0, 1, .fallback = 1.0},
    {"mix.switch_prob", RECIPE_REAL, AT(mix.switch_prob), 0, 1, .fallback = 0.5},
    {"mix.mode", RECIPE_ENUM, AT(mix.mode), .fallback = MIX_ELEM, .names = modes},
    {"augment.crop", RECIPE_ENUM, AT(augment.crop), .fallback = CROP_RANDOM_RESIZED,
     .names = crops},
    {"augment.pad", RECIPE_INT, AT(augment.pad), 0, 1024, .fallback = 4},
    {"augment.scale_min", RECIPE_REAL, AT(augment.scale_min), 0.01, 1, .fallback = 0.08},
    {"augment.flip", RECIPE_BOOL, AT(augment.flip), .fallback = true},
    {"augment.randaugment.ops", RECIPE_INT, AT(augment.randaugment_ops), 0, 16, .fallback = 2},
    {"augment.randaugment.magnitude", RECIPE_REAL, AT(augment.randaugment_magnitude), 0, 10,
     .fallback = 9},
    {"augment.randaugment.std", RECIPE_REAL, AT(augment.randaugment_std), 0, 10, .fallback = 0.5},
    {"augment.autoaugment.policy", RECIPE_ENUM, AT(augment.autoaugment),
     .fallback = AUTOAUGMENT_NONE, .names = policies},
    {"augment.autoaugment.std", RECIPE_REAL, AT(augment.autoaugment_std), 0, 10, .fallback = 0.5},
    {"augment.erasing.prob", RECIPE_REAL, AT(augment.erasing_prob), 0, 1, .fallback = 0.25},
    {"augment.erasing.count", RECIPE_INT, AT(augment.erasing_count), 1, 16, .fallback = 1},
    {"repeated_augmentation", RECIPE_INT, AT(repeated_augmentation), 1, 64, .fallback = 1},
    {"checkpoint.every_steps", RECIPE_INT, AT(checkpoint_every), 1, 1 << 30, .fallback = 1000,
     .resumable = true},
    {"checkpoint.keep", RECIPE_INT, AT(checkpoint_keep), 1, 1000, .fallback = 2, .resumable = true},
    {"eval.every_epochs", RECIPE_INT, AT(eval_every_epochs), 0, 1000000, .fallback = 1,
     .resumable = true},
    {"eval.batch", RECIPE_INT, AT(eval_batch), 1, 65536, .fallback = 256, .resumable = true},
    {"eval.max_images", RECIPE_INT, AT(eval_max_images), 0, 1 << 30, .resumable = true},
    {"eval.bn_images", RECIPE_INT, AT(eval_bn_images), 1, 1 << 30, .fallback = 2000,
     .resumable = true},
    {"log.every_steps", RECIPE_INT, AT(log_every), 1, 1 << 30, .fallback = 50, .resumable = true},
    {"max_nonfinite", RECIPE_INT, AT(max_nonfinite), 1, 1000000, .fallback = 20, .resumable = true},
    {"device", RECIPE_WORD, AT(device), .names = devices, .resumable = true},
    {"precision", RECIPE_WORD, AT(precision), .names = precisions, .resumable = true},
    {.path = NULL}};

/* Unknown keys, group by group: the group at `prefix` ("" or "augment.") may hold the next
 * component of each table path under it. Members that are groups the table does not expect
 * are left to reading, which names the type it wants. */
static bool known_keys(CfgReader *c, const config_setting_t *group, const char *prefix) {
    enum { N = sizeof recipe_keys / sizeof recipe_keys[0] }; /* enough for any group */
    char names[N][32];
    const char *allowed[N + 1];
    int n = 0;
    const size_t length = strlen(prefix);
    for (const RecipeKey *k = recipe_keys; k->path; k++) {
        if (strncmp(k->path, prefix, length) != 0) continue;
        const char *rest = k->path + length;
        snprintf(names[n], sizeof names[n], "%.*s", (int)strcspn(rest, "."), rest);
        bool seen = false;
        for (int i = 0; i < n && !seen; i++) seen = strcmp(allowed[i], names[n]) == 0;
        if (!seen) allowed[n] = names[n], n++;
    }
    allowed[n] = NULL;
    if (n == 0) return true;
    if (!cfg_check_keys(c, group, allowed)) return false;
    for (int i = 0; i < config_setting_length(group); i++) {
        const config_setting_t *member = config_setting_get_elem(group, (unsigned)i);
        char sub[128];
        snprintf(sub, sizeof sub, "%s%s.", prefix, config_setting_name(member));
        if (config_setting_is_group(member) && !known_keys(c, member, sub)) return false;
    }
    return true;
}

/* The group that holds a key's last component (*leaf): NULL when a group on the way is absent
 * (the key keeps its default) or is not a group (err says so). */
static const config_setting_t *holder(CfgReader *c, const config_setting_t *root, const char *path,
                                      const char **leaf) {
    const config_setting_t *group = root;
    const char *dot;
    for (*leaf = path; group && (dot = strchr(*leaf, '.')); *leaf = dot + 1) {
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(dot - *leaf), *leaf);
        group = cfg_group_or(c, group, name);
    }
    return group;
}

/* Sets the key's default, then the group's value if it has one. */
static bool read_key(CfgReader *c, const config_setting_t *group, const char *leaf,
                     const RecipeKey *k, Recipe *r) {
    void *field = (char *)r + k->offset;
    int *integer = field, choice = (int)k->fallback;
    double *real = field;
    bool *boolean = field, ok;
    switch (k->kind) {
    case RECIPE_INT:
        *integer = (int)k->fallback;
        return k->required ? cfg_int(c, group, leaf, (int)k->min, (int)k->max, integer)
                           : cfg_int_or(c, group, leaf, (int)k->min, (int)k->max, integer);
    case RECIPE_REAL:
        *real = k->fallback;
        return k->required ? cfg_real(c, group, leaf, k->min, k->max, real)
                           : cfg_real_or(c, group, leaf, k->min, k->max, real);
    case RECIPE_BOOL:
        *boolean = k->fallback != 0;
        return cfg_bool_or(c, group, leaf, boolean);
    case RECIPE_ENUM:
        ok = cfg_choice_or(c, group, leaf, k->names, &choice);
        memcpy(field, &choice, sizeof choice);
        return ok;
    case RECIPE_WORD:
        ok = cfg_choice_or(c, group, leaf, k->names, &choice);
        *(const char **)field = k->names[choice];
        return ok;
    case RECIPE_TEXT:
        return cfg_text_or(c, group, leaf, field, (size_t)k->max);
    }
    return false;
}

static bool read_recipe(CfgReader *c, const config_setting_t *root, Recipe *r) {
    bool ok = known_keys(c, root, "");
    for (const RecipeKey *k = recipe_keys; ok && k->path; k++) {
        const char *leaf;
        const config_setting_t *group = holder(c, root, k->path, &leaf);
        ok = c->err->code == 0 && read_key(c, group, leaf, k, r);
    }
    if (ok && r->warmup_epochs >= r->epochs && r->warmup_epochs > 0)
        ok = cfg_fail(c, config_setting_get_member(root, "warmup_epochs"),
                      "%d warm-up epochs for %d epochs", r->warmup_epochs, r->epochs);
    if (ok && r->augment.autoaugment != AUTOAUGMENT_NONE && r->augment.randaugment_ops > 0)
        ok = cfg_fail(c, config_setting_get_member(root, "augment"),
                      "randaugment.ops = %d and autoaugment.policy = \"%s\": choose one "
                      "(set randaugment.ops = 0 or the policy to \"none\")",
                      r->augment.randaugment_ops, policies[r->augment.autoaugment]);
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

void recipe_key_value(const RecipeKey *k, const Recipe *r, char *text, size_t size) {
    const void *field = (const char *)r + k->offset;
    int choice;
    switch (k->kind) {
    case RECIPE_INT:
        snprintf(text, size, "%d", *(const int *)field);
        break;
    case RECIPE_REAL:
        snprintf(text, size, "%.17g", *(const double *)field);
        break;
    case RECIPE_BOOL:
        snprintf(text, size, "%s", *(const bool *)field ? "true" : "false");
        break;
    case RECIPE_ENUM:
        memcpy(&choice, field, sizeof choice);
        snprintf(text, size, "%s", k->names[choice]);
        break;
    case RECIPE_WORD:
        snprintf(text, size, "%s", *(const char *const *)field);
        break;
    case RECIPE_TEXT:
        snprintf(text, size, "%s", (const char *)field);
        break;
    }
}

bool recipe_trains_alike(const Recipe *was, const Recipe *now, char *was_line, char *now_line,
                         size_t size) {
    for (const RecipeKey *k = recipe_keys; k->path; k++) {
        char a[128], b[128];
        if (k->resumable) continue;
        recipe_key_value(k, was, a, sizeof a);
        recipe_key_value(k, now, b, sizeof b);
        if (strcmp(a, b) != 0) {
            snprintf(was_line, size, "%s = %s", k->path, a);
            snprintf(now_line, size, "%s = %s", k->path, b);
            return false;
        }
    }
    return true;
}
