#include "augment.h"

#include "error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

Augmenter augmenter_make(const Recipe *r, ImageShape shape, const double *mean, const double *std) {
    Augmenter a = {.shape = shape,
                   .crop = r->augment.crop,
                   .pad = r->augment.pad,
                   .scale_min = r->augment.scale_min,
                   .flip = r->augment.flip,
                   .randaugment_ops = r->augment.randaugment_ops,
                   .randaugment_magnitude = r->augment.randaugment_magnitude,
                   .randaugment_std = r->augment.randaugment_std,
                   .erasing_prob = r->augment.erasing_prob,
                   .erasing_count = r->augment.erasing_count};
    for (int c = 0; c < shape.channels; c++) a.mean[c] = mean[c], a.std[c] = std[c];
    return a;
}

static uint8_t clamp_byte(double v) {
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5);
}

/* ---- geometry: out(x, y) = in(M (x, y)) with bilinear sampling, `fill` outside ---- */

typedef struct {
    double a, b, c, d, e, f; /* source x = a x + b y + c, source y = d x + e y + f */
} Affine;

static void warp(uint8_t *out, const uint8_t *in, ImageShape s, Affine m, const uint8_t *fill) {
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

/* Pad with zeros on every side and crop the image size back at a random offset. */
static void pad_crop(uint8_t *out, const uint8_t *in, ImageShape s, int pad, Rng *rng) {
    const int dx = (int)rng_below(rng, (uint64_t)(2 * pad + 1)) - pad;
    const int dy = (int)rng_below(rng, (uint64_t)(2 * pad + 1)) - pad;
    const size_t row = (size_t)s.width * s.channels;
    for (int y = 0; y < s.height; y++) {
        for (int x = 0; x < s.width; x++) {
            const int sx = x + dx, sy = y + dy;
            const bool inside = sx >= 0 && sx < s.width && sy >= 0 && sy < s.height;
            for (int c = 0; c < s.channels; c++)
                out[y * row + (size_t)x * s.channels + c] =
                    inside ? in[(size_t)sy * row + (size_t)sx * s.channels + c] : 0;
        }
    }
}

/* timm's RandomResizedCrop: a region of area fraction U(scale_min, 1) and aspect ratio
 * log-uniform in [3/4, 4/3] (10 tries, else the whole image), scaled to the image size. */
static void resized_crop(uint8_t *out, const uint8_t *in, ImageShape s, double scale_min,
                         Rng *rng) {
    double w = s.width, h = s.height, x0 = 0, y0 = 0;
    for (int attempt = 0; attempt < 10; attempt++) {
        const double area = s.width * s.height * (scale_min + (1 - scale_min) * rng_uniform(rng));
        const double aspect = exp(log(3.0 / 4) + (log(4.0 / 3) - log(3.0 / 4)) * rng_uniform(rng));
        const double cw = round(sqrt(area * aspect)), ch = round(sqrt(area / aspect));
        if (cw >= 1 && ch >= 1 && cw <= s.width && ch <= s.height) {
            w = cw, h = ch;
            x0 = (double)rng_below(rng, (uint64_t)(s.width - cw + 1));
            y0 = (double)rng_below(rng, (uint64_t)(s.height - ch + 1));
            break;
        }
    }
    const uint8_t black[DATASET_MAX_CHANNELS] = {0};
    /* pixel centres: output x + 0.5 maps to x0 + (x + 0.5) w / W */
    Affine m = {w / s.width,
                0,
                x0 + 0.5 * w / s.width - 0.5,
                0,
                h / s.height,
                y0 + 0.5 * h / s.height - 0.5};
    warp(out, in, s, m, black);
}

static void flip(uint8_t *image, ImageShape s) {
    for (int y = 0; y < s.height; y++) {
        uint8_t *row = image + (size_t)y * s.width * s.channels;
        for (int x = 0; x < s.width / 2; x++)
            for (int c = 0; c < s.channels; c++) {
                uint8_t t = row[x * s.channels + c];
                row[x * s.channels + c] = row[(s.width - 1 - x) * s.channels + c];
                row[(s.width - 1 - x) * s.channels + c] = t;
            }
    }
}

/* ---- RandAugment (timm's rand-mM-nN-mstd*-inc1: the 15 "increasing" ops) ---- */

typedef enum {
    OP_AUTO_CONTRAST,
    OP_EQUALIZE,
    OP_INVERT,
    OP_ROTATE,
    OP_POSTERIZE,
    OP_SOLARIZE,
    OP_SOLARIZE_ADD,
    OP_COLOR,
    OP_CONTRAST,
    OP_BRIGHTNESS,
    OP_SHARPNESS,
    OP_SHEAR_X,
    OP_SHEAR_Y,
    OP_TRANSLATE_X,
    OP_TRANSLATE_Y,
    N_OPS
} AugmentOp;

static double luminance(const uint8_t *p, int channels) {
    return channels >= 3 ? 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2] : p[0];
}

