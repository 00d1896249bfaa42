/* Streaming a Source into dataset.h5, a block of images at a time: memory stays bounded by
 * the block whatever the size of the dataset. */
#include "image.h"
#include "import.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { PROGRESS_INTERVAL_S = 5 };

static double seconds_now(void) {
    struct timespec t;
    CHECK_SYS(clock_gettime(CLOCK_MONOTONIC, &t));
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
    int64_t done, total;
    double start, last_line;
} Progress;

/* One line per interval rather than a redrawn bar, so that logs (Slurm's) stay readable. */
static void progress_advance(Progress *p, int64_t n) {
    p->done += n;
    double now = seconds_now();
    if (now - p->last_line < PROGRESS_INTERVAL_S || p->done == p->total) return;
    p->last_line = now;
    double rate = (double)p->done / (now - p->start);
    fprintf(stderr, "%s: %lld/%lld images, %.0f img/s, ETA %.0f s\n", program_invocation_short_name,
            (long long)p->done, (long long)p->total, rate, (double)(p->total - p->done) / rate);
}

/* About 2 MiB of pixels: two HDF5 chunks, so that HDF5 and zlib calls are few, yet small
 * enough that progress lines come every few seconds when images are slow to decode; and at
 * least 256 images, so that decoding a block keeps every core busy. */
/* Rows per block: 2 MiB of images, at least 256 rows for throughput, but never more than
 * 64 MiB: an IDX header can claim records of up to 64 MiB, and a block of 256 of those would
 * be 16 GiB. `bytes`: the larger of a source image and a packed one. */
static int64_t block_rows(size_t bytes) {
    const int64_t rows = (int64_t)((2u << 20) / bytes), most = (int64_t)((64u << 20) / bytes);
    if (rows >= 256) return rows;
    return most < 1 ? 1 : most < 256 ? most : 256;
}

static void fit_block(uint8_t *native, ImageShape in, int64_t n, uint8_t *out, ImageShape shape) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        Image image = {.pixels = native + (size_t)i * image_bytes(in),
                       .width = in.width,
                       .height = in.height,
                       .pixel_stride = in.channels,
                       .channels = in.channels};
        image_fit(&image, shape.height, shape.width, shape.channels,
                  out + (size_t)i * image_bytes(shape));
    }
}

/* The rows of a block, with their labels and positions in the source split. */
typedef struct {
    uint8_t *images;
    int32_t *labels;
    int64_t *source_index, n;
} Rows;

static Rows rows_alloc(int64_t capacity, ImageShape shape) {
    return (Rows){.images = xmalloc((size_t)capacity * image_bytes(shape)),
                  .labels = xmalloc((size_t)capacity * sizeof(int32_t)),
                  .source_index = xmalloc((size_t)capacity * sizeof(int64_t))};
}

static void rows_free(Rows *rows) {
    free(rows->images);
    free(rows->labels);
    free(rows->source_index);
}

/* One source split into `keep`, except the images `is_val` marks, which go to `held`
 * (when given); both keep the source order. */
static bool stream_split(SourceSplit *split, ImageShape shape, SplitWriter *keep, SplitWriter *held,
                         const uint8_t *is_val, Progress *progress, Error *err) {
    const size_t bytes = image_bytes(shape);
    const int64_t block =
        block_rows(bytes > image_bytes(split->native) ? bytes : image_bytes(split->native));
    const bool fit = split->native.height != shape.height || split->native.width != shape.width ||
                     split->native.channels != shape.channels;
    uint8_t *native = fit ? xmalloc((size_t)block * image_bytes(split->native)) : NULL;
    Rows kept = rows_alloc(block, shape), moved = held ? rows_alloc(block, shape) : (Rows){0};
    bool ok = true;
    for (int64_t first = 0; ok && first < split->count; first += block) {
        int64_t n = split->count - first < block ? split->count - first : block;
        ok = split->read_next(split, n, fit ? native : kept.images, err);
        if (!ok) break;
        if (fit) fit_block(native, split->native, n, kept.images, shape);
        kept.n = moved.n = 0;
        for (int64_t i = 0; i < n; i++) {
            const int64_t index = first + i;
            Rows *to = held && is_val[index] ? &moved : &kept;
            /* Kept rows only ever move towards the front of the block they are in. */
            if (to != &kept || kept.n != i)
                memmove(to->images + (size_t)to->n * bytes, kept.images + (size_t)i * bytes, bytes);
            to->labels[to->n] = split->labels[index];
            to->source_index[to->n++] = index;
        }
        split_writer_append(keep, kept.images, kept.labels, kept.source_index, kept.n);
        if (held)
            split_writer_append(held, moved.images, moved.labels, moved.source_index, moved.n);
        progress_advance(progress, n);
    }
    free(native);
    rows_free(&kept);
    if (held) rows_free(&moved);
    return ok;
}

static bool finish_split(SplitWriter *writer, bool ok) {
    if (ok)
        split_writer_close(writer);
    else
        split_writer_discard(writer);
    return ok;
}

/* train and val from the source's train split, as the holdout divides it. */
static bool write_holdout(hid_t file, Source *source, const Holdout *holdout, Progress *progress,
                          Error *err) {
    SourceSplit *train = &source->splits[0];
    char percent[32], train_origin[1024], val_origin[1024];
    snprintf(percent, sizeof percent, "%g%%", 100 * holdout->fraction);
    snprintf(train_origin, sizeof train_origin,
             "%s, without the %s held out for val (stratified, seed %llu)", train->origin, percent,
             (unsigned long long)holdout->seed);
    snprintf(val_origin, sizeof val_origin, "%s of %s, stratified, seed %llu", percent,
             train->origin, (unsigned long long)holdout->seed);
    SplitWriter keep = split_writer_open(file, "train", source->shape,
                                         train->count - holdout->val_count, train_origin);
    SplitWriter held =
        split_writer_open(file, "val", source->shape, holdout->val_count, val_origin);
    bool ok = stream_split(train, source->shape, &keep, &held, holdout->is_val, progress, err);
    finish_split(&keep, ok);
    return finish_split(&held, ok);
}

bool pack_write(hid_t file, Source *source, const Holdout *holdout, PackTotals *totals,
                Error *err) {
    dataset_write_header(file, source->shape, (const char *const *)source->class_names);
    Progress progress = {.start = seconds_now()};
    progress.last_line = progress.start;
    for (int s = 0; s < source->n_splits; s++) progress.total += source->splits[s].count;
    bool ok = !holdout || write_holdout(file, source, holdout, &progress, err);
    for (int s = holdout ? 1 : 0; ok && s < source->n_splits; s++) {
        SourceSplit *split = &source->splits[s];
        char origin[1024];
        snprintf(origin, sizeof origin, "%s%s", split->origin,
                 strcmp(split->name, "val") == 0 ? ", the source's own validation split" : "");
        SplitWriter writer =
            split_writer_open(file, split->name, source->shape, split->count, origin);
        ok = finish_split(&writer,
                          stream_split(split, source->shape, &writer, NULL, NULL, &progress, err));
    }
    *totals = (PackTotals){.images = progress.total,
                           .pixel_bytes = progress.total * (int64_t)image_bytes(source->shape)};
    return ok;
}
