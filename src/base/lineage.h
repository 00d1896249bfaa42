#ifndef PRENAS_LINEAGE_H
#define PRENAS_LINEAGE_H

/* Inputs of one run, not of two: every artefact records the search space of its run and the
 * classes of its data (/meta/lineage, Lineage in artefact.h) as digests, and a stage given
 * two inputs compares them, so that a preferred.h5 selected in one space never trains a
 * supernet for another and a dataset of other classes never evaluates a supernet. Where a
 * digest is unknown (files written before they were recorded, a supernet converted by
 * tools/torch2h5.py, data-free scores) there is nothing to compare, and the pair passes.
 * Each refusal is one input error naming both files and the two digests. */

#include "artefact.h"
#include "dataset.h"
#include "space.h"

/* One side of a comparison: the file, its schema (which says how it came by its lineage:
 * "was trained on", "holds") and its lineage. */
typedef struct {
    char path[ARTEFACT_PATH_MAX];
    char schema[64];
    Lineage lineage;
} LineageOf;

/* The digest of a search space: its supernet and its subnets, as space_same_search compares
 * them (name, data-free statistics and intervals left out). */
void lineage_space_digest(const Space *space, char hex[SHA256_HEX_SIZE]);
/* A dataset's: its classes (how many, their names in label order) from what it holds. */
LineageOf lineage_of_dataset(const DatasetFile *data);
/* What the artefact at PATH records (a dataset: what it holds). */
bool lineage_load(const char *path, LineageOf *out, Error *err);

/* Input errors when both digests are known and differ, e.g. "B/preferred.h5 was selected in
 * another search space than A/supernet.h5 was trained in (space 1a2b... vs 3c4d...)". */
bool lineage_same_space(const LineageOf *a, const LineageOf *b, Error *err);
bool lineage_same_classes(const LineageOf *a, const LineageOf *b, Error *err);
/* Both, for two artefacts by path (prenas-analyze's eval.h5 and scores.h5). */
bool lineage_same_run(const char *a, const char *b, Error *err);

/* prenas-score's: the space, and the data's classes when it scores on data (NULL: none). */
void lineage_of_scores(const Space *space, const DatasetFile *data, Lineage *out);
/* prenas-train's: --preferred (when given) must have been selected on scores of --data's
 * classes (when it was scored on data); the supernet's lineage is the search space (its digest,
 * model_space_digest) and the data's classes. */
bool lineage_of_training(const char space_digest[SHA256_HEX_SIZE], const char *preferred,
                         const DatasetFile *data, Lineage *out, Error *err);
/* A trained supernet run on a dataset (prenas-evaluate, -search, -specialize): the dataset must
 * hold the classes the supernet was trained on; what the stage writes has the supernet's space
 * and the data's classes. */
bool lineage_of_supernet_on(const char *supernet, const DatasetFile *data, Lineage *out,
                            Error *err);

#endif
