/* Batch normalisation of the CNN family (kernels.h), PyTorch's BatchNorm2d.
 *
 * Plain loops in every build, one channel per iteration, its sums in double and in a fixed
 * order (a run repeats bit-exactly whatever the threads). Not oneDNN's batch_normalization: it
 * saves the variance where this op set saves 1/std (cuDNN's convention too, for the CUDA
 * backend to come), it keeps no running statistics (a pass of our own either way), and the
 * op is two or three passes over the map per channel, which a loop runs at memory speed. */
#include "kernels.h"

#include "error.h"

#include <math.h>

/* The channel's mean and biased variance over batch x spatial entries: two passes, so that a
 * large mean does not cancel the variance away. */
static void channel_statistics(const real *x, const BatchNormShape *s, int c, double *mean,
                               double *var) {
    const size_t spatial = (size_t)s->height * s->width;
    const double count = (double)s->batch * (double)spatial;
    double sum = 0, squares = 0;
    for (int b = 0; b < s->batch; b++) {
        const real *in = x + ((size_t)b * s->channels + c) * spatial;
        for (size_t i = 0; i < spatial; i++) sum += in[i];
    }
    const double m = sum / count;
    for (int b = 0; b < s->batch; b++) {
        const real *in = x + ((size_t)b * s->channels + c) * spatial;
        for (size_t i = 0; i < spatial; i++) squares += (in[i] - m) * (in[i] - m);
    }
    *mean = m;
    *var = squares / count;
}

/* y = x scale + shift on channel c of every sample. */
static void channel_affine(real *y, const real *x, const BatchNormShape *s, int c, double scale,
                           double shift) {
    const size_t spatial = (size_t)s->height * s->width;
    for (int b = 0; b < s->batch; b++) {
        const size_t at = ((size_t)b * s->channels + c) * spatial;
        for (size_t i = 0; i < spatial; i++) y[at + i] = (real)(x[at + i] * scale + shift);
    }
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
        double dy_sum = 0, dy_xhat_sum = 0;
        for (int b = 0; b < s->batch; b++) {
            const size_t at = ((size_t)b * s->channels + c) * spatial;
            for (size_t i = 0; i < spatial; i++) {
                dy_sum += dy[at + i];
                dy_xhat_sum += dy[at + i] * ((x[at + i] - m) * r);
            }
        }
        dgamma[c] += (real)dy_xhat_sum;
        dbeta[c] += (real)dy_sum;
        const double dy_mean = dy_sum / count, dy_xhat_mean = dy_xhat_sum / count;
        const double scale = r * gamma[c];
        for (int b = 0; b < s->batch; b++) {
            const size_t at = ((size_t)b * s->channels + c) * spatial;
            for (size_t i = 0; i < spatial; i++)
                dx[at + i] =
                    (real)(scale * (dy[at + i] - dy_mean - (x[at + i] - m) * r * dy_xhat_mean));
        }
    }
}
