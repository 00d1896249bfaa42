#ifndef PRENAS_CNN_ARCH_H
#define PRENAS_CNN_ARCH_H

/* An architecture of a CNN search space (cnn_space.h): the input resolution, the stem's
 * width, per MBConv stage its width, depth, kernel size and expansion ratio (one each per
 * stage, as BigNAS samples them), and the head's width.
 *
 * Canonical text form, on every command line and in every log, no spaces:
 *     RES:STEM:CxDkKeE:...:HEAD        one CxDkKeE per stage, in order
 * RES the input side in pixels, STEM and HEAD the stem's and head conv's output channels, and
 * per stage C output channels "x" D layers, "k" kernel size, "e" expansion ratio. BigNAS's
 * smallest architecture (configs/spaces/cnn-bignas.cfg):
 *     192:32:16x1k3e1:24x2k3e6:40x2k3e6:80x2k3e6:112x2k3e6:192x2k3e6:320x1k3e6:1280
 * Numbers are plain decimals without sign or leading zero, so that one architecture has one
 * text (it can key a table) and format(parse(t)) == t. */

#include "cnn_space.h"
#include "error.h"
#include "rng.h"

#include <stdbool.h>
#include <stddef.h>

/* Every field at its largest: 4 + 4 + 12 x 13 + 4 characters and the separators. */
enum { CNN_ARCH_TEXT_MAX = 256 };

typedef struct {
    int channels, depth, kernel, expand_ratio;
} CnnStageArch;

typedef struct {
    int resolution;
    int stem_channels;
    int n_stages;
    CnnStageArch stages[CNN_MAX_STAGES];
    int head_channels;
} CnnArch;

/* Syntax and the limits of cnn_space.h only; cnn_arch_check tells whether a space allows it.
 * Errors are one line quoting the text: "architecture '<text>': <what>". */
bool cnn_arch_parse(const char *text, CnnArch *arch, Error *err);
void cnn_arch_format(const CnnArch *arch, char *buf, size_t size);
/* Whether the space allows it; the error names what is outside and the space's file:
 * "architecture <text>: stage 3 kernel 7 is not a choice (3, 5), <file>". */
bool cnn_arch_check(const CnnArch *arch, const CnnSpace *space, Error *err);
bool cnn_arch_equal(const CnnArch *a, const CnnArch *b);

/* Every choice at its smallest / largest (the largest holds every tensor of the supernet). */
void cnn_arch_smallest(const CnnSpace *space, CnnArch *arch);
void cnn_arch_largest(const CnnSpace *space, CnnArch *arch);
/* A uniformly random architecture of the space: the space is a product of its lists, so each
 * is drawn uniformly and independently, in the order resolution, stem, per stage (depth,
 * channels, kernel, expansion ratio), head; one rng_below per list. */
void cnn_arch_sample(const CnnSpace *space, Rng *rng, CnnArch *arch);

#endif
