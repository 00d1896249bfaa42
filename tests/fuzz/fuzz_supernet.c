/* Trained supernets (supernet.h5, any checkpoint) as prenas-evaluate, -search and -specialize
 * open them: the recorded space, the architectures, the weights into a model of that space. */
#include "fuzz.h"

#include "backend.h"
#include "checkpoint.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *path = fuzz_h5_input(data, size);
    Error err = {0};
    TrainedSupernet supernet;
    bool ok = trained_supernet_open(&supernet, backend_cpu(), path, 1, 0, &err);
    trained_supernet_close(&supernet);
    fuzz_h5_expect(ok, &err, path);
    free(path);
    return 0;
}
