#include "image.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
/* jpeglib.h needs stdio.h first, and jerror.h after it. */
#include <jpeglib.h>

#include <jerror.h>
#include <png.h>

/* Beyond this a file is more likely damaged (or hostile) than a photograph. */
enum { IMAGE_MAX_PIXELS = 1 << 28 };

bool image_file_name(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot) return false;
    static const char *const extensions[] = {".jpg", ".jpeg", ".png"};
    for (size_t i = 0; i < sizeof extensions / sizeof *extensions; i++)
        if (strcasecmp(dot, extensions[i]) == 0) return true;
    return false;
}

typedef enum { KIND_JPEG, KIND_PNG } ImageKind;

/* The format comes from the first bytes, not the name: collections scraped from the web
 * hold PNG files called .jpg and the reverse. */
static FILE *open_image(const char *path, ImageKind *kind, Error *err) {
    FILE *file = fopen(path, "rb");
    if (!file) {
        input_error(err, "cannot open: %m, %s", path);
        return NULL;
    }
    static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t head[8] = {0};
    size_t n = fread(head, 1, sizeof head, file);
    bool ok = true;
    if (ferror(file))
        ok = input_error(err, "read error: %m, %s", path);
    else if (n == sizeof head && memcmp(head, png_signature, sizeof head) == 0)
        *kind = KIND_PNG;
    else if (n >= 3 && head[0] == 0xff && head[1] == 0xd8 && head[2] == 0xff)
        *kind = KIND_JPEG;
    else
        ok = input_error(err, "neither a JPEG nor a PNG file (by its first bytes), %s", path);
    if (ok && fseek(file, 0, SEEK_SET) != 0) ok = input_error(err, "cannot seek: %m, %s", path);
    if (!ok) {
        fclose(file); /* already failing; its result adds nothing */
        return NULL;
    }
    return file;
}

static bool close_image(FILE *file, const char *path, bool ok, Error *err) {
    if (fclose(file) != 0 && ok) return input_error(err, "cannot close: %m, %s", path);
    return ok;
}

static bool check_dimensions(int64_t width, int64_t height, const char *path, Error *err) {
    if (width < 1 || height < 1 || width * height > IMAGE_MAX_PIXELS)
        return input_error(err, "implausible image size %lldx%lld, %s", (long long)width,
                           (long long)height, path);
    return true;
}

/* ---- JPEG ---- */

/* libjpeg reports errors by calling error_exit, which by default prints and exits the
 * process: ours jumps back to the decoding function with the message instead. */
typedef struct {
    struct jpeg_error_mgr manager;
    jmp_buf back;
    char message[JMSG_LENGTH_MAX];
} JpegErrors;

static void jpeg_fail(j_common_ptr jpeg) {
    JpegErrors *errors = (JpegErrors *)jpeg->err;
    (*jpeg->err->format_message)(jpeg, errors->message);
    longjmp(errors->back, 1);
}

/* libjpeg only warns about damaged data (a truncated file decodes with grey filling the
 * rest), which would put a broken image into the dataset: such warnings fail the file.
 * Extraneous bytes between markers damage nothing and are common in real collections. */
static void jpeg_message(j_common_ptr jpeg, int level) {
    if (level < 0 && jpeg->err->msg_code != JWRN_EXTRANEOUS_DATA) jpeg_fail(jpeg);
}

