#include "kernels.h"

#include "column_sums.h"
#include "error.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>

#define LAYERNORM_EPS 1e-5

void layernorm_forward(real *y, real *mean, real *rstd, const real *x, const real *gamma,
                       const real *beta, int rows, int dim) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        const real *xr = x + (size_t)r * dim;
        real *yr = y + (size_t)r * dim;
        double sum = 0;
        for (int i = 0; i < dim; i++) sum += xr[i];
        const real m = (real)(sum / dim);
        double var = 0; /* two passes: no cancellation for rows with a large mean */
        for (int i = 0; i < dim; i++) var += (double)(xr[i] - m) * (xr[i] - m);
        const real s = (real)(1.0 / sqrt(var / dim + LAYERNORM_EPS));
        for (int i = 0; i < dim; i++) yr[i] = (xr[i] - m) * s * gamma[i] + beta[i];
        mean[r] = m;
        rstd[r] = s;
    }
}

/* With xhat = (x - mean) rstd and g = dy gamma:
 *   dx = rstd (g - mean(g) - xhat mean(g xhat)),  dgamma += dy xhat,  dbeta += dy. */
void layernorm_backward_accumulate(real *dx, real *dgamma, real *dbeta, const real *dy,
                                   const real *x, const real *mean, const real *rstd,
                                   const real *gamma, int rows, int dim) {
    const int threads = omp_get_max_threads();
    real *dgamma_partial = xcalloc((size_t)threads * dim, sizeof *dgamma_partial);
#pragma omp parallel num_threads(threads)
    {
        real *dg = dgamma_partial + (size_t)omp_get_thread_num() * dim;
#pragma omp for schedule(static)
        for (int r = 0; r < rows; r++) {
            const real *xr = x + (size_t)r * dim, *dyr = dy + (size_t)r * dim;
            real *dxr = dx + (size_t)r * dim;
            const real m = mean[r], s = rstd[r];
            double g_mean = 0, gx_mean = 0;
            for (int i = 0; i < dim; i++) {
                const real xhat = (xr[i] - m) * s, g = dyr[i] * gamma[i];
                g_mean += g;
                gx_mean += (double)g * xhat;
                dg[i] += dyr[i] * xhat;
            }
            const real a = (real)(g_mean / dim), c = (real)(gx_mean / dim);
            for (int i = 0; i < dim; i++) {
                const real xhat = (xr[i] - m) * s;
                dxr[i] += s * (dyr[i] * gamma[i] - a - xhat * c);
            }
        }
    }
    for (int t = 0; t < threads; t++)
        for (int i = 0; i < dim; i++) dgamma[i] += dgamma_partial[(size_t)t * dim + i];
    free(dgamma_partial);
    column_sums_accumulate(dbeta, dy, rows, dim, dim);
}
