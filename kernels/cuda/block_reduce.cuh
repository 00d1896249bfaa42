// Fixed-shape warp and block reductions shared by the element-wise op files. The tree of
// additions depends only on the block shape, never on timing, so a sum repeats bit-exactly
// (backend.h: no atomics anywhere).
#ifndef PRENAS_CUDA_BLOCK_REDUCE_CUH
#define PRENAS_CUDA_BLOCK_REDUCE_CUH

#include <cuda_runtime.h>

constexpr unsigned kFullWarp = 0xffffffffu;

struct SumOp {
    template <typename T> __device__ T operator()(T a, T b) const {
        return a + b;
    }
};

// Unlike fmaxf, a NaN wins, as it does in the CPU's loops (a NaN logit makes the row NaN).
struct MaxOp {
    template <typename T> __device__ T operator()(T a, T b) const {
        return b > a || b != b ? b : a;
    }
};

// Butterfly: for sums every lane ends with the same bits, since each step adds the same two
// values on both partners and addition is commutative. (Max may differ between lanes in the
// sign of a zero or a NaN's payload; block_allreduce uses lane 0's only.)
template <typename T, typename Op> __device__ T warp_allreduce(T v, Op op) {
    for (int offset = 16; offset > 0; offset >>= 1)
        v = op(v, __shfl_xor_sync(kFullWarp, v, offset));
    return v;
}

// The block's reduction of one value per thread, returned to every thread. blockDim.x must
// be a multiple of 32 and at most 1024; `shared` holds 33 entries. Callable repeatedly with
// the same `shared`: a call writes shared[32] only after a barrier that every thread reaches
// after reading the previous call's result, and the warps' sums are read before the last one.
template <typename T, typename Op> __device__ T block_allreduce(T v, Op op, T identity, T *shared) {
    const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    v = warp_allreduce(v, op);
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = warp_allreduce(lane < warps ? shared[lane] : identity, op);
        if (lane == 0) shared[32] = v;
    }
    __syncthreads();
    return shared[32];
}

#endif
