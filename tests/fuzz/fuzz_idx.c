/* IDX (MNIST) sources: the input's parts are the files of a torchvision download. */
#include "fuzz.h"

#include "h5.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const names[] = {"train-labels-idx1-ubyte", "train-images-idx3-ubyte",
                                        "t10k-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                                        "classes.txt"};
    enum { N_NAMES = sizeof names / sizeof *names };
    h5_silence();
    SourceOptions options = {.format = SOURCE_IDX, .path = fuzz_scratch()};
    FuzzPart parts[N_NAMES];
    int n = fuzz_parts(data, size, parts, N_NAMES);
    char *paths[N_NAMES] = {0};
    for (int i = 0; i < n; i++) paths[i] = fuzz_file(names[i], parts[i].data, parts[i].size);
    options.class_names_path = paths[N_NAMES - 1];
    fuzz_pack(&options);
    for (int i = 0; i < n; i++) free(paths[i]);
    return 0;
}
