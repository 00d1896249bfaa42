/* Multi-head attention with the 2-D relative positions of method.md §3.5-§3.6.
 *
 * The relative terms never materialise the [tokens, tokens, head_dim] embeddings. A query's
 * dot product with Rk[i, k] = Tv[row_v(i, k)] + Th[row_h(i, k)] is a lookup in Q Tv^T and
 * Q Th^T ([tokens, 2R+2] per query and head), and A Rv is A summed into the table rows it
 * uses, times the value tables. Those products run over all samples and heads at once
 * (rows of Q are token-major, head-minor: [batch * tokens * heads, head_dim]), which leaves
 * only Q K^T, A V and their gradients to be done head by head.
 *
 * The table row of a pair depends on the grid rows of the two patches (vertical table) or
 * their grid columns (horizontal), so lookups and sums go grid row by grid row, without
 * index arrays. The class token (token 0) uses row 0 of both tables, as query and as key. */
#include "kernels.h"

#include "fastmath.h"
#include "parallel.h"

#include <omp.h>
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

/* Table row of a (query, key) distance along one grid axis. */
static inline int table_row(int key, int query, int R) {
    const int d = key - query;
    return (d < -R ? -R : d > R ? R : d) + R + 1;
}

static int table_rows(const AttentionShape *s) {
    return 2 * s->max_relative_position + 2;
}

size_t attention_workspace_size(const AttentionShape *s) {
    const size_t per_table = (size_t)s->batch * s->tokens * s->heads * table_rows(s);
    return 4 * per_table + (size_t)s->threads * s->tokens * s->tokens;
}

/* row[k] += lookup_v[row_v(i, k)] + lookup_h[row_h(i, k)] for query token i. */
CPU_DISPATCH static void add_relative(real *row, const real *lookup_v, const real *lookup_h, int i,
                                      const AttentionShape *s) {
    const int G = s->grid, R = s->max_relative_position;
    if (i == 0) {
        for (int k = 0; k < s->tokens; k++) row[k] += lookup_v[0] + lookup_h[0];
        return;
    }
    const int qy = (i - 1) / G, qx = (i - 1) % G;
    real horizontal[G];
    for (int kx = 0; kx < G; kx++) horizontal[kx] = lookup_h[table_row(kx, qx, R)];
    row[0] += lookup_v[0] + lookup_h[0];
    for (int ky = 0; ky < G; ky++) {
        const real vertical = lookup_v[table_row(ky, qy, R)];
        real *keys = row + 1 + ky * G;
        for (int kx = 0; kx < G; kx++) keys[kx] += vertical + horizontal[kx];
    }
}

/* sums_v[r] = sum of row[k] over the keys k whose vertical table row is r; sums_h likewise. */
CPU_DISPATCH static void sum_relative(real *sums_v, real *sums_h, const real *row, int i,
                                      const AttentionShape *s) {
    const int G = s->grid, R = s->max_relative_position, T = table_rows(s);
    memset(sums_v, 0, (size_t)T * sizeof *sums_v);
    memset(sums_h, 0, (size_t)T * sizeof *sums_h);
    if (i == 0) {
        real total = 0;
        for (int k = 0; k < s->tokens; k++) total += row[k];
        sums_v[0] = sums_h[0] = total;
        return;
    }
    const int qy = (i - 1) / G, qx = (i - 1) % G;
    real columns[G];
    memset(columns, 0, sizeof columns);
    sums_v[0] = sums_h[0] = row[0];
    for (int ky = 0; ky < G; ky++) {
        const real *keys = row + 1 + ky * G;
        real total = 0;
        for (int kx = 0; kx < G; kx++) {
            total += keys[kx];
            columns[kx] += keys[kx];
        }
        sums_v[table_row(ky, qy, R)] += total;
    }
    for (int kx = 0; kx < G; kx++) sums_h[table_row(kx, qx, R)] += columns[kx];
}

/* row = softmax(scale * row), in place. */
CPU_DISPATCH static void softmax_row(real *row, int n, real scale) {
    real max = row[0], sum = 0;
#pragma omp simd reduction(max : max)
    for (int c = 1; c < n; c++) max = row[c] > max ? row[c] : max;
#pragma omp simd reduction(+ : sum)
    for (int c = 0; c < n; c++) {
        row[c] = fast_exp(scale * (row[c] - max));
        sum += row[c];
    }
    const real inverse = 1 / sum;
    for (int c = 0; c < n; c++) row[c] *= inverse;
}

/* Through A = softmax(scale L): dL = scale A (dA - sum(dA A)); dA in row, overwritten. */
CPU_DISPATCH static void softmax_backward_row(real *row, const real *probs, int n, real scale) {
    real dot = 0;
#pragma omp simd reduction(+ : dot)
    for (int c = 0; c < n; c++) dot += row[c] * probs[c];
    for (int c = 0; c < n; c++) row[c] = scale * probs[c] * (row[c] - dot);
}

