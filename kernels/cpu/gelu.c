#include "kernels.h"

#include "fastmath.h"
#include "parallel.h"

#define INV_SQRT2    ((real)0.70710678118654752440)
#define INV_SQRT_2PI ((real)0.39894228040143267794)

CPU_DISPATCH static void gelu_chunk(real *y, const real *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = (real)0.5 * x[i] * (1 + fast_erf(x[i] * INV_SQRT2));
}

/* d/dx [x Phi(x)] = Phi(x) + x phi(x). */
CPU_DISPATCH static void gelu_backward_chunk(real *dx, const real *dy, const real *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const real xi = x[i];
        const real cdf = (real)0.5 * (1 + fast_erf(xi * INV_SQRT2));
        const real pdf = INV_SQRT_2PI * fast_exp((real)-0.5 * xi * xi);
        dx[i] = dy[i] * (cdf + xi * pdf);
    }
}

void gelu_forward(real *y, const real *x, size_t n) {
#pragma omp parallel if (n >= 16384)
    {
        size_t first, count;
        thread_range(n, &first, &count);
        gelu_chunk(y + first, x + first, count);
    }
}

void gelu_backward(real *dx, const real *dy, const real *x, size_t n) {
#pragma omp parallel if (n >= 16384)
    {
        size_t first, count;
        thread_range(n, &first, &count);
        gelu_backward_chunk(dx + first, dy + first, x + first, count);
    }
}
