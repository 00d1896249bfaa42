#include "h5.h"

#include <stdlib.h>
#include <string.h>

void h5_silence(void) {
    CHECK_H5(H5Eset_auto2(H5E_DEFAULT, NULL, NULL));
}

hid_t h5_create_group(hid_t loc, const char *name) {
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK_H5(g);
    return g;
}

static void attr_write(hid_t obj, const char *name, hid_t type, hid_t space, const void *value) {
    hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    CHECK_H5(a);
    CHECK_H5(H5Awrite(a, type, value));
    CHECK_H5(H5Aclose(a));
}

static hid_t string_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    CHECK_H5(t);
    CHECK_H5(H5Tset_size(t, H5T_VARIABLE));
    CHECK_H5(H5Tset_cset(t, H5T_CSET_UTF8));
    return t;
}

void h5_attr_string(hid_t obj, const char *name, const char *value) {
    hid_t type = string_type(), space = H5Screate(H5S_SCALAR);
    CHECK_H5(space);
    attr_write(obj, name, type, space, &value);
    CHECK_H5(H5Sclose(space));
    CHECK_H5(H5Tclose(type));
}

void h5_attr_int(hid_t obj, const char *name, int64_t value) {
    hid_t space = H5Screate(H5S_SCALAR);
    CHECK_H5(space);
    attr_write(obj, name, H5T_NATIVE_INT64, space, &value);
    CHECK_H5(H5Sclose(space));
}

void h5_attr_uint(hid_t obj, const char *name, uint64_t value) {
    hid_t space = H5Screate(H5S_SCALAR);
    CHECK_H5(space);
    attr_write(obj, name, H5T_NATIVE_UINT64, space, &value);
    CHECK_H5(H5Sclose(space));
}

void h5_attr_doubles(hid_t obj, const char *name, const double *values, int n) {
    hsize_t dims[1] = {(hsize_t)n};
    hid_t space = H5Screate_simple(1, dims, NULL);
    CHECK_H5(space);
    attr_write(obj, name, H5T_NATIVE_DOUBLE, space, values);
    CHECK_H5(H5Sclose(space));
}

/* Chunks of about 1 MiB along the first dimension, whole in the others (an empty dataset
 * cannot be chunked, and has nothing to check). */
static hid_t checksummed_layout(hid_t file_type, int rank, const hsize_t *dims) {
    for (int i = 0; i < rank; i++)
        if (dims[i] == 0) return H5Pcreate(H5P_DATASET_CREATE);
    hsize_t row_bytes = H5Tget_size(file_type), chunk[H5S_MAX_RANK];
    for (int i = 1; i < rank; i++) row_bytes *= dims[i];
    chunk[0] = (1u << 20) / (row_bytes ? row_bytes : 1);
    if (chunk[0] < 1) chunk[0] = 1;
    if (chunk[0] > dims[0]) chunk[0] = dims[0];
    for (int i = 1; i < rank; i++) chunk[i] = dims[i];
    hid_t plist = H5Pcreate(H5P_DATASET_CREATE);
    CHECK_H5(plist);
    CHECK_H5(H5Pset_chunk(plist, rank, chunk));
    CHECK_H5(H5Pset_fletcher32(plist));
    return plist;
}

void h5_write(hid_t loc, const char *name, hid_t mem_type, int rank, const hsize_t *dims,
              const void *data) {
    hsize_t bytes = H5Tget_size(mem_type);
    for (int i = 0; i < rank; i++) bytes *= dims[i];
    hid_t space = H5Screate_simple(rank, dims, NULL);
    CHECK_H5(space);
    hid_t plist = rank > 0 && bytes >= H5_CHECKSUM_MIN_BYTES
                      ? checksummed_layout(mem_type, rank, dims)
                      : H5Pcreate(H5P_DATASET_CREATE);
    CHECK_H5(plist);
    hid_t d = H5Dcreate2(loc, name, mem_type, space, H5P_DEFAULT, plist, H5P_DEFAULT);
    CHECK_H5(d);
    if (bytes > 0) CHECK_H5(H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
    CHECK_H5(H5Dclose(d));
    CHECK_H5(H5Pclose(plist));
    CHECK_H5(H5Sclose(space));
}

void h5_write_text(hid_t loc, const char *name, const char *text) {
    hid_t type = string_type(), space = H5Screate(H5S_SCALAR);
    CHECK_H5(space);
    hid_t d = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK_H5(d);
    CHECK_H5(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text));
    CHECK_H5(H5Dclose(d));
    CHECK_H5(H5Sclose(space));
    CHECK_H5(H5Tclose(type));
}

void h5_write_strings(hid_t loc, const char *name, const char *const *strings, int n) {
    hid_t type = string_type();
    hsize_t dims[1] = {(hsize_t)n};
    hid_t space = H5Screate_simple(1, dims, NULL);
    CHECK_H5(space);
    hid_t d = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK_H5(d);
    if (n > 0) CHECK_H5(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, strings));
    CHECK_H5(H5Dclose(d));
    CHECK_H5(H5Sclose(space));
    CHECK_H5(H5Tclose(type));
}

