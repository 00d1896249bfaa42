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

/* ---- PNG ---- */

/* libpng's lower-level API, not its simplified one (png_image): that one converts the samples
 * to the sRGB curve its 8-bit output assumes whenever a file declares another gamma (gAMA,
 * cHRM, iCCP), so a file with gAMA 1/1.8 read brighter than its stored values. PIL, and so the
 * reference's loader, returns the stored samples; here libpng transforms only what is asked
 * below, and gamma is never asked. libpng reports errors by longjmp, as libjpeg does. */
typedef struct {
    jmp_buf back;
    char message[256];
} PngErrors;

static void png_fail(png_structp png, png_const_charp message) {
    PngErrors *errors = png_get_error_ptr(png);
    snprintf(errors->message, sizeof errors->message, "%s", message);
    longjmp(errors->back, 1);
}

/* Warnings (an sRGB profile libpng knows to be wrong, a damaged ancillary chunk) leave the
 * samples intact; printing them would break the one-line error contract. */
static void png_ignore_warning(png_structp png, png_const_charp message) {
    (void)png, (void)message;
}

static bool read_png(FILE *file, const char *path, Image *image, bool header_only, Error *err) {
    PngErrors errors;
    png_structp png =
        png_create_read_struct(PNG_LIBPNG_VER_STRING, &errors, png_fail, png_ignore_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) fatal_at(__FILE__, __LINE__, "libpng: out of memory");
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(errors.back)) {
        png_destroy_read_struct(&png, &info, NULL);
        free(pixels);
        free(rows);
        image->pixels = NULL;
        return input_error(err, "corrupt PNG (%s), %s", errors.message, path);
    }
    png_init_io(png, file);
    png_read_info(png, info);
    const png_uint_32 width = png_get_image_width(png, info);
    const png_uint_32 height = png_get_image_height(png, info);
    bool ok = check_dimensions(width, height, path, err);
    *image = (Image){.width = (int)width, .height = (int)height};
    if (ok && !header_only) {
        /* Palettes to RGB, gray below 8 bits to 8, tRNS to an alpha channel (kept, and
         * ignored like PIL's convert("RGB") drops it); 16 bits to 8 as round(v * 255 / 65535),
         * the stored value rescaled. */
        png_set_expand(png);
        png_set_scale_16(png);
        png_set_interlace_handling(png);
        png_read_update_info(png, info);
        const size_t stride = png_get_rowbytes(png, info);
        pixels = xmalloc(stride * height);
        rows = xmalloc(height * sizeof *rows);
        for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + y * stride;
        png_read_image(png, rows);
        png_read_end(png, NULL);
        image->pixels = pixels;
        image->pixel_stride = png_get_channels(png, info);
        image->channels = png_get_color_type(png, info) & PNG_COLOR_MASK_COLOR ? 3 : 1;
    }
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
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
