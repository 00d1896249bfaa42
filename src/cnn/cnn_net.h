#ifndef PRENAS_CNN_NET_H
#define PRENAS_CNN_NET_H

/* The weight-entangled BigNAS MBConv supernet (method.md §13, src/cnn/cnn_space.h): every
 * tensor at the shape of the space's largest architecture (every stage at its largest width,
 * depth, kernel and expansion; stem and head at their largest widths) in the one parameter
 * table (param_table.h), named as a torch.nn model's state_dict would name it; any subnet
 * (cnn_arch.h) runs forward and backward on views of those tensors, BigNAS's weight sharing:
 *   - depth: the first D layers of each stage (BigNAS keeps the first layers);
 *   - width: the leading channels of every tensor; a layer's expanded width is
 *     e x its input width, the leading channels of the supernet's expanded tensor;
 *   - kernel: the centred k x k crop of each depthwise K x K kernel;
 *   - SE: reduced width max(1, floor(C_in / 4)) of the subnet's input width C_in
 *     (cnn_se_channels, as cnn_cost counts it), the leading rows and columns of SE's tensors;
 *   - classifier: its leading HEAD input columns.
 * So a subnet's parameters are exactly cnn_arch_cost's, and the gradients of everything
 * outside its views stay exactly zero. Activations are sized once, for the largest subnet at
 * the largest resolution and max_batch; every op goes through be->ops.
 *
 * Tensor names and shapes (PyTorch's Conv2d [out, in / groups, k, k], BatchNorm2d [C],
 * Linear [out, in]); S the stage and L the layer, from 0; they are the checkpoint format:
 *   stem.conv.weight [STEM, c_in, k, k], stem.bn.weight, stem.bn.bias [STEM]
 *   stages.S.L.expand.conv.weight [MID, C_in, 1, 1], .expand.bn.weight/.bias [MID]
 *       (only in stages whose largest expansion ratio is above 1: MobileNetV2 has no
 *       expansion conv at e = 1)
 *   stages.S.L.depthwise.conv.weight [MID, 1, K, K], .depthwise.bn.weight/.bias [MID]
 *   stages.S.L.se.reduce.weight [SE, MID, 1, 1], .se.reduce.bias [SE],
 *   stages.S.L.se.expand.weight [MID, SE, 1, 1], .se.expand.bias [MID]   (SE stages only)
 *   stages.S.L.project.conv.weight [C_out, MID, 1, 1], .project.bn.weight/.bias [C_out]
 *   head.conv.weight [HEAD, C_last, 1, 1], head.bn.weight/.bias [HEAD]
 *   classifier.weight [classes, HEAD], classifier.bias [classes]
 * with the supernet's C_in (the previous stage's, or the stem's, largest width for L = 0),
 * MID = largest e x C_in, SE = cnn_se_channels(C_in), K the stage's largest kernel.
 *
 * Batch norm: eps 1e-5, PyTorch's BatchNorm2d default (torchvision's MobileNetV2, OFA). The
 * supernet holds no running statistics: BigNAS recalibrates each subnet's on training batches
 * before it is evaluated (CnnBnStats below), so training normalises by batch statistics and
 * updates nothing. */

#include "backend.h"
#include "cnn_arch.h"
#include "cnn_space.h"
#include "error.h"
#include "kernels.h"
#include "param_table.h"

#include <stdbool.h>
#include <stdint.h>

/* A convolution followed by batch norm: views of the conv weight and BN's gamma and beta. */
typedef struct {
    real *weight, *bn_weight, *bn_bias;
} CnnConvBn;

typedef struct {
    CnnConvBn expand; /* all NULL in a stage whose largest expansion ratio is 1 */
    CnnConvBn depthwise;
    real *se_reduce_weight, *se_reduce_bias, *se_expand_weight, *se_expand_bias; /* NULL: no SE */
    CnnConvBn project;
} CnnLayerTensors;

typedef struct {
    CnnConvBn stem;
    CnnLayerTensors layers[CNN_MAX_STAGES][CNN_MAX_DEPTH];
    CnnConvBn head;
    real *classifier_weight, *classifier_bias;
} CnnTensors;

/* A layer of the supernet at its largest: input, expanded, SE and output widths, the largest
 * kernel, its stride (the stage's on layer 0, else 1), and whether it has an expansion conv,
 * SE and a residual (every layer of a stage but its first: structural, docs/spaces.md). */
typedef struct {
    int in, mid, se, out, kernel, stride;
    bool expand, has_se, residual;
} CnnLayerDims;

typedef struct CnnActivations CnnActivations;

