#ifndef PRENAS_ARCH_LIST_H
#define PRENAS_ARCH_LIST_H

/* Lists of architectures in text files (prenas-evaluate --archs, the output of prenas-arch
 * --isomers): one canonical architecture string per line; `#` starts a comment; blank lines
 * are skipped. */

#include "error.h"
#include "model_family.h"

#include <stdbool.h>

/* Every listed architecture, in `space`'s family's text form, must run on the space's
 * supernet: for a ViT any width, depth, heads and MLP ratios within its shape, whether or not
 * the space lists them as choices (a trained supernet runs every such subnet; its refined space
 * lists only the preferred choices); for a CNN an architecture of the space (cnn_arch_check:
 * its BN recalibration and cost are defined on the space's choices). Errors name the file and
 * line; a repeated architecture is kept once. *archs is xmalloc'd. */
bool arch_list_read(const char *path, const ModelSpace *space, ModelArch **archs, int *n,
                    Error *err);

#endif