hid_t h5_create_rows(hid_t loc, const char *name, hid_t file_type, int rank, const hsize_t *dims) {
    hid_t space = H5Screate_simple(rank, dims, NULL);
    CHECK_H5(space);
    hid_t plist = checksummed_layout(file_type, rank, dims);
    hid_t d = H5Dcreate2(loc, name, file_type, space, H5P_DEFAULT, plist, H5P_DEFAULT);
    CHECK_H5(d);
    CHECK_H5(H5Pclose(plist));
    CHECK_H5(H5Sclose(space));
    return d;
}

void h5_write_rows(hid_t dataset, hid_t mem_type, hsize_t first, hsize_t count, const void *data) {
    if (count == 0) return;
    hid_t file_space = H5Dget_space(dataset);
    CHECK_H5(file_space);
    int rank = H5Sget_simple_extent_ndims(file_space);
    hsize_t dims[H5S_MAX_RANK], start[H5S_MAX_RANK] = {0};
    CHECK_H5(H5Sget_simple_extent_dims(file_space, dims, NULL));
    start[0] = first;
    dims[0] = count;
    CHECK_H5(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, dims, NULL));
    hid_t mem_space = H5Screate_simple(rank, dims, NULL);
    CHECK_H5(mem_space);
    CHECK_H5(H5Dwrite(dataset, mem_type, mem_space, file_space, H5P_DEFAULT, data));
    CHECK_H5(H5Sclose(mem_space));
    CHECK_H5(H5Sclose(file_space));
}

/* ---- reading ---- */

bool h5_exists(hid_t loc, const char *name) {
    return H5Lexists(loc, name, H5P_DEFAULT) > 0;
}

hid_t h5_open_group(const H5Source *src, hid_t loc, const char *name) {
    H5O_info_t info;
    hid_t g = -1;
    /* a damaged or hostile file can hold a dataset, or nothing readable, where a group was */
    if (h5_exists(loc, name) &&
        H5Oget_info_by_name2(loc, name, &info, H5O_INFO_BASIC, H5P_DEFAULT) >= 0 &&
        info.type == H5O_TYPE_GROUP)
        g = H5Gopen2(loc, name, H5P_DEFAULT);
    if (g < 0) input_error(src->err, "group '%s' is missing or damaged, %s", name, src->path);
    return g;
}

static hid_t open_attr(const H5Source *src, hid_t obj, const char *name) {
    hid_t a = H5Aexists(obj, name) > 0 ? H5Aopen(obj, name, H5P_DEFAULT) : -1;
    if (a < 0) input_error(src->err, "attribute '%s' is missing, %s", name, src->path);
    return a;
}

bool h5_read_attr_string(const H5Source *src, hid_t obj, const char *name, char *out, size_t size) {
    hid_t a = open_attr(src, obj, name);
    if (a < 0) return false;
    hid_t type = H5Aget_type(a), space = H5Aget_space(a);
    /* one string: H5Aread writes every element the file's attribute has */
    bool ok = type >= 0 && H5Tget_class(type) == H5T_STRING && space >= 0 &&
              H5Sget_simple_extent_npoints(space) == 1;
    if (space >= 0) H5Sclose(space);
    if (ok && H5Tis_variable_str(type) > 0) {
        hid_t mem = string_type();
        char *value = NULL;
        ok = H5Aread(a, mem, &value) >= 0 && value;
        if (ok) snprintf(out, size, "%s", value);
        if (value) H5free_memory(value);
        H5Tclose(mem);
    } else if (ok) {
        size_t length = H5Tget_size(type);
        char *value = xcalloc(length + 1, 1);
        ok = H5Aread(a, type, value) >= 0;
        if (ok) snprintf(out, size, "%s", value);
        free(value);
    }
    if (type >= 0) H5Tclose(type);
    H5Aclose(a);
    if (!ok)
        return input_error(src->err, "attribute '%s' is not a readable string, %s", name,
                           src->path);
    return true;
}

bool h5_read_attr_int(const H5Source *src, hid_t obj, const char *name, int64_t *out) {
    hid_t a = open_attr(src, obj, name);
    if (a < 0) return false;
    hid_t space = H5Aget_space(a);
    bool ok = space >= 0 && H5Sget_simple_extent_npoints(space) == 1 &&
              H5Aread(a, H5T_NATIVE_INT64, out) >= 0;
    if (space >= 0) H5Sclose(space);
    H5Aclose(a);
    if (!ok) return input_error(src->err, "attribute '%s' is not an integer, %s", name, src->path);
    return true;
}

