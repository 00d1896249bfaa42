#ifndef PRENAS_PARAM_TABLE_H
#define PRENAS_PARAM_TABLE_H

/* The parameter table of a supernet, whatever its family (design.md §8): every tensor at its
 * supernet shape, named as the reference's state_dict, in one flat arena of parameters and a
 * second arena of gradients with the same layout, on a backend (llm.c's one allocation with
 * named views). A family builds the table and points its own named views into the arenas;
 * the optimiser (AdamW's per-tensor decay, method.md §9.4), the weights files (tensors by
 * name), checkpoints, the gradient sync and the clipping read a model only through this
 * table, so none of them knows the family. */

#include "backend.h"
#include "rng.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How a tensor starts; each family's init function reads it (the ViT: method.md §3.2, the
 * CNN: src/cnn/cnn_net.h). The ViT uses the first four, the CNN ones, zeros and the last two:
 * INIT_FAN_OUT_NORMAL is PyTorch's kaiming_normal_(mode="fan_out"), normal with std
 * sqrt(2 / fan_out), fan_out = shape[0] x the kernel's entries; INIT_SMALL_NORMAL is
 * normal(0, 0.01). */
typedef enum {
    INIT_ONES,
    INIT_ZEROS,
    INIT_TRUNC_NORMAL,
    INIT_FAN_IN_UNIFORM,
    INIT_FAN_OUT_NORMAL,
    INIT_SMALL_NORMAL
} TensorInit;

enum { TENSOR_NAME_MAX = 80, TENSOR_MAX_DIMS = 4 };

typedef struct {
    char name[TENSOR_NAME_MAX]; /* the reference's state_dict name: "blocks.3.attn.qkv.weight" */
    int ndim;
    int64_t shape[TENSOR_MAX_DIMS]; /* the reference's shape */
    size_t offset, count;           /* in entries of the arenas */
    bool weight_decay;              /* method.md §9.4: the family's rule */
    TensorInit init;
} TensorInfo;

typedef struct {
    const Backend *be; /* where the arenas live (outlives the table) */
    int n_tensors, capacity;
    TensorInfo *tensors; /* in arena order */
    size_t n_params;
    real *params, *grads; /* n_params entries each, backend memory; NULL until allocated */

    /* Told during a backward pass that gradient entries [first_final, n_params) are final for
     * this pass (their ops are queued), so that the data-parallel gradient sum
     * (mpi/grad_sync.h) starts on them while earlier layers' backward runs; 0 at the end.
     * NULL (the default): nobody listens. */
    void (*on_grads_ready)(void *ctx, size_t first_final);
    void *on_grads_ready_ctx;
} ParamTable;

/* Appends a tensor after the last one (shape has ndim <= TENSOR_MAX_DIMS entries; the name is
 * printf-formatted and cut at TENSOR_NAME_MAX - 1). Only before param_table_allocate. */
__attribute__((format(printf, 6, 7))) void param_table_add(ParamTable *t, TensorInit init,
                                                           bool weight_decay, int ndim,
                                                           const int64_t *shape, const char *fmt,
                                                           ...);
/* The two arenas on `be`, uninitialised. */
void param_table_allocate(ParamTable *t, const Backend *be);
void param_table_free(ParamTable *t);

/* The tensor of that name, or NULL. */
const TensorInfo *param_table_find(const ParamTable *t, const char *name);
void param_table_zero_grads(ParamTable *t);
/* One entry of tensor t's initial values, drawn from the tensor's stream (a family's rule for
 * t->init; ctx is the family's model). */
typedef double (*TensorDraw)(const TensorInfo *t, Rng *rng, const void *ctx);
/* Every tensor's initial values into t->params, entry by entry in order, each tensor from its
 * own stream keyed by its name (rng_stream(seed, RNG_STREAM_INIT ^ FNV-1a(name))), so that adding
 * or reordering tensors never changes another tensor's values. */
void param_table_init(ParamTable *t, uint64_t seed, TensorDraw draw, const void *ctx);
/* Tells the listener (if any) that gradients from `first` (inside t->grads) on are final. */
void param_table_grads_ready(const ParamTable *t, const real *first);

#endif
