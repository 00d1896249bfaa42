/* Reading a CNN search space from libconfig text (cnn_space.h); the questions about a loaded
 * space are in cnn_space_query.c, which builds without libconfig. */
#include "cnn_space.h"

#include "checksum.h"
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static bool choices(CfgReader *r, const config_setting_t *group, const char *key, int min, int max,
                    CnnChoices *out) {
    const config_setting_t *s =
        cfg_member(r, group, key, CONFIG_TYPE_ARRAY, "an array like [1, 2]");
    return s && cfg_ascending_ints(r, s, min, max, CNN_MAX_CHOICES, out->values, &out->count);
}

/* Padding k/2 keeps a side at stride 1 only for odd k (an even one would grow it by one). */
static bool odd_kernel(CfgReader *r, const config_setting_t *s, int kernel) {
    return kernel % 2 == 1 ||
           cfg_fail(r, s, "kernel %d is even: padding k/2 keeps the side for odd kernels only",
                    kernel);
}

static bool read_stem(CfgReader *r, const config_setting_t *root, CnnSpace *sp) {
    static const char *const keys[] = {"channels", "kernel", "stride", NULL};
    const config_setting_t *g = cfg_member(r, root, "stem", CONFIG_TYPE_GROUP, "a group { ... }");
    return g && cfg_check_keys(r, g, keys) &&
           choices(r, g, "channels", 1, CNN_MAX_CHANNELS, &sp->stem.channels) &&
           cfg_int(r, g, "kernel", 1, CNN_MAX_KERNEL, &sp->stem.kernel) &&
           odd_kernel(r, config_setting_get_member(g, "kernel"), sp->stem.kernel) &&
           cfg_int(r, g, "stride", 1, CNN_MAX_STRIDE, &sp->stem.stride);
}

static bool read_stage(CfgReader *r, const config_setting_t *g, CnnStageSpace *stage) {
    static const char *const keys[] = {"expand_ratio", "kernel", "channels", "depth",
                                       "stride",       "se",     NULL};
    if (config_setting_type(g) != CONFIG_TYPE_GROUP)
        return cfg_fail(r, g, "expected a group { expand_ratio = [..]; kernel = [..]; ... }");
    if (!cfg_check_keys(r, g, keys) ||
        !choices(r, g, "expand_ratio", 1, CNN_MAX_EXPAND, &stage->expand_ratio) ||
        !choices(r, g, "kernel", 1, CNN_MAX_KERNEL, &stage->kernel))
        return false;
    for (int i = 0; i < stage->kernel.count; i++)
        if (!odd_kernel(r, config_setting_get_member(g, "kernel"), stage->kernel.values[i]))
            return false;
    stage->se = false;
    return choices(r, g, "channels", 1, CNN_MAX_CHANNELS, &stage->channels) &&
           choices(r, g, "depth", 1, CNN_MAX_DEPTH, &stage->depth) &&
           cfg_int(r, g, "stride", 1, CNN_MAX_STRIDE, &stage->stride) &&
           cfg_bool_or(r, g, "se", &stage->se);
}

static bool read_stages(CfgReader *r, const config_setting_t *root, CnnSpace *sp) {
    const config_setting_t *list =
        cfg_member(r, root, "stages", CONFIG_TYPE_LIST, "a list of groups ( { ... }, ... )");
    if (!list) return false;
    const int n = config_setting_length(list);
    if (n < 1 || n > CNN_MAX_STAGES)
        return cfg_fail(r, list, "%d stages (expected 1 to %d)", n, CNN_MAX_STAGES);
    sp->n_stages = n;
    for (int s = 0; s < n; s++)
        if (!read_stage(r, config_setting_get_elem(list, (unsigned)s), &sp->stages[s]))
            return false;
    return true;
}

static bool read_head(CfgReader *r, const config_setting_t *root, CnnSpace *sp) {
    static const char *const keys[] = {"channels", NULL};
    const config_setting_t *g = cfg_member(r, root, "head", CONFIG_TYPE_GROUP, "a group { ... }");
    return g && cfg_check_keys(r, g, keys) &&
           choices(r, g, "channels", 1, CNN_MAX_CHANNELS, &sp->head_channels);
}

/* The optional FLOPs groups (cnn_space.h): targets in MFLOPs, strictly ascending, bands that
 * do not overlap. */
