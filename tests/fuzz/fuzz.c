#include "fuzz.h"

#include "error.h"
#include "h5.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The one folder of this process: libFuzzer calls the harness with no context to hold it in,
 * and a folder per input would churn the file system at thousands of inputs a second. */
static char scratch[256];

static void remove_scratch_files(void) {
    DIR *dir = opendir(scratch);
    if (!dir) fatal_at(__FILE__, __LINE__, "opendir %s: %m", scratch);
    for (struct dirent *e; (e = readdir(dir));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", scratch, e->d_name);
        CHECK_SYS(unlink(path));
    }
    closedir(dir);
}

static void remove_scratch(void) {
    remove_scratch_files();
    CHECK_SYS(rmdir(scratch));
}

const char *fuzz_scratch(void) {
    if (scratch[0]) {
        remove_scratch_files();
        return scratch;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/prenas-fuzz-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(scratch)) fatal_at(__FILE__, __LINE__, "mkdtemp %s: %m", scratch);
    atexit(remove_scratch);
    return scratch;
}

char *fuzz_file(const char *name, const uint8_t *data, size_t size) {
    char *path = xmalloc(strlen(scratch) + strlen(name) + 2);
    sprintf(path, "%s/%s", scratch, name);
    FILE *f = fopen(path, "wb");
    if (!f) fatal_at(__FILE__, __LINE__, "fopen %s: %m", path);
    if (fwrite(data, 1, size, f) != size || fclose(f) != 0)
        fatal_at(__FILE__, __LINE__, "writing %s: %m", path);
    return path;
}

char *fuzz_h5_file(const uint8_t *data, size_t size) {
    h5_silence();
    fuzz_scratch();
    return fuzz_file("in.h5", data, size);
}

char *fuzz_text(const uint8_t *data, size_t size) {
    char *text = xmalloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    return text;
}

int fuzz_parts(const uint8_t *data, size_t size, FuzzPart *parts, int max) {
    const size_t separator = strlen(FUZZ_SEPARATOR);
    int n = 0;
    while (n < max - 1) {
        const uint8_t *at = memmem(data, size, FUZZ_SEPARATOR, separator);
        if (!at) break;
        parts[n++] = (FuzzPart){data, (size_t)(at - data)};
        size -= (size_t)(at - data) + separator;
        data = at + separator;
    }
    parts[n++] = (FuzzPart){data, size};
    return n;
}

void fuzz_assert(bool property, const char *what) {
    if (property) return;
    fprintf(stderr, "fuzz: broken property: %s\n", what);
    abort();
}

void fuzz_expect(bool ok, const Error *err, const char *path) {
    if (ok) {
        fuzz_assert(err->code == 0, "a reader that succeeded set an error");
        return;
    }
    /* set to see why each input was refused (a seed should not be) */
    if (getenv("PRENAS_FUZZ_VERBOSE")) fprintf(stderr, "fuzz: input error: %s\n", err->message);
    fuzz_assert(err->code == EXIT_INPUT, "a failure that is not an input error");
    fuzz_assert(err->message[0] && !strchr(err->message, '\n'), "an error that is not one line");
    fuzz_assert(!path || strstr(err->message, path), "an error that does not name the file");
}
