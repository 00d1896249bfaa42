#ifndef PRENAS_NCCL_BOOT_H
#define PRENAS_NCCL_BOOT_H

/* NCCL's communicator over the ranks of an MPI job, bootstrapped over MPI: rank 0's unique id
 * is broadcast with MPI_Bcast, then every rank joins with ncclCommInitRank on the GPU its
 * backend opened. Shared by the gradient sync (mpi/grad_sync.h) and prenas-bench-allreduce. */

#include "backend.h"
#include "comm.h"
#include "nccl_comm.h"

#include <stddef.h>

/* Collective. NULL when NCCL cannot be used, with a reason every rank agrees on in `why`: a
 * build without CUDA, a backend that is not CUDA, two ranks on one GPU (NCCL refuses them;
 * found by comparing the GPUs' hosts and PCI bus ids before NCCL is asked), or NCCL's own
 * refusal on any rank (the first failing rank's reason). Close with nccl_comm_close. */
NcclComm *nccl_boot(const Comm *comm, const Backend *be, char *why, size_t why_size);

#endif
