#include "kernels.h"

#include <math.h>

void adamw_update(real *param, const real *grad, real *m, real *v, size_t n, const AdamWStep *s) {
    const real decay = (real)(1.0 - s->lr * s->weight_decay);
    const real b1 = (real)s->beta1, b2 = (real)s->beta2;
    const real step = (real)(s->lr / s->bias_correction1);
    const real inv_sqrt_bc2 = (real)(1.0 / sqrt(s->bias_correction2)), eps = (real)s->eps;
#pragma omp parallel for schedule(static) if (n >= 16384)
    for (size_t i = 0; i < n; i++) {
        const real g = grad[i];
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        param[i] = param[i] * decay - step * m[i] / (real_sqrt(v[i]) * inv_sqrt_bc2 + eps);
    }
}
