// Matrix products on the GPU (kernels/cpu/gemm.c): the general product through cuBLASLt at
// the backend's precision, and the linear layer's forward and backward built on it.
//
// Row-major C = alpha op(A) op(B) + beta C is, read column-major, C^T = op(B)^T op(A)^T: the
// same buffers with A and B swapped and m and n swapped, so no operand is ever transposed in
// memory. A row-major [r, c] matrix with leading dimension ld is a column-major [c, r] one.
#include "ops.cuh"

#include <cuda_bf16.h>

static_assert(sizeof(real) == sizeof(float), "the CUDA backend computes in float");

namespace {

constexpr int kThreads = 256;
// Rows per partial column sum: fixed (grown only past 65535 chunks, the grid's y limit), so
// the order of additions depends on the shape alone, never on the GPU.
constexpr int kColumnChunk = 64;
constexpr int kMaxChunks = 65535;

// C = beta C over the leading [m, n] block; beta 0 writes zeros without reading C (the BLAS
// convention, so NaN in uninitialised C does not survive).
__global__ void scale_block_kernel(real *c, int m, int n, int ldc, real beta) {
    const size_t total = (size_t)m * n;
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (size_t)gridDim.x * blockDim.x) {
        real *p = c + (e / n) * ldc + e % n;
        *p = beta == 0 ? 0 : beta * *p;
    }
}

// Packs the leading [rows, cols] block of a row-major matrix into dense bfloat16
// (round-to-nearest-even), dropping the leading dimension so the GEMM reads half the bytes.
__global__ void to_bf16_kernel(__nv_bfloat16 *dst, const real *src, int rows, int cols, int ld) {
    const size_t total = (size_t)rows * cols;
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (size_t)gridDim.x * blockDim.x)
        dst[e] = __float2bfloat16(src[(e / cols) * ld + e % cols]);
}

// y[r, :] = b: the product is then accumulated onto it (beta 1), as on the CPU.
__global__ void broadcast_rows_kernel(real *y, const real *b, int rows, int cols) {
    const size_t total = (size_t)rows * cols;
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (size_t)gridDim.x * blockDim.x)
        y[e] = b ? b[e % cols] : 0;
}

// partial[chunk, c] = sum of m[r, c] over the chunk's rows, in row order. One thread per
// column: neighbouring threads read neighbouring columns, so each row is one coalesced read.
__global__ void column_partials_kernel(real *partial, const real *m, int rows, int cols, int ld,
                                       int chunk) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    const int first = blockIdx.y * chunk;
    const int last = min(rows, first + chunk);
    real sum = 0;
    for (int r = first; r < last; r++) sum += m[(size_t)r * ld + c];
    partial[(size_t)blockIdx.y * cols + c] = sum;
}

// out[c] += sum of the partials in chunk order: a fixed order, so runs repeat bit-exactly
// (no atomics).
__global__ void column_finish_kernel(real *out, const real *partial, int chunks, int cols) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    real sum = 0;
    for (int k = 0; k < chunks; k++) sum += partial[(size_t)k * cols + c];
    out[c] += sum;
}

unsigned blocks_for(size_t n) {
    return cuda_blocks(n, kThreads);
}

// The largest power of two (up to 256) dividing the address: cuBLASLt's heuristic assumes
// 256-byte operands unless told, and tensors carved from an arena are often less aligned.
uint32_t alignment_of(const void *p) {
    const uintptr_t a = (uintptr_t)p;
    uint32_t align = 256;
    while (align > 1 && a % align != 0) align /= 2;
    return align;
}

// One operand as cuBLASLt reads it: the column-major view of a stored row-major block.
struct Operand {
    const void *data;
    cudaDataType_t type;
    uint64_t rows, cols; // column-major: the stored matrix's columns, then its rows
    int64_t ld;
};

// out[c] += column sums of the leading [rows, cols] block of m (kernels/cpu/parallel.c's
// column_sums_accumulate), deterministically: fixed chunks, then a fixed-order finish.
void column_sums_accumulate(const Backend *be, real *out, const real *m, int rows, int cols,
                            int ld) {
    if (rows <= 0 || cols <= 0) return;
    int chunk = kColumnChunk;
    if ((rows + chunk - 1) / chunk > kMaxChunks) chunk = (rows + kMaxChunks - 1) / kMaxChunks;
    const int chunks = (rows + chunk - 1) / chunk;
    real *partial = static_cast<real *>(cuda_scratch(be, (size_t)chunks * cols * sizeof(real)));
    const unsigned column_blocks = (unsigned)((cols + kThreads - 1) / kThreads);
    column_partials_kernel<<<dim3(column_blocks, (unsigned)chunks), kThreads, 0, cuda_stream(be)>>>(
        partial, m, rows, cols, ld, chunk);
    CHECK_LAUNCH();
    column_finish_kernel<<<column_blocks, kThreads, 0, cuda_stream(be)>>>(out, partial, chunks,
                                                                          cols);
    CHECK_LAUNCH();
}

