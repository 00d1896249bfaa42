/* Questions about a CnnSpace already in memory (cnn_space.h). Kept apart from cnn_space.c,
 * the libconfig reader, so that they build without libconfig, as the ViT's space_query.c. */
#include "cnn_space.h"

#include <stdio.h>

double cnn_space_count(const CnnSpace *space) {
    double n =
        (double)space->resolution.count * space->stem.channels.count * space->head_channels.count;
    for (int s = 0; s < space->n_stages; s++) {
        const CnnStageSpace *stage = &space->stages[s];
        n *= (double)stage->expand_ratio.count * stage->kernel.count * stage->channels.count *
             stage->depth.count;
    }
    return n;
}

int cnn_conv_side(int side, int stride) {
    /* floor((side + 2 (k/2) - k) / s) + 1 for odd k */
    return (side + stride - 1) / stride;
}

const char *cnn_activation_name(CnnActivation activation) {
    return activation == CNN_RELU6 ? "relu6" : "swish";
}

int cnn_group_of(const CnnGroups *groups, int64_t flops) {
    for (int g = 0; g < groups->count; g++)
        if (flops >= groups->lo[g] && flops <= groups->hi[g]) return g;
    return -1;
}

bool cnn_choices_contain(const CnnChoices *choices, int value) {
    for (int i = 0; i < choices->count; i++)
        if (choices->values[i] == value) return true;
    return false;
}

void cnn_choices_format(const CnnChoices *choices, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < choices->count && used + 1 < size; i++) {
        int n = snprintf(buf + used, size - used, "%s%d", i ? ", " : "", choices->values[i]);
        used += n > 0 ? (size_t)n : 0;
    }
}
