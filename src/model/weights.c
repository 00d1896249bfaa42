#include "weights.h"

#include "artefact.h"

#include <stdio.h>
#include <string.h>

#ifdef PRENAS_REAL_DOUBLE
#define H5T_NATIVE_REAL H5T_NATIVE_DOUBLE
#else
#define H5T_NATIVE_REAL H5T_NATIVE_FLOAT
#endif

void weights_write(hid_t file, const char *group, const ParamTable *table,
                   const real *backend_arena) {
    const size_t bytes = table->n_params * sizeof(real);
    const real *arena = backend_host_begin(table->be, backend_arena, bytes);
    hid_t g = h5_create_group(file, group);
    for (int i = 0; i < table->n_tensors; i++) {
        const TensorInfo *t = &table->tensors[i];
        hsize_t dims[4];
        for (int d = 0; d < t->ndim; d++) dims[d] = (hsize_t)t->shape[d];
        /* stored as float32 whatever the engine computes in */
        hid_t space = H5Screate_simple(t->ndim, dims, NULL);
        CHECK_H5(space);
        hid_t plist = H5Pcreate(H5P_DATASET_CREATE);
        CHECK_H5(plist);
        if (t->count * sizeof(float) >= H5_CHECKSUM_MIN_BYTES) {
            hsize_t chunk[4];
            for (int d = 0; d < t->ndim; d++) chunk[d] = dims[d];
            CHECK_H5(H5Pset_chunk(plist, t->ndim, chunk));
            CHECK_H5(H5Pset_fletcher32(plist));
        }
        hid_t d = H5Dcreate2(g, t->name, H5T_IEEE_F32LE, space, H5P_DEFAULT, plist, H5P_DEFAULT);
        CHECK_H5(d);
        CHECK_H5(H5Dwrite(d, H5T_NATIVE_REAL, H5S_ALL, H5S_ALL, H5P_DEFAULT, arena + t->offset));
        CHECK_H5(H5Dclose(d));
        CHECK_H5(H5Pclose(plist));
        CHECK_H5(H5Sclose(space));
    }
    CHECK_H5(H5Gclose(g));
    backend_host_end(table->be, (void *)arena, (void *)backend_arena, bytes, false);
}

/* Into host memory laid out as the arena. */
static bool read_arena(const H5Source *src, const char *group, const ParamTable *table,
                       real *arena) {
    for (int i = 0; i < table->n_tensors; i++) {
        const TensorInfo *t = &table->tensors[i];
        char name[160];
        snprintf(name, sizeof name, "%s/%s", group, t->name);
        hsize_t dims[4];
        if (!h5_exists(src->file, group))
            return input_error(src->err, "group '%s' is missing, %s", group, src->path);
        hid_t d = h5_open_dataset(src, name, t->ndim, dims);
        if (d < 0) return false;
        bool same = true;
        for (int k = 0; k < t->ndim; k++) same &= dims[k] == (hsize_t)t->shape[k];
        if (!same) {
            H5Dclose(d);
            char want[64] = "", got[64] = "";
            for (int k = 0; k < t->ndim; k++) {
                snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", k ? ", " : "",
                         (long long)t->shape[k]);
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu", k ? ", " : "",
                         (unsigned long long)dims[k]);
            }
            return input_error(src->err,
                               "tensor %s has shape [%s], this supernet's is [%s] (another "
                               "space?), %s",
                               name, got, want, src->path);
        }
        bool ok = h5_read(src, d, name, H5T_NATIVE_REAL, 0, 0, arena + t->offset);
        H5Dclose(d);
        if (!ok) return false;
    }
    return true;
}

bool weights_read(const H5Source *src, const char *group, const ParamTable *table,
                  real *backend_arena) {
    const size_t bytes = table->n_params * sizeof(real);
    real *arena = backend_host_begin(table->be, backend_arena, bytes);
    const bool ok = read_arena(src, group, table, arena);
    backend_host_end(table->be, arena, backend_arena, bytes, ok);
    return ok;
}

bool weights_save_supernet(const char *path, const ParamTable *table, const Space *space, int argc,
                           char **argv, Error *err) {
    ArtefactWriter w;
    if (!artefact_begin(&w, path, err)) return false;
    ArtefactMeta meta;
    artefact_meta_init(&meta, SUPERNET_SCHEMA, SUPERNET_SCHEMA_VERSION, argc, argv);
    artefact_meta_set_config(&meta, space->text);
    weights_write(w.file, "params", table, table->params);
    artefact_commit(&w, &meta);
    artefact_meta_free(&meta);
    return true;
}

char *weights_supernet_space(const char *path, Error *err) {
    Artefact a;
    if (!artefact_open(&a, path, SUPERNET_SCHEMA, SUPERNET_SCHEMA_VERSION, err)) return NULL;
    H5Source src = {a.file, path, err};
    char *text = h5_exists(a.file, "space") ? h5_read_text(&src, "space") : xstrdup(a.meta.config);
    artefact_close(&a);
    return text;
}

bool weights_load_supernet(const char *path, ParamTable *table, Error *err) {
    Artefact a;
    if (!artefact_open(&a, path, SUPERNET_SCHEMA, SUPERNET_SCHEMA_VERSION, err)) return false;
    H5Source src = {a.file, path, err};
    bool ok = weights_read(&src, "params", table, table->params);
    artefact_close(&a);
    return ok;
}
