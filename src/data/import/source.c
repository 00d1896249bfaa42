#include "import.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void source_init(Source *source) {
    memset(source, 0, sizeof *source);
}

bool source_open(Source *source, const SourceOptions *options, Error *err) {
    source_init(source);
    if (!source_is_directory(options->path))
        return input_error(err, "the source is not a directory, %s", options->path);
    bool ok = false;
    switch (options->format) {
    case SOURCE_IDX:
        ok = idx_open(source, options, err);
        break;
    case SOURCE_CIFAR:
        ok = cifar_open(source, options, err);
        break;
    case SOURCE_FOLDER:
        ok = folder_open(source, options, err);
        break;
    }
    if (!ok) source_close(source);
    return ok;
}

void source_close(Source *source) {
    for (int s = 0; s < source->n_splits; s++) {
        SourceSplit *split = &source->splits[s];
        if (split->close_reader) split->close_reader(split);
        free(split->labels);
    }
    for (int k = 0; source->class_names && k < source->shape.num_classes; k++)
        free(source->class_names[k]);
    free(source->class_names);
    for (int i = 0; i < source->n_files; i++) free(source->files[i].path);
    source_init(source);
}

SourceSplit *source_split(Source *source, const char *name) {
    for (int s = 0; s < source->n_splits; s++)
        if (strcmp(source->splits[s].name, name) == 0) return &source->splits[s];
    return NULL;
}

void source_add_file(Source *source, const char *role, const char *path) {
    if (source->n_files == SOURCE_MAX_FILES)
        fatal_at(__FILE__, __LINE__, "more than %d source files", SOURCE_MAX_FILES);
    SourceFile *file = &source->files[source->n_files++];
    snprintf(file->role, sizeof file->role, "%s", role);
    file->path = xstrdup(path);
}

SourceSplit *source_add_split(Source *source, const char *name, int64_t count) {
    if (source->n_splits == DATASET_MAX_SPLITS)
        fatal_at(__FILE__, __LINE__, "more than %d splits", DATASET_MAX_SPLITS);
    SourceSplit *split = &source->splits[source->n_splits++];
    memset(split, 0, sizeof *split);
    snprintf(split->name, sizeof split->name, "%s", name);
    split->count = count;
    split->labels = xmalloc((size_t)count * sizeof *split->labels);
    return split;
}

void source_number_classes(Source *source, int count) {
    source->shape.num_classes = count;
    source->class_names = xmalloc((size_t)count * sizeof *source->class_names);
    for (int k = 0; k < count; k++) {
        char name[16];
        snprintf(name, sizeof name, "%d", k);
        source->class_names[k] = xstrdup(name);
    }
}

/* Without the line end and surrounding blanks (files written on Windows end in \r\n). */
static char *trim(char *line) {
    size_t n = strlen(line);
    while (n > 0 && strchr(" \t\r\n", line[n - 1])) line[--n] = '\0';
    while (*line == ' ' || *line == '\t') line++;
    return line;
}

bool source_read_class_names(Source *source, const char *path, int expected, Error *err) {
    FILE *file = fopen(path, "r");
    if (!file) return input_error(err, "cannot open the class names: %m, %s", path);
    char **names = NULL;
    int count = 0, blank_line = 0, line_number = 0;
    bool ok = true;
    char *line = NULL;
    size_t capacity = 0;
    while (ok && getline(&line, &capacity, file) >= 0) {
        line_number++;
        char *name = trim(line);
        if (!*name) {
            if (!blank_line) blank_line = line_number;
            continue;
        }
        /* A blank line followed by more names is a mistake; blank lines at the end are not. */
        if (blank_line)
            ok = input_error(err, "class names: line %d is empty, %s", blank_line, path);
        else {
            names = xrealloc(names, (size_t)(count + 1) * sizeof *names);
            names[count++] = xstrdup(name);
        }
    }
    if (ok && ferror(file)) ok = input_error(err, "read error: %m, %s", path);
    free(line);
    if (fclose(file) != 0 && ok) ok = input_error(err, "cannot close: %m, %s", path);
    if (ok && count == 0) ok = input_error(err, "no class names, %s", path);
    if (ok && expected > 0 && count != expected)
        ok = input_error(err, "%d class names for the %d classes of the source, %s", count,
                         expected, path);
    if (!ok) {
        for (int k = 0; k < count; k++) free(names[k]);
        free(names);
        return false;
    }
    source->class_names = names;
    source->shape.num_classes = count;
    return true;
}

void source_set_shape(Source *source, ImageShape native, const SourceOptions *options) {
    source->shape.height = options->size ? options->size : native.height;
    source->shape.width = options->size ? options->size : native.width;
    source->shape.channels = options->channels ? options->channels : native.channels;
}

bool source_check_labels(const int32_t *labels, int64_t count, int64_t first_record,
                         int num_classes, const char *path, Error *err) {
    for (int64_t i = 0; i < count; i++)
        if (labels[i] < 0 || labels[i] >= num_classes)
            return input_error(err, "label %d of record %lld is outside [0, %d), %s", labels[i],
                               (long long)(first_record + i), num_classes, path);
    return true;
}

bool source_join(char *out, const char *dir, const char *name, Error *err) {
    if (snprintf(out, ARTEFACT_PATH_MAX, "%s/%s", dir, name) >= ARTEFACT_PATH_MAX)
        return input_error(err, "path too long, %s/%s", dir, name);
    return true;
}

bool source_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool source_is_directory(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}
