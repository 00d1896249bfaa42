/* Architecture strings (--arch, --archs files, /archs of checkpoints): one that parses is
 * written back as the same text form and parses to the same subnet; the micro space's
 * membership check takes any of them. */
#include "fuzz.h"

#include "arch.h"
#include "space.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_text(data, size);
    Error err = {0};
    Arch arch;
    bool ok = arch_parse(text, &arch, &err);
    fuzz_expect(ok, &err, NULL);
    if (ok) {
        char formatted[ARCH_TEXT_MAX];
        arch_format(&arch, formatted, sizeof formatted);
        Arch again;
        Error again_err = {0};
        fuzz_assert(arch_parse(formatted, &again, &again_err) && arch_equal(&arch, &again),
                    "an architecture written back does not parse to itself");
        Error space_err = {0};
        Space *space = space_load_file(FUZZ_SOURCE_DIR "/configs/spaces/micro.cfg", &space_err);
        fuzz_assert(space != NULL, "the micro space does not load");
        Error check_err = {0};
        bool in = arch_check(&arch, space, &check_err);
        fuzz_expect(in, &check_err, NULL);
        fuzz_assert(in == arch_in_space(&arch, space), "arch_check and arch_in_space disagree");
        space_free(space);
    }
    free(text);
    return 0;
}
