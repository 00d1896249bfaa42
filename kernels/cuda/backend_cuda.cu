// The CUDA backend itself: choosing and opening a GPU, its state (stream, cuBLAS and cuBLASLt
// handles, workspaces), its memory ops and the op table, and the build report for --version.
//
// Opening reports every reason a GPU is unusable to the caller (`why`, false): a machine
// without one is a normal case (login nodes, CI) and "auto" then falls back to the CPU. Once
// open, failures are machine failures and fatal (CHECK_*), like the CPU's out of memory.
#include "ops.cuh"

// cuDNN and NCCL appear only in the build report; the tier-1 device check (tests/device/)
// builds with the CUDA toolkit alone, without them.
#ifdef PRENAS_HAVE_CUDNN
#include <cudnn.h>
#endif
#ifdef PRENAS_HAVE_NCCL
#include <nccl.h>
#endif

#include <stdarg.h>
#include <stdlib.h>

namespace {

constexpr size_t kLtWorkspaceBytes = 32u << 20; // cuBLASLt's recommendation for Hopper
constexpr int kHostResults = 8;                 // pinned doubles for reductions' results
constexpr size_t kScratchGranule = 1u << 20;    // scratch grows in whole MiB

__attribute__((format(printf, 3, 4))) bool failure(char *why, size_t why_size, const char *fmt,
                                                   ...) {
    if (why && why_size) {
        va_list args;
        va_start(args, fmt);
        vsnprintf(why, why_size, fmt, args);
        va_end(args);
    }
    return false;
}

// Never launched: asking for its attributes tells whether this build has code for the
// device (CMAKE_CUDA_ARCHITECTURES), before any op finds out at its first launch.
__global__ void probe_kernel() {}

const char *precision_name(Precision p) {
    switch (p) {
    case PRECISION_FP32:
        return "fp32";
    case PRECISION_TF32:
        return "tf32";
    case PRECISION_BF16:
        return "bf16";
    }
    return "?";
}

// ---- memory ----

void *cuda_alloc(const Backend *be, size_t bytes) {
    void *p = nullptr;
    CHECK_CUDA(cudaMalloc(&p, bytes ? bytes : 1)); // a distinct pointer even for nothing
    CHECK_CUDA(cudaMemsetAsync(p, 0, bytes, cuda_stream(be)));
    // zero before any stream (NCCL's, the host's copies) can see it; allocation is rare
    CHECK_CUDA(cudaStreamSynchronize(cuda_stream(be)));
    return p;
}

void cuda_free(const Backend *, void *ptr) {
    if (ptr) CHECK_CUDA(cudaFree(ptr));
}

void cuda_upload(const Backend *be, void *dst, const void *host_src, size_t bytes) {
    if (!bytes) return;
    CHECK_CUDA(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, cuda_stream(be)));
    // the caller may reuse or free its (pageable) buffer as soon as this returns
    CHECK_CUDA(cudaStreamSynchronize(cuda_stream(be)));
}

void cuda_download(const Backend *be, void *host_dst, const void *src, size_t bytes) {
    if (!bytes) return;
    CHECK_CUDA(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, cuda_stream(be)));
    CHECK_CUDA(cudaStreamSynchronize(cuda_stream(be))); // the host reads it next
}

void cuda_copy(const Backend *be, void *dst, const void *src, size_t bytes) {
    if (!bytes) return;
    CHECK_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cuda_stream(be)));
}

void cuda_zero(const Backend *be, void *ptr, size_t bytes) {
    if (!bytes) return;
    CHECK_CUDA(cudaMemsetAsync(ptr, 0, bytes, cuda_stream(be)));
}

void cuda_sync(const Backend *be) {
    CHECK_CUDA(cudaStreamSynchronize(cuda_stream(be)));
}

double cuda_time_ms(const Backend *be, void (*work)(void *), void *arg) {
    cudaEvent_t start, stop;
    CHECK_CUDA(cudaEventCreate(&start));
    CHECK_CUDA(cudaEventCreate(&stop));
    CHECK_CUDA(cudaEventRecord(start, cuda_stream(be)));
    work(arg);
    CHECK_CUDA(cudaEventRecord(stop, cuda_stream(be)));
    CHECK_CUDA(cudaEventSynchronize(stop));
    float ms = 0;
    CHECK_CUDA(cudaEventElapsedTime(&ms, start, stop));
    CHECK_CUDA(cudaEventDestroy(start));
    CHECK_CUDA(cudaEventDestroy(stop));
    return ms;
}

