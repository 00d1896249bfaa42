#ifndef PRENAS_LATENCY_H
#define PRENAS_LATENCY_H

/* Measured inference latency of a subnet on the backend it runs on: the time of one forward
 * pass (images already in backend memory, logits out; no data loading), by the backend's
 * clock (time_ms: the host's monotonic clock on the CPU, CUDA events on a GPU), after warm-up
 * passes that are not counted (they fault in pages, let oneDNN pick its kernels, let cuBLASLt
 * choose its algorithms). */

#include "model.h"

typedef struct {
    double median_ms, min_ms, max_ms; /* over the repeats; all 0: not measured */
} Latency;

/* `repeats` timed forwards (model_infer) of a batch of `batch` synthetic images after `warmup`
 * untimed ones, on the calling thread's OpenMP team. The images are at the model's input side
 * (model_create's image_side), so a CNN's time includes the resize to its resolution, as a
 * deployed model's does. A CNN's batch norms are first recalibrated on the synthetic batch
 * (the work does not depend on the statistics), which replaces what model_recalibrate held. */
Latency latency_measure(Model *model, const ModelArch *arch, int batch, int warmup, int repeats);

#endif
