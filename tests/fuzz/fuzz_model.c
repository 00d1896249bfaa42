/* prenas.model files (model-NAME.h5, prenas-specialize's output) as prenas-predict reads them,
 * then the model built from them. */
#include "fuzz.h"

#include "backend.h"
#include "model.h"
#include "standalone.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *path = fuzz_h5_input(data, size);
    Error err = {0};
    Standalone standalone;
    Artefact artefact;
    bool ok = standalone_read(path, &standalone, &artefact, &err);
    if (ok) {
        model_free(standalone_model(backend_cpu(), &standalone, 1, &err)); /* the CPU runs both */
        standalone_free(&standalone);
        artefact_close(&artefact);
    }
    fuzz_h5_expect(ok, &err, path);
    free(path);
    return 0;
}
