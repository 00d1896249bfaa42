#ifndef PRENAS_MODEL_FAMILY_H
#define PRENAS_MODEL_FAMILY_H

/* The model families behind one interface (docs/design.md §8): a search space and an
 * architecture tagged with their family (the ViT of src/vit, the MBConv CNN of src/cnn), and what
 * training, its sampler, its checkpoints and its monitoring ask of them. Code outside the
 * families' own folders reads no family's fields: it goes through these functions, which
 * dispatch on the tag. A space's family is its file's `family` key (family.h). Loading a space,
 * its digest and its fit to a dataset are model_space.h's: this file and the families' engine
 * code build without libconfig, HDF5 and OpenSSL (tests/device/CMakeLists.txt). */

#include "arch.h"
#include "cnn_arch.h"
#include "cnn_space.h"
#include "family.h"
#include "rng.h"
#include "space.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    ModelFamily family;
    Space *vit;    /* FAMILY_VIT; NULL otherwise */
    CnnSpace *cnn; /* FAMILY_CNN; NULL otherwise */
} ModelSpace;

typedef struct {
    ModelFamily family;
    union {
        Arch vit;
        CnnArch cnn;
    };
} ModelArch;

/* The longer of the two text forms (arch.h, cnn_arch.h), with its terminator. */
enum {
    MODEL_ARCH_TEXT_MAX =
        (int)ARCH_TEXT_MAX > (int)CNN_ARCH_TEXT_MAX ? (int)ARCH_TEXT_MAX : (int)CNN_ARCH_TEXT_MAX
};

/* "ViT" or "CNN", for messages. */
const char *model_family_name(ModelFamily family);
/* A view of a ViT space the caller keeps owning, for the interface: never model_space_free it. */
ModelSpace model_space_of_vit(const Space *space);
const char *model_space_name(const ModelSpace *space);
const char *model_space_text(const ModelSpace *space); /* the configuration text */
/* Same family, same supernet and architectures (space_same_search, cnn_space_same_search). */
bool model_space_same_search(const ModelSpace *a, const ModelSpace *b);

ModelArch model_arch_of_vit(const Arch *arch);
/* Parsed in the family's text form and checked against the space: false with the family's
 * one-line error otherwise. */
bool model_arch_parse(const char *text, const ModelSpace *space, ModelArch *arch, Error *err);
/* Whether the space allows it (arch_check, cnn_arch_check): the family's one-line error
 * otherwise. */
bool model_arch_check(const ModelArch *arch, const ModelSpace *space, Error *err);
/* An architecture an artefact stores, in `family`'s text form, checked against `space` when it
 * is given (NULL: syntax only); the error names the file `path`. */
bool model_arch_read_stored(const char *text, ModelFamily family, const ModelSpace *space,
                            const char *path, ModelArch *arch, Error *err);
void model_arch_format(const ModelArch *arch, char *buf, size_t size);
bool model_arch_equal(const ModelArch *a, const ModelArch *b);
/* An architecture's exact cost: params (PyTorch's count), FLOPs and the matrix products' or
 * convolutions' multiply-accumulates. FLOPs are the ViT's reference count (arch_cost's
 * flops_ref, method.md §4.3) and the CNN papers' FLOPs (= MACs, cnn_cost.h). */
typedef struct {
    int64_t params, flops, macs;
} ModelCost;
ModelCost model_arch_cost(const ModelArch *arch, const ModelSpace *space);
/* model_arch_cost's params: the monitored subnets are the extremes. */
int64_t model_arch_params(const ModelArch *arch, const ModelSpace *space);
/* Every choice at its smallest / largest. */
void model_arch_smallest(const ModelSpace *space, ModelArch *arch);
void model_arch_largest(const ModelSpace *space, ModelArch *arch);
/* A uniformly random architecture of the space (arch_sample, cnn_arch_sample). */
void model_arch_sample(const ModelSpace *space, Rng *rng, ModelArch *arch);
/* Whether balanced sampling (sampler.h) puts the two in one group:
 *   ViT: the same (embed dim, depth), PreNAS's isomer groups (method.md §9.1);
 *   CNN: the same resolution and widths (stem, every stage's, head). Kernel, depth and
 *        expansion vary inside a group, as heads and MLP ratios do inside a ViT's: the widths
 *        and the resolution fix which rows of the shared tensors a subnet trains and the size of
 *        its feature maps, hence its batch statistics, so each such shape gets an equal share of
 *        the steps however many of its variants the selection kept. */
bool model_arch_same_group(const ModelArch *a, const ModelArch *b);

#endif
