#include "column_sums.h"

#include "error.h"

#include <omp.h>
#include <stdlib.h>

void column_sums_accumulate(real *out, const real *m, int rows, int cols, int ld) {
    const int threads = rows >= 64 ? omp_get_max_threads() : 1;
    real *partial = xcalloc((size_t)threads * cols, sizeof *partial);
#pragma omp parallel num_threads(threads)
    {
        const int t = omp_get_thread_num(), n = omp_get_num_threads();
        const int first = (int)((long)rows * t / n), last = (int)((long)rows * (t + 1) / n);
        real *sum = partial + (size_t)t * cols;
        for (int r = first; r < last; r++) {
            const real *row = m + (size_t)r * ld;
            for (int c = 0; c < cols; c++) sum[c] += row[c];
        }
    }
    for (int t = 0; t < threads; t++)
        for (int c = 0; c < cols; c++) out[c] += partial[(size_t)t * cols + c];
    free(partial);
}
