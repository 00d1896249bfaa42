/* prenas.scores files (scores.h5) as prenas-select and prenas-analyze read them: the artefact,
 * the space it records, the proxies' tables. */
#include "fuzz.h"

#include "artefact.h"
#include "scores.h"
#include "space.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *path = fuzz_h5_input(data, size);
    Error err = {0};
    Artefact scores;
    bool ok = artefact_open(&scores, path, SCORES_SCHEMA, SCORES_SCHEMA_VERSION, &err);
    if (ok) {
        Space *space =
            space_recorded(scores.meta.config, path, NULL, "the scores were computed", &err);
        H5Source src = {scores.file, path, &err};
        ScoreTables tables;
        ok = space && scores_read(&src, space, &tables);
        if (ok) score_tables_free(&tables);
        space_free(space);
        artefact_close(&scores);
    }
    fuzz_h5_expect(ok, &err, path);
    free(path);
    return 0;
}
