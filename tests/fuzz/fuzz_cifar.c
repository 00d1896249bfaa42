/* CIFAR binary sources: the first byte chooses CIFAR-10 (odd) or CIFAR-100 (even), the parts
 * after it are that layout's files in the order below. */
#include "fuzz.h"

#include "h5.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const cifar10[] = {
        "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
        "data_batch_5.bin", "test_batch.bin",   "batches.meta.txt"};
    static const char *const cifar100[] = {"train.bin", "test.bin", "fine_label_names.txt"};
    enum { MAX_FILES = sizeof cifar10 / sizeof *cifar10 };
    if (size < 1) return 0;
    h5_silence();
    const bool is_10 = data[0] & 1;
    const char *const *names = is_10 ? cifar10 : cifar100;
    const int n_names = is_10 ? MAX_FILES : (int)(sizeof cifar100 / sizeof *cifar100);
    SourceOptions options = {.format = SOURCE_CIFAR, .path = fuzz_scratch()};
    FuzzPart parts[MAX_FILES];
    int n = fuzz_parts(data + 1, size - 1, parts, n_names);
    for (int i = 0; i < n; i++) free(fuzz_file(names[i], parts[i].data, parts[i].size));
    fuzz_pack(&options);
    return 0;
}
