#ifndef PRENAS_AUGMENT_H
#define PRENAS_AUGMENT_H

/* Training augmentation (method.md §9.7), per image on stored uint8 [H, W, C]: crop
 * (pad-and-crop for small images, random-resized crop for photographs), horizontal flip,
 * RandAugment (timm's "increasing" ops) or AutoAugment (policy v0r), normalisation with the
 * training split's statistics, random erasing. Every random choice comes from the stream the
 * caller passes, which belongs to the sample, so augmentation does not depend on which rank
 * or thread does it. Mixing a batch is in mix.h. */

#include "dataset.h"
#include "real.h"
#include "recipe.h"
#include "rng.h"

#include <stdint.h>

typedef struct {
    ImageShape shape; /* of the stored images = the model's input */
    double mean[DATASET_MAX_CHANNELS], std[DATASET_MAX_CHANNELS];
    AugmentSettings settings;
} Augmenter;

Augmenter augmenter_make(const Recipe *recipe, ImageShape shape, const double *mean,
                         const double *std);
/* One training image to model input [C, H, W]; `scratch` holds 2 x H x W x C bytes. */
void augment_image(const Augmenter *a, const uint8_t *image, real *out, uint8_t *scratch, Rng *rng);

#endif
