#ifndef PRENAS_CNN_SPACE_H
#define PRENAS_CNN_SPACE_H

/* A CNN search space: the BigNAS MBConv space of method.md §13 (PreNAS §4.5, BigNAS Tab. 2)
 * and others of its shape, read from a libconfig file with `family = "cnn";`
 * (configs/spaces/cnn-*.cfg, docs/spaces.md "Writing a CNN space").
 *
 * The network: a stem conv (k x k, stride s, elastic output channels), MBConv stages, a head
 * 1x1 conv (elastic channels), global average pooling and a linear classifier with bias.
 * Every conv but SE's is followed by batch norm, and by the activation (swish, or relu6) unless
 * it is an MBConv projection, which is linear (MobileNetV2). Per stage the architecture chooses one
 * depth, one output width, one kernel size and one expansion ratio, shared by all its layers, as
 * BigNAS and its successors (AttentiveNAS, AlphaNet) sample them; the space gives a stride
 * (applied by the stage's first layer) and whether its layers carry squeeze-and-excitation.
 *
 * An MBConv layer (MobileNetV2 inverted residual, EfficientNet's SE) with input C_in, output
 * C_out, expansion e, kernel k, stride s:
 *     [e > 1] 1x1 conv C_in -> C_mid = e C_in, BN, act     (absent at e = 1, as MobileNetV2)
 *     depthwise k x k conv, stride s, padding k/2, BN, act
 *     [SE]    global pool, 1x1 conv C_mid -> C_se = max(1, C_in / 4) with bias, act,
 *             1x1 conv C_se -> C_mid with bias, sigmoid, channel-wise product (EfficientNet:
 *             SE ratio 0.25 of the layer's input channels)
 *     1x1 conv C_mid -> C_out, BN
 *     [every layer of a stage but its first] + the layer's input (a residual)
 * The residual is structural (OFA, BigNAS): a stage's first layer changes width and stride,
 * the others never do, so which layers add their input never depends on the sampled widths.
 *
 * Elastic widths are the leading channels of the supernet's widest choice (BigNAS); the
 * supernet itself (src/cnn/cnn_net.h) is the largest architecture. Limits (below) keep every
 * cost of every architecture within int64 (src/cnn/cnn_cost.h). */

#include "checksum.h"
#include "error.h"

#include <stdbool.h>
#include <stdint.h>

enum {
    CNN_MAX_STAGES = 12,
    CNN_MAX_CHOICES = 32, /* per list; BigNAS's head has 17 widths (1280..1408 step 8) */
    CNN_MAX_DEPTH = 32,   /* layers per stage */
    CNN_MAX_CHANNELS = 4096,
    CNN_MAX_EXPAND = 8,
    CNN_MAX_KERNEL = 11,
    CNN_MAX_STRIDE = 4,
    CNN_MAX_RESOLUTION = 2048,
    CNN_MAX_IN_CHANNELS = 4, /* as the ViT's: what datasets hold (src/data/dataset) */
    CNN_MAX_GROUPS = 16,     /* FLOPs groups of the preferred set */
};

typedef enum { CNN_SWISH, CNN_RELU6 } CnnActivation;

typedef struct {
    int count;
    int values[CNN_MAX_CHOICES]; /* strictly ascending */
} CnnChoices;

typedef struct {
    CnnChoices expand_ratio; /* whole numbers: C_mid = e C_in exactly */
    CnnChoices kernel;       /* odd: padding k/2 keeps the side at stride 1 */
    CnnChoices channels;     /* output width of every layer of the stage */
    CnnChoices depth;        /* layers */
    int stride;              /* of the stage's first layer */
    bool se;                 /* squeeze-and-excitation in every layer */
} CnnStageSpace;

/* The FLOPs groups of zero-cost selection (method.md §13: PreNAS's CNN constraints 200, 400,
 * 600 and 1000 MFLOPs), from the optional key `groups = { flops = [..]; tolerance = t; };`
 * (millions of FLOPs = MACs, cnn_cost.h): group g holds the architectures whose FLOPs lie in
 * [lo_g, hi_g] = [round(T_g (1 - t) 10^6), round(T_g (1 + t) 10^6)], both ends inclusive. The
 * band is two-sided because the papers' group names are round figures of models on either side
 * (BigNAS-S/M/L/XL: 242, 418, 586, 1040 MFLOPs), and BigNAS's smallest architecture (206.4 M)
 * lies above 200 M, so "at most 200 M" would be empty. t is in [0, 0.5]; the bands must ascend
 * without overlapping (hi_g < lo_{g+1}), so that an architecture is in at most one. */
typedef struct {
    int count; /* 0: the space names none */
    double tolerance;
    double target[CNN_MAX_GROUPS];                  /* MFLOPs as the file gives them */
    int64_t lo[CNN_MAX_GROUPS], hi[CNN_MAX_GROUPS]; /* whole FLOPs */
} CnnGroups;

typedef struct {
    char name[64];
    char source[4096]; /* where the configuration came from (a path), for messages */
    char *text;        /* the configuration text itself, for artefacts' /meta */

    int in_channels, num_classes;
    CnnActivation activation;
    CnnChoices resolution; /* input side in pixels; images are resized to it (bilinear) */
    struct {
        CnnChoices channels;
        int kernel, stride;
    } stem;
    int n_stages;
    CnnStageSpace stages[CNN_MAX_STAGES];
    CnnChoices head_channels; /* the 1x1 conv before pooling */
    CnnGroups groups;
} CnnSpace;

/* Read and validate; NULL and err set (file, line and key named) on any problem. The file
 * must say `family = "cnn";`; unknown keys are refused. */
CnnSpace *cnn_space_load_file(const char *path, Error *err);
/* The same from text; `origin` names it in messages. */
CnnSpace *cnn_space_load_text(const char *text, const char *origin, Error *err);
void cnn_space_free(CnnSpace *space);
/* The space an artefact recorded (its /meta/config text, from `origin`), or, given
 * config_path, that file's space, which must have the same supernet and architectures
 * (cnn_space_same_search; its name and FLOPs groups may differ): else NULL and an input error
 * "<made> for the space '<name>' recorded in <origin>, not for <config_path>". As the ViT's
 * space_recorded. */
CnnSpace *cnn_space_recorded(const char *text, const char *origin, const char *config_path,
                             const char *made, Error *err);
/* Whether two spaces have the same supernet and the same architectures: every list, the
 * strides, SE, the activation, channels and classes (not the name nor the groups). */
bool cnn_space_same_search(const CnnSpace *a, const CnnSpace *b);
/* The digest of what cnn_space_same_search compares, for artefacts' /meta/lineage (lineage.h;
 * the ViT's lineage_space_digest). */
void cnn_space_digest(const CnnSpace *space, char hex[SHA256_HEX_SIZE]);

/* The number of architectures: the product of every list's length (exact below 2^53). */
double cnn_space_count(const CnnSpace *space);
/* Feature-map side after a conv of stride s with padding k/2 (k odd): ceil(side / s). */
int cnn_conv_side(int side, int stride);
const char *cnn_activation_name(CnnActivation activation);
/* The FLOPs group holding `flops` (cnn_cost.h), or -1 when none does. */
int cnn_group_of(const CnnGroups *groups, int64_t flops);

bool cnn_choices_contain(const CnnChoices *choices, int value);
/* "3, 5" for messages and summaries. */
void cnn_choices_format(const CnnChoices *choices, char *buf, size_t size);

#endif
