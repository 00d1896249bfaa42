#include "dataset.h"

#include "h5.h"
#include "space.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const SPLIT_NAMES[DATASET_MAX_SPLITS] = {"train", "val", "test"};

void dataset_write_header(hid_t file, ImageShape shape, const char *const *class_names) {
    h5_attr_int(file, "height", shape.height);
    h5_attr_int(file, "width", shape.width);
    h5_attr_int(file, "channels", shape.channels);
    h5_attr_int(file, "num_classes", shape.num_classes);
    h5_write_strings(file, "classes", class_names, shape.num_classes);
}

SplitWriter split_writer_open(hid_t file, const char *name, ImageShape shape, int64_t count,
                              const char *source) {
    SplitWriter w = {.shape = shape, .count = count};
    w.group = h5_create_group(file, name);
    h5_attr_int(w.group, "count", count);
    h5_attr_string(w.group, "source", source);
    hsize_t image_dims[4] = {(hsize_t)count, (hsize_t)shape.height, (hsize_t)shape.width,
                             (hsize_t)shape.channels};
    hsize_t row_dims[1] = {(hsize_t)count};
    w.images = h5_create_rows(w.group, "images", H5T_STD_U8LE, 4, image_dims);
    w.labels = h5_create_rows(w.group, "labels", H5T_STD_I32LE, 1, row_dims);
    w.source_index = h5_create_rows(w.group, "source_index", H5T_STD_I64LE, 1, row_dims);
    return w;
}

void split_writer_append(SplitWriter *w, const uint8_t *images, const int32_t *labels,
                         const int64_t *source_index, int64_t n) {
    if (w->written + n > w->count)
        fatal_at(__FILE__, __LINE__, "split overflow: %lld + %lld rows > %lld",
                 (long long)w->written, (long long)n, (long long)w->count);
    h5_write_rows(w->images, H5T_NATIVE_UINT8, (hsize_t)w->written, (hsize_t)n, images);
    h5_write_rows(w->labels, H5T_NATIVE_INT32, (hsize_t)w->written, (hsize_t)n, labels);
    h5_write_rows(w->source_index, H5T_NATIVE_INT64, (hsize_t)w->written, (hsize_t)n, source_index);
    const int channels = w->shape.channels;
    const int64_t pixels = n * w->shape.height * w->shape.width;
    /* Per-channel sums in integers: exact, and independent of how rows are slabbed. */
    uint64_t sum[DATASET_MAX_CHANNELS] = {0}, sum_sq[DATASET_MAX_CHANNELS] = {0};
    for (int c = 0; c < channels; c++) {
        uint64_t s = 0, s2 = 0;
        for (int64_t p = 0; p < pixels; p++) {
            const uint64_t v = images[p * channels + c];
            s += v;
            s2 += v * v;
        }
        sum[c] = s;
        sum_sq[c] = s2;
    }
    for (int c = 0; c < channels; c++) {
        w->sum[c] += (double)sum[c];
        w->sum_sq[c] += (double)sum_sq[c];
    }
    w->written += n;
}

void split_writer_close(SplitWriter *w) {
    if (w->written != w->count)
        fatal_at(__FILE__, __LINE__, "split closed with %lld of %lld rows", (long long)w->written,
                 (long long)w->count);
    double mean[DATASET_MAX_CHANNELS], std[DATASET_MAX_CHANNELS];
    double per_channel = (double)w->count * w->shape.height * w->shape.width;
    for (int c = 0; c < w->shape.channels; c++) {
        double m = per_channel > 0 ? w->sum[c] / per_channel : 0;
        double var = per_channel > 0 ? w->sum_sq[c] / per_channel - m * m : 0;
        mean[c] = m / 255.0;
        std[c] = sqrt(var > 0 ? var : 0) / 255.0;
    }
    h5_attr_doubles(w->group, "mean", mean, w->shape.channels);
    h5_attr_doubles(w->group, "std", std, w->shape.channels);
    CHECK_H5(H5Dclose(w->images));
    CHECK_H5(H5Dclose(w->labels));
    CHECK_H5(H5Dclose(w->source_index));
    CHECK_H5(H5Gclose(w->group));
}

