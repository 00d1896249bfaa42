#include "latency.h"

#include "clock.h"
#include "error.h"
#include "rng.h"

#include <stdlib.h>

static int by_value(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

Latency latency_measure(Model *model, const Arch *arch, int batch, int warmup, int repeats) {
    Vit *vit = model->vit;
    if (repeats < 1) return (Latency){0, 0, 0};
    const size_t size = (size_t)batch * vit->channels * vit->image_size * vit->image_size;
    real *images = xmalloc(sizeof(real) * size);
    /* normal values: zeros could take faster paths (denormal-free, sparse) than real images */
    Rng rng = rng_stream(0, RNG_STREAM_DATA_FREE);
    for (size_t i = 0; i < size; i++) images[i] = (real)rng_normal(&rng);
    const Backend *be = model->be;
    const real *input = backend_input(be, model->images, images, sizeof(real) * size);
    double *ms = xmalloc(sizeof *ms * (size_t)repeats);
    for (int r = -warmup; r < repeats; r++) {
        const double start = monotonic_seconds();
        vit_forward(vit, arch, input, batch, NULL, model->logits);
        be->ops->sync(be); /* a device returns before its work is done */
        if (r >= 0) ms[r] = 1e3 * (monotonic_seconds() - start);
    }
    qsort(ms, (size_t)repeats, sizeof *ms, by_value);
    const double median =
        repeats % 2 ? ms[repeats / 2] : 0.5 * (ms[repeats / 2 - 1] + ms[repeats / 2]);
    const Latency l = {median, ms[0], ms[repeats - 1]};
    free(ms);
    free(images);
    return l;
}
