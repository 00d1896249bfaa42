// The batch resize (kernels/cpu/resize.c, whose comment has PyTorch's rule and its
// precisions): one thread per output entry, its taps computed on the spot. The same bits as the
// CPU: the coordinate's product (a float scale times d + 0.5) and the four products of float
// entries and float weights are exact in double, so nvcc's fused multiply-adds round the same
// as the CPU's separate operations; each weight is one float product.
#include "ops.cuh"

namespace {

constexpr int kThreads = 256;

struct Tap {
    int i0, i1;
    float w0, w1;
};

// Output index d of an axis from `in` to `out` entries (resize.c's axis_taps).
__device__ Tap axis_tap(int in, int out, int d) {
    if (in == out) return {d, d, 1.0f, 0.0f};
    const float scale = (float)in / (float)out;
    double src = (double)scale * (d + 0.5) - 0.5;
    if (src < 0) src = 0;
    const int i = min((int)src, in - 1);
    const double lambda = fmin(fmax(src - i, 0.0), 1.0);
    const float w1 = (float)lambda;
    return {i, i + (i < in - 1 ? 1 : 0), 1.0f - w1, w1};
}

__global__ void resize_bilinear_kernel(real *y, const real *x, size_t planes, int in_h, int in_w,
                                       int out_h, int out_w) {
    const size_t n = planes * out_h * out_w;
    for (size_t o = (size_t)blockIdx.x * blockDim.x + threadIdx.x; o < n;
         o += (size_t)gridDim.x * blockDim.x) {
        const int ox = (int)(o % out_w), oy = (int)(o / out_w % out_h);
        const real *in = x + o / ((size_t)out_h * out_w) * in_h * in_w;
        const Tap r = axis_tap(in_h, out_h, oy), c = axis_tap(in_w, out_w, ox);
        const real *r0 = in + (size_t)r.i0 * in_w, *r1 = in + (size_t)r.i1 * in_w;
        const float w00 = r.w0 * c.w0, w01 = r.w0 * c.w1, w10 = r.w1 * c.w0, w11 = r.w1 * c.w1;
        y[o] = (real)((double)r0[c.i0] * w00 + (double)r0[c.i1] * w01 + (double)r1[c.i0] * w10 +
                      (double)r1[c.i1] * w11);
    }
}

} // namespace

void cuda_resize_bilinear(const Backend *be, real *y, const real *x, int batch, int channels,
                          int in_h, int in_w, int out_h, int out_w) {
    const size_t planes = (size_t)batch * channels;
    if (planes == 0 || out_h <= 0 || out_w <= 0) return;
    if (in_h == out_h && in_w == out_w) { // a copy, as on the CPU
        CHECK_CUDA(cudaMemcpyAsync(y, x, planes * in_h * in_w * sizeof *y, cudaMemcpyDeviceToDevice,
                                   cuda_stream(be)));
        return;
    }
    const size_t n = planes * out_h * out_w;
    resize_bilinear_kernel<<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(be)>>>(
        y, x, planes, in_h, in_w, out_h, out_w);
    CHECK_LAUNCH();
}
