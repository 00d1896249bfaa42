// Arena-wide element-wise ops and the reductions that return a double to the host
// (kernels/cpu/reduce.c, the gradient norm and nonfinite count of src/train/trainer.c). A reduction
// is two launches: a grid whose size depends on n alone leaves one double per block in
// scratch, and one block adds those in a fixed tree, so the result repeats bit-exactly.
#include "block_reduce.cuh"
#include "ops.cuh"

namespace {

constexpr int kThreads = 256;
constexpr unsigned kMaxPartials = 1024; // also the combining block's threads

__global__ void fill_kernel(real *x, size_t n, real value) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        x[i] = value;
}

__global__ void scale_kernel(real *x, size_t n, real factor) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        x[i] *= factor;
}

// The term of entry i of a reduction, in double as on the CPU.
struct SumTerm {
    const real *x;
    __device__ double operator()(size_t i) const {
        return x[i];
    }
};
struct SquareTerm {
    const real *x;
    __device__ double operator()(size_t i) const {
        return (double)x[i] * x[i];
    }
};
struct NonfiniteTerm { // counts as doubles: exact below 2^53
    const real *x;
    __device__ double operator()(size_t i) const {
        return isfinite(x[i]) ? 0.0 : 1.0;
    }
};
// Entry i of the leading [rows, cols] block of matrices with row stride ld.
struct AbsProductTerm {
    const real *a, *b;
    size_t cols, ld;
    __device__ double operator()(size_t i) const {
        const size_t at = i / cols * ld + i % cols;
        return fabs((double)a[at] * b[at]);
    }
};
struct AbsTerm {
    const real *a;
    size_t cols, ld;
    __device__ double operator()(size_t i) const {
        return fabs((double)a[i / cols * ld + i % cols]);
    }
};

template <typename Term> __global__ void partial_sums_kernel(double *partial, Term term, size_t n) {
    __shared__ double shared[33];
    double sum = 0;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        sum += term(i);
    sum = block_allreduce(sum, SumOp(), 0.0, shared);
    if (threadIdx.x == 0) partial[blockIdx.x] = sum;
}

// One block of kMaxPartials threads: thread t holds partial t.
__global__ void combine_partials_kernel(double *result, const double *partial, unsigned count) {
    __shared__ double shared[33];
    double sum = threadIdx.x < count ? partial[threadIdx.x] : 0.0;
    sum = block_allreduce(sum, SumOp(), 0.0, shared);
    if (threadIdx.x == 0) *result = sum;
}

template <typename Term> double reduce(const Backend *be, Term term, size_t n) {
    if (n == 0) return 0;
    const unsigned blocks =
        cuda_blocks(n, kThreads) < kMaxPartials ? cuda_blocks(n, kThreads) : kMaxPartials;
    double *partial = static_cast<double *>(cuda_scratch(be, (kMaxPartials + 1) * sizeof(double)));
    double *result = partial + kMaxPartials;
    cudaStream_t stream = cuda_stream(be);
    partial_sums_kernel<<<blocks, kThreads, 0, stream>>>(partial, term, n);
    CHECK_LAUNCH();
    combine_partials_kernel<<<1, kMaxPartials, 0, stream>>>(result, partial, blocks);
    CHECK_LAUNCH();
    double *host = cuda_ctx(be)->host_result;
    CHECK_CUDA(cudaMemcpyAsync(host, result, sizeof(double), cudaMemcpyDeviceToHost, stream));
    CHECK_CUDA(cudaStreamSynchronize(stream));
    return *host;
}

} // namespace

void cuda_fill(const Backend *be, real *x, size_t n, double value) {
    if (n == 0) return;
    fill_kernel<<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(be)>>>(x, n, (real)value);
    CHECK_LAUNCH();
}

void cuda_scale(const Backend *be, real *x, size_t n, double factor) {
    if (n == 0) return;
    scale_kernel<<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(be)>>>(x, n, (real)factor);
    CHECK_LAUNCH();
}

double cuda_sum(const Backend *be, const real *x, size_t n) {
    return reduce(be, SumTerm{x}, n);
}

double cuda_sum_squares(const Backend *be, const real *x, size_t n) {
    return reduce(be, SquareTerm{x}, n);
}

size_t cuda_count_nonfinite(const Backend *be, const real *x, size_t n) {
    return (size_t)reduce(be, NonfiniteTerm{x}, n);
}

double cuda_sum_abs_product(const Backend *be, const real *a, const real *b, int rows, int cols,
                            int ld) {
    if (rows <= 0 || cols <= 0) return 0;
    return reduce(be, AbsProductTerm{a, b, (size_t)cols, (size_t)ld}, (size_t)rows * cols);
}

double cuda_sum_abs(const Backend *be, const real *a, int rows, int cols, int ld) {
    if (rows <= 0 || cols <= 0) return 0;
    return reduce(be, AbsTerm{a, (size_t)cols, (size_t)ld}, (size_t)rows * cols);
}
