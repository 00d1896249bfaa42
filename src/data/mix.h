#ifndef PRENAS_MIX_H
#define PRENAS_MIX_H

/* Mixup and cutmix of a training batch (method.md §9.3, timm's Mixup), independent of how the
 * global batch is split over ranks.
 *
 * Lambdas and cutmix boxes are timm's: in elem mode each sample draws its own lambda (cutmix or
 * mixup, switch_prob; mixed with probability prob) and, for cutmix, its own box; in batch mode
 * one lambda and one box serve the whole global batch. A sample is mixed with its partner's
 * unmixed image, and the partner's label enters its soft target with weight 1 - lambda.
 *
 * Deviation from timm: the pairing. timm pairs sample i of a rank's local batch of b with
 * sample b-1-i, so the pairs, and with them the training, change with the rank count. Here the
 * pairs are fixed positions of the global batch of G (the recipe's batch, even when mixing):
 * with d the smallest power of two >= R (the recipe's repeated_augmentation), the global batch
 * is cut into blocks of 2d consecutive positions and position p of a block is paired with
 * p + d (the first half of the block with the second, place by place); the G mod 2d positions
 * left over join the last block, whose halves are then (2d + G mod 2d) / 2 long, and a batch
 * under 2d is one block. R = 1 pairs neighbours (2k, 2k+1): the images of a batch are a
 * uniformly random sample, so these pairs are distributed as timm's. With R > 1 an image comes
 * R times in a row (loader.h), and the distance d >= R keeps its copies from being mixed with
 * each other (not guaranteed for G < 2d); timm's reversal needs no such care because the
 * reference's sampler deals the copies to different ranks. A rank whose part of the batch
 * cuts a block (7 images a rank; 12 with R = 3) also augments the partners held by its
 * neighbours, at most 2d - 1 images on each side, so that its samples are mixed as on 1 rank.
 *
 * Randomness: elem mode draws sample s's lambda and box from stream (seed, RNG_STREAM_MIX, s),
 * s its global sample index (loader.h); batch mode from (seed, RNG_STREAM_MIX_BATCH, step), the
 * same on every rank. */

#include "dataset.h"
#include "real.h"
#include "recipe.h"
#include "rng.h"

/* Consecutive positions [first, first + span) of the global batch that a rank holds to mix its
 * own samples, [first + lead, first + lead + count): those and all their partners. */
typedef struct {
    int first, span, lead, count;
} MixStretch;

/* Where a step's mixing draws from (see above). */
typedef struct {
    uint64_t seed;
    int64_t step;
    uint64_t first_sample; /* global sample index of the stretch's first position */
} MixStreams;

/* The partner of position p (0 <= p < recipe->batch) of a global batch. */
int mix_partner(const Recipe *recipe, int position);
/* The stretch a rank needs for the positions [first, first + count); without mixing, just them. */
MixStretch mix_stretch(const Recipe *recipe, int first, int count);
/* Mixes the rank's samples of the stretch: images [span, C, H, W] (augmented, normalised) and
 * labels [span] are the stretch's; the own samples' images are mixed in place, the others
 * (partners of other ranks) left as they are. partner[i] and mix[i] (i < count) receive own
 * sample i's partner label and lambda (1: untouched). With both alphas 0 nothing is mixed. */
void mix_batch(const Recipe *recipe, const MixStretch *stretch, MixStreams streams, real *images,
               const int *labels, ImageShape shape, int *partner, real *mix);

/* Beta(a, b) draws (Marsaglia-Tsang gamma variates). */
double rng_beta(Rng *rng, double alpha, double beta);

#endif
