#ifndef PRENAS_HOST_MEMORY_H
#define PRENAS_HOST_MEMORY_H

#include <stdint.h>

/* Bytes of memory this process could still take: the kernel's MemAvailable, lowered to what
 * is left under the limit of its cgroup (v2; Slurm's --mem) when it has one. 0 when neither
 * can be read. */
uint64_t host_memory_available(void);

#endif
