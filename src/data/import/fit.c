#include "image.h"

#include <math.h>
#include <stdlib.h>

/* Resampling one axis: output sample o is the weighted sum of source samples
 * first[o] .. first[o] + count[o] - 1, with weights[o * max_taps + k]. Separable filters keep
 * the cost at (taps per axis) rather than (taps squared) per output pixel. */
typedef struct {
    int max_taps;
    int *first, *count;
    float *weights;
} AxisFilter;

/* Output samples of [offset, offset + length) of the source axis: area averages (shrinking),
 * bilinear interpolation between pixel centres (enlarging), or the samples themselves. */
static AxisFilter axis_filter(int offset, int length, int out) {
    double scale = (double)length / out;
    AxisFilter f = {.max_taps = length > out ? (int)ceil(scale) + 1 : 2};
    f.first = xmalloc((size_t)out * sizeof *f.first);
    f.count = xmalloc((size_t)out * sizeof *f.count);
    f.weights = xcalloc((size_t)out * (size_t)f.max_taps, sizeof *f.weights);
    for (int o = 0; o < out; o++) {
        float *w = f.weights + (size_t)o * (size_t)f.max_taps;
        if (length == out) {
            f.first[o] = o;
            f.count[o] = 1;
            w[0] = 1;
        } else if (length > out) {
            double lo = o * scale, hi = (o + 1) * scale;
            int first = (int)floor(lo), end = (int)ceil(hi);
            if (end > length) end = length; /* rounding of the last interval's end */
            f.first[o] = first;
            f.count[o] = end - first;
            for (int j = first; j < end; j++)
                w[j - first] = (float)((fmin(hi, j + 1.0) - fmax(lo, (double)j)) / scale);
        } else {
            double x = (o + 0.5) * scale - 0.5;
            x = fmin(fmax(x, 0.0), length - 1.0);
            int left = (int)floor(x);
            double right_weight = x - left;
            f.first[o] = left;
            f.count[o] = left + 1 < length ? 2 : 1;
            w[0] = (float)(1.0 - right_weight);
            if (f.count[o] == 2) w[1] = (float)right_weight;
        }
        f.first[o] += offset;
    }
    return f;
}

static void axis_filter_free(AxisFilter *f) {
    free(f->first);
    free(f->count);
    free(f->weights);
}

static uint8_t to_byte(float v) {
    return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)(v + 0.5f);
}

static void store_pixel(const float *value, int channels, uint8_t *out, int out_channels) {
    if (channels == out_channels) {
        for (int c = 0; c < channels; c++) out[c] = to_byte(value[c]);
    } else if (channels == 3) { /* to gray */
        out[0] = to_byte(0.299f * value[0] + 0.587f * value[1] + 0.114f * value[2]);
    } else { /* gray to RGB */
        for (int c = 0; c < out_channels; c++) out[c] = to_byte(value[0]);
    }
}

void image_fit(const Image *src, int out_height, int out_width, int out_channels, uint8_t *out) {
    /* The largest centred region with the output's aspect ratio. */
    int crop_width = src->width, crop_height = src->height;
    if ((int64_t)src->width * out_height > (int64_t)src->height * out_width)
        crop_width = (int)llround((double)src->height * out_width / out_height);
    else
        crop_height = (int)llround((double)src->width * out_height / out_width);
    if (crop_width < 1) crop_width = 1;
    if (crop_height < 1) crop_height = 1;
    AxisFilter across = axis_filter((src->width - crop_width) / 2, crop_width, out_width);
    AxisFilter down = axis_filter((src->height - crop_height) / 2, crop_height, out_height);
    const int channels = src->channels, row_top = (src->height - crop_height) / 2;

    /* Horizontal pass over the rows of the crop, then vertical. */
    const size_t row_values = (size_t)out_width * (size_t)channels;
    float *rows = xmalloc((size_t)crop_height * row_values * sizeof *rows);
    for (int y = 0; y < crop_height; y++) {
        const uint8_t *in =
            src->pixels + (size_t)(row_top + y) * (size_t)src->width * (size_t)src->pixel_stride;
        float *row = rows + (size_t)y * row_values;
        for (int x = 0; x < out_width; x++) {
            const float *w = across.weights + (size_t)x * (size_t)across.max_taps;
            const uint8_t *p = in + (size_t)across.first[x] * (size_t)src->pixel_stride;
            for (int c = 0; c < channels; c++) {
                float sum = 0;
                for (int k = 0; k < across.count[x]; k++)
                    sum += w[k] * p[(size_t)k * (size_t)src->pixel_stride + (size_t)c];
                row[(size_t)x * (size_t)channels + (size_t)c] = sum;
            }
        }
    }
    for (int y = 0; y < out_height; y++) {
        const float *w = down.weights + (size_t)y * (size_t)down.max_taps;
        const float *first_row = rows + (size_t)(down.first[y] - row_top) * row_values;
        uint8_t *out_row = out + (size_t)y * (size_t)out_width * (size_t)out_channels;
        for (int x = 0; x < out_width; x++) {
            float value[3] = {0, 0, 0};
            for (int k = 0; k < down.count[y]; k++)
                for (int c = 0; c < channels; c++)
                    value[c] += w[k] * first_row[(size_t)k * row_values +
                                                 (size_t)x * (size_t)channels + (size_t)c];
            store_pixel(value, channels, out_row + (size_t)x * (size_t)out_channels, out_channels);
        }
    }
    free(rows);
    axis_filter_free(&across);
    axis_filter_free(&down);
}

bool image_load(const char *path, int height, int width, int channels, uint8_t *out, Error *err) {
    Image image;
    if (!image_decode(path, &image, err)) return false;
    image_fit(&image, height, width, channels, out);
    image_free(&image);
    return true;
}
