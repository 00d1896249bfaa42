#include "image_ops.h"

#include <math.h>
#include <string.h>

static uint8_t clamp_byte(double v) {
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5);
}

void image_warp(uint8_t *out, const uint8_t *in, ImageShape s, Affine m, const uint8_t *fill) {
    const int W = s.width, H = s.height, C = s.channels;
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            const double sx = m.a * x + m.b * y + m.c, sy = m.d * x + m.e * y + m.f;
            const int x0 = (int)floor(sx), y0 = (int)floor(sy);
            const double fx = sx - x0, fy = sy - y0;
            for (int ch = 0; ch < C; ch++) {
                double v = 0;
                for (int k = 0; k < 4; k++) {
                    const int xi = x0 + (k & 1), yi = y0 + (k >> 1);
                    const double w = ((k & 1) ? fx : 1 - fx) * ((k >> 1) ? fy : 1 - fy);
                    const bool inside = xi >= 0 && xi < W && yi >= 0 && yi < H;
                    v += w * (inside ? in[((size_t)yi * W + xi) * C + ch] : fill[ch]);
                }
                out[((size_t)y * W + x) * C + ch] = clamp_byte(v);
            }
        }
    }
}

static double luminance(const uint8_t *p, int channels) {
    return channels >= 3 ? 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2] : p[0];
}

/* out = degenerate + factor (image - degenerate), PIL's ImageEnhance */
static void blend(uint8_t *image, const uint8_t *degenerate, size_t n, double factor) {
    for (size_t i = 0; i < n; i++)
        image[i] = clamp_byte(degenerate[i] + factor * (image[i] - degenerate[i]));
}

/* PIL's ImageOps.autocontrast (no cutoff): [lo, hi] stretched to [0, 255], truncating. */
static void autocontrast_lut(const int64_t histogram[256], uint8_t lut[256]) {
    int lo = 0, hi = 255;
    while (lo < 255 && !histogram[lo]) lo++;
    while (hi > 0 && !histogram[hi]) hi--;
    const double scale = hi > lo ? 255.0 / (hi - lo) : 1, offset = hi > lo ? -lo * scale : 0;
    for (int v = 0; v < 256; v++) {
        const int out = (int)(v * scale + offset);
        lut[v] = (uint8_t)(out < 0 ? 0 : out > 255 ? 255 : out);
    }
}

/* PIL's ImageOps.equalize: step = (pixels - count of the highest value) / 255, and value v
 * maps to (step / 2 + pixels below v) / step, in integers; identity when step is 0. */
static void equalize_lut(const int64_t histogram[256], uint8_t lut[256]) {
    int64_t total = 0, last = 0;
    for (int v = 0; v < 256; v++)
        if (histogram[v]) total += histogram[v], last = histogram[v];
    const int64_t step = (total - last) / 255;
    int64_t below = step / 2;
    for (int v = 0; v < 256; v++) {
        const int64_t out = step ? below / step : v;
        lut[v] = (uint8_t)(out > 255 ? 255 : out);
        below += histogram[v];
    }
}

static void per_channel_lut(uint8_t *image, ImageShape s, const uint8_t lut[][256]) {
    const size_t pixels = (size_t)s.width * s.height;
    for (size_t p = 0; p < pixels; p++)
        for (int c = 0; c < s.channels; c++)
            image[p * s.channels + c] = lut[c][image[p * s.channels + c]];
}

