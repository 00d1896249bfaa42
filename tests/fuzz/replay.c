/* The harnesses' main outside the fuzz build: each file named on the command line goes through
 * the harness once, as libFuzzer replays a crash input. A harness aborts on what it finds (a
 * sanitizer report, a broken property), so getting through every file is the test. */
#include "fuzz.h"

#include "error.h"

#include <stdio.h>
#include <stdlib.h>

static uint8_t *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) fatal_at(__FILE__, __LINE__, "fopen %s: %m", path);
    size_t capacity = 1 << 12;
    uint8_t *data = xmalloc(capacity);
    *size = 0;
    for (size_t n; (n = fread(data + *size, 1, capacity - *size, f)) > 0;)
        if ((*size += n) == capacity) data = xrealloc(data, capacity *= 2);
    if (ferror(f)) fatal_at(__FILE__, __LINE__, "reading %s: %m", path);
    fclose(f);
    return data;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s INPUT...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        size_t size;
        uint8_t *data = read_all(argv[i], &size);
        LLVMFuzzerTestOneInput(data, size);
        free(data);
    }
    printf("%d inputs replayed\n", argc - 1);
    return 0;
}
