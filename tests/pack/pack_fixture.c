/* Image folders for the prenas-pack tests, written with libpng's and libjpeg's own encoders,
 * and the checks of what the packer made of them.
 *
 *   pack_fixture make DIR            DIR/splits: train/val/test class folders, images of
 *                                    every kind and size; DIR/flat: class folders of 8x8 images
 *   pack_fixture check FILE.h5 C     DIR/splits packed with --size 8 --channels C
 *   pack_fixture check-flat FILE.h5  DIR/flat packed without --size
 *
 * Every image has the pixel function it was written from and the function its 8x8 packed
 * form must match, within a tolerance that is 0 for PNG and a few levels for JPEG. PNG files
 * with a gAMA chunk must come back as stored, as PIL returns them; images in sub-folders of a
 * class folder belong to the class, in torchvision ImageFolder's order (by folder path, then
 * by name). */
#include "check.h"

#include "dataset.h"
#include "h5.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
/* jpeglib.h needs stdio.h first */
#include <jpeglib.h>

enum { SIZE = 8 }; /* the --size the tests pack with */

typedef enum {
    PNG_GRAY,
    PNG_GRAY_ALPHA,
    PNG_RGB,
    PNG_RGBA,
    PNG_RGB16,
    PNG_PALETTE,
    JPEG_RGB,
    JPEG_GRAY
} Kind;

/* gAMA chunks in libpng's fixed point (gamma x 100000); 0 writes none. */
enum { GAMMA_1_8 = 55556, GAMMA_1_0 = 100000 };

typedef int (*PixelFunction)(int x, int y, int c); /* c = 3: alpha */

typedef struct {
    const char *split, *path; /* path under DIR/splits */
    int label;
    Kind kind;
    int width, height;
    PixelFunction source;   /* what is written */
    PixelFunction expected; /* the SIZE x SIZE RGB result */
    int tolerance;
    int gamma; /* of the gAMA chunk of a PNG file */
} FixtureImage;

static int orange(int x, int y, int c) {
    (void)x, (void)y;
    return c == 3 ? 255 : (int[]){200, 100, 50}[c];
}
static int teal(int x, int y, int c) {
    (void)x, (void)y;
    return (int[]){10, 20, 30, 255}[c];
}
static int violet(int x, int y, int c) {
    (void)x, (void)y;
    return (int[]){120, 60, 200, 255}[c];
}
static int gray_99(int x, int y, int c) {
    (void)x, (void)y, (void)c;
    return 99;
}
static int gray_77(int x, int y, int c) {
    (void)x, (void)y, (void)c;
    return 77;
}
/* Distinct values per block and channel. */
static int block(int x, int y, int c) {
    return c == 3 ? 255 : (x * 29 + y * 13 + c * 80) % 256;
}
/* 2x2 blocks of `block`: shrinking by two must give `block` back exactly. */
static int blocks_2x2(int x, int y, int c) {
    return block(x / 2, y / 2, c);
}
/* 16 wide, 24 tall: the central 16x16 (rows 4..19) is 2x2 blocks; the rows cropped away
 * are white, so a crop in the wrong place shows. */
static int tall_blocks(int x, int y, int c) {
    return y >= 4 && y < 20 ? block(x / 2, (y - 4) / 2, c) : 255;
}
static int gradient(int x, int y, int c) {
    (void)c;
    return x * 30 + y * 3;
}
static int four_colours(int x, int y, int c) {
    static const int colours[4][3] = {{255, 0, 0}, {0, 128, 0}, {20, 40, 250}, {90, 90, 90}};
    return colours[(x / 2 + y / 2) % 4][c];
}
static int four_colours_shrunk(int x, int y, int c) {
    return four_colours(2 * x, 2 * y, c);
}
/* Colours with every alpha from transparent to opaque: the colours must survive. */
static int translucent(int x, int y, int c) {
    return c == 3 ? x * 36 : block(x, y, c);
}
static int smooth(int x, int y, int c) {
    return 40 + 4 * x + 3 * y + 20 * c;
}
/* The mean of `smooth` over the 3x3 source pixels of each output pixel (24 -> 8). */
static int smooth_shrunk(int x, int y, int c) {
    return smooth(3 * x + 1, 3 * y + 1, c);
}

