#include "cnn_cost.h"

int cnn_se_channels(int in_channels) {
    return in_channels / 4 > 1 ? in_channels / 4 : 1;
}

/* A conv with batch norm (no bias): its weight and BN's weight and bias; MACs on an output
 * side of `side`. */
static void conv_bn(CnnCost *cost, int64_t side, int64_t in, int64_t out, int64_t kernel,
                    int64_t groups) {
    const int64_t weights = out * (in / groups) * kernel * kernel;
    cost->params += weights + 2 * out;
    cost->macs += side * side * weights;
}

static void mbconv(CnnCost *cost, const CnnStageSpace *stage, const CnnStageArch *a,
                   int64_t in_side, int64_t out_side, int64_t in) {
    const int64_t mid = in * a->expand_ratio;
    if (a->expand_ratio > 1) conv_bn(cost, in_side, in, mid, 1, 1);
    conv_bn(cost, out_side, mid, mid, a->kernel, mid);
    if (stage->se) {
        const int64_t se = cnn_se_channels((int)in);
        cost->params += mid * se + se + se * mid + mid;
        cost->macs += 2 * mid * se;
    }
    conv_bn(cost, out_side, mid, a->channels, 1, 1);
}

CnnCost cnn_arch_cost(const CnnArch *arch, const CnnSpace *space) {
    CnnCost cost = {0, 0, 0};
    int64_t side = cnn_conv_side(arch->resolution, space->stem.stride);
    int64_t channels = arch->stem_channels;
    conv_bn(&cost, side, space->in_channels, channels, space->stem.kernel, 1);
    for (int s = 0; s < arch->n_stages; s++) {
        const CnnStageArch *a = &arch->stages[s];
        for (int l = 0; l < a->depth; l++) {
            const int64_t out_side =
                l == 0 ? cnn_conv_side((int)side, space->stages[s].stride) : side;
            mbconv(&cost, &space->stages[s], a, side, out_side, channels);
            side = out_side;
            channels = a->channels;
        }
    }
    conv_bn(&cost, side, channels, arch->head_channels, 1, 1);
    cost.params += (int64_t)arch->head_channels * space->num_classes + space->num_classes;
    cost.macs += (int64_t)arch->head_channels * space->num_classes;
    cost.flops = cost.macs;
    return cost;
}
