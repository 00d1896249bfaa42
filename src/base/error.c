/* Errors without MPI: error_set, fatal_at and the allocation checks, which the tier-1 device
 * check (tests/device/) builds without MPI. die and die_input are in die.c. */
#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool error_set(Error *err, int code, const char *fmt, ...) {
    if (err->code != 0) return false;
    err->code = code;
    va_list args;
    va_start(args, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, args);
    va_end(args);
    /* A message quotes what it refuses (an architecture string, a key, a line of a file), which
     * can hold a newline or terminal escapes: the error stays one line of plain text. */
    for (char *c = err->message; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    return false;
}

_Noreturn void fatal_at(const char *file, int line, const char *fmt, ...) {
    int saved_errno = errno;
    char message[1024];
    va_list args;
    va_start(args, fmt);
    errno = saved_errno; /* for %m */
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    fflush(stdout); /* what the stage printed comes first in a log of both streams */
    fprintf(stderr, "%s: internal error: %s, %s:%d\n", program_invocation_short_name, message, file,
            line);
    exit(EXIT_RUNTIME);
}

void *xmalloc_at(const char *file, int line, size_t size) {
    void *p = malloc(size ? size : 1);
    if (!p) fatal_at(file, line, "out of memory allocating %zu bytes", size);
    return p;
}

void *xcalloc_at(const char *file, int line, size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) fatal_at(file, line, "out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *xrealloc_at(const char *file, int line, void *ptr, size_t size) {
    void *p = realloc(ptr, size ? size : 1);
    if (!p) fatal_at(file, line, "out of memory reallocating to %zu bytes", size);
    return p;
}

char *xstrdup_at(const char *file, int line, const char *s) {
    char *p = strdup(s);
    if (!p) fatal_at(file, line, "out of memory copying a string");
    return p;
}
