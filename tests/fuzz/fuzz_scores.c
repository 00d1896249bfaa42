/* prenas.scores files (scores.h5) as prenas-select and prenas-analyze read them: the artefact,
 * the family and the space it records, the proxies' tables or a CNN space's saliency. */
#include "fuzz.h"

#include "artefact.h"
#include "cnn_artefacts.h"
#include "config.h"
#include "scores.h"
#include "space.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *path = fuzz_h5_input(data, size);
    Error err = {0};
    Artefact scores;
    bool ok = artefact_open(&scores, path, SCORES_SCHEMA, SCORES_SCHEMA_VERSION, &err);
    ModelFamily family = FAMILY_VIT;
    if (ok && !cfg_text_family(scores.meta.config, path, &family, &err)) {
        ok = false;
        artefact_close(&scores);
    } else if (ok && family == FAMILY_CNN) {
        CnnSpace *space =
            cnn_space_recorded(scores.meta.config, path, NULL, "the scores were computed", &err);
        H5Source src = {scores.file, path, &err};
        CnnScoreTables *tables = space ? cnn_scores_tables_read(&src, space) : NULL;
        ok = tables != NULL;
        cnn_score_tables_free(tables);
        cnn_space_free(space);
        artefact_close(&scores);
    } else if (ok) {
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
