#include "kernels.h"

#include <math.h>

#define INV_SQRT2    0.70710678118654752440
#define INV_SQRT_2PI 0.39894228040143267794

void gelu_forward(real *y, const real *x, size_t n) {
#pragma omp parallel for schedule(static) if (n >= 4096)
    for (size_t i = 0; i < n; i++) y[i] = (real)(0.5 * x[i] * (1.0 + erf(x[i] * INV_SQRT2)));
}

/* d/dx [x Phi(x)] = Phi(x) + x phi(x). */
void gelu_backward(real *dx, const real *dy, const real *x, size_t n) {
#pragma omp parallel for schedule(static) if (n >= 4096)
    for (size_t i = 0; i < n; i++) {
        const double xi = x[i];
        const double cdf = 0.5 * (1.0 + erf(xi * INV_SQRT2));
        const double pdf = INV_SQRT_2PI * exp(-0.5 * xi * xi);
        dx[i] = (real)(dy[i] * (cdf + xi * pdf));
    }
}
