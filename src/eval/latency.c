#include "latency.h"

#include "error.h"
#include "rng.h"

#include <stdlib.h>

static int by_value(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    Model *model;
    const ModelArch *arch;
    const real *images;
    int batch;
} Forward;

static void forward(void *arg) {
    const Forward *f = arg;
    model_infer(f->model, f->arch, f->images, f->batch);
}

Latency latency_measure(Model *model, const ModelArch *arch, int batch, int warmup, int repeats) {
    if (repeats < 1) return (Latency){0, 0, 0};
    const size_t size = (size_t)batch * model->channels * model->image_side * model->image_side;
    real *images = xmalloc(sizeof(real) * size);
    /* normal values: zeros could take faster paths (denormal-free, sparse) than real images */
    Rng rng = rng_stream(0, RNG_STREAM_DATA_FREE);
    for (size_t i = 0; i < size; i++) images[i] = (real)rng_normal(&rng);
    /* a CNN evaluates with statistics recalibrated for the subnet; their values do not change
     * the work, so these images serve */
    if (model_needs_recalibration(model)) model_recalibrate(model, arch, images, batch, 0);
    const Backend *be = model->be;
    Forward f = {model, arch, backend_input(be, model->images, images, sizeof(real) * size), batch};
    double *ms = xmalloc(sizeof *ms * (size_t)repeats);
    for (int r = -warmup; r < repeats; r++) {
        const double t = be->ops->time_ms(be, forward, &f);
        if (r >= 0) ms[r] = t;
    }
    qsort(ms, (size_t)repeats, sizeof *ms, by_value);
    const double median =
        repeats % 2 ? ms[repeats / 2] : 0.5 * (ms[repeats / 2 - 1] + ms[repeats / 2]);
    const Latency l = {median, ms[0], ms[repeats - 1]};
    free(ms);
    free(images);
    return l;
}
