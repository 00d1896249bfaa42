#ifndef PRENAS_IMPORT_IMAGE_H
#define PRENAS_IMPORT_IMAGE_H

/* Single images: decoding JPEG and PNG files (decode.c) and fitting any image to the packed
 * shape (fit.c). Every function here is safe to call from several threads at once. */

#include "error.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint8_t *pixels; /* rows top to bottom, pixels left to right */
    int width, height;
    int pixel_stride; /* bytes from one pixel to the next: `channels`, or one more for alpha */
    int channels;     /* colour channels first in each pixel: 1 gray, 3 RGB */
} Image;

/* A name ending in .jpg, .jpeg or .png, in any case. */
bool image_file_name(const char *name);
/* The file's dimensions, from its header only. */
bool image_probe(const char *path, int *width, int *height, Error *err);
/* The whole image, 8 bits per channel, gray or RGB as stored (a PNG's samples whatever gamma
 * it declares; an alpha channel is kept but ignored by image_fit, as PIL's convert("RGB")
 * drops it); free with image_free. */
bool image_decode(const char *path, Image *image, Error *err);
void image_free(Image *image);

/* Cuts the centred region of `src` with the output's aspect ratio (for a square output, the
 * central square whose side is the shorter side) and resamples it to out_height x out_width:
 * each output pixel is the area average of the source pixels it covers when shrinking, and
 * bilinear between pixel centres when enlarging. Channels convert at the end: gray to RGB by
 * copying, RGB to gray as the luminance 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601).
 * `out` is uint8 [out_height, out_width, out_channels]. */
void image_fit(const Image *src, int out_height, int out_width, int out_channels, uint8_t *out);

/* One JPEG or PNG file as prenas-pack stores it, and so as a model trained on a packed folder
 * saw it: image_decode, then image_fit to uint8 [height, width, channels]. Errors name the file
 * and why (unreadable, neither JPEG nor PNG, damaged). */
bool image_load(const char *path, int height, int width, int channels, uint8_t *out, Error *err);

#endif