typedef struct {
    /* the tensors (names, shapes, init, decay) and their arenas; table.be is where they live and
     * the ops run (it outlives the net) */
    ParamTable table;
    CnnTensors p, g; /* named views into table.params and table.grads */

    /* the space's fixed facts (what an architecture does not choose) and the supernet's shape */
    int in_channels, classes, stem_kernel, stem_stride, stem_channels, head_channels;
    int n_stages, depth[CNN_MAX_STAGES], max_resolution;
    CnnActivation activation;
    CnnLayerDims dims[CNN_MAX_STAGES][CNN_MAX_DEPTH];

    int max_batch; /* the activations have room for this many images */
    /* Training mode normalises each group of bn_group consecutive images of a batch by the
     * group's own statistics ("ghost" batch norm, Hoffer et al. 2017), so that the result does
     * not depend on how many ranks share a batch; a batch must be whole groups. 0 (as created):
     * the whole batch, as PyTorch's BatchNorm2d. */
    int bn_group;
    CnnActivations *act;
    bool backward_ready; /* the last forward was in training mode (what backward needs) */
} CnnNet;

/* A supernet of the space's shape on backend `be`, with activations for batches of up to
 * max_batch images at the space's largest resolution. NULL with err set when the backend has no
 * CNN ops (CUDA today: kernels/backend.h). The parameters start uninitialised: cnn_net_init. */
CnnNet *cnn_net_create(const Backend *be, const CnnSpace *space, int max_batch, Error *err);
void cnn_net_free(CnnNet *net);

/* torchvision's MobileNetV2 / EfficientNet initialisation, each tensor from its own stream
 * (param_table_init: a tensor's values do not depend on the others'):
 *   conv weights (SE's too)   kaiming_normal_(mode="fan_out"): std sqrt(2 / (out k^2)) at the
 *                             supernet's shape (INIT_FAN_OUT_NORMAL)
 *   BN weight 1, BN bias 0; SE's conv biases 0
 *   classifier                weight normal(0, 0.01), bias 0 (MobileNetV2's linear rule)
 * and BigNAS's (Yu et al. 2020, §3.1 "Initialization"): the last BN's gamma of every residual
 * block, project.bn.weight of every layer but a stage's first, is 0, so that each residual
 * block starts as the identity.
 * Weight decay (table flags): conv and linear weights only, not BN's gamma and beta nor any
 * bias: "no bias decay" (He et al. 2019, Bag of Tricks, §3.1), as the BigNAS family's public
 * code trains (AttentiveNAS and AlphaNet: weight_decay_bn_bias 0). */
void cnn_net_init(CnnNet *net, uint64_t seed);

/* Whether the architecture fits inside this supernet (every choice within the supernet's). */
bool cnn_net_fits(const CnnNet *net, const CnnArch *arch);

/* Running statistics of every batch norm at supernet width, for evaluating subnets: a table of
 * their own (table.params: `stem.bn.running_mean`, `stem.bn.running_var`, ..., the BN names
 * above with running_mean / running_var, shape [C]; table.grads is unused), on the net's
 * backend, sized once. Created as PyTorch resets them: mean 0, variance 1. */
typedef struct {
    real *mean, *var;
} CnnBnRunning;

typedef struct {
    ParamTable table;
    CnnBnRunning stem, head;
    CnnBnRunning expand[CNN_MAX_STAGES][CNN_MAX_DEPTH]; /* NULL where the net has no expansion */
    CnnBnRunning depthwise[CNN_MAX_STAGES][CNN_MAX_DEPTH];
    CnnBnRunning project[CNN_MAX_STAGES][CNN_MAX_DEPTH];
} CnnBnStats;

CnnBnStats *cnn_bn_stats_create(const CnnNet *net);
void cnn_bn_stats_free(CnnBnStats *stats);

typedef enum {
    CNN_TRAINING,  /* batch statistics (PyTorch's train mode), nothing updated; backward allowed */
    CNN_EVALUATION /* normalised by `stats` (PyTorch's eval mode) */
} CnnMode;

/* logits [batch, classes] of `arch` for images [batch, in_channels, R, R] already at the
 * architecture's resolution R (the caller resizes: docs/spaces.md); images and logits are
 * backend memory (overwritten). stats: the subnet's recalibrated statistics in evaluation mode,
 * ignored (may be NULL) in training mode. */
void cnn_net_forward(CnnNet *net, const CnnArch *arch, const real *images, int batch, CnnMode mode,
                     const CnnBnStats *stats, real *logits);
/* ADDS the gradients of the last forward (in training mode, same arch and batch) given dlogits
 * [batch, classes] into table.grads: entries outside the subnet's views are not written. Tells
 * the table's listener (param_table_grads_ready) as each layer's gradients become final, and at
 * the end with table.grads. */
void cnn_net_backward(CnnNet *net, const CnnArch *arch, const real *dlogits, int batch);

/* BigNAS's BN recalibration of a subnet: a training-mode forward of one batch of training
 * images (as cnn_net_forward's) that updates the subnet's channels of `stats` with
 * PyTorch's momentum=None cumulative average (kernels.h batchnorm_recalibrate): after batches
 * 0 .. n - 1 (batches_seen = their index) each statistic is the mean of the n batches' (the
 * variance unbiased per batch); batch 0 replaces what was there. Channels outside the subnet's
 * are untouched. The classifier does not run. */
void cnn_net_recalibrate_batch(CnnNet *net, const CnnArch *arch, const real *images, int batch,
                               int batches_seen, CnnBnStats *stats);

#endif
