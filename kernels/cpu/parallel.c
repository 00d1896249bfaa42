#include "parallel.h"

#include "error.h"

#include <omp.h>
#include <stdlib.h>

void thread_range(size_t n, size_t *first, size_t *count) {
    const size_t t = (size_t)omp_get_thread_num(), threads = (size_t)omp_get_num_threads();
    *first = n * t / threads;
    *count = n * (t + 1) / threads - *first;
}

CPU_DISPATCH static void add_rows(real *sum, const real *m, size_t rows, int cols, int ld) {
    for (size_t r = 0; r < rows; r++) {
        const real *row = m + r * (size_t)ld;
        for (int c = 0; c < cols; c++) sum[c] += row[c];
    }
}

void column_sums_accumulate(real *out, const real *m, int rows, int cols, int ld) {
    const int threads = rows >= 64 ? omp_get_max_threads() : 1;
    real *partial = xcalloc((size_t)threads * cols, sizeof *partial);
#pragma omp parallel num_threads(threads)
    {
        size_t first, count;
        thread_range((size_t)rows, &first, &count);
        add_rows(partial + (size_t)omp_get_thread_num() * cols, m + first * (size_t)ld, count, cols,
                 ld);
    }
    for (int t = 0; t < threads; t++)
        for (int c = 0; c < cols; c++) out[c] += partial[(size_t)t * cols + c];
    free(partial);
}
