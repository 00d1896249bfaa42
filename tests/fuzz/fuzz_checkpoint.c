/* Training checkpoints as prenas-train resumes them: the recorded space, then the weights,
 * AdamW's moments and the run state into a model and optimiser of that space. */
#include "fuzz.h"

#include "backend.h"
#include "checkpoint.h"
#include "model.h"
#include "optim.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *path = fuzz_h5_input(data, size);
    Error err = {0};
    char *text = checkpoint_space(path, &err);
    Space *space = text ? space_load_text(text, path, &err) : NULL;
    bool ok = space != NULL;
    if (ok) {
        Model *model =
            model_create(backend_cpu(), &(const ModelSpace){FAMILY_VIT, space, NULL}, 1, 0, NULL);
        AdamW opt = adamw_create(model->table, 0.9, 0.999, 1e-8, 0.05);
        TrainState state;
        ok = checkpoint_load(path, model->table, &opt, &state, &err);
        adamw_free(&opt);
        model_free(model);
    }
    space_free(space);
    free(text);
    fuzz_h5_expect(ok, &err, path);
    free(path);
    return 0;
}
