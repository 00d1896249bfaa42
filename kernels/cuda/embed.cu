// Patch extraction, token assembly, pooling and the q/k/v interleaving (kernels/cpu/embed.c,
// the first two functions of kernels/cpu/attention.c). One thread per output entry, except
// where a sum over the batch or the tokens runs in a thread in the CPU's order.
#include "ops.cuh"

namespace {

constexpr int kThreads = 256;

#define GRID_STRIDE(i, n)                                                                          \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                        \
         i += (size_t)gridDim.x * blockDim.x)

// Entry o of the patches [batch * grid^2, channels * patch^2], ordered (channel, y, x).
__global__ void patchify_kernel(real *patches, const real *images, int batch, int channels,
                                int image_size, int patch) {
    const int grid = image_size / patch;
    const size_t per_patch = (size_t)channels * patch * patch, area = (size_t)patch * patch;
    const size_t n = (size_t)batch * grid * grid * per_patch;
    GRID_STRIDE(o, n) {
        const size_t col = o % per_patch, patch_row = o / per_patch;
        const size_t b = patch_row / ((size_t)grid * grid);
        const int p = (int)(patch_row % ((size_t)grid * grid));
        const int c = (int)(col / area), y = (int)(col % area) / patch,
                  x = (int)(col % area) % patch;
        const int py = p / grid, px = p % grid;
        patches[o] =
            images[((b * channels + c) * image_size + (size_t)py * patch + y) * image_size +
                   (size_t)px * patch + x];
    }
}

__global__ void tokens_forward_kernel(real *x, const real *patch_embedded, const real *cls,
                                      const real *pos, int batch, int tokens, int dim, int ld_pos) {
    GRID_STRIDE(o, (size_t)batch * tokens * dim) {
        const int i = (int)(o % dim);
        const size_t bt = o / dim;
        const int t = (int)(bt % tokens);
        const size_t b = bt / tokens;
        const real src =
            t == 0 ? cls[i] : patch_embedded[(b * (tokens - 1) + (size_t)(t - 1)) * dim + i];
        x[o] = src + pos[(size_t)t * ld_pos + i];
    }
}

// One thread per (token, feature) walks the batch in order, so dpos gets the samples added
// one by one as on the CPU and dcls the batch's sum; the patch gradients are copied on the way.
__global__ void tokens_backward_kernel(real *dpatch_embedded, real *dcls, real *dpos,
                                       const real *dx, int batch, int tokens, int dim, int ld_pos) {
    GRID_STRIDE(o, (size_t)tokens * dim) {
        const int t = (int)(o / dim), i = (int)(o % dim);
        real *pos = dpos + (size_t)t * ld_pos + i;
        real acc = *pos, cls = 0;
        for (int b = 0; b < batch; b++) {
            const real d = dx[((size_t)b * tokens + t) * dim + i];
            acc += d;
            if (t == 0)
                cls += d;
            else
                dpatch_embedded[((size_t)b * (tokens - 1) + (t - 1)) * dim + i] = d;
        }
        *pos = acc;
        if (t == 0) dcls[i] += cls;
    }
}

// out[b] = token 0, or the mean of tokens 1.. summed in token order.
__global__ void pool_forward_kernel(real *out, const real *x, int batch, int tokens, int dim,
                                    bool class_token) {
    GRID_STRIDE(o, (size_t)batch * dim) {
        const size_t b = o / dim;
        const int i = (int)(o % dim);
        const real *sample = x + b * tokens * dim + i;
        if (class_token) {
            out[o] = sample[0];
            continue;
        }
        real sum = 0;
        for (int t = 1; t < tokens; t++) sum += sample[(size_t)t * dim];
        out[o] = sum / (real)(tokens - 1);
    }
}

__global__ void pool_backward_kernel(real *dx, const real *dout, int batch, int tokens, int dim,
                                     bool class_token) {
    const real share = class_token ? 1 : (real)1 / (real)(tokens - 1);
    GRID_STRIDE(o, (size_t)batch * tokens * dim) {
        const int i = (int)(o % dim);
        const size_t bt = o / dim;
        const int t = (int)(bt % tokens);
        const size_t b = bt / tokens;
        const bool pooled = class_token ? t == 0 : t > 0;
        dx[o] = pooled ? dout[b * dim + i] * share : 0;
    }
}

