// NCCL on the CUDA backend's GPU (mpi/nccl_comm.h). Opening reports NCCL's refusal to the
// caller, which falls back to host-staged MPI; once open, failures are machine failures
// (CHECK_NCCL, CHECK_CUDA: exit 1 with file:line).
#include "nccl_comm.h"

#include "cuda/common.cuh"

#include <nccl.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static_assert(NCCL_ID_BYTES == NCCL_UNIQUE_ID_BYTES, "nccl_comm.h's id size is NCCL's");
static_assert(sizeof(ncclUniqueId) == NCCL_UNIQUE_ID_BYTES, "an id is its bytes");

struct NcclComm {
    const Backend *be;
    ncclComm_t comm;
    cudaStream_t stream;
    cudaEvent_t computed; // recorded on the compute stream, waited for by the NCCL stream
    cudaEvent_t reduced;  // recorded on the NCCL stream, waited for by the compute stream
};

namespace {

__attribute__((format(printf, 3, 4))) void describe(char *why, size_t why_size, const char *fmt,
                                                    ...) {
    if (!why || !why_size) return;
    va_list args;
    va_start(args, fmt);
    vsnprintf(why, why_size, fmt, args);
    va_end(args);
}

} // namespace

extern "C" int nccl_version(void) {
    int version = 0;
    CHECK_NCCL(ncclGetVersion(&version));
    return version;
}

extern "C" bool nccl_unique_id(unsigned char id[NCCL_ID_BYTES], char *why, size_t why_size) {
    ncclUniqueId unique;
    const ncclResult_t rc = ncclGetUniqueId(&unique);
    if (rc != ncclSuccess) {
        describe(why, why_size, "ncclGetUniqueId: %s (%s)", ncclGetErrorString(rc),
                 ncclGetLastError(nullptr));
        return false;
    }
    memcpy(id, unique.internal, NCCL_ID_BYTES);
    return true;
}

extern "C" bool nccl_device_bus_id(const Backend *be, char *out, size_t size) {
    const cudaError_t rc = cudaDeviceGetPCIBusId(out, (int)size, be->device);
    if (rc == cudaSuccess) return true;
    describe(out, size, "GPU %d: %s", be->device, cudaGetErrorString(rc));
    return false;
}

extern "C" NcclComm *nccl_comm_open(const Backend *be, const unsigned char id[NCCL_ID_BYTES],
                                    int rank, int size, char *why, size_t why_size) {
    ncclUniqueId unique;
    memcpy(unique.internal, id, NCCL_ID_BYTES);
    ncclComm_t comm = nullptr;
    const ncclResult_t rc = ncclCommInitRank(&comm, size, unique, rank);
    if (rc != ncclSuccess) {
        describe(why, why_size, "ncclCommInitRank: %s (%s)", ncclGetErrorString(rc),
                 ncclGetLastError(comm));
        if (comm) ncclCommAbort(comm); // half made: its own failure is not news
        return nullptr;
    }
    NcclComm *nc = static_cast<NcclComm *>(calloc(1, sizeof *nc));
    if (!nc) fatal_at(__FILE__, __LINE__, "out of memory");
    nc->be = be;
    nc->comm = comm;
    // The highest priority: where both streams have kernels waiting, the reduction's go first,
    // so that a bucket's sum is not queued behind the whole remaining backward pass.
    int least = 0, greatest = 0;
    CHECK_CUDA(cudaDeviceGetStreamPriorityRange(&least, &greatest));
    CHECK_CUDA(cudaStreamCreateWithPriority(&nc->stream, cudaStreamNonBlocking, greatest));
    CHECK_CUDA(cudaEventCreateWithFlags(&nc->computed, cudaEventDisableTiming));
    CHECK_CUDA(cudaEventCreateWithFlags(&nc->reduced, cudaEventDisableTiming));
    return nc;
}

extern "C" void nccl_comm_close(NcclComm *nc, bool abort) {
    if (!nc) return;
    if (abort) {
        ncclCommAbort(nc->comm); // another rank failed: nothing of this one is worth keeping
    } else {
        CHECK_CUDA(cudaStreamSynchronize(nc->stream));
        CHECK_NCCL(ncclCommDestroy(nc->comm));
    }
    CHECK_CUDA(cudaEventDestroy(nc->computed));
    CHECK_CUDA(cudaEventDestroy(nc->reduced));
    CHECK_CUDA(cudaStreamDestroy(nc->stream));
    free(nc);
}

extern "C" void nccl_comm_wait_for_compute(NcclComm *nc) {
    CHECK_CUDA(cudaEventRecord(nc->computed, cuda_stream(nc->be)));
    CHECK_CUDA(cudaStreamWaitEvent(nc->stream, nc->computed, 0));
}

extern "C" void nccl_comm_sum(NcclComm *nc, void *data, size_t count, size_t entry_bytes) {
    if (entry_bytes != 4 && entry_bytes != 8)
        fatal_at(__FILE__, __LINE__, "NCCL sum of %zu-byte entries", entry_bytes);
    CHECK_NCCL(ncclAllReduce(data, data, count, entry_bytes == 4 ? ncclFloat : ncclDouble, ncclSum,
                             nc->comm, nc->stream));
}

extern "C" void nccl_comm_join_compute(NcclComm *nc) {
    CHECK_CUDA(cudaEventRecord(nc->reduced, nc->stream));
    CHECK_CUDA(cudaStreamWaitEvent(cuda_stream(nc->be), nc->reduced, 0));
    // a peer lost mid-run shows here (a query, not a wait), not as a hang at the next sync
    ncclResult_t async = ncclSuccess;
    CHECK_NCCL(ncclCommGetAsyncError(nc->comm, &async));
    CHECK_NCCL(async);
}
