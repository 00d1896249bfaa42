#include "space.h"

#include "arch.h"
#include "config.h"
#include "sorted.h"
#include "text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool milli_in_range(CfgReader *r, const config_setting_t *s, int *out) {
    int type = config_setting_type(s);
    if (type != CONFIG_TYPE_FLOAT && type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
        return cfg_fail(r, s, "expected a number");
    if (!milli_from_double(cfg_number(s), out) || *out <= 0 || *out > 64000)
        return cfg_fail(r, s, "%g is not a ratio in (0, 64] with at most three decimals",
                        cfg_number(s));
    return true;
}

/* An array of numbers, non-empty and strictly ascending. */
static bool choice_list(CfgReader *r, const config_setting_t *s, bool milli, int min, int max,
                        ChoiceList *out) {
    if (config_setting_type(s) != CONFIG_TYPE_ARRAY)
        return cfg_fail(r, s, "expected an array like [1, 2]");
    int n = config_setting_length(s);
    if (n == 0) return cfg_fail(r, s, "the list of choices is empty");
    if (n > SPACE_MAX_CHOICES) return cfg_fail(r, s, "more than %d choices", SPACE_MAX_CHOICES);
    out->count = n;
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        if (milli ? !milli_in_range(r, e, &out->values[i])
                  : !cfg_int_in_range(r, e, min, max, &out->values[i]))
            return false;
        if (i > 0 && out->values[i] <= out->values[i - 1])
            return cfg_fail(r, s, "choices must be strictly ascending");
    }
    return true;
}

static bool get_choice_list(CfgReader *r, const config_setting_t *group, const char *key,
                            bool milli, int min, int max, ChoiceList *out) {
    const config_setting_t *s =
        cfg_member(r, group, key, CONFIG_TYPE_ARRAY, "an array like [1, 2]");
    return s && choice_list(r, s, milli, min, max, out);
}

/* ---- the space ---- */

static bool read_supernet(CfgReader *r, const config_setting_t *root, Space *sp) {
    static const char *const keys[] = {"embed_dim", "depth", "num_heads", "mlp_ratio", NULL};
    const config_setting_t *g =
        cfg_member(r, root, "supernet", CONFIG_TYPE_GROUP, "a group { ... }");
    if (!g || !cfg_check_keys(r, g, keys)) return false;
    SupernetShape *s = &sp->supernet;
    if (!cfg_int(r, g, "embed_dim", 1, 1 << 16, &s->embed_dim) ||
        !cfg_int(r, g, "depth", 1, SPACE_MAX_DEPTH, &s->depth) ||
        !cfg_int(r, g, "num_heads", 1, 1024, &s->num_heads))
        return false;
    const config_setting_t *ratio = cfg_member(r, g, "mlp_ratio", CONFIG_TYPE_FLOAT, "a number");
    if (!ratio || !milli_in_range(r, ratio, &s->mlp_ratio)) return false;
    if (s->embed_dim != sp->head_dim * s->num_heads)
        return cfg_fail(r, g,
                        "embed_dim %d must equal head_dim x num_heads = %d x %d: the q/k/v rows "
                        "of the supernet are its heads",
                        s->embed_dim, sp->head_dim, s->num_heads);
    return true;
}

static void fill_uniform_widths(Space *sp) {
    int deepest = sp->choices.depth.values[sp->choices.depth.count - 1];
    sp->n_widths = sp->choices.embed_dim.count;
    for (int w = 0; w < sp->n_widths; w++) {
        SpaceWidth *width = &sp->widths[w];
        width->embed_dim = sp->choices.embed_dim.values[w];
        width->depths = sp->choices.depth;
        width->n_layers = deepest;
        for (int l = 0; l < deepest; l++) {
            width->num_heads[l] = sp->choices.num_heads;
            width->mlp_ratio[l] = sp->choices.mlp_ratio;
        }
    }
}

