#include "evaluate.h"

#include "error.h"
#include "kernels.h"

#include <stdlib.h>

EvalResult evaluate_subnet(Vit *vit, const Arch *arch, const EvalImages *d, int batch,
                           const Comm *comm) {
    size_t first, count;
    comm_share(comm, (size_t)d->count, &first, &count);
    if (batch > vit->max_batch) batch = vit->max_batch;
    const int C = vit->classes;
    const ImageShape shape = d->split->shape;
    uint8_t *raw = xmalloc(image_bytes(shape) * (size_t)batch);
    real *images = xmalloc(sizeof(real) * image_bytes(shape) * (size_t)batch);
    int64_t *rows = xmalloc(sizeof *rows * (size_t)batch);
    real *logits = xmalloc(sizeof(real) * (size_t)batch * C),
         *probs = xmalloc(sizeof(real) * (size_t)batch * C);
    real *targets = xmalloc(sizeof(real) * (size_t)batch * C),
         *loss = xmalloc(sizeof(real) * (size_t)batch);
    int *labels = xmalloc(sizeof(int) * (size_t)batch);
    double sums[3] = {0, 0, 0}; /* correct top-1, correct top-5, loss */
    for (size_t done = 0; done < count; done += (size_t)batch) {
        const int n = (int)(count - done < (size_t)batch ? count - done : (size_t)batch);
        const size_t at = first + done;
        for (int i = 0; i < n; i++) {
            rows[i] = (int64_t)at + i;
            labels[i] = d->split->labels[at + i];
        }
        Error err = {0};
        if (!split_images_gather(d->split, rows, n, raw, &err)) die_alone(&err);
        images_to_tensor(images, raw, n, shape, d->mean, d->std);
        vit_forward(vit, arch, images, n, NULL, logits);
        soft_targets(targets, labels, labels, NULL, 0, n, C);
        cross_entropy_forward(loss, probs, logits, targets, n, C);
        for (int i = 0; i < n; i++) {
            const real *z = logits + (size_t)i * C;
            int above = 0; /* classes scored higher than the true one */
            for (int c = 0; c < C; c++) above += z[c] > z[labels[i]];
            sums[0] += above == 0;
            sums[1] += above < 5;
            sums[2] += loss[i];
        }
    }
    comm_sum_doubles(comm, sums, 3);
    free(raw), free(rows), free(images), free(logits), free(probs), free(targets), free(loss),
        free(labels);
    const double n = (double)d->count;
    return (EvalResult){100 * sums[0] / n, 100 * sums[1] / n, sums[2] / n, d->count};
}
