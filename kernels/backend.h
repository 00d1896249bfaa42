#ifndef PRENAS_BACKEND_H
#define PRENAS_BACKEND_H

/* What compute this build and this machine offer: the CPU path always (BLAS library and
 * kernel, OpenMP threads), the CUDA path when it was built (runtime, driver, devices,
 * cuBLAS, cuDNN, NCCL). Printed by every executable's --version. */

#include <stdio.h>

void backend_describe(FILE *out);
/* Where this build runs forward passes, as eval.h5 names the device of a latency: "cpu" (the
 * CUDA kernels are not wired into the model yet). */
const char *backend_device(void);

#ifdef PRENAS_HAVE_CUDA
#ifdef __cplusplus
extern "C" {
#endif
void cuda_backend_describe(FILE *out);
#ifdef __cplusplus
}
#endif
#endif

#endif
