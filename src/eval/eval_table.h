#ifndef PRENAS_EVAL_TABLE_H
#define PRENAS_EVAL_TABLE_H

/* The evaluation table (method.md §10.1): per architecture its exact cost (§4), its accuracy
 * with inherited weights on one split, and its measured latency. Stored as eval.h5 (schema
 * prenas.eval, docs/artefacts.md), and written for people as CSV and Markdown. */

#include "artefact.h"
#include "evaluate.h"
#include "latency.h"
#include "model_family.h"

#include <hdf5.h>
#include <stdbool.h>
#include <stdio.h>

#define EVAL_SCHEMA "prenas.eval"
enum { EVAL_SCHEMA_VERSION = 1 };

typedef struct {
    ModelArch arch; /* of either family: one table holds one family's */
    ModelCost cost;
    bool preferred; /* one of the supernet's trained (preferred) architectures */
    int interval;   /* preferred.h5's interval index; -1 none */
    double score;   /* the ranking proxy's score; NaN none */
    EvalResult result;
    Latency latency[2]; /* batch 1, batch latency_batch */
} EvalRow;

typedef struct EvalTable {
    char split[16]; /* the dataset split of every accuracy: "val" or "test" */
    int n;
    EvalRow *rows;
    int latency_batch, latency_repeats, latency_threads; /* repeats 0: no latency */
    char latency_device[64];                             /* "cpu" */
    /* a CNN's BN recalibration set (evaluate.h Calibration: its images and batch), so that
     * prenas-specialize exports the statistics the accuracies were measured with; 0 for a ViT */
    int64_t bn_images;
    int bn_batch;
} EvalTable;

/* Rows for architectures (accuracy and latency still empty); interval/score may be NULL. */
EvalTable eval_table_new(const ModelArch *archs, int n, const int *interval, const double *score,
                         bool preferred, const ModelSpace *space);
void eval_table_free(EvalTable *table);

/* Rows in ascending params order (then the canonical string): for reading. */
int *eval_table_order(const EvalTable *table);

/* The one-screen table for a terminal (and the key=value lines of a log with a prefix). */
void eval_table_print(FILE *out, const EvalTable *table);
void eval_table_log(FILE *log, const char *prefix, const EvalTable *table);

/* eval.h5's datasets and attributes (the caller writes /meta). */
void eval_table_write(hid_t file, const EvalTable *table);
/* eval.h5: the table and the artefact (its /meta: provenance), open until artefact_close. */
bool eval_table_read(const char *path, EvalTable *table, Artefact *artefact, Error *err);
/* Text forms, written atomically. */
bool eval_table_write_csv(const char *path, const EvalTable *table, Error *err);
bool eval_table_write_markdown(const char *path, const EvalTable *table, Error *err);

#endif