static const FixtureImage IMAGES[] = {
    {"train", "train/cat/a_wide.png", 0, PNG_RGB, 20, 12, orange, orange, 0, 0},
    {"train", "train/cat/b_blocks.png", 0, PNG_RGB, 16, 16, blocks_2x2, block, 0, 0},
    {"train", "train/cat/c_tall.png", 0, PNG_RGB, 16, 24, tall_blocks, block, 0, 0},
    {"train", "train/cat/d_gamma.png", 0, PNG_GRAY, 8, 8, gradient, gradient, 0, GAMMA_1_8},
    {"train", "train/cat/e_linear.png", 0, PNG_RGB, 8, 8, block, block, 0, GAMMA_1_0},
    {"train", "train/dog/d_gray.png", 1, PNG_GRAY, 8, 8, gradient, gradient, 0, 0},
    {"train", "train/dog/e_palette.png", 1, PNG_PALETTE, 16, 16, four_colours, four_colours_shrunk,
     0, 0},
    {"train", "train/dog/f_alpha.PNG", 1, PNG_RGBA, 8, 8, translucent, translucent, 0, 0},
    {"train", "train/dog/g_gray_alpha.png", 1, PNG_GRAY_ALPHA, 8, 8, translucent, translucent, 0,
     GAMMA_1_8},
    /* Sub-folders: "thumbs" < "thumbs-2" < "thumbs/deep" as paths, as Python sorts them. */
    {"train", "train/dog/thumbs/x.png", 1, PNG_GRAY, 8, 8, gray_77, gray_77, 0, 0},
    {"train", "train/dog/thumbs-2/y.png", 1, PNG_RGB, 8, 8, violet, violet, 0, 0},
    {"train", "train/dog/thumbs/deep/z.png", 1, PNG_GRAY, 8, 8, gray_99, gray_99, 0, 0},
    {"train", "train/zebra/g_deep.png", 2, PNG_RGB16, 8, 8, block, block, 0, 0},
    {"train", "train/zebra/g_deep_linear.png", 2, PNG_RGB16, 8, 8, block, block, 0, GAMMA_1_0},
    {"train", "train/zebra/g_palette_gamma.png", 2, PNG_PALETTE, 8, 8, four_colours, four_colours,
     0, GAMMA_1_8},
    {"train", "train/zebra/h_photo.jpg", 2, JPEG_RGB, 24, 24, smooth, smooth_shrunk, 6, 0},
    {"train", "train/zebra/i_small.jpeg", 2, JPEG_GRAY, 4, 4, gray_77, gray_77, 2, 0},
    {"val", "val/cat/j_val.png", 0, PNG_RGB, 8, 8, teal, teal, 0, 0},
    {"val", "val/dog/k_val.JPG", 1, JPEG_RGB, 16, 16, violet, violet, 4, 0},
    {"test", "test/cat/m_test.png", 0, PNG_RGBA, 16, 16, blocks_2x2, block, 0, 0},
    {"test", "test/zebra/l_test.png", 2, PNG_GRAY, 32, 32, gray_99, gray_99, 0, 0},
};
enum { N_IMAGES = sizeof IMAGES / sizeof *IMAGES };
/* Entries that are not images, all to be skipped and counted. */
static const char *const NOT_IMAGES[] = {"README.md", "train/LICENSE", "train/cat/notes.txt",
                                         "train/dog/thumbs/deep/Thumbs.db"};
static const char *const CLASSES[] = {"cat", "dog", "zebra"};