// Threads walk the interleaved [rows, 3 qdim] side, so it is read or written coalesced; entry
// 3f + t of a row is feature f of q (t = 0), k (1) or v (2).
__global__ void qkv_split_kernel(real *q, real *k, real *v, const real *qkv, int rows, int qdim) {
    const size_t width = (size_t)3 * qdim;
    GRID_STRIDE(o, (size_t)rows * width) {
        const size_t r = o / width;
        const int j = (int)(o % width);
        real *dst = j % 3 == 0 ? q : j % 3 == 1 ? k : v;
        dst[r * qdim + j / 3] = qkv[o];
    }
}

__global__ void qkv_merge_kernel(real *dqkv, const real *dq, const real *dk, const real *dv,
                                 int rows, int qdim) {
    const size_t width = (size_t)3 * qdim;
    GRID_STRIDE(o, (size_t)rows * width) {
        const size_t r = o / width;
        const int j = (int)(o % width);
        const real *src = j % 3 == 0 ? dq : j % 3 == 1 ? dk : dv;
        dqkv[o] = src[r * qdim + j / 3];
    }
}

#undef GRID_STRIDE

} // namespace

void cuda_patchify(const Backend *be, real *patches, const real *images, int batch, int channels,
                   int image_size, int patch) {
    if (batch <= 0 || channels <= 0 || patch <= 0 || image_size < patch) return;
    const size_t grid = (size_t)(image_size / patch);
    const size_t n = (size_t)batch * grid * grid * channels * patch * patch;
    patchify_kernel<<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(be)>>>(
        patches, images, batch, channels, image_size, patch);
    CHECK_LAUNCH();
}

void cuda_tokens_forward(const Backend *be, real *x, const real *patch_embedded, const real *cls,
                         const real *pos, int batch, int tokens, int dim, int ld_pos) {
    if (batch <= 0 || tokens <= 0 || dim <= 0) return;
    const size_t n = (size_t)batch * tokens * dim;
    tokens_forward_kernel<<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(be)>>>(
        x, patch_embedded, cls, pos, batch, tokens, dim, ld_pos);
    CHECK_LAUNCH();
}

void cuda_tokens_backward(const Backend *be, real *dpatch_embedded, real *dcls, real *dpos,
                          const real *dx, int batch, int tokens, int dim, int ld_pos) {
    if (batch <= 0 || tokens <= 0 || dim <= 0) return;
    const size_t n = (size_t)tokens * dim;
    tokens_backward_kernel<<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(be)>>>(
        dpatch_embedded, dcls, dpos, dx, batch, tokens, dim, ld_pos);
    CHECK_LAUNCH();
}

void cuda_pool_forward(const Backend *be, real *out, const real *x, int batch, int tokens, int dim,
                       bool class_token) {
    if (batch <= 0 || tokens <= 0 || dim <= 0) return;
    const size_t n = (size_t)batch * dim;
    pool_forward_kernel<<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(be)>>>(
        out, x, batch, tokens, dim, class_token);
    CHECK_LAUNCH();
}

void cuda_pool_backward(const Backend *be, real *dx, const real *dout, int batch, int tokens,
                        int dim, bool class_token) {
    if (batch <= 0 || tokens <= 0 || dim <= 0) return;
    const size_t n = (size_t)batch * tokens * dim;
    pool_backward_kernel<<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(be)>>>(
        dx, dout, batch, tokens, dim, class_token);
    CHECK_LAUNCH();
}

void cuda_qkv_split(const Backend *be, real *q, real *k, real *v, const real *qkv, int rows,
                    int qdim) {
    if (rows <= 0 || qdim <= 0) return;
    const size_t n = (size_t)rows * 3 * qdim;
    qkv_split_kernel<<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(be)>>>(q, k, v, qkv, rows,
                                                                                 qdim);
    CHECK_LAUNCH();
}

void cuda_qkv_merge(const Backend *be, real *dqkv, const real *dq, const real *dk, const real *dv,
                    int rows, int qdim) {
    if (rows <= 0 || qdim <= 0) return;
    const size_t n = (size_t)rows * 3 * qdim;
    qkv_merge_kernel<<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(be)>>>(dqkv, dq, dk, dv,
                                                                                 rows, qdim);
    CHECK_LAUNCH();
}
