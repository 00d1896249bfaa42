/* CNN architecture strings (--arch on a CNN space): one that parses is written back as the
 * same text and parses to the same architecture; the BigNAS space's check takes any of them,
 * and costs those it allows. */
#include "fuzz.h"

#include "cnn_arch.h"
#include "cnn_cost.h"
#include "cnn_space.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_text(data, size);
    Error err = {0};
    CnnArch arch;
    bool ok = cnn_arch_parse(text, &arch, &err);
    fuzz_expect(ok, &err, NULL);
    if (ok) {
        char formatted[CNN_ARCH_TEXT_MAX];
        cnn_arch_format(&arch, formatted, sizeof formatted);
        fuzz_assert(strcmp(formatted, text) == 0, "an architecture's text is not canonical");
        CnnArch again;
        Error again_err = {0};
        fuzz_assert(cnn_arch_parse(formatted, &again, &again_err) && cnn_arch_equal(&arch, &again),
                    "an architecture written back does not parse to itself");
        Error space_err = {0};
        CnnSpace *space =
            cnn_space_load_file(FUZZ_SOURCE_DIR "/configs/spaces/cnn-bignas.cfg", &space_err);
        fuzz_assert(space != NULL, "the BigNAS space does not load");
        Error check_err = {0};
        bool in = cnn_arch_check(&arch, space, &check_err);
        fuzz_expect(in, &check_err, NULL);
        if (in) fuzz_assert(cnn_arch_cost(&arch, space).params > 0, "no parameters");
        cnn_space_free(space);
    }
    free(text);
    return 0;
}
