#ifndef PRENAS_PREDICT_H
#define PRENAS_PREDICT_H

/* Predictions of a standalone model (model-NAME.h5, src/eval/standalone.h) for prenas-predict:
 * each image's k most probable classes (softmax of the logits) as CSV rows, and top-1 / top-5
 * counts where labels are known. Images come from a split of dataset.h5 or from JPEG/PNG files,
 * which are converted exactly as prenas-pack converts a folder (image_load: centre square,
 * resize, channels), then normalised with the model's mean / std.
 *
 * Ranks share the images as contiguous ranges (comm_share); predictor_gather puts every rank's
 * rows on rank 0 in input order. Logits depend on the batch only through rounding (the matrix
 * products of other batch sizes may sum in another order). */

#include "comm.h"
#include "dataset.h"
#include "model.h"
#include "standalone.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    int64_t images;     /* predicted */
    int64_t failed;     /* input files skipped (unreadable, not an image, damaged) */
    int64_t labelled;   /* predicted images with a label */
    int64_t top1, top5; /* labelled images whose label is among the 1 / 5 highest logits */
    int64_t nonfinite;  /* images with a NaN or infinite logit (never correct) */
} PredictCounts;

typedef struct {
    const Standalone *standalone;
    Model *model;
    ImageShape shape; /* the images the model takes, and its classes */
    int batch, top_k;
    bool labelled;   /* rows have a label column */
    uint8_t *pixels; /* [batch, H, W, C] */
    real *input;     /* [batch, C, H, W], normalised */
    int *labels;     /* [batch] */
    double *probs;   /* [classes]: one image's softmax */
    int *order;      /* [classes]: classes by falling probability, the first top_k sorted */
    FILE *rows;      /* this rank's CSV rows (an open_memstream) */
    char *rows_text;
    size_t rows_size;
    FILE *failures; /* this rank's lines about skipped files, as they go to stderr */
    char *failures_text;
    size_t failures_size;
    PredictCounts counts;
} Predictor;

/* For batches of up to `batch` images; top_k is lowered to the class count. `labelled`: the
 * rows will carry labels (a dataset split). False with err set when the backend cannot run the
 * model's family (standalone_model). */
bool predictor_init(Predictor *p, const Backend *be, const Standalone *s, int batch, int top_k,
                    bool labelled, Error *err);
void predictor_free(Predictor *p);

/* Whether the dataset holds what the model (read from model_path) takes: image size, channels,
 * and the same classes (count and names, so that labels mean what the model's outputs mean). */
bool predict_check_dataset(const Standalone *s, const char *model_path, const DatasetFile *data,
                           Error *err);

/* This rank's share of the split's images; rows name them "split:index". An input error when
 * the file has no such split or cannot be read. */
bool predict_split(Predictor *p, DatasetFile *data, const char *split, const Comm *comm,
                   Error *err);
/* This rank's share of the files; a file that cannot be loaded is skipped and counted, with a
 * line naming it and why among the failures. */
void predict_files(Predictor *p, char *const *paths, int n, const Comm *comm);

typedef struct {
    char *csv;            /* header and every row, in input order (rank 0; NULL elsewhere) */
    char *failures;       /* every failure line, in input order (rank 0; NULL elsewhere) */
    PredictCounts counts; /* summed over ranks (every rank) */
} Predictions;

/* Collective. */
void predictor_gather(Predictor *p, const Comm *comm, Predictions *out);
void predictions_free(Predictions *out);

#endif
