#ifndef PRENAS_COMM_H
#define PRENAS_COMM_H

/* The ranks of a stage (design.md §6): MPI started by the stage itself, so a binary runs under
 * mpirun or srun, or alone as a singleton. Failures on input are agreed on collectively: the
 * lowest failing rank prints its one-line error and every rank leaves with its exit status,
 * so no rank is left waiting in a collective. */

#include "error.h"
#include "real.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    int rank, size;
} Comm;

Comm comm_start(int *argc, char ***argv);
void comm_finish(void);

/* Collective: whether any rank has an error (so that a rank can clean up, e.g. abort its
 * half-written output, before comm_check). */
bool comm_failed(const Comm *comm, const Error *err);
/* Collective. Returns when no rank has an error; otherwise never returns. */
void comm_check(const Comm *comm, const Error *err);

/* In-place sums over all ranks (any length; sent in pieces MPI's int counts can address). */
void comm_sum_reals(const Comm *comm, real *data, size_t n);
void comm_sum_doubles(const Comm *comm, double *data, size_t n);
/* Rank 0 receives every rank's bytes, concatenated in rank order (xmalloc'd; NULL elsewhere). */
void *comm_gather_bytes(const Comm *comm, const void *mine, size_t bytes, size_t *total);

/* Collective barrier that sleeps while it waits: MPI_Barrier polls and would take a core
 * from a rank that is timing something (latency measurements). */
void comm_barrier_idle(const Comm *comm);

/* Collective: how many ranks share this rank's node (its memory). */
int comm_node_size(const Comm *comm);

/* This rank's share [first, first + count) of n items, contiguous and in rank order. */
void comm_share(const Comm *comm, size_t n, size_t *first, size_t *count);

#endif
