#ifndef PRENAS_DEVICE_H
#define PRENAS_DEVICE_H

/* --device and --precision of the stages that run a model: the backend they name (backend.h),
 * opened by every rank for itself (one GPU per rank, by node-local rank), agreed on by all
 * ranks, and announced by rank 0 on `announce` (NULL: the stage reports it itself). */

#include "backend.h"
#include "comm.h"
#include "family.h"

#include <stdio.h>

#define DEVICE_OPTIONS_HELP                                                                        \
    "  --device D         auto (default: cuda when a GPU is usable, else cpu; a CNN: cpu), cpu,\n" \
    "                     or cuda (one GPU per rank, by node-local rank; an error when none)\n"    \
    "  --precision P      matrix products: fp32 (default), bf16 (bfloat16 operands, fp32\n"        \
    "                     accumulation; on a CPU without AVX512-BF16: fp32, said at start) or\n"   \
    "                     tf32 (GPU only)\n"

/* getopt_long entries of the two options, and their handling: true when `option` was one of
 * them (its value stored), false for any other. */
enum { DEVICE_OPT_DEVICE = 1000, DEVICE_OPT_PRECISION };
#define DEVICE_LONG_OPTIONS                                                                        \
    {"device", required_argument, NULL, DEVICE_OPT_DEVICE}, {                                      \
        "precision", required_argument, NULL, DEVICE_OPT_PRECISION                                 \
    }
typedef struct {
    const char *device, *precision; /* NULL: not given */
} DeviceOptions;
bool device_option(int option, const char *value, DeviceOptions *out);

/* The device a model of `family` runs on for the --device given (NULL: auto): a CNN's "auto" is
 * the CPU, since the CUDA backend has no CNN ops yet (kernels/backend.h), so that a CNN runs
 * where a GPU is present without --device cpu; "cuda" stays an error for it. */
const char *device_for_family(const char *device, ModelFamily family);
/* Opens `device` ("auto" when NULL) at `precision` (NULL: fp32) on every rank; a rank that
 * cannot (no GPU for "cuda", an unknown name) fails all ranks with exit 2 and its reason. */
void device_open(Backend *be, const char *device, const char *precision, const Comm *comm,
                 FILE *announce);

#endif
