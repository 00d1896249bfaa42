#ifndef PRENAS_CPU_PARALLEL_H
#define PRENAS_CPU_PARALLEL_H

/* How the CPU kernels use the machine.
 *
 * Threads: OpenMP. Reductions across threads are done in a fixed order (per-thread partial
 * results added in thread order), so results do not depend on scheduling.
 *
 * Vector units: the innermost loops live in small functions marked CPU_DISPATCH, which GCC
 * compiles for AVX-512 (x86-64-v4), AVX2 + FMA (x86-64-v3) and the x86-64 baseline; the
 * dynamic loader picks the best one the CPU has (function multiversioning), so one binary
 * runs everywhere and uses what it finds. The double-precision test build keeps one version. */

#include "real.h"

#include <stddef.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(PRENAS_REAL_DOUBLE)
#define CPU_DISPATCH __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CPU_DISPATCH
#endif

/* This thread's share [*first, *first + *count) of n items, in thread order. */
void thread_range(size_t n, size_t *first, size_t *count);

/* out[c] += sum over rows of m[r, c] (row stride ld). */
void column_sums_accumulate(real *out, const real *m, int rows, int cols, int ld);

#endif
