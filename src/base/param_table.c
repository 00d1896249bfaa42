#include "param_table.h"

#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void param_table_add(ParamTable *t, TensorInit init, bool weight_decay, int ndim,
                     const int64_t *shape, const char *fmt, ...) {
    if (t->params || ndim < 1 || ndim > TENSOR_MAX_DIMS)
        fatal_at(__FILE__, __LINE__, "param_table_add: allocated table or %d dimensions", ndim);
    if (t->n_tensors == t->capacity) {
        t->capacity = t->capacity ? 2 * t->capacity : 64;
        t->tensors = xrealloc(t->tensors, (size_t)t->capacity * sizeof *t->tensors);
    }
    TensorInfo *info = &t->tensors[t->n_tensors++];
    memset(info, 0, sizeof *info);
    va_list args;
    va_start(args, fmt);
    vsnprintf(info->name, sizeof info->name, fmt, args);
    va_end(args);
    info->ndim = ndim;
    info->count = 1;
    for (int i = 0; i < ndim; i++) {
        info->shape[i] = shape[i];
        info->count *= (size_t)shape[i];
    }
    info->offset = t->n_params;
    info->weight_decay = weight_decay;
    info->init = init;
    t->n_params += info->count;
}

void param_table_allocate(ParamTable *t, const Backend *be) {
    t->be = be;
    t->params = be->ops->alloc(be, t->n_params * sizeof *t->params);
    t->grads = be->ops->alloc(be, t->n_params * sizeof *t->grads);
}

void param_table_free(ParamTable *t) {
    if (t->params) t->be->ops->free(t->be, t->params);
    if (t->grads) t->be->ops->free(t->be, t->grads);
    free(t->tensors);
    memset(t, 0, sizeof *t);
}

const TensorInfo *param_table_find(const ParamTable *t, const char *name) {
    for (int i = 0; i < t->n_tensors; i++)
        if (strcmp(t->tensors[i].name, name) == 0) return &t->tensors[i];
    return NULL;
}

void param_table_zero_grads(ParamTable *t) {
    t->be->ops->zero(t->be, t->grads, t->n_params * sizeof *t->grads);
}

void param_table_grads_ready(const ParamTable *t, const real *first) {
    if (t->on_grads_ready) t->on_grads_ready(t->on_grads_ready_ctx, (size_t)(first - t->grads));
}

static uint64_t name_hash(const char *name) { /* FNV-1a */
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *name; name++) h = (h ^ (unsigned char)*name) * 0x100000001b3ULL;
    return h;
}

void param_table_init(ParamTable *t, uint64_t seed, TensorDraw draw, const void *ctx) {
    const size_t bytes = t->n_params * sizeof *t->params;
    real *params = backend_host_begin(t->be, t->params, bytes);
    for (int i = 0; i < t->n_tensors; i++) {
        const TensorInfo *info = &t->tensors[i];
        Rng rng = rng_stream(seed, RNG_STREAM_INIT ^ name_hash(info->name));
        for (size_t j = 0; j < info->count; j++)
            params[info->offset + j] = (real)draw(info, &rng, ctx);
    }
    backend_host_end(t->be, params, t->params, bytes, true);
}