// When cuBLASLt offers no algorithm for a layout (odd alignments, odd leading dimensions),
// cuBLAS's general GEMM takes any; same types, so the same arithmetic.
void gemm_fallback(const Backend *be, cublasOperation_t op_first, cublasOperation_t op_second,
                   const Operand &first, const Operand &second, int rows_c, int cols_c, int k,
                   real alpha, real beta, real *c, int ldc, cublasComputeType_t compute) {
    CHECK_CUBLAS(cublasGemmEx(cuda_ctx(be)->blas, op_first, op_second, rows_c, cols_c, k, &alpha,
                              first.data, first.type, (int)first.ld, second.data, second.type,
                              (int)second.ld, &beta, c, CUDA_R_32F, ldc, compute,
                              CUBLAS_GEMM_DEFAULT));
}

} // namespace

void cuda_gemm(const Backend *be, bool trans_a, bool trans_b, int m, int n, int k, real alpha,
               const real *a, int lda, const real *b, int ldb, real beta, real *c, int ldc) {
    if (m <= 0 || n <= 0) return;
    cudaStream_t stream = cuda_stream(be);
    if (k <= 0) { // cuBLASLt rejects empty products; C = beta C as on the CPU
        scale_block_kernel<<<blocks_for((size_t)m * n), kThreads, 0, stream>>>(c, m, n, ldc, beta);
        CHECK_LAUNCH();
        return;
    }
    CudaContext *ctx = cuda_ctx(be);
    // stored shapes (row-major) of A and B
    const int rows_a = trans_a ? k : m, cols_a = trans_a ? m : k;
    const int rows_b = trans_b ? n : k, cols_b = trans_b ? k : n;

    Operand first = {b, CUDA_R_32F, (uint64_t)cols_b, (uint64_t)rows_b, ldb};  // cuBLASLt's A
    Operand second = {a, CUDA_R_32F, (uint64_t)cols_a, (uint64_t)rows_a, lda}; // cuBLASLt's B
    cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
    if (be->precision == PRECISION_TF32) compute = CUBLAS_COMPUTE_32F_FAST_TF32;
    if (be->precision == PRECISION_BF16) {
        // bf16 copies of both operands, B's 256-byte aligned after A's; C stays fp32 and
        // accumulation fp32 (CUBLAS_COMPUTE_32F with bf16 inputs)
        const size_t a_bytes = (size_t)rows_a * cols_a * sizeof(__nv_bfloat16);
        const size_t b_offset = (a_bytes + 255) / 256 * 256;
        const size_t b_bytes = (size_t)rows_b * cols_b * sizeof(__nv_bfloat16);
        char *scratch = static_cast<char *>(cuda_scratch(be, b_offset + b_bytes));
        __nv_bfloat16 *a16 = reinterpret_cast<__nv_bfloat16 *>(scratch);
        __nv_bfloat16 *b16 = reinterpret_cast<__nv_bfloat16 *>(scratch + b_offset);
        to_bf16_kernel<<<blocks_for((size_t)rows_a * cols_a), kThreads, 0, stream>>>(a16, a, rows_a,
                                                                                     cols_a, lda);
        CHECK_LAUNCH();
        to_bf16_kernel<<<blocks_for((size_t)rows_b * cols_b), kThreads, 0, stream>>>(b16, b, rows_b,
                                                                                     cols_b, ldb);
        CHECK_LAUNCH();
        first = {b16, CUDA_R_16BF, (uint64_t)cols_b, (uint64_t)rows_b, cols_b};
        second = {a16, CUDA_R_16BF, (uint64_t)cols_a, (uint64_t)rows_a, cols_a};
    }
    const cublasOperation_t op_first = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t op_second = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;

    // Descriptors are made per call: host-only and cheap next to the product, and a cache
    // keyed by shape and alignment is an optimisation to measure first (PyTorch also asks
    // the heuristic on every call).
    cublasLtMatmulDesc_t desc;
    CHECK_CUBLAS(cublasLtMatmulDescCreate(&desc, compute, CUDA_R_32F));
    CHECK_CUBLAS(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_first,
                                                sizeof op_first));
    CHECK_CUBLAS(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_second,
                                                sizeof op_second));
    cublasLtMatrixLayout_t layout_first, layout_second, layout_c;
    CHECK_CUBLAS(
        cublasLtMatrixLayoutCreate(&layout_first, first.type, first.rows, first.cols, first.ld));
    CHECK_CUBLAS(cublasLtMatrixLayoutCreate(&layout_second, second.type, second.rows, second.cols,
                                            second.ld));
    CHECK_CUBLAS(cublasLtMatrixLayoutCreate(&layout_c, CUDA_R_32F, (uint64_t)n, (uint64_t)m, ldc));

    cublasLtMatmulPreference_t pref;
    CHECK_CUBLAS(cublasLtMatmulPreferenceCreate(&pref));
    const uint64_t workspace = ctx->lt_workspace_bytes;
    CHECK_CUBLAS(cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace, sizeof workspace));
    const uint32_t align_first = alignment_of(first.data), align_second = alignment_of(second.data),
                   align_c = alignment_of(c);
    CHECK_CUBLAS(cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_first, sizeof align_first));
    CHECK_CUBLAS(cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_second, sizeof align_second));
    CHECK_CUBLAS(cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_c, sizeof align_c));
    CHECK_CUBLAS(cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_c, sizeof align_c));

    cublasLtMatmulHeuristicResult_t heuristic = {};
    int found = 0;
    const cublasStatus_t status =
        cublasLtMatmulAlgoGetHeuristic(ctx->lt, desc, layout_first, layout_second, layout_c,
                                       layout_c, pref, 1, &heuristic, &found);
    if (status == CUBLAS_STATUS_SUCCESS && found > 0) {
        // C is both the input (beta C) and the output D, as cuBLASLt allows in place
        CHECK_CUBLAS(cublasLtMatmul(ctx->lt, desc, &alpha, first.data, layout_first, second.data,
                                    layout_second, &beta, c, layout_c, c, layout_c, &heuristic.algo,
                                    ctx->lt_workspace, ctx->lt_workspace_bytes, stream));
    } else if (status == CUBLAS_STATUS_SUCCESS || status == CUBLAS_STATUS_NOT_SUPPORTED) {
        gemm_fallback(be, op_first, op_second, first, second, n, m, k, alpha, beta, c, ldc,
                      compute);
    } else {
        CHECK_CUBLAS(status);
    }
    CHECK_CUBLAS(cublasLtMatmulPreferenceDestroy(pref));
    CHECK_CUBLAS(cublasLtMatrixLayoutDestroy(layout_c));
    CHECK_CUBLAS(cublasLtMatrixLayoutDestroy(layout_second));
    CHECK_CUBLAS(cublasLtMatrixLayoutDestroy(layout_first));
    CHECK_CUBLAS(cublasLtMatmulDescDestroy(desc));
}

