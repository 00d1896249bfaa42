#ifndef PRENAS_STANDALONE_H
#define PRENAS_STANDALONE_H

/* A standalone subnet for deployment (method.md §10.2): its tensors copied out of the
 * supernet into dense tensors of the subnet's own shapes, with what running it needs (input
 * size and channels, the training split's normalisation, class names) and what it was chosen
 * on. Stored as model-NAME.h5 (schema prenas.model, docs/artefacts.md); tensors keep the
 * supernet's names at their dense shapes. Per family:
 *   ViT: the slices of §3.4, blocks l < D only, the q/k/v rows de-interleaved into the standard
 *        [q; k; v] order of one [3q, E] matrix (`blocks.3.attn.qkv.weight`); /meta/config is the
 *        refined space holding just the architecture (space_refine), which runs it;
 *   CNN: the views of cnn_net.h (first layers, leading channels, centred kernel crops:
 *        cnn_subnet_copy) and, as PyTorch's state_dict keeps them, each batch norm's running
 *        statistics (`stages.2.0.depthwise.bn.running_mean`, `...running_var`): those BigNAS's
 *        recalibration gave this subnet (method.md §13), so the model evaluates as the supernet
 *        did after recalibrating it; /meta/config is the search space, and the network that runs
 *        it is the space narrowed to the architecture (cnn_space_narrow). Its input is images of
 *        the training dataset's side, resized to the architecture's resolution inside the
 *        model, as in training and evaluation. */

#include "artefact.h"
#include "model.h"
#include "model_family.h"

#include <hdf5.h>
#include <stdbool.h>
#include <stdint.h>

#define MODEL_SCHEMA "prenas.model"
enum { MODEL_SCHEMA_VERSION = 1, STANDALONE_MAX_CHANNELS = 4 };

typedef struct {
    char name[80];
    int ndim;
    int64_t shape[4];
    size_t count;
    real *data; /* row-major, owned */
} DenseTensor;

typedef struct {
    ModelArch arch;
    ModelCost cost;
    ModelSpace space; /* owned: the ViT's refined space, the CNN's search space (above) */
    int image_size;   /* the side of the images it takes (the CNN resizes them: above) */
    int channels;
    int n_tensors;
    DenseTensor *tensors;
    double mean[STANDALONE_MAX_CHANNELS], std[STANDALONE_MAX_CHANNELS]; /* input normalisation */
    int n_classes;
    char **class_names;
    /* why it was chosen (informational) */
    char chosen_by[128]; /* e.g. "val top-1 (eval.h5)" or "preferred ranking (Eq. 12)" */
    char split[16];      /* the split of `top1`; "" when chosen without accuracy */
    double top1;         /* NaN when chosen without accuracy */
} Standalone;

/* The dense subnet `arch` of a supernet `model` of `space` (its search space); a CNN's BN
 * statistics must be the ones model_recalibrate gathered for `arch` (checked: a fatal error
 * otherwise). mean/std/classes are left for the caller to fill. */
void standalone_extract(Standalone *s, const Model *model, const ModelArch *arch,
                        const ModelSpace *space);
/* A model that runs the standalone subnet: its weights in the leading slices of the ViT's
 * refined supernet, or the whole of the CNN's narrowed one with its BN statistics adopted
 * (model_adopt_bn_statistics); its evaluation forward of `s->arch` is the subnet's. For images
 * of s->image_size. NULL with err set when the backend lacks the family's ops. */
Model *standalone_model(const Backend *be, const Standalone *s, int max_batch, Error *err);
void standalone_free(Standalone *s);

/* The tensors and attributes into an artefact's file (the caller writes /meta, whose config is
 * model_space_text(&s->space)). */
void standalone_write(hid_t file, const Standalone *s);
/* model-NAME.h5; `artefact` stays open (its /meta: provenance) until artefact_close. */
bool standalone_read(const char *path, Standalone *s, Artefact *artefact, Error *err);

#endif
