#include "config.h"

#include "text.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void setting_path(const config_setting_t *s, char *buf, size_t size) {
    const config_setting_t *chain[32];
    int depth = 0;
    for (; s && config_setting_parent(s) && depth < 32; s = config_setting_parent(s))
        chain[depth++] = s;
    size_t used = 0;
    buf[0] = '\0';
    for (int i = depth - 1; i >= 0 && used < size; i--) {
        const char *name = config_setting_name(chain[i]);
        int n = name ? snprintf(buf + used, size - used, "%s%s", used ? "." : "", name)
                     : snprintf(buf + used, size - used, "[%d]", config_setting_index(chain[i]));
        used += n > 0 ? (size_t)n : 0;
    }
}

bool cfg_fail(CfgReader *r, const config_setting_t *s, const char *fmt, ...) {
    char what[1536], path[256];
    va_list args;
    va_start(args, fmt);
    vsnprintf(what, sizeof what, fmt, args);
    va_end(args);
    setting_path(s, path, sizeof path);
    int line = s ? config_setting_source_line(s) : 0;
    if (path[0] && line > 0)
        return input_error(r->err, "%s: %s, %s:%d", path, what, r->origin, line);
    /* only settings that --set added have no line */
    if (path[0]) return input_error(r->err, "--set %s: %s, %s", path, what, r->origin);
    return input_error(r->err, "%s, %s", what, r->origin);
}

bool cfg_check_keys(CfgReader *r, const config_setting_t *group, const char *const *allowed) {
    int n = config_setting_length(group);
    for (int i = 0; i < n; i++) {
        const config_setting_t *member = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(member);
        bool known = false;
        for (const char *const *a = allowed; *a && !known; a++) known = strcmp(*a, name) == 0;
        if (!known) {
            char list[1024] = "";
            for (const char *const *a = allowed; *a; a++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                         a == allowed ? "" : ", ", *a);
            return cfg_fail(r, member, "unknown key (expected one of: %s)", list);
        }
    }
    return true;
}

const config_setting_t *cfg_member(CfgReader *r, const config_setting_t *group, const char *key,
                                   int type, const char *type_name) {
    const config_setting_t *s = config_setting_get_member(group, key);
    if (!s) {
        char path[256];
        setting_path(group, path, sizeof path);
        int line = config_setting_source_line(group);
        if (path[0])
            input_error(r->err, "%s: missing key '%s', %s:%d", path, key, r->origin, line);
        else
            input_error(r->err, "missing key '%s', %s", key, r->origin);
        return NULL;
    }
    int actual = config_setting_type(s);
    bool ok =
        actual == type || (type == CONFIG_TYPE_INT && actual == CONFIG_TYPE_INT64) ||
        (type == CONFIG_TYPE_FLOAT && (actual == CONFIG_TYPE_INT || actual == CONFIG_TYPE_INT64));
    if (!ok) {
        cfg_fail(r, s, "expected %s", type_name);
        return NULL;
    }
    return s;
}

double cfg_number(const config_setting_t *s) {
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
        return config_setting_get_int(s);
    case CONFIG_TYPE_INT64:
        return (double)config_setting_get_int64(s);
    default:
        return config_setting_get_float(s);
    }
}

bool cfg_int_in_range(CfgReader *r, const config_setting_t *s, int min, int max, int *out) {
    if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64)
        return cfg_fail(r, s, "expected an integer");
    long long v = config_setting_get_int64(s);
    if (config_setting_type(s) == CONFIG_TYPE_INT) v = config_setting_get_int(s);
    if (v < min || v > max) return cfg_fail(r, s, "%lld is outside [%d, %d]", v, min, max);
    *out = (int)v;
    return true;
}

bool cfg_int(CfgReader *r, const config_setting_t *group, const char *key, int min, int max,
             int *out) {
    const config_setting_t *s = cfg_member(r, group, key, CONFIG_TYPE_INT, "an integer");
    return s && cfg_int_in_range(r, s, min, max, out);
}

bool cfg_real(CfgReader *r, const config_setting_t *group, const char *key, double min, double max,
              double *out) {
    const config_setting_t *s = cfg_member(r, group, key, CONFIG_TYPE_FLOAT, "a number");
    if (!s) return false;
    double v = cfg_number(s);
    if (!(v >= min && v <= max)) return cfg_fail(r, s, "%g is outside [%g, %g]", v, min, max);
    *out = v;
    return true;
}

/* libconfig's `@include "FILE"` (a line that starts with it, after blanks) is refused, not
 * passed on: a configuration is one self-contained file, recorded whole in every artefact made
 * with it, and libconfig 1.5 (Debian 12) has no hook to check what it would include, so a
 * directory ends the process in its scanner, /dev/zero fills memory, and a recursion is cut
 * only by its nesting limit (docs/fuzzing.md). Lines inside comments and strings are refused
 * alike: such a line is never needed. */
