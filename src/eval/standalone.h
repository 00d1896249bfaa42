#ifndef PRENAS_STANDALONE_H
#define PRENAS_STANDALONE_H

/* A standalone subnet for deployment (method.md §10.2): the slices of §3.4 copied out of the
 * supernet into dense tensors of the subnet's own shapes — blocks l < D only, the q/k/v rows
 * de-interleaved into the standard [q; k; v] order of one [3q, E] matrix — with what running
 * it needs (input size and channels, the training split's normalisation, class names) and
 * what it was chosen on. Stored as model-NAME.h5 (schema prenas.model, docs/artefacts.md);
 * tensors keep the reference's names (`blocks.3.attn.qkv.weight`) at their dense shapes. */

#include "arch.h"
#include "artefact.h"
#include "cost.h"
#include "model.h"
#include "space.h"

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
    Arch arch;
    ArchCost cost;
    Space *space; /* the smallest supernet holding `arch` (its refined space): runs it */
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

/* The dense subnet `arch` of a supernet (`space` is the supernet's). mean/std/classes are
 * left for the caller to fill. */
void standalone_extract(Standalone *s, const Vit *vit, const Arch *arch, const Space *space);
/* A model with the standalone weights in the leading slices of its own supernet; its forward
 * of `s->arch` is the subnet's forward. */
Model *standalone_model(const Backend *be, const Standalone *s, int max_batch);
void standalone_free(Standalone *s);

/* The tensors and attributes into an artefact's file (the caller writes /meta, whose config is
 * s->space's text). */
void standalone_write(hid_t file, const Standalone *s);
/* model-NAME.h5; `artefact` stays open (its /meta: provenance) until artefact_close. */
bool standalone_read(const char *path, Standalone *s, Artefact *artefact, Error *err);

#endif