void split_writer_discard(SplitWriter *w) {
    CHECK_H5(H5Dclose(w->images));
    CHECK_H5(H5Dclose(w->labels));
    CHECK_H5(H5Dclose(w->source_index));
    CHECK_H5(H5Gclose(w->group));
}

/* ---- reading ---- */

static bool read_shape(const H5Source *src, ImageShape *shape) {
    int64_t h, w, c, k;
    if (!h5_read_attr_int(src, src->file, "height", &h) ||
        !h5_read_attr_int(src, src->file, "width", &w) ||
        !h5_read_attr_int(src, src->file, "channels", &c) ||
        !h5_read_attr_int(src, src->file, "num_classes", &k))
        return false;
    /* each side bounded before the product, which a file's values could overflow */
    if (h < 1 || w < 1 || h > 1 << 26 || w > 1 << 26 || h * w > 1 << 26 || c < 1 ||
        c > DATASET_MAX_CHANNELS || k < 1 || k > DATASET_MAX_CLASSES)
        return input_error(src->err, "implausible image shape %lldx%lldx%lld or %lld classes, %s",
                           (long long)h, (long long)w, (long long)c, (long long)k, src->path);
    *shape = (ImageShape){(int)h, (int)w, (int)c, (int)k};
    return true;
}

static bool read_split_info(const H5Source *src, const ImageShape *shape, const char *name,
                            SplitInfo *info) {
    hid_t g = h5_open_group(src, src->file, name);
    if (g < 0) return false;
    snprintf(info->name, sizeof info->name, "%s", name);
    bool ok = h5_read_attr_int(src, g, "count", &info->count) &&
              h5_read_attr_string(src, g, "source", info->source, sizeof info->source) &&
              h5_read_attr_doubles(src, g, "mean", info->mean, shape->channels) &&
              h5_read_attr_doubles(src, g, "std", info->std, shape->channels);
    H5Gclose(g);
    if (!ok) return false;
    char path[64];
    hsize_t dims[4];
    snprintf(path, sizeof path, "%s/images", name);
    hid_t images = h5_open_dataset(src, path, 4, dims);
    if (images < 0) return false;
    H5Dclose(images);
    if (dims[0] != (hsize_t)info->count || dims[1] != (hsize_t)shape->height ||
        dims[2] != (hsize_t)shape->width || dims[3] != (hsize_t)shape->channels)
        return input_error(
            src->err, "%s has shape [%llu, %llu, %llu, %llu], expected [%lld, %d, %d, %d], %s",
            path, (unsigned long long)dims[0], (unsigned long long)dims[1],
            (unsigned long long)dims[2], (unsigned long long)dims[3], (long long)info->count,
            shape->height, shape->width, shape->channels, src->path);
    snprintf(path, sizeof path, "%s/labels", name);
    hid_t labels = h5_open_dataset(src, path, 1, dims);
    if (labels < 0) return false;
    H5Dclose(labels);
    if (dims[0] != (hsize_t)info->count)
        return input_error(src->err, "%s has %llu entries for %lld images, %s", path,
                           (unsigned long long)dims[0], (long long)info->count, src->path);
    return true;
}

