#include "augment.h"

#include "image_ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

Augmenter augmenter_make(const Recipe *r, ImageShape shape, const double *mean, const double *std) {
    Augmenter a = {.shape = shape, .settings = r->augment};
    for (int c = 0; c < shape.channels; c++) a.mean[c] = mean[c], a.std[c] = std[c];
    return a;
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
    image_warp(out, in, s, m, black);
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

/* ---- automatic augmentation policies ---- */

static double noisy_magnitude(double m, double std, Rng *rng) {
    m += std * rng_normal(rng);
    return m < 0 ? 0 : m > 10 ? 10 : m;
}

/* timm's rand-mM-nN-mstdS-inc1: N ops drawn with replacement from the 15 increasing ones, each
 * applied with probability 1/2. */
static void rand_augment(const AugmentSettings *a, uint8_t *image, uint8_t *tmp, ImageShape s,
                         Rng *rng) {
    for (int k = 0; k < a->randaugment_ops; k++) {
        const ImageOp op = (ImageOp)rng_below(rng, N_IMAGE_OPS);
        const double m = noisy_magnitude(a->randaugment_magnitude, a->randaugment_std, rng);
        const bool negate = rng_uniform(rng) < 0.5;
        if (rng_uniform(rng) < 0.5) image_op_apply(op, m, true, negate, image, tmp, s);
    }
}

/* AutoAugment's ImageNet policy "v0" of the TPU EfficientNet code with the increasing
 * posterize ("v0r", timm): one of 25 pairs (op, probability, magnitude) per image. */
typedef struct {
    ImageOp op;
    double prob;
    int magnitude;
} PolicyOp;

static const PolicyOp POLICY_V0R[25][2] = {
    {{OP_EQUALIZE, 0.8, 1}, {OP_SHEAR_Y, 0.8, 4}},
    {{OP_COLOR, 0.4, 9}, {OP_EQUALIZE, 0.6, 3}},
    {{OP_COLOR, 0.4, 1}, {OP_ROTATE, 0.6, 8}},
    {{OP_SOLARIZE, 0.8, 3}, {OP_EQUALIZE, 0.4, 7}},
    {{OP_SOLARIZE, 0.4, 2}, {OP_SOLARIZE, 0.6, 2}},
    {{OP_COLOR, 0.2, 0}, {OP_EQUALIZE, 0.8, 8}},
    {{OP_EQUALIZE, 0.4, 8}, {OP_SOLARIZE_ADD, 0.8, 3}},
    {{OP_SHEAR_X, 0.2, 9}, {OP_ROTATE, 0.6, 8}},
    {{OP_COLOR, 0.6, 1}, {OP_EQUALIZE, 1.0, 2}},
    {{OP_INVERT, 0.4, 9}, {OP_ROTATE, 0.6, 0}},
    {{OP_EQUALIZE, 1.0, 9}, {OP_SHEAR_Y, 0.6, 3}},
    {{OP_COLOR, 0.4, 7}, {OP_EQUALIZE, 0.6, 0}},
    {{OP_POSTERIZE, 0.4, 6}, {OP_AUTO_CONTRAST, 0.4, 7}},
    {{OP_SOLARIZE, 0.6, 8}, {OP_COLOR, 0.6, 9}},
    {{OP_SOLARIZE, 0.2, 4}, {OP_ROTATE, 0.8, 9}},
    {{OP_ROTATE, 1.0, 7}, {OP_TRANSLATE_Y, 0.8, 9}},
    {{OP_SHEAR_X, 0.0, 0}, {OP_SOLARIZE, 0.8, 4}},
    {{OP_SHEAR_Y, 0.8, 0}, {OP_COLOR, 0.6, 4}},
    {{OP_COLOR, 1.0, 0}, {OP_ROTATE, 0.6, 2}},
    {{OP_EQUALIZE, 0.8, 4}, {OP_EQUALIZE, 0.0, 8}},
    {{OP_EQUALIZE, 1.0, 4}, {OP_AUTO_CONTRAST, 0.6, 2}},
    {{OP_SHEAR_Y, 0.4, 7}, {OP_SOLARIZE_ADD, 0.6, 7}},
    {{OP_POSTERIZE, 0.8, 2}, {OP_SOLARIZE, 0.6, 10}},
    {{OP_SOLARIZE, 0.6, 8}, {OP_EQUALIZE, 0.6, 1}},
    {{OP_COLOR, 0.8, 6}, {OP_ROTATE, 0.4, 5}},
};

static void auto_augment(const AugmentSettings *a, uint8_t *image, uint8_t *tmp, ImageShape s,
                         Rng *rng) {
    const PolicyOp *pair = POLICY_V0R[rng_below(rng, 25)];
    for (int k = 0; k < 2; k++) {
        if (rng_uniform(rng) >= pair[k].prob) continue;
        const double m = noisy_magnitude(pair[k].magnitude, a->autoaugment_std, rng);
        const bool negate = rng_uniform(rng) < 0.5;
        image_op_apply(pair[k].op, m, false, negate, image, tmp, s);
    }
}

/* timm's RandomErasing (mode "pixel"): boxes of area U(0.02, 1/3) / count, aspect
 * log-uniform in [0.3, 1/0.3], filled with N(0, 1) noise in the normalised image. */
static void random_erase(const AugmentSettings *a, real *image, ImageShape s, Rng *rng) {
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
    const AugmentSettings *set = &a->settings;
    const size_t n = (size_t)s.width * s.height * s.channels;
    uint8_t *work = scratch, *tmp = scratch + n;
    switch (set->crop) {
    case CROP_PAD:
        pad_crop(work, image, s, set->pad, rng);
        break;
    case CROP_RANDOM_RESIZED:
        resized_crop(work, image, s, set->scale_min, rng);
        break;
    case CROP_NONE:
        memcpy(work, image, n);
        break;
    }
    if (set->flip && rng_uniform(rng) < 0.5) flip(work, s);
    if (set->randaugment_ops > 0) rand_augment(set, work, tmp, s, rng);
    if (set->autoaugment == AUTOAUGMENT_V0R) auto_augment(set, work, tmp, s, rng);
    images_to_tensor(out, work, 1, s, a->mean, a->std);
    if (set->erasing_prob > 0) random_erase(set, out, s, rng);
}
