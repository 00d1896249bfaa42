#ifndef PRENAS_DATASET_H
#define PRENAS_DATASET_H

/* dataset.h5 (schema "prenas.dataset", docs/artefacts.md): images as uint8 [N, H, W, C] and
 * int32 labels per split ("train", "val", "test"), class names, and per-split per-channel
 * mean / std of the pixels scaled to [0, 1]. Splits are explicit: training reads "train"
 * only, selection and evaluation read "val", final reports read "test". */

#include "artefact.h"
#include "error.h"
#include "real.h"
#include "space.h"

#include <hdf5.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define DATASET_SCHEMA "prenas.dataset"
enum { DATASET_SCHEMA_VERSION = 1, DATASET_MAX_SPLITS = 3, DATASET_MAX_CHANNELS = 4 };
/* as many classes as a search space may have (its num_classes, src/vit/space.c) */
enum { DATASET_MAX_CLASSES = 1 << 20 };

typedef struct {
    int height, width, channels, num_classes;
} ImageShape;

/* ---- writing, split by split, in one or many slabs of rows ---- */

/* The root attributes and /classes. */
void dataset_write_header(hid_t file, ImageShape shape, const char *const *class_names);

typedef struct {
    hid_t group, images, labels, source_index;
    ImageShape shape;
    int64_t count, written;
    double sum[DATASET_MAX_CHANNELS], sum_sq[DATASET_MAX_CHANNELS];
} SplitWriter;

/* `source` says where the split's images came from (file names, "20% of train", ...). */
SplitWriter split_writer_open(hid_t file, const char *name, ImageShape shape, int64_t count,
                              const char *source);
/* `source_index`: each image's position in its source, so any image can be traced back. */
void split_writer_append(SplitWriter *writer, const uint8_t *images, const int32_t *labels,
                         const int64_t *source_index, int64_t n);
/* Writes the split's mean / std; every declared row must have been appended. */
void split_writer_close(SplitWriter *writer);
/* Closes a split that an input error left incomplete; its file is about to be discarded. */
void split_writer_discard(SplitWriter *writer);

/* ---- reading ---- */

typedef struct {
    char name[16];
    int64_t count;
    double mean[DATASET_MAX_CHANNELS], std[DATASET_MAX_CHANNELS];
    char source[1024];
} SplitInfo;

typedef struct {
    Artefact artefact;
    ImageShape shape;
    char **class_names;
    int n_splits;
    SplitInfo splits[DATASET_MAX_SPLITS];
} DatasetFile;

bool dataset_open(DatasetFile *dataset, const char *path, Error *err);
void dataset_close(DatasetFile *dataset);
const SplitInfo *dataset_split(const DatasetFile *dataset, const char *name); /* NULL if absent */
/* What the data is, whatever the file's path or the time it was packed: the SHA-256 of its
 * provenance (its sources' SHA-256s in /meta/inputs and its seed) and of what it holds (image
 * shape, and each split's name, size, origin and exact pixel statistics). Packing the same
 * sources the same way gives the same identity, so a checkpoint can tell its data from
 * another of the same shape (checkpoint.h). */
void dataset_identity(const DatasetFile *dataset, char hex[SHA256_HEX_SIZE]);
/* Rows [first, first + count) of a split; labels are checked against the class count. */
bool dataset_read(DatasetFile *dataset, const char *split, int64_t first, int64_t count,
                  uint8_t *images, int32_t *labels, Error *err);
/* One split for a consumer that reads it again and again (training, evaluation, scoring):
 * its images held in memory, or left in the file and read when asked for (a split larger than
 * the memory a run may take). The labels are always held, checked once. This HDF5 build is not
 * thread-safe: a streamed split may only be gathered from the thread that uses HDF5. */
typedef struct {
    char name[16];
    ImageShape shape;
    int64_t count;    /* 0 for a split the file does not have */
    int32_t *labels;  /* [count] */
    uint8_t *images;  /* [count, H, W, C]; NULL when streamed */
    hid_t streamed;   /* the split's images dataset when streamed, else -1 */
    const char *path; /* the file, for messages */
    /* When streamed: the descriptor HDF5 reads through, and its size and modification time
     * at the open. A file truncated or written over in place while a run reads it would feed
     * it other bytes, and zeros past its end (which pass HDF5's Fletcher32 checksum): every
     * gather checks that the file is still the one opened. */
    int fd;
    int64_t opened_size;
    struct timespec opened_mtime;
} SplitImages;

/* A store that fails to open holds nothing: only one that opened is closed. */
bool split_images_open(DatasetFile *dataset, const char *split, bool in_memory, SplitImages *s,
                       Error *err);
/* images[i] = image rows[i], [H, W, C] uint8; a run of consecutive rows is one read. An input
 * error when the file of a streamed split has changed since it was opened (deleted or
 * replaced by another file is no change: the open file is still read). */
bool split_images_gather(const SplitImages *s, const int64_t *rows, int64_t n, uint8_t *images,
                         Error *err);
/* Rows `rows[0..n)` of a split as a split of their own, held in memory (a sample to evaluate
 * on): its row i is rows[i]. */
bool split_images_subset(const SplitImages *from, const int64_t *rows, int64_t n, SplitImages *out,
                         Error *err);
void split_images_close(SplitImages *s);

static inline size_t image_bytes(ImageShape shape) {
    return (size_t)shape.height * (size_t)shape.width * (size_t)shape.channels;
}

/* Model input from stored images: [n, H, W, C] uint8 to [n, C, H, W], (x / 255 - mean) / std
 * per channel. */
void images_to_tensor(real *out, const uint8_t *images, int64_t n, ImageShape shape,
                      const double *mean, const double *std);
/* Whether the dataset's images and classes are what the space's supernet takes (an input
 * error naming both shapes, the dataset and where the space came from otherwise). */
bool dataset_fits_space(const DatasetFile *dataset, const Space *space, Error *err);

/* A few lines for people: shape, classes, and each split's size, statistics and origin. */
void dataset_print_summary(const DatasetFile *dataset, FILE *out);

#endif
