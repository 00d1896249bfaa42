#ifndef PRENAS_CONFIG_H
#define PRENAS_CONFIG_H

/* Reading libconfig files (spaces, recipes) with messages that name the file, the line and
 * the key, and `--set key=value` overrides. */

#include "error.h"
#include "family.h"

#include <libconfig.h>
#include <stdbool.h>

typedef struct {
    const char *origin; /* the file (or text) the settings came from */
    Error *err;
} CfgReader;

/* Parses text into cfg; a syntax error names origin and line. `@include` is refused (config.c). */
bool cfg_parse(config_t *cfg, const char *text, const char *origin, Error *err);
/* Parses text (cfg_parse) and hands its root to `read`, which fills `out` through the reader
 * (messages name `origin`); the parsed settings are gone when it returns. */
typedef bool (*CfgRead)(CfgReader *r, const config_setting_t *root, void *out);
bool cfg_read_text(const char *text, const char *origin, CfgRead read, void *out, Error *err);
/* A whole text file; NULL (and err) when it cannot be read, is not text, or is larger than any
 * configuration (a device such as /dev/zero would never end). */
enum { CFG_MAX_BYTES = 1 << 20 };
char *cfg_read_file(const char *path, const char *what, Error *err);
/* Applies "a.b=value" overrides to existing settings of any scalar type. */
bool cfg_apply_sets(config_t *cfg, const char *const *sets, int n, const char *origin, Error *err);
/* The configuration as libconfig writes it (after overrides: what actually ran). */
char *cfg_text(const config_t *cfg);

bool cfg_fail(CfgReader *r, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool cfg_check_keys(CfgReader *r, const config_setting_t *group, const char *const *allowed);
/* A required member of the given type (integers are accepted for floats). */
const config_setting_t *cfg_member(CfgReader *r, const config_setting_t *group, const char *key,
                                   int type, const char *type_name);
double cfg_number(const config_setting_t *s);
bool cfg_int_in_range(CfgReader *r, const config_setting_t *s, int min, int max, int *out);
bool cfg_int(CfgReader *r, const config_setting_t *group, const char *key, int min, int max,
             int *out);
bool cfg_real(CfgReader *r, const config_setting_t *group, const char *key, double min, double max,
              double *out);

/* Optional members: absent, or in an absent group (NULL), leaves *out as it is (the default). */
bool cfg_int_or(CfgReader *r, const config_setting_t *group, const char *key, int min, int max,
                int *out);
bool cfg_real_or(CfgReader *r, const config_setting_t *group, const char *key, double min,
                 double max, double *out);
bool cfg_bool_or(CfgReader *r, const config_setting_t *group, const char *key, bool *out);
/* One of `choices` (NULL-terminated); *out is its index. */
bool cfg_choice_or(CfgReader *r, const config_setting_t *group, const char *key,
                   const char *const *choices, int *out);
/* A string, cut to size bytes. */
bool cfg_text_or(CfgReader *r, const config_setting_t *group, const char *key, char *out,
                 size_t size);
/* An optional group; NULL when absent (err set when present but not a group). */
const config_setting_t *cfg_group_or(CfgReader *r, const config_setting_t *group, const char *key);

/* An array of integers in [min, max], non-empty, strictly ascending and at most `capacity`
 * long (a search space's choices); *count is its length. */
bool cfg_ascending_ints(CfgReader *r, const config_setting_t *s, int min, int max, int capacity,
                        int *values, int *count);

/* A search space's `family` key (family.h). */
bool cfg_family(CfgReader *r, const config_setting_t *root, ModelFamily *out);
/* The family of the space in a file, read before the family's own reader takes the file. */
bool cfg_file_family(const char *path, ModelFamily *out, Error *err);
/* The same for a space's text (an artefact's /meta/config); origin names it in errors. */
bool cfg_text_family(const char *text, const char *origin, ModelFamily *out, Error *err);

#endif
