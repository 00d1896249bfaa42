#ifndef PRENAS_CPU_PRIMITIVES_H
#define PRENAS_CPU_PRIMITIVES_H

/* oneDNN primitives made once per shape and kept: the CPU backend's context owns one table
 * (cpu_context.h), the convolutions and activations of the CNN family (conv.c, activation.c)
 * look their plans up in it; the bf16 products (gemm_bf16.c) keep theirs in one of their own.
 * Making a oneDNN primitive (choosing an implementation, JIT compiling its kernel, planning the
 * layouts and reorders) costs far more than running one at the micro CNN's sizes, and a training
 * run meets a few dozen shapes (the preferred subnets' layers times forward and backward), so a
 * table of PLANS entries, the oldest replaced past that, keeps them all.
 *
 * Not thread-safe: the engine calls ops from one thread; oneDNN threads inside (OpenMP).
 * Errors: any oneDNN failure is fatal with file:line (CHECK_DNNL): a primitive oneDNN
 * refuses for a shape the op accepted is a bug, not bad input. */

#include <stddef.h>
#include <stdint.h>

typedef struct CpuPrimitives CpuPrimitives;

/* Float builds with oneDNN; the double (gradient-check) build and the device check's tier 1
 * (PRENAS_NO_DNNL) run the plain loops and have no table. */
#if !defined(PRENAS_REAL_DOUBLE) && !defined(PRENAS_NO_DNNL)
#define CPU_DNNL_PRIMITIVES 1
#endif

/* A table, or NULL in builds without oneDNN (nothing to keep). */
CpuPrimitives *cpu_primitives_open(void);
void cpu_primitives_close(CpuPrimitives *table);

#ifdef CPU_DNNL_PRIMITIVES
#include "error.h"

#include <dnnl.h>

#define CHECK_DNNL(call)                                                                           \
    do {                                                                                           \
        const dnnl_status_t dnnl_rc_ = (call);                                                     \
        if (dnnl_rc_ != dnnl_success)                                                              \
            fatal_at(__FILE__, __LINE__, "oneDNN call failed (status %d): %s", (int)dnnl_rc_,      \
                     #call);                                                                       \
    } while (0)

enum { PLAN_KEY = 12, PLAN_STEPS = 4, PLAN_MEMORIES = 8, PLAN_SCRATCH = 3 };

/* key[0] of a plan: which file's op made it */
enum { PLAN_CONV = 1, PLAN_ELTWISE = 2, PLAN_MATMUL_BF16 = 3 };

/* What one op call runs: up to PLAN_STEPS primitives (a convolution and the reorders into and
 * out of its layouts), the memory objects they read and write (handles set per call, to the
 * caller's arrays or the table's scratch), and the forward primitive descriptor that a
 * backward one was made with (kept alive with the plan). `key` names the op and its sizes; the
 * op that made a plan is the only one that reads its slots, and says what each holds. */
typedef struct {
    int64_t key[PLAN_KEY];
    dnnl_primitive_t step[PLAN_STEPS];
    dnnl_memory_t memory[PLAN_MEMORIES];
    dnnl_primitive_desc_t hint;
} DnnlPlan;

typedef void (*DnnlPlanMake)(DnnlPlan *plan, dnnl_engine_t engine, const void *arg);

/* `table` itself, or a table for this call alone when it is NULL (returned by
 * cpu_primitives_end, which closes it). */
CpuPrimitives *cpu_primitives_begin(CpuPrimitives *table);
void cpu_primitives_end(CpuPrimitives *table, CpuPrimitives *used);

/* The plan for `key` (unused entries 0), made by make(plan, engine, arg) the first time. Valid
 * until the next cpu_plan call on the table, which may replace it. */
DnnlPlan *cpu_plan(CpuPrimitives *table, const int64_t key[PLAN_KEY], DnnlPlanMake make,
                   const void *arg);

/* Scratch slot `slot` (< PLAN_SCRATCH) of the table, at least `bytes` long: grown when a
 * shape needs more, so that the largest shape's size is held once per slot, not per plan. */
void *cpu_scratch(CpuPrimitives *table, int slot, size_t bytes);

/* Runs a primitive of a plan on the table's stream and waits for it. */
void cpu_plan_run(CpuPrimitives *table, dnnl_primitive_t primitive, int nargs,
                  const dnnl_exec_arg_t *args);

/* A memory descriptor of fp32 entries with these dims and strides (in entries). */
dnnl_memory_desc_t plan_strided_md(int ndims, const dnnl_dims_t dims, const dnnl_dims_t strides);
/* A reorder primitive src -> dst; with `accumulate` dst += src (a sum post-op), else dst = src. */
dnnl_primitive_t plan_reorder(dnnl_engine_t engine, const dnnl_memory_desc_t *src,
                              const dnnl_memory_desc_t *dst, int accumulate);
#endif

#endif
