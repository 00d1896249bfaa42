/* Patch embedding input, token assembly, and pooling. */
#include "kernels.h"

#include "parallel.h"

#include <string.h>

void patchify(real *patches, const real *images, int batch, int channels, int image_size,
              int patch) {
    const int grid = image_size / patch, per_patch = channels * patch * patch;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < batch; b++) {
        for (int p = 0; p < grid * grid; p++) {
            const int py = p / grid, px = p % grid;
            real *row = patches + ((size_t)b * grid * grid + p) * per_patch;
            for (int c = 0; c < channels; c++) {
                const real *plane = images + ((size_t)b * channels + c) * image_size * image_size;
                for (int y = 0; y < patch; y++)
                    memcpy(row + (c * patch + y) * patch,
                           plane + (size_t)(py * patch + y) * image_size + px * patch,
                           (size_t)patch * sizeof *row);
            }
        }
    }
}

void tokens_forward(real *x, const real *patch_embedded, const real *cls, const real *pos,
                    int batch, int tokens, int dim, int ld_pos) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < batch; b++) {
        for (int t = 0; t < tokens; t++) {
            real *row = x + ((size_t)b * tokens + t) * dim;
            const real *p = pos + (size_t)t * ld_pos;
            const real *src =
                t == 0 ? cls : patch_embedded + ((size_t)b * (tokens - 1) + t - 1) * dim;
            for (int i = 0; i < dim; i++) row[i] = src[i] + p[i];
        }
    }
}

void tokens_backward(real *dpatch_embedded, real *dcls, real *dpos, const real *dx, int batch,
                     int tokens, int dim, int ld_pos) {
#pragma omp parallel for schedule(static)
    for (int b = 0; b < batch; b++)
        memcpy(dpatch_embedded + (size_t)b * (tokens - 1) * dim,
               dx + ((size_t)b * tokens + 1) * dim, (size_t)(tokens - 1) * dim * sizeof *dx);
    /* pos gets every sample's token gradient, cls every sample's token 0 */
    for (int b = 0; b < batch; b++) {
        const real *sample = dx + (size_t)b * tokens * dim;
#pragma omp parallel for schedule(static) if (tokens * dim >= 4096)
        for (int t = 0; t < tokens; t++)
            for (int i = 0; i < dim; i++)
                dpos[(size_t)t * ld_pos + i] += sample[(size_t)t * dim + i];
    }
    column_sums_accumulate(dcls, dx, batch, dim, tokens * dim);
}

void pool_forward(real *out, const real *x, int batch, int tokens, int dim, bool class_token) {
#pragma omp parallel for schedule(static)
    for (int b = 0; b < batch; b++) {
        const real *sample = x + (size_t)b * tokens * dim;
        real *o = out + (size_t)b * dim;
        if (class_token) {
            memcpy(o, sample, (size_t)dim * sizeof *o);
            continue;
        }
        for (int i = 0; i < dim; i++) o[i] = 0;
        for (int t = 1; t < tokens; t++)
            for (int i = 0; i < dim; i++) o[i] += sample[(size_t)t * dim + i];
        for (int i = 0; i < dim; i++) o[i] /= (real)(tokens - 1);
    }
}

void pool_backward(real *dx, const real *dout, int batch, int tokens, int dim, bool class_token) {
#pragma omp parallel for schedule(static)
    for (int b = 0; b < batch; b++) {
        real *sample = dx + (size_t)b * tokens * dim;
        const real *d = dout + (size_t)b * dim;
        const real share = class_token ? 1 : (real)1 / (real)(tokens - 1);
        for (int t = 0; t < tokens; t++) {
            const bool pooled = class_token ? t == 0 : t > 0;
            for (int i = 0; i < dim; i++) sample[(size_t)t * dim + i] = pooled ? d[i] * share : 0;
        }
    }
}
