/* IDX files (the MNIST / Fashion-MNIST format): the magic 0x00 0x00 0x08 NDIM, NDIM
 * big-endian 32-bit dimensions, then the unsigned bytes, row-major. zlib's gz reader passes
 * uncompressed files through, so one code path reads both FILE and FILE.gz. */
#include "import.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum { IDX_TYPE_UBYTE = 0x08, IDX_MAX_DIMS = 3, IDX_MAX_RECORD_BYTES = 1 << 26 };

typedef struct {
    gzFile file;
    char path[ARTEFACT_PATH_MAX];
    uint32_t dims[IDX_MAX_DIMS];
    uint64_t record_bytes, payload_bytes, consumed; /* consumed: payload bytes read so far */
} IdxFile;

static uint32_t big_endian_u32(const uint8_t *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

typedef enum { READ_ALL, READ_SHORT, READ_DAMAGED } ReadResult;

/* `n` bytes (READ_ALL); READ_SHORT when the data ends cleanly before, READ_DAMAGED (an
 * input error) when the gzip stream is damaged or cut. */
static ReadResult idx_read_exact(IdxFile *f, uint8_t *out, uint64_t n, uint64_t *got_total,
                                 Error *err) {
    *got_total = 0;
    while (*got_total < n) {
        uint64_t left = n - *got_total;
        unsigned want = left > (1u << 30) ? 1u << 30 : (unsigned)left;
        int got = gzread(f->file, out + *got_total, want);
        if (got > 0) *got_total += (uint64_t)got;
        if (got == (int)want) continue;
        int code;
        const char *message = gzerror(f->file, &code);
        if (code == Z_OK) return READ_SHORT;
        /* zlib's words ("unexpected end of file", "incorrect data check"), after the path
         * it puts in front of them */
        size_t path_length = strlen(f->path);
        if (strncmp(message, f->path, path_length) == 0 && message[path_length] == ':')
            message += path_length + 2;
        input_error(err, "damaged or truncated gzip stream (%s), %s", message, f->path);
        return READ_DAMAGED;
    }
    return READ_ALL;
}

static bool idx_open_file(IdxFile *f, const char *path, int ndim, Error *err) {
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    f->file = gzopen(path, "rb");
    if (!f->file) return input_error(err, "cannot open: %m, %s", path);
    /* Larger reads than zlib's default 8 KiB: fewer calls on a 47 MB payload. */
    if (gzbuffer(f->file, 1u << 18) != 0)
        fatal_at(__FILE__, __LINE__, "gzbuffer refused 256 KiB for %s", path);
    uint8_t header[4 + 4 * IDX_MAX_DIMS];
    uint64_t got;
    const uint64_t header_bytes = 4 + 4 * (uint64_t)ndim;
    ReadResult result = idx_read_exact(f, header, header_bytes, &got, err);
    if (result == READ_DAMAGED) return false;
    if (result == READ_SHORT)
        return input_error(err, "truncated: %llu of the %llu header bytes, %s",
                           (unsigned long long)got, (unsigned long long)header_bytes, path);
    uint32_t magic = big_endian_u32(header), expected = IDX_TYPE_UBYTE << 8 | (uint32_t)ndim;
    if (magic != expected)
        return input_error(err,
                           "bad magic number 0x%08x, expected 0x%08x (unsigned bytes, %d "
                           "dimensions), %s",
                           magic, expected, ndim, path);
    f->record_bytes = 1;
    for (int i = 0; i < ndim; i++) {
        f->dims[i] = big_endian_u32(header + 4 + 4 * i);
        if (f->dims[i] == 0) return input_error(err, "dimension %d is 0, %s", i, path);
        if (i > 0) f->record_bytes *= f->dims[i];
        if (f->record_bytes > IDX_MAX_RECORD_BYTES)
            return input_error(err, "implausible record size of %llu bytes, %s",
                               (unsigned long long)f->record_bytes, path);
    }
    f->payload_bytes = f->dims[0] * f->record_bytes;
    return true;
}

static bool idx_close_file(IdxFile *f, Error *err) {
    int rc = gzclose_r(f->file);
    f->file = NULL;
    if (rc != Z_OK) return input_error(err, "cannot close (zlib error %d), %s", rc, f->path);
    return true;
}

/* The next `count` records; after the last one, checks that nothing follows and closes. */
static bool idx_read_records(IdxFile *f, uint8_t *out, uint64_t count, Error *err) {
    uint64_t got;
    ReadResult result = idx_read_exact(f, out, count * f->record_bytes, &got, err);
    f->consumed += got;
    if (result == READ_DAMAGED) return false;
    if (result == READ_SHORT)
        return input_error(err,
                           "truncated: the data ends in record %llu of %u (%llu of %llu "
                           "bytes), %s",
                           (unsigned long long)(f->consumed / f->record_bytes), f->dims[0],
                           (unsigned long long)f->consumed, (unsigned long long)f->payload_bytes,
                           f->path);
    if (f->consumed < f->payload_bytes) return true;
    uint8_t extra;
    /* Reading on also makes zlib check the stream's CRC and length trailer. */
    result = idx_read_exact(f, &extra, 1, &got, err);
    if (result == READ_ALL)
        return input_error(err, "trailing bytes after the %llu bytes of data, %s",
                           (unsigned long long)f->payload_bytes, f->path);
    return result == READ_SHORT && idx_close_file(f, err);
}

static bool idx_read_next(SourceSplit *split, int64_t n, uint8_t *images, Error *err) {
    return idx_read_records(split->reader, images, (uint64_t)n, err);
}

static void idx_close_reader(SourceSplit *split) {
    IdxFile *f = split->reader;
    if (f->file) gzclose_r(f->file); /* only reached when reading stopped early */
    free(f);
    split->reader = NULL;
}

/* DIR/BASE, else DIR/BASE.gz: raw first, because it needs no decompression (torchvision
 * keeps both side by side). */
static bool find_idx(const char *dir, const char *base, char *path, Error *err) {
    char gz[ARTEFACT_PATH_MAX];
    snprintf(gz, sizeof gz, "%s.gz", base);
    return (source_join(path, dir, base, err) && source_is_file(path)) ||
           (source_join(path, dir, gz, err) && source_is_file(path));
}

/* Labels are read a block at a time so that memory follows the data, not what the header
 * claims: a 9-byte file can claim 4 billion labels, and is then reported as truncated. */
enum { IDX_LABEL_BLOCK = 1 << 16 };

static bool read_labels(const char *path, int num_classes, uint32_t *count, int32_t **labels_out,
                        Error *err) {
    IdxFile f;
    bool ok = idx_open_file(&f, path, 1, err);
    uint8_t *bytes = NULL;
    for (uint64_t have = 0; ok && have < f.dims[0];) {
        const uint64_t n = f.dims[0] - have < IDX_LABEL_BLOCK ? f.dims[0] - have : IDX_LABEL_BLOCK;
        bytes = xrealloc(bytes, have + n);
        ok = idx_read_records(&f, bytes + have, n, err);
        have += n;
    }
    if (f.file) gzclose_r(f.file); /* stopped by an error already reported */
    int32_t *labels = ok ? xmalloc(f.dims[0] * sizeof *labels) : NULL;
    for (uint32_t i = 0; ok && i < f.dims[0]; i++) labels[i] = bytes[i];
    ok = ok && source_check_labels(labels, f.dims[0], 0, num_classes, path, err);
    free(bytes);
    if (!ok) {
        free(labels);
        return false;
    }
    *count = f.dims[0];
    *labels_out = labels;
    return true;
}

/* One split from its images and labels files; the images file stays open for reading. */
static bool open_split(Source *source, const char *name, const char *image_path,
                       const char *label_path, Error *err) {
    uint32_t label_count;
    int32_t *labels;
    if (!read_labels(label_path, source->shape.num_classes, &label_count, &labels, err))
        return false;
    IdxFile *images = xmalloc(sizeof *images);
    bool ok = idx_open_file(images, image_path, 3, err);
    if (ok && images->dims[0] != label_count)
        ok = input_error(err, "%u images but %u labels in %s, %s", images->dims[0], label_count,
                         label_path, image_path);
    if (!ok) {
        if (images->file) gzclose_r(images->file);
        free(images);
        free(labels);
        return false;
    }
    SourceSplit *split = source_add_split(source, name, label_count);
    memcpy(split->labels, labels, label_count * sizeof *labels);
    free(labels);
    split->native = (ImageShape){(int)images->dims[1], (int)images->dims[2], 1, 0};
    char image_copy[ARTEFACT_PATH_MAX], label_copy[ARTEFACT_PATH_MAX];
    snprintf(image_copy, sizeof image_copy, "%s", image_path);
    snprintf(label_copy, sizeof label_copy, "%s", label_path);
    snprintf(split->origin, sizeof split->origin, "%s, %s", basename(image_copy),
             basename(label_copy));
    split->reader = images;
    split->read_next = idx_read_next;
    split->close_reader = idx_close_reader;
    source_add_file(source, "source", image_path);
    source_add_file(source, "source", label_path);
    return true;
}

bool idx_open(Source *source, const SourceOptions *options, Error *err) {
    if (options->class_names_path) {
        if (!source_read_class_names(source, options->class_names_path, 0, err)) return false;
        source_add_file(source, "class_names", options->class_names_path);
    } else {
        source_number_classes(source, 10);
    }
    static const char *const splits[][2] = {{"train", "train"}, {"test", "t10k"}};
    for (size_t s = 0; s < sizeof splits / sizeof *splits; s++) {
        char images_base[64], labels_base[64];
        char image_path[ARTEFACT_PATH_MAX], label_path[ARTEFACT_PATH_MAX];
        snprintf(images_base, sizeof images_base, "%s-images-idx3-ubyte", splits[s][1]);
        snprintf(labels_base, sizeof labels_base, "%s-labels-idx1-ubyte", splits[s][1]);
        bool have_images = find_idx(options->path, images_base, image_path, err);
        bool have_labels = find_idx(options->path, labels_base, label_path, err);
        if (err->code) return false;
        bool required = s == 0; /* a test split is optional, half of one is a mistake */
        if (!have_images && !have_labels && !required) continue;
        if (!have_images || !have_labels) {
            const char *missing = have_images ? labels_base : images_base;
            return input_error(err, "no %s or %s.gz, %s", missing, missing, options->path);
        }
        if (!open_split(source, splits[s][0], image_path, label_path, err)) return false;
    }
    const ImageShape train = source->splits[0].native;
    for (int s = 1; s < source->n_splits; s++) {
        const ImageShape other = source->splits[s].native;
        if (other.height != train.height || other.width != train.width)
            return input_error(err, "%s images are %dx%d but train images %dx%d, %s",
                               source->splits[s].name, other.height, other.width, train.height,
                               train.width, options->path);
    }
    source_set_shape(source, train, options);
    return true;
}