// By member name rather than position, so that a reordered BackendOps cannot shift an op
// into another's slot (C++17 has no designated initialisers); constexpr, so the table is
// constant-initialised data, not code run at start-up.
constexpr BackendOps make_ops() {
    BackendOps o = {};
    o.alloc = cuda_alloc;
    o.free = cuda_free;
    o.upload = cuda_upload;
    o.download = cuda_download;
    o.copy = cuda_copy;
    o.zero = cuda_zero;
    o.sync = cuda_sync;
    o.time_ms = cuda_time_ms;
    o.gemm = cuda_gemm;
    o.linear_forward = cuda_linear_forward;
    o.linear_backward = cuda_linear_backward;
    o.layernorm_forward = cuda_layernorm_forward;
    o.layernorm_backward_accumulate = cuda_layernorm_backward_accumulate;
    o.gelu_forward = cuda_gelu_forward;
    o.gelu_backward = cuda_gelu_backward;
    o.patchify = cuda_patchify;
    o.tokens_forward = cuda_tokens_forward;
    o.tokens_backward = cuda_tokens_backward;
    o.pool_forward = cuda_pool_forward;
    o.pool_backward = cuda_pool_backward;
    o.qkv_split = cuda_qkv_split;
    o.qkv_merge = cuda_qkv_merge;
    o.attention_workspace_size = cuda_attention_workspace_size;
    o.attention_forward = cuda_attention_forward;
    o.attention_backward = cuda_attention_backward;
    o.residual_forward = cuda_residual_forward;
    o.residual_backward = cuda_residual_backward;
    o.soft_targets = cuda_soft_targets;
    o.cross_entropy_forward = cuda_cross_entropy_forward;
    o.cross_entropy_backward = cuda_cross_entropy_backward;
    o.row_sums = cuda_row_sums;
    o.label_ranks = cuda_label_ranks;
    o.adamw = cuda_adamw;
    o.fill = cuda_fill;
    o.scale = cuda_scale;
    o.sum = cuda_sum;
    o.sum_squares = cuda_sum_squares;
    o.count_nonfinite = cuda_count_nonfinite;
    o.sum_abs_product = cuda_sum_abs_product;
    o.sum_abs = cuda_sum_abs;
    // The CNN family (conv2d_*, batchnorm_*, silu_*, relu6_*, global_avg_pool_*,
    // channel_scale_*) stays nullptr until its cuDNN version comes: callers check (backend.h).
    // Its batch resize is a plain kernel, here already.
    o.resize_bilinear = cuda_resize_bilinear;
    return o;
}

constexpr BackendOps cuda_ops = make_ops();

} // namespace

void *cuda_scratch(const Backend *be, size_t bytes) {
    CudaContext *ctx = cuda_ctx(be);
    if (bytes <= ctx->scratch_bytes && ctx->scratch) return ctx->scratch;
    // ops queued before may still read the old scratch
    CHECK_CUDA(cudaStreamSynchronize(ctx->stream));
    if (ctx->scratch) CHECK_CUDA(cudaFree(ctx->scratch));
    const size_t size =
        (bytes ? bytes + kScratchGranule - 1 : kScratchGranule) / kScratchGranule * kScratchGranule;
    ctx->scratch = nullptr;
    ctx->scratch_bytes = 0;
    CHECK_CUDA(cudaMalloc(&ctx->scratch, size));
    ctx->scratch_bytes = size;
    return ctx->scratch;
}

extern "C" int cuda_device_count(char *why, size_t why_size) {
    int devices = 0;
    const cudaError_t rc = cudaGetDeviceCount(&devices);
    if (rc != cudaSuccess) {
        failure(why, why_size, "no usable GPU (%s)", cudaGetErrorString(rc));
        return 0;
    }
    if (devices == 0) failure(why, why_size, "no GPU on this machine");
    return devices;
}

