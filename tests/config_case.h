#ifndef PRENAS_TESTS_CONFIG_CASE_H
#define PRENAS_TESTS_CONFIG_CASE_H

/* Test cases of configuration readers (search spaces of either family): a valid file held as
 * lines, one line replaced per case, and what every refusal must be: an input error of one
 * line that names the problem and, where the setting has one, the file and line. */

#include "check.h"
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The `n` lines of `base`, line `line` (1-based) replaced by `text`; line 0: `base` itself. */
static inline char *config_case(const char *const *base, int n, int line, const char *text) {
    size_t size = 1 + (text ? strlen(text) + 1 : 0);
    for (int i = 0; i < n; i++) size += strlen(base[i]) + 1;
    char *out = calloc(1, size);
    for (int i = 0; i < n; i++) {
        strcat(out, i + 1 == line ? text : base[i]);
        strcat(out, "\n");
    }
    return out;
}

/* The case written to bad.cfg in a new folder under /tmp; `path` (at least 64 bytes) gets its
 * path, which config_case_remove deletes with its folder. */
static inline void config_case_file(const char *const *base, int n, int line, const char *text,
                                    char *path, size_t size) {
    char dir[] = "/tmp/prenas-test-config-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, size, "%s/bad.cfg", dir);
    FILE *f = fopen(path, "w");
    char *config = config_case(base, n, line, text);
    fputs(config, f);
    fclose(f);
    free(config);
}

static inline void config_case_remove(const char *path) {
    unlink(path);
    char dir[256];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    rmdir(dir);
}

/* `message_line` 0: the message names no line (a missing top-level key, a syntax error at the
 * end). */
static inline void check_config_error(const Error *err, const char *message_part,
                                      const char *origin, int message_line) {
    CHECK_EQ_I64(err->code, EXIT_INPUT);
    CHECK_STR_CONTAINS(err->message, message_part);
    if (message_line > 0) {
        char where[300];
        snprintf(where, sizeof where, "%s:%d", origin, message_line);
        CHECK_STR_CONTAINS(err->message, where);
    }
    CHECK(strchr(err->message, '\n') == NULL);
}

#endif
