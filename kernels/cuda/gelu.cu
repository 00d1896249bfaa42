// Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), and its derivative (kernels/cpu/gelu.c).
#include "ops.cuh"

namespace {

constexpr int kThreads = 256;
constexpr real kInvSqrt2 = (real)0.70710678118654752440;
constexpr real kInvSqrt2Pi = (real)0.39894228040143267794;

__global__ void gelu_forward_kernel(real *y, const real *x, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        y[i] = (real)0.5 * x[i] * (1 + erff(x[i] * kInvSqrt2));
}

// d/dx [x Phi(x)] = Phi(x) + x phi(x). dx may be dy (the model does it in place): each entry
// is read before it is written, by the same thread.
__global__ void gelu_backward_kernel(real *dx, const real *dy, const real *x, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const real xi = x[i];
        const real cdf = (real)0.5 * (1 + erff(xi * kInvSqrt2));
        const real pdf = kInvSqrt2Pi * expf((real)-0.5 * xi * xi);
        dx[i] = dy[i] * (cdf + xi * pdf);
    }
}

} // namespace

void cuda_gelu_forward(const Backend *be, real *y, const real *x, size_t n) {
    if (n == 0) return;
    gelu_forward_kernel<<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(be)>>>(y, x, n);
    CHECK_LAUNCH();
}

void cuda_gelu_backward(const Backend *be, real *dx, const real *dy, const real *x, size_t n) {
    if (n == 0) return;
    gelu_backward_kernel<<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(be)>>>(dx, dy, x, n);
    CHECK_LAUNCH();
}
