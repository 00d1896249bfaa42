/* CIFAR binary batches: fixed-size records of label byte(s) and then 3072 pixel bytes, the
 * 32x32 red, green and blue planes one after the other (CHW). CIFAR-10 records carry one
 * label; CIFAR-100 records a coarse and a fine one, of which the fine (100 classes) is used. */
#include "import.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { CIFAR_SIDE = 32, CIFAR_PLANE = CIFAR_SIDE * CIFAR_SIDE, CIFAR_PIXELS = 3 * CIFAR_PLANE };

typedef struct {
    const char *name;
    int label_bytes, num_classes;
    const char *const *train_files;
    int n_train_files;
    const char *test_file, *class_names_file;
} CifarLayout;

static const char *const CIFAR10_TRAIN[] = {"data_batch_1.bin", "data_batch_2.bin",
                                            "data_batch_3.bin", "data_batch_4.bin",
                                            "data_batch_5.bin"};
static const char *const CIFAR100_TRAIN[] = {"train.bin"};
static const CifarLayout CIFAR10 = {.name = "CIFAR-10",
                                    .label_bytes = 1,
                                    .num_classes = 10,
                                    .train_files = CIFAR10_TRAIN,
                                    .n_train_files = 5,
                                    .test_file = "test_batch.bin",
                                    .class_names_file = "batches.meta.txt"};
static const CifarLayout CIFAR100 = {.name = "CIFAR-100",
                                     .label_bytes = 2,
                                     .num_classes = 100,
                                     .train_files = CIFAR100_TRAIN,
                                     .n_train_files = 1,
                                     .test_file = "test.bin",
                                     .class_names_file = "fine_label_names.txt"};

typedef struct {
    int label_bytes, n_files;
    char **paths;
    int64_t *records; /* per file */
    int current;      /* file being read */
    FILE *file;
    int64_t record_in_file;
    uint8_t record[2 + CIFAR_PIXELS];
} CifarReader;

static int64_t record_bytes(const CifarReader *r) {
    return r->label_bytes + CIFAR_PIXELS;
}

static bool cifar_read_next(SourceSplit *split, int64_t n, uint8_t *images, Error *err) {
    CifarReader *r = split->reader;
    for (int64_t i = 0; i < n; i++) {
        const char *path = r->paths[r->current];
        if (!r->file) {
            r->file = fopen(path, "rb");
            if (!r->file) return input_error(err, "cannot open: %m, %s", path);
            r->record_in_file = 0;
        }
        if (fread(r->record, (size_t)record_bytes(r), 1, r->file) != 1)
            return input_error(err, "%s in record %lld (changed since it was opened?), %s",
                               ferror(r->file) ? "read error" : "truncated",
                               (long long)r->record_in_file, path);
        const uint8_t *planes = r->record + r->label_bytes;
        uint8_t *out = images + i * CIFAR_PIXELS;
        for (int p = 0; p < CIFAR_PLANE; p++)
            for (int c = 0; c < 3; c++) out[3 * p + c] = planes[c * CIFAR_PLANE + p];
        if (++r->record_in_file == r->records[r->current]) {
            int rc = fclose(r->file);
            r->file = NULL;
            if (rc != 0) return input_error(err, "cannot close: %m, %s", path);
            r->current++;
        }
    }
    return true;
}

static void cifar_close_reader(SourceSplit *split) {
    CifarReader *r = split->reader;
    if (r->file) fclose(r->file); /* reading stopped early, on an error already reported */
    for (int i = 0; i < r->n_files; i++) free(r->paths[i]);
    free(r->paths);
    free(r->records);
    free(r);
    split->reader = NULL;
}

/* Records in the file, from its size. */
static bool count_records(const char *path, int64_t record_size, int64_t *records, Error *err) {
    struct stat st;
    if (stat(path, &st) != 0) return input_error(err, "cannot open: %m, %s", path);
    if (st.st_size == 0) return input_error(err, "empty file, %s", path);
    if (st.st_size % record_size != 0)
        return input_error(err,
                           "truncated: %lld bytes is not a whole number of %lld-byte records, %s",
                           (long long)st.st_size, (long long)record_size, path);
    *records = st.st_size / record_size;
    return true;
}

