#include "grad_sync.h"

#include "error.h"
#include "nccl_boot.h"
#include "text.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct GradSync {
    Comm comm;
    const Backend *be;
    real *grads;
    size_t n;
    GradSyncPath path;
    GradBucketPlan plan;
    size_t started; /* buckets of this step already queued (NCCL) */
    NcclComm *nccl;
    char fallback[600];
};

typedef enum { NCCL_NEVER, NCCL_AUTO, NCCL_ALWAYS } NcclMode;

static NcclMode nccl_mode(const char *given) {
    const char *text = given ? given : getenv("PRENAS_NCCL");
    if (!text || !*text || strcmp(text, "auto") == 0) return NCCL_AUTO;
    if (strcmp(text, "0") == 0) return NCCL_NEVER;
    if (strcmp(text, "1") == 0) return NCCL_ALWAYS;
    die_input("PRENAS_NCCL '%s': expected 0 (host-staged MPI), 1 (NCCL, also for one rank) or "
              "auto",
              text);
}

static size_t bucket_bytes(size_t given) {
    if (given) return given;
    const char *text = getenv("PRENAS_GRAD_BUCKET_BYTES");
    if (!text || !*text) return GRAD_SYNC_BUCKET_BYTES;
    int64_t bytes;
    if (!parse_size(text, 1, &bytes) || bytes < 1)
        die_input("PRENAS_GRAD_BUCKET_BYTES '%s': expected %s, at least 1", text, size_syntax(1));
    return (size_t)bytes;
}

static GradSyncPath choose_path(GradSync *s, NcclMode mode) {
    if (s->be->kind == DEVICE_CPU) return s->comm.size > 1 ? GRAD_SYNC_MPI : GRAD_SYNC_NONE;
    if (s->comm.size == 1 && mode != NCCL_ALWAYS) return GRAD_SYNC_NONE;
    if (mode == NCCL_NEVER) {
        snprintf(s->fallback, sizeof s->fallback, "PRENAS_NCCL=0");
        return GRAD_SYNC_MPI_STAGED;
    }
    s->nccl = nccl_boot(&s->comm, s->be, s->fallback, sizeof s->fallback);
    return s->nccl ? GRAD_SYNC_NCCL : GRAD_SYNC_MPI_STAGED;
}

GradSync *grad_sync_create(const Comm *comm, const Backend *be, real *grads, size_t n,
                           const GradSyncOptions *options) {
    const GradSyncOptions none = {0};
    if (!options) options = &none;
    const NcclMode mode = nccl_mode(options->nccl);
    GradSync *s = xcalloc(1, sizeof *s);
    s->comm = *comm;
    s->be = be;
    s->grads = grads;
    s->n = n;
    s->plan = grad_bucket_plan(
        n, grad_bucket_entries(bucket_bytes(options->bucket_bytes), sizeof *grads));
    s->path = choose_path(s, mode);
    if (comm->rank == 0 && s->path == GRAD_SYNC_MPI_STAGED)
        fprintf(stderr,
                "%s: warning: NCCL is not used (%s): gradients are summed through host memory by "
                "MPI_Allreduce after the backward pass\n",
                program_invocation_short_name, s->fallback);
#ifdef PRENAS_HAVE_CUDA
    if (comm->rank == 0 && s->path == GRAD_SYNC_NCCL && options->announce) {
        const int v = nccl_version();
        fprintf(options->announce,
                "%s: gradients summed by NCCL %d.%d.%d in %zu bucket(s) of up to %.1f MiB, "
                "overlapping the backward pass\n",
                program_invocation_short_name, v / 10000, v % 10000 / 100, v % 100,
                s->plan.n_buckets,
                (double)(s->plan.bucket_entries * sizeof *grads) / (1024.0 * 1024.0));
    }
#endif
    return s;
}

void grad_sync_free(GradSync *s) {
    if (!s) return;
#ifdef PRENAS_HAVE_CUDA
    nccl_comm_close(s->nccl, false);
#endif
    grad_bucket_plan_free(&s->plan);
    free(s);
}

void grad_sync_ready(GradSync *s, size_t first_final) {
    /* the MPI paths sum the whole arena at finish: MPI_Allreduce blocks the host, which is
     * also the thread that queues the backward pass */
    if (s->path != GRAD_SYNC_NCCL) return;
#ifdef PRENAS_HAVE_CUDA
    const size_t ready = grad_buckets_ready(&s->plan, first_final);
    if (ready <= s->started) return;
    nccl_comm_wait_for_compute(s->nccl);
    for (size_t i = s->started; i < ready; i++) {
        const GradBucket *b = &s->plan.buckets[i];
        nccl_comm_sum(s->nccl, s->grads + b->first, b->count, sizeof *s->grads);
    }
    s->started = ready;
#else
    (void)first_final;
#endif
}

void grad_sync_on_ready(void *sync, size_t first_final) {
    grad_sync_ready(sync, first_final);
}

void grad_sync_finish(GradSync *s) {
    switch (s->path) {
    case GRAD_SYNC_NONE:
        return;
    case GRAD_SYNC_MPI:
    case GRAD_SYNC_MPI_STAGED: {
        if (s->comm.size == 1) return; /* PRENAS_NCCL=1 alone, and NCCL refused */
        /* on the CPU the host view is the arena itself: the same MPI_Allreduce as ever */
        const size_t bytes = s->n * sizeof *s->grads;
        real *host = backend_host_begin(s->be, s->grads, bytes);
        comm_sum_reals(&s->comm, host, s->n);
        backend_host_end(s->be, host, s->grads, bytes, true);
        return;
    }
    case GRAD_SYNC_NCCL:
#ifdef PRENAS_HAVE_CUDA
        grad_sync_ready(s, 0);
        nccl_comm_join_compute(s->nccl);
        s->started = 0;
#endif
        return;
    }
}

GradSyncPath grad_sync_path(const GradSync *s) {
    return s->path;
}

const char *grad_sync_path_name(GradSyncPath path) {
    switch (path) {
    case GRAD_SYNC_NONE:
        return "none";
    case GRAD_SYNC_MPI:
        return "MPI_Allreduce";
    case GRAD_SYNC_MPI_STAGED:
        return "host-staged MPI_Allreduce";
    case GRAD_SYNC_NCCL:
        return "NCCL";
    }
    return "?";
}

const GradBucketPlan *grad_sync_buckets(const GradSync *s) {
    return &s->plan;
}

const char *grad_sync_fallback(const GradSync *s) {
    return s->fallback;
}
