#include "kernels.h"

#include "parallel.h"

#include <math.h>

CPU_DISPATCH static void adamw_chunk(real *param, const real *grad, real *m, real *v, size_t n,
                                     real decay, real b1, real b2, real step, real inv_sqrt_bc2,
                                     real eps) {
    for (size_t i = 0; i < n; i++) {
        const real g = grad[i];
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        param[i] = param[i] * decay - step * m[i] / (real_sqrt(v[i]) * inv_sqrt_bc2 + eps);
    }
}

void adamw_update(real *param, const real *grad, real *m, real *v, size_t n, const AdamWStep *s) {
#pragma omp parallel if (n >= 65536)
    {
        size_t first, count;
        thread_range(n, &first, &count);
        adamw_chunk(param + first, grad + first, m + first, v + first, count,
                    (real)(1.0 - s->lr * s->weight_decay), (real)s->beta1, (real)s->beta2,
                    (real)(s->lr / s->bias_correction1), (real)(1.0 / sqrt(s->bias_correction2)),
                    (real)s->eps);
    }
}