static bool read_groups(CfgReader *r, const config_setting_t *root, CnnSpace *sp) {
    static const char *const keys[] = {"flops", "tolerance", NULL};
    if (!config_setting_get_member(root, "groups")) return true;
    const config_setting_t *g = cfg_group_or(r, root, "groups");
    if (!g) return false;
    CnnGroups *out = &sp->groups;
    if (!cfg_check_keys(r, g, keys) || !cfg_real(r, g, "tolerance", 0, 0.5, &out->tolerance))
        return false;
    const config_setting_t *s = cfg_member(r, g, "flops", CONFIG_TYPE_ARRAY, "an array");
    if (!s) return false;
    const int n = config_setting_length(s);
    if (n < 1 || n > CNN_MAX_GROUPS)
        return cfg_fail(r, s, "%d groups (expected 1 to %d)", n, CNN_MAX_GROUPS);
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const int type = config_setting_type(e);
        if (type != CONFIG_TYPE_FLOAT && type != CONFIG_TYPE_INT)
            return cfg_fail(r, s, "expected numbers (MFLOPs)");
        const double t = cfg_number(e);
        if (!(t > 0 && t <= 1e9)) return cfg_fail(r, s, "%g MFLOPs is outside (0, 1e9]", t);
        out->target[i] = t;
        out->lo[i] = llround(t * (1 - out->tolerance) * 1e6);
        out->hi[i] = llround(t * (1 + out->tolerance) * 1e6);
        if (i > 0 && out->lo[i] <= out->hi[i - 1])
            return cfg_fail(r, s,
                            "groups %g and %g: each band must lie above the previous one "
                            "(ascending, apart at tolerance %g), so that an architecture is in "
                            "at most one",
                            out->target[i - 1], t, out->tolerance);
    }
    out->count = n;
    return true;
}

/* A ViT file given where a CNN space is needed says so, rather than failing at its keys:
 * read before them. */
static bool read_family(CfgReader *r, const config_setting_t *root) {
    ModelFamily family = FAMILY_VIT;
    const config_setting_t *key = config_setting_get_member(root, "family");
    if (!key)
        return input_error(r->err,
                           "missing key 'family': a CNN space says family = \"cnn\" (without "
                           "it, a ViT space), %s",
                           r->origin);
    if (!cfg_family(r, root, &family)) return false;
    return family == FAMILY_CNN || cfg_fail(r, key, "a ViT space, where a CNN space is needed");
}

static bool read_space(CfgReader *r, const config_setting_t *root, void *out) {
    CnnSpace *sp = out;
    static const char *const keys[] = {"family",     "name",       "in_channels", "num_classes",
                                       "activation", "resolution", "stem",        "stages",
                                       "head",       "groups",     NULL};
    static const char *const activations[] = {"swish", "relu6", NULL};
    if (!read_family(r, root) || !cfg_check_keys(r, root, keys)) return false;
    const config_setting_t *name = cfg_member(r, root, "name", CONFIG_TYPE_STRING, "a string");
    if (!name) return false;
    snprintf(sp->name, sizeof sp->name, "%s", config_setting_get_string(name));
    int activation = CNN_SWISH;
    if (!cfg_int(r, root, "in_channels", 1, CNN_MAX_IN_CHANNELS, &sp->in_channels) ||
        !cfg_int(r, root, "num_classes", 2, 1 << 20, &sp->num_classes) ||
        !cfg_choice_or(r, root, "activation", activations, &activation) ||
        !choices(r, root, "resolution", 1, CNN_MAX_RESOLUTION, &sp->resolution))
        return false;
    sp->activation = activation == 1 ? CNN_RELU6 : CNN_SWISH;
    return read_stem(r, root, sp) && read_stages(r, root, sp) && read_head(r, root, sp) &&
           read_groups(r, root, sp);
}

CnnSpace *cnn_space_load_text(const char *text, const char *origin, Error *err) {
    CnnSpace *sp = xcalloc(1, sizeof *sp);
    snprintf(sp->source, sizeof sp->source, "%s", origin);
    if (!cfg_read_text(text, sp->source, read_space, sp, err)) {
        free(sp);
        return NULL;
    }
    sp->text = xstrdup(text);
    return sp;
}

CnnSpace *cnn_space_load_file(const char *path, Error *err) {
    char *text = cfg_read_file(path, "space configuration", err);
    CnnSpace *sp = text ? cnn_space_load_text(text, path, err) : NULL;
    free(text);
    return sp;
}

CnnSpace *cnn_space_recorded(const char *text, const char *origin, const char *config_path,
                             const char *made, Error *err) {
    CnnSpace *recorded = cnn_space_load_text(text, origin, err);
    if (!recorded || !config_path) return recorded;
    CnnSpace *given = cnn_space_load_file(config_path, err);
    if (given && !cnn_space_same_search(given, recorded)) {
        input_error(err, "%s for the space '%s' recorded in %s, not for %s", made, recorded->name,
                    origin, config_path);
        cnn_space_free(given);
        given = NULL;
    }
    cnn_space_free(recorded);
    return given;
}

void cnn_space_free(CnnSpace *space) {
    if (!space) return;
    free(space->text);
    free(space);
}

static void print_choices(FILE *f, const char *key, const CnnChoices *choices) {
    char list[CNN_MAX_CHOICES * 8];
    cnn_choices_format(choices, list, sizeof list);
    fprintf(f, "%s [%s]\n", key, list);
}

/* Here, not in cnn_space_query.c: the digest needs OpenSSL, which the GPU machine's tier-1
 * build of the engine lacks (tests/device/CMakeLists.txt). */
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
