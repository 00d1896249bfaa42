#include "arch_list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether the ViT supernet has the slices `a` uses (method.md §3.4). */
static bool vit_fits(const Arch *a, const Space *space, Error *err) {
    const SupernetShape *s = &space->supernet;
    const int hidden = mlp_hidden_width(s->embed_dim, s->mlp_ratio);
    if (a->embed_dim > s->embed_dim || a->depth > s->depth)
        return input_error(err, "width %d or depth %d beyond the supernet's %d x %d", a->embed_dim,
                           a->depth, s->embed_dim, s->depth);
    for (int l = 0; l < a->depth; l++)
        if (a->num_heads[l] > s->num_heads || arch_hidden_dim(a, l) > hidden)
            return input_error(err, "layer %d has more heads or a wider MLP than the supernet's",
                               l);
    return true;
}

/* One line's architecture, checked against the space as arch_list_read says. */
static bool parse_listed(const char *text, const ModelSpace *space, ModelArch *arch, Error *err) {
    if (space->family == FAMILY_CNN) return model_arch_parse(text, space, arch, err);
    memset(arch, 0, sizeof *arch);
    arch->family = FAMILY_VIT;
    return arch_parse(text, &arch->vit, err) && vit_fits(&arch->vit, space->vit, err);
}

bool arch_list_read(const char *path, const ModelSpace *space, ModelArch **archs, int *n,
                    Error *err) {
    *archs = NULL, *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) return input_error(err, "cannot open the architecture list: %m, %s", path);
    int capacity = 0;
    char line[4096];
    bool ok = true;
    for (int number = 1; ok && fgets(line, sizeof line, f); number++) {
        line[strcspn(line, "#\r\n")] = '\0';
        char *text = line + strspn(line, " \t");
        for (size_t len = strlen(text); len && (text[len - 1] == ' ' || text[len - 1] == '\t');)
            text[--len] = '\0';
        if (!*text) continue;
        ModelArch arch;
        Error line_err = {0};
        if (!parse_listed(text, space, &arch, &line_err)) {
            ok = input_error(err, "%s, %s:%d", line_err.message, path, number);
            break;
        }
        bool seen = false;
        for (int i = 0; i < *n && !seen; i++) seen = model_arch_equal(&(*archs)[i], &arch);
        if (seen) continue;
        if (*n == capacity) {
            capacity = capacity ? 2 * capacity : 64;
            *archs = xrealloc(*archs, sizeof **archs * (size_t)capacity);
        }
        (*archs)[(*n)++] = arch;
    }
    fclose(f);
    if (ok && *n == 0) ok = input_error(err, "no architecture in the list, %s", path);
    if (!ok) free(*archs), *archs = NULL, *n = 0;
    return ok;
}