void cuda_linear_forward(const Backend *be, real *y, const real *x, const real *w, const real *b,
                         int rows, int in, int out, int ldw) {
    if (rows <= 0 || out <= 0) return;
    // The bias first, then the product accumulated onto it (beta 1): the CPU's order of
    // operations. A cuBLASLt BIAS epilogue would save one pass over y; to be measured.
    broadcast_rows_kernel<<<blocks_for((size_t)rows * out), kThreads, 0, cuda_stream(be)>>>(
        y, b, rows, out);
    CHECK_LAUNCH();
    cuda_gemm(be, false, true, rows, out, in, 1, x, in, w, ldw, 1, y, out);
}

void cuda_linear_backward(const Backend *be, real *dx, real *dw, real *db, const real *dy,
                          const real *x, const real *w, int rows, int in, int out, int ldw) {
    // cuda_scratch synchronises before it reallocates, so the bf16 copies of the GEMMs below
    // may take over the scratch the column sums used.
    if (db) column_sums_accumulate(be, db, dy, rows, out, out);
    if (dx) cuda_gemm(be, false, false, rows, in, out, 1, dy, out, w, ldw, 0, dx, in);
    cuda_gemm(be, true, false, out, in, rows, 1, dy, out, x, in, 1, dw, ldw);
}