static bool read_choices(CfgReader *r, const config_setting_t *g, Space *sp) {
    static const char *const keys[] = {"embed_dim", "depth", "num_heads", "mlp_ratio", NULL};
    if (!cfg_check_keys(r, g, keys) ||
        !get_choice_list(r, g, "embed_dim", false, 1, 1 << 16, &sp->choices.embed_dim) ||
        !get_choice_list(r, g, "depth", false, 1, SPACE_MAX_DEPTH, &sp->choices.depth) ||
        !get_choice_list(r, g, "num_heads", false, 1, 1024, &sp->choices.num_heads) ||
        !get_choice_list(r, g, "mlp_ratio", true, 0, 0, &sp->choices.mlp_ratio))
        return false;
    sp->uniform = true;
    fill_uniform_widths(sp);
    return true;
}

/* A list of per-layer arrays: ( [3, 4], [4], ... ). */
static bool per_layer_lists(CfgReader *r, const config_setting_t *g, const char *key, bool milli,
                            int n_layers, ChoiceList *out) {
    const config_setting_t *s =
        cfg_member(r, g, key, CONFIG_TYPE_LIST, "a list of arrays ( [..], .. )");
    if (!s) return false;
    if (config_setting_length(s) != n_layers)
        return cfg_fail(r, s, "%d per-layer lists for a largest depth of %d",
                        config_setting_length(s), n_layers);
    for (int l = 0; l < n_layers; l++)
        if (!choice_list(r, config_setting_get_elem(s, (unsigned)l), milli, 1, 1024, &out[l]))
            return false;
    return true;
}

static bool read_widths(CfgReader *r, const config_setting_t *list, Space *sp) {
    static const char *const keys[] = {"embed_dim", "depth", "num_heads", "mlp_ratio", NULL};
    int n = config_setting_length(list);
    if (n == 0) return cfg_fail(r, list, "no widths");
    if (n > SPACE_MAX_CHOICES) return cfg_fail(r, list, "more than %d widths", SPACE_MAX_CHOICES);
    sp->n_widths = n;
    for (int w = 0; w < n; w++) {
        const config_setting_t *g = config_setting_get_elem(list, (unsigned)w);
        if (config_setting_type(g) != CONFIG_TYPE_GROUP)
            return cfg_fail(r, g, "expected a group { embed_dim = ..; ... }");
        SpaceWidth *width = &sp->widths[w];
        if (!cfg_check_keys(r, g, keys) ||
            !cfg_int(r, g, "embed_dim", 1, 1 << 16, &width->embed_dim) ||
            !get_choice_list(r, g, "depth", false, 1, SPACE_MAX_DEPTH, &width->depths))
            return false;
        for (int v = 0; v < w; v++)
            if (sp->widths[v].embed_dim == width->embed_dim)
                return cfg_fail(r, g, "embed_dim %d appears twice", width->embed_dim);
        width->n_layers = width->depths.values[width->depths.count - 1];
        if (!per_layer_lists(r, g, "num_heads", false, width->n_layers, width->num_heads) ||
            !per_layer_lists(r, g, "mlp_ratio", true, width->n_layers, width->mlp_ratio))
            return false;
    }
    sp->uniform = false;
    return true;
}

/* Every choice must fit inside the supernet's tensors (method.md §3.2, §3.4). */
static bool check_fits_supernet(CfgReader *r, const config_setting_t *where, const Space *sp) {
    const SupernetShape *s = &sp->supernet;
    const int super_hidden = mlp_hidden_width(s->embed_dim, s->mlp_ratio);
    for (int w = 0; w < sp->n_widths; w++) {
        const SpaceWidth *width = &sp->widths[w];
        if (width->embed_dim > s->embed_dim)
            return cfg_fail(r, where, "embed_dim %d exceeds the supernet's %d", width->embed_dim,
                            s->embed_dim);
        if (width->n_layers > s->depth)
            return cfg_fail(r, where, "depth %d exceeds the supernet's %d", width->n_layers,
                            s->depth);
        for (int l = 0; l < width->n_layers; l++) {
            const ChoiceList *heads = &width->num_heads[l], *ratios = &width->mlp_ratio[l];
            if (heads->values[heads->count - 1] > s->num_heads)
                return cfg_fail(r, where, "%d heads exceed the supernet's %d",
                                heads->values[heads->count - 1], s->num_heads);
            /* widths grow with the ratio: the largest and smallest ratios bound them */
            const int hidden =
                mlp_hidden_width(width->embed_dim, ratios->values[ratios->count - 1]);
            if (hidden > super_hidden)
                return cfg_fail(r, where, "MLP width %d (embed_dim %d) exceeds the supernet's %d",
                                hidden, width->embed_dim, super_hidden);
            if (mlp_hidden_width(width->embed_dim, ratios->values[0]) < 1)
                return cfg_fail(r, where, "MLP width 0 at embed_dim %d", width->embed_dim);
        }
    }
    return true;
}

