/* SNIP (Lee et al. 2019; method.md §6.2, §12.3): |theta * dL/dtheta|, summed as it is. The
 * paper's SNIP-Ti/S baseline; the reference's block method "taylor6". */
#include "proxy.h"

#include <math.h>

static double snip_saliency(double value, double grad) {
    return fabs(value * grad);
}

const Proxy PROXY_SNIP = {
    .name = "snip",
    .summary = "SNIP, sum of |w * dL/dw| (the ranking score of method.md 6.4)",
    .saliency = snip_saliency,
    .layer_normalised = false,
    .at_largest_width = false,
    .arch_value = NULL,
};

/* PreNAS's isomer proxy (method.md §6.3, paper Eq. 13): SNIP with each matrix normalised by
 * the L1 norms of its weights and gradients, read at the largest width. */
const Proxy PROXY_SNIP_LAYERNORM = {
    .name = "snip-layernorm",
    .summary = "SNIP normalised per layer matrix (PreNAS, method.md 6.3; the default)",
    .saliency = snip_saliency,
    .layer_normalised = true,
    .at_largest_width = true,
    .arch_value = NULL,
};
