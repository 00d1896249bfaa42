/* The CPU's bf16 products (kernels/cpu/gemm_bf16.h): the rounding bit by bit, and every
 * product equal to the exact product of the bf16-rounded operands up to fp32 accumulation,
 * which is what "bf16 operands, fp32 accumulation" promises. The comparison with the fp32
 * products at bf16's tolerance, per op and for a whole training step, is prenas-op-parity
 * --device cpu --precision bf16 (ctest op_parity_cpu_bf16). Skips (77) the products on a CPU
 * without AVX512-BF16, after the rounding checks. */
#include "check.h"
#include "gemm_bf16.h"
#include "rng.h"

#include <stdlib.h>

static uint16_t rounded_bits(uint32_t bits) {
    float x;
    memcpy(&x, &bits, sizeof x);
    uint16_t out;
    round_to_bf16(&out, &x, 1);
    return out;
}

static float from_bf16(uint16_t h) {
    const uint32_t bits = (uint32_t)h << 16;
    float x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

static void check_rounding(void) {
    CHECK_EQ_I64(rounded_bits(0x3f800000u), 0x3f80); /* 1 */
    CHECK_EQ_I64(rounded_bits(0x3f808000u), 0x3f80); /* tie, to even (down) */
    CHECK_EQ_I64(rounded_bits(0x3f818000u), 0x3f82); /* tie, to even (up) */
    CHECK_EQ_I64(rounded_bits(0x3f808001u), 0x3f81); /* above the tie */
    CHECK_EQ_I64(rounded_bits(0x3f807fffu), 0x3f80); /* below the tie */
    CHECK_EQ_I64(rounded_bits(0xbf818000u), 0xbf82); /* signs round alike */
    CHECK_EQ_I64(rounded_bits(0x80000000u), 0x8000); /* -0 */
    CHECK_EQ_I64(rounded_bits(0x7f800000u), 0x7f80); /* inf */
    CHECK_EQ_I64(rounded_bits(0xff800000u), 0xff80); /* -inf */
    CHECK_EQ_I64(rounded_bits(0x7f7fffffu), 0x7f80); /* FLT_MAX overflows to inf */
    CHECK_EQ_I64(rounded_bits(0x7fc00000u), 0x7fc0); /* quiet NaN */
    CHECK_EQ_I64(rounded_bits(0x7f800001u), 0x7fc0); /* NaN whose payload rounds away */
    CHECK_EQ_I64(rounded_bits(0xffffffffu), 0xffff); /* NaN stays NaN, not inf */
    CHECK_EQ_I64(rounded_bits(0x00000001u), 0x0000); /* denormal */
    /* a long buffer (vector body and tail) equals element-by-element rounding */
    enum { N = 1003 };
    float x[N];
    uint16_t whole[N];
    Rng rng = rng_stream(7, 0);
    for (int i = 0; i < N; i++) x[i] = (float)rng_normal(&rng) * 100;
    round_to_bf16(whole, x, N);
    int same = 0;
    for (int i = 0; i < N; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        same += whole[i] == rounded_bits(bits);
    }
    CHECK_EQ_I64(same, N);
}

/* rows x cols random entries with row stride ld, and their bf16-rounded values. */
static float *random_matrix(Rng *rng, int rows, int cols, int ld, double **rounded) {
    float *m = calloc((size_t)rows * ld, sizeof *m);
    *rounded = calloc((size_t)rows * ld, sizeof **rounded);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            float *x = &m[(size_t)r * ld + c];
            *x = (float)rng_normal(rng);
            uint16_t h;
            round_to_bf16(&h, x, 1);
            (*rounded)[(size_t)r * ld + c] = from_bf16(h);
        }
    return m;
}

/* max |got - exact| / max |exact| over an m x n result */
static double relative_error(const float *got, const double *exact, int m, int n, int ldc) {
    double err = 0, scale = 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            const double e = exact[(size_t)i * n + j];
            err = fmax(err, fabs(got[(size_t)i * ldc + j] - e));
            scale = fmax(scale, fabs(e));
        }
    return scale > 0 ? err / scale : err;
}

/* fp32 accumulation of k products of exact bf16 pairs: a few ulp of the largest term sums */
static const double ACCUMULATION = 1e-5;

static void check_gemm(CpuBf16 *ctx, Rng *rng, bool ta, bool tb, int m, int n, int k,
                       bool accumulate) {
    const int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
    double *a16, *b16, *c0;
    float *a = random_matrix(rng, ta ? k : m, ta ? m : k, lda, &a16);
    float *b = random_matrix(rng, tb ? n : k, tb ? k : n, ldb, &b16);
    float *c = random_matrix(rng, m, n, ldc, &c0);
    double *exact = calloc((size_t)m * n, sizeof *exact);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double sum = accumulate ? c[(size_t)i * ldc + j] : 0;
            for (int p = 0; p < k; p++)
                sum += (ta ? a16[(size_t)p * lda + i] : a16[(size_t)i * lda + p]) *
                       (tb ? b16[(size_t)j * ldb + p] : b16[(size_t)p * ldb + j]);
            exact[(size_t)i * n + j] = sum;
        }
    const float outside = c[n]; /* an entry past the row, in the stride's gap */
    gemm_bf16(ctx, ta, tb, m, n, k, a, lda, b, ldb, accumulate, c, ldc);
    const double err = relative_error(c, exact, m, n, ldc);
    if (!CHECK(err <= ACCUMULATION))
        fprintf(stderr, "     gemm %c%c %dx%dx%d accumulate %d: error %.3g\n", ta ? 'T' : 'N',
                tb ? 'T' : 'N', m, n, k, accumulate, err);
    CHECK(c[n] == outside);
    free(a), free(b), free(c), free(a16), free(b16), free(c0), free(exact);
}

