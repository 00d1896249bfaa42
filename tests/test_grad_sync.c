/* The gradient sync's parts that need neither MPI ranks nor a GPU: the bucket plan (sizes,
 * boundaries, every entry in one bucket, the order buckets become ready in as the backward
 * pass moves towards the arena's start), the backward pass's progress reports (each reported
 * range really is final), and the path chosen on the CPU. */
#include "check.h"

#include "arch.h"
#include "grad_buckets.h"
#include "grad_sync.h"
#include "rng.h"
#include "space.h"
#include "vit.h"

#include <stdlib.h>
#include <string.h>

static void bucket_sizes(void) {
    CHECK_EQ_I64(grad_bucket_entries(25u << 20, 4), 6553600); /* DDP's 25 MiB of floats */
    CHECK_EQ_I64(grad_bucket_entries(1000, 4), 256);          /* 250 rounded up to 64s */
    CHECK_EQ_I64(grad_bucket_entries(256, 4), 64);
    CHECK_EQ_I64(grad_bucket_entries(1, 4), GRAD_BUCKET_ALIGN); /* never empty */
    CHECK_EQ_I64(grad_bucket_entries(0, 4), GRAD_BUCKET_ALIGN);
    CHECK_EQ_I64(grad_bucket_entries(1000, 8), 128);
}

/* Every entry in exactly one bucket, buckets contiguous from the arena's end to its start,
 * all but bucket 0 whole and starting at a multiple of the bucket size; and the ready count
 * for every first_final agrees with its definition. */
static void check_plan(size_t n, size_t per_bucket) {
    GradBucketPlan plan = grad_bucket_plan(n, per_bucket);
    CHECK_EQ_I64(plan.n_buckets, (n + per_bucket - 1) / per_bucket);
    unsigned char *covered = calloc(n + 1, 1);
    bool shape_ok = true;
    size_t end = n;
    for (size_t i = 0; i < plan.n_buckets; i++) {
        const GradBucket *b = &plan.buckets[i];
        shape_ok &= b->count > 0 && b->first + b->count == end && b->first % per_bucket == 0;
        shape_ok &= i == 0 || b->count == per_bucket;
        for (size_t e = b->first; e < b->first + b->count && e < n; e++) covered[e]++;
        end = b->first;
    }
    CHECK(shape_ok);
    CHECK_EQ_I64(end, 0);
    size_t once = 0;
    for (size_t e = 0; e < n; e++) once += covered[e] == 1;
    CHECK_EQ_I64(once, n);
    bool ready_ok =
        grad_buckets_ready(&plan, n) == 0 && grad_buckets_ready(&plan, 0) == plan.n_buckets;
    size_t previous = 0;
    for (size_t f = n + 1; f-- > 0;) { /* first_final decreasing, as in a backward pass */
        const size_t ready = grad_buckets_ready(&plan, f);
        size_t inside = 0; /* buckets, in launch order, wholly inside [f, n) */
        while (inside < plan.n_buckets && plan.buckets[inside].first >= f) inside++;
        ready_ok &= ready == (f >= n ? 0 : inside) && ready >= previous;
        previous = ready;
    }
    CHECK(ready_ok);
    free(covered);
    grad_bucket_plan_free(&plan);
}

static void plans(void) {
    const size_t sizes[] = {0, 1, 63, 64, 65, 255, 256, 257, 1000, 1024, 4097};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        check_plan(sizes[i], 64);
        check_plan(sizes[i], 256);
    }
    /* the worked example of grad_buckets.h: 1000 entries in buckets of 256 */
    GradBucketPlan plan = grad_bucket_plan(1000, 256);
    CHECK_EQ_I64(plan.n_buckets, 4);
    CHECK(plan.buckets[0].first == 768 && plan.buckets[0].count == 232);
    CHECK(plan.buckets[1].first == 512 && plan.buckets[1].count == 256);
    CHECK(plan.buckets[3].first == 0 && plan.buckets[3].count == 256);
    CHECK_EQ_I64(grad_buckets_ready(&plan, 769), 0);
    CHECK_EQ_I64(grad_buckets_ready(&plan, 768), 1);
    CHECK_EQ_I64(grad_buckets_ready(&plan, 300), 2);
    CHECK_EQ_I64(grad_buckets_ready(&plan, 1), 3);
    CHECK_EQ_I64(grad_buckets_ready(&plan, 0), 4);
    grad_bucket_plan_free(&plan);
    /* the Base supernet's gradient (80 160 360 floats) in 25 MiB buckets: 13 of them */
    plan = grad_bucket_plan(80160360, grad_bucket_entries(25u << 20, 4));
    CHECK_EQ_I64(plan.n_buckets, 13);
    CHECK(plan.buckets[0].first == 12 * 6553600 && plan.buckets[0].count == 1517160);
    grad_bucket_plan_free(&plan);
}

/* What the backward pass reports, snapshot by snapshot (the CPU computes as it is called). */
typedef struct {
    const Vit *vit;
    int calls;
    size_t first[16];
    real *snapshot[16];
} Reports;

