#ifndef PRENAS_AUGMENT_H
#define PRENAS_AUGMENT_H

/* Training augmentation (method.md §9.3, §9.7), per image on stored uint8 [H, W, C]:
 * crop (pad-and-crop for small images, random-resized crop for photographs), horizontal flip,
 * RandAugment (timm's "increasing" ops), normalisation with the training split's statistics,
 * random erasing; then per batch mixup / cutmix. Every random choice comes from the stream
 * the caller passes, which belongs to the sample, so augmentation does not depend on which
 * rank or thread does it. */

#include "dataset.h"
#include "real.h"
#include "recipe.h"
#include "rng.h"

#include <stdint.h>

typedef struct {
    ImageShape shape; /* of the stored images = the model's input */
    double mean[DATASET_MAX_CHANNELS], std[DATASET_MAX_CHANNELS];
    CropKind crop;
    int pad;
    double scale_min;
    bool flip;
    int randaugment_ops;
    double randaugment_magnitude, randaugment_std;
    double erasing_prob;
    int erasing_count;
} Augmenter;

Augmenter augmenter_make(const Recipe *recipe, ImageShape shape, const double *mean,
                         const double *std);
/* One training image to model input [C, H, W]; `scratch` holds 2 x H x W x C bytes. */
void augment_image(const Augmenter *a, const uint8_t *image, real *out, uint8_t *scratch, Rng *rng);

/* Mixup / cutmix over a batch [n, C, H, W] (n even in elem mode): sample i is mixed with
 * sample n-1-i of the unmixed batch; mix[i] receives its lambda (1: untouched) and partner[i]
 * the partner's label. With both alphas 0 nothing is mixed. */
void mix_batch(const Recipe *recipe, real *images, int n, ImageShape shape, const int *labels,
               int *partner, real *mix, Rng *rng);

/* Beta(a, a) draws for mixup (Marsaglia-Tsang gamma variates). */
double rng_beta(Rng *rng, double alpha, double beta);

#endif