static bool read_data_free(CfgReader *r, const config_setting_t *root, Space *sp) {
    static const char *const keys[] = {"mean", "std", NULL};
    const config_setting_t *g =
        cfg_member(r, root, "data_free", CONFIG_TYPE_GROUP, "a group { ... }");
    if (!g || !cfg_check_keys(r, g, keys)) return false;
    const char *names[2] = {"mean", "std"};
    double *targets[2] = {sp->data_free_mean, sp->data_free_std};
    for (int k = 0; k < 2; k++) {
        const config_setting_t *s = cfg_member(r, g, names[k], CONFIG_TYPE_ARRAY, "an array");
        if (!s) return false;
        if (config_setting_length(s) != sp->in_channels)
            return cfg_fail(r, s, "%d values for %d input channels", config_setting_length(s),
                            sp->in_channels);
        for (int c = 0; c < sp->in_channels; c++) {
            const config_setting_t *e = config_setting_get_elem(s, (unsigned)c);
            int type = config_setting_type(e);
            if (type != CONFIG_TYPE_FLOAT && type != CONFIG_TYPE_INT)
                return cfg_fail(r, s, "expected numbers");
            targets[k][c] = cfg_number(e);
            if (k == 1 && !(targets[k][c] > 0)) return cfg_fail(r, s, "std must be positive");
        }
    }
    return true;
}

/* One budget's intervals; `unit` converts the file's numbers (millions, G) to whole units so
 * that binning is exact. */
static bool read_interval_spec(CfgReader *r, const config_setting_t *g, const char *key,
                               double unit, bool required, IntervalSpec *out) {
    static const char *const keys[] = {"min", "max", "width", NULL};
    if (!required && !config_setting_get_member(g, key)) return true;
    const config_setting_t *p = cfg_member(r, g, key, CONFIG_TYPE_GROUP, "a group { ... }");
    double min, max, width;
    if (!p || !cfg_check_keys(r, p, keys) || !cfg_real(r, p, "min", 0, 1e9, &min) ||
        !cfg_real(r, p, "max", 0, 1e9, &max) || !cfg_real(r, p, "width", 0, 1e9, &width))
        return false;
    *out = (IntervalSpec){true, llround(min * unit), llround(max * unit), llround(width * unit)};
    if (out->width <= 0) return cfg_fail(r, p, "width must be positive");
    if (out->min >= out->max) return cfg_fail(r, p, "min (%g) must be below max (%g)", min, max);
    return true;
}

static bool read_intervals(CfgReader *r, const config_setting_t *root, Space *sp) {
    static const char *const keys[] = {"params", "flops", "macs", NULL};
    const config_setting_t *g =
        cfg_member(r, root, "intervals", CONFIG_TYPE_GROUP, "a group { ... }");
    return g && cfg_check_keys(r, g, keys) &&
           read_interval_spec(r, g, "params", 1e6, true, &sp->param_intervals) &&
           read_interval_spec(r, g, "flops", 1e9, false, &sp->flops_intervals) &&
           read_interval_spec(r, g, "macs", 1e9, false, &sp->macs_intervals);
}

