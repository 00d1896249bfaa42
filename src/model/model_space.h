#ifndef PRENAS_MODEL_SPACE_H
#define PRENAS_MODEL_SPACE_H

/* A search space of either family (model_family.h) from its file or an artefact, the digest of
 * it that artefacts record, and whether a dataset suits it: what needs libconfig, OpenSSL and
 * HDF5, apart from the in-memory interface of model_family.h. */

#include "checksum.h"
#include "dataset.h"
#include "error.h"
#include "model_family.h"

#include <stdbool.h>

/* A space of either family from a file or an artefact's /meta/config text (origin names it);
 * false and err set as the family's own loader sets it. */
bool model_space_load_file(const char *path, ModelSpace *space, Error *err);
bool model_space_load_text(const char *text, const char *origin, ModelSpace *space, Error *err);
/* Frees a loaded space (not a model_space_of_vit view). */
void model_space_free(ModelSpace *space);
/* The digest lineage.h records for the space (lineage_space_digest, cnn_space_digest). */
void model_space_digest(const ModelSpace *space, char hex[SHA256_HEX_SIZE]);
/* Whether the dataset's images suit the space: the ViT's must have its image size, channels and
 * classes (dataset_fits_space); the CNN resizes its input to each architecture's resolution, so
 * only the channels and classes must match. An input error naming both files otherwise. */
bool model_space_fits_dataset(const ModelSpace *space, const DatasetFile *data, Error *err);

#endif
