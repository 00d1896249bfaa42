/* `--set KEY=VALUE` overrides: each line of the input is one, applied to the quick recipe. */
#include "fuzz.h"

#include "config.h"
#include "recipe.h"

#include <stdlib.h>
#include <string.h>

enum { MAX_SETS = 16 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char recipe_path[] = FUZZ_SOURCE_DIR "/configs/recipes/micro-fmnist-quick.cfg";
    Error err = {0};
    char *recipe_text = cfg_read_file(recipe_path, "recipe", &err);
    fuzz_assert(recipe_text != NULL, "the quick recipe does not read");
    char *text = fuzz_text(data, size);
    const char *sets[MAX_SETS];
    int n = 0;
    for (char *line = strtok(text, "\n"); line && n < MAX_SETS; line = strtok(NULL, "\n"))
        sets[n++] = line;
    Recipe *recipe = recipe_parse(recipe_text, recipe_path, sets, n, &err);
    fuzz_expect(recipe != NULL, &err, NULL);
    recipe_free(recipe);
    free(text);
    free(recipe_text);
    return 0;
}