static bool read_space(CfgReader *r, const config_setting_t *root, void *out) {
    Space *sp = out;
    static const char *const keys[] = {
        "family",      "name",        "image_size", "patch_size",
        "in_channels", "num_classes", "head_dim",   "max_relative_position",
        "pooling",     "supernet",    "choices",    "widths",
        "data_free",   "intervals",   NULL};
    ModelFamily family = FAMILY_VIT;
    /* the family first: a CNN file's other keys are no ViT's */
    if (!cfg_family(r, root, &family)) return false;
    if (family != FAMILY_VIT)
        return cfg_fail(
            r, config_setting_get_member(root, "family"),
            "a CNN space, where a ViT space is needed (prenas-analyze and prenas-bench-step take "
            "ViT spaces only)");
    if (!cfg_check_keys(r, root, keys)) return false;
    const config_setting_t *name = cfg_member(r, root, "name", CONFIG_TYPE_STRING, "a string");
    if (!name) return false;
    snprintf(sp->name, sizeof sp->name, "%s", config_setting_get_string(name));
    if (!cfg_int(r, root, "image_size", 1, 1 << 14, &sp->image_size) ||
        !cfg_int(r, root, "patch_size", 1, 1 << 14, &sp->patch_size) ||
        !cfg_int(r, root, "in_channels", 1, SPACE_MAX_CHANNELS, &sp->in_channels) ||
        !cfg_int(r, root, "num_classes", 2, 1 << 20, &sp->num_classes) ||
        !cfg_int(r, root, "head_dim", 1, 1024, &sp->head_dim) ||
        !cfg_int(r, root, "max_relative_position", 1, 1 << 12, &sp->max_relative_position))
        return false;
    const config_setting_t *pooling = config_setting_get_member(root, "pooling");
    if (pooling) {
        const char *mode = config_setting_type(pooling) == CONFIG_TYPE_STRING
                               ? config_setting_get_string(pooling)
                               : "";
        if (strcmp(mode, "mean") != 0 && strcmp(mode, "class") != 0)
            return cfg_fail(r, pooling,
                            "expected \"mean\" (patch tokens, the reference's --gp) or "
                            "\"class\" (the class token)");
        sp->class_token_pooling = strcmp(mode, "class") == 0;
    }
    if (sp->image_size % sp->patch_size != 0)
        return cfg_fail(r, config_setting_get_member(root, "patch_size"),
                        "image_size %d is not a multiple of patch_size %d", sp->image_size,
                        sp->patch_size);
    if (!read_supernet(r, root, sp)) return false;

    const config_setting_t *choices = config_setting_get_member(root, "choices");
    const config_setting_t *widths = config_setting_get_member(root, "widths");
    if ((choices != NULL) == (widths != NULL))
        return cfg_fail(r, choices ? choices : root,
                        "give exactly one of 'choices' (a whole space) or 'widths' (a refined "
                        "per-width, per-layer space)");
    if (choices) {
        if (config_setting_type(choices) != CONFIG_TYPE_GROUP)
            return cfg_fail(r, choices, "expected a group { ... }");
        if (!read_choices(r, choices, sp)) return false;
    } else {
        if (config_setting_type(widths) != CONFIG_TYPE_LIST)
            return cfg_fail(r, widths, "expected a list of groups ( { ... }, ... )");
        if (!read_widths(r, widths, sp)) return false;
    }
    return check_fits_supernet(r, choices ? choices : widths, sp) && read_data_free(r, root, sp) &&
           read_intervals(r, root, sp);
}

Space *space_load_text(const char *text, const char *origin, Error *err) {
    Space *sp = xcalloc(1, sizeof *sp);
    snprintf(sp->source, sizeof sp->source, "%s", origin);
    if (!cfg_read_text(text, sp->source, read_space, sp, err)) {
        free(sp);
        return NULL;
    }
    sp->text = xstrdup(text);
    return sp;
}

Space *space_load_file(const char *path, Error *err) {
    char *text = cfg_read_file(path, "space configuration", err);
    Space *sp = text ? space_load_text(text, path, err) : NULL;
    free(text);
    return sp;
}

void space_free(Space *space) {
    if (!space) return;
    free(space->text);
    free(space);
}

Space *space_recorded(const char *text, const char *origin, const char *config_path,
                      const char *made, Error *err) {
    Space *recorded = space_load_text(text, origin, err);
    if (!recorded || !config_path) return recorded;
    Space *given = space_load_file(config_path, err);
    if (given && !space_same_search(given, recorded)) {
        input_error(err, "%s for the space '%s' recorded in %s, not for %s", made, recorded->name,
                    origin, config_path);
        space_free(given);
        given = NULL;
    }
    space_free(recorded);
    return given;
}

/* ---- writing a space back as configuration text ---- */

