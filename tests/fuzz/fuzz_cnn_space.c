/* CNN search-space configurations (prenas-arch --config with family = "cnn"): a space that
 * loads has its extremes and a few random architectures in it, and their costs (int64, within
 * cnn_space.h's limits) run without overflow under UBSan. */
#include "fuzz.h"

#include "cnn_arch.h"
#include "cnn_cost.h"
#include "cnn_space.h"

#include <stdlib.h>

static void check_in_space(const CnnArch *arch, const CnnSpace *space) {
    Error err = {0};
    fuzz_assert(cnn_arch_check(arch, space, &err), "an architecture of the space is outside it");
    CnnCost cost = cnn_arch_cost(arch, space);
    fuzz_assert(cost.params > 0 && cost.macs > 0 && cost.flops == cost.macs,
                "a cost is not positive, or flops differ from macs");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_text(data, size);
    Error err = {0};
    CnnSpace *space = cnn_space_load_text(text, "fuzz.cfg", &err);
    fuzz_expect(space != NULL, &err, "fuzz.cfg");
    if (space) {
        CnnArch arch, largest;
        cnn_arch_smallest(space, &arch);
        check_in_space(&arch, space);
        cnn_arch_largest(space, &largest);
        check_in_space(&largest, space);
        fuzz_assert(cnn_arch_cost(&arch, space).params <= cnn_arch_cost(&largest, space).params,
                    "the smallest architecture has more parameters than the largest");
        Rng rng = rng_stream(size, RNG_STREAM_ARCH_SAMPLE);
        for (int i = 0; i < 4; i++) {
            cnn_arch_sample(space, &rng, &arch);
            check_in_space(&arch, space);
        }
        cnn_space_free(space);
    }
    free(text);
    return 0;
}
