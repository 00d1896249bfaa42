#ifndef PRENAS_NCCL_COMM_H
#define PRENAS_NCCL_COMM_H

/* NCCL over the ranks' GPUs for the CUDA backend: a communicator with a stream of its own, so
 * that sums of gradient buckets run beside the backward pass on the compute stream, ordered
 * against it by events rather than by the host. Built only with the CUDA backend
 * (mpi/nccl_comm.cu, in the prenas_cuda library); the CPU-only, double-precision and tier-1
 * device builds never see NCCL. Free of MPI: mpi/grad_sync.c bootstraps it (the unique id is
 * broadcast over MPI) and decides when NCCL is not usable. */

#include "backend.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { NCCL_ID_BYTES = 128 }; /* NCCL_UNIQUE_ID_BYTES (checked where nccl.h is included) */

typedef struct NcclComm NcclComm;

/* The NCCL library's version (22803 is 2.28.3). */
int nccl_version(void);
/* The id rank 0 makes and every rank passes to nccl_comm_open; false with the reason. */
bool nccl_unique_id(unsigned char id[NCCL_ID_BYTES], char *why, size_t why_size);
/* The PCI bus id of the backend's GPU ("0000:65:00.0"), which tells two ranks on one GPU
 * apart from two ranks on two; false with the CUDA error in `out`. */
bool nccl_device_bus_id(const Backend *be, char *out, size_t size);

/* Collective over the `size` ranks: this rank's member of the communicator on the backend's
 * GPU (cudaSetDevice was done when it was opened). NULL with NCCL's reason when NCCL refuses;
 * then every rank must hear of it (the caller agrees over MPI) and close its own with
 * `abort` set, since the communicator is unusable everywhere. */
NcclComm *nccl_comm_open(const Backend *be, const unsigned char id[NCCL_ID_BYTES], int rank,
                         int size, char *why, size_t why_size);
void nccl_comm_close(NcclComm *nc, bool abort);

/* Work queued on the NCCL stream from now on starts after everything queued so far on the
 * backend's compute stream (an event; the host does not wait). */
void nccl_comm_wait_for_compute(NcclComm *nc);
/* Queues the in-place sum over all ranks of `count` entries of `entry_bytes` (4: float, 8:
 * double) at `data` (device memory) on the NCCL stream. */
void nccl_comm_sum(NcclComm *nc, void *data, size_t count, size_t entry_bytes);
/* Work queued on the compute stream from now on starts after every sum queued so far (an
 * event; the host does not wait). Reports an asynchronous NCCL failure seen so far. */
void nccl_comm_join_compute(NcclComm *nc);

#ifdef __cplusplus
}
#endif

#endif
