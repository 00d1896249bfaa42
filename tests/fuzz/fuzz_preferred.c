/* prenas.preferred files (preferred.h5) as prenas-train and prenas-evaluate read them. */
#include "fuzz.h"

#include "preferred.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *path = fuzz_h5_input(data, size);
    Error err = {0};
    PreferredFile preferred;
    bool ok = preferred_open(&preferred, path, &err);
    if (ok) preferred_close(&preferred);
    fuzz_h5_expect(ok, &err, path);
    free(path);
    return 0;
}