bool dataset_open(DatasetFile *ds, const char *path, Error *err) {
    memset(ds, 0, sizeof *ds);
    if (!artefact_open(&ds->artefact, path, DATASET_SCHEMA, DATASET_SCHEMA_VERSION, err))
        return false;
    H5Source src = {ds->artefact.file, path, err};
    int n_names = 0;
    bool ok = read_shape(&src, &ds->shape);
    if (ok) ds->class_names = h5_read_strings(&src, "classes", ds->shape.num_classes, &n_names);
    if (ok && !ds->class_names) ok = false;
    if (ok && n_names != ds->shape.num_classes)
        ok = input_error(err, "%d class names for %d classes, %s", n_names, ds->shape.num_classes,
                         path);
    for (int s = 0; ok && s < DATASET_MAX_SPLITS; s++)
        if (h5_exists(ds->artefact.file, SPLIT_NAMES[s]))
            ok = read_split_info(&src, &ds->shape, SPLIT_NAMES[s], &ds->splits[ds->n_splits++]);
    if (ok && !dataset_split(ds, "train")) ok = input_error(err, "no train split, %s", path);
    if (!ok) {
        for (int i = 0; ds->class_names && i < n_names; i++) free(ds->class_names[i]);
        free(ds->class_names);
        ds->class_names = NULL;
        artefact_close(&ds->artefact);
    }
    return ok;
}

void dataset_close(DatasetFile *ds) {
    for (int i = 0; ds->class_names && i < ds->shape.num_classes; i++) free(ds->class_names[i]);
    free(ds->class_names);
    ds->class_names = NULL;
    artefact_close(&ds->artefact);
}

const SplitInfo *dataset_split(const DatasetFile *ds, const char *name) {
    for (int s = 0; s < ds->n_splits; s++)
        if (strcmp(ds->splits[s].name, name) == 0) return &ds->splits[s];
    return NULL;
}

void dataset_identity(const DatasetFile *ds, char hex[SHA256_HEX_SIZE]) {
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f) fatal_at(__FILE__, __LINE__, "open_memstream: %m");
    const ArtefactMeta *meta = &ds->artefact.meta;
    for (int i = 0; i < meta->n_inputs; i++)
        fprintf(f, "input %s %s\n", meta->inputs[i].role, meta->inputs[i].sha256);
    fprintf(f, "seed %llu\nshape %d %d %d %d\n", (unsigned long long)meta->seed, ds->shape.height,
            ds->shape.width, ds->shape.channels, ds->shape.num_classes);
    for (int s = 0; s < ds->n_splits; s++) {
        const SplitInfo *split = &ds->splits[s];
        fprintf(f, "split %s %lld %s\n", split->name, (long long)split->count, split->source);
        for (int c = 0; c < ds->shape.channels; c++)
            fprintf(f, "%a %a\n", split->mean[c], split->std[c]);
    }
    if (fclose(f) != 0) fatal_at(__FILE__, __LINE__, "open_memstream: %m");
    sha256_text(text, hex);
    free(text);
}

/* Rows [first, first + count) of the split's dataset `what` ("images" or "labels"). */
static bool read_rows(DatasetFile *ds, const char *split, const char *what, hid_t mem_type,
                      int rank, int64_t first, int64_t count, void *out, Error *err) {
    H5Source src = {ds->artefact.file, ds->artefact.path, err};
    char name[64];
    hsize_t dims[4];
    snprintf(name, sizeof name, "%s/%s", split, what);
    hid_t d = h5_open_dataset(&src, name, rank, dims);
    bool ok = d >= 0 && h5_read(&src, d, name, mem_type, (hsize_t)first, (hsize_t)count, out);
    if (d >= 0) H5Dclose(d);
    return ok;
}

static bool check_labels(const DatasetFile *ds, const char *split, int64_t first,
                         const int32_t *labels, int64_t count, Error *err) {
    for (int64_t i = 0; i < count; i++)
        if (labels[i] < 0 || labels[i] >= ds->shape.num_classes)
            return input_error(err, "label %d of %s image %lld is outside [0, %d), %s", labels[i],
                               split, (long long)(first + i), ds->shape.num_classes,
                               ds->artefact.path);
    return true;
}

