/* What the build and this machine offer, for --version. */
#include "backend.h"

#include <omp.h>

#ifndef PRENAS_NO_DNNL /* the tier-1 device check (tests/device/) builds without oneDNN */
#include <dnnl.h>

static const char *isa_name(dnnl_cpu_isa_t isa) {
    switch (isa) {
    case dnnl_cpu_isa_sse41:
        return "SSE4.1";
    case dnnl_cpu_isa_avx:
        return "AVX";
    case dnnl_cpu_isa_avx2:
        return "AVX2";
    case dnnl_cpu_isa_avx2_vnni:
        return "AVX2-VNNI";
    case dnnl_cpu_isa_avx512_core:
        return "AVX-512";
    case dnnl_cpu_isa_avx512_core_vnni:
        return "AVX-512 VNNI";
    case dnnl_cpu_isa_avx512_core_bf16:
        return "AVX-512 BF16";
    case dnnl_cpu_isa_avx512_core_amx:
        return "AVX-512 AMX";
    default:
        return "other";
    }
}

#endif

void backend_describe(FILE *out) {
#ifdef PRENAS_NO_DNNL
    fprintf(out, "cpu: plain loops (no oneDNN); %d OpenMP threads\n", omp_get_max_threads());
#else
    const dnnl_version_t *v = dnnl_version();
    fprintf(out, "cpu: oneDNN %d.%d.%d, %s kernels; %d OpenMP threads\n", v->major, v->minor,
            v->patch, isa_name(dnnl_get_effective_cpu_isa()), omp_get_max_threads());
#endif
#ifdef PRENAS_HAVE_CUDA
    cuda_backend_describe(out);
#else
    fprintf(out, "cuda: not built (nvcc was not found when this build was configured)\n");
#endif
}
