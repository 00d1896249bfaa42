/* Questions about a CnnSpace already in memory (cnn_space.h). Kept apart from cnn_space.c,
 * the libconfig reader, so that they build without libconfig, as the ViT's space_query.c. */
#include "cnn_space.h"

#include <stdio.h>
#include <stdlib.h>

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

static bool same_choices(const CnnChoices *a, const CnnChoices *b) {
    if (a->count != b->count) return false;
    for (int i = 0; i < a->count; i++)
        if (a->values[i] != b->values[i]) return false;
    return true;
}

bool cnn_space_same_search(const CnnSpace *a, const CnnSpace *b) {
    bool same = a->in_channels == b->in_channels && a->num_classes == b->num_classes &&
                a->activation == b->activation && same_choices(&a->resolution, &b->resolution) &&
                same_choices(&a->stem.channels, &b->stem.channels) &&
                a->stem.kernel == b->stem.kernel && a->stem.stride == b->stem.stride &&
                a->n_stages == b->n_stages && same_choices(&a->head_channels, &b->head_channels);
    for (int s = 0; same && s < a->n_stages; s++) {
        const CnnStageSpace *x = &a->stages[s], *y = &b->stages[s];
        same = same_choices(&x->expand_ratio, &y->expand_ratio) &&
               same_choices(&x->kernel, &y->kernel) && same_choices(&x->channels, &y->channels) &&
               same_choices(&x->depth, &y->depth) && x->stride == y->stride && x->se == y->se;
    }
    return same;
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
