#ifndef PRENAS_CPU_COLUMN_SUMS_H
#define PRENAS_CPU_COLUMN_SUMS_H

/* out[c] += sum over rows of m[r, c] (row stride ld), over threads without atomics: each
 * thread sums a block of rows, the partial sums are then added in a fixed order, so the
 * result does not depend on scheduling. Bias, LayerNorm and embedding gradients use it. */

#include "real.h"

void column_sums_accumulate(real *out, const real *m, int rows, int cols, int ld);

#endif