/* A decimal that libconfig reads as a float: 4000 -> "4.0", 3500 -> "3.5". */
static void format_milli_float(int milli, char *buf, size_t size) {
    format_milli(milli, buf, size);
    if (!strchr(buf, '.')) strncat(buf, ".0", size - strlen(buf) - 1);
}

/* A number libconfig reads back as a float: %.17g writes 0 for 0.0, an integer, and an array
 * mixing integers and floats is a syntax error. */
static void write_float(FILE *out, const char *before, double value) {
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", value);
    fprintf(out, "%s%s%s", before, buf, strpbrk(buf, ".e") ? "" : ".0");
}

/* Whole units as multiples of `unit` (1e6, 1e9), exactly: 5000000 -> "5.0". */
static void format_scaled(int64_t value, int64_t unit, char *buf, size_t size) {
    const int digits = unit == 1000000 ? 6 : 9;
    int n = snprintf(buf, size, "%lld.%0*lld", (long long)(value / unit), digits,
                     (long long)(value % unit));
    while (n > 2 && buf[n - 1] == '0' && buf[n - 2] != '.') buf[--n] = '\0';
}

static void write_interval_spec(FILE *out, const char *key, const IntervalSpec *spec,
                                int64_t unit) {
    char a[48], b[48], c[48];
    if (!spec->present) return;
    format_scaled(spec->min, unit, a, sizeof a);
    format_scaled(spec->max, unit, b, sizeof b);
    format_scaled(spec->width, unit, c, sizeof c);
    fprintf(out, " %s = { min = %s; max = %s; width = %s; };", key, a, b, c);
}

static void write_choice_array(FILE *out, const ChoiceList *list, bool milli) {
    fputc('[', out);
    for (int i = 0; i < list->count; i++) {
        char value[32];
        if (milli)
            format_milli_float(list->values[i], value, sizeof value);
        else
            snprintf(value, sizeof value, "%d", list->values[i]);
        fprintf(out, "%s%s", i ? ", " : "", value);
    }
    fputc(']', out);
}

static void write_per_layer(FILE *out, const char *key, const ChoiceList *lists, int n,
                            bool milli) {
    fprintf(out, "    %s = (", key);
    for (int l = 0; l < n; l++) {
        fputs(l ? ", " : "", out);
        write_choice_array(out, &lists[l], milli);
    }
    fputs(");\n", out);
}

char *space_format(const Space *sp) {
    char *text = NULL, a[32];
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out) fatal_at(__FILE__, __LINE__, "open_memstream: %m");
    fprintf(out, "name = \"%s\";\n", sp->name);
    fprintf(out, "image_size = %d;\npatch_size = %d;\nin_channels = %d;\nnum_classes = %d;\n",
            sp->image_size, sp->patch_size, sp->in_channels, sp->num_classes);
    fprintf(out, "head_dim = %d;\nmax_relative_position = %d;\npooling = \"%s\";\n", sp->head_dim,
            sp->max_relative_position, sp->class_token_pooling ? "class" : "mean");
    format_milli_float(sp->supernet.mlp_ratio, a, sizeof a);
    fprintf(out, "supernet = { embed_dim = %d; depth = %d; num_heads = %d; mlp_ratio = %s; };\n",
            sp->supernet.embed_dim, sp->supernet.depth, sp->supernet.num_heads, a);
    if (sp->uniform) {
        fputs("choices = {\n  embed_dim = ", out);
        write_choice_array(out, &sp->choices.embed_dim, false);
        fputs(";\n  depth = ", out);
        write_choice_array(out, &sp->choices.depth, false);
        fputs(";\n  num_heads = ", out);
        write_choice_array(out, &sp->choices.num_heads, false);
        fputs(";\n  mlp_ratio = ", out);
        write_choice_array(out, &sp->choices.mlp_ratio, true);
        fputs(";\n};\n", out);
    } else {
        fputs("widths = (\n", out);
        for (int w = 0; w < sp->n_widths; w++) {
            const SpaceWidth *width = &sp->widths[w];
            fprintf(out, "  { embed_dim = %d;\n    depth = ", width->embed_dim);
            write_choice_array(out, &width->depths, false);
            fputs(";\n", out);
            write_per_layer(out, "num_heads", width->num_heads, width->n_layers, false);
            write_per_layer(out, "mlp_ratio", width->mlp_ratio, width->n_layers, true);
            fprintf(out, "  }%s\n", w + 1 < sp->n_widths ? "," : "");
        }
        fputs(");\n", out);
    }
    fputs("data_free = { mean = [", out);
    for (int ch = 0; ch < sp->in_channels; ch++)
        write_float(out, ch ? ", " : "", sp->data_free_mean[ch]);
    fputs("]; std = [", out);
    for (int ch = 0; ch < sp->in_channels; ch++)
        write_float(out, ch ? ", " : "", sp->data_free_std[ch]);
    fputs("]; };\nintervals = {", out);
    write_interval_spec(out, "params", &sp->param_intervals, 1000000);
    write_interval_spec(out, "flops", &sp->flops_intervals, 1000000000);
    write_interval_spec(out, "macs", &sp->macs_intervals, 1000000000);
    fputs(" };\n", out);
    if (fclose(out) != 0) fatal_at(__FILE__, __LINE__, "formatting a space: %m");
    return text;
}

