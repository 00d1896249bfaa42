#ifndef PRENAS_ARCH_LIST_H
#define PRENAS_ARCH_LIST_H

/* Lists of architectures in text files (prenas-evaluate --archs, the output of prenas-arch
 * --isomers): one canonical architecture string per line; `#` starts a comment; blank lines
 * are skipped. */

#include "arch.h"
#include "error.h"
#include "space.h"

#include <stdbool.h>

/* Every listed architecture must belong to `space` (errors name the file and line); a
 * repeated one is kept once. *archs is xmalloc'd. */
bool arch_list_read(const char *path, const Space *space, Arch **archs, int *n, Error *err);

#endif
