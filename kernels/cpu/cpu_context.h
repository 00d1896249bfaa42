#ifndef PRENAS_CPU_CONTEXT_H
#define PRENAS_CPU_CONTEXT_H

/* The CPU backend's state (Backend.ctx of a backend_open'ed CPU backend; backend_cpu()'s is
 * NULL): the oneDNN primitives its convolutions and activations keep per shape, and at bf16
 * the bf16 products' context. */

#include "gemm_bf16.h"
#include "primitives.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    CpuPrimitives *primitives; /* NULL in builds without oneDNN */
    CpuBf16 *bf16;             /* NULL: fp32 products */
} CpuContext;

/* A context; with `want_bf16`, the bf16 products too when this CPU offers them (else none, and one
 * line in `why`). */
CpuContext *cpu_context_open(bool want_bf16, char *why, size_t why_size);
void cpu_context_close(CpuContext *ctx);

#endif
