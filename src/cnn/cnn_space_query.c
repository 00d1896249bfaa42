/* Questions about a CnnSpace already in memory (cnn_space.h). Kept apart from cnn_space.c,
 * the libconfig reader, so that they build without libconfig, as the ViT's space_query.c. */
#include "cnn_space.h"

#include "checksum.h"

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

static void print_choices(FILE *f, const char *key, const CnnChoices *choices) {
    char list[CNN_MAX_CHOICES * 8];
    cnn_choices_format(choices, list, sizeof list);
    fprintf(f, "%s [%s]\n", key, list);
}

void cnn_space_digest(const CnnSpace *space, char hex[SHA256_HEX_SIZE]) {
    /* every fact cnn_space_same_search compares, one per line */
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f) fatal_at(__FILE__, __LINE__, "open_memstream: %m");
    fprintf(f, "cnn\nin %d classes %d %s\n", space->in_channels, space->num_classes,
            cnn_activation_name(space->activation));
    print_choices(f, "resolution", &space->resolution);
    fprintf(f, "stem kernel %d stride %d\n", space->stem.kernel, space->stem.stride);
    print_choices(f, "stem channels", &space->stem.channels);
    for (int s = 0; s < space->n_stages; s++) {
        const CnnStageSpace *stage = &space->stages[s];
        fprintf(f, "stage %d stride %d se %d\n", s, stage->stride, stage->se);
        print_choices(f, "expand_ratio", &stage->expand_ratio);
        print_choices(f, "kernel", &stage->kernel);
        print_choices(f, "channels", &stage->channels);
        print_choices(f, "depth", &stage->depth);
    }
    print_choices(f, "head channels", &space->head_channels);
    if (fclose(f) != 0) fatal_at(__FILE__, __LINE__, "open_memstream: %m");
    sha256_text(text, hex);
    free(text);
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
