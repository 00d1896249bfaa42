// Decoupled AdamW over a whole arena in one launch (kernels/cpu/adamw.c, per tensor in
// src/train/optim.c adamw_step): the tensors' segments come as a device array.
#include "ops.cuh"

namespace {

constexpr int kThreads = 256;
constexpr int kBlocksPerSm = 8; // 2048 threads: a full SM

// The step's constants, rounded to real on the host exactly as adamw_update rounds them.
struct AdamWConstants {
    real decay, b1, b2, step, inv_sqrt_bc2, eps;
};

// Segments are cut into chunks of blockDim.x entries, and the chunks of all segments, counted
// in segment order, are dealt round robin to the blocks: arenas hold tensors from a few
// hundred entries to millions, and a grid per segment would either leave the large ones to a
// few blocks or launch mostly idle blocks. Every entry is updated on its own, so the dealing
// does not change any result.
__global__ void adamw_kernel(real *param, const real *grad, real *m, real *v,
                             const AdamWSegment *segments, int n_segments, AdamWConstants k) {
    const size_t blocks = gridDim.x;
    size_t chunks_before = 0; // chunks of the segments before this one
    for (int s = 0; s < n_segments; s++) {
        const AdamWSegment seg = segments[s];
        const size_t chunks = (seg.count + blockDim.x - 1) / blockDim.x;
        const real decay = seg.weight_decay ? k.decay : 1;
        // the first chunk j of this segment with (chunks_before + j) mod blocks == blockIdx.x
        size_t j = (blockIdx.x + blocks - chunks_before % blocks) % blocks;
        for (; j < chunks; j += blocks) {
            const size_t e = j * blockDim.x + threadIdx.x;
            if (e >= seg.count) continue;
            const size_t i = seg.offset + e;
            const real g = grad[i];
            const real mi = k.b1 * m[i] + (1 - k.b1) * g;
            const real vi = k.b2 * v[i] + (1 - k.b2) * g * g;
            m[i] = mi;
            v[i] = vi;
            param[i] = param[i] * decay - k.step * mi / (sqrtf(vi) * k.inv_sqrt_bc2 + k.eps);
        }
        chunks_before += chunks;
    }
}

} // namespace

void cuda_adamw(const Backend *be, real *param, const real *grad, real *m, real *v,
                const AdamWSegment *segments, int n_segments, const AdamWStep *step) {
    if (n_segments <= 0) return;
    // undecayed segments use 1, which is the CPU's 1 - lr * 0 (src/train/optim.c passes decay 0)
    const AdamWConstants k = {(real)(1.0 - step->lr * step->weight_decay),
                              (real)step->beta1,
                              (real)step->beta2,
                              (real)(step->lr / step->bias_correction1),
                              (real)(1.0 / sqrt(step->bias_correction2)),
                              (real)step->eps};
    const int sms = cuda_ctx(be)->sm_count > 0 ? cuda_ctx(be)->sm_count : 1;
    adamw_kernel<<<(unsigned)(sms * kBlocksPerSm), kThreads, 0, cuda_stream(be)>>>(
        param, grad, m, v, segments, n_segments, k);
    CHECK_LAUNCH();
}
