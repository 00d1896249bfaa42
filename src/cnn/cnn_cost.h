#ifndef PRENAS_CNN_COST_H
#define PRENAS_CNN_COST_H

/* The exact cost of a CNN architecture (cnn_arch.h) of its space (cnn_space.h), in int64.
 *
 * params: every learnable parameter, PyTorch's sum(p.numel() for p in model.parameters()):
 * conv weights (no conv has a bias, but SE's two), batch norm's weight and bias (its running
 * statistics are buffers, not parameters), the classifier's weight and bias. With c_in the
 * image's channels, R the resolution, K the classes, and per MBConv layer C_in, C_out, k, e,
 * C_mid = e C_in and C_se = max(1, floor(C_in / 4)):
 *     stem        c_in STEM k_stem^2 + 2 STEM
 *     expansion   C_in C_mid + 2 C_mid                   (e > 1 only)
 *     depthwise   C_mid k^2 + 2 C_mid
 *     SE          C_mid C_se + C_se + C_se C_mid + C_mid (SE stages only)
 *     projection  C_mid C_out + 2 C_out
 *     head        C_last HEAD + 2 HEAD
 *     classifier  HEAD K + K
 *
 * macs: multiply-accumulates of every conv and the linear layer at the architecture's
 * resolution, a conv counting H_out W_out C_out (C_in / groups) k^2 and a linear layer in x
 * out (biases, batch norm, activations, pooling, SE's product and residual additions are not
 * counted). Sides: R after the stem of stride s_0 is ceil(R / s_0), and each stage's first
 * layer divides by its stride likewise (padding k/2, odd k); H is the side a conv outputs:
 *     stem        H^2 STEM c_in k_stem^2
 *     expansion   H_in^2 C_mid C_in                      (at the layer's input side)
 *     depthwise   H^2 C_mid k^2                          (its output side, after the stride)
 *     SE          2 C_mid C_se                           (on the pooled 1 x 1 map)
 *     projection  H^2 C_out C_mid
 *     head        H^2 HEAD C_last
 *     classifier  HEAD K
 *
 * flops: what the BigNAS and OFA papers (and MobileNet, EfficientNet, PreNAS §4.5's 200, 400,
 * 600 and 1000 M groups) call FLOPs or MFLOPs is this multiply-accumulate count, so `flops`
 * equals `macs`; the two names are kept so that a number compared with the papers says
 * which convention it follows. BigNAS-S is 242 MFLOPs in those units.
 *
 * The formulas follow the layer of cnn_space.h; tests/oracle/cnn_count.py counts the same
 * numbers independently from a torch.nn network and forward hooks. */

#include "cnn_arch.h"
#include "cnn_space.h"

#include <stdint.h>

typedef struct {
    int64_t params;
    int64_t flops; /* = macs: the papers' "FLOPs" (above) */
    int64_t macs;
} CnnCost;

/* The architecture must lie in the space (cnn_arch_check): the space gives the image's
 * channels, the classes, the strides and which stages have SE. */
CnnCost cnn_arch_cost(const CnnArch *arch, const CnnSpace *space);
/* SE's reduced width for a layer of `in_channels` inputs: EfficientNet's
 * max(1, int(in_channels * 0.25)). */
int cnn_se_channels(int in_channels);

#endif
