#include "arch.h"

#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char ARCH_FORM[] = "expected E:D:h0,...,h(D-1):r0,...,r(D-1)";

/* Splits "a,b,c" into at most `max` items; returns the count, or -1 on a bad item. */
static int parse_list(char *text, int max, bool milli, int *out) {
    int n = 0;
    for (char *save = NULL, *item = strtok_r(text, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        if (n == max) return -1;
        long value;
        if (milli) {
            if (!parse_milli(item, &out[n])) return -1;
        } else {
            if (!parse_long(item, &value) || value < 1 || value > 1 << 20) return -1;
            out[n] = (int)value;
        }
        n++;
    }
    return n;
}

bool arch_parse(const char *text, Arch *arch, Error *err) {
    char copy[ARCH_TEXT_MAX];
    if (strlen(text) >= sizeof copy)
        return input_error(err, "architecture text longer than %d characters", ARCH_TEXT_MAX);
    strcpy(copy, text);
    int colons = 0;
    for (const char *p = copy; *p; p++) colons += *p == ':';
    if (colons != 3)
        return input_error(err, "architecture '%s': %d field(s), %s", text, colons + 1, ARCH_FORM);
    char *fields[4] = {copy};
    for (int i = 1; i < 4; i++) {
        fields[i] = strchr(fields[i - 1], ':');
        *fields[i]++ = '\0';
    }
    memset(arch, 0, sizeof *arch);
    long embed_dim, depth;
    if (!parse_long(fields[0], &embed_dim) || embed_dim < 1 || embed_dim > 1 << 16)
        return input_error(err, "architecture '%s': embed dim '%s' is not a positive integer", text,
                           fields[0]);
    if (!parse_long(fields[1], &depth) || depth < 1 || depth > SPACE_MAX_DEPTH)
        return input_error(err, "architecture '%s': depth '%s' is not an integer in [1, %d]", text,
                           fields[1], SPACE_MAX_DEPTH);
    arch->embed_dim = (int)embed_dim;
    arch->depth = (int)depth;
    int n_heads = parse_list(fields[2], SPACE_MAX_DEPTH, false, arch->num_heads);
    if (n_heads < 0)
        return input_error(err, "architecture '%s': head counts must be positive integers", text);
    int n_ratios = parse_list(fields[3], SPACE_MAX_DEPTH, true, arch->mlp_ratio);
    if (n_ratios < 0)
        return input_error(err,
                           "architecture '%s': MLP ratios must be positive decimals with at "
                           "most three decimals",
                           text);
    if (n_heads != arch->depth || n_ratios != arch->depth)
        return input_error(err, "architecture '%s': depth %d but %d head counts and %d MLP ratios",
                           text, arch->depth, n_heads, n_ratios);
    for (int l = 0; l < arch->depth; l++)
        if (arch->mlp_ratio[l] <= 0)
            return input_error(err, "architecture '%s': MLP ratio of layer %d is 0", text, l);
    return true;
}

void arch_format(const Arch *arch, char *buf, size_t size) {
    size_t used = 0;
    text_append(buf, size, &used, "%d:%d:", arch->embed_dim, arch->depth);
    for (int l = 0; l < arch->depth; l++)
        text_append(buf, size, &used, "%s%d", l ? "," : "", arch->num_heads[l]);
    text_append(buf, size, &used, ":");
    for (int l = 0; l < arch->depth; l++) {
        char ratio[32];
        format_milli(arch->mlp_ratio[l], ratio, sizeof ratio);
        text_append(buf, size, &used, "%s%s", l ? "," : "", ratio);
    }
}

bool arch_check(const Arch *arch, const Space *space, Error *err) {
    char text[ARCH_TEXT_MAX], allowed[256];
    arch_format(arch, text, sizeof text);
    const SpaceWidth *width = space_width(space, arch->embed_dim);
    if (!width) {
        size_t used = 0;
        for (int w = 0; w < space->n_widths; w++)
            used += (size_t)snprintf(allowed + used, sizeof allowed - used, "%s%d", w ? ", " : "",
                                     space->widths[w].embed_dim);
        return input_error(err,
                           "architecture %s: embed dim %d is not a choice of the space (%s), %s",
                           text, arch->embed_dim, allowed, space->source);
    }
    if (!choice_list_contains(&width->depths, arch->depth)) {
        choice_list_format(&width->depths, false, allowed, sizeof allowed);
        return input_error(err,
                           "architecture %s: depth %d is not a choice for embed dim %d (%s), %s",
                           text, arch->depth, arch->embed_dim, allowed, space->source);
    }
    for (int l = 0; l < arch->depth; l++) {
        if (!choice_list_contains(&width->num_heads[l], arch->num_heads[l])) {
            choice_list_format(&width->num_heads[l], false, allowed, sizeof allowed);
            return input_error(err, "architecture %s: layer %d has %d heads, not a choice (%s), %s",
                               text, l, arch->num_heads[l], allowed, space->source);
        }
        if (!choice_list_contains(&width->mlp_ratio[l], arch->mlp_ratio[l])) {
            char ratio[32];
            format_milli(arch->mlp_ratio[l], ratio, sizeof ratio);
            choice_list_format(&width->mlp_ratio[l], true, allowed, sizeof allowed);
            return input_error(err,
                               "architecture %s: layer %d has MLP ratio %s, not a choice (%s), %s",
                               text, l, ratio, allowed, space->source);
        }
    }
    return true;
}

bool arch_in_space(const Arch *arch, const Space *space) {
    const SpaceWidth *width = space_width(space, arch->embed_dim);
    if (!width || !choice_list_contains(&width->depths, arch->depth)) return false;
    for (int l = 0; l < arch->depth; l++)
        if (!choice_list_contains(&width->num_heads[l], arch->num_heads[l]) ||
            !choice_list_contains(&width->mlp_ratio[l], arch->mlp_ratio[l]))
            return false;
    return true;
}

bool arch_read_stored(const char *text, const Space *space, const char *path, Arch *arch,
                      Error *err) {
    Error cause = {0};
    if (arch_parse(text, arch, &cause) && (!space || arch_check(arch, space, &cause))) return true;
    return input_error(err, "%s, in %s", cause.message, path);
}

bool arch_equal(const Arch *a, const Arch *b) {
    if (a->embed_dim != b->embed_dim || a->depth != b->depth) return false;
    for (int l = 0; l < a->depth; l++)
        if (a->num_heads[l] != b->num_heads[l] || a->mlp_ratio[l] != b->mlp_ratio[l]) return false;
    return true;
}

int arch_qkv_dim(const Arch *arch, const Space *space, int layer) {
    return space->head_dim * arch->num_heads[layer];
}

int mlp_hidden_width(int embed_dim, int mlp_ratio) {
    /* thousandths / 1000.0 is correctly rounded, hence the same double as Python's float()
     * (strtod) of the ratio's text */
    return (int)((double)embed_dim * (mlp_ratio / 1000.0));
}

int arch_hidden_dim(const Arch *arch, int layer) {
    return mlp_hidden_width(arch->embed_dim, arch->mlp_ratio[layer]);
}

void arch_width_extreme(const SpaceWidth *width, bool largest, Arch *arch) {
    memset(arch, 0, sizeof *arch);
    arch->embed_dim = width->embed_dim;
    arch->depth = largest ? width->depths.values[width->depths.count - 1] : width->depths.values[0];
    for (int l = 0; l < arch->depth; l++) {
        const ChoiceList *heads = &width->num_heads[l], *ratios = &width->mlp_ratio[l];
        arch->num_heads[l] = largest ? heads->values[heads->count - 1] : heads->values[0];
        arch->mlp_ratio[l] = largest ? ratios->values[ratios->count - 1] : ratios->values[0];
    }
}

static void arch_extreme(const Space *space, Arch *arch, bool largest) {
    const SpaceWidth *pick = &space->widths[0];
    for (int w = 1; w < space->n_widths; w++)
        if ((space->widths[w].embed_dim > pick->embed_dim) == largest) pick = &space->widths[w];
    arch_width_extreme(pick, largest, arch);
}

void arch_smallest(const Space *space, Arch *arch) {
    arch_extreme(space, arch, false);
}

void arch_largest(const Space *space, Arch *arch) {
    arch_extreme(space, arch, true);
}

void arch_sample(const Space *space, Rng *rng, Arch *arch) {
    const SpaceWidth *width = &space->widths[rng_below(rng, (uint64_t)space->n_widths)];
    memset(arch, 0, sizeof *arch);
    arch->embed_dim = width->embed_dim;
    arch->depth = width->depths.values[rng_below(rng, (uint64_t)width->depths.count)];
    for (int l = 0; l < arch->depth; l++)
        arch->mlp_ratio[l] =
            width->mlp_ratio[l].values[rng_below(rng, (uint64_t)width->mlp_ratio[l].count)];
    for (int l = 0; l < arch->depth; l++)
        arch->num_heads[l] =
            width->num_heads[l].values[rng_below(rng, (uint64_t)width->num_heads[l].count)];
}
