#ifndef PRENAS_ARCH_LIST_H
#define PRENAS_ARCH_LIST_H

/* Lists of architectures in text files (prenas-evaluate --archs, the output of prenas-arch
 * --isomers): one canonical architecture string per line; `#` starts a comment; blank lines
 * are skipped. */

#include "arch.h"
#include "error.h"
#include "space.h"

#include <stdbool.h>

/* Every listed architecture must be a subnet of `space`'s supernet: any width, depth, heads
 * and MLP ratios within its shape, whether or not the space lists them as choices (a trained
 * supernet runs every such subnet; its refined space lists only the preferred choices).
 * Errors name the file and line; a repeated architecture is kept once. *archs is
 * xmalloc'd. */
bool arch_list_read(const char *path, const Space *space, Arch **archs, int *n, Error *err);

#endif
