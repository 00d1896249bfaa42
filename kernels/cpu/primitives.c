/* The table of oneDNN plans (primitives.h). */
#include "primitives.h"

#include "error.h"

#include <stdlib.h>
#include <string.h>

#ifndef CPU_DNNL_PRIMITIVES
CpuPrimitives *cpu_primitives_open(void) {
    return NULL;
}
void cpu_primitives_close(CpuPrimitives *table) {
    (void)table;
}
#else

enum { PLANS = 256 };

struct CpuPrimitives {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    DnnlPlan plans[PLANS];
    int count, next_evicted;
    void *scratch[PLAN_SCRATCH];
    size_t capacity[PLAN_SCRATCH];
};

CpuPrimitives *cpu_primitives_open(void) {
    CpuPrimitives *t = xcalloc(1, sizeof *t);
    CHECK_DNNL(dnnl_engine_create(&t->engine, dnnl_cpu, 0));
    CHECK_DNNL(dnnl_stream_create(&t->stream, t->engine, dnnl_stream_default_flags));
    return t;
}

static void plan_destroy(DnnlPlan *p) {
    for (int i = 0; i < PLAN_STEPS; i++)
        if (p->step[i]) CHECK_DNNL(dnnl_primitive_destroy(p->step[i]));
    for (int i = 0; i < PLAN_MEMORIES; i++)
        if (p->memory[i]) CHECK_DNNL(dnnl_memory_destroy(p->memory[i]));
    if (p->hint) CHECK_DNNL(dnnl_primitive_desc_destroy(p->hint));
    memset(p, 0, sizeof *p);
}

void cpu_primitives_close(CpuPrimitives *t) {
    if (!t) return;
    for (int i = 0; i < t->count; i++) plan_destroy(&t->plans[i]);
    for (int i = 0; i < PLAN_SCRATCH; i++) free(t->scratch[i]);
    CHECK_DNNL(dnnl_stream_destroy(t->stream));
    CHECK_DNNL(dnnl_engine_destroy(t->engine));
    free(t);
}

CpuPrimitives *cpu_primitives_begin(CpuPrimitives *table) {
    return table ? table : cpu_primitives_open();
}

void cpu_primitives_end(CpuPrimitives *table, CpuPrimitives *used) {
    if (used != table) cpu_primitives_close(used);
}

DnnlPlan *cpu_plan(CpuPrimitives *t, const int64_t key[PLAN_KEY], DnnlPlanMake make,
                   const void *arg) {
    for (int i = 0; i < t->count; i++)
        if (memcmp(t->plans[i].key, key, sizeof t->plans[i].key) == 0) return &t->plans[i];
    DnnlPlan *p;
    if (t->count < PLANS) {
        p = &t->plans[t->count++];
    } else { /* more shapes than a run should meet: replace the oldest, round robin */
        p = &t->plans[t->next_evicted];
        t->next_evicted = (t->next_evicted + 1) % PLANS;
        plan_destroy(p);
    }
    make(p, t->engine, arg);
    memcpy(p->key, key, sizeof p->key);
    return p;
}

void *cpu_scratch(CpuPrimitives *t, int slot, size_t bytes) {
    if (t->capacity[slot] < bytes) {
        free(t->scratch[slot]);
        const size_t rounded = (bytes + 63) / 64 * 64; /* whole cache lines, as oneDNN's own */
        t->scratch[slot] = aligned_alloc(64, rounded);
        if (!t->scratch[slot])
            fatal_at(__FILE__, __LINE__, "out of memory (%zu bytes of oneDNN scratch)", rounded);
        t->capacity[slot] = rounded;
    }
    return t->scratch[slot];
}

void cpu_plan_run(CpuPrimitives *t, dnnl_primitive_t primitive, int nargs,
                  const dnnl_exec_arg_t *args) {
    CHECK_DNNL(dnnl_primitive_execute(primitive, t->stream, nargs, args));
    CHECK_DNNL(dnnl_stream_wait(t->stream));
}

dnnl_memory_desc_t plan_strided_md(int ndims, const dnnl_dims_t dims, const dnnl_dims_t strides) {
    dnnl_memory_desc_t md;
    CHECK_DNNL(dnnl_memory_desc_init_by_strides(&md, ndims, dims, dnnl_f32, strides));
    return md;
}

dnnl_primitive_t plan_reorder(dnnl_engine_t engine, const dnnl_memory_desc_t *src,
                              const dnnl_memory_desc_t *dst, int accumulate) {
    dnnl_primitive_attr_t attr;
    dnnl_post_ops_t post_ops;
    CHECK_DNNL(dnnl_primitive_attr_create(&attr));
    CHECK_DNNL(dnnl_post_ops_create(&post_ops));
    if (accumulate) CHECK_DNNL(dnnl_post_ops_append_sum(post_ops, 1.0f));
    CHECK_DNNL(dnnl_primitive_attr_set_post_ops(attr, post_ops));
    dnnl_primitive_desc_t pd;
    CHECK_DNNL(dnnl_reorder_primitive_desc_create(&pd, src, engine, dst, engine, attr));
    dnnl_primitive_t reorder;
    CHECK_DNNL(dnnl_primitive_create(&reorder, pd));
    CHECK_DNNL(dnnl_primitive_desc_destroy(pd));
    CHECK_DNNL(dnnl_post_ops_destroy(post_ops));
    CHECK_DNNL(dnnl_primitive_attr_destroy(attr));
    return reorder;
}
#endif
