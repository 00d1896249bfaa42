#ifndef PRENAS_GRAD_SYNC_H
#define PRENAS_GRAD_SYNC_H

/* The sum of the gradient arena over the ranks of data-parallel training (method.md §9.2),
 * on the path the backend allows:
 *
 * - CPU backend: MPI_Allreduce of the whole arena once the backward pass is over
 *   (comm_sum_reals), as it always was, so that CPU runs keep their results bit for bit.
 * - CUDA backend with NCCL: the arena in fixed buckets (mpi/grad_buckets.h), each summed by
 *   ncclAllReduce on a stream of its own as soon as the backward pass has finished its
 *   entries, so that the sums of the last blocks overlap the backward pass of the first
 *   (as PyTorch DDP, Horovod and llm.c do). Streams are ordered by events only: the host never
 *   waits for a sum.
 * - CUDA backend without NCCL (PRENAS_NCCL=0, NCCL refusing, or two ranks on one GPU, which
 *   NCCL does not allow): the arena through host memory and MPI_Allreduce once the backward
 *   pass is over, after a one-line warning from rank 0.
 *
 * Determinism: bucket boundaries follow from the arena's length and the bucket size alone,
 * never from timing, and NCCL's reduction of one bucket over a fixed set of ranks repeats bit
 * for bit, so a GPU run repeats bit for bit too. A run on another rank count, or with another
 * bucket size, is equal up to float summation order.
 *
 * The backward pass reports progress through grad_sync_ready (ParamTable.on_grads_ready); a caller
 * that never reports loses the overlap, not correctness: grad_sync_finish queues whatever is
 * left. */

#include "backend.h"
#include "comm.h"
#include "grad_buckets.h"

#include <stdio.h>

typedef enum {
    GRAD_SYNC_NONE,       /* one rank: nothing to sum */
    GRAD_SYNC_MPI,        /* host memory (the CPU backend): MPI_Allreduce at finish */
    GRAD_SYNC_MPI_STAGED, /* device memory through the host: MPI_Allreduce at finish */
    GRAD_SYNC_NCCL        /* ncclAllReduce per bucket during the backward pass */
} GradSyncPath;

/* Buckets of 25 MiB, PyTorch DDP's default: a few large messages per step reach the link's
 * bandwidth, while the first is ready early enough to overlap most of the backward pass. */
enum { GRAD_SYNC_BUCKET_BYTES = 25 << 20 };

typedef struct {
    size_t bucket_bytes; /* 0: PRENAS_GRAD_BUCKET_BYTES if set, else GRAD_SYNC_BUCKET_BYTES */
    /* "auto": NCCL on a CUDA backend when there is more than one rank; "1": also for one rank
     * (its overlap machinery can then be tested on one GPU); "0": never. NULL: PRENAS_NCCL if
     * set, else "auto". */
    const char *nccl;
    FILE *announce; /* rank 0 names the NCCL path and its buckets here (NULL: silent) */
} GradSyncOptions;

typedef struct GradSync GradSync;

/* Collective: the sync of `grads` (n entries of backend memory, laid out as vit's arena) over
 * comm's ranks on backend `be`. Bad PRENAS_NCCL or PRENAS_GRAD_BUCKET_BYTES values are input
 * errors (exit 2). comm, be and grads must outlive the sync. */
GradSync *grad_sync_create(const Comm *comm, const Backend *be, real *grads, size_t n,
                           const GradSyncOptions *options);
void grad_sync_free(GradSync *sync);

/* Entries [first_final, n) of this step's gradients are final (queued on the backend's
 * stream): every bucket inside them that has not been started is started. Calls of one step
 * come with decreasing first_final; a call that finishes no bucket costs nothing. */
void grad_sync_ready(GradSync *sync, size_t first_final);
/* The same with the parameter table's callback signature (ParamTable.on_grads_ready, its
 * context the sync). */
void grad_sync_on_ready(void *sync, size_t first_final);
/* Starts every bucket not yet started and orders the backend's stream after all of them:
 * what the backend runs next (clipping, AdamW) sees the summed gradients. On the MPI paths
 * the whole sum happens here. The sync is then ready for the next step. */
void grad_sync_finish(GradSync *sync);

GradSyncPath grad_sync_path(const GradSync *sync);
/* "NCCL", "MPI_Allreduce", "host-staged MPI_Allreduce" or "none" */
const char *grad_sync_path_name(GradSyncPath path);
const GradBucketPlan *grad_sync_buckets(const GradSync *sync);
/* Why NCCL is not used on a CUDA backend ("" when it is, or was never a choice). */
const char *grad_sync_fallback(const GradSync *sync);

#endif
