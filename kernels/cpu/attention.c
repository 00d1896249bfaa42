/* Multi-head attention with the 2-D relative positions of method.md §3.5-§3.6.
 *
 * The relative terms never materialise the [tokens, tokens, head_dim] embeddings. A query's
 * dot product with Rk[i, k] = Tv[row_v(i, k)] + Th[row_h(i, k)] is a lookup in Q Tv^T and
 * Q Th^T, and A Rv is A summed into the table rows it uses, times the value tables. Both
 * become part of the head's own products by treating the table rows as extra keys: with
 * Kx = [K; key_v; key_h] and Vx = [V; value_v; value_h] ([W, head_dim], W = tokens + 2T),
 *   Sx = Q Kx^T   holds the scores and the lookups of each query row,
 *   O  = Px Vx    where Px = [A, A summed into the vertical rows, ... horizontal rows],
 * and the backward is the same four products transposed. So one (sample, head) block does
 * everything for its 50 x 16 head in one thread's cache-resident buffers: no per-head library
 * calls, no passes over [rows, T] arrays, one parallel region per direction.
 *
 * The products are small register-tiled loops (MR rows x LANES columns of accumulators),
 * with the block's buffers padded to whole tiles with zeros. The table row of a pair depends
 * on the grid rows of the two patches (vertical table) or their grid columns (horizontal),
 * so lookups and sums go grid row by grid row, without index arrays; the common grid sizes
 * are compile-time constants there. The class token (token 0) uses row 0 of both tables, as
 * query and as key. */
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

/* The helpers of the dispatched block functions: always inlined, so that each clone has them
 * built for its own instruction set (GCC does not inline a plain function into a target
 * clone on its own), with the block's constant strides folded in. */
#define INLINE inline __attribute__((always_inline))

enum {
    LANES = 16, /* columns of a product tile: one AVX-512 register of floats */
    MR = 8      /* rows of a product tile: MR x LANES accumulators stay in registers */
};

static int round_up(int n, int multiple) {
    return (n + multiple - 1) / multiple * multiple;
}

/* The sizes of one (sample, head) block's buffers. */
typedef struct {
    int N, d, T, G, R;
    int W;      /* tokens + 2T: the columns of Sx, the rows of Kx and Vx */
    int Np, Wp; /* N and W rounded up to whole tiles (MR rows, LANES columns) */
    int dp;     /* head_dim rounded up to LANES */
} Block;

static Block block_of(const AttentionShape *s) {
    Block k = {.N = s->tokens,
               .d = s->head_dim,
               .T = 2 * s->max_relative_position + 2,
               .G = s->grid,
               .R = s->max_relative_position};
    k.W = k.N + 2 * k.T;
    k.Np = round_up(k.N, MR);
    k.Wp = round_up(k.W, LANES);
    k.dp = round_up(k.d, LANES);
    return k;
}

/* One thread's buffers (entries of real), the same carving for forward and backward:
 *   q, dout, dq   [Np, dp]   the head's rows, zero-padded
 *   kt, vt        [d, Wp]    Kx^T, Vx^T
 *   kx, vx        [Wp, dp]   Kx, Vx
 *   px, dsx       [Np, Wp]   Px (and Sx before the softmax), dPx then dSx
 *   dkx, dvx      [Wp, dp]   this block's Kx and Vx gradients
 *   tables        [4T, dp]   the thread's table gradients: key_v, key_h, value_v, value_h */
typedef struct {
    real *q, *dout, *dq, *kt, *vt, *kx, *vx, *px, *dsx, *dkx, *dvx, *tables;
} Buffers;

static size_t thread_entries(const Block *k) {
    return 3 * (size_t)k->Np * k->dp + 2 * (size_t)k->d * k->Wp + 4 * (size_t)k->Wp * k->dp +
           2 * (size_t)k->Np * k->Wp + 4 * (size_t)k->T * k->dp;
}

size_t attention_workspace_size(const AttentionShape *s) {
    const Block k = block_of(s);
    return (size_t)s->threads * thread_entries(&k);
}