bool h5_read_attr_doubles(const H5Source *src, hid_t obj, const char *name, double *out, int n) {
    hid_t a = open_attr(src, obj, name);
    if (a < 0) return false;
    hid_t space = H5Aget_space(a);
    bool ok = space >= 0 && H5Sget_simple_extent_npoints(space) == n &&
              H5Aread(a, H5T_NATIVE_DOUBLE, out) >= 0;
    if (space >= 0) H5Sclose(space);
    H5Aclose(a);
    if (!ok)
        return input_error(src->err, "attribute '%s' is not %d numbers, %s", name, n, src->path);
    return true;
}

hid_t h5_open_dataset(const H5Source *src, const char *name, int rank, hsize_t *dims) {
    return h5_open_dataset_cached(src, name, rank, dims, 0);
}

hid_t h5_open_dataset_cached(const H5Source *src, const char *name, int rank, hsize_t *dims,
                             size_t cache_bytes) {
    if (!h5_exists(src->file, name)) {
        input_error(src->err, "dataset '%s' is missing, %s", name, src->path);
        return -1;
    }
    hid_t access = H5Pcreate(H5P_DATASET_ACCESS);
    CHECK_H5(access);
    if (cache_bytes > 0) /* a prime number of slots, many more than the chunks it holds */
        CHECK_H5(H5Pset_chunk_cache(access, 12421, cache_bytes, H5D_CHUNK_CACHE_W0_DEFAULT));
    hid_t d = H5Dopen2(src->file, name, access);
    CHECK_H5(H5Pclose(access));
    hid_t space = d >= 0 ? H5Dget_space(d) : -1;
    int actual = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    if (actual == rank) H5Sget_simple_extent_dims(space, dims, NULL);
    if (space >= 0) H5Sclose(space);
    if (actual != rank) {
        if (d >= 0) H5Dclose(d);
        input_error(src->err, "dataset '%s' has rank %d, expected %d, %s", name, actual, rank,
                    src->path);
        return -1;
    }
    return d;
}

bool h5_read(const H5Source *src, hid_t dataset, const char *name, hid_t mem_type, hsize_t first,
             hsize_t count, void *out) {
    herr_t rc;
    if (count == 0) {
        rc = H5Dread(dataset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
    } else {
        hid_t file_space = H5Dget_space(dataset);
        CHECK_H5(file_space);
        int rank = H5Sget_simple_extent_ndims(file_space);
        hsize_t dims[H5S_MAX_RANK], start[H5S_MAX_RANK] = {0};
        CHECK_H5(H5Sget_simple_extent_dims(file_space, dims, NULL));
        start[0] = first;
        dims[0] = count;
        CHECK_H5(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, dims, NULL));
        hid_t mem_space = H5Screate_simple(rank, dims, NULL);
        CHECK_H5(mem_space);
        rc = H5Dread(dataset, mem_type, mem_space, file_space, H5P_DEFAULT, out);
        H5Sclose(mem_space);
        H5Sclose(file_space);
    }
    if (rc < 0)
        return input_error(src->err,
                           "dataset '%s' cannot be read (corrupt: checksum mismatch or truncated "
                           "data), %s",
                           name, src->path);
    return true;
}

char *h5_read_text(const H5Source *src, const char *name) {
    hsize_t dims[1];
    hid_t d = h5_open_dataset(src, name, 0, dims);
    if (d < 0) return NULL;
    hid_t type = string_type();
    char *value = NULL, *copy = NULL;
    if (H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value) >= 0 && value) {
        copy = xstrdup(value);
        H5free_memory(value);
    } else {
        input_error(src->err, "dataset '%s' is not a readable string, %s", name, src->path);
    }
    H5Tclose(type);
    H5Dclose(d);
    return copy;
}

char **h5_read_strings(const H5Source *src, const char *name, int max, int *n) {
    hsize_t dims[1];
    hid_t d = h5_open_dataset(src, name, 1, dims);
    if (d < 0) return NULL;
    /* the length is the file's word: an unwritten dataset of 2^34 strings is a few bytes */
    if (dims[0] > (hsize_t)max) {
        H5Dclose(d);
        input_error(src->err, "dataset '%s' has %llu strings, at most %d expected, %s", name,
                    (unsigned long long)dims[0], max, src->path);
        return NULL;
    }
    hid_t type = string_type();
    char **raw = xcalloc(dims[0], sizeof *raw), **copy = NULL;
    if (H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) >= 0) {
        copy = xcalloc(dims[0], sizeof *copy);
        for (hsize_t i = 0; i < dims[0]; i++) {
            copy[i] = xstrdup(raw[i] ? raw[i] : "");
            if (raw[i]) H5free_memory(raw[i]);
        }
        *n = (int)dims[0];
    } else {
        input_error(src->err, "dataset '%s' is not a list of strings, %s", name, src->path);
    }
    free(raw);
    H5Tclose(type);
    H5Dclose(d);
    return copy;
}
