#include "backend.h"

#include <cblas.h>
#include <omp.h>

void backend_describe(FILE *out) {
    fprintf(out, "cpu: %s; kernel %s; %d OpenMP threads\n", openblas_get_config(),
            openblas_get_corename(), omp_get_max_threads());
#ifdef PRENAS_HAVE_CUDA
    cuda_backend_describe(out);
#else
    fprintf(out, "cuda: not built (nvcc was not found when this build was configured)\n");
#endif
}