/* linear_forward_bf16 / linear_backward_bf16 on a slice of a wider weight matrix. */
static void check_linear(CpuBf16 *ctx, Rng *rng, int rows, int in, int out, int ldw) {
    double *x16, *w16, *dy16, *b0, *dw0;
    float *x = random_matrix(rng, rows, in, in, &x16);
    float *w = random_matrix(rng, out, in, ldw, &w16);
    float *dy = random_matrix(rng, rows, out, out, &dy16);
    float *b = random_matrix(rng, 1, out, out, &b0);
    float *dw = random_matrix(rng, out, in, ldw, &dw0);
    float *y = calloc((size_t)rows * out, sizeof *y), *dx = calloc((size_t)rows * in, sizeof *dx);
    float *db = calloc((size_t)out, sizeof *db);
    double *ey = calloc((size_t)rows * out, sizeof *ey),
           *edx = calloc((size_t)rows * in, sizeof *edx);
    double *edw = calloc((size_t)out * in, sizeof *edw), *edb = calloc((size_t)out, sizeof *edb);
    for (int r = 0; r < rows; r++)
        for (int o = 0; o < out; o++) {
            double sum = b[o];
            for (int i = 0; i < in; i++) sum += x16[(size_t)r * in + i] * w16[(size_t)o * ldw + i];
            ey[(size_t)r * out + o] = sum;
            edb[o] += dy[(size_t)r * out + o]; /* fp32 values: the bias gradient is not rounded */
        }
    for (int r = 0; r < rows; r++)
        for (int i = 0; i < in; i++) {
            double sum = 0;
            for (int o = 0; o < out; o++)
                sum += dy16[(size_t)r * out + o] * w16[(size_t)o * ldw + i];
            edx[(size_t)r * in + i] = sum;
        }
    for (int o = 0; o < out; o++)
        for (int i = 0; i < in; i++) {
            double sum = dw[(size_t)o * ldw + i];
            for (int r = 0; r < rows; r++)
                sum += dy16[(size_t)r * out + o] * x16[(size_t)r * in + i];
            edw[(size_t)o * in + i] = sum;
        }
    linear_forward_bf16(ctx, y, x, w, b, rows, in, out, ldw);
    linear_backward_bf16(ctx, dx, dw, db, dy, x, w, rows, in, out, ldw);
    CHECK(relative_error(y, ey, rows, out, out) <= ACCUMULATION);
    CHECK(relative_error(dx, edx, rows, in, in) <= ACCUMULATION);
    CHECK(relative_error(dw, edw, out, in, ldw) <= ACCUMULATION);
    CHECK(relative_error(db, edb, 1, out, out) <= ACCUMULATION);
    free(x), free(w), free(dy), free(b), free(dw), free(y), free(dx), free(db);
    free(x16), free(w16), free(dy16), free(b0), free(dw0), free(ey), free(edx), free(edw),
        free(edb);
}

int main(void) {
    check_rounding();
    char why[128];
    CpuBf16 *ctx = cpu_bf16_open(why, sizeof why);
    if (!ctx) {
        printf("bf16 products skipped: %s\n", why);
        check_summary();
        return check_tally.failed ? 1 : 77;
    }
    Rng rng = rng_stream(1, 0);
    for (int t = 0; t < 4; t++) {
        const bool ta = t & 1, tb = t & 2;
        check_gemm(ctx, &rng, ta, tb, 13, 7, 33, false);
        check_gemm(ctx, &rng, ta, tb, 50, 16, 50, true);
        check_gemm(ctx, &rng, ta, tb, 200, 240, 80, t == 3);
    }
    check_gemm(ctx, &rng, false, true, 3, 5, 0, false); /* an empty sum is zero */
    check_gemm(ctx, &rng, false, true, 3, 5, 0, true);  /* ... or leaves C */
    /* the same shape again takes the primitive made the first time */
    check_gemm(ctx, &rng, false, true, 13, 7, 33, false);
    check_linear(ctx, &rng, 64, 80, 240, 96);  /* micro qkv, a slice of a wider matrix */
    check_linear(ctx, &rng, 50, 320, 80, 320); /* micro fc2 */
    check_linear(ctx, &rng, 8, 16, 10, 16);    /* a head */
    /* the operands really are rounded: 1 + 2^-10 is 1 in bf16 */
    const float a = 1.0f + 0x1p-10f, b = 1.0f;
    float c = 0;
    gemm_bf16(ctx, false, false, 1, 1, 1, &a, 1, &b, 1, false, &c, 1);
    CHECK(c == 1.0f);
    cpu_bf16_close(ctx);
    return check_summary();
}
