#ifndef PRENAS_RECIPE_H
#define PRENAS_RECIPE_H

/* A training recipe (method.md §9.3-§9.7; the files in configs/recipes): optimiser, schedule, loss,
 * augmentation, checkpoints. Every setting can be overridden on the command line with
 * `--set key=value`; the resolved text is recorded in the checkpoint's /meta. */

#include "error.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum { CROP_NONE, CROP_PAD, CROP_RANDOM_RESIZED } CropKind;
typedef enum { MIX_ELEM, MIX_BATCH } MixMode;
typedef enum { AUTOAUGMENT_NONE, AUTOAUGMENT_V0R } AutoAugmentPolicy;

typedef struct {
    CropKind crop;
    int pad;          /* CROP_PAD: zero padding on each side before the random crop */
    double scale_min; /* CROP_RANDOM_RESIZED: area fraction range [scale_min, 1] */
    bool flip;
    int randaugment_ops; /* 0: no RandAugment */
    double randaugment_magnitude, randaugment_std;
    AutoAugmentPolicy autoaugment;
    double autoaugment_std; /* magnitude noise of the policy's ops */
    double erasing_prob;
    int erasing_count;
} AugmentSettings;

typedef struct {
    char name[64];
    char source[4096];
    char *text; /* resolved, after --set */

    int epochs, warmup_epochs;
    int batch;           /* global: the ranks split it */
    double lr, lr_batch; /* peak lr = lr * batch / lr_batch (linear scaling) */
    double min_lr, warmup_lr, weight_decay, beta1, beta2, eps;
    bool lr_epoch_lag; /* epoch e trains at the rate scheduled for e - 1 (method.md §9.5) */
    double label_smoothing, drop_path, clip_grad; /* clip_grad 0: none */
    int bn_group; /* a CNN's batch norm in training: images per group (0: each rank's share) */
    struct {
        double mixup_alpha, cutmix_alpha, prob, switch_prob;
        MixMode mode;
    } mix;
    AugmentSettings augment;
    int repeated_augmentation; /* each image this many times per epoch (the reference: 3) */
    int checkpoint_every, checkpoint_keep;
    int eval_every_epochs, eval_batch;
    int eval_max_images; /* 0: the whole split */
    int eval_bn_images;  /* a CNN's BN recalibration set, in batches of eval_batch (evaluate.h) */
    int log_every;
    int max_nonfinite;              /* consecutive skipped steps before giving up */
    const char *device, *precision; /* backend.h's names; --device, --precision override */
} Recipe;

/* One key of a recipe, and all the parser knows about it: reading with its range and default,
 * the unknown-key check of each group, and the resume comparison all walk recipe_keys, so a new
 * key is one entry. */
typedef enum {
    RECIPE_INT,  /* an int field */
    RECIPE_REAL, /* a double field */
    RECIPE_BOOL,
    RECIPE_ENUM, /* one of `names`, stored as its index in an enum field */
    RECIPE_WORD, /* one of `names`, stored as that name (const char *) */
    RECIPE_TEXT  /* any string, into a char array of `max` bytes */
} RecipeKeyKind;

typedef struct {
    const char *path; /* dotted: "augment.randaugment.ops" */
    RecipeKeyKind kind;
    size_t offset;             /* of the field in Recipe */
    double min, max, fallback; /* range; the default (an index for ENUM and WORD) */
    const char *const *names;  /* ENUM and WORD: NULL-terminated */
    bool required;             /* no default: the recipe must give it */
    bool resumable;            /* a resumed run may change it (recipe_trains_alike) */
} RecipeKey;

/* Terminated by an entry with a NULL path. */
extern const RecipeKey recipe_keys[];
/* A key's value in `recipe` as text, as recipe_trains_alike shows it: reals to the last bit. */
void recipe_key_value(const RecipeKey *key, const Recipe *recipe, char *text, size_t size);

Recipe *recipe_load(const char *path, const char *const *sets, int n_sets, Error *err);
/* The same from a recipe's text (a checkpoint's /meta/config); `origin` names it in errors. */
Recipe *recipe_parse(const char *text, const char *origin, const char *const *sets, int n_sets,
                     Error *err);
void recipe_free(Recipe *recipe);
double recipe_peak_lr(const Recipe *recipe);
/* Whether mixup or cutmix is on (an alpha > 0): then samples are mixed in pairs (data/mix.h). */
bool recipe_mixes(const Recipe *recipe);
/* Whether a run with `now` trains every step as one with `was` would: all settings but the
 * resumable ones, which only decide where it runs and what is saved or reported. When not, the
 * first differing setting as "key = value" of each (reals to the last bit). */
bool recipe_trains_alike(const Recipe *was, const Recipe *now, char *was_line, char *now_line,
                         size_t size);

#endif