void attention_forward(real *out, real *probs, const real *q, const real *k, const real *v,
                       const real *key_v, const real *key_h, const real *value_v,
                       const real *value_h, real *workspace, const AttentionShape *s) {
    const int N = s->tokens, d = s->head_dim, T = table_rows(s), qd = s->heads * d;
    const int rows = s->batch * N * s->heads; /* (sample, token, head) rows of d features */
    const real scale = (real)s->scale;
    real *q_v = workspace, *q_h = q_v + (size_t)rows * T;
    real *a_v = q_h + (size_t)rows * T, *a_h = a_v + (size_t)rows * T;
    gemm(false, true, rows, T, d, 1, q, d, key_v, d, 0, q_v, T);
    gemm(false, true, rows, T, d, 1, q, d, key_h, d, 0, q_h, T);
#pragma omp parallel for schedule(static) num_threads(s->threads)
    for (int bj = 0; bj < s->batch * s->heads; bj++) {
        const int b = bj / s->heads, j = bj % s->heads;
        const size_t head = (size_t)b * N * qd + (size_t)j * d;
        real *p = probs + (size_t)bj * N * N;
        gemm(false, true, N, N, d, 1, q + head, qd, k + head, qd, 0, p, N);
        for (int i = 0; i < N; i++) {
            const size_t r = ((size_t)b * N + i) * s->heads + j;
            real *row = p + (size_t)i * N;
            add_relative(row, q_v + r * T, q_h + r * T, i, s);
            softmax_row(row, N, scale);
            sum_relative(a_v + r * T, a_h + r * T, row, i, s);
        }
        gemm(false, false, N, d, N, 1, p, N, v + head, qd, 0, out + head, qd);
    }
    gemm(false, false, rows, d, T, 1, a_v, T, value_v, d, 1, out, d);
    gemm(false, false, rows, d, T, 1, a_h, T, value_h, d, 1, out, d);
}

void attention_backward(real *dq, real *dk, real *dv, real *dkey_v, real *dkey_h, real *dvalue_v,
                        real *dvalue_h, const real *dout, const real *probs, const real *q,
                        const real *k, const real *v, const real *key_v, const real *key_h,
                        const real *value_v, const real *value_h, real *workspace,
                        const AttentionShape *s) {
    const int N = s->tokens, d = s->head_dim, T = table_rows(s), qd = s->heads * d;
    const int rows = s->batch * N * s->heads;
    const real scale = (real)s->scale;
    real *do_v = workspace, *do_h = do_v + (size_t)rows * T;
    real *sum_v = do_h + (size_t)rows * T, *sum_h = sum_v + (size_t)rows * T;
    real *per_thread = sum_h + (size_t)rows * T;
    /* through O = A V + A.Rv: the value tables' share */
    gemm(false, true, rows, T, d, 1, dout, d, value_v, d, 0, do_v, T);
    gemm(false, true, rows, T, d, 1, dout, d, value_h, d, 0, do_h, T);
#pragma omp parallel for schedule(static) num_threads(s->threads)
    for (int bj = 0; bj < s->batch * s->heads; bj++) {
        const int b = bj / s->heads, j = bj % s->heads;
        const real *p = probs + (size_t)bj * N * N;
        for (int i = 0; i < N; i++) {
            const size_t r = ((size_t)b * N + i) * s->heads + j;
            sum_relative(sum_v + r * T, sum_h + r * T, p + (size_t)i * N, i, s);
        }
    }
    gemm(true, false, T, d, rows, 1, sum_v, T, dout, d, 1, dvalue_v, d);
    gemm(true, false, T, d, rows, 1, sum_h, T, dout, d, 1, dvalue_h, d);
#pragma omp parallel for schedule(static) num_threads(s->threads)
    for (int bj = 0; bj < s->batch * s->heads; bj++) {
        const int b = bj / s->heads, j = bj % s->heads;
        const size_t head = (size_t)b * N * qd + (size_t)j * d;
        const real *p = probs + (size_t)bj * N * N, *dOj = dout + head;
        real *dp = per_thread + (size_t)omp_get_thread_num() * N * N;
        gemm(true, false, N, d, N, 1, p, N, dOj, qd, 0, dv + head, qd);
        gemm(false, true, N, N, d, 1, dOj, qd, v + head, qd, 0, dp, N);
        for (int i = 0; i < N; i++) {
            const size_t r = ((size_t)b * N + i) * s->heads + j;
            real *row = dp + (size_t)i * N;
            add_relative(row, do_v + r * T, do_h + r * T, i, s);
            softmax_backward_row(row, p + (size_t)i * N, N, scale);
            sum_relative(sum_v + r * T, sum_h + r * T, row, i, s);
        }
        /* through L = Q K^T + Q.Rk */
        gemm(false, false, N, d, N, 1, dp, N, k + head, qd, 0, dq + head, qd);
        gemm(true, false, N, d, N, 1, dp, N, q + head, qd, 0, dk + head, qd);
    }
    gemm(false, false, rows, d, T, 1, sum_v, T, key_v, d, 1, dq, d);
    gemm(false, false, rows, d, T, 1, sum_h, T, key_h, d, 1, dq, d);
    gemm(true, false, T, d, rows, 1, sum_v, T, q, d, 1, dkey_v, d);
    gemm(true, false, T, d, rows, 1, sum_h, T, q, d, 1, dkey_h, d);
}
