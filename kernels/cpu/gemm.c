/* Matrix products. float: oneDNN's sgemm, which picks AVX-512, AVX2 or SSE kernels from the
 * CPU's feature flags at run time (OpenBLAS 0.3.21 falls back to generic kernels on CPUs it
 * does not know by model number: docs/benchmarks.md). double (the gradient-check build): a
 * plain loop, exact enough to be the reference. */
#include "kernels.h"

#include "error.h"
#include "parallel.h"

#include <string.h>

#ifndef PRENAS_REAL_DOUBLE
#include <dnnl.h>
#endif

void gemm(bool trans_a, bool trans_b, int m, int n, int k, real alpha, const real *a, int lda,
          const real *b, int ldb, real beta, real *c, int ldc) {
    if (m <= 0 || n <= 0) return;
#ifdef PRENAS_REAL_DOUBLE
#pragma omp parallel for schedule(static)
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double sum = 0;
            for (int p = 0; p < k; p++)
                sum += (trans_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p]) *
                       (trans_b ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j]);
            c[(size_t)i * ldc + j] = alpha * sum + (beta == 0 ? 0 : beta * c[(size_t)i * ldc + j]);
        }
    }
#else
    if (k <= 0) { /* oneDNN rejects empty products; C = beta C */
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) c[(size_t)i * ldc + j] *= beta;
        return;
    }
    dnnl_status_t status = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a,
                                      lda, b, ldb, beta, c, ldc);
    if (status != dnnl_success)
        fatal_at(__FILE__, __LINE__, "dnnl_sgemm failed (status %d) for m=%d n=%d k=%d", status, m,
                 n, k);
#endif
}

void linear_forward(real *y, const real *x, const real *w, const real *b, int rows, int in, int out,
                    int ldw) {
#pragma omp parallel for schedule(static) if (rows >= 64)
    for (int r = 0; r < rows; r++) memcpy(y + (size_t)r * out, b, (size_t)out * sizeof *y);
    gemm(false, true, rows, out, in, 1, x, in, w, ldw, 1, y, out);
}

void linear_backward(real *dx, real *dw, real *db, const real *dy, const real *x, const real *w,
                     int rows, int in, int out, int ldw) {
    if (dx) gemm(false, false, rows, in, out, 1, dy, out, w, ldw, 0, dx, in);
    gemm(true, false, out, in, rows, 1, dy, out, x, in, 1, dw, ldw);
    column_sums_accumulate(db, dy, rows, out, out);
}
