#ifndef PRENAS_GRAD_BUCKETS_H
#define PRENAS_GRAD_BUCKETS_H

/* How the gradient arena is cut into allreduce buckets (mpi/grad_sync.h), as index arithmetic
 * alone so that it is tested without MPI, NCCL or a GPU.
 *
 * vit_backward finishes the arena from its end towards its start (head and norm first, block 0
 * and the embeddings last), so buckets are launched from the end: bucket 0 holds the arena's
 * last entries. Boundaries are the multiples of the bucket size counted from the arena's start
 * (every bucket but bucket 0 is whole and starts aligned like the arena); they depend only on
 * the arena's length and the bucket size, never on timing, so each bucket is the same sum of
 * the same ranks every step and NCCL's reduction of it repeats bit for bit. */

#include <stddef.h>

/* Bucket sizes are whole multiples of this many entries (256 bytes of float): the alignment
 * NCCL and cudaMalloc give their fastest copies. */
enum { GRAD_BUCKET_ALIGN = 64 };

typedef struct {
    size_t first, count; /* entries [first, first + count) of the arena */
} GradBucket;

typedef struct {
    size_t n_entries;      /* the arena */
    size_t bucket_entries; /* a multiple of GRAD_BUCKET_ALIGN */
    size_t n_buckets;
    GradBucket *buckets; /* in launch order: buckets[0] ends at n_entries, the last starts at 0 */
} GradBucketPlan;

/* Entries per bucket for about `bucket_bytes` of entries of `entry_bytes` each: rounded up to a
 * multiple of GRAD_BUCKET_ALIGN (one multiple at least). */
size_t grad_bucket_entries(size_t bucket_bytes, size_t entry_bytes);

/* The buckets of an arena of n_entries (none when it is empty). */
GradBucketPlan grad_bucket_plan(size_t n_entries, size_t bucket_entries);
void grad_bucket_plan_free(GradBucketPlan *plan);

/* How many buckets, counted in launch order, lie wholly inside the final entries
 * [first_final, n_entries): those that may be reduced once the entries from first_final on
 * will not change any more. Grows as first_final decreases; all of them at 0. */
size_t grad_buckets_ready(const GradBucketPlan *plan, size_t first_final);

#endif
