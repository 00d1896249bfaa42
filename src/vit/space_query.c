/* Questions about a Space already in memory (space.h): its grid, widths and choice lists, and
 * whether two spaces agree. Kept apart from space.c, the libconfig reader, so that these build
 * without libconfig (the tier-1 device check, tests/device/, fills a Space in code). */
#include "space.h"

#include "text.h"

#include <stdio.h>
#include <string.h>

int space_grid_side(const Space *space) {
    return space->image_size / space->patch_size;
}

int space_num_patches(const Space *space) {
    return space_grid_side(space) * space_grid_side(space);
}

int space_num_tokens(const Space *space) {
    return space_num_patches(space) + 1;
}

const SpaceWidth *space_width(const Space *space, int embed_dim) {
    for (int w = 0; w < space->n_widths; w++)
        if (space->widths[w].embed_dim == embed_dim) return &space->widths[w];
    return NULL;
}

void choice_list_format(const ChoiceList *list, bool milli, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < list->count && used + 1 < size; i++) {
        char value[32];
        if (milli)
            format_milli(list->values[i], value, sizeof value);
        else
            snprintf(value, sizeof value, "%d", list->values[i]);
        int n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", value);
        used += n > 0 ? (size_t)n : 0;
    }
}

bool choice_list_contains(const ChoiceList *list, int value) {
    for (int i = 0; i < list->count; i++)
        if (list->values[i] == value) return true;
    return false;
}

bool space_same_supernet(const Space *a, const Space *b) {
    return a->image_size == b->image_size && a->patch_size == b->patch_size &&
           a->in_channels == b->in_channels && a->num_classes == b->num_classes &&
           a->head_dim == b->head_dim && a->max_relative_position == b->max_relative_position &&
           a->class_token_pooling == b->class_token_pooling &&
           memcmp(&a->supernet, &b->supernet, sizeof a->supernet) == 0;
}

bool space_same_search(const Space *a, const Space *b) {
    if (!space_same_supernet(a, b) || a->uniform != b->uniform || a->n_widths != b->n_widths)
        return false;
    for (int w = 0; w < a->n_widths; w++) {
        const SpaceWidth *x = &a->widths[w], *y = &b->widths[w];
        if (x->embed_dim != y->embed_dim || x->n_layers != y->n_layers ||
            memcmp(&x->depths, &y->depths, sizeof x->depths) != 0)
            return false;
        for (int l = 0; l < x->n_layers; l++)
            if (memcmp(&x->num_heads[l], &y->num_heads[l], sizeof x->num_heads[l]) != 0 ||
                memcmp(&x->mlp_ratio[l], &y->mlp_ratio[l], sizeof x->mlp_ratio[l]) != 0)
                return false;
    }
    return true;
}
