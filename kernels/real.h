#ifndef PRENAS_REAL_H
#define PRENAS_REAL_H

/* The engine's scalar. prenas computes in float; the test build compiles the same engine
 * sources a second time with PRENAS_REAL_DOUBLE, so that gradients can be checked against
 * central finite differences in double precision (tests/test_gradcheck.c). */
#include <math.h>

#ifdef PRENAS_REAL_DOUBLE
typedef double real;
#define real_sqrt sqrt
#define real_exp  exp
#define real_erf  erf
#else
typedef float real;
#define real_sqrt sqrtf
#define real_exp  expf
#define real_erf  erff
#endif

#endif
