#ifndef PRENAS_CNN_SUBNET_H
#define PRENAS_CNN_SUBNET_H

/* One CNN architecture as a network of its own (method.md §10.2 for the CNN family, §13): the
 * dense tensors a standalone model (src/eval/standalone.h) keeps, cut out of the supernet's
 * views (cnn_net.h: first layers, leading channels, centred kernel crops). Builds without
 * libconfig, HDF5 and OpenSSL, as the engine does. */

#include "cnn_arch.h"
#include "cnn_space.h"
#include "param_table.h"

/* The space whose every list is the architecture's one choice (its text NULL: it is never
 * written; a standalone model records the search space it came from). A CnnNet of it is
 * exactly the subnet, its tensors at the subnet's shapes under the supernet's names. The
 * architecture must be of `space` (cnn_arch_check). Free with cnn_space_free. */
CnnSpace *cnn_space_narrow(const CnnSpace *space, const CnnArch *arch);

/* Copies the part of supernet tensor `from` (host data) that a subnet tensor `to` of the same
 * name takes into to_data (host): the leading entries of every dimension, except a conv
 * weight's two kernel dimensions ([out, in, K, K]), whose centre k x k it takes (offset
 * (K - k) / 2, BigNAS's kernel sharing). `to` must be no larger in any dimension and, for
 * kernels, differ from `from` by an even amount. */
void cnn_subnet_copy(const TensorInfo *from, const real *from_data, const TensorInfo *to,
                     real *to_data);

#endif
