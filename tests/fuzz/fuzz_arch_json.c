/* The reference's JSON form of a candidate (preferred JSON files): one that reads is written
 * back and reads as the same subnet. */
#include "fuzz.h"

#include "arch.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cJSON *json = cJSON_ParseWithLength((const char *)data, size);
    if (!json) return 0; /* cJSON's own parser is not ours */
    Error err = {0};
    Arch arch;
    bool ok = arch_from_json(json, &arch, &err);
    fuzz_expect(ok, &err, NULL);
    if (ok) {
        cJSON *written = arch_to_json(&arch);
        Arch again;
        Error again_err = {0};
        fuzz_assert(arch_from_json(written, &again, &again_err) && arch_equal(&arch, &again),
                    "a JSON architecture written back does not read as itself");
        cJSON_Delete(written);
    }
    cJSON_Delete(json);
    return 0;
}
