#ifndef PRENAS_PROXY_H
#define PRENAS_PROXY_H

/* Zero-cost proxies (method.md §6). A proxy is a per-weight saliency computed from the
 * randomly initialised supernet's weights and the gradient of one pass, plus two choices of
 * how the isomer allocation (§7) reads it. prenas-score tabulates every registered proxy;
 * prenas-select allocates isomers with one (--proxy) and ranks architectures of different
 * sizes with one (--rank-by). A new proxy is one file in src/search/proxies/ and one line in
 * proxy.c. */

#include "arch.h"
#include "space.h"

#include <stdbool.h>

typedef struct {
    const char *name;
    const char *summary; /* one line for --help */
    /* the saliency of one weight, from its value and its gradient */
    double (*saliency)(double value, double grad);
    /* §6.3: a matrix's contributions are divided by ||W||_1 ||G||_1 of that matrix (restricted
     * to the space's largest width), so lower layers' larger gradients do not dominate */
    bool layer_normalised;
    /* allocation reads the saliencies at the space's largest width for every candidate (the
     * reference's "max_dim") rather than at the candidate's own width */
    bool at_largest_width;
    /* ranking value of an architecture when it is not the sum of its saliencies (NULL) */
    double (*arch_value)(const Arch *arch, const Space *space);
} Proxy;

extern const Proxy PROXY_SNIP, PROXY_SNIP_LAYERNORM, PROXY_PARAMS;

/* Every registered proxy, in a fixed order; NULL-terminated. */
const Proxy *const *proxy_all(void);
const Proxy *proxy_find(const char *name); /* NULL if unknown */
/* "snip, snip-layernorm, params" for messages */
void proxy_names(char *buf, size_t size);

#endif
