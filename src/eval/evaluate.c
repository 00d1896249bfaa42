#include "evaluate.h"

#include "clock.h"
#include "error.h"
#include "eval_table.h"
#include "rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void calibration_init(Calibration *c, const SplitImages *train, const double *mean,
                      const double *std, int64_t count, int batch, uint64_t seed) {
    int64_t *all = xmalloc(sizeof *all * (size_t)(train->count + 1));
    for (int64_t i = 0; i < train->count; i++) all[i] = i;
    Rng rng = rng_stream_at(seed, RNG_STREAM_BN_CALIBRATION, 0);
    rng_shuffle_i64(&rng, all, train->count);
    *c = (Calibration){train, mean, std, count < train->count ? count : train->count, batch, all};
}

void calibration_free(Calibration *c) {
    free(c->rows);
    c->rows = NULL;
}

/* n images of `split` at `rows` as normalised tensors; a row this rank cannot read sets err
 * (the first such error) and gives zeros. */
static void load_rows(const SplitImages *split, const int64_t *rows, int n, const double *mean,
                      const double *std, uint8_t *raw, real *images, Error *err) {
    const ImageShape shape = split->shape;
    Error failed = {0};
    if (!split_images_gather(split, rows, n, raw, &failed)) {
        memset(raw, 0, image_bytes(shape) * (size_t)n); /* the result is not used */
        if (!err->code) *err = failed;
    }
    images_to_tensor(images, raw, n, shape, mean, std);
}

void calibration_run(const Calibration *c, Model *model, const ModelArch *arch, Error *err) {
    if (!model_needs_recalibration(model)) return;
    if (!c) fatal_at(__FILE__, __LINE__, "a CNN subnet to evaluate without calibration images");
    const int batch = c->batch;
    if (batch > model->max_batch)
        fatal_at(__FILE__, __LINE__, "calibration batch %d above the model's %d", batch,
                 model->max_batch);
    const ImageShape shape = c->split->shape;
    uint8_t *raw = xmalloc(image_bytes(shape) * (size_t)batch);
    real *images = xmalloc(sizeof(real) * image_bytes(shape) * (size_t)batch);
    for (int64_t done = 0, b = 0; done < c->count; done += batch, b++) {
        const int n = (int)(c->count - done < batch ? c->count - done : batch);
        load_rows(c->split, c->rows + done, n, c->mean, c->std, raw, images, err);
        model_recalibrate(model, arch, images, n, (int)b);
    }
    free(raw), free(images);
}

EvalResult evaluate_subnet(Model *model, const ModelArch *arch, const EvalImages *d, int batch,
                           const Comm *comm, Error *err) {
    calibration_run(d->calibration, model, arch, err);
    size_t first, count;
    comm_share(comm, (size_t)d->count, &first, &count);
    if (batch > model->max_batch) batch = model->max_batch;
    const ImageShape shape = d->split->shape;
    uint8_t *raw = xmalloc(image_bytes(shape) * (size_t)batch);
    real *images = xmalloc(sizeof(real) * image_bytes(shape) * (size_t)batch);
    int64_t *rows = xmalloc(sizeof *rows * (size_t)batch);
    int *labels = xmalloc(sizeof(int) * (size_t)batch);
    double sums[4] = {0, 0, 0, 0}; /* correct top-1, correct top-5, loss, non-finite */
    for (size_t done = 0; done < count; done += (size_t)batch) {
        const int n = (int)(count - done < (size_t)batch ? count - done : (size_t)batch);
        const size_t at = first + done;
        for (int i = 0; i < n; i++) {
            rows[i] = (int64_t)at + i;
            labels[i] = d->split->labels[at + i];
        }
        load_rows(d->split, rows, n, d->mean, d->std, raw, images, err);
        const Loss loss = {.kind = LOSS_CROSS_ENTROPY, .labels = labels};
        model_forward(model, arch, images, n, &loss, NULL);
        const BatchMetrics m = model_metrics(model, labels, n);
        sums[0] += (double)m.top1, sums[1] += (double)m.top5, sums[2] += m.loss_sum;
        sums[3] += (double)m.nonfinite;
    }
    comm_sum_doubles(comm, sums, 4);
    free(raw), free(rows), free(images), free(labels);
    const double n = (double)d->count;
    return (EvalResult){100 * sums[0] / n, 100 * sums[1] / n, sums[2] / n, d->count,
                        (int64_t)sums[3]};
}

void evaluate_table(Model *model, EvalTable *table, const EvalImages *data, int batch,
                    const Comm *comm, bool progress) {
    const int n = table->n;
    const bool whole = n >= comm->size; /* each rank takes whole architectures */
    const Comm solo = {0, 1};
    double *results = xcalloc((size_t)n * 5 + 1, sizeof *results);
    Error err = {0};
    const double start = monotonic_seconds();
    double reported = start;
    int mine = 0, done = 0;
    for (int i = 0; i < n; i++) mine += !whole || i % comm->size == comm->rank;
    for (int i = 0; i < n; i++) {
        if (whole && i % comm->size != comm->rank) continue;
        const EvalResult e =
            evaluate_subnet(model, &table->rows[i].arch, data, batch, whole ? &solo : comm, &err);
        if (whole || comm->rank == 0) {
            double *r = results + 5 * (size_t)i;
            r[0] = e.top1, r[1] = e.top5, r[2] = e.loss, r[3] = (double)e.images,
            r[4] = (double)e.nonfinite;
        }
        done++;
        const double now = monotonic_seconds();
        if (progress && comm->rank == 0 && (now - reported >= 5 || done == mine)) {
            const double eta = (now - start) / done * (mine - done);
            fprintf(stderr, "evaluate: %d/%d architectures on rank 0, %.0f s, ETA %.0f s\n", done,
                    mine, now - start, eta);
            reported = now;
        }
    }
    comm_check(comm, &err);
    /* every result comes from one rank; the others add zeros, which changes no bit */
    comm_sum_doubles(comm, results, (size_t)n * 5);
    for (int i = 0; i < n; i++) {
        const double *r = results + 5 * (size_t)i;
        table->rows[i].result = (EvalResult){r[0], r[1], r[2], (int64_t)r[3], (int64_t)r[4]};
    }
    free(results);
}
