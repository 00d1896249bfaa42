/* Batch normalisation of the CNN family (kernels.h), PyTorch's BatchNorm2d.
 *
 * Plain loops in every build, one channel per iteration, its sums in double and in a fixed
 * order (a run repeats bit-exactly whatever the threads). Not oneDNN's batch_normalization: it
 * saves the variance where this op set saves 1/std (cuDNN's convention too, for the CUDA
 * backend to come), it keeps no running statistics (a pass of our own either way), and the
 * op is two or three passes over the map per channel, which a loop runs at memory speed.
 *
 * The sums run in LANES double lanes, element-wise, each plane's lanes then added in order: a
 * plain `sum += x[i]` in double is one chain of dependent additions that the compiler may not
 * reorder (no -ffast-math), four cycles an entry, which made batch norm a quarter of a micro
 * training step (docs/benchmarks.md, "CNN training step against PyTorch"). The lanes keep the
 * order fixed (the same bits for any thread count and alignment), and the loops over a plane
 * are compiled per vector width (CPU_DISPATCH). */
#include "kernels.h"

#include "error.h"
#include "parallel.h"

#include <math.h>

enum { LANES = 8 };

/* sum over i < n of (x[i] - shift)^power, power 1 or 2, in LANES lanes. */
CPU_DISPATCH static double lane_sum(const real *x, size_t n, double shift, int power) {
    double lane[LANES] = {0};
    const size_t whole = n / LANES * LANES;
    if (power == 1) {
        for (size_t i = 0; i < whole; i += LANES)
            for (int l = 0; l < LANES; l++) lane[l] += x[i + l] - shift;
    } else {
        for (size_t i = 0; i < whole; i += LANES)
            for (int l = 0; l < LANES; l++) lane[l] += (x[i + l] - shift) * (x[i + l] - shift);
    }
    for (size_t i = whole; i < n; i++) {
        const double d = x[i] - shift;
        lane[i - whole] += power == 1 ? d : d * d;
    }
    double sum = 0;
    for (int l = 0; l < LANES; l++) sum += lane[l];
    return sum;
}

/* The channel's mean and biased variance over batch x spatial entries: two passes, so that a
 * large mean does not cancel the variance away. */
static void channel_statistics(const real *x, const BatchNormShape *s, int c, double *mean,
                               double *var) {
    const size_t spatial = (size_t)s->height * s->width;
    const double count = (double)s->batch * (double)spatial;
    double sum = 0, squares = 0;
    for (int b = 0; b < s->batch; b++)
        sum += lane_sum(x + ((size_t)b * s->channels + c) * spatial, spatial, 0, 1);
    const double m = sum / count;
    for (int b = 0; b < s->batch; b++)
        squares += lane_sum(x + ((size_t)b * s->channels + c) * spatial, spatial, m, 2);
    *mean = m;
    *var = squares / count;
}

CPU_DISPATCH static void affine_plane(real *y, const real *x, size_t n, double scale,
                                      double shift) {
    for (size_t i = 0; i < n; i++) y[i] = (real)(x[i] * scale + shift);
}

/* y = x scale + shift on channel c of every sample. */
static void channel_affine(real *y, const real *x, const BatchNormShape *s, int c, double scale,
                           double shift) {
    const size_t spatial = (size_t)s->height * s->width;
    for (int b = 0; b < s->batch; b++) {
        const size_t at = ((size_t)b * s->channels + c) * spatial;
        affine_plane(y + at, x + at, spatial, scale, shift);
    }
}

/* sums[0] += sum of dy, sums[1] += sum of dy (x - m) r over a plane of n entries, in lanes. */
CPU_DISPATCH static void backward_sums(double sums[2], const real *dy, const real *x, size_t n,
                                       double m, double r) {
    double lane[2][LANES] = {{0}};
    const size_t whole = n / LANES * LANES;
    for (size_t i = 0; i < whole; i += LANES)
        for (int l = 0; l < LANES; l++) {
            lane[0][l] += dy[i + l];
            lane[1][l] += dy[i + l] * ((x[i + l] - m) * r);
        }
    for (size_t i = whole; i < n; i++) {
        lane[0][i - whole] += dy[i];
        lane[1][i - whole] += dy[i] * ((x[i] - m) * r);
    }
    for (int k = 0; k < 2; k++) {
        double sum = 0;
        for (int l = 0; l < LANES; l++) sum += lane[k][l];
        sums[k] += sum;
    }
}