static bool refuse_includes(const char *text, const char *origin, Error *err) {
    int line = 1;
    for (const char *p = text; *p; line++) {
        p += strspn(p, " \t");
        if (strncmp(p, "@include", 8) == 0)
            return input_error(err,
                               "@include is not supported (a configuration is one "
                               "self-contained file), %s:%d",
                               origin, line);
        p = strchrnul(p, '\n');
        if (*p) p++;
    }
    return true;
}

bool cfg_parse(config_t *cfg, const char *text, const char *origin, Error *err) {
    if (!refuse_includes(text, origin, err)) return false;
    if (config_read_string(cfg, text) == CONFIG_TRUE) return true;
    return input_error(err, "syntax error: %s, %s:%d", config_error_text(cfg), origin,
                       config_error_line(cfg));
}

bool cfg_read_text(const char *text, const char *origin, CfgRead read, void *out, Error *err) {
    config_t cfg;
    config_init(&cfg);
    CfgReader r = {origin, err};
    bool ok = cfg_parse(&cfg, text, origin, err) && read(&r, config_root_setting(&cfg), out);
    config_destroy(&cfg);
    return ok;
}

char *cfg_read_file(const char *path, const char *what, Error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        input_error(err, "cannot open the %s: %m, %s", what, path);
        return NULL;
    }
    size_t capacity = 1 << 14, length = 0, n;
    char *text = xmalloc(capacity);
    while (length <= CFG_MAX_BYTES && (n = fread(text + length, 1, capacity - length - 1, f)) > 0) {
        length += n;
        if (capacity - length < 2) text = xrealloc(text, capacity *= 2);
    }
    bool read_failed = ferror(f);
    fclose(f);
    text[length] = '\0';
    if (read_failed)
        input_error(err, "cannot read the %s: %s, %s", what, strerror(errno), path);
    else if (length > CFG_MAX_BYTES)
        input_error(err, "the %s is larger than %d KiB (not a configuration), %s", what,
                    CFG_MAX_BYTES >> 10, path);
    else if (strlen(text) != length)
        input_error(err, "the %s contains a NUL byte (not a text file), %s", what, path);
    if (err->code) {
        free(text);
        return NULL;
    }
    return text;
}

/* A setting that the file leaves at its default: created with the type its value reads as
 * (true/false, integer, number, else text); the schema check then rejects unknown keys with
 * the list of known ones. */
static config_setting_t *add_setting(config_t *cfg, const char *key, const char *value) {
    config_setting_t *group = config_root_setting(cfg);
    char path[256];
    snprintf(path, sizeof path, "%s", key);
    char *name = path;
    for (char *dot; (dot = strchr(name, '.')); name = dot + 1) {
        *dot = '\0';
        config_setting_t *next = config_setting_get_member(group, name);
        if (!next) next = config_setting_add(group, name, CONFIG_TYPE_GROUP);
        if (!next || config_setting_type(next) != CONFIG_TYPE_GROUP) return NULL;
        group = next;
    }
    long integer;
    double real;
    const bool boolean = !strcmp(value, "true") || !strcmp(value, "false");
    const int type = boolean                       ? CONFIG_TYPE_BOOL
                     : parse_long(value, &integer) ? CONFIG_TYPE_INT64
                     : parse_double(value, &real)  ? CONFIG_TYPE_FLOAT
                                                   : CONFIG_TYPE_STRING;
    return config_setting_add(group, name, type);
}

bool cfg_apply_sets(config_t *cfg, const char *const *sets, int n, const char *origin, Error *err) {
    for (int i = 0; i < n; i++) {
        char key[256];
        const char *equals = strchr(sets[i], '=');
        if (!equals || equals == sets[i] || (size_t)(equals - sets[i]) >= sizeof key)
            return input_error(err, "--set '%s': expected KEY=VALUE", sets[i]);
        memcpy(key, sets[i], (size_t)(equals - sets[i]));
        key[equals - sets[i]] = '\0';
        const char *value = equals + 1;
        config_setting_t *s = config_lookup(cfg, key);
        if (!s) s = add_setting(cfg, key, value);
        if (!s)
            return input_error(
                err, "--set %s: not a setting name (a.b.c of letters, digits, _ and -), %s", key,
                origin);
        long integer;
        double real;
        bool ok = false;
        switch (config_setting_type(s)) {
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64:
            ok = parse_long(value, &integer) && config_setting_set_int64(s, integer);
            break;
        case CONFIG_TYPE_FLOAT:
            ok = parse_double(value, &real) && config_setting_set_float(s, real);
            break;
        case CONFIG_TYPE_BOOL:
            ok = (!strcmp(value, "true") || !strcmp(value, "false")) &&
                 config_setting_set_bool(s, !strcmp(value, "true"));
            break;
        case CONFIG_TYPE_STRING:
            ok = config_setting_set_string(s, value);
            break;
        default:
            return input_error(err, "--set %s: a group or list cannot be set, %s", key, origin);
        }
        if (!ok)
            return input_error(err, "--set %s=%s: the value does not fit the setting's type, %s",
                               key, value, origin);
    }
    return true;
}

