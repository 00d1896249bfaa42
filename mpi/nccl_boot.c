#include "nccl_boot.h"

#include "error.h"

#include <limits.h>
#include <mpi.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef PRENAS_HAVE_CUDA

/* Where a rank's GPU is: two ranks with the same place share one GPU. */
typedef struct {
    char host[MPI_MAX_PROCESSOR_NAME];
    char bus[128]; /* the PCI bus id, or why it is unknown */
    int known;
} GpuPlace;

/* NCCL refuses two ranks on one GPU (ncclInvalidUsage, "Duplicate GPU detected"); found
 * before ncclCommInitRank so that every rank takes the same decision with a reason naming
 * the ranks, and none is left inside NCCL's initialisation. */
static bool gpus_distinct(const Comm *comm, const Backend *be, char *why, size_t why_size) {
    GpuPlace mine = {0};
    int length = 0;
    CHECK_MPI(MPI_Get_processor_name(mine.host, &length));
    mine.known = nccl_device_bus_id(be, mine.bus, sizeof mine.bus);
    GpuPlace *all = xmalloc(sizeof *all * (size_t)comm->size);
    CHECK_MPI(MPI_Allgather(&mine, (int)sizeof mine, MPI_BYTE, all, (int)sizeof mine, MPI_BYTE,
                            MPI_COMM_WORLD));
    bool distinct = true;
    for (int r = 0; r < comm->size && distinct; r++) {
        if (!all[r].known) {
            snprintf(why, why_size, "rank %d cannot name its GPU: %.200s", r, all[r].bus);
            distinct = false;
        }
        for (int q = 0; q < r && distinct; q++) {
            if (strcmp(all[q].host, all[r].host) == 0 && strcmp(all[q].bus, all[r].bus) == 0) {
                snprintf(why, why_size,
                         "ranks %d and %d share the GPU at %.100s on %.200s, and NCCL refuses two "
                         "ranks on one GPU",
                         q, r, all[r].bus, all[r].host);
                distinct = false;
            }
        }
    }
    free(all);
    return distinct;
}

NcclComm *nccl_boot(const Comm *comm, const Backend *be, char *why, size_t why_size) {
    if (be->kind != DEVICE_CUDA) {
        snprintf(why, why_size, "the %s backend has no NCCL", backend_device_name(be));
        return NULL;
    }
    if (!gpus_distinct(comm, be, why, why_size)) return NULL;
    struct {
        int ok;
        unsigned char id[NCCL_ID_BYTES];
        char why[400];
    } boot = {0};
    if (comm->rank == 0) boot.ok = nccl_unique_id(boot.id, boot.why, sizeof boot.why);
    CHECK_MPI(MPI_Bcast(&boot, (int)sizeof boot, MPI_BYTE, 0, MPI_COMM_WORLD));
    if (!boot.ok) {
        snprintf(why, why_size, "rank 0: %s", boot.why);
        return NULL;
    }
    char mine[400] = "";
    NcclComm *nc = nccl_comm_open(be, boot.id, comm->rank, comm->size, mine, sizeof mine);
    /* ncclCommInitRank may fail on some ranks only: all agree, and every rank drops its part */
    int failed = nc ? INT_MAX : comm->rank, first;
    CHECK_MPI(MPI_Allreduce(&failed, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD));
    if (first == INT_MAX) return nc;
    CHECK_MPI(MPI_Bcast(mine, (int)sizeof mine, MPI_CHAR, first, MPI_COMM_WORLD));
    snprintf(why, why_size, "rank %d: %s", first, mine);
    nccl_comm_close(nc, true);
    return NULL;
}

#else

NcclComm *nccl_boot(const Comm *comm, const Backend *be, char *why, size_t why_size) {
    (void)comm, (void)be;
    snprintf(why, why_size, "this build has no CUDA, and so no NCCL");
    return NULL;
}

#endif
