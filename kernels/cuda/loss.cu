// The classification head's loss and metrics (kernels/cpu/loss.c, the logit sums of
// src/model/model.c model_forward and the ranks of model_metrics): one block per row of logits,
// with the row's sums in double through block_allreduce's fixed tree.
#include "block_reduce.cuh"
#include "ops.cuh"

namespace {

constexpr int kThreads = 256;
constexpr int kRowThreads = 256;

// t = lambda smooth(label_a) + (1 - lambda) smooth(label_b), with label_a's share added first
// as on the CPU (label_b may be label_a).
__global__ void soft_targets_kernel(real *targets, const int *label_a, const int *label_b,
                                    const real *mix, real off, real on, int batch, int classes) {
    const size_t n = (size_t)batch * classes;
    for (size_t o = (size_t)blockIdx.x * blockDim.x + threadIdx.x; o < n;
         o += (size_t)gridDim.x * blockDim.x) {
        const size_t b = o / classes;
        const int c = (int)(o % classes);
        const real lambda = mix ? mix[b] : 1;
        real t = off;
        if (c == label_a[b]) t += lambda * (on - off);
        if (lambda != 1 && c == label_b[b]) t += (1 - lambda) * (on - off);
        targets[o] = t;
    }
}

// loss = -sum_c t (z - log sum exp z), probs = softmax(z); exp, log and the sums in double
// like the CPU.
__global__ void cross_entropy_forward_kernel(real *loss, real *probs, const real *logits,
                                             const real *targets, int batch, int classes) {
    __shared__ real shared_real[33];
    __shared__ double shared[33];
    for (int b = blockIdx.x; b < batch; b += gridDim.x) {
        const size_t row = (size_t)b * classes;
        const real *z = logits + row, *t = targets + row;
        real *p = probs + row;
        real max = -INFINITY;
        for (int c = threadIdx.x; c < classes; c += blockDim.x) max = MaxOp()(max, z[c]);
        max = block_allreduce(max, MaxOp(), (real)-INFINITY, shared_real);
        double sum = 0;
        for (int c = threadIdx.x; c < classes; c += blockDim.x) {
            const real e = (real)exp((double)(z[c] - max));
            p[c] = e;
            sum += e;
        }
        sum = block_allreduce(sum, SumOp(), 0.0, shared);
        const double log_sum = log(sum) + max;
        double l = 0;
        // each thread rereads only the entries of p it wrote above
        for (int c = threadIdx.x; c < classes; c += blockDim.x) {
            p[c] = (real)(p[c] / sum);
            l -= t[c] * (z[c] - log_sum);
        }
        l = block_allreduce(l, SumOp(), 0.0, shared);
        if (threadIdx.x == 0) loss[b] = (real)l;
    }
}

// dz = scale (mass p - t), mass = sum_c t (1 for proper targets; kept general as on the CPU).
__global__ void cross_entropy_backward_kernel(real *dlogits, const real *probs, const real *targets,
                                              int batch, int classes, double scale) {
    __shared__ double shared[33];
    for (int b = blockIdx.x; b < batch; b += gridDim.x) {
        const size_t row = (size_t)b * classes;
        const real *p = probs + row, *t = targets + row;
        double mass = 0;
        for (int c = threadIdx.x; c < classes; c += blockDim.x) mass += t[c];
        mass = block_allreduce(mass, SumOp(), 0.0, shared);
        for (int c = threadIdx.x; c < classes; c += blockDim.x)
            dlogits[row + c] = (real)(scale * (mass * p[c] - t[c]));
    }
}

__global__ void row_sums_kernel(real *out, const real *x, int rows, int cols) {
    __shared__ double shared[33];
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const real *xr = x + (size_t)r * cols;
        double sum = 0;
        for (int c = threadIdx.x; c < cols; c += blockDim.x) sum += xr[c];
        sum = block_allreduce(sum, SumOp(), 0.0, shared);
        if (threadIdx.x == 0) out[r] = (real)sum;
    }
}

// rank = classes scored strictly above the label (0: top-1; < 5: top-5); -1 when any logit of
// the row is NaN or infinite. Counts are integers, so their order does not matter.
__global__ void label_ranks_kernel(int *rank, const real *logits, const int *labels, int batch,
                                   int classes) {
    __shared__ int shared[33];
    for (int b = blockIdx.x; b < batch; b += gridDim.x) {
        const real *z = logits + (size_t)b * classes;
        const real label = z[labels[b]];
        int above = 0, nonfinite = 0;
        for (int c = threadIdx.x; c < classes; c += blockDim.x) {
            above += z[c] > label;
            nonfinite |= !isfinite(z[c]);
        }
        nonfinite = __syncthreads_or(nonfinite);
        above = block_allreduce(above, SumOp(), 0, shared);
        if (threadIdx.x == 0) rank[b] = nonfinite ? -1 : above;
    }
}

unsigned row_blocks(int rows) {
    return cuda_blocks((size_t)rows, 1);
}

} // namespace

void cuda_soft_targets(const Backend *be, real *targets, const int *label_a, const int *label_b,
                       const real *mix, double smoothing, int batch, int classes) {
    if (batch <= 0 || classes <= 0) return;
    const real off = (real)(smoothing / classes), on = (real)(1.0 - smoothing) + off;
    const size_t n = (size_t)batch * classes;
    soft_targets_kernel<<<cuda_blocks(n, kThreads), kThreads, 0, cuda_stream(be)>>>(
        targets, label_a, label_b, mix, off, on, batch, classes);
    CHECK_LAUNCH();
}

void cuda_cross_entropy_forward(const Backend *be, real *loss, real *probs, const real *logits,
                                const real *targets, int batch, int classes) {
    if (batch <= 0 || classes <= 0) return;
    cross_entropy_forward_kernel<<<row_blocks(batch), kRowThreads, 0, cuda_stream(be)>>>(
        loss, probs, logits, targets, batch, classes);
    CHECK_LAUNCH();
}

void cuda_cross_entropy_backward(const Backend *be, real *dlogits, const real *probs,
                                 const real *targets, int batch, int classes, double scale) {
    if (batch <= 0 || classes <= 0) return;
    cross_entropy_backward_kernel<<<row_blocks(batch), kRowThreads, 0, cuda_stream(be)>>>(
        dlogits, probs, targets, batch, classes, scale);
    CHECK_LAUNCH();
}

void cuda_row_sums(const Backend *be, real *out, const real *x, int rows, int cols) {
    if (rows <= 0) return;
    row_sums_kernel<<<row_blocks(rows), kRowThreads, 0, cuda_stream(be)>>>(out, x, rows,
                                                                           cols > 0 ? cols : 0);
    CHECK_LAUNCH();
}

void cuda_label_ranks(const Backend *be, int *rank, const real *logits, const int *labels,
                      int batch, int classes) {
    if (batch <= 0 || classes <= 0) return;
    label_ranks_kernel<<<row_blocks(batch), kRowThreads, 0, cuda_stream(be)>>>(rank, logits, labels,
                                                                               batch, classes);
    CHECK_LAUNCH();
}