/* out = degenerate + factor (image - degenerate), PIL's ImageEnhance */
static void blend(uint8_t *image, const uint8_t *degenerate, size_t n, double factor) {
    for (size_t i = 0; i < n; i++)
        image[i] = clamp_byte(degenerate[i] + factor * (image[i] - degenerate[i]));
}

static void per_channel_lut(uint8_t *image, ImageShape s, const uint8_t lut[][256]) {
    const size_t pixels = (size_t)s.width * s.height;
    for (size_t p = 0; p < pixels; p++)
        for (int c = 0; c < s.channels; c++)
            image[p * s.channels + c] = lut[c][image[p * s.channels + c]];
}

static void apply_op(AugmentOp op, double m, uint8_t *image, uint8_t *tmp, ImageShape s, Rng *rng) {
    const size_t pixels = (size_t)s.width * s.height, n = pixels * s.channels;
    const double sign = rng_uniform(rng) < 0.5 ? -1 : 1, level = m / 10;
    const uint8_t fill[DATASET_MAX_CHANNELS] = {124, 116, 104, 0};
    uint8_t lut[DATASET_MAX_CHANNELS][256];
    const double cx = 0.5 * (s.width - 1), cy = 0.5 * (s.height - 1);
    switch (op) {
    case OP_AUTO_CONTRAST:
    case OP_EQUALIZE:
        for (int c = 0; c < s.channels; c++) {
            int64_t histogram[256] = {0};
            for (size_t p = 0; p < pixels; p++) histogram[image[p * s.channels + c]]++;
            int lo = 0, hi = 255;
            while (lo < 255 && !histogram[lo]) lo++;
            while (hi > 0 && !histogram[hi]) hi--;
            int64_t cumulative = 0;
            for (int v = 0; v < 256; v++) {
                cumulative += histogram[v];
                lut[c][v] = op == OP_AUTO_CONTRAST
                                ? (hi > lo ? clamp_byte((v - lo) * 255.0 / (hi - lo)) : (uint8_t)v)
                                : clamp_byte(255.0 * (double)(cumulative - histogram[lo]) /
                                             (double)((int64_t)pixels - histogram[lo] > 0
                                                          ? (int64_t)pixels - histogram[lo]
                                                          : 1));
            }
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
    case OP_SOLARIZE: { /* inverts pixels at or above 256 - floor(256 m / 10) */
        const int threshold = 256 - (int)(256 * level);
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
        const double factor = 1 + sign * 0.9 * level;
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
        const double factor = 1 + sign * 0.9 * level;
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
        warp(image, tmp, s, a, fill);
        break;
    }
    case N_OPS:
        break;
    }
}

static void rand_augment(const Augmenter *a, uint8_t *image, uint8_t *tmp, Rng *rng) {
    for (int k = 0; k < a->randaugment_ops; k++) {
        const AugmentOp op = (AugmentOp)rng_below(rng, N_OPS);
        double m = a->randaugment_magnitude + a->randaugment_std * rng_normal(rng);
        m = m < 0 ? 0 : m > 10 ? 10 : m;
        if (rng_uniform(rng) < 0.5) apply_op(op, m, image, tmp, a->shape, rng);
    }
}

/* timm's RandomErasing (mode "pixel"): boxes of area U(0.02, 1/3) / count, aspect
 * log-uniform in [0.3, 1/0.3], filled with N(0, 1) noise in the normalised image. */
static void random_erase(const Augmenter *a, real *image, Rng *rng) {
    const ImageShape s = a->shape;
    if (rng_uniform(rng) >= a->erasing_prob) return;
    const int count =
        a->erasing_count == 1 ? 1 : 1 + (int)rng_below(rng, (uint64_t)a->erasing_count);
    for (int box = 0; box < count; box++) {
        for (int attempt = 0; attempt < 10; attempt++) {
            const double area =
                s.width * s.height * (0.02 + (1.0 / 3 - 0.02) * rng_uniform(rng)) / count;
            const double aspect = exp(log(0.3) + (log(1 / 0.3) - log(0.3)) * rng_uniform(rng));
            const int h = (int)round(sqrt(area * aspect)), w = (int)round(sqrt(area / aspect));
            if (h >= s.height || w >= s.width || h < 1 || w < 1) continue;
            const int top = (int)rng_below(rng, (uint64_t)(s.height - h + 1));
            const int left = (int)rng_below(rng, (uint64_t)(s.width - w + 1));
            for (int c = 0; c < s.channels; c++)
                for (int y = top; y < top + h; y++)
                    for (int x = left; x < left + w; x++)
                        image[((size_t)c * s.height + y) * s.width + x] = (real)rng_normal(rng);
            break;
        }
    }
}

void augment_image(const Augmenter *a, const uint8_t *image, real *out, uint8_t *scratch,
                   Rng *rng) {
    const ImageShape s = a->shape;
    const size_t n = (size_t)s.width * s.height * s.channels;
    uint8_t *work = scratch, *tmp = scratch + n;
    switch (a->crop) {
    case CROP_PAD:
        pad_crop(work, image, s, a->pad, rng);
        break;
    case CROP_RANDOM_RESIZED:
        resized_crop(work, image, s, a->scale_min, rng);
        break;
    case CROP_NONE:
        memcpy(work, image, n);
        break;
    }
    if (a->flip && rng_uniform(rng) < 0.5) flip(work, s);
    if (a->randaugment_ops > 0) rand_augment(a, work, tmp, rng);
    images_to_tensor(out, work, 1, s, a->mean, a->std);
    if (a->erasing_prob > 0) random_erase(a, out, rng);
}

/* ---- mixup / cutmix ---- */

static double rng_gamma(Rng *rng, double shape) {
    if (shape < 1) /* boost: G(a) = G(a + 1) U^(1/a) */
        return rng_gamma(rng, shape + 1) * pow(1 - rng_uniform(rng), 1 / shape);
    const double d = shape - 1.0 / 3, c = 1 / sqrt(9 * d);
    for (;;) {
        double x, v;
        do {
            x = rng_normal(rng);
            v = 1 + c * x;
        } while (v <= 0);
        v = v * v * v;
        const double u = 1 - rng_uniform(rng);
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v)) return d * v;
    }
}

