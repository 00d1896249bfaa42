// Layer normalisation over the features of each row (kernels/cpu/layernorm.c): one warp per
// row for the row statistics, and the parameter gradients as column sums over fixed row
// chunks, combined in chunk order.
#include "block_reduce.cuh"
#include "ops.cuh"

namespace {

constexpr double kLayernormEps = 1e-5;
constexpr int kRowThreads = 256; // 8 warps, one row each
constexpr int kRowsPerBlock = kRowThreads / 32;

// Two passes in double, as on the CPU: no cancellation for rows with a large mean. x and y
// may be the same array: each lane reads its entries before writing them.
__global__ void layernorm_forward_kernel(real *y, real *mean, real *rstd, const real *x,
                                         const real *gamma, const real *beta, int rows, int dim) {
    const int lane = threadIdx.x % 32;
    for (int r = blockIdx.x * kRowsPerBlock + threadIdx.x / 32; r < rows;
         r += gridDim.x * kRowsPerBlock) {
        const real *xr = x + (size_t)r * dim;
        double sum = 0;
        for (int i = lane; i < dim; i += 32) sum += xr[i];
        sum = warp_allreduce(sum, SumOp());
        const real m = (real)(sum / dim);
        double var = 0;
        for (int i = lane; i < dim; i += 32) {
            const real d = xr[i] - m;
            var += (double)d * d;
        }
        var = warp_allreduce(var, SumOp());
        const real s = (real)(1.0 / sqrt(var / dim + kLayernormEps));
        real *yr = y + (size_t)r * dim;
        for (int i = lane; i < dim; i += 32) yr[i] = (xr[i] - m) * s * gamma[i] + beta[i];
        if (lane == 0) {
            mean[r] = m;
            rstd[r] = s;
        }
    }
}

// With xhat = (x - mean) rstd and g = dy gamma: dx += rstd (g - mean(g) - xhat mean(g xhat)).
__global__ void layernorm_dx_kernel(real *dx, const real *dy, const real *x, const real *mean,
                                    const real *rstd, const real *gamma, int rows, int dim) {
    const int lane = threadIdx.x % 32;
    for (int r = blockIdx.x * kRowsPerBlock + threadIdx.x / 32; r < rows;
         r += gridDim.x * kRowsPerBlock) {
        const size_t row = (size_t)r * dim;
        const real m = mean[r], s = rstd[r];
        double g_sum = 0, gx_sum = 0;
        for (int i = lane; i < dim; i += 32) {
            const real xhat = (x[row + i] - m) * s, g = dy[row + i] * gamma[i];
            g_sum += g;
            gx_sum += (double)g * xhat;
        }
        g_sum = warp_allreduce(g_sum, SumOp());
        gx_sum = warp_allreduce(gx_sum, SumOp());
        const real a = (real)(g_sum / dim), c = (real)(gx_sum / dim);
        for (int i = lane; i < dim; i += 32)
            dx[row + i] += s * (dy[row + i] * gamma[i] - a - (x[row + i] - m) * s * c);
    }
}

constexpr int kColumnThreads = 128;
constexpr int kChunkRows = 128; // rows per partial: enough blocks to fill the GPU at ViT sizes

// partial[chunk, 0, col] = sum of dy xhat, partial[chunk, 1, col] = sum of dy over the chunk's
// rows (blockIdx.y), in row order.
__global__ void layernorm_column_partials_kernel(real *partial, const real *dy, const real *x,
                                                 const real *mean, const real *rstd, int rows,
                                                 int dim, int chunk_rows) {
    const int col = blockIdx.x * kColumnThreads + threadIdx.x;
    if (col >= dim) return;
    const int first = blockIdx.y * chunk_rows;
    const int last = rows - first < chunk_rows ? rows : first + chunk_rows;
    real dgamma = 0, dbeta = 0;
    for (int r = first; r < last; r++) {
        const size_t at = (size_t)r * dim + col;
        dgamma += dy[at] * ((x[at] - mean[r]) * rstd[r]);
        dbeta += dy[at];
    }
    real *out = partial + (size_t)blockIdx.y * 2 * dim;
    out[col] = dgamma;
    out[dim + col] = dbeta;
}

// One block per 32 columns: warp w adds chunks w, w + 8, ... in order (coalesced over the
// columns), then warp 0 adds the eight warps' sums in warp order.
constexpr int kCombineWarps = 8;

__global__ void layernorm_column_combine_kernel(real *dgamma, real *dbeta, const real *partial,
                                                int chunks, int dim) {
    __shared__ double sums[kCombineWarps][2][32];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int col = blockIdx.x * 32 + lane;
    double g = 0, b = 0;
    if (col < dim)
        for (int c = warp; c < chunks; c += kCombineWarps) {
            g += partial[(size_t)c * 2 * dim + col];
            b += partial[(size_t)c * 2 * dim + dim + col];
        }
    sums[warp][0][lane] = g;
    sums[warp][1][lane] = b;
    __syncthreads();
    if (warp != 0 || col >= dim) return;
    g = b = 0;
    for (int w = 0; w < kCombineWarps; w++) {
        g += sums[w][0][lane];
        b += sums[w][1][lane];
    }
    dgamma[col] += (real)g;
    dbeta[col] += (real)b;
}

} // namespace

void cuda_layernorm_forward(const Backend *be, real *y, real *mean, real *rstd, const real *x,
                            const real *gamma, const real *beta, int rows, int dim) {
    if (rows <= 0 || dim <= 0) return;
    layernorm_forward_kernel<<<cuda_blocks((size_t)rows, kRowsPerBlock), kRowThreads, 0,
                               cuda_stream(be)>>>(y, mean, rstd, x, gamma, beta, rows, dim);
    CHECK_LAUNCH();
}

void cuda_layernorm_backward_accumulate(const Backend *be, real *dx, real *dgamma, real *dbeta,
                                        const real *dy, const real *x, const real *mean,
                                        const real *rstd, const real *gamma, int rows, int dim) {
    if (rows <= 0 || dim <= 0) return;
    cudaStream_t stream = cuda_stream(be);
    layernorm_dx_kernel<<<cuda_blocks((size_t)rows, kRowsPerBlock), kRowThreads, 0, stream>>>(
        dx, dy, x, mean, rstd, gamma, rows, dim);
    CHECK_LAUNCH();

    // The chunking depends on `rows` alone, so the order of the sums is fixed; gridDim.y is
    // at most 65535.
    const int chunk_rows = rows / 65535 + 1 > kChunkRows ? rows / 65535 + 1 : kChunkRows;
    const int chunks = rows / chunk_rows + (rows % chunk_rows != 0);
    real *partial = static_cast<real *>(cuda_scratch(be, (size_t)chunks * 2 * dim * sizeof(real)));
    const dim3 grid((unsigned)((dim + kColumnThreads - 1) / kColumnThreads), (unsigned)chunks);
    layernorm_column_partials_kernel<<<grid, kColumnThreads, 0, stream>>>(
        partial, dy, x, mean, rstd, rows, dim, chunk_rows);
    CHECK_LAUNCH();
    layernorm_column_combine_kernel<<<(unsigned)((dim + 31) / 32), kCombineWarps * 32, 0, stream>>>(
        dgamma, dbeta, partial, chunks, dim);
    CHECK_LAUNCH();
}
