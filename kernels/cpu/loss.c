#include "kernels.h"

#include <math.h>

void soft_targets(real *targets, const int *label_a, const int *label_b, const real *mix,
                  double smoothing, int batch, int classes) {
    const real off = (real)(smoothing / classes), on = (real)(1.0 - smoothing) + off;
    for (int b = 0; b < batch; b++) {
        real *t = targets + (size_t)b * classes;
        const real lambda = mix ? mix[b] : 1;
        for (int c = 0; c < classes; c++) t[c] = off;
        t[label_a[b]] += lambda * (on - off);
        if (lambda != 1) t[label_b[b]] += (1 - lambda) * (on - off);
    }
}

void cross_entropy_forward(real *loss, real *probs, const real *logits, const real *targets,
                           int batch, int classes) {
#pragma omp parallel for schedule(static)
    for (int b = 0; b < batch; b++) {
        const real *z = logits + (size_t)b * classes, *t = targets + (size_t)b * classes;
        real *p = probs + (size_t)b * classes;
        real max = z[0];
        for (int c = 1; c < classes; c++) max = z[c] > max ? z[c] : max;
        double sum = 0;
        for (int c = 0; c < classes; c++) sum += p[c] = (real)exp(z[c] - max);
        const double log_sum = log(sum) + max;
        double l = 0;
        for (int c = 0; c < classes; c++) {
            p[c] = (real)(p[c] / sum);
            l -= t[c] * (z[c] - log_sum);
        }
        loss[b] = (real)l;
    }
}

void cross_entropy_backward(real *dlogits, const real *probs, const real *targets, int batch,
                            int classes, double scale) {
#pragma omp parallel for schedule(static)
    for (int b = 0; b < batch; b++) {
        const real *p = probs + (size_t)b * classes, *t = targets + (size_t)b * classes;
        real *dz = dlogits + (size_t)b * classes;
        double mass = 0; /* 1 for proper targets; kept general */
        for (int c = 0; c < classes; c++) mass += t[c];
        for (int c = 0; c < classes; c++) dz[c] = (real)(scale * (mass * p[c] - t[c]));
    }
}
