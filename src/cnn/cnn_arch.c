#include "cnn_arch.h"

#include "text.h"

#include <stdio.h>
#include <string.h>

static const char CNN_ARCH_FORM[] =
    "expected RES:STEM:CxDkKeE:...:HEAD (resolution, stem channels, per stage channels x depth, "
    "kernel, expansion ratio, head channels), e.g. 192:32:16x1k3e1:24x2k3e6:1280";

/* Decimal digits without sign or leading zero, at least 1; NULL if there are none or too many
 * to be any limit of cnn_space.h. */
static const char *read_count(const char *p, int *out) {
    if (*p < '1' || *p > '9') return NULL;
    long value = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (value > 100000) return NULL;
        value = value * 10 + (*p - '0');
    }
    *out = (int)value;
    return p;
}

static bool parse_count(const char *text, const char *field, const char *what, int max, int *out,
                        Error *err) {
    const char *end = read_count(field, out);
    if (!end || *end || *out > max)
        return input_error(err, "architecture '%s': %s '%s' is not an integer in [1, %d]", text,
                           what, field, max);
    return true;
}

/* "24x2k3e6": channels, depth, kernel, expansion ratio, each followed by its separator. */
static bool parse_stage(const char *text, const char *field, int stage, CnnStageArch *out,
                        Error *err) {
    static const char after[] = {'x', 'k', 'e', '\0'};
    static const char *const names[] = {"channels", "depth", "kernel", "expansion ratio"};
    static const int max[] = {CNN_MAX_CHANNELS, CNN_MAX_DEPTH, CNN_MAX_KERNEL, CNN_MAX_EXPAND};
    int *values[] = {&out->channels, &out->depth, &out->kernel, &out->expand_ratio};
    const char *p = field;
    for (int i = 0; i < 4; i++) {
        p = read_count(p, values[i]);
        if (!p || *p != after[i])
            return input_error(err,
                               "architecture '%s': stage %d '%s' is not CxDkKeE (channels x "
                               "depth, kernel, expansion ratio), e.g. 24x2k3e6",
                               text, stage + 1, field);
        if (*values[i] > max[i])
            return input_error(err, "architecture '%s': stage %d %s %d is above %d", text,
                               stage + 1, names[i], *values[i], max[i]);
        p++;
    }
    return true;
}

bool cnn_arch_parse(const char *text, CnnArch *arch, Error *err) {
    char copy[CNN_ARCH_TEXT_MAX];
    if (strlen(text) >= sizeof copy)
        return input_error(err, "architecture text longer than %d characters",
                           CNN_ARCH_TEXT_MAX - 1);
    strcpy(copy, text);
    char *fields[CNN_MAX_STAGES + 3];
    int n = 0;
    for (char *p = copy;; p++) {
        if (n == CNN_MAX_STAGES + 3)
            return input_error(err, "architecture '%s': more than %d stages, %s", text,
                               CNN_MAX_STAGES, CNN_ARCH_FORM);
        fields[n++] = p;
        if (!(p = strchr(p, ':'))) break;
        *p = '\0';
    }
    if (n < 4)
        return input_error(err, "architecture '%s': %d field(s), %s", text, n, CNN_ARCH_FORM);
    memset(arch, 0, sizeof *arch);
    arch->n_stages = n - 3;
    if (!parse_count(text, fields[0], "resolution", CNN_MAX_RESOLUTION, &arch->resolution, err) ||
        !parse_count(text, fields[1], "stem channels", CNN_MAX_CHANNELS, &arch->stem_channels, err))
        return false;
    for (int s = 0; s < arch->n_stages; s++)
        if (!parse_stage(text, fields[2 + s], s, &arch->stages[s], err)) return false;
    return parse_count(text, fields[n - 1], "head channels", CNN_MAX_CHANNELS, &arch->head_channels,
                       err);
}

void cnn_arch_format(const CnnArch *arch, char *buf, size_t size) {
    size_t used = 0;
    text_append(buf, size, &used, "%d:%d:", arch->resolution, arch->stem_channels);
    for (int s = 0; s < arch->n_stages; s++) {
        const CnnStageArch *st = &arch->stages[s];
        text_append(buf, size, &used, "%dx%dk%de%d:", st->channels, st->depth, st->kernel,
                    st->expand_ratio);
    }
    text_append(buf, size, &used, "%d", arch->head_channels);
}