extern "C" bool cuda_backend_open(Backend *be, int device, Precision precision, char *why,
                                  size_t why_size) {
    const int devices = cuda_device_count(why, why_size);
    if (devices == 0) return false;
    if (device < 0 || device >= devices)
        return failure(why, why_size, "GPU %d does not exist (this machine has %d)", device,
                       devices);
    cudaDeviceProp prop;
    cudaError_t rc = cudaGetDeviceProperties(&prop, device);
    if (rc != cudaSuccess)
        return failure(why, why_size, "GPU %d: %s", device, cudaGetErrorString(rc));
    // TF32 and bf16 tensor cores arrive with Ampere; below it cuBLAS would quietly run fp32
    // and the log would name a precision that was not used
    if (precision != PRECISION_FP32 && prop.major < 8)
        return failure(why, why_size,
                       "GPU %d (%s, sm_%d%d) has no %s tensor cores (sm_80 or later)", device,
                       prop.name, prop.major, prop.minor, precision_name(precision));
    rc = cudaSetDevice(device);
    if (rc != cudaSuccess)
        return failure(why, why_size, "GPU %d: %s", device, cudaGetErrorString(rc));
    cudaFuncAttributes attributes;
    rc = cudaFuncGetAttributes(&attributes, probe_kernel);
    if (rc != cudaSuccess)
        return failure(why, why_size, "GPU %d (%s, sm_%d%d): this build has no code for it (%s)",
                       device, prop.name, prop.major, prop.minor, cudaGetErrorString(rc));

    CudaContext *ctx = static_cast<CudaContext *>(calloc(1, sizeof *ctx));
    if (!ctx) fatal_at(__FILE__, __LINE__, "out of memory");
    ctx->device = device;
    ctx->sm_count = prop.multiProcessorCount;
    CHECK_CUDA(cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking));
    CHECK_CUBLAS(cublasCreate(&ctx->blas));
    CHECK_CUBLAS(cublasSetStream(ctx->blas, ctx->stream));
    CHECK_CUBLAS(cublasSetPointerMode(ctx->blas, CUBLAS_POINTER_MODE_HOST));
    // fp32 and bf16 (whose attention products run in fp32) must not slip into TF32
    CHECK_CUBLAS(cublasSetMathMode(
        ctx->blas, precision == PRECISION_TF32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    CHECK_CUBLAS(cublasLtCreate(&ctx->lt));
    ctx->lt_workspace_bytes = kLtWorkspaceBytes;
    CHECK_CUDA(cudaMalloc(&ctx->lt_workspace, ctx->lt_workspace_bytes));
    CHECK_CUDA(cudaMallocHost(reinterpret_cast<void **>(&ctx->host_result),
                              kHostResults * sizeof(double)));

    be->kind = DEVICE_CUDA;
    be->precision = precision;
    be->device = device;
    snprintf(be->name, sizeof be->name, "cuda:%d (%.80s, sm_%d%d, %.1f GiB), %s", device, prop.name,
             prop.major, prop.minor, prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0),
             precision_name(precision));
    be->ops = &cuda_ops;
    be->ctx = ctx;
    return true;
}

extern "C" void cuda_backend_close(Backend *be) {
    if (!be || !be->ctx) return;
    CudaContext *ctx = cuda_ctx(be);
    CHECK_CUDA(cudaSetDevice(ctx->device));
    CHECK_CUDA(cudaStreamSynchronize(ctx->stream));
    if (ctx->scratch) CHECK_CUDA(cudaFree(ctx->scratch));
    CHECK_CUDA(cudaFree(ctx->lt_workspace));
    CHECK_CUDA(cudaFreeHost(ctx->host_result));
    CHECK_CUBLAS(cublasLtDestroy(ctx->lt));
    CHECK_CUBLAS(cublasDestroy(ctx->blas));
    CHECK_CUDA(cudaStreamDestroy(ctx->stream));
    free(ctx);
    be->ctx = nullptr;
    be->ops = nullptr;
}

// Reports the CUDA side of the build; a machine without a driver or GPU is a normal case
// here (CI, login nodes), so every failure is described rather than fatal.
extern "C" void cuda_backend_describe(FILE *out) {
    int runtime = 0, driver = 0, cublas_major = 0, cublas_minor = 0;
    cudaRuntimeGetVersion(&runtime);
    cudaDriverGetVersion(&driver);
    cublasGetProperty(MAJOR_VERSION, &cublas_major);
    cublasGetProperty(MINOR_VERSION, &cublas_minor);
    fprintf(out, "cuda: runtime %d.%d, cuBLAS %d.%d", runtime / 1000, runtime % 1000 / 10,
            cublas_major, cublas_minor);
#ifdef PRENAS_HAVE_CUDNN
    size_t cudnn = cudnnGetVersion(); /* 91900 is 9.19.0 */
    fprintf(out, ", cuDNN %zu.%zu.%zu", cudnn / 10000, cudnn % 10000 / 100, cudnn % 100);
#endif
#ifdef PRENAS_HAVE_NCCL
    int nccl = 0;
    ncclGetVersion(&nccl);
    fprintf(out, ", NCCL %d.%d.%d", nccl / 10000, nccl % 10000 / 100, nccl % 100);
#endif
    fprintf(out, "; ");
    int devices = 0;
    cudaError_t rc = cudaGetDeviceCount(&devices);
    if (rc != cudaSuccess) {
        fprintf(out, "no usable GPU (%s)\n", cudaGetErrorString(rc));
        return;
    }
    fprintf(out, "driver %d.%d, %d device(s)\n", driver / 1000, driver % 1000 / 10, devices);
    for (int d = 0; d < devices; d++) {
        cudaDeviceProp prop;
        if (cudaGetDeviceProperties(&prop, d) != cudaSuccess) continue;
        fprintf(out, "  device %d: %s, sm_%d%d, %.1f GiB\n", d, prop.name, prop.major, prop.minor,
                prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0));
    }
}
