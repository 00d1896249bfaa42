/* prenas.eval files (eval.h5) as prenas-analyze, -specialize and -inspect read them. */
#include "fuzz.h"

#include "eval_table.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *path = fuzz_h5_input(data, size);
    Error err = {0};
    EvalTable table;
    Artefact artefact;
    bool ok = eval_table_read(path, &table, &artefact, &err);
    if (ok) {
        eval_table_free(&table);
        artefact_close(&artefact);
    }
    fuzz_h5_expect(ok, &err, path);
    free(path);
    return 0;
}
