/* Parameter count as a proxy (the paper's App. A baseline): every weight counts 1, so within
 * an isomer group all allocations tie (the later layers get the larger choices), and across
 * sizes the exact count of method.md §4.1 ranks. */
#include "cost.h"
#include "proxy.h"

static double one(double value, double grad) {
    (void)value;
    (void)grad;
    return 1;
}

static double exact_params(const Arch *arch, const Space *space) {
    return (double)arch_cost(arch, space).params;
}

const Proxy PROXY_PARAMS = {
    .name = "params",
    .summary = "parameter count (App. A baseline; isomers tie)",
    .saliency = one,
    .layer_normalised = false,
    .at_largest_width = false,
    .arch_value = exact_params,
};
