/* Image folders, the torchvision ImageFolder layout: SRC/<class>/<image> (all of it the train
 * split), or SRC/train/<class>/<image> with optional SRC/val/ and SRC/test/ alike. Classes
 * are train's sub-folders in byte order of their names, so a label never depends on the
 * locale or on the order the file system lists entries in. A class's images are those in its
 * folder and in sub-folders at any depth, ordered as ImageFolder orders them: by the path of
 * their folder, then by name, both bytewise. Hidden entries (names starting with '.') are left
 * out everywhere, where ImageFolder would make `.ipynb_checkpoints` a class, label 0, and shift
 * every other label by one. */
#include "image.h"
#include "import.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    int64_t count, capacity;
    char **paths;
    int32_t *labels;  /* while listing; then the split's */
    ImageShape shape; /* of the images delivered */
    int64_t next;     /* first image not read yet */
} FolderReader;

static int by_name(const struct dirent **a, const struct dirent **b) {
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* ".", ".." and hidden entries (.DS_Store, .ipynb_checkpoints, .git) */
static int not_hidden(const struct dirent *entry) {
    return entry->d_name[0] != '.';
}

typedef struct {
    int n;
    struct dirent **entries;
} Listing;

static bool list_directory(const char *dir, Listing *listing, Error *err) {
    listing->n = scandir(dir, &listing->entries, not_hidden, by_name);
    if (listing->n < 0) return input_error(err, "cannot list the folder: %m, %s", dir);
    return true;
}

static void listing_free(Listing *listing) {
    for (int i = 0; i < listing->n; i++) free(listing->entries[i]);
    free(listing->entries);
}

static void note_skipped(Source *source, const char *path) {
    if (source->skipped++ == 0)
        snprintf(source->first_skipped, sizeof source->first_skipped, "%s", path);
}

static void add_image(FolderReader *r, const char *path, int32_t label) {
    if (r->count == r->capacity) {
        r->capacity = r->capacity ? 2 * r->capacity : 1024;
        r->paths = xrealloc(r->paths, (size_t)r->capacity * sizeof *r->paths);
        r->labels = xrealloc(r->labels, (size_t)r->capacity * sizeof *r->labels);
    }
    r->paths[r->count] = xstrdup(path);
    r->labels[r->count++] = label;
}

/* torchvision's order: sorted(os.walk(class_dir)) orders the folders by their whole path, so
 * "a/b" comes before "a/b-2" and that before "a/b/c"; then each folder's files by name. */
static int by_folder_then_name(const void *a, const void *b) {
    const char *p = *(char *const *)a, *q = *(char *const *)b;
    const size_t p_dir = (size_t)(strrchr(p, '/') - p), q_dir = (size_t)(strrchr(q, '/') - q);
    const int c = memcmp(p, q, p_dir < q_dir ? p_dir : q_dir);
    if (c != 0) return c;
    if (p_dir != q_dir) return p_dir < q_dir ? -1 : 1;
    return strcmp(p + p_dir + 1, q + q_dir + 1);
}

/* The walk of one class folder: folders still to list, and those entered, by device and
 * inode. Symbolic links to folders are followed, as ImageFolder follows them, but never into a
 * folder entered already: a link back up would otherwise loop for ever. */
typedef struct {
    char **pending;
    int n_pending, pending_capacity;
    struct stat *entered;
    int n_entered, entered_capacity;
} ClassWalk;

/* False when the folder was entered already. */
static bool walk_enter(ClassWalk *walk, const char *dir, const struct stat *st) {
    for (int i = 0; i < walk->n_entered; i++)
        if (walk->entered[i].st_dev == st->st_dev && walk->entered[i].st_ino == st->st_ino)
            return false;
    if (walk->n_entered == walk->entered_capacity) {
        walk->entered_capacity = walk->entered_capacity ? 2 * walk->entered_capacity : 16;
        walk->entered =
            xrealloc(walk->entered, (size_t)walk->entered_capacity * sizeof *walk->entered);
    }
    walk->entered[walk->n_entered++] = *st;
    if (walk->n_pending == walk->pending_capacity) {
        walk->pending_capacity = walk->pending_capacity ? 2 * walk->pending_capacity : 16;
        walk->pending =
            xrealloc(walk->pending, (size_t)walk->pending_capacity * sizeof *walk->pending);
    }
    walk->pending[walk->n_pending++] = xstrdup(dir);
    return true;
}

/* One folder of a class: images are kept, sub-folders queued, anything else (other files,
 * links that lead nowhere or to a folder entered already) skipped and counted. */
static bool list_class_folder(Source *source, ClassWalk *walk, const char *dir, int32_t label,
                              FolderReader *r, Error *err) {
    Listing listing;
    if (!list_directory(dir, &listing, err)) return false;
    bool ok = true;
    for (int i = 0; ok && i < listing.n; i++) {
        char path[ARTEFACT_PATH_MAX];
        struct stat st;
        ok = source_join(path, dir, listing.entries[i]->d_name, err);
        if (!ok) break;
        const bool exists = stat(path, &st) == 0;
        if (exists && S_ISDIR(st.st_mode)) {
            if (!walk_enter(walk, path, &st)) note_skipped(source, path);
        } else if (exists && S_ISREG(st.st_mode) && image_file_name(listing.entries[i]->d_name)) {
            add_image(r, path, label);
        } else {
            note_skipped(source, path);
        }
    }
    listing_free(&listing);
    return ok;
}

/* The images of one class folder and its sub-folders, in torchvision's order. */
static bool list_class(Source *source, const char *class_dir, int32_t label, FolderReader *r,
                       Error *err) {
    const int64_t first = r->count;
    ClassWalk walk = {0};
    struct stat st;
    if (stat(class_dir, &st) != 0)
        return input_error(err, "cannot list the folder: %m, %s", class_dir);
    walk_enter(&walk, class_dir, &st);
    bool ok = true;
    while (walk.n_pending > 0) {
        char *dir = walk.pending[--walk.n_pending];
        ok = ok && list_class_folder(source, &walk, dir, label, r, err);
        free(dir);
    }
    free(walk.pending);
    free(walk.entered);
    qsort(r->paths + first, (size_t)(r->count - first), sizeof *r->paths, by_folder_then_name);
    return ok;
}

static int find_class(const Source *source, const char *name) {
    for (int k = 0; k < source->shape.num_classes; k++)
        if (strcmp(source->class_names[k], name) == 0) return k;
    return -1;
}

static int add_class(Source *source, const char *name) {
    int label = source->shape.num_classes++;
    source->class_names =
        xrealloc(source->class_names, (size_t)(label + 1) * sizeof *source->class_names);
    source->class_names[label] = xstrdup(name);
    return label;
}

/* One split folder. For train its sub-folders define the classes; for val and test they
 * must be among them. */
static bool list_split(Source *source, const char *dir, bool defines_classes, FolderReader *r,
                       Error *err) {
    Listing listing;
    if (!list_directory(dir, &listing, err)) return false;
    bool ok = true;
    int class_folders = 0;
    for (int i = 0; ok && i < listing.n; i++) {
        const char *name = listing.entries[i]->d_name;
        char path[ARTEFACT_PATH_MAX];
        ok = source_join(path, dir, name, err);
        if (!ok) break;
        if (!source_is_directory(path)) {
            note_skipped(source, path);
            continue;
        }
        class_folders++;
        int label = defines_classes ? add_class(source, name) : find_class(source, name);
        if (label < 0) {
            ok = input_error(err, "class folder '%s' is not among the classes of train, %s", name,
                             path);
            break;
        }
        int64_t before = r->count;
        ok = list_class(source, path, label, r, err);
        if (ok && defines_classes && r->count == before)
            ok = input_error(err, "a class folder without images, %s", path);
    }
    listing_free(&listing);
    if (ok && class_folders == 0)
        ok = input_error(err,
                         "no class folders (expected SRC/CLASS/IMAGE or "
                         "SRC/train/CLASS/IMAGE), %s",
                         dir);
    if (ok && r->count == 0) ok = input_error(err, "no images in the class folders, %s", dir);
    return ok;
}

/* ---- decoding, in parallel; the first failure in file order is the one reported ---- */

typedef struct {
    int64_t index; /* of the failed file; INT64_MAX when none failed */
    Error error;
} FirstFailure;

static void record_failure(FirstFailure *first, int64_t index, const Error *error) {
#pragma omp critical(prenas_folder_failure)
    if (index < first->index) {
        first->index = index;
        first->error = *error;
    }
}

static bool report_failure(const FirstFailure *first, Error *err) {
    if (first->index == INT64_MAX) return true;
    return error_set(err, first->error.code, "%s", first->error.message);
}

static bool folder_read_next(SourceSplit *split, int64_t n, uint8_t *images, Error *err) {
    FolderReader *r = split->reader;
    const ImageShape s = r->shape;
    const size_t image_bytes = (size_t)s.height * (size_t)s.width * (size_t)s.channels;
    FirstFailure first = {.index = INT64_MAX};
#pragma omp parallel for schedule(dynamic)
    for (int64_t i = 0; i < n; i++) {
        Error error = {0};
        if (!image_load(r->paths[r->next + i], s.height, s.width, s.channels,
                        images + (size_t)i * image_bytes, &error))
            record_failure(&first, i, &error);
    }
    r->next += n;
    return report_failure(&first, err);
}

static void folder_close_reader(SourceSplit *split) {
    FolderReader *r = split->reader;
    for (int64_t i = 0; i < r->count; i++) free(r->paths[i]);
    free(r->paths);
    free(r->labels);
    free(r);
    split->reader = NULL;
}

/* Without --size every image must already have one square size, which becomes the size. */
static bool common_square_size(Source *source, int *size, Error *err) {
    const char *first_path = NULL;
    int first_width = 0, first_height = 0;
    for (int s = 0; s < source->n_splits; s++) {
        const FolderReader *r = source->splits[s].reader;
        int *widths = xmalloc((size_t)r->count * sizeof *widths);
        int *heights = xmalloc((size_t)r->count * sizeof *heights);
        FirstFailure failure = {.index = INT64_MAX};
#pragma omp parallel for schedule(dynamic, 16)
        for (int64_t i = 0; i < r->count; i++) {
            Error error = {0};
            if (!image_probe(r->paths[i], &widths[i], &heights[i], &error))
                record_failure(&failure, i, &error);
        }
        bool ok = report_failure(&failure, err);
        for (int64_t i = 0; ok && i < r->count; i++) {
            if (!first_path) {
                first_path = r->paths[i];
                first_width = widths[i];
                first_height = heights[i];
            }
            if (widths[i] != first_width || heights[i] != first_height)
                ok = input_error(err, "images differ in size (%dx%d: %s; %dx%d: %s); give --size",
                                 first_width, first_height, first_path, widths[i], heights[i],
                                 r->paths[i]);
        }
        free(widths);
        free(heights);
        if (!ok) return false;
    }
    if (first_width != first_height)
        return input_error(err, "the images are %dx%d, not square; give --size, %s", first_width,
                           first_height, first_path);
    *size = first_width;
    return true;
}

static bool add_split(Source *source, const char *name, const char *dir, bool defines_classes,
                      Error *err) {
    FolderReader *r = xcalloc(1, sizeof *r);
    int classes_before = source->shape.num_classes;
    if (!list_split(source, dir, defines_classes, r, err)) {
        SourceSplit failed = {.reader = r};
        folder_close_reader(&failed);
        return false;
    }
    SourceSplit *split = source_add_split(source, name, r->count);
    memcpy(split->labels, r->labels, (size_t)r->count * sizeof *r->labels);
    free(r->labels);
    r->labels = NULL;
    int class_count = defines_classes ? source->shape.num_classes - classes_before : 0;
    if (class_count)
        snprintf(split->origin, sizeof split->origin, "folder %s (%lld images in %d classes)", dir,
                 (long long)r->count, class_count);
    else
        snprintf(split->origin, sizeof split->origin, "folder %s (%lld images)", dir,
                 (long long)r->count);
    split->reader = r;
    split->read_next = folder_read_next;
    split->close_reader = folder_close_reader;
    return true;
}

/* SRC/train/ makes SRC a folder of splits; beside it only val/ and test/ may be folders. */
static bool list_split_folders(Source *source, const char *src, Error *err) {
    static const char *const names[] = {"train", "val", "test"};
    Listing listing;
    if (!list_directory(src, &listing, err)) return false;
    bool ok = true;
    for (int i = 0; ok && i < listing.n; i++) {
        const char *name = listing.entries[i]->d_name;
        char path[ARTEFACT_PATH_MAX];
        ok = source_join(path, src, name, err);
        if (ok && !source_is_directory(path))
            note_skipped(source, path);
        else if (ok && strcmp(name, "val") != 0 && strcmp(name, "test") != 0 &&
                 strcmp(name, "train") != 0)
            ok = input_error(err, "a folder beside train/ that is not val/ or test/, %s", path);
    }
    listing_free(&listing);
    for (size_t s = 0; ok && s < sizeof names / sizeof *names; s++) {
        char dir[ARTEFACT_PATH_MAX];
        ok = source_join(dir, src, names[s], err);
        if (ok && source_is_directory(dir)) ok = add_split(source, names[s], dir, s == 0, err);
    }
    return ok;
}

bool folder_open(Source *source, const SourceOptions *options, Error *err) {
    char train_dir[ARTEFACT_PATH_MAX];
    if (!source_join(train_dir, options->path, "train", err)) return false;
    bool ok = source_is_directory(train_dir) ? list_split_folders(source, options->path, err)
                                             : add_split(source, "train", options->path, true, err);
    int size = options->size;
    if (ok && !size) ok = common_square_size(source, &size, err);
    if (!ok) return false;
    source->shape.height = source->shape.width = size;
    source->shape.channels = options->channels ? options->channels : 3;
    for (int s = 0; s < source->n_splits; s++) {
        FolderReader *r = source->splits[s].reader;
        r->shape = source->shape;
        source->splits[s].native = source->shape;
    }
    return true;
}