bool dataset_read(DatasetFile *ds, const char *split, int64_t first, int64_t count, uint8_t *images,
                  int32_t *labels, Error *err) {
    const char *path = ds->artefact.path;
    const SplitInfo *info = dataset_split(ds, split);
    if (!info) return input_error(err, "no '%s' split, %s", split, path);
    if (first < 0 || count < 0 || first + count > info->count)
        return input_error(err, "rows [%lld, %lld) outside the %lld of split '%s', %s",
                           (long long)first, (long long)(first + count), (long long)info->count,
                           split, path);
    if (count == 0) return true;
    return read_rows(ds, split, "images", H5T_NATIVE_UINT8, 4, first, count, images, err) &&
           read_rows(ds, split, "labels", H5T_NATIVE_INT32, 1, first, count, labels, err) &&
           check_labels(ds, split, first, labels, count, err);
}

/* The chunk cache of a streamed split: a small dataset ends up cached whole; a large one is
 * read at random, where a cache cannot help, and costs only this. */
enum { STREAM_CACHE_BYTES = 64 << 20 };

bool split_images_open(DatasetFile *ds, const char *split, bool in_memory, SplitImages *s,
                       Error *err) {
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", split);
    s->shape = ds->shape;
    s->streamed = -1;
    s->path = ds->artefact.path;
    const SplitInfo *info = dataset_split(ds, split);
    if (!info || info->count == 0) return true;
    s->count = info->count;
    s->labels = xmalloc(sizeof *s->labels * (size_t)s->count);
    bool ok = read_rows(ds, split, "labels", H5T_NATIVE_INT32, 1, 0, s->count, s->labels, err) &&
              check_labels(ds, split, 0, s->labels, s->count, err);
    if (ok && in_memory) {
        s->images = xmalloc(image_bytes(s->shape) * (size_t)s->count);
        ok = read_rows(ds, split, "images", H5T_NATIVE_UINT8, 4, 0, s->count, s->images, err);
    } else if (ok) {
        char name[64];
        hsize_t dims[4];
        snprintf(name, sizeof name, "%s/images", split);
        s->streamed = h5_open_dataset_cached(&(H5Source){ds->artefact.file, s->path, err}, name, 4,
                                             dims, STREAM_CACHE_BYTES);
        ok = s->streamed >= 0;
    }
    if (ok && s->streamed >= 0) {
        int *fd = NULL;
        CHECK_H5(H5Fget_vfd_handle(ds->artefact.file, H5P_DEFAULT, (void **)&fd));
        struct stat st;
        CHECK_SYS(fstat(s->fd = *fd, &st));
        s->opened_size = st.st_size, s->opened_mtime = st.st_mtim;
    }
    /* a store that failed to open holds nothing: its callers close only what opened */
    if (!ok) split_images_close(s);
    return ok;
}

/* Whether the streamed split's file is as it was opened (see SplitImages). */
static bool unchanged(const SplitImages *s, Error *err) {
    struct stat st;
    CHECK_SYS(fstat(s->fd, &st));
    if (st.st_size == s->opened_size && st.st_mtim.tv_sec == s->opened_mtime.tv_sec &&
        st.st_mtim.tv_nsec == s->opened_mtime.tv_nsec)
        return true;
    return input_error(err,
                       "the file was %s while being read (it must stay as it is until the run "
                       "ends; deleting it or renaming another file to its name is safe), %s",
                       st.st_size < s->opened_size ? "truncated" : "written over", s->path);
}

