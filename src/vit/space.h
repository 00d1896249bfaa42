#ifndef PRENAS_SPACE_H
#define PRENAS_SPACE_H

/* A ViT search space (method.md §5): the supernet's shape and the choices its subnets may
 * take, read from a libconfig file (configs/spaces/). Two forms share one representation:
 *  - `choices`: one list per dimension, the same for every width and layer (the reference's
 *    supernet-{T,S,B}.yaml); the isomer enumeration of §8.2 applies to this form only;
 *  - `widths`: per embedding width, its depths and per-layer head / MLP-ratio lists (the
 *    refined "preferred" space of §5.3, the reference's {tiny,small,base}.yaml). */

#include "error.h"

#include <stdbool.h>
#include <stdint.h>

enum { SPACE_MAX_DEPTH = 64, SPACE_MAX_CHOICES = 16, SPACE_MAX_CHANNELS = 4 };

typedef struct {
    int count;
    int values[SPACE_MAX_CHOICES]; /* strictly ascending */
} ChoiceList;

typedef struct {
    int embed_dim;
    ChoiceList depths;
    int n_layers; /* = the largest depth: per-layer lists exist for layers [0, n_layers) */
    ChoiceList num_heads[SPACE_MAX_DEPTH];
    ChoiceList mlp_ratio[SPACE_MAX_DEPTH]; /* thousandths: 3500 is 3.5 */
} SpaceWidth;

typedef struct {
    int embed_dim, depth, num_heads;
    int mlp_ratio; /* thousandths */
} SupernetShape;

typedef struct {
    bool present;
    int64_t min, max, width; /* whole units; intervals [min + k*width, min + (k+1)*width) */
} IntervalSpec;

typedef struct {
    char name[64];
    char source[4096]; /* where the configuration came from (a path), for messages */
    char *text;        /* the configuration text itself, recorded in artefacts' /meta */

    int image_size, patch_size, in_channels, num_classes, head_dim, max_relative_position;
    bool class_token_pooling; /* `pooling = "class"`; the default "mean" is the reference's --gp */
    SupernetShape supernet;

    bool uniform; /* the `choices` form: `choices` below hold for every width and layer */
    struct {
        ChoiceList embed_dim, depth, num_heads, mlp_ratio;
    } choices;
    int n_widths; /* in configuration order, the order of the enumeration */
    SpaceWidth widths[SPACE_MAX_CHOICES];

    double data_free_mean[SPACE_MAX_CHANNELS], data_free_std[SPACE_MAX_CHANNELS];
    /* resource intervals of the preferred space: parameters (required, millions in the file),
     * and optionally the reference's FLOPs or MACs (G in the file) */
    IntervalSpec param_intervals, flops_intervals, macs_intervals;
} Space;

/* Read and validate; NULL and err set (file, line and key named) on any problem. */
Space *space_load_file(const char *path, Error *err);
/* The same from text (e.g. the copy kept in an artefact); `origin` names it in messages. */
Space *space_load_text(const char *text, const char *origin, Error *err);
void space_free(Space *space);

int space_grid_side(const Space *space);                          /* image_size / patch_size */
int space_num_patches(const Space *space);                        /* grid side squared */
int space_num_tokens(const Space *space);                         /* patches + the class token */
const SpaceWidth *space_width(const Space *space, int embed_dim); /* NULL if not a choice */

/* Whether two spaces define the same supernet: the same tensors at the same shapes, so that
 * one's weights serve the other (their choices may differ). */
bool space_same_supernet(const Space *a, const Space *b);
/* Whether two spaces define the same supernet and the same subnets (names, data-free
 * statistics and intervals may differ). */
bool space_same_search(const Space *a, const Space *b);

/* The space an artefact records (`text`, read from `origin`), or the one of `config_path` when
 * given, which must define the same search; otherwise an input error that says what the
 * artefact was `made` for: "<made> for the space 'x' recorded in <origin>, not for <config>"
 * (made: "the scores were computed", "the supernet was trained"). */
Space *space_recorded(const char *text, const char *origin, const char *config_path,
                      const char *made, Error *err);

/* The configuration text of a space (either form); loading it gives the same space back. */
char *space_format(const Space *space);

struct Arch;
/* The refined space of a list of architectures (method.md §5.3, the reference's
 * candidates_to_choices): their widths, per width the depths and per layer the head counts
 * and MLP ratios they use, and the smallest supernet holding them (embed_dim = head_dim x
 * heads, the most heads any uses or more where a candidate is wider; docs/spaces.md);
 * everything else (input, head dim, data-free statistics, intervals) is taken from `base`. */
Space *space_refine(const Space *base, const struct Arch *archs, int n_archs, const char *name);

/* "3, 4" or "3.5, 4" (thousandths) for messages and summaries. */
void choice_list_format(const ChoiceList *list, bool milli, char *buf, size_t size);
bool choice_list_contains(const ChoiceList *list, int value);

#endif