static Buffers buffers_of(real *workspace, const Block *k, int thread) {
    real *p = workspace + (size_t)thread * thread_entries(k);
    Buffers b;
    real **fields[] = {&b.q,  &b.dout, &b.dq,  &b.kt,  &b.vt,  &b.kx,
                       &b.vx, &b.px,   &b.dsx, &b.dkx, &b.dvx, &b.tables};
    const size_t sizes[] = {(size_t)k->Np * k->dp, (size_t)k->Np * k->dp, (size_t)k->Np * k->dp,
                            (size_t)k->d * k->Wp,  (size_t)k->d * k->Wp,  (size_t)k->Wp * k->dp,
                            (size_t)k->Wp * k->dp, (size_t)k->Np * k->Wp, (size_t)k->Np * k->Wp,
                            (size_t)k->Wp * k->dp, (size_t)k->Wp * k->dp, 4 * (size_t)k->T * k->dp};
    for (size_t f = 0; f < sizeof sizes / sizeof *sizes; f++) {
        *fields[f] = p;
        p += sizes[f];
    }
    return b;
}

/* Table row of a (query, key) distance along one grid axis. */
static inline int table_row(int key, int query, int R) {
    const int d = key - query;
    return (d < -R ? -R : d > R ? R : d) + R + 1;
}

/* C[i, 0..n) = (accumulate ? C : 0) + sum over p < depth of a(i, p) B[p, 0..n), for i < m;
 * a(i, p) = A[i a_row + p a_col] (A or A^T); m a multiple of MR, n of LANES. */
INLINE static void tile_product(real *C, int ldc, const real *A, int a_row, int a_col,
                                const real *B, int ldb, int m, int n, int depth, bool accumulate) {
    for (int i = 0; i < m; i += MR)
        for (int j = 0; j < n; j += LANES) {
            real acc[MR][LANES] = {{0}};
            for (int p = 0; p < depth; p++) {
                const real *b = B + (size_t)p * ldb + j;
                for (int r = 0; r < MR; r++) {
                    const real a = A[(size_t)(i + r) * a_row + (size_t)p * a_col];
#pragma omp simd
                    for (int c = 0; c < LANES; c++) acc[r][c] += a * b[c];
                }
            }
            for (int r = 0; r < MR; r++) {
                real *out = C + (size_t)(i + r) * ldc + j;
#pragma omp simd
                for (int c = 0; c < LANES; c++) out[c] = (accumulate ? out[c] : 0) + acc[r][c];
            }
        }
}

/* row[N..N+2T) = row[0..N) summed into the vertical then the horizontal table rows its keys
 * use, for query token i: the grid's row sums and column sums, placed by distance. */