bool split_images_gather(const SplitImages *s, const int64_t *rows, int64_t n, uint8_t *images,
                         Error *err) {
    const size_t bytes = image_bytes(s->shape);
    char name[64];
    snprintf(name, sizeof name, "%s/images", s->name);
    const H5Source src = {-1, s->path, err};
    if (s->streamed >= 0 && !unchanged(s, err)) return false; /* before a read could fail on it */
    for (int64_t i = 0, run; i < n; i += run) {
        for (run = 1; i + run < n && rows[i + run] == rows[i] + run;) run++;
        if (rows[i] < 0 || rows[i] + run > s->count)
            fatal_at(__FILE__, __LINE__, "rows [%lld, %lld) outside split '%s' of %lld",
                     (long long)rows[i], (long long)(rows[i] + run), s->name, (long long)s->count);
        uint8_t *out = images + (size_t)i * bytes;
        if (s->images)
            memcpy(out, s->images + (size_t)rows[i] * bytes, (size_t)run * bytes);
        else if (!h5_read(&src, s->streamed, name, H5T_NATIVE_UINT8, (hsize_t)rows[i], (hsize_t)run,
                          out))
            return false;
    }
    return s->streamed < 0 || unchanged(s, err);
}

bool split_images_subset(const SplitImages *from, const int64_t *rows, int64_t n, SplitImages *out,
                         Error *err) {
    *out = *from;
    out->count = n;
    out->streamed = -1;
    out->labels = xmalloc(sizeof *out->labels * (size_t)(n + 1));
    out->images = xmalloc(image_bytes(from->shape) * (size_t)(n + 1));
    for (int64_t i = 0; i < n; i++) out->labels[i] = from->labels[rows[i]];
    if (split_images_gather(from, rows, n, out->images, err)) return true;
    split_images_close(out);
    return false;
}

void split_images_close(SplitImages *s) {
    if (s->streamed >= 0) H5Dclose(s->streamed);
    free(s->labels), free(s->images);
    s->labels = NULL, s->images = NULL, s->streamed = -1, s->count = 0;
}

void dataset_print_summary(const DatasetFile *ds, FILE *out) {
    const ImageShape *s = &ds->shape;
    fprintf(out, "images %dx%dx%d, %d classes:", s->height, s->width, s->channels, s->num_classes);
    for (int k = 0; k < s->num_classes && k < 12; k++)
        fprintf(out, "%s %s", k ? "," : "", ds->class_names[k]);
    fprintf(out, "%s\n", s->num_classes > 12 ? ", ..." : "");
    for (int i = 0; i < ds->n_splits; i++) {
        const SplitInfo *split = &ds->splits[i];
        fprintf(out, "  %-5s %8lld images  mean", split->name, (long long)split->count);
        for (int c = 0; c < s->channels; c++) fprintf(out, " %.4f", split->mean[c]);
        fprintf(out, "  std");
        for (int c = 0; c < s->channels; c++) fprintf(out, " %.4f", split->std[c]);
        fprintf(out, "  from %s\n", split->source);
    }
}

void images_to_tensor(real *out, const uint8_t *images, int64_t n, ImageShape shape,
                      const double *mean, const double *std) {
    const int64_t pixels = (int64_t)shape.height * shape.width;
    /* One image (the augmenter's case, already inside the loader's threads) is not worth a team. */
#pragma omp parallel for schedule(static) if (n > 1)
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *image = images + i * pixels * shape.channels;
        for (int c = 0; c < shape.channels; c++) {
            real *plane = out + (i * shape.channels + c) * pixels;
            const double scale = 1.0 / (255.0 * std[c]), shift = mean[c] / std[c];
            for (int64_t p = 0; p < pixels; p++)
                plane[p] = (real)(image[p * shape.channels + c] * scale - shift);
        }
    }
}

bool dataset_fits_space(const DatasetFile *d, const Space *space, Error *err) {
    const ImageShape s = d->shape;
    if (s.height == space->image_size && s.width == space->image_size &&
        s.channels == space->in_channels && s.num_classes == space->num_classes)
        return true;
    return input_error(err,
                       "the dataset has %dx%dx%d images in %d classes, the space expects "
                       "%dx%dx%d in %d, %s and %s",
                       s.height, s.width, s.channels, s.num_classes, space->image_size,
                       space->image_size, space->in_channels, space->num_classes, d->artefact.path,
                       space->source);
}