static void record(void *ctx, size_t first_final) {
    Reports *r = ctx;
    if (r->calls == 16) return;
    r->first[r->calls] = first_final;
    r->snapshot[r->calls] = malloc(r->vit->table.n_params * sizeof(real));
    memcpy(r->snapshot[r->calls], r->vit->table.grads, r->vit->table.n_params * sizeof(real));
    r->calls++;
}

/* Each reported range holds its final values already: nothing after the report changes it.
 * Reports come once after the head and norm, once per block, once at the end, decreasing. */
static void backward_reports(void) {
    Error err = {0};
    Space *space = space_load_file("configs/spaces/micro.cfg", &err);
    if (!CHECK(space != NULL)) return;
    Vit *vit = vit_create(backend_cpu(), space, 2);
    vit_init(vit, 1);
    const char *archs[] = {"48:4:3,5,4,3:3,4,3.5,4", "80:6:5,5,5,5,5,5:4,4,4,4,4,4"};
    for (int k = 0; k < 2; k++) {
        Arch arch;
        CHECK(arch_parse(archs[k], &arch, &err));
        const int batch = 2, C = vit->classes;
        real images[2 * 28 * 28], logits[2 * 10], dlogits[2 * 10];
        Rng rng = rng_stream(5, (uint64_t)k);
        for (int i = 0; i < batch * 28 * 28; i++) images[i] = (real)rng_normal(&rng);
        for (int i = 0; i < batch * C; i++) dlogits[i] = (real)rng_normal(&rng);
        Reports r = {.vit = vit};
        vit->table.on_grads_ready = record;
        vit->table.on_grads_ready_ctx = &r;
        vit_forward(vit, &arch, images, batch, NULL, logits);
        param_table_zero_grads(&vit->table);
        vit_backward(vit, &arch, dlogits, batch, NULL);
        vit->table.on_grads_ready = NULL;
        CHECK_EQ_I64(r.calls, arch.depth + 2);
        const size_t after_head =
            arch.depth < vit->depth
                ? (size_t)(vit->g.blocks[arch.depth].attn_norm_weight - vit->table.grads)
                : (size_t)(vit->g.norm_weight - vit->table.grads);
        CHECK_EQ_I64(r.first[0], after_head);
        CHECK_EQ_I64(r.first[r.calls - 1], 0);
        bool decreasing = true, final = true;
        for (int c = 0; c < r.calls; c++) {
            if (c > 0) decreasing &= r.first[c] < r.first[c - 1];
            if (c > 0 && c < r.calls - 1) /* after block depth - c */
                CHECK_EQ_I64(r.first[c],
                             vit->g.blocks[arch.depth - c].attn_norm_weight - vit->table.grads);
            const size_t f = r.first[c];
            final &= memcmp(r.snapshot[c] + f, vit->table.grads + f,
                            (vit->table.n_params - f) * sizeof(real)) == 0;
            free(r.snapshot[c]);
        }
        CHECK(decreasing);
        CHECK(final);
    }
    vit_free(vit);
    space_free(space);
}

/* On the CPU: nothing to do for one rank, MPI_Allreduce at finish for several, never NCCL;
 * the bucket size from the options or PRENAS_GRAD_BUCKET_BYTES. (One process: the sums
 * themselves are tests/cli/train.sh's 2-rank runs.) */
static void cpu_paths(void) {
    real grads[1000] = {0};
    grads[7] = 1;
    const Comm alone = {0, 1}, pair = {0, 2};
    GradSync *s = grad_sync_create(&alone, backend_cpu(), grads, 1000,
                                   &(GradSyncOptions){.bucket_bytes = 1000, .nccl = "1"});
    CHECK(grad_sync_path(s) == GRAD_SYNC_NONE);
    CHECK_EQ_I64(grad_sync_buckets(s)->bucket_entries, 256);
    CHECK_EQ_I64(grad_sync_buckets(s)->n_buckets, 4);
    grad_sync_ready(s, 500);
    grad_sync_finish(s);
    CHECK(grads[7] == 1);
    grad_sync_free(s);
    setenv("PRENAS_GRAD_BUCKET_BYTES", "4K", 1); /* 4000 bytes: 1000 floats, 1024 rounded */
    s = grad_sync_create(&pair, backend_cpu(), grads, 1000, NULL);
    CHECK(grad_sync_path(s) == GRAD_SYNC_MPI);
    CHECK_EQ_I64(grad_sync_buckets(s)->bucket_entries, 1024);
    CHECK_EQ_I64(grad_sync_buckets(s)->n_buckets, 1);
    CHECK_STR_CONTAINS(grad_sync_path_name(grad_sync_path(s)), "MPI_Allreduce");
    CHECK(strcmp(grad_sync_fallback(s), "") == 0);
    grad_sync_free(s);
    unsetenv("PRENAS_GRAD_BUCKET_BYTES");
}

int main(void) {
    bucket_sizes();
    plans();
    backward_reports();
    cpu_paths();
    return check_summary();
}