CPU_DISPATCH static void backward_plane(real *dx, const real *dy, const real *x, size_t n,
                                        double scale, double dy_mean, double m, double r,
                                        double dy_xhat_mean) {
    for (size_t i = 0; i < n; i++)
        dx[i] = (real)(scale * (dy[i] - dy_mean - (x[i] - m) * r * dy_xhat_mean));
}

void batchnorm_forward_train(real *y, real *mean, real *rstd, real *running_mean, real *running_var,
                             const real *x, const real *gamma, const real *beta,
                             const BatchNormShape *s, double momentum) {
    const double count = (double)s->batch * s->height * s->width;
    if (count < 2) /* PyTorch refuses too: the unbiased variance of one value */
        fatal_at(__FILE__, __LINE__,
                 "batch norm in training needs more than one value per channel");
#pragma omp parallel for schedule(static)
    for (int c = 0; c < s->channels; c++) {
        double m, var;
        channel_statistics(x, s, c, &m, &var);
        const double r = 1 / sqrt(var + s->eps);
        channel_affine(y, x, s, c, r * gamma[c], beta[c] - m * r * gamma[c]);
        mean[c] = (real)m;
        rstd[c] = (real)r;
        if (running_mean) {
            running_mean[c] = (real)((1 - momentum) * running_mean[c] + momentum * m);
            running_var[c] =
                (real)((1 - momentum) * running_var[c] + momentum * var * count / (count - 1));
        }
    }
}

void batchnorm_recalibrate(real *y, real *mean, real *rstd, real *running_mean, real *running_var,
                           const real *x, const real *gamma, const real *beta,
                           const BatchNormShape *s, int batches_seen) {
    /* (1 - m) running + m batch with m = 1 / (n + 1) is running + (batch - running) / (n + 1) */
    batchnorm_forward_train(y, mean, rstd, running_mean, running_var, x, gamma, beta, s,
                            1.0 / (batches_seen + 1));
}

void batchnorm_forward_eval(real *y, const real *x, const real *gamma, const real *beta,
                            const real *running_mean, const real *running_var,
                            const BatchNormShape *s) {
#pragma omp parallel for schedule(static)
    for (int c = 0; c < s->channels; c++) {
        const double scale = gamma[c] / sqrt((double)running_var[c] + s->eps);
        channel_affine(y, x, s, c, scale, beta[c] - running_mean[c] * scale);
    }
}

void batchnorm_backward(real *dx, real *dgamma, real *dbeta, const real *dy, const real *x,
                        const real *mean, const real *rstd, const real *gamma,
                        const BatchNormShape *s) {
    const size_t spatial = (size_t)s->height * s->width;
    const double count = (double)s->batch * (double)spatial;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < s->channels; c++) {
        const double m = mean[c], r = rstd[c];
        double sums[2] = {0, 0}; /* of dy, and of dy x_hat */
        for (int b = 0; b < s->batch; b++) {
            const size_t at = ((size_t)b * s->channels + c) * spatial;
            backward_sums(sums, dy + at, x + at, spatial, m, r);
        }
        dgamma[c] += (real)sums[1];
        dbeta[c] += (real)sums[0];
        const double dy_mean = sums[0] / count, dy_xhat_mean = sums[1] / count;
        const double scale = r * gamma[c];
        for (int b = 0; b < s->batch; b++) {
            const size_t at = ((size_t)b * s->channels + c) * spatial;
            backward_plane(dx + at, dy + at, x + at, spatial, scale, dy_mean, m, r, dy_xhat_mean);
        }
    }
}
