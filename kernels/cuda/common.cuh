// What every CUDA op file shares: the backend's state and the error macros. Errors of the
// CUDA runtime, cuBLAS(Lt) and cuDNN are machine failures (exit 1 with file:line), like
// CHECK_SYS on the CPU side: a bad input never reaches a kernel.
#ifndef PRENAS_CUDA_COMMON_CUH
#define PRENAS_CUDA_COMMON_CUH

#include "backend.h"

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

extern "C" [[noreturn]] void fatal_at(const char *file, int line, const char *fmt, ...);

#define CHECK_CUDA(call)                                                                           \
    do {                                                                                           \
        cudaError_t cuda_rc_ = (call);                                                             \
        if (cuda_rc_ != cudaSuccess)                                                               \
            fatal_at(__FILE__, __LINE__, "CUDA call failed (%s): %s",                              \
                     cudaGetErrorString(cuda_rc_), #call);                                         \
    } while (0)
#define CHECK_CUBLAS(call)                                                                         \
    do {                                                                                           \
        cublasStatus_t blas_rc_ = (call);                                                          \
        if (blas_rc_ != CUBLAS_STATUS_SUCCESS)                                                     \
            fatal_at(__FILE__, __LINE__, "cuBLAS call failed (%s): %s",                            \
                     cublasGetStatusString(blas_rc_), #call);                                      \
    } while (0)
// NCCL calls, in the files that include <nccl.h> (mpi/nccl_comm.cu). This header does not: the
// tier-1 device check builds kernels/cuda/ with the CUDA toolkit alone, which has no NCCL.
#define CHECK_NCCL(call)                                                                           \
    do {                                                                                           \
        ncclResult_t nccl_rc_ = (call);                                                            \
        if (nccl_rc_ != ncclSuccess)                                                               \
            fatal_at(__FILE__, __LINE__, "NCCL call failed (%s; %s): %s",                          \
                     ncclGetErrorString(nccl_rc_), ncclGetLastError(nullptr), #call);              \
    } while (0)
// After a kernel launch: launch errors (bad configuration) are reported where they happen.
#define CHECK_LAUNCH() CHECK_CUDA(cudaGetLastError())

// The backend's state (Backend.ctx). Scratch grows on demand and is never shrunk, so after
// the first step no op allocates.
struct CudaContext {
    int device;
    int sm_count;
    cudaStream_t stream;
    cublasHandle_t blas;
    cublasLtHandle_t lt;
    void *lt_workspace; // cuBLASLt's workspace
    size_t lt_workspace_bytes;
    void *scratch; // op scratch: bf16 operand copies, reduction partials
    size_t scratch_bytes;
    double *host_result; // pinned: where reductions land on the host
};

static inline CudaContext *cuda_ctx(const Backend *be) {
    return static_cast<CudaContext *>(be->ctx);
}
static inline cudaStream_t cuda_stream(const Backend *be) {
    return cuda_ctx(be)->stream;
}
// At least `bytes` of scratch (previous contents are not kept).
void *cuda_scratch(const Backend *be, size_t bytes);

// Grid size for n items at `threads` per block, capped so that grid-stride loops cover the rest.
static inline unsigned cuda_blocks(size_t n, unsigned threads) {
    size_t b = (n + threads - 1) / threads;
    return (unsigned)(b < 65535 * 8 ? (b ? b : 1) : 65535 * 8);
}

#endif