char *cfg_text(const config_t *cfg) {
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out) fatal_at(__FILE__, __LINE__, "open_memstream: %m");
    config_write(cfg, out);
    if (fclose(out) != 0) fatal_at(__FILE__, __LINE__, "writing a configuration: %m");
    return text;
}

/* An optional member that the file leaves out, or whose group it leaves out. */
static bool absent(const config_setting_t *group, const char *key) {
    return !group || !config_setting_get_member(group, key);
}

bool cfg_int_or(CfgReader *r, const config_setting_t *group, const char *key, int min, int max,
                int *out) {
    return absent(group, key) || cfg_int(r, group, key, min, max, out);
}

bool cfg_real_or(CfgReader *r, const config_setting_t *group, const char *key, double min,
                 double max, double *out) {
    return absent(group, key) || cfg_real(r, group, key, min, max, out);
}

bool cfg_bool_or(CfgReader *r, const config_setting_t *group, const char *key, bool *out) {
    if (absent(group, key)) return true;
    const config_setting_t *s = cfg_member(r, group, key, CONFIG_TYPE_BOOL, "true or false");
    if (s) *out = config_setting_get_bool(s);
    return s != NULL;
}

bool cfg_choice_or(CfgReader *r, const config_setting_t *group, const char *key,
                   const char *const *choices, int *out) {
    if (absent(group, key)) return true;
    const config_setting_t *s = cfg_member(r, group, key, CONFIG_TYPE_STRING, "a string");
    if (!s) return false;
    const char *value = config_setting_get_string(s);
    char list[1024] = "";
    for (int i = 0; choices[i]; i++) {
        if (!strcmp(value, choices[i])) {
            *out = i;
            return true;
        }
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s\"%s\"", i ? ", " : "",
                 choices[i]);
    }
    /* quoted short: a long value would push the file and line out of the one-line message */
    return cfg_fail(r, s, "\"%.40s%s\" is not one of %s", value, strlen(value) > 40 ? "..." : "",
                    list);
}

bool cfg_text_or(CfgReader *r, const config_setting_t *group, const char *key, char *out,
                 size_t size) {
    if (absent(group, key)) return true;
    const config_setting_t *s = cfg_member(r, group, key, CONFIG_TYPE_STRING, "a string");
    if (s) snprintf(out, size, "%s", config_setting_get_string(s));
    return s != NULL;
}

const config_setting_t *cfg_group_or(CfgReader *r, const config_setting_t *group, const char *key) {
    const config_setting_t *s = config_setting_get_member(group, key);
    if (s && config_setting_type(s) != CONFIG_TYPE_GROUP) {
        cfg_fail(r, s, "expected a group { ... }");
        return NULL;
    }
    return s;
}

bool cfg_ascending_ints(CfgReader *r, const config_setting_t *s, int min, int max, int capacity,
                        int *values, int *count) {
    if (config_setting_type(s) != CONFIG_TYPE_ARRAY)
        return cfg_fail(r, s, "expected an array like [1, 2]");
    const int n = config_setting_length(s);
    if (n == 0) return cfg_fail(r, s, "the list of choices is empty");
    if (n > capacity) return cfg_fail(r, s, "more than %d choices", capacity);
    for (int i = 0; i < n; i++) {
        if (!cfg_int_in_range(r, config_setting_get_elem(s, (unsigned)i), min, max, &values[i]))
            return false;
        if (i > 0 && values[i] <= values[i - 1])
            return cfg_fail(r, s, "choices must be strictly ascending");
    }
    *count = n;
    return true;
}

static bool read_family(CfgReader *r, const config_setting_t *root, void *out) {
    return cfg_family(r, root, out);
}

bool cfg_family(CfgReader *r, const config_setting_t *root, ModelFamily *out) {
    static const char *const families[] = {"vit", "cnn", NULL};
    int index = FAMILY_VIT;
    if (!cfg_choice_or(r, root, "family", families, &index)) return false;
    *out = index == 1 ? FAMILY_CNN : FAMILY_VIT;
    return true;
}

bool cfg_text_family(const char *text, const char *origin, ModelFamily *out, Error *err) {
    return cfg_read_text(text, origin, read_family, out, err);
}

bool cfg_file_family(const char *path, ModelFamily *out, Error *err) {
    char *text = cfg_read_file(path, "space configuration", err);
    bool ok = text && cfg_text_family(text, path, out, err);
    free(text);
    return ok;
}
