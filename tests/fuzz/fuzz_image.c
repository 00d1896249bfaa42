/* One image file as the folder walker meets it: probed for its size (folders without --size
 * take it from the files), then decoded and fitted to the packed shape, as prenas-pack and
 * prenas-predict do. */
#include "fuzz.h"

#include "image.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_scratch();
    char *path = fuzz_file("image.png", data, size);
    Error err = {0};
    int width, height;
    bool probed = image_probe(path, &width, &height, &err);
    fuzz_expect(probed, &err, path);
    Image image;
    Error decode_err = {0};
    bool decoded = image_decode(path, &image, &decode_err);
    fuzz_expect(decoded, &decode_err, path);
    if (decoded) {
        fuzz_assert(probed && image.width == width && image.height == height,
                    "the decoded size differs from the probed one");
        image_free(&image);
    }
    /* two packed shapes: shrinking and enlarging, gray and RGB */
    static const int shapes[][3] = {{8, 8, 3}, {5, 300, 1}};
    for (size_t s = 0; decoded && s < sizeof shapes / sizeof *shapes; s++) {
        uint8_t *out = malloc((size_t)shapes[s][0] * shapes[s][1] * shapes[s][2]);
        Error load_err = {0};
        fuzz_assert(image_load(path, shapes[s][0], shapes[s][1], shapes[s][2], out, &load_err),
                    "a decodable image does not load");
        free(out);
    }
    free(path);
    return 0;
}