void image_op_apply(ImageOp op, double m, bool increasing, bool negate, uint8_t *image,
                    uint8_t *tmp, ImageShape s) {
    const size_t pixels = (size_t)s.width * s.height, n = pixels * s.channels;
    const double sign = negate ? -1 : 1, level = m / 10;
    /* the enhancements' factor */
    const double factor = increasing ? 1 + sign * 0.9 * level : 0.1 + 1.8 * level;
    const uint8_t fill[DATASET_MAX_CHANNELS] = {124, 116, 104, 0};
    uint8_t lut[DATASET_MAX_CHANNELS][256];
    const double cx = 0.5 * (s.width - 1), cy = 0.5 * (s.height - 1);
    switch (op) {
    case OP_AUTO_CONTRAST:
    case OP_EQUALIZE:
        for (int c = 0; c < s.channels; c++) {
            int64_t histogram[256] = {0};
            for (size_t p = 0; p < pixels; p++) histogram[image[p * s.channels + c]]++;
            if (op == OP_AUTO_CONTRAST)
                autocontrast_lut(histogram, lut[c]);
            else
                equalize_lut(histogram, lut[c]);
        }
        per_channel_lut(image, s, lut);
        break;
    case OP_INVERT:
        for (size_t i = 0; i < n; i++) image[i] = (uint8_t)(255 - image[i]);
        break;
    case OP_POSTERIZE: { /* keeps 4 - floor(4 m / 10) bits */
        const int bits = 4 - (int)(4 * level);
        const uint8_t mask = (uint8_t)(bits <= 0 ? 0 : (0xff << (8 - bits)) & 0xff);
        for (size_t i = 0; i < n; i++) image[i] &= mask;
        break;
    }
    case OP_SOLARIZE: { /* inverts the pixels at or above the threshold */
        const int threshold = increasing ? 256 - (int)(256 * level) : (int)(256 * level);
        for (size_t i = 0; i < n; i++)
            if (image[i] >= threshold) image[i] = (uint8_t)(255 - image[i]);
        break;
    }
    case OP_SOLARIZE_ADD: {
        const int add = (int)(110 * level);
        for (size_t i = 0; i < n; i++)
            if (image[i] < 128) image[i] = clamp_byte(image[i] + add);
        break;
    }
    case OP_COLOR:
    case OP_CONTRAST:
    case OP_BRIGHTNESS: {
        double mean_gray = 0;
        for (size_t p = 0; p < pixels; p++)
            mean_gray += luminance(image + p * s.channels, s.channels);
        mean_gray /= (double)pixels;
        for (size_t p = 0; p < pixels; p++)
            for (int c = 0; c < s.channels; c++)
                tmp[p * s.channels + c] =
                    op == OP_BRIGHTNESS ? 0
                    : op == OP_CONTRAST ? clamp_byte(mean_gray)
                                        : clamp_byte(luminance(image + p * s.channels, s.channels));
        blend(image, tmp, n, factor);
        break;
    }
    case OP_SHARPNESS: { /* PIL's SMOOTH kernel (1 1 1 / 1 5 1 / 1 1 1) / 13; borders kept */
        memcpy(tmp, image, n);
        for (int y = 1; y < s.height - 1; y++)
            for (int x = 1; x < s.width - 1; x++)
                for (int c = 0; c < s.channels; c++) {
                    double sum = 0;
                    for (int dy = -1; dy <= 1; dy++)
                        for (int dx = -1; dx <= 1; dx++)
                            sum += (dx || dy ? 1 : 5) *
                                   image[((size_t)(y + dy) * s.width + x + dx) * s.channels + c];
                    tmp[((size_t)y * s.width + x) * s.channels + c] = clamp_byte(sum / 13);
                }
        blend(image, tmp, n, factor);
        break;
    }
    case OP_ROTATE:
    case OP_SHEAR_X:
    case OP_SHEAR_Y:
    case OP_TRANSLATE_X:
    case OP_TRANSLATE_Y: {
        Affine a = {1, 0, 0, 0, 1, 0};
        if (op == OP_ROTATE) { /* about the centre, 30 degrees at magnitude 10 */
            const double t = sign * 30 * level * M_PI / 180, cs = cos(t), sn = sin(t);
            a = (Affine){cs, -sn, cx - cs * cx + sn * cy, sn, cs, cy - sn * cx - cs * cy};
        } else if (op == OP_SHEAR_X) {
            a.b = sign * 0.3 * level;
        } else if (op == OP_SHEAR_Y) {
            a.d = sign * 0.3 * level;
        } else if (op == OP_TRANSLATE_X) {
            a.c = sign * 0.45 * level * s.width;
        } else {
            a.f = sign * 0.45 * level * s.height;
        }
        memcpy(tmp, image, n);
        image_warp(image, tmp, s, a, fill);
        break;
    }
    case N_IMAGE_OPS:
        break;
    }
}