/* One value against its list; `what` says where: "resolution", "stage 3 kernel". */
static bool allowed(const char *text, const CnnSpace *space, const char *what, int value,
                    const CnnChoices *choices, Error *err) {
    if (cnn_choices_contain(choices, value)) return true;
    char list[CNN_MAX_CHOICES * 8];
    cnn_choices_format(choices, list, sizeof list);
    return input_error(err, "architecture %s: %s %d is not a choice (%s), %s", text, what, value,
                       list, space->source);
}

bool cnn_arch_check(const CnnArch *arch, const CnnSpace *space, Error *err) {
    char text[CNN_ARCH_TEXT_MAX];
    cnn_arch_format(arch, text, sizeof text);
    if (arch->n_stages != space->n_stages)
        return input_error(err, "architecture %s: %d stages, the space has %d, %s", text,
                           arch->n_stages, space->n_stages, space->source);
    if (!allowed(text, space, "resolution", arch->resolution, &space->resolution, err) ||
        !allowed(text, space, "stem channels", arch->stem_channels, &space->stem.channels, err))
        return false;
    for (int s = 0; s < arch->n_stages; s++) {
        const CnnStageArch *a = &arch->stages[s];
        const CnnStageSpace *c = &space->stages[s];
        const struct {
            const char *name;
            int value;
            const CnnChoices *choices;
        } dims[] = {{"channels", a->channels, &c->channels},
                    {"depth", a->depth, &c->depth},
                    {"kernel", a->kernel, &c->kernel},
                    {"expansion ratio", a->expand_ratio, &c->expand_ratio}};
        for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
            char what[64];
            snprintf(what, sizeof what, "stage %d %s", s + 1, dims[d].name);
            if (!allowed(text, space, what, dims[d].value, dims[d].choices, err)) return false;
        }
    }
    return allowed(text, space, "head channels", arch->head_channels, &space->head_channels, err);
}

bool cnn_arch_equal(const CnnArch *a, const CnnArch *b) {
    if (a->resolution != b->resolution || a->stem_channels != b->stem_channels ||
        a->n_stages != b->n_stages || a->head_channels != b->head_channels)
        return false;
    for (int s = 0; s < a->n_stages; s++) {
        const CnnStageArch *x = &a->stages[s], *y = &b->stages[s];
        if (x->channels != y->channels || x->depth != y->depth || x->kernel != y->kernel ||
            x->expand_ratio != y->expand_ratio)
            return false;
    }
    return true;
}

/* Every list's choice `pick` returns: its first, its last, or a random one. */
typedef int (*Pick)(const CnnChoices *choices, Rng *rng);

static int pick_first(const CnnChoices *choices, Rng *rng) {
    (void)rng;
    return choices->values[0];
}

static int pick_last(const CnnChoices *choices, Rng *rng) {
    (void)rng;
    return choices->values[choices->count - 1];
}

static int pick_uniform(const CnnChoices *choices, Rng *rng) {
    return choices->values[rng_below(rng, (uint64_t)choices->count)];
}

static void build(const CnnSpace *space, Pick pick, Rng *rng, CnnArch *arch) {
    memset(arch, 0, sizeof *arch);
    arch->resolution = pick(&space->resolution, rng);
    arch->stem_channels = pick(&space->stem.channels, rng);
    arch->n_stages = space->n_stages;
    for (int s = 0; s < space->n_stages; s++) {
        const CnnStageSpace *c = &space->stages[s];
        CnnStageArch *a = &arch->stages[s];
        a->depth = pick(&c->depth, rng);
        a->channels = pick(&c->channels, rng);
        a->kernel = pick(&c->kernel, rng);
        a->expand_ratio = pick(&c->expand_ratio, rng);
    }
    arch->head_channels = pick(&space->head_channels, rng);
}

void cnn_arch_smallest(const CnnSpace *space, CnnArch *arch) {
    build(space, pick_first, NULL, arch);
}

void cnn_arch_largest(const CnnSpace *space, CnnArch *arch) {
    build(space, pick_last, NULL, arch);
}

void cnn_arch_sample(const CnnSpace *space, Rng *rng, CnnArch *arch) {
    build(space, pick_uniform, rng, arch);
}