/* ---- the refined space of a list of architectures (method.md §5.3) ---- */

static void choice_list_add(ChoiceList *list, int value) {
    if (!sorted_insert(list->values, &list->count, SPACE_MAX_CHOICES, value))
        fatal_at(__FILE__, __LINE__, "more than %d choices", SPACE_MAX_CHOICES);
}

Space *space_refine(const Space *base, const Arch *archs, int n_archs, const char *name) {
    if (n_archs < 1) fatal_at(__FILE__, __LINE__, "refining a space needs an architecture");
    Space *sp = xcalloc(1, sizeof *sp);
    *sp = *base;
    sp->text = NULL;
    snprintf(sp->name, sizeof sp->name, "%s", name);
    snprintf(sp->source, sizeof sp->source, "the refined space %s", name);
    sp->uniform = false;
    sp->n_widths = 0;
    memset(&sp->choices, 0, sizeof sp->choices);
    memset(sp->widths, 0, sizeof sp->widths);
    ChoiceList widths = {0};
    for (int i = 0; i < n_archs; i++) choice_list_add(&widths, archs[i].embed_dim);
    SupernetShape *super = &sp->supernet;
    *super = (SupernetShape){0, 0, 0, 0};
    for (int w = 0; w < widths.count; w++) {
        SpaceWidth *width = &sp->widths[sp->n_widths++];
        width->embed_dim = widths.values[w];
        for (int i = 0; i < n_archs; i++) {
            const Arch *a = &archs[i];
            if (a->embed_dim != width->embed_dim) continue;
            choice_list_add(&width->depths, a->depth);
            if (a->depth > width->n_layers) width->n_layers = a->depth;
            for (int l = 0; l < a->depth; l++) {
                choice_list_add(&width->num_heads[l], a->num_heads[l]);
                choice_list_add(&width->mlp_ratio[l], a->mlp_ratio[l]);
                if (a->num_heads[l] > super->num_heads) super->num_heads = a->num_heads[l];
                if (a->mlp_ratio[l] > super->mlp_ratio) super->mlp_ratio = a->mlp_ratio[l];
            }
            if (a->depth > super->depth) super->depth = a->depth;
        }
    }
    /* The reference sizes the supernet by its heads (E_s = head_dim x heads), so a refined
     * Tiny space keeps 256 channels although no candidate is wider than 240. A narrow
     * interval can keep a wide subnet with few heads (80 channels, 4 heads of 16), where that
     * rule (asserted by the reference) falls short of the widest candidate: the supernet then
     * gets the heads its width needs, as q/k/v rows are heads (read_supernet). The search
     * space's supernet holds the same candidates under the same rule, so it is no narrower. */
    const int widest = widths.values[widths.count - 1];
    const int heads_to_hold_widest = (widest + base->head_dim - 1) / base->head_dim;
    if (super->num_heads < heads_to_hold_widest) super->num_heads = heads_to_hold_widest;
    super->embed_dim = base->head_dim * super->num_heads;
    char *text = space_format(sp);
    free(sp);
    Error err = {0};
    Space *refined = space_load_text(text, name, &err);
    if (!refined) fatal_at(__FILE__, __LINE__, "the refined space does not load: %s", err.message);
    free(text);
    return refined;
}
