/* prenas.dataset files (dataset.h5): the header, then the first rows of every split, read
 * directly and through the image store of training (streamed, and held in memory when small). */
#include "fuzz.h"

#include "dataset.h"

#include <stdlib.h>

enum { ROWS = 4, IN_MEMORY_MAX = 64 };

static bool read_split(DatasetFile *dataset, const SplitInfo *split, Error *err) {
    const int64_t n = split->count < ROWS ? split->count : ROWS;
    uint8_t *images = malloc((size_t)ROWS * image_bytes(dataset->shape));
    int32_t labels[ROWS];
    bool ok = dataset_read(dataset, split->name, 0, n, images, labels, err);
    for (int in_memory = 0; ok && in_memory <= (split->count <= IN_MEMORY_MAX); in_memory++) {
        SplitImages store;
        const bool opened = split_images_open(dataset, split->name, in_memory, &store, err);
        const int64_t rows[ROWS] = {n - 1, 0, 0, n - 1}; /* backwards, then a run */
        ok = opened && (n == 0 || split_images_gather(&store, rows, n, images, err));
        if (opened) split_images_close(&store);
    }
    free(images);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *path = fuzz_h5_input(data, size);
    Error err = {0};
    DatasetFile dataset;
    const bool opened = dataset_open(&dataset, path, &err);
    bool ok = opened;
    for (int s = 0; ok && s < dataset.n_splits; s++)
        ok = read_split(&dataset, &dataset.splits[s], &err);
    if (opened) dataset_close(&dataset);
    fuzz_h5_expect(ok, &err, path);
    free(path);
    return 0;
}
