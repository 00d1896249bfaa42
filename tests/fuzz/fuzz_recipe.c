/* Training recipes (prenas-train --recipe, and the recipe a checkpoint records). */
#include "fuzz.h"

#include "recipe.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_text(data, size);
    Error err = {0};
    Recipe *recipe = recipe_parse(text, "fuzz.cfg", NULL, 0, &err);
    fuzz_expect(recipe != NULL, &err, "fuzz.cfg");
    recipe_free(recipe);
    free(text);
    return 0;
}
