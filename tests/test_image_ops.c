/* The image operations of RandAugment / AutoAugment at known magnitudes, in both argument
 * maps (timm's "increasing" for RandAugment, the original for AutoAugment): exact pixels
 * where PIL's result is a closed form (its integer equalize and truncating autocontrast
 * included). */
#include "check.h"

#include "image_ops.h"

#include <string.h>

enum { W = 8, H = 8, N = W * H };
static const ImageShape GRAY = {H, W, 1, 10};

/* pixel i = 4 i: a ramp 0, 4, ..., 252 */
static void ramp(uint8_t *image) {
    for (int i = 0; i < N; i++) image[i] = (uint8_t)(4 * i);
}

static uint8_t apply(ImageOp op, double m, bool increasing, bool negate, int pixel) {
    uint8_t image[N], scratch[N];
    ramp(image);
    image_op_apply(op, m, increasing, negate, image, scratch, GRAY);
    return image[pixel];
}

static void photometric(void) {
    CHECK_EQ_I64(apply(OP_INVERT, 5, true, false, 10), 255 - 40);
    /* posterize keeps 4 - floor(4 m / 10) bits: m = 5 keeps 2, 0xC0 mask */
    CHECK_EQ_I64(apply(OP_POSTERIZE, 5, true, false, 30), 120 & 0xC0);
    CHECK_EQ_I64(apply(OP_POSTERIZE, 5, false, false, 30), 120 & 0xC0);
    /* solarize: increasing threshold 256 - 256 m/10, original 256 m/10 */
    CHECK_EQ_I64(apply(OP_SOLARIZE, 0, true, false, 50), 200);  /* threshold 256: none */
    CHECK_EQ_I64(apply(OP_SOLARIZE, 0, false, false, 50), 55);  /* threshold 0: all */
    CHECK_EQ_I64(apply(OP_SOLARIZE, 5, false, false, 31), 124); /* below 128: kept */
    CHECK_EQ_I64(apply(OP_SOLARIZE, 5, false, false, 32), 255 - 128);
    CHECK_EQ_I64(apply(OP_SOLARIZE_ADD, 10, true, false, 5), 20 + 110); /* below 128: + 110 */
    CHECK_EQ_I64(apply(OP_SOLARIZE_ADD, 10, true, false, 40), 160);
    /* brightness blends with black: factor 1 - 0.9 m/10 (negated) or 0.1 + 1.8 m/10 */
    CHECK_EQ_I64(apply(OP_BRIGHTNESS, 10, true, true, 50), 20);   /* 200 x 0.1 */
    CHECK_EQ_I64(apply(OP_BRIGHTNESS, 10, true, false, 50), 255); /* 200 x 1.9, clipped */
    CHECK_EQ_I64(apply(OP_BRIGHTNESS, 5, false, true, 50), 200);  /* 0.1 + 0.9 = 1: unchanged */
    CHECK_EQ_I64(apply(OP_BRIGHTNESS, 0, false, false, 50), 20);  /* factor 0.1 */
    /* contrast blends with the mean grey (126): factor 0.1 at m = 0 */
    CHECK_EQ_I64(apply(OP_CONTRAST, 0, false, false, 0), 113); /* 126 + 0.1 (0 - 126) = 113.4 */
    /* autocontrast stretches [0, 252] to [0, 255] */
    CHECK_EQ_I64(apply(OP_AUTO_CONTRAST, 0, true, false, 63), 255);
    CHECK_EQ_I64(apply(OP_AUTO_CONTRAST, 0, true, false, 21), 85);
    CHECK_EQ_I64(apply(OP_AUTO_CONTRAST, 0, true, false, 32), 129); /* 129.52, truncated */
}

/* PIL's equalize on 1024 pixels: 512 at 10, 256 at 20, 256 at 30: step (1024 - 256) / 255 =
 * 3, so 10 -> (1 + 0) / 3 = 0, 20 -> (1 + 512) / 3 = 171, 30 -> (1 + 768) / 3 = 256 -> 255. */
static void equalize(void) {
    enum { SIDE = 32 };
    const ImageShape shape = {SIDE, SIDE, 1, 10};
    uint8_t image[SIDE * SIDE], scratch[SIDE * SIDE];
    for (int i = 0; i < SIDE * SIDE; i++) image[i] = i < 512 ? 10 : i < 768 ? 20 : 30;
    image_op_apply(OP_EQUALIZE, 5, true, false, image, scratch, shape);
    CHECK_EQ_I64(image[0], 0);
    CHECK_EQ_I64(image[600], 171);
    CHECK_EQ_I64(image[900], 255);
    /* too few pixels for a step: unchanged */
    uint8_t ramp_image[N], copy[N];
    ramp(ramp_image);
    memcpy(copy, ramp_image, N);
    image_op_apply(OP_EQUALIZE, 5, true, false, ramp_image, scratch, GRAY);
    CHECK(memcmp(ramp_image, copy, N) == 0);
}

static void geometric(void) {
    uint8_t image[N], scratch[N], original[N];
    ramp(original);
    /* magnitude 0: identity for rotation, shear and translation */
    const ImageOp ops[] = {OP_ROTATE, OP_SHEAR_X, OP_SHEAR_Y, OP_TRANSLATE_X, OP_TRANSLATE_Y};
    for (int k = 0; k < 5; k++) {
        memcpy(image, original, N);
        image_op_apply(ops[k], 0, false, false, image, scratch, GRAY);
        CHECK(memcmp(image, original, N) == 0);
    }
    /* translate x by 2 pixels (0.45 W m/10 = 2): out(x) = in(x + 2), fill on the right */
    memcpy(image, original, N);
    image_op_apply(OP_TRANSLATE_X, 2.0 / (0.45 * W) * 10, true, false, image, scratch, GRAY);
    CHECK_EQ_I64(image[3 * W + 1], original[3 * W + 3]);
    CHECK_EQ_I64(image[3 * W + 7], 124); /* the fill's first channel */
    /* 30 degrees moves pixels */
    memcpy(image, original, N);
    image_op_apply(OP_ROTATE, 10, true, false, image, scratch, GRAY);
    CHECK(memcmp(image, original, N) != 0);
}

int main(void) {
    photometric();
    equalize();
    geometric();
    return check_summary();
}
