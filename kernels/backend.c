/* Choosing and opening a backend (backend.h); host views of backend memory. */
#include "backend.h"

#include "cpu_context.h"
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int backend_local_rank(void) {
    static const char *const names[] = {"SLURM_LOCALID", "OMPI_COMM_WORLD_LOCAL_RANK",
                                        "MPI_LOCALRANKID", "MV2_COMM_WORLD_LOCAL_RANK"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *value = getenv(names[i]);
        char *end;
        if (!value || !*value) continue;
        const long rank = strtol(value, &end, 10);
        if (*end == '\0' && rank >= 0 && rank < 1 << 20) return (int)rank;
    }
    return 0;
}

__attribute__((format(printf, 3, 4))) static bool refuse(char *why, size_t size, const char *fmt,
                                                         ...) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(why, size, fmt, args);
    va_end(args);
    return false;
}

static bool parse_precision(const char *text, Precision *out) {
    static const char *const names[] = {"fp32", "tf32", "bf16"};
    for (int i = 0; i < 3; i++)
        if (strcmp(text, names[i]) == 0) {
            *out = (Precision)i;
            return true;
        }
    return false;
}

#if defined(PRENAS_HAVE_CUDA) && !defined(PRENAS_REAL_DOUBLE)
/* False with `why` empty when "auto" should fall back to the CPU (`reason` says why). */
static bool open_cuda(Backend *be, Precision precision, bool required, char *why, size_t size,
                      char *reason, size_t reason_size) {
    const int count = cuda_device_count(reason, reason_size);
    if (count <= 0) return required ? refuse(why, size, "--device cuda: %s", reason) : false;
    const int local = backend_local_rank();
    if (cuda_backend_open(be, local % count, precision, reason, reason_size)) return true;
    if (!required) return false; /* a GPU this build cannot use: auto takes the CPU */
    return refuse(why, size, "--device cuda: GPU %d of %d (node-local rank %d): %s", local % count,
                  count, local, reason);
}
#endif

bool backend_open(Backend *be, const char *device, const char *precision, char *why,
                  size_t why_size) {
    Precision p = PRECISION_FP32;
    if (precision && !parse_precision(precision, &p))
        return refuse(why, why_size, "--precision %s: expected fp32, tf32 or bf16", precision);
    const bool is_auto = strcmp(device, "auto") == 0, is_cuda = strcmp(device, "cuda") == 0;
    if (!is_auto && !is_cuda && strcmp(device, "cpu") != 0)
        return refuse(why, why_size, "--device %s: expected auto, cpu or cuda", device);
    char fallback[256] = "";
#if defined(PRENAS_HAVE_CUDA) && !defined(PRENAS_REAL_DOUBLE)
    if (is_cuda || is_auto) {
        why[0] = '\0';
        if (open_cuda(be, p, is_cuda, why, why_size, fallback, sizeof fallback)) return true;
        if (is_cuda || why[0]) return false;
    }
#else
    if (is_cuda)
        return refuse(why, why_size,
                      "--device cuda: this build has no CUDA backend (nvcc was not found when it "
                      "was configured)");
#endif
    if (p == PRECISION_TF32)
        return refuse(why, why_size,
                      "--precision tf32: TF32 is a GPU tensor-core format; the CPU offers fp32 and "
                      "bf16");
    *be = *backend_cpu();
    char bf16_missing[96] = "";
    /* without AVX512-BF16 a bf16 run is the same run in fp32: slower, never wrong */
    CpuContext *ctx = cpu_context_open(p == PRECISION_BF16, bf16_missing, sizeof bf16_missing);
    be->ctx = ctx;
    if (ctx->bf16) be->precision = PRECISION_BF16;
    char reasons[384] = ""; /* why this is not the backend or precision asked for */
    if (bf16_missing[0]) snprintf(reasons, sizeof reasons, "bf16 asked, but %s", bf16_missing);
    if (is_auto && fallback[0])
        snprintf(reasons + strlen(reasons), sizeof reasons - strlen(reasons), "%s%s",
                 reasons[0] ? "; " : "", fallback);
    snprintf(be->name, sizeof be->name, "cpu, %s%s%s%s",
             be->precision == PRECISION_BF16 ? "bf16" : "fp32", reasons[0] ? " (" : "", reasons,
             reasons[0] ? ")" : "");
    return true;
}

void backend_close(Backend *be) {
#if defined(PRENAS_HAVE_CUDA) && !defined(PRENAS_REAL_DOUBLE)
    if (be->kind == DEVICE_CUDA) cuda_backend_close(be);
#endif
    if (be->kind == DEVICE_CPU) cpu_context_close(be->ctx);
    be->ctx = NULL;
}

const char *backend_device_name(const Backend *be) {
    return be->kind == DEVICE_CUDA ? "cuda" : "cpu";
}

void *backend_host_begin(const Backend *be, const void *src, size_t bytes) {
    if (be->kind == DEVICE_CPU) return (void *)src;
    void *host = xmalloc(bytes ? bytes : 1);
    be->ops->download(be, host, src, bytes);
    return host;
}

void backend_host_end(const Backend *be, void *host, void *dst, size_t bytes, bool write_back) {
    if (be->kind == DEVICE_CPU) return;
    if (write_back) be->ops->upload(be, dst, host, bytes);
    free(host);
}

const void *backend_input(const Backend *be, void *staging, const void *host, size_t bytes) {
    if (be->kind == DEVICE_CPU || !host) return host;
    be->ops->upload(be, staging, host, bytes);
    return staging;
}
