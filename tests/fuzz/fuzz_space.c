/* Search-space configurations (prenas-arch, prenas-score --config, every artefact's recorded
 * space): a space that loads is written back as text that loads as the same space, and its
 * smallest and largest subnets lie in it. */
#include "fuzz.h"

#include "arch.h"
#include "space.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_text(data, size);
    Error err = {0};
    Space *space = space_load_text(text, "fuzz.cfg", &err);
    fuzz_expect(space != NULL, &err, "fuzz.cfg");
    if (space) {
        char *formatted = space_format(space);
        Error again_err = {0};
        Space *again = space_load_text(formatted, "formatted", &again_err);
        fuzz_assert(again && space_same_supernet(space, again) && space_same_search(space, again),
                    "a space written back as text does not load as the same space");
        Arch smallest, largest;
        arch_smallest(space, &smallest);
        arch_largest(space, &largest);
        fuzz_assert(arch_in_space(&smallest, space) && arch_in_space(&largest, space),
                    "the smallest or largest subnet lies outside its space");
        space_free(again);
        free(formatted);
        space_free(space);
    }
    free(text);
    return 0;
}