/* The fixture image written at `path` (under DIR/splits). */
static const FixtureImage *image_at(const char *path) {
    for (int i = 0; i < N_IMAGES; i++)
        if (strcmp(IMAGES[i].path, path) == 0) return &IMAGES[i];
    fprintf(stderr, "pack_fixture: no image %s\n", path);
    exit(1);
}

/* ---- writing ---- */

static void make_parents(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *slash = strchr(dir + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
            perror(dir);
            exit(1);
        }
        *slash = '/';
    }
}

static FILE *create(const char *path) {
    make_parents(path);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    return f;
}

static void close_written(FILE *f, const char *path) {
    if (fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static int kind_channels(Kind kind) {
    switch (kind) {
    case PNG_GRAY:
    case JPEG_GRAY:
        return 1;
    case PNG_GRAY_ALPHA:
        return 2;
    case PNG_RGBA:
        return 4;
    default:
        return 3;
    }
}

static bool kind_gray(Kind kind) {
    return kind_channels(kind) <= 2;
}

static void write_png(const char *path, const FixtureImage *im) {
    FILE *f = create(path);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        fprintf(stderr, "libpng: out of memory\n");
        exit(1);
    }
    if (setjmp(png_jmpbuf(png))) {
        fprintf(stderr, "libpng failed writing %s\n", path);
        exit(1);
    }
    png_init_io(png, f);
    const int channels = im->kind == PNG_PALETTE ? 1 : kind_channels(im->kind);
    const int depth = im->kind == PNG_RGB16 ? 16 : 8;
    static const int color_types[] = {
        [PNG_GRAY] = PNG_COLOR_TYPE_GRAY, [PNG_GRAY_ALPHA] = PNG_COLOR_TYPE_GRAY_ALPHA,
        [PNG_RGB] = PNG_COLOR_TYPE_RGB,   [PNG_RGBA] = PNG_COLOR_TYPE_RGB_ALPHA,
        [PNG_RGB16] = PNG_COLOR_TYPE_RGB, [PNG_PALETTE] = PNG_COLOR_TYPE_PALETTE};
    png_set_IHDR(png, info, (png_uint_32)im->width, (png_uint_32)im->height, depth,
                 color_types[im->kind], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    /* The palette: the image's distinct colours in order of appearance. */
    png_color palette[256];
    int n_colours = 0;
    const size_t row_bytes = (size_t)im->width * (size_t)channels * (size_t)(depth / 8);
    uint8_t *pixels = malloc(row_bytes * (size_t)im->height);
    for (int y = 0; y < im->height; y++)
        for (int x = 0; x < im->width; x++) {
            uint8_t *p =
                pixels + (size_t)y * row_bytes + (size_t)x * (size_t)channels * (depth / 8);
            if (im->kind == PNG_PALETTE) {
                png_color colour = {(png_byte)im->source(x, y, 0), (png_byte)im->source(x, y, 1),
                                    (png_byte)im->source(x, y, 2)};
                int k = 0;
                while (k < n_colours && memcmp(&palette[k], &colour, sizeof colour) != 0) k++;
                if (k == n_colours) palette[n_colours++] = colour;
                p[0] = (uint8_t)k;
            } else {
                for (int c = 0; c < channels; c++) {
                    /* alpha is the pixel function's channel 3 */
                    int v = im->source(x, y, channels == 2 && c == 1 ? 3 : c);
                    if (depth == 16) {
                        p[2 * c] = p[2 * c + 1] = (uint8_t)v; /* v * 257, big-endian */
                    } else {
                        p[c] = (uint8_t)v;
                    }
                }
            }
        }
    if (im->kind == PNG_PALETTE) png_set_PLTE(png, info, palette, n_colours);
    if (im->gamma) png_set_gAMA_fixed(png, info, im->gamma);
    png_write_info(png, info);
    for (int y = 0; y < im->height; y++) png_write_row(png, pixels + (size_t)y * row_bytes);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(pixels);
    close_written(f, path);
}

/* libjpeg's default error handler prints and exits: right for a fixture. */
static void write_jpeg(const char *path, const FixtureImage *im) {
    FILE *f = create(path);
    struct jpeg_compress_struct jpeg;
    struct jpeg_error_mgr errors;
    jpeg.err = jpeg_std_error(&errors);
    jpeg_create_compress(&jpeg);
    jpeg_stdio_dest(&jpeg, f);
    const int channels = kind_channels(im->kind);
    jpeg.image_width = (JDIMENSION)im->width;
    jpeg.image_height = (JDIMENSION)im->height;
    jpeg.input_components = channels;
    jpeg.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&jpeg);
    jpeg_set_quality(&jpeg, 95, TRUE);
    jpeg_start_compress(&jpeg, TRUE);
    uint8_t row[3 * 64];
    for (int y = 0; y < im->height; y++) {
        for (int x = 0; x < im->width; x++)
            for (int c = 0; c < channels; c++) row[x * channels + c] = (uint8_t)im->source(x, y, c);
        JSAMPROW rows[1] = {row};
        jpeg_write_scanlines(&jpeg, rows, 1);
    }
    jpeg_finish_compress(&jpeg);
    jpeg_destroy_compress(&jpeg);
    close_written(f, path);
}

static void write_image(const char *path, const FixtureImage *im) {
    if (im->kind == JPEG_RGB || im->kind == JPEG_GRAY)
        write_jpeg(path, im);
    else
        write_png(path, im);
}

static void make(const char *dir) {
    char path[4096];
    for (int i = 0; i < N_IMAGES; i++) {
        snprintf(path, sizeof path, "%s/splits/%s", dir, IMAGES[i].path);
        write_image(path, &IMAGES[i]);
    }
    for (size_t i = 0; i < sizeof NOT_IMAGES / sizeof *NOT_IMAGES; i++) {
        snprintf(path, sizeof path, "%s/splits/%s", dir, NOT_IMAGES[i]);
        close_written(create(path), path);
    }
    /* The flat layout, one common square size: classes "one" and "two". */
    snprintf(path, sizeof path, "%s/flat/one/gradient.png", dir);
    write_image(path, image_at("train/dog/d_gray.png"));
    snprintf(path, sizeof path, "%s/flat/two/teal.png", dir);
    write_image(path, image_at("val/cat/j_val.png"));
    snprintf(path, sizeof path, "%s/flat/two/violet.jpg", dir);
    write_image(path, &(FixtureImage){.kind = JPEG_RGB, .width = 8, .height = 8, .source = violet});
}

/* ---- checking ---- */

static int expected_value(const FixtureImage *im, int x, int y, int c, int channels) {
    const bool gray = kind_gray(im->kind);
    if (channels == 3) return im->expected(x, y, gray ? 0 : c);
    if (gray) return im->expected(x, y, 0);
    return (int)(0.299 * im->expected(x, y, 0) + 0.587 * im->expected(x, y, 1) +
                 0.114 * im->expected(x, y, 2) + 0.5);
}

/* The largest difference from the expected image. */
static int image_error(const FixtureImage *im, const uint8_t *got, int channels) {
    int worst = 0;
    for (int y = 0; y < SIZE; y++)
        for (int x = 0; x < SIZE; x++)
            for (int c = 0; c < channels; c++) {
                int d =
                    abs(got[(y * SIZE + x) * channels + c] - expected_value(im, x, y, c, channels));
                if (d > worst) worst = d;
            }
    return worst;
}

static void check_split(DatasetFile *ds, const char *split, int channels) {
    const SplitInfo *info = dataset_split(ds, split);
    if (!CHECK(info != NULL)) return;
    int64_t want = 0;
    for (int i = 0; i < N_IMAGES; i++) want += strcmp(IMAGES[i].split, split) == 0;
    CHECK_EQ_I64(info->count, want);
    if (info->count != want) return;
    uint8_t *images = malloc((size_t)want * SIZE * SIZE * (size_t)channels);
    int32_t *labels = malloc((size_t)want * sizeof *labels);
    Error err = {0};
    if (!CHECK(dataset_read(ds, split, 0, want, images, labels, &err))) {
        fprintf(stderr, "%s\n", err.message);
        return;
    }
    int row = 0;
    for (int i = 0; i < N_IMAGES; i++) {
        const FixtureImage *im = &IMAGES[i];
        if (strcmp(im->split, split) != 0) continue;
        CHECK_EQ_I64(labels[row], im->label);
        /* Gray output of colour images: float rounding may move a .5 by one. */
        int tolerance = im->tolerance + (channels == 1 && !kind_gray(im->kind));
        int error =
            image_error(im, images + (size_t)row * SIZE * SIZE * (size_t)channels, channels);
        if (!CHECK(error <= tolerance))
            fprintf(stderr, "     %s: off by up to %d (tolerance %d)\n", im->path, error,
                    tolerance);
        row++;
    }
    free(images);
    free(labels);
}

static void check(const char *path, int channels) {
    Error err = {0};
    DatasetFile ds;
    if (!CHECK(dataset_open(&ds, path, &err))) {
        fprintf(stderr, "%s\n", err.message);
        return;
    }
    CHECK_EQ_I64(ds.shape.height, SIZE);
    CHECK_EQ_I64(ds.shape.width, SIZE);
    CHECK_EQ_I64(ds.shape.channels, channels);
    CHECK_EQ_I64(ds.shape.num_classes, 3);
    for (int k = 0; k < 3 && k < ds.shape.num_classes; k++)
        CHECK(strcmp(ds.class_names[k], CLASSES[k]) == 0);
    CHECK_EQ_I64(ds.n_splits, 3);
    check_split(&ds, "train", channels);
    check_split(&ds, "val", channels);
    check_split(&ds, "test", channels);
    const SplitInfo *val = dataset_split(&ds, "val");
    if (val) CHECK_STR_CONTAINS(val->source, "the source's own validation split");
    dataset_close(&ds);
}

static void check_flat(const char *path) {
    Error err = {0};
    DatasetFile ds;
    if (!CHECK(dataset_open(&ds, path, &err))) {
        fprintf(stderr, "%s\n", err.message);
        return;
    }
    CHECK_EQ_I64(ds.shape.height, 8);
    CHECK_EQ_I64(ds.shape.channels, 3);
    CHECK_EQ_I64(ds.shape.num_classes, 2);
    CHECK(strcmp(ds.class_names[0], "one") == 0 && strcmp(ds.class_names[1], "two") == 0);
    CHECK_EQ_I64(ds.n_splits, 1);
    uint8_t images[3 * 8 * 8 * 3];
    int32_t labels[3];
    if (CHECK(dataset_read(&ds, "train", 0, 3, images, labels, &err))) {
        CHECK(labels[0] == 0 && labels[1] == 1 && labels[2] == 1);
        CHECK_EQ_I64(image_error(image_at("train/dog/d_gray.png"), images, 3), 0);
        CHECK_EQ_I64(image_error(image_at("val/cat/j_val.png"), images + 8 * 8 * 3, 3), 0);
        CHECK(image_error(image_at("val/dog/k_val.JPG"), images + 2 * 8 * 8 * 3, 3) <= 4);
    }
    dataset_close(&ds);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "make") == 0) {
        make(argv[2]);
        return 0;
    }
    h5_silence();
    if (argc == 4 && strcmp(argv[1], "check") == 0)
        check(argv[2], atoi(argv[3]));
    else if (argc == 3 && strcmp(argv[1], "check-flat") == 0)
        check_flat(argv[2]);
    else {
        fprintf(stderr, "usage: pack_fixture make DIR | check FILE.h5 CHANNELS | "
                        "check-flat FILE.h5\n");
        return 2;
    }
    return check_summary();
}