double rng_beta(Rng *rng, double alpha, double beta) {
    const double x = rng_gamma(rng, alpha), y = rng_gamma(rng, beta);
    return x / (x + y);
}

/* One lambda and whether it is a cutmix box, as timm's Mixup draws them. */
static double draw_lambda(const Recipe *r, Rng *rng, bool *cutmix) {
    const double mixup = r->mix.mixup_alpha, cut = r->mix.cutmix_alpha;
    *cutmix = cut > 0 && (mixup <= 0 || rng_uniform(rng) < r->mix.switch_prob);
    if (rng_uniform(rng) >= r->mix.prob) return 1;
    return *cutmix ? rng_beta(rng, cut, cut) : rng_beta(rng, mixup, mixup);
}

/* Pastes the partner's box into the image; returns the corrected lambda (1 - box area). */
static double paste_box(real *image, const real *partner, ImageShape s, double lambda, Rng *rng) {
    const double side = sqrt(1 - lambda);
    const int cut_h = (int)(s.height * side), cut_w = (int)(s.width * side);
    const int cy = (int)rng_below(rng, (uint64_t)s.height),
              cx = (int)rng_below(rng, (uint64_t)s.width);
    const int y0 = cy - cut_h / 2 < 0 ? 0 : cy - cut_h / 2;
    const int y1 = cy + cut_h / 2 > s.height ? s.height : cy + cut_h / 2;
    const int x0 = cx - cut_w / 2 < 0 ? 0 : cx - cut_w / 2;
    const int x1 = cx + cut_w / 2 > s.width ? s.width : cx + cut_w / 2;
    for (int c = 0; c < s.channels; c++)
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++) {
                const size_t at = ((size_t)c * s.height + y) * s.width + x;
                image[at] = partner[at];
            }
    return 1 - (double)(y1 - y0) * (x1 - x0) / ((double)s.height * s.width);
}

void mix_batch(const Recipe *r, real *images, int n, ImageShape s, const int *labels, int *partner,
               real *mix, Rng *rng) {
    for (int i = 0; i < n; i++) mix[i] = 1, partner[i] = labels[i];
    if (r->mix.mixup_alpha <= 0 && r->mix.cutmix_alpha <= 0) return;
    const size_t size = (size_t)s.channels * s.height * s.width;
    real *original = xmalloc(size * (size_t)n * sizeof *original);
    memcpy(original, images, size * (size_t)n * sizeof *original);
    bool cutmix = false;
    double lambda = r->mix.mode == MIX_BATCH ? draw_lambda(r, rng, &cutmix) : 1;
    for (int i = 0; i < n; i++) {
        if (r->mix.mode == MIX_ELEM) lambda = draw_lambda(r, rng, &cutmix);
        const int j = n - 1 - i;
        real *image = images + size * i;
        const real *other = original + size * j;
        double l = lambda;
        if (l < 1 && cutmix) {
            l = paste_box(image, other, s, l, rng);
        } else if (l < 1) {
            for (size_t k = 0; k < size; k++) image[k] = (real)(l * image[k] + (1 - l) * other[k]);
        }
        mix[i] = (real)l;
        partner[i] = labels[j];
    }
    free(original);
}
