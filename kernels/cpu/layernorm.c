#include "kernels.h"

#include "error.h"
#include "parallel.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>

#define LAYERNORM_EPS 1e-5

CPU_DISPATCH static void layernorm_row(real *y, real *mean, real *rstd, const real *x,
                                       const real *gamma, const real *beta, int dim) {
    double sum = 0, var = 0;
#pragma omp simd reduction(+ : sum)
    for (int i = 0; i < dim; i++) sum += x[i];
    const real m = (real)(sum / dim);
#pragma omp simd reduction(+ : var) /* two passes: no cancellation for rows with a large mean */
    for (int i = 0; i < dim; i++) var += (double)(x[i] - m) * (x[i] - m);
    const real s = (real)(1.0 / sqrt(var / dim + LAYERNORM_EPS));
    for (int i = 0; i < dim; i++) y[i] = (x[i] - m) * s * gamma[i] + beta[i];
    *mean = m;
    *rstd = s;
}

void layernorm_forward(real *y, real *mean, real *rstd, const real *x, const real *gamma,
                       const real *beta, int rows, int dim) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++)
        layernorm_row(y + (size_t)r * dim, mean + r, rstd + r, x + (size_t)r * dim, gamma, beta,
                      dim);
}

/* With xhat = (x - mean) rstd and g = dy gamma:
 *   dx += rstd (g - mean(g) - xhat mean(g xhat)),  dgamma += dy xhat. */
CPU_DISPATCH static void layernorm_backward_row(real *dx, real *dgamma, const real *dy,
                                                const real *x, real m, real s, const real *gamma,
                                                int dim) {
    double g_sum = 0, gx_sum = 0;
#pragma omp simd reduction(+ : g_sum, gx_sum)
    for (int i = 0; i < dim; i++) {
        const real xhat = (x[i] - m) * s, g = dy[i] * gamma[i];
        g_sum += g;
        gx_sum += (double)g * xhat;
        dgamma[i] += dy[i] * xhat;
    }
    const real a = (real)(g_sum / dim), c = (real)(gx_sum / dim);
    for (int i = 0; i < dim; i++) dx[i] += s * (dy[i] * gamma[i] - a - (x[i] - m) * s * c);
}

void layernorm_backward_accumulate(real *dx, real *dgamma, real *dbeta, const real *dy,
                                   const real *x, const real *mean, const real *rstd,
                                   const real *gamma, int rows, int dim) {
    const int threads = omp_get_max_threads();
    real *dgamma_partial = xcalloc((size_t)threads * dim, sizeof *dgamma_partial);
#pragma omp parallel num_threads(threads)
    {
        real *dg = dgamma_partial + (size_t)omp_get_thread_num() * dim;
#pragma omp for schedule(static)
        for (int r = 0; r < rows; r++)
            layernorm_backward_row(dx + (size_t)r * dim, dg, dy + (size_t)r * dim,
                                   x + (size_t)r * dim, mean[r], rstd[r], gamma, dim);
    }
    for (int t = 0; t < threads; t++)
        for (int i = 0; i < dim; i++) dgamma[i] += dgamma_partial[(size_t)t * dim + i];
    free(dgamma_partial);
    column_sums_accumulate(dbeta, dy, rows, dim, dim);
}
