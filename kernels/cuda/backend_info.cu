// Reports the CUDA side of the build; a machine without a driver or GPU is a normal case
// here (CI, login nodes), so every failure is described rather than fatal.
#include "backend.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <nccl.h>

extern "C" void cuda_backend_describe(FILE *out) {
    int runtime = 0, driver = 0, cublas_major = 0, cublas_minor = 0, nccl = 0;
    cudaRuntimeGetVersion(&runtime);
    cudaDriverGetVersion(&driver);
    cublasGetProperty(MAJOR_VERSION, &cublas_major);
    cublasGetProperty(MINOR_VERSION, &cublas_minor);
    ncclGetVersion(&nccl);
    size_t cudnn = cudnnGetVersion(); /* 91900 is 9.19.0 */
    fprintf(out, "cuda: runtime %d.%d, cuBLAS %d.%d, cuDNN %zu.%zu.%zu, NCCL %d.%d.%d; ",
            runtime / 1000, runtime % 1000 / 10, cublas_major, cublas_minor, cudnn / 10000,
            cudnn % 10000 / 100, cudnn % 100, nccl / 10000, nccl % 10000 / 100, nccl % 100);
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
