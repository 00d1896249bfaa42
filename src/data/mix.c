#include "mix.h"

#include "error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

typedef struct {
    int y0, y1, x0, x1;
} Box;

/* timm's cutmix box for lambda: sides ⌊(H, W) √(1 - λ)⌋ around a uniform centre, clipped. */
static Box draw_box(ImageShape s, double lambda, Rng *rng) {
    const double side = sqrt(1 - lambda);
    const int cut_h = (int)(s.height * side), cut_w = (int)(s.width * side);
    const int cy = (int)rng_below(rng, (uint64_t)s.height),
              cx = (int)rng_below(rng, (uint64_t)s.width);
    return (Box){cy - cut_h / 2 < 0 ? 0 : cy - cut_h / 2,
                 cy + cut_h / 2 > s.height ? s.height : cy + cut_h / 2,
                 cx - cut_w / 2 < 0 ? 0 : cx - cut_w / 2,
                 cx + cut_w / 2 > s.width ? s.width : cx + cut_w / 2};
}

/* Pastes the partner's box into the image; returns the corrected lambda (1 - box area). */
static double paste_box(real *image, const real *partner, ImageShape s, Box b) {
    for (int c = 0; c < s.channels; c++)
        for (int y = b.y0; y < b.y1; y++)
            for (int x = b.x0; x < b.x1; x++) {
                const size_t at = ((size_t)c * s.height + y) * s.width + x;
                image[at] = partner[at];
            }
    return 1 - (double)(b.y1 - b.y0) * (b.x1 - b.x0) / ((double)s.height * s.width);
}

/* Mixes one image with its partner's; returns lambda, corrected to the pasted box for cutmix. */
static real mix_image(const Recipe *r, real *image, const real *partner, ImageShape s, Rng *rng) {
    bool cutmix = false;
    const double lambda = draw_lambda(r, rng, &cutmix);
    if (lambda >= 1) return 1;
    if (cutmix) return (real)paste_box(image, partner, s, draw_box(s, lambda, rng));
    const size_t size = (size_t)s.channels * s.height * s.width;
    for (size_t k = 0; k < size; k++)
        image[k] = (real)(lambda * image[k] + (1 - lambda) * partner[k]);
    return (real)lambda;
}

int mix_partner(const Recipe *r, int p) {
    int half = 1;
    while (half < r->repeated_augmentation) half *= 2;
    const int blocks = r->batch / (2 * half) > 1 ? r->batch / (2 * half) : 1;
    const int block = p / (2 * half) < blocks ? p / (2 * half) : blocks - 1;
    const int start = block * 2 * half;
    if (block == blocks - 1) half = (r->batch - start) / 2; /* the leftover positions join */
    return p - start < half ? p + half : p - half;
}

MixStretch mix_stretch(const Recipe *r, int first, int count) {
    if (!recipe_mixes(r)) return (MixStretch){first, count, 0, count};
    int lo = first, hi = first + count;
    for (int p = first; p < first + count; p++) {
        const int q = mix_partner(r, p);
        lo = q < lo ? q : lo;
        hi = q + 1 > hi ? q + 1 : hi;
    }
    return (MixStretch){lo, hi - lo, first - lo, count};
}

void mix_batch(const Recipe *r, const MixStretch *m, MixStreams streams, real *images,
               const int *labels, ImageShape s, int *partner, real *mix) {
    for (int i = 0; i < m->count; i++) mix[i] = 1, partner[i] = labels[m->lead + i];
    if (!recipe_mixes(r)) return;
    const size_t size = (size_t)s.channels * s.height * s.width;
    real *original = xmalloc(size * (size_t)m->span * sizeof *original);
    memcpy(original, images, size * (size_t)m->span * sizeof *original);
    for (int i = 0; i < m->count; i++) {
        const int at = m->lead + i, other = mix_partner(r, m->first + at) - m->first;
        /* batch mode: each sample replays the step's stream, so all draw one lambda and box */
        Rng rng = r->mix.mode == MIX_BATCH
                      ? rng_stream_at(streams.seed, RNG_STREAM_MIX_BATCH, (uint64_t)streams.step)
                      : rng_stream_at(streams.seed, RNG_STREAM_MIX, streams.first_sample + at);
        mix[i] = mix_image(r, images + size * at, original + size * other, s, &rng);
        partner[i] = labels[other];
    }
    free(original);
}