INLINE static void sum_into_tables(real *row, int i, int G, const Block *k) {
    const int R = k->R;
    real *sums_v = row + k->N, *sums_h = sums_v + k->T;
    memset(sums_v, 0, 2 * (size_t)k->T * sizeof *sums_v);
    if (i == 0) {
        real total = 0;
        for (int key = 0; key < k->N; key++) total += row[key];
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

/* row[key] += its vertical and horizontal lookups (row[N..N+2T)), for query token i. */
INLINE static void add_lookups(real *row, int i, int G, const Block *k) {
    const int R = k->R;
    const real *lookup_v = row + k->N, *lookup_h = lookup_v + k->T;
    if (i == 0) {
        const real both = lookup_v[0] + lookup_h[0];
        for (int key = 0; key < k->N; key++) row[key] += both;
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

/* The forward's row pass: Sx rows become Px rows (softmax of the scores plus lookups, then
 * the table sums), the probabilities saved in probs [N, N]. */
INLINE static void forward_rows(real *px, real *probs, real scale, int G, const Block *k) {
    const int N = k->N;
    for (int i = 0; i < N; i++) {
        real *row = px + (size_t)i * k->Wp;
        add_lookups(row, i, G, k);
        real max = row[0], sum = 0;
#pragma omp simd reduction(max : max)
        for (int c = 1; c < N; c++) max = row[c] > max ? row[c] : max;
#pragma omp simd reduction(+ : sum)
        for (int c = 0; c < N; c++) {
            row[c] = fast_exp(scale * (row[c] - max));
            sum += row[c];
        }
        const real inverse = 1 / sum;
        real *saved = probs + (size_t)i * N;
#pragma omp simd
        for (int c = 0; c < N; c++) saved[c] = row[c] *= inverse;
        sum_into_tables(row, i, G, k);
    }
}

/* The backward's row pass: dPx rows (in dsx) become dSx rows, through the lookups and
 * A = softmax(scale L): dL = scale A (dA - sum(dA A)); Px rebuilt from the probabilities. */
INLINE static void backward_rows(real *dsx, real *px, const real *probs, real scale, int G,
                                 const Block *k) {
    const int N = k->N;
    for (int i = 0; i < N; i++) {
        real *row = dsx + (size_t)i * k->Wp, *prow = px + (size_t)i * k->Wp;
        const real *p = probs + (size_t)i * N;
        memcpy(prow, p, (size_t)N * sizeof *prow);
        sum_into_tables(prow, i, G, k);
        add_lookups(row, i, G, k);
        real dot = 0;
#pragma omp simd reduction(+ : dot)
        for (int c = 0; c < N; c++) dot += row[c] * p[c];
#pragma omp simd
        for (int c = 0; c < N; c++) row[c] = scale * p[c] * (row[c] - dot);
        sum_into_tables(row, i, G, k);
    }
}

/* Zero the thread's buffers (the padding stays zero, the table gradients start) and write the
 * tables' rows of Kx^T, Vx^T, Kx and Vx, which all blocks share. */
static void buffers_start(const Buffers *b, const Block *k, const real *key_v, const real *key_h,
                          const real *value_v, const real *value_h) {
    memset(b->q, 0, thread_entries(k) * sizeof *b->q);
    for (int t = 0; t < k->T; t++)
        for (int f = 0; f < k->d; f++) {
            const int v = k->N + t, h = k->N + k->T + t;
            b->kt[(size_t)f * k->Wp + v] = key_v[(size_t)t * k->d + f];
            b->kt[(size_t)f * k->Wp + h] = key_h[(size_t)t * k->d + f];
            b->vt[(size_t)f * k->Wp + v] = value_v[(size_t)t * k->d + f];
            b->vt[(size_t)f * k->Wp + h] = value_h[(size_t)t * k->d + f];
            b->kx[(size_t)v * k->dp + f] = key_v[(size_t)t * k->d + f];
            b->kx[(size_t)h * k->dp + f] = key_h[(size_t)t * k->d + f];
            b->vx[(size_t)v * k->dp + f] = value_v[(size_t)t * k->d + f];
            b->vx[(size_t)h * k->dp + f] = value_h[(size_t)t * k->d + f];
        }
}

/* dst[r, 0..d) = src[r, 0..d) for r < rows (row strides ld_dst, ld_src); a loop, not a
 * memcpy call per 64-byte row. */
INLINE static void copy_rows(real *dst, int ld_dst, const real *src, int ld_src, int rows, int d) {
    for (int r = 0; r < rows; r++) {
        real *to = dst + (size_t)r * ld_dst;
        const real *from = src + (size_t)r * ld_src;
#pragma omp simd
        for (int f = 0; f < d; f++) to[f] = from[f];
    }
}

/* kt[f, key] = m[key, f] for the block's N keys: the head's rows as columns of Kx^T or Vx^T. */
INLINE static void transpose_keys(real *kt, const real *m, int ld, const Block *k) {
    for (int key = 0; key < k->N; key++)
        for (int f = 0; f < k->d; f++) kt[(size_t)f * k->Wp + key] = m[(size_t)key * ld + f];
}

/* One (sample, head) block forward: Sx = Q Kx^T, the row pass, O = Px Vx. The head's rows
 * have stride ld in q, k, v and out. */
CPU_DISPATCH static void forward_block(const Buffers *b, real *out, real *probs, const real *q,
                                       const real *k, const real *v, int ld, real scale,
                                       const Block *K) {
    const int N = K->N, d = K->d;
    copy_rows(b->q, K->dp, q, ld, N, d);
    transpose_keys(b->kt, k, ld, K);
    copy_rows(b->vx, K->dp, v, ld, N, d);
    tile_product(b->px, K->Wp, b->q, K->dp, 1, b->kt, K->Wp, K->Np, K->Wp, d, false);
    /* the grids of 28 / 4 (micro) and 224 / 16 pixels as constants: the sums' loops unroll */
    switch (K->G) {
    case 7:
        forward_rows(b->px, probs, scale, 7, K);
        break;
    case 14:
        forward_rows(b->px, probs, scale, 14, K);
        break;
    default:
        forward_rows(b->px, probs, scale, K->G, K);
    }
    tile_product(b->dq, K->dp, b->px, K->Wp, 1, b->vx, K->dp, K->Np, K->dp, K->W, false);
    copy_rows(out, ld, b->dq, K->dp, N, d);
}

/* One block backward: dPx = dO Vx^T, dSx through the row pass, dVx = Px^T dO, dQ = dSx Kx,
 * dKx = dSx^T Q; the tables' rows of dKx and dVx added to the thread's table gradients. */
CPU_DISPATCH static void backward_block(const Buffers *b, real *dq, real *dk, real *dv,
                                        const real *dout, const real *probs, const real *q,
                                        const real *k, const real *v, int ld, real scale,
                                        const Block *K) {
    const int N = K->N, d = K->d, dp = K->dp;
    copy_rows(b->q, dp, q, ld, N, d);
    copy_rows(b->dout, dp, dout, ld, N, d);
    copy_rows(b->kx, dp, k, ld, N, d);
    transpose_keys(b->vt, v, ld, K);
    tile_product(b->dsx, K->Wp, b->dout, dp, 1, b->vt, K->Wp, K->Np, K->Wp, d, false);
    switch (K->G) {
    case 7:
        backward_rows(b->dsx, b->px, probs, scale, 7, K);
        break;
    case 14:
        backward_rows(b->dsx, b->px, probs, scale, 14, K);
        break;
    default:
        backward_rows(b->dsx, b->px, probs, scale, K->G, K);
    }
    tile_product(b->dvx, dp, b->px, 1, K->Wp, b->dout, dp, K->Wp, dp, N, false);
    tile_product(b->dq, dp, b->dsx, K->Wp, 1, b->kx, dp, K->Np, dp, K->W, false);
    tile_product(b->dkx, dp, b->dsx, 1, K->Wp, b->q, dp, K->Wp, dp, N, false);
    copy_rows(dq, ld, b->dq, dp, N, d);
    copy_rows(dk, ld, b->dkx, dp, N, d);
    copy_rows(dv, ld, b->dvx, dp, N, d);
    /* key_v, key_h follow the keys in dKx; value_v, value_h in dVx */
    const size_t table_entries = 2 * (size_t)K->T * dp;
    real *tables = b->tables;
    const real *dkx = b->dkx + (size_t)N * dp, *dvx = b->dvx + (size_t)N * dp;
#pragma omp simd
    for (size_t r = 0; r < table_entries; r++) {
        tables[r] += dkx[r];
        tables[table_entries + r] += dvx[r];
    }
}

void attention_forward(real *out, real *probs, const real *q, const real *k, const real *v,
                       const real *key_v, const real *key_h, const real *value_v,
                       const real *value_h, real *workspace, const AttentionShape *s) {
    const Block K = block_of(s);
    const int N = K.N, d = K.d, qd = s->heads * d;
    const real scale = (real)s->scale;
#pragma omp parallel num_threads(s->threads)
    {
        const Buffers b = buffers_of(workspace, &K, omp_get_thread_num());
        buffers_start(&b, &K, key_v, key_h, value_v, value_h);
#pragma omp for schedule(static)
        for (int bj = 0; bj < s->batch * s->heads; bj++) {
            const size_t head = (size_t)(bj / s->heads) * N * qd + (size_t)(bj % s->heads) * d;
            forward_block(&b, out + head, probs + (size_t)bj * N * N, q + head, k + head, v + head,
                          qd, scale, &K);
        }
    }
}

void attention_backward(real *dq, real *dk, real *dv, real *dkey_v, real *dkey_h, real *dvalue_v,
                        real *dvalue_h, const real *dout, const real *probs, const real *q,
                        const real *k, const real *v, const real *key_v, const real *key_h,
                        const real *value_v, const real *value_h, real *workspace,
                        const AttentionShape *s) {
    const Block K = block_of(s);
    const int N = K.N, d = K.d, T = K.T, qd = s->heads * d;
    const real scale = (real)s->scale;
    int threads = 1;
#pragma omp parallel num_threads(s->threads)
    {
        const Buffers b = buffers_of(workspace, &K, omp_get_thread_num());
        buffers_start(&b, &K, key_v, key_h, value_v, value_h);
#pragma omp single
        threads = omp_get_num_threads();
#pragma omp for schedule(static)
        for (int bj = 0; bj < s->batch * s->heads; bj++) {
            const size_t head = (size_t)(bj / s->heads) * N * qd + (size_t)(bj % s->heads) * d;
            backward_block(&b, dq + head, dk + head, dv + head, dout + head,
                           probs + (size_t)bj * N * N, q + head, k + head, v + head, qd, scale, &K);
        }
    }
    /* the threads' table gradients, added in thread order */
    real *grads[] = {dkey_v, dkey_h, dvalue_v, dvalue_h};
    for (int t = 0; t < threads; t++) {
        const real *tables = buffers_of(workspace, &K, t).tables;
        for (int g = 0; g < 4; g++)
            for (int r = 0; r < T; r++)
                for (int f = 0; f < d; f++)
                    grads[g][(size_t)r * d + f] += tables[((size_t)g * T + r) * K.dp + f];
    }
}
