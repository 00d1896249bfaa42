/* Matrix products. float: oneDNN's sgemm, which picks AVX-512, AVX2 or SSE kernels from the
 * CPU's feature flags at run time (OpenBLAS 0.3.21 falls back to generic kernels on CPUs it
 * does not know by model number: docs/benchmarks.md); with PRENAS_NO_DNNL (the tier-1 device
 * check, tests/device/, built where oneDNN is absent) a blocked plain loop. double (the
 * gradient-check build): a plain loop, exact enough to be the reference. */
#include "kernels.h"

#include "error.h"
#include "parallel.h"

#include <stdlib.h>
#include <string.h>

#if !defined(PRENAS_REAL_DOUBLE) && !defined(PRENAS_NO_DNNL)
#include <dnnl.h>
#endif

#if !defined(PRENAS_REAL_DOUBLE) && defined(PRENAS_NO_DNNL)
enum { PLAIN_ROWS = 8, PLAIN_COLS = 128 };

/* op(A) (m x k) and op(B) (k x n) copied into contiguous row-major panels. */
static void pack(bool trans, int rows, int cols, const real *x, int ld, real *out) {
#pragma omp parallel for schedule(static) if ((size_t)rows * cols >= 65536)
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            out[(size_t)r * cols + c] = trans ? x[(size_t)c * ld + r] : x[(size_t)r * ld + c];
}

/* One block of C (rows x cols <= PLAIN_ROWS x PLAIN_COLS) from the panels: summed in axpy
 * order (p outermost), which vectorises without reassociating any sum, so each element of C is
 * the same sequence of float operations whatever the threads or vector width. */
CPU_DISPATCH static void gemm_block(int rows, int cols, int n, int k, real alpha, const real *ap,
                                    const real *bp, real beta, real *c, int ldc) {
    real acc[PLAIN_ROWS][PLAIN_COLS];
    memset(acc, 0, sizeof acc);
    for (int p = 0; p < k; p++) {
        const real *brow = bp + (size_t)p * n;
        for (int i = 0; i < rows; i++) {
            const real aip = ap[(size_t)i * k + p];
            for (int j = 0; j < cols; j++) acc[i][j] += aip * brow[j];
        }
    }
    for (int i = 0; i < rows; i++) {
        real *crow = c + (size_t)i * ldc;
        for (int j = 0; j < cols; j++)
            crow[j] = alpha * acc[i][j] + (beta == 0 ? 0 : beta * crow[j]);
    }
}

/* C = alpha op(A) op(B) + beta C, one block of C per task. */
static void gemm_plain(bool trans_a, bool trans_b, int m, int n, int k, real alpha, const real *a,
                       int lda, const real *b, int ldb, real beta, real *c, int ldc) {
    real *ap = xmalloc((size_t)m * (k > 0 ? k : 1) * sizeof *ap);
    real *bp = xmalloc((size_t)(k > 0 ? k : 1) * n * sizeof *bp);
    if (k > 0) {
        pack(trans_a, m, k, a, lda, ap);
        pack(trans_b, k, n, b, ldb, bp);
    }
    const int row_blocks = (m + PLAIN_ROWS - 1) / PLAIN_ROWS;
    const int col_blocks = (n + PLAIN_COLS - 1) / PLAIN_COLS;
#pragma omp parallel for collapse(2) schedule(static) if ((double)m * n * k >= 1e5)
    for (int ib = 0; ib < row_blocks; ib++)
        for (int jb = 0; jb < col_blocks; jb++) {
            const int i0 = ib * PLAIN_ROWS, j0 = jb * PLAIN_COLS;
            const int rows = m - i0 < PLAIN_ROWS ? m - i0 : PLAIN_ROWS;
            const int cols = n - j0 < PLAIN_COLS ? n - j0 : PLAIN_COLS;
            gemm_block(rows, cols, n, k, alpha, ap + (size_t)i0 * k, bp + j0, beta,
                       c + (size_t)i0 * ldc + j0, ldc);
        }
    free(ap);
    free(bp);
}
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
#elif defined(PRENAS_NO_DNNL)
    gemm_plain(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
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