static bool read_jpeg(FILE *file, const char *path, Image *image, bool header_only, Error *err) {
    struct jpeg_decompress_struct jpeg;
    JpegErrors errors;
    uint8_t *volatile pixels = NULL;
    jpeg.err = jpeg_std_error(&errors.manager);
    errors.manager.error_exit = jpeg_fail;
    errors.manager.emit_message = jpeg_message;
    if (setjmp(errors.back)) {
        jpeg_destroy_decompress(&jpeg);
        free(pixels);
        return input_error(err, "corrupt JPEG (%s), %s", errors.message, path);
    }
    jpeg_create_decompress(&jpeg);
    jpeg_stdio_src(&jpeg, file);
    bool ok = jpeg_read_header(&jpeg, TRUE) == JPEG_HEADER_OK ||
              input_error(err, "a JPEG file without an image, %s", path);
    ok = ok && check_dimensions(jpeg.image_width, jpeg.image_height, path, err);
    if (ok) *image = (Image){.width = (int)jpeg.image_width, .height = (int)jpeg.image_height};
    if (ok && !header_only) {
        if (jpeg.jpeg_color_space == JCS_CMYK || jpeg.jpeg_color_space == JCS_YCCK)
            ok = input_error(err, "CMYK JPEG files are not supported, %s", path);
        jpeg.out_color_space = jpeg.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
    }
    /* With a stdio source libjpeg never suspends: FALSE here means the data ran out. */
    if (ok && !header_only)
        ok = jpeg_start_decompress(&jpeg) == TRUE ||
             input_error(err, "JPEG data ends early, %s", path);
    if (ok && !header_only) {
        const size_t stride = (size_t)jpeg.output_width * (size_t)jpeg.output_components;
        pixels = xmalloc(stride * jpeg.output_height);
        while (ok && jpeg.output_scanline < jpeg.output_height) {
            JSAMPROW row = pixels + stride * jpeg.output_scanline;
            ok = jpeg_read_scanlines(&jpeg, &row, 1) == 1 ||
                 input_error(err, "JPEG data ends early, %s", path);
        }
        ok = ok && (jpeg_finish_decompress(&jpeg) == TRUE ||
                    input_error(err, "JPEG data ends early, %s", path));
        image->pixels = pixels;
        image->channels = image->pixel_stride = jpeg.output_components;
    }
    jpeg_destroy_decompress(&jpeg);
    if (!ok) {
        free(pixels);
        image->pixels = NULL;
    }
    return ok;
}

/* ---- PNG (libpng's simplified API expands palettes, gray bit depths and tRNS) ---- */

static bool read_png(FILE *file, const char *path, Image *image, bool header_only, Error *err) {
    png_image png;
    memset(&png, 0, sizeof png);
    png.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_stdio(&png, file))
        return input_error(err, "corrupt PNG (%s), %s", png.message, path);
    bool ok = check_dimensions(png.width, png.height, path, err);
    *image = (Image){.width = (int)png.width, .height = (int)png.height};
    if (!ok || header_only) {
        png_image_free(&png);
        return ok;
    }
    /* 16-bit files without colour-space chunks come from tools that store sRGB values;
     * libpng would otherwise take them as linear and brighten them. */
    png.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
    /* Alpha is read (so that colours are not composited) and then ignored, like PIL. */
    png.format = (png.format & PNG_FORMAT_FLAG_COLOR ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY) |
                 (png.format & PNG_FORMAT_FLAG_ALPHA);
    uint8_t *pixels = xmalloc(PNG_IMAGE_SIZE(png));
    if (!png_image_finish_read(&png, NULL, pixels, 0, NULL)) {
        ok = input_error(err, "corrupt PNG (%s), %s", png.message, path);
        free(pixels);
        pixels = NULL;
    }
    image->pixels = pixels;
    image->pixel_stride = (int)PNG_IMAGE_PIXEL_CHANNELS(png.format);
    image->channels = png.format & PNG_FORMAT_FLAG_COLOR ? 3 : 1;
    png_image_free(&png);
    return ok;
}

static bool read_image(const char *path, Image *image, bool header_only, Error *err) {
    *image = (Image){0};
    ImageKind kind = KIND_JPEG; /* set by open_image; gcc cannot see it */
    FILE *file = open_image(path, &kind, err);
    if (!file) return false;
    bool ok = kind == KIND_JPEG ? read_jpeg(file, path, image, header_only, err)
                                : read_png(file, path, image, header_only, err);
    return close_image(file, path, ok, err);
}

bool image_probe(const char *path, int *width, int *height, Error *err) {
    Image image;
    if (!read_image(path, &image, true, err)) return false;
    *width = image.width;
    *height = image.height;
    return true;
}

bool image_decode(const char *path, Image *image, Error *err) {
    if (read_image(path, image, false, err)) return true;
    image_free(image);
    return false;
}

void image_free(Image *image) {
    free(image->pixels);
    image->pixels = NULL;
}
