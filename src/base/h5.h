#ifndef PRENAS_H5_H
#define PRENAS_H5_H

/* Thin helpers over the HDF5 C API for artefact writers and readers. Writers treat any
 * HDF5 failure as a machine failure (exit 1); readers report a bad file as an input error
 * naming the file and the object. */

#include "error.h"

#include <hdf5.h>
#include <stdbool.h>
#include <stdint.h>

/* HDF5 prints a stack of diagnostics on every failed call unless told not to; prenas reports
 * one line of its own instead. Call once at start-up. */
void h5_silence(void);

hid_t h5_create_group(hid_t loc, const char *name);
void h5_attr_string(hid_t obj, const char *name, const char *value);
void h5_attr_int(hid_t obj, const char *name, int64_t value);
void h5_attr_uint(hid_t obj, const char *name, uint64_t value);
void h5_attr_doubles(hid_t obj, const char *name, const double *values, int n);

/* A dataset written in one call. Datasets of at least H5_CHECKSUM_MIN_BYTES are chunked and
 * carry the Fletcher32 checksum filter, so corruption is detected on read. */
enum { H5_CHECKSUM_MIN_BYTES = 4096 };
void h5_write(hid_t loc, const char *name, hid_t mem_type, int rank, const hsize_t *dims,
              const void *data);
void h5_write_text(hid_t loc, const char *name, const char *text); /* scalar string */
void h5_write_strings(hid_t loc, const char *name, const char *const *strings, int n);

/* A dataset filled in slabs along its first dimension (chunked, Fletcher32). */
hid_t h5_create_rows(hid_t loc, const char *name, hid_t file_type, int rank, const hsize_t *dims);
void h5_write_rows(hid_t dataset, hid_t mem_type, hsize_t first, hsize_t count, const void *data);

/* ---- reading: failures name `path` and the object ---- */
typedef struct {
    hid_t file;
    const char *path;
    Error *err;
} H5Source;

bool h5_exists(hid_t loc, const char *name);
bool h5_read_attr_string(const H5Source *src, hid_t obj, const char *name, char *out, size_t size);
bool h5_read_attr_int(const H5Source *src, hid_t obj, const char *name, int64_t *out);
bool h5_read_attr_doubles(const H5Source *src, hid_t obj, const char *name, double *out, int n);
/* Opens a group of the file; <0 (and an input error) when it is missing or not a group. */
hid_t h5_open_group(const H5Source *src, hid_t loc, const char *name);
/* Opens a dataset of the expected rank and returns its dimensions; <0 on error. */
hid_t h5_open_dataset(const H5Source *src, const char *name, int rank, hsize_t *dims);
/* The same with a chunk cache of `cache_bytes` (HDF5's default: 1 MiB), for many small reads. */
hid_t h5_open_dataset_cached(const H5Source *src, const char *name, int rank, hsize_t *dims,
                             size_t cache_bytes);
/* Reads a whole dataset (or rows [first, first+count) when count > 0) into `out`. */
bool h5_read(const H5Source *src, hid_t dataset, const char *name, hid_t mem_type, hsize_t first,
             hsize_t count, void *out);
/* A scalar string dataset; the caller frees the result. */
char *h5_read_text(const H5Source *src, const char *name);
/* A 1-D string dataset of at most `max` strings (what the schema allows, else H5_LIST_MAX),
 * refused before anything is allocated for it; the caller frees each string and the array. */
enum { H5_LIST_MAX = 1 << 20 }; /* a list whose schema bounds it by nothing (architectures) */
char **h5_read_strings(const H5Source *src, const char *name, int max, int *n);

#endif
