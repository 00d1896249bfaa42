// The residual stream with drop path (kernels/cpu/residual.c): a per-sample scale on the branch.
#include "ops.cuh"

namespace {

constexpr int kThreads = 256;

// out may be x: each entry is read and written by the same thread. scale NULL means 1.
__global__ void residual_forward_kernel(real *out, const real *x, const real *branch,
                                        const real *sample_scale, size_t per_sample, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const real scale = sample_scale ? sample_scale[i / per_sample] : 1;
        out[i] = x[i] + scale * branch[i];
    }
}

__global__ void residual_backward_kernel(real *dbranch, const real *dout, const real *sample_scale,
                                         size_t per_sample, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const real scale = sample_scale ? sample_scale[i / per_sample] : 1;
        dbranch[i] = scale * dout[i];
    }
}

} // namespace

void cuda_residual_forward(const Backend *be, real *out, const real *x, const real *branch,
                           const real *sample_scale, int batch, int rows_per_sample, int dim) {
    if (batch <= 0 || rows_per_sample <= 0 || dim <= 0) return;
    const size_t per_sample = (size_t)rows_per_sample * dim, n = (size_t)batch * per_sample;
    residual_forward_kernel<<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(be)>>>(
        out, x, branch, sample_scale, per_sample, n);
    CHECK_LAUNCH();
}

void cuda_residual_backward(const Backend *be, real *dbranch, const real *dout,
                            const real *sample_scale, int batch, int rows_per_sample, int dim) {
    if (batch <= 0 || rows_per_sample <= 0 || dim <= 0) return;
    const size_t per_sample = (size_t)rows_per_sample * dim, n = (size_t)batch * per_sample;
    residual_backward_kernel<<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(be)>>>(
        dbranch, dout, sample_scale, per_sample, n);
    CHECK_LAUNCH();
}
