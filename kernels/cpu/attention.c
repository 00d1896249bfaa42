/* Multi-head attention with the 2-D relative positions of method.md §3.5-§3.6.
 *
 * The relative terms never materialise the [tokens, tokens, head_dim] embeddings: a query's
 * dot product with Rk[i, k] = Tv[rv(i,k)] + Th[rh(i,k)] is a lookup in Q Tv^T and Q Th^T
 * ([tokens, 2R+2] each), and A Rv is (A summed into the table rows it uses) times the
 * value tables. That turns O(N^2 d) work per head into two small matrix products. */
#include "kernels.h"

#include "error.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

void qkv_split(real *q, real *k, real *v, const real *qkv, int rows, int qdim) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        const real *in = qkv + (size_t)r * 3 * qdim;
        real *qr = q + (size_t)r * qdim, *kr = k + (size_t)r * qdim, *vr = v + (size_t)r * qdim;
        for (int f = 0; f < qdim; f++) {
            qr[f] = in[3 * f];
            kr[f] = in[3 * f + 1];
            vr[f] = in[3 * f + 2];
        }
    }
}

void qkv_merge(real *dqkv, const real *dq, const real *dk, const real *dv, int rows, int qdim) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        real *out = dqkv + (size_t)r * 3 * qdim;
        const real *qr = dq + (size_t)r * qdim, *kr = dk + (size_t)r * qdim,
                   *vr = dv + (size_t)r * qdim;
        for (int f = 0; f < qdim; f++) {
            out[3 * f] = qr[f];
            out[3 * f + 1] = kr[f];
            out[3 * f + 2] = vr[f];
        }
    }
}

static int clip(int value, int bound) {
    return value < -bound ? -bound : value > bound ? bound : value;
}

void relpos_index(int *rows_v, int *rows_h, int tokens, int max_relative_position) {
    const int side = (int)floor(sqrt((double)(tokens - 1)) + 1e-9), R = max_relative_position;
    for (int i = 0; i < tokens; i++) {
        for (int k = 0; k < tokens; k++) {
            int v = 0, h = 0; /* the class token uses row 0 of both tables */
            if (i > 0 && k > 0) {
                const int p = i - 1, pk = k - 1;
                v = clip(pk / side - p / side, R) + R + 1;
                h = clip(pk % side - p % side, R) + R + 1;
            }
            rows_v[i * tokens + k] = v;
            rows_h[i * tokens + k] = h;
        }
    }
}

/* sums[i, r] = sum over k with rows[i, k] == r of m[i, k] */
static void sum_by_table_row(real *sums, const real *m, const int *rows, int tokens,
                             int table_rows) {
    memset(sums, 0, (size_t)tokens * table_rows * sizeof *sums);
    for (int i = 0; i < tokens; i++)
        for (int k = 0; k < tokens; k++)
            sums[i * table_rows + rows[i * tokens + k]] += m[(size_t)i * tokens + k];
}

void attention_forward(real *out, real *probs, const real *q, const real *k, const real *v,
                       const real *key_v, const real *key_h, const real *value_v,
                       const real *value_h, const AttentionShape *s) {
    const int N = s->tokens, d = s->head_dim, T = s->table_rows, qd = s->heads * d;
    const real scale = (real)s->scale;
#pragma omp parallel
    {
        real *scratch = xmalloc((size_t)4 * N * T * sizeof *scratch);
        real *qt_v = scratch, *qt_h = qt_v + N * T, *a_v = qt_h + N * T, *a_h = a_v + N * T;
#pragma omp for schedule(static)
        for (int bj = 0; bj < s->batch * s->heads; bj++) {
            const int b = bj / s->heads, j = bj % s->heads;
            const size_t head = (size_t)b * N * qd + (size_t)j * d;
            real *p = probs + (size_t)bj * N * N, *oj = out + head;
            gemm(false, true, N, N, d, 1, q + head, qd, k + head, qd, 0, p, N);
            gemm(false, true, N, T, d, 1, q + head, qd, key_v, d, 0, qt_v, T);
            gemm(false, true, N, T, d, 1, q + head, qd, key_h, d, 0, qt_h, T);
            for (int i = 0; i < N; i++) {
                real *row = p + (size_t)i * N, max = -INFINITY;
                const int *rv = s->rows_v + i * N, *rh = s->rows_h + i * N;
                for (int c = 0; c < N; c++) {
                    row[c] = scale * (row[c] + qt_v[i * T + rv[c]] + qt_h[i * T + rh[c]]);
                    max = row[c] > max ? row[c] : max;
                }
                real sum = 0;
                for (int c = 0; c < N; c++) sum += row[c] = real_exp(row[c] - max);
                for (int c = 0; c < N; c++) row[c] /= sum;
            }
            gemm(false, false, N, d, N, 1, p, N, v + head, qd, 0, oj, qd);
            sum_by_table_row(a_v, p, s->rows_v, N, T);
            sum_by_table_row(a_h, p, s->rows_h, N, T);
            gemm(false, false, N, d, T, 1, a_v, T, value_v, d, 1, oj, qd);
            gemm(false, false, N, d, T, 1, a_h, T, value_h, d, 1, oj, qd);
        }
        free(scratch);
    }
}

