/* prenas.scores files (scores.h5) as prenas-select and prenas-analyze read them: the artefact,
 * the family and the space it records, the proxies' tables or a CNN space's saliency. */
#include "fuzz.h"

#include "artefact.h"
#include "cnn_artefacts.h"
#include "config.h"
#include "scores.h"
#include "space.h"

#include <stdlib.h>

static bool read_cnn(const Artefact *scores, const char *path, Error *err) {
    CnnSpace *space =
        cnn_space_recorded(scores->meta.config, path, NULL, "the scores were computed", err);
    const H5Source src = {scores->file, path, err};
    CnnScoreTables *tables = space ? cnn_scores_tables_read(&src, space) : NULL;
    cnn_score_tables_free(tables);
    cnn_space_free(space);
    return tables != NULL;
}

static bool read_vit(const Artefact *scores, const char *path, Error *err) {
    Space *space = space_recorded(scores->meta.config, path, NULL, "the scores were computed", err);
    const H5Source src = {scores->file, path, err};
    ScoreTables tables;
    const bool ok = space && scores_read(&src, space, &tables);
    if (ok) score_tables_free(&tables);
    space_free(space);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *path = fuzz_h5_input(data, size);
    Error err = {0};
    Artefact scores;
    bool ok = artefact_open(&scores, path, SCORES_SCHEMA, SCORES_SCHEMA_VERSION, &err);
    if (ok) {
        ModelFamily family = FAMILY_VIT;
        ok = cfg_text_family(scores.meta.config, path, &family, &err) &&
             (family == FAMILY_CNN ? read_cnn : read_vit)(&scores, path, &err);
        artefact_close(&scores);
    }
    fuzz_h5_expect(ok, &err, path);
    free(path);
    return 0;
}
