#include "isomer.h"

#include <stdlib.h>

typedef struct {
    int depth, n_choices;
    bool all;
    int bounds[SPACE_MAX_CHOICES];
    CountVector *out;
    size_t count, capacity;
} VectorWalk;

static void emit(VectorWalk *w) {
    if (w->count == w->capacity) {
        w->capacity = w->capacity ? 2 * w->capacity : 64;
        w->out = xrealloc(w->out, w->capacity * sizeof *w->out);
    }
    CountVector *v = &w->out[w->count++];
    int k_last = w->n_choices - 1;
    v->n_choices = w->n_choices;
    for (int k = 0; k <= k_last; k++) {
        int from = k == 0 ? 0 : w->bounds[k - 1];
        int to = k == k_last ? w->depth : w->bounds[k];
        v->counts[k] = to - from;
    }
}

static void walk(VectorWalk *w, int position, int start) {
    if (position == w->n_choices - 1) {
        emit(w);
        return;
    }
    for (int b = start; b <= w->depth; b++) {
        w->bounds[position] = b;
        walk(w, position + 1, w->all ? b : b + 1);
    }
}

size_t count_vectors(int depth, int n_choices, bool all, CountVector **out) {
    VectorWalk w = {.depth = depth, .n_choices = n_choices, .all = all};
    walk(&w, 0, 0);
    *out = w.out;
    return w.count;
}

static ArchTotals group_totals(const Space *space, const IsomerGroup *g) {
    ArchTotals t = {g->embed_dim, g->depth, 0, 0};
    for (int k = 0; k < g->heads.n_choices; k++)
        t.sum_qkv_dim +=
            (int64_t)g->heads.counts[k] * space->head_dim * space->choices.num_heads.values[k];
    for (int k = 0; k < g->ratios.n_choices; k++)
        t.sum_hidden += (int64_t)g->ratios.counts[k] *
                        mlp_hidden_width(g->embed_dim, space->choices.mlp_ratio.values[k]);
    return t;
}

bool isomer_groups(const Space *space, bool all_count_vectors, IsomerGroups *out, Error *err) {
    out->items = NULL;
    out->count = 0;
    if (!space->uniform)
        return input_error(err,
                           "isomer groups are defined for a space in the 'choices' form; this one "
                           "lists per-layer choices ('widths'), %s",
                           space->source);
    size_t capacity = 0;
    for (int e = 0; e < space->choices.embed_dim.count; e++) {
        for (int d = 0; d < space->choices.depth.count; d++) {
            int depth = space->choices.depth.values[d];
            CountVector *ratio_vectors, *head_vectors;
            size_t n_ratio = count_vectors(depth, space->choices.mlp_ratio.count, all_count_vectors,
                                           &ratio_vectors);
            size_t n_head = count_vectors(depth, space->choices.num_heads.count, all_count_vectors,
                                          &head_vectors);
            if (out->count + n_ratio * n_head > capacity) {
                capacity = 2 * (out->count + n_ratio * n_head);
                out->items = xrealloc(out->items, capacity * sizeof *out->items);
            }
            for (size_t i = 0; i < n_ratio; i++) {
                for (size_t j = 0; j < n_head; j++) {
                    IsomerGroup *g = &out->items[out->count++];
                    g->embed_dim = space->choices.embed_dim.values[e];
                    g->depth = depth;
                    g->ratios = ratio_vectors[i];
                    g->heads = head_vectors[j];
                    g->cost = cost_of_totals(space, group_totals(space, g));
                }
            }
            free(ratio_vectors);
            free(head_vectors);
        }
    }
    return true;
}

void isomer_groups_free(IsomerGroups *groups) {
    free(groups->items);
    groups->items = NULL;
    groups->count = 0;
}