void attention_backward(real *dq, real *dk, real *dv, real *dkey_v, real *dkey_h, real *dvalue_v,
                        real *dvalue_h, const real *dout, const real *probs, const real *q,
                        const real *k, const real *v, const real *key_v, const real *key_h,
                        const real *value_v, const real *value_h, const AttentionShape *s) {
    const int N = s->tokens, d = s->head_dim, T = s->table_rows, qd = s->heads * d;
    const real scale = (real)s->scale;
    const int threads = omp_get_max_threads();
    /* per-thread table gradients, added in thread order afterwards: deterministic */
    real *table_grads = xcalloc((size_t)threads * 4 * T * d, sizeof *table_grads);
#pragma omp parallel num_threads(threads)
    {
        real *scratch = xmalloc(((size_t)N * N + (size_t)4 * N * T) * sizeof *scratch);
        real *dp = scratch, *t_v = dp + (size_t)N * N, *t_h = t_v + N * T, *a_v = t_h + N * T,
             *a_h = a_v + N * T;
        real *g = table_grads + (size_t)omp_get_thread_num() * 4 * T * d;
        real *g_key_v = g, *g_key_h = g + T * d, *g_value_v = g + 2 * T * d,
             *g_value_h = g + 3 * T * d;
#pragma omp for schedule(static)
        for (int bj = 0; bj < s->batch * s->heads; bj++) {
            const int b = bj / s->heads, j = bj % s->heads;
            const size_t head = (size_t)b * N * qd + (size_t)j * d;
            const real *p = probs + (size_t)bj * N * N, *dOj = dout + head;
            /* through O = A V + A.Rv */
            gemm(true, false, N, d, N, 1, p, N, dOj, qd, 0, dv + head, qd);
            gemm(false, true, N, N, d, 1, dOj, qd, v + head, qd, 0, dp, N);
            gemm(false, true, N, T, d, 1, dOj, qd, value_v, d, 0, t_v, T);
            gemm(false, true, N, T, d, 1, dOj, qd, value_h, d, 0, t_h, T);
            sum_by_table_row(a_v, p, s->rows_v, N, T);
            sum_by_table_row(a_h, p, s->rows_h, N, T);
            gemm(true, false, T, d, N, 1, a_v, T, dOj, qd, 1, g_value_v, d);
            gemm(true, false, T, d, N, 1, a_h, T, dOj, qd, 1, g_value_h, d);
            /* through the softmax: dL = A (dA - sum(dA A)), then the scale */
            for (int i = 0; i < N; i++) {
                real *row = dp + (size_t)i * N;
                const real *pr = p + (size_t)i * N;
                const int *rv = s->rows_v + i * N, *rh = s->rows_h + i * N;
                real dot = 0;
                for (int c = 0; c < N; c++) {
                    row[c] += t_v[i * T + rv[c]] + t_h[i * T + rh[c]];
                    dot += row[c] * pr[c];
                }
                for (int c = 0; c < N; c++) row[c] = scale * pr[c] * (row[c] - dot);
            }
            /* through L = Q K^T + Q.Rk */
            gemm(false, false, N, d, N, 1, dp, N, k + head, qd, 0, dq + head, qd);
            gemm(true, false, N, d, N, 1, dp, N, q + head, qd, 0, dk + head, qd);
            sum_by_table_row(a_v, dp, s->rows_v, N, T);
            sum_by_table_row(a_h, dp, s->rows_h, N, T);
            gemm(false, false, N, d, T, 1, a_v, T, key_v, d, 1, dq + head, qd);
            gemm(false, false, N, d, T, 1, a_h, T, key_h, d, 1, dq + head, qd);
            gemm(true, false, T, d, N, 1, a_v, T, q + head, qd, 1, g_key_v, d);
            gemm(true, false, T, d, N, 1, a_h, T, q + head, qd, 1, g_key_h, d);
        }
        free(scratch);
    }
    real *targets[4] = {dkey_v, dkey_h, dvalue_v, dvalue_h};
    for (int t = 0; t < threads; t++)
        for (int m = 0; m < 4; m++)
            for (int i = 0; i < T * d; i++)
                targets[m][i] += table_grads[((size_t)t * 4 + m) * T * d + i];
    free(table_grads);
}
