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

void mix_batch(const Recipe *r, real *images, int n, ImageShape s, const int *labels, int *partner,
               real *mix, Rng *rng) {
    for (int i = 0; i < n; i++) mix[i] = 1, partner[i] = labels[i];
    if (r->mix.mixup_alpha <= 0 && r->mix.cutmix_alpha <= 0) return;
    const size_t size = (size_t)s.channels * s.height * s.width;
    real *original = xmalloc(size * (size_t)n * sizeof *original);
    memcpy(original, images, size * (size_t)n * sizeof *original);
    bool cutmix = false;
    double lambda = r->mix.mode == MIX_BATCH ? draw_lambda(r, rng, &cutmix) : 1;
    Box box =
        r->mix.mode == MIX_BATCH && cutmix && lambda < 1 ? draw_box(s, lambda, rng) : (Box){0};
    for (int i = 0; i < n; i++) {
        if (r->mix.mode == MIX_ELEM) {
            lambda = draw_lambda(r, rng, &cutmix);
            if (cutmix && lambda < 1) box = draw_box(s, lambda, rng);
        }
        const int j = n - 1 - i;
        real *image = images + size * i;
        const real *other = original + size * j;
        double l = lambda;
        if (l < 1 && cutmix) {
            l = paste_box(image, other, s, box);
        } else if (l < 1) {
            for (size_t k = 0; k < size; k++) image[k] = (real)(l * image[k] + (1 - l) * other[k]);
        }
        mix[i] = (real)l;
        partner[i] = labels[j];
    }
    free(original);
}
