// Multi-head attention with PreNAS's 2-D relative positions on the GPU, forward and backward
// (kernels/cpu/attention.c is the reference, method.md §3.5-§3.6).
//
// The scores are materialised ([batch, heads, tokens, tokens], the saved `probs`): PreNAS's
// value term multiplies the probabilities by the value tables through the table rows each
// key falls in (O = A V + A.Rv), which cuDNN's fused attention and FlashAttention cannot
// express. A fused kernel that keeps A on chip and bucket-sums it there is a candidate to be
// measured on a GPU later; at 197 tokens the materialised scores are a small share of a step.
//
// Plan, as on the CPU: the relative terms never form [tokens, tokens, head_dim] embeddings.
// Q.Rk is a lookup in Q Tk^T (one GEMM over all samples, tokens and heads, [rows, 2R+2]);
// A.Rv is A bucket-summed into table rows ([rows, 2R+2]), times the value tables (one GEMM).
// Q K^T and A V run head by head as strided-batched GEMMs over the samples; one fused kernel
// (a warp per score row) adds the lookups, takes the softmax and bucket-sums the result.
// Every sum has a fixed order (warp shuffles, ordered loops, cuBLAS): no atomics.
#include "ops.cuh"

namespace {

constexpr int kWarpsPerBlock = 8;
constexpr int kWarp = 32;
constexpr unsigned kFullMask = 0xffffffffu;

struct Geometry {
    int batch, tokens, heads, head_dim, grid, radius, table_rows, qdim;
    size_t rows;       // (sample, token, head) rows of head_dim features
    size_t score_rows; // rows of the scores: batch * heads * tokens
};

Geometry geometry_of(const AttentionShape *s) {
    Geometry g;
    g.batch = s->batch;
    g.tokens = s->tokens;
    g.heads = s->heads;
    g.head_dim = s->head_dim;
    g.grid = s->grid;
    g.radius = s->max_relative_position;
    g.table_rows = 2 * s->max_relative_position + 2;
    g.qdim = s->heads * s->head_dim;
    g.rows = (size_t)s->batch * s->tokens * s->heads;
    g.score_rows = g.rows;
    return g;
}

// Workspace regions start on 64-entry (256-byte) boundaries relative to the workspace.
size_t rounded(size_t entries) {
    return (entries + 63) / 64 * 64;
}

// Table row of a (query, key) distance along one grid axis (attention.c's table_row).
__device__ __forceinline__ int table_row(int key, int query, int radius) {
    const int d = key - query;
    return (d < -radius ? -radius : d > radius ? radius : d) + radius + 1;
}

// lookup_v[row_v(i, k)] + lookup_h[row_h(i, k)]: the relative term of query i and key k.
__device__ __forceinline__ real relative_term(const real *lookup_v, const real *lookup_h, int i,
                                              int k, int grid, int radius) {
    if (i == 0 || k == 0) return lookup_v[0] + lookup_h[0];
    const int qy = (i - 1) / grid, qx = (i - 1) % grid;
    const int ky = (k - 1) / grid, kx = (k - 1) % grid;
    return lookup_v[table_row(ky, qy, radius)] + lookup_h[table_row(kx, qx, radius)];
}

__device__ __forceinline__ real warp_sum(real x) {
    // butterfly: every lane ends with the same bits (each step adds a pair in both orders,
    // and addition commutes)
    for (int offset = kWarp / 2; offset > 0; offset /= 2)
        x += __shfl_xor_sync(kFullMask, x, offset);
    return x;
}

__device__ __forceinline__ real warp_max(real x) {
    for (int offset = kWarp / 2; offset > 0; offset /= 2)
        x = fmaxf(x, __shfl_xor_sync(kFullMask, x, offset));
    return x;
}

// sums_v[t] = sum of row[k] over the keys whose vertical table row is t; sums_h likewise
// (attention.c's sum_into_tables, in the same order of additions). `row` is the warp's copy in
// shared memory; `lines` has room for 2 * grid partial sums.
__device__ void bucket_sums(real *sums_v, real *sums_h, const real *row, real *lines, int i,
                            int tokens, int grid, int radius, int table_rows, int lane) {
    if (i == 0) { // the class token's query: every key on row 0 of both tables
        real total = 0;
        if (lane == 0)
            for (int k = 0; k < tokens; k++) total += row[k];
        total = __shfl_sync(kFullMask, total, 0);
        for (int t = lane; t < table_rows; t += kWarp) {
            sums_v[t] = t == 0 ? total : 0;
            sums_h[t] = t == 0 ? total : 0;
        }
        return;
    }
    real *row_totals = lines, *column_totals = lines + grid;
    for (int y = lane; y < grid; y += kWarp) {
        const real *keys = row + 1 + y * grid;
        real total = 0;
        for (int x = 0; x < grid; x++) total += keys[x];
        row_totals[y] = total;
    }
    for (int x = lane; x < grid; x += kWarp) {
        real total = 0;
        for (int y = 0; y < grid; y++) total += row[1 + y * grid + x];
        column_totals[x] = total;
    }
    __syncwarp();
    const int qy = (i - 1) / grid, qx = (i - 1) % grid;
    for (int t = lane; t < table_rows; t += kWarp) {
        // row 0 is the class token's key alone: patches fall on rows 1..2R+1
        real sv = t == 0 ? row[0] : 0, sh = t == 0 ? row[0] : 0;
        for (int y = 0; y < grid; y++)
            if (table_row(y, qy, radius) == t) sv += row_totals[y];
        for (int x = 0; x < grid; x++)
            if (table_row(x, qx, radius) == t) sh += column_totals[x];
        sums_v[t] = sv;
        sums_h[t] = sh;
    }
}

// Shared memory per warp: the score row and the grid's row and column totals.
size_t shared_bytes(const Geometry &g) {
    return (size_t)kWarpsPerBlock * (g.tokens + 2 * g.grid) * sizeof(real);
}

// Above 48 KiB of dynamic shared memory a kernel must opt in (long sequences: more than
// about 1,500 tokens); below it this is a no-op.
template <typename Kernel> void allow_shared(Kernel kernel, size_t bytes) {
    if (bytes > 48 * 1024)
        CHECK_CUDA(
            cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
}

struct RowIndex {
    int i;    // query token
    size_t r; // its (sample, token, head) row of the lookups and bucket sums
};

// Score row n of [batch, heads, tokens, tokens] is (sample b, head j, query i).
__device__ __forceinline__ RowIndex row_index(size_t n, int tokens, int heads) {
    const size_t bj = n / tokens;
    const int i = (int)(n % tokens);
    const size_t b = bj / heads, j = bj % heads;
    return {i, (b * tokens + i) * heads + j};
}

// Forward, per score row: L = S + lookups (S = Q K^T, in `probs`), A = softmax(scale L)
// written over S, and A bucket-summed into sums_v, sums_h (attention.c: add_lookups,
// forward_rows' softmax, sum_into_tables).
__global__ void softmax_forward_kernel(real *probs, real *sums_v, real *sums_h,
                                       const real *lookup_v, const real *lookup_h, size_t n_rows,
                                       int tokens, int heads, int grid, int radius, int table_rows,
                                       real scale) {
    extern __shared__ real shared[];
    const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
    const size_t n = (size_t)blockIdx.x * kWarpsPerBlock + warp;
    if (n >= n_rows) return; // the whole warp: no block-wide barriers below
    real *buffer = shared + (size_t)warp * (tokens + 2 * grid);
    const RowIndex at = row_index(n, tokens, heads);
    const real *lv = lookup_v + at.r * table_rows, *lh = lookup_h + at.r * table_rows;
    real *row = probs + n * tokens;

    real max = -INFINITY;
    for (int k = lane; k < tokens; k += kWarp) {
        const real l = row[k] + relative_term(lv, lh, at.i, k, grid, radius);
        buffer[k] = l;
        max = fmaxf(max, l);
    }
    max = warp_max(max);
    real sum = 0;
    for (int k = lane; k < tokens; k += kWarp) {
        const real e = expf(scale * (buffer[k] - max));
        buffer[k] = e;
        sum += e;
    }
    const real inverse = 1 / warp_sum(sum);
    for (int k = lane; k < tokens; k += kWarp) {
        const real a = buffer[k] * inverse;
        buffer[k] = a;
        row[k] = a;
    }
    __syncwarp();
    bucket_sums(sums_v + at.r * table_rows, sums_h + at.r * table_rows, buffer, buffer + tokens,
                at.i, tokens, grid, radius, table_rows, lane);
}

// Backward's bucket sums of the saved probabilities (for the value tables' gradients).
__global__ void bucket_probs_kernel(real *sums_v, real *sums_h, const real *probs, size_t n_rows,
                                    int tokens, int heads, int grid, int radius, int table_rows) {
    extern __shared__ real shared[];
    const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
    const size_t n = (size_t)blockIdx.x * kWarpsPerBlock + warp;
    if (n >= n_rows) return;
    real *buffer = shared + (size_t)warp * (tokens + 2 * grid);
    const RowIndex at = row_index(n, tokens, heads);
    const real *row = probs + n * tokens;
    for (int k = lane; k < tokens; k += kWarp) buffer[k] = row[k];
    __syncwarp();
    bucket_sums(sums_v + at.r * table_rows, sums_h + at.r * table_rows, buffer, buffer + tokens,
                at.i, tokens, grid, radius, table_rows, lane);
}

// Backward, per score row: dA = dO V^T (in `dscores`) + the value tables' lookups, then
// through the softmax dL = scale A (dA - sum(dA A)) written over dA, then dL bucket-summed
// (attention.c: add_lookups, backward_rows, sum_into_tables).
__global__ void softmax_backward_kernel(real *dscores, real *sums_v, real *sums_h,
                                        const real *probs, const real *lookup_v,
                                        const real *lookup_h, size_t n_rows, int tokens, int heads,
                                        int grid, int radius, int table_rows, real scale) {
    extern __shared__ real shared[];
    const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
    const size_t n = (size_t)blockIdx.x * kWarpsPerBlock + warp;
    if (n >= n_rows) return;
    real *buffer = shared + (size_t)warp * (tokens + 2 * grid);
    const RowIndex at = row_index(n, tokens, heads);
    const real *lv = lookup_v + at.r * table_rows, *lh = lookup_h + at.r * table_rows;
    real *row = dscores + n * tokens;
    const real *p = probs + n * tokens;

    real dot = 0;
    for (int k = lane; k < tokens; k += kWarp) {
        const real da = row[k] + relative_term(lv, lh, at.i, k, grid, radius);
        buffer[k] = da;
        dot += da * p[k];
    }
    dot = warp_sum(dot);
    for (int k = lane; k < tokens; k += kWarp) {
        const real dl = scale * p[k] * (buffer[k] - dot);
        buffer[k] = dl;
        row[k] = dl;
    }
    __syncwarp();
    bucket_sums(sums_v + at.r * table_rows, sums_h + at.r * table_rows, buffer, buffer + tokens,
                at.i, tokens, grid, radius, table_rows, lane);
}

unsigned row_blocks(size_t n_rows) {
    return (unsigned)((n_rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
}

// Row-major C = alpha op(A) op(B) + beta C for `batch` matrices `stride_*` entries apart, on
// the cuBLAS handle (column-major C^T = op(B)^T op(A)^T, as in gemm.cu). fp32 operands; TF32
// tensor cores at PRECISION_TF32. At PRECISION_BF16 attention's products run in fp32 in this
// first version: the scores are fp32 and bf16 copies of them would cost a pass each.
void batched_gemm(const Backend *be, bool trans_a, bool trans_b, int m, int n, int k, real alpha,
                  const real *a, int lda, long long stride_a, const real *b, int ldb,
                  long long stride_b, real beta, real *c, int ldc, long long stride_c, int batch) {
    if (m <= 0 || n <= 0 || batch <= 0) return;
    const cublasComputeType_t compute =
        be->precision == PRECISION_TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    CHECK_CUBLAS(cublasGemmStridedBatchedEx(cuda_ctx(be)->blas, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                            trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, b,
                                            CUDA_R_32F, ldb, stride_b, a, CUDA_R_32F, lda, stride_a,
                                            &beta, c, CUDA_R_32F, ldc, stride_c, batch, compute,
                                            CUBLAS_GEMM_DEFAULT));
}

void matmul(const Backend *be, bool trans_a, bool trans_b, int m, int n, int k, real alpha,
            const real *a, int lda, const real *b, int ldb, real beta, real *c, int ldc) {
    batched_gemm(be, trans_a, trans_b, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1);
}

// True when there is nothing to compute. The kernels index keys by grid position, so a shape
// whose tokens are not the class token plus a grid x grid of patches is a caller's bug.
bool empty(const Geometry &g) {
    if (g.batch <= 0 || g.tokens <= 0 || g.heads <= 0 || g.head_dim <= 0) return true;
    if (g.tokens != 1 + g.grid * g.grid || g.radius < 0)
        fatal_at(__FILE__, __LINE__,
                 "attention: %d tokens do not make a class token and a %d x %d grid (R %d)",
                 g.tokens, g.grid, g.grid, g.radius);
    return false;
}

} // namespace

// Forward: the lookups and bucket sums, 4 [rows, 2R+2] arrays. Backward: the same four
// (lookups of dO in the value tables, bucket sums) and dA for all samples and heads at once
// ([batch, heads, tokens, tokens], like probs), so each head's products are single batched
// GEMMs.
// It depends on the sizes alone (not head_dim or the grid), so that a workspace sized for
// the largest subnet holds every smaller one's.
size_t cuda_attention_workspace_size(const Backend *, const AttentionShape *shape) {
    const Geometry g = geometry_of(shape);
    if (g.batch <= 0 || g.tokens <= 0 || g.heads <= 0) return 0;
    return 4 * rounded(g.rows * g.table_rows) + rounded(g.score_rows * g.tokens);
}

void cuda_attention_forward(const Backend *be, real *out, real *probs, const real *q, const real *k,
                            const real *v, const real *key_v, const real *key_h,
                            const real *value_v, const real *value_h, real *workspace,
                            const AttentionShape *shape) {
    const Geometry g = geometry_of(shape);
    if (empty(g)) return;
    const int N = g.tokens, d = g.head_dim, T = g.table_rows, qd = g.qdim, H = g.heads;
    const int rows = (int)g.rows;
    const size_t region = rounded(g.rows * T);
    real *q_v = workspace, *q_h = q_v + region, *a_v = q_h + region, *a_h = a_v + region;
    const real scale = (real)shape->scale;
    const long long per_sample = (long long)N * qd, per_scores = (long long)H * N * N;

    // Q.Rk's lookups: Q as [rows, head_dim] times each key table
    matmul(be, false, true, rows, T, d, 1, q, d, key_v, d, 0, q_v, T);
    matmul(be, false, true, rows, T, d, 1, q, d, key_h, d, 0, q_h, T);
    // S = Q K^T per head, over the samples (head j's columns start at j * head_dim)
    for (int j = 0; j < H; j++)
        batched_gemm(be, false, true, N, N, d, 1, q + (size_t)j * d, qd, per_sample,
                     k + (size_t)j * d, qd, per_sample, 0, probs + (size_t)j * N * N, N, per_scores,
                     g.batch);
    allow_shared(softmax_forward_kernel, shared_bytes(g));
    softmax_forward_kernel<<<row_blocks(g.score_rows), kWarpsPerBlock * kWarp, shared_bytes(g),
                             cuda_stream(be)>>>(probs, a_v, a_h, q_v, q_h, g.score_rows, N, H,
                                                g.grid, g.radius, T, scale);
    CHECK_LAUNCH();
    // O = A V per head, then + A.Rv through the bucket sums
    for (int j = 0; j < H; j++)
        batched_gemm(be, false, false, N, d, N, 1, probs + (size_t)j * N * N, N, per_scores,
                     v + (size_t)j * d, qd, per_sample, 0, out + (size_t)j * d, qd, per_sample,
                     g.batch);
    matmul(be, false, false, rows, d, T, 1, a_v, T, value_v, d, 1, out, d);
    matmul(be, false, false, rows, d, T, 1, a_h, T, value_h, d, 1, out, d);
}

void cuda_attention_backward(const Backend *be, real *dq, real *dk, real *dv, real *dkey_v,
                             real *dkey_h, real *dvalue_v, real *dvalue_h, const real *dout,
                             const real *probs, const real *q, const real *k, const real *v,
                             const real *key_v, const real *key_h, const real *value_v,
                             const real *value_h, real *workspace, const AttentionShape *shape) {
    const Geometry g = geometry_of(shape);
    if (empty(g)) return;
    const int N = g.tokens, d = g.head_dim, T = g.table_rows, qd = g.qdim, H = g.heads;
    const int rows = (int)g.rows;
    const size_t region = rounded(g.rows * T);
    real *do_v = workspace, *do_h = do_v + region, *sum_v = do_h + region, *sum_h = sum_v + region,
         *dscores = sum_h + region;
    const real scale = (real)shape->scale;
    const long long per_sample = (long long)N * qd, per_scores = (long long)H * N * N;
    cudaStream_t stream = cuda_stream(be);

    // through O = A V + A.Rv: the value tables' share
    matmul(be, false, true, rows, T, d, 1, dout, d, value_v, d, 0, do_v, T);
    matmul(be, false, true, rows, T, d, 1, dout, d, value_h, d, 0, do_h, T);
    allow_shared(bucket_probs_kernel, shared_bytes(g));
    bucket_probs_kernel<<<row_blocks(g.score_rows), kWarpsPerBlock * kWarp, shared_bytes(g),
                          stream>>>(sum_v, sum_h, probs, g.score_rows, N, H, g.grid, g.radius, T);
    CHECK_LAUNCH();
    matmul(be, true, false, T, d, rows, 1, sum_v, T, dout, d, 1, dvalue_v, d);
    matmul(be, true, false, T, d, rows, 1, sum_h, T, dout, d, 1, dvalue_h, d);
    for (int j = 0; j < H; j++) {
        const real *p = probs + (size_t)j * N * N, *dO = dout + (size_t)j * d;
        batched_gemm(be, true, false, N, d, N, 1, p, N, per_scores, dO, qd, per_sample, 0,
                     dv + (size_t)j * d, qd, per_sample, g.batch);
        batched_gemm(be, false, true, N, N, d, 1, dO, qd, per_sample, v + (size_t)j * d, qd,
                     per_sample, 0, dscores + (size_t)j * N * N, N, per_scores, g.batch);
    }
    // through the softmax; the bucket sums of dL overwrite those of A, already consumed
    allow_shared(softmax_backward_kernel, shared_bytes(g));
    softmax_backward_kernel<<<row_blocks(g.score_rows), kWarpsPerBlock * kWarp, shared_bytes(g),
                              stream>>>(dscores, sum_v, sum_h, probs, do_v, do_h, g.score_rows, N,
                                        H, g.grid, g.radius, T, scale);
    CHECK_LAUNCH();
    // through L = Q K^T + Q.Rk
    for (int j = 0; j < H; j++) {
        const real *ds = dscores + (size_t)j * N * N;
        batched_gemm(be, false, false, N, d, N, 1, ds, N, per_scores, k + (size_t)j * d, qd,
                     per_sample, 0, dq + (size_t)j * d, qd, per_sample, g.batch);
        batched_gemm(be, true, false, N, d, N, 1, ds, N, per_scores, q + (size_t)j * d, qd,
                     per_sample, 0, dk + (size_t)j * d, qd, per_sample, g.batch);
    }
    matmul(be, false, false, rows, d, T, 1, sum_v, T, key_v, d, 1, dq, d);
    matmul(be, false, false, rows, d, T, 1, sum_h, T, key_h, d, 1, dq, d);
    matmul(be, true, false, T, d, rows, 1, sum_v, T, q, d, 1, dkey_v, d);
    matmul(be, true, false, T, d, rows, 1, sum_h, T, q, d, 1, dkey_h, d);
}
