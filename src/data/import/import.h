#ifndef PRENAS_IMPORT_H
#define PRENAS_IMPORT_H

/* prenas-pack's importers: image datasets in the layouts people download them in (IDX files,
 * CIFAR binary batches, folders of JPEG/PNG files per class) become a Source of up to three
 * splits. A split's labels are known before any image is read, because they decide which
 * training images are held out for validation; its images are then read in order, a block
 * at a time, so that a dataset larger than memory streams through to the HDF5 file. */

#include "dataset.h"
#include "error.h"

#include <hdf5.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum { SOURCE_IDX, SOURCE_CIFAR, SOURCE_FOLDER } SourceFormat;

typedef struct {
    SourceFormat format;
    const char *path;             /* SRC, a directory */
    const char *class_names_path; /* --class-names FILE, or NULL */
    int size;                     /* --size S: output S x S; 0 keeps the source's size */
    int channels;                 /* --channels 1 or 3; 0 keeps the source's (folders: 3) */
} SourceOptions;

/* One split as the source holds it. */
typedef struct SourceSplit SourceSplit;
struct SourceSplit {
    char name[8]; /* "train", "val", "test" */
    int64_t count;
    int32_t *labels;   /* [count], checked against the class count */
    ImageShape native; /* what read_next delivers; the packer fits it to the output shape */
    char origin[512];  /* where the images come from, in words (file or folder names) */
    /* The next n images, in source order, as uint8 [n, H, W, C] of the native shape. An
     * input error names the file (and record) at fault. */
    bool (*read_next)(SourceSplit *split, int64_t n, uint8_t *images, Error *err);
    void (*close_reader)(SourceSplit *split);
    void *reader; /* the format's own state */
};

typedef struct {
    char role[16]; /* "source" or "class_names" */
    char *path;
} SourceFile;

enum { SOURCE_MAX_FILES = ARTEFACT_MAX_INPUTS };

typedef struct {
    ImageShape shape; /* of the images as packed, and the class count */
    char **class_names;
    int n_splits;
    SourceSplit splits[DATASET_MAX_SPLITS]; /* train first, then val and test when present */
    int n_files;
    SourceFile files[SOURCE_MAX_FILES]; /* every file read, for /meta/inputs */
    int64_t skipped;                    /* entries of an image folder that are not images */
    char first_skipped[ARTEFACT_PATH_MAX];
} Source;

/* Reads the source's layout, headers and labels, so that all that can be checked before the
 * output file exists has been. */
bool source_open(Source *source, const SourceOptions *options, Error *err);
void source_close(Source *source);
SourceSplit *source_split(Source *source, const char *name); /* NULL if absent */

/* ---- for the format readers (source.c) ---- */

/* An empty source; each reader fills it in. */
void source_init(Source *source);
bool idx_open(Source *source, const SourceOptions *options, Error *err);
bool cifar_open(Source *source, const SourceOptions *options, Error *err);
bool folder_open(Source *source, const SourceOptions *options, Error *err);

void source_add_file(Source *source, const char *role, const char *path);
SourceSplit *source_add_split(Source *source, const char *name, int64_t count);
/* Class names "0", "1", ... */
void source_number_classes(Source *source, int count);
/* One name per line; trailing blank lines are ignored. `expected` 0 accepts any count. */
bool source_read_class_names(Source *source, const char *path, int expected, Error *err);
/* The output shape from the source's native one and --size / --channels. */
void source_set_shape(Source *source, ImageShape native, const SourceOptions *options);
/* "label 12 of record 57 is outside [0, 10), PATH" for the first label out of range. */
bool source_check_labels(const int32_t *labels, int64_t count, int64_t first_record,
                         int num_classes, const char *path, Error *err);
/* PATH/NAME into `out` (ARTEFACT_PATH_MAX bytes); an input error when too long. */
bool source_join(char *out, const char *dir, const char *name, Error *err);
bool source_is_file(const char *path);
bool source_is_directory(const char *path);

/* ---- the validation split carved out of the training split (split.c) ---- */

typedef struct {
    uint8_t *is_val; /* [train count]: 1 for the images held out */
    int64_t val_count;
    double fraction;
    uint64_t seed;
} Holdout;

/* round(fraction x n_k) images of each class k, chosen at random with the seeded dataset-split
 * stream; the rest stay in train. */
void holdout_choose(Holdout *holdout, const SourceSplit *train, int num_classes, double fraction,
                    uint64_t seed);
void holdout_free(Holdout *holdout);

/* ---- writing (write.c) ---- */

typedef struct {
    int64_t images, pixel_bytes;
} PackTotals;

/* The header and every split into `file`; `holdout` NULL when val comes from the source or
 * is not wanted. Prints progress to stderr every few seconds on long runs. */
bool pack_write(hid_t file, Source *source, const Holdout *holdout, PackTotals *totals, Error *err);

#endif
