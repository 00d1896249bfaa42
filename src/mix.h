#ifndef PRENAS_MIX_H
#define PRENAS_MIX_H

/* Mixup and cutmix of a training batch (method.md §9.3, timm's Mixup). */

#include "dataset.h"
#include "real.h"
#include "recipe.h"
#include "rng.h"

/* Mixes a batch [n, C, H, W] (n even in elem mode): sample i with sample n-1-i of the unmixed
 * batch; elem mode draws lambda (and the cutmix box) per sample, batch mode once for the
 * batch. mix[i] receives its lambda (1: untouched) and partner[i] the partner's label. With
 * both alphas 0 nothing is mixed. */
void mix_batch(const Recipe *recipe, real *images, int n, ImageShape shape, const int *labels,
               int *partner, real *mix, Rng *rng);

/* Beta(a, b) draws (Marsaglia-Tsang gamma variates). */
double rng_beta(Rng *rng, double alpha, double beta);

#endif
