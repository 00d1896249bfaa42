#ifndef PRENAS_CNN_SCORES_H
#define PRENAS_CNN_SCORES_H

/* Zero-cost scores of the CNN family (method.md §13: PreNAS's CNN transfer ranks by plain SNIP,
 * paper Eq. 4, without the Eq. 13 layer normalisation of the ViT's isomers):
 *
 *  1. the pass (method.md §6.1): one forward and backward of a subnet of the supernet (the
 *     space's largest architecture, its resolution set to the pass's) in training mode, batch
 *     norm on batch statistics, on
 *       data-free images, every pixel N(0, 1) from the image's own stream (seed,
 *         RNG_STREAM_DATA_FREE, image index), as gradient_pass.c draws them, with the ViT's
 *         data-free objective L = sum of all logits; or
 *       given images with labels: L = the mean cross-entropy against targets smoothed by 0.1
 *         (§6.1's data mode);
 *  2. the saliency of every supernet parameter, |theta * dL/dtheta| (SNIP, Eq. 4, the
 *     reference's "taylor6", method.md §6.2), on the host in double: the product of two floats
 *     is exact there;
 *  3. tables of prefix sums of the saliency, so that the score of any architecture of the space,
 *     the saliency summed over exactly the entries of its views (cnn_net.h: first D layers of
 *     each stage, leading channels, the expanded width e x the layer's input width, the centred
 *     k x k crop of each depthwise kernel, SE's reduced width, the classifier's leading HEAD
 *     columns), costs one lookup per tensor the architecture uses.
 *
 * What counts: every parameter in the subnet's views, so that the entries summed are exactly
 * cnn_arch_cost's params: conv weights (SE's too), batch norm's gamma and beta, SE's biases, the
 * classifier's weight and bias. This mirrors the ViT's ranking score (method.md §6.4,
 * src/search/scores.h), which sums every inherited weight, bias and LayerNorm parameter and
 * leaves out only the class token, position embedding and relative-position tables, which have
 * no counterpart here. At initialisation betas and biases are 0 and add nothing; gammas at 1
 * add |dL/dgamma|.
 *
 * The pass's resolution enters the score only through the gradients (one pass, at one
 * resolution, for every architecture: the ViT's likewise has one image size); the resolution an
 * architecture chooses enters its FLOPs (cnn_cost.h), by which it is grouped (cnn_select.h). */

#include "backend.h"
#include "cnn_arch.h"
#include "cnn_net.h"
#include "cnn_space.h"
#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A supernet of the space's shape for the pass, with activations for `batch` images at
 * `resolution` only (not at the space's largest: the activations are the pass's memory, the
 * parameters do not depend on the resolution). NULL with err set as cnn_net_create. */
CnnNet *cnn_score_net_create(const Backend *be, const CnnSpace *space, int resolution, int batch,
                             Error *err);

/* cnn_net_init, then, unless `bignas_gamma`, every gamma cnn_net_init sets to 0 (BigNAS's last
 * BN of each residual block, project.bn.weight of every layer but a stage's first) set to 1, as
 * torchvision's MobileNetV2 initialises them. Why: with gamma 0 a residual branch outputs 0 and
 * passes back no gradient, so every parameter of every layer but a stage's first has saliency
 * exactly 0 and SNIP is blind to depth (docs/benchmarks.md "CNN zero-cost selection" shows
 * the degenerate ranking). */
void cnn_score_init(CnnNet *net, uint64_t seed, bool bignas_gamma);

/* `batch` data-free images [batch, channels, side, side] on the host: image i's pixels N(0, 1)
 * from stream (seed, RNG_STREAM_DATA_FREE, i). N(0, 1), not the ViT spaces' raw ImageNet
 * statistics: a CNN space gives none, the training pipeline feeds normalised images, and the
 * stem conv (no bias) is followed by batch norm on batch statistics, so a per-channel scale and
 * shift of the input changes only what the zero padding at the borders sees. */
void cnn_data_free_images(real *images, int batch, int channels, int side, uint64_t seed);

/* The pass: gradients of `arch` (which must fit the net) on host images [batch, in_channels, R,
 * R] at R = arch->resolution into net->table.grads, zeroed first. labels NULL: L = sum of all
 * logits; else [batch] class indices: mean smoothed cross-entropy. Returns L. */
double cnn_score_pass(CnnNet *net, const CnnArch *arch, const real *images, const int *labels,
                      int batch);

/* |theta * grad| of every supernet parameter, in the table's layout [table.n_params]
 * (xmalloc'd; the caller frees). */
double *cnn_saliency(const CnnNet *net);

/* Prefix sums of one supernet tensor seen as [rows, cols, K, K] (a conv weight [out, in / groups,
 * K, K]; a linear weight [out, in] with K = 1; a per-channel vector [C] as [C, 1]):
 * sum[k][r][c] = the saliency over rows [0, r), columns [0, c) and the centred k x k of each
 * kernel, for every k in kernels. Leading blocks only: every view starts at 0. */
typedef struct {
    int rows, cols, n_kernels;
    int kernels[CNN_MAX_CHOICES];
    double *sum; /* [n_kernels][rows + 1][cols + 1] */
} CnnPrefix;

typedef struct {
    CnnPrefix weight, bn_weight, bn_bias;
} CnnConvBnPrefix;

typedef struct {
    CnnConvBnPrefix expand, depthwise, project; /* expand: empty where the net has none */
    CnnPrefix se_reduce_weight, se_reduce_bias, se_expand_weight, se_expand_bias;
} CnnLayerPrefix;

/* The tables of one pass, and the supernet's shape they need (they outlive the net). */
typedef struct {
    int in_channels, classes, stem_kernel, n_stages, depth[CNN_MAX_STAGES];
    CnnLayerDims dims[CNN_MAX_STAGES][CNN_MAX_DEPTH];
    CnnConvBnPrefix stem, head;
    CnnLayerPrefix layers[CNN_MAX_STAGES][CNN_MAX_DEPTH];
    CnnPrefix classifier_weight, classifier_bias;
    size_t bytes; /* of all prefix sums */
} CnnScoreTables;

/* Tables from the saliency (cnn_saliency) of `net`, for the kernel sizes `space` allows (the
 * net's space). */
CnnScoreTables *cnn_score_tables_build(const CnnNet *net, const CnnSpace *space,
                                       const double *saliency);
void cnn_score_tables_free(CnnScoreTables *tables);

/* The SNIP score of an architecture of the space: its views' saliency summed, from the tables
 * (one lookup per tensor it uses). */
double cnn_score(const CnnScoreTables *tables, const CnnArch *arch);

#endif
