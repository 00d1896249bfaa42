#include "kernels.h"

void residual_forward(real *out, const real *x, const real *branch, const real *sample_scale,
                      int batch, int rows_per_sample, int dim) {
    const size_t per_sample = (size_t)rows_per_sample * dim;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < batch; b++) {
        const real scale = sample_scale ? sample_scale[b] : 1;
        const size_t first = b * per_sample;
        for (size_t i = first; i < first + per_sample; i++) out[i] = x[i] + scale * branch[i];
    }
}

void residual_backward(real *dbranch, const real *dout, const real *sample_scale, int batch,
                       int rows_per_sample, int dim) {
    const size_t per_sample = (size_t)rows_per_sample * dim;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < batch; b++) {
        const real scale = sample_scale ? sample_scale[b] : 1;
        real *db = dbranch + b * per_sample;
        const real *dxb = dout + b * per_sample;
        for (size_t i = 0; i < per_sample; i++) db[i] = scale * dxb[i];
    }
}
