#ifndef PRENAS_IMAGE_OPS_H
#define PRENAS_IMAGE_OPS_H

/* The image operations of timm's RandAugment and AutoAugment (method.md §9.7), on uint8
 * [H, W, C] images in place, as PIL computes them, and the affine warp that crops share. */

#include "dataset.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    double a, b, c, d, e, f; /* source x = a x + b y + c, source y = d x + e y + f */
} Affine;

/* out(x, y) = in(M (x, y)) with bilinear sampling, `fill` (one value per channel) outside. */
void image_warp(uint8_t *out, const uint8_t *in, ImageShape s, Affine m, const uint8_t *fill);

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
    N_IMAGE_OPS
} ImageOp;

/* Applies `op` at magnitude m in [0, 10]. `increasing` picks timm's "increasing" argument
 * maps, whose strength grows with m (RandAugment inc1): solarize threshold 256 - 256 m/10 and
 * enhance factors 1 ± 0.9 m/10; otherwise AutoAugment's: threshold 256 m/10, factor
 * 0.1 + 1.8 m/10. Posterize keeps 4 - ⌊4 m/10⌋ bits either way (AutoAugment "v0r").
 * `negate` flips signed ops (rotation, shear, translation, increasing enhancements);
 * `scratch` holds H x W x C bytes. */
void image_op_apply(ImageOp op, double m, bool increasing, bool negate, uint8_t *image,
                    uint8_t *scratch, ImageShape s);

#endif
