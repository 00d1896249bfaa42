/* The batch resize of the CNN family (kernels.h): bilinear, PyTorch's
 * F.interpolate(mode="bilinear", align_corners=False, antialias=False) with an output size.
 *
 * ATen's rule (UpSample.h: area_pixel_compute_scale, area_pixel_compute_source_index,
 * compute_source_index_and_lambda), in the precisions PyTorch 1.13 (Debian's, the oracle's)
 * computes it in, found weight by weight against it: the scale in/out rounded to `real`; the
 * source coordinate (d + 0.5) scale - 0.5 and its fraction from it in double, the fraction
 * rounded to `real` as lambda1 and lambda0 = 1 - lambda1 in `real`. A float coordinate instead
 * would be off by up to 3e-5 near 320 (half a float ulp there), which moves every weight of a
 * 320 -> 192 resize by that much. Each output is then sum_ij x_ij (h_i w_j), the four weights
 * `real` products and the sum in double, rounded once: bit for bit what PyTorch gives for one
 * channel (Fashion-MNIST); with more channels ATen's generic kernel blends rows with float
 * fused multiply-adds instead, a few ulp away (tests/oracle/conv_oracle.py). The products of
 * float entries and float weights are exact in double, so a fused multiply-add rounds as the
 * separate add does: kernels/cuda/resize.cu, summing in the same order, gives the same bits.
 *
 * Each axis gets its taps once (two source indices and weights per output index); every
 * (sample, channel) plane is one iteration of a plain loop. */
#include "kernels.h"

#include "error.h"
#include "parallel.h"

#include <stdlib.h>
#include <string.h>

/* One axis: output index d blends source entries i0[d] and i1[d] with weights w0[d], w1[d]. */
typedef struct {
    int *i0, *i1;
    real *w0, *w1;
} AxisTaps;

/* i0 is the coordinate's floor, at most in - 1; i1 the next entry except at the last;
 * lambda1 = clamp(src - i0, 0, 1). An axis whose size does not change is a copy (i0 = i1 = d,
 * weights 1 and 0), as ATen special-cases it. */
static AxisTaps axis_taps(int in, int out) {
    AxisTaps t = {xmalloc((size_t)out * sizeof(int)), xmalloc((size_t)out * sizeof(int)),
                  xmalloc((size_t)out * sizeof(real)), xmalloc((size_t)out * sizeof(real))};
    const real scale = (real)in / (real)out;
    for (int d = 0; d < out; d++) {
        if (in == out) {
            t.i0[d] = t.i1[d] = d;
            t.w0[d] = 1;
            t.w1[d] = 0;
            continue;
        }
        double src = (double)scale * (d + 0.5) - 0.5;
        if (src < 0) src = 0;
        const int i = (int)src < in - 1 ? (int)src : in - 1; /* src >= 0: truncation floors */
        double lambda = src - i;
        lambda = lambda < 0 ? 0 : lambda > 1 ? 1 : lambda;
        t.i0[d] = i;
        t.i1[d] = i + (i < in - 1 ? 1 : 0);
        t.w1[d] = (real)lambda;
        t.w0[d] = 1 - t.w1[d];
    }
    return t;
}

static void axis_taps_free(AxisTaps *t) {
    free(t->i0), free(t->i1), free(t->w0), free(t->w1);
}

/* One output row from source rows r0 and r1 weighted h0, h1. */
CPU_DISPATCH static void resize_row(real *out, const real *r0, const real *r1, real h0, real h1,
                                    const AxisTaps *cols, int out_w) {
    for (int x = 0; x < out_w; x++) {
        const int c0 = cols->i0[x], c1 = cols->i1[x];
        const real w00 = h0 * cols->w0[x], w01 = h0 * cols->w1[x], w10 = h1 * cols->w0[x],
                   w11 = h1 * cols->w1[x];
        out[x] = (real)((double)r0[c0] * w00 + (double)r0[c1] * w01 + (double)r1[c0] * w10 +
                        (double)r1[c1] * w11);
    }
}

void resize_bilinear(real *y, const real *x, int batch, int channels, int in_h, int in_w, int out_h,
                     int out_w) {
    const size_t in_plane = (size_t)in_h * in_w, out_plane = (size_t)out_h * out_w;
    const int planes = batch * channels;
    if (in_h == out_h && in_w == out_w) { /* both weights of every output are 1 and 0 */
        if (y != x) memcpy(y, x, (size_t)planes * in_plane * sizeof *y);
        return;
    }
    AxisTaps rows = axis_taps(in_h, out_h), cols = axis_taps(in_w, out_w);
#pragma omp parallel for schedule(static) if ((size_t)planes * out_plane >= 16384)
    for (int p = 0; p < planes; p++) {
        const real *in = x + (size_t)p * in_plane;
        real *out = y + (size_t)p * out_plane;
        for (int r = 0; r < out_h; r++)
            resize_row(out + (size_t)r * out_w, in + (size_t)rows.i0[r] * in_w,
                       in + (size_t)rows.i1[r] * in_w, rows.w0[r], rows.w1[r], &cols, out_w);
    }
    axis_taps_free(&rows);
    axis_taps_free(&cols);
}
