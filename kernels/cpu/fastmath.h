#ifndef PRENAS_CPU_FASTMATH_H
#define PRENAS_CPU_FASTMATH_H

/* exp and erf for the hot loops (softmax, GELU, cross-entropy). libm's are exact but scalar
 * calls; these are branch-free arithmetic that the compiler vectorises, accurate to a few
 * float ulps (exp: relative error < 3e-7; erf: absolute error < 2e-7, Abramowitz & Stegun
 * 7.1.26, the approximation PyTorch's vectorised CPU erf uses too). The double build, which
 * checks gradients against finite differences, uses libm. */

#include "real.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef PRENAS_REAL_DOUBLE

static inline real fast_exp(real x) {
    return exp(x);
}
static inline real fast_erf(real x) {
    return erf(x);
}

#else

/* Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, then Cephes' degree-6 polynomial. */
static inline float fast_exp(float x) {
    x = x < -87.3f ? -87.3f : x > 88.7f ? 88.7f : x; /* selects, not branches: see CMakeLists */
    const float shift = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float n = (x * 1.44269504088896341f + shift) - shift;
    float r = x - n * 0.693145751953125f - n * 1.428606765330187e-6f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float fast_erf(float x) {
    const float a = fabsf(x), t = 1.0f / (1.0f + 0.3275911f * a);
    float p = 1.061405429f;
    p = p * t - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    const float y = 1.0f - p * t * fast_exp(-a * a);
    return copysignf(y, x);
}

#endif
#endif