/* The label of every record, read in place: the pixels are read later, once. */
static bool read_labels(const char *path, const CifarLayout *layout, int64_t records,
                        int32_t *labels, Error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return input_error(err, "cannot open: %m, %s", path);
    const int64_t size = layout->label_bytes + CIFAR_PIXELS;
    bool ok = true;
    for (int64_t r = 0; ok && r < records; r++) {
        uint8_t label[2];
        ssize_t got = pread(fd, label, (size_t)layout->label_bytes, r * size);
        if (got != layout->label_bytes)
            ok = input_error(err, "cannot read record %lld: %s, %s", (long long)r,
                             got < 0 ? "read error" : "the file shrank", path);
        else
            labels[r] = label[layout->label_bytes - 1]; /* CIFAR-100: the fine label */
    }
    if (close(fd) != 0 && ok) ok = input_error(err, "cannot close: %m, %s", path);
    return ok && source_check_labels(labels, records, 0, layout->num_classes, path, err);
}

static bool open_split(Source *source, const CifarLayout *layout, const char *dir, const char *name,
                       const char *const *files, int n_files, Error *err) {
    CifarReader *r = xcalloc(1, sizeof *r);
    r->label_bytes = layout->label_bytes;
    r->n_files = n_files;
    r->paths = xcalloc((size_t)n_files, sizeof *r->paths);
    r->records = xcalloc((size_t)n_files, sizeof *r->records);
    int64_t total = 0;
    bool ok = true;
    for (int i = 0; ok && i < n_files; i++) {
        char path[ARTEFACT_PATH_MAX];
        ok = source_join(path, dir, files[i], err) &&
             count_records(path, record_bytes(r), &r->records[i], err);
        if (ok) r->paths[i] = xstrdup(path);
        total += r->records[i];
    }
    int32_t *labels = ok ? xmalloc((size_t)total * sizeof *labels) : NULL;
    for (int i = 0, first = 0; ok && i < n_files; first += (int)r->records[i], i++)
        ok = read_labels(r->paths[i], layout, r->records[i], labels + first, err);
    if (!ok) {
        SourceSplit failed = {.reader = r};
        cifar_close_reader(&failed);
        free(labels);
        return false;
    }
    SourceSplit *split = source_add_split(source, name, total);
    memcpy(split->labels, labels, (size_t)total * sizeof *labels);
    free(labels);
    split->native = (ImageShape){CIFAR_SIDE, CIFAR_SIDE, 3, 0};
    if (n_files == 1)
        snprintf(split->origin, sizeof split->origin, "%s %s", layout->name, files[0]);
    else
        snprintf(split->origin, sizeof split->origin, "%s %s .. %s", layout->name, files[0],
                 files[n_files - 1]);
    split->reader = r;
    split->read_next = cifar_read_next;
    split->close_reader = cifar_close_reader;
    for (int i = 0; i < n_files; i++) source_add_file(source, "source", r->paths[i]);
    return true;
}

static bool has_file(const char *dir, const char *name, Error *err) {
    char path[ARTEFACT_PATH_MAX];
    return source_join(path, dir, name, err) && source_is_file(path);
}

static bool read_class_names(Source *source, const CifarLayout *layout,
                             const SourceOptions *options, Error *err) {
    char path[ARTEFACT_PATH_MAX];
    if (options->class_names_path)
        snprintf(path, sizeof path, "%s", options->class_names_path);
    else if (!source_join(path, options->path, layout->class_names_file, err))
        return false;
    else if (!source_is_file(path)) {
        source_number_classes(source, layout->num_classes);
        return true;
    }
    if (!source_read_class_names(source, path, layout->num_classes, err)) return false;
    source_add_file(source, "class_names", path);
    return true;
}

bool cifar_open(Source *source, const SourceOptions *options, Error *err) {
    const char *dir = options->path;
    bool is_10 = has_file(dir, CIFAR10.train_files[0], err);
    bool is_100 = has_file(dir, CIFAR100.train_files[0], err);
    if (is_10 && is_100)
        return input_error(err, "both CIFAR-10 (%s) and CIFAR-100 (%s) batches, %s",
                           CIFAR10.train_files[0], CIFAR100.train_files[0], dir);
    if (!is_10 && !is_100)
        return input_error(err, "no CIFAR-10 (%s) or CIFAR-100 (%s) batches, %s",
                           CIFAR10.train_files[0], CIFAR100.train_files[0], dir);
    const CifarLayout *layout = is_10 ? &CIFAR10 : &CIFAR100;
    for (int i = 1; i < layout->n_train_files; i++)
        if (!has_file(dir, layout->train_files[i], err))
            return input_error(err, "%s %s is missing, %s", layout->name, layout->train_files[i],
                               dir);
    if (!read_class_names(source, layout, options, err) ||
        !open_split(source, layout, dir, "train", layout->train_files, layout->n_train_files, err))
        return false;
    bool has_test = has_file(dir, layout->test_file, err);
    if (has_test && !open_split(source, layout, dir, "test", &layout->test_file, 1, err))
        return false;
    source_set_shape(source, source->splits[0].native, options);
    return err->code == 0;
}
