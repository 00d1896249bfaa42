#include "comm.h"

#include <errno.h>
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* How many processes the launcher says it started, from the variables it sets in each of them
 * (0: none set). srun sets SLURM_STEP_NUM_TASKS in the tasks of its step; Open MPI's mpirun sets
 * OMPI_COMM_WORLD_SIZE and its daemons' SLURM_STEP_NUM_TASKS (one task a node) leaks into the
 * ranks, so under mpirun (OMPI_MCA_orte_hnp_uri) the step's count is not the ranks'; Hydra and
 * other PMI launchers set PMI_SIZE. SLURM_NTASKS alone is not compared: the batch script itself
 * is one process of a --ntasks=N job, and a serial stage run there directly (or mpirun -np 1 in
 * it) is one rank by intent. */
static long launched_size(const char **variable) {
    const bool under_mpirun = getenv("OMPI_MCA_orte_hnp_uri") != NULL;
    const char *const names[] = {under_mpirun ? "OMPI_COMM_WORLD_SIZE" : "SLURM_STEP_NUM_TASKS",
                                 "PMI_SIZE"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const char *text = getenv(names[i]);
        char *end;
        errno = 0;
        long n = text ? strtol(text, &end, 10) : 0;
        if (text && errno == 0 && end != text && *end == '\0' && n > 0)
            return *variable = names[i], n;
    }
    return 0;
}

Comm comm_start(int *argc, char ***argv) {
    CHECK_MPI(MPI_Init(argc, argv));
    Comm c;
    CHECK_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &c.rank));
    CHECK_MPI(MPI_Comm_size(MPI_COMM_WORLD, &c.size));
    /* A launcher whose processes MPI cannot reach (srun without a PMI plugin Open MPI knows)
     * starts N singletons that would each compute and write the same output. */
    const char *variable = NULL;
    const long launched = launched_size(&variable);
    if (launched > 0 && launched != c.size)
        die_input("the launcher started %ld processes (%s) but MPI sees a world of %d: each "
                  "process runs alone without PMI; start the ranks with srun --mpi=pmix or mpirun",
                  launched, variable, c.size);
    return c;
}

void comm_finish(void) {
    CHECK_MPI(MPI_Finalize());
}

bool comm_failed(const Comm *comm, const Error *err) {
    if (comm->size == 1) return err->code != 0;
    int mine = err->code != 0, any;
    CHECK_MPI(MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
    return any != 0;
}

void comm_check(const Comm *comm, const Error *err) {
    int mine = err->code ? comm->rank : INT_MAX, first;
    CHECK_MPI(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD));
    if (first == INT_MAX) return;
    int code = comm->rank == first ? err->code : 0, agreed;
    CHECK_MPI(MPI_Allreduce(&code, &agreed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
    if (comm->rank == first) {
        if (comm->size > 1)
            fprintf(stderr, "%s: error (rank %d): %s\n", program_invocation_short_name, first,
                    err->message);
        else
            fprintf(stderr, "%s: error: %s\n", program_invocation_short_name, err->message);
    }
    MPI_Finalize();
    exit(agreed);
}

enum { PIECE = 1 << 28 }; /* elements per MPI call: far below INT_MAX bytes for doubles */

void comm_sum_reals(const Comm *comm, real *data, size_t n) {
    if (comm->size == 1) return;
    MPI_Datatype type = sizeof(real) == sizeof(float) ? MPI_FLOAT : MPI_DOUBLE;
    for (size_t first = 0; first < n; first += PIECE) {
        int count = (int)(n - first < PIECE ? n - first : PIECE);
        CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, data + first, count, type, MPI_SUM, MPI_COMM_WORLD));
    }
}

void comm_sum_doubles(const Comm *comm, double *data, size_t n) {
    if (comm->size == 1) return;
    for (size_t first = 0; first < n; first += PIECE) {
        int count = (int)(n - first < PIECE ? n - first : PIECE);
        CHECK_MPI(
            MPI_Allreduce(MPI_IN_PLACE, data + first, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
    }
}

void *comm_gather_bytes(const Comm *comm, const void *mine, size_t bytes, size_t *total) {
    if (bytes > INT_MAX) fatal_at(__FILE__, __LINE__, "gather of %zu bytes from one rank", bytes);
    int count = (int)bytes, *counts = NULL, *offsets = NULL;
    char *all = NULL;
    if (comm->rank == 0) {
        counts = xmalloc(sizeof *counts * comm->size);
        offsets = xmalloc(sizeof *offsets * comm->size);
    }
    CHECK_MPI(MPI_Gather(&count, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD));
    if (comm->rank == 0) {
        size_t sum = 0;
        for (int r = 0; r < comm->size; r++) {
            if (sum > INT_MAX) fatal_at(__FILE__, __LINE__, "gather of more than 2 GiB");
            offsets[r] = (int)sum;
            sum += (size_t)counts[r];
        }
        all = xmalloc(sum ? sum : 1);
        *total = sum;
    }
    CHECK_MPI(
        MPI_Gatherv(mine, count, MPI_BYTE, all, counts, offsets, MPI_BYTE, 0, MPI_COMM_WORLD));
    free(counts);
    free(offsets);
    return all;
}

void comm_share(const Comm *comm, size_t n, size_t *first, size_t *count) {
    *first = n * (size_t)comm->rank / (size_t)comm->size;
    *count = n * (size_t)(comm->rank + 1) / (size_t)comm->size - *first;
}

int comm_node_size(const Comm *comm) {
    MPI_Comm node;
    int size;
    CHECK_MPI(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, comm->rank, MPI_INFO_NULL,
                                  &node));
    CHECK_MPI(MPI_Comm_size(node, &size));
    CHECK_MPI(MPI_Comm_free(&node));
    return size;
}

void comm_barrier_idle(const Comm *comm) {
    if (comm->size == 1) return;
    MPI_Request request;
    CHECK_MPI(MPI_Ibarrier(MPI_COMM_WORLD, &request));
    for (int done = 0;;) {
        CHECK_MPI(MPI_Test(&request, &done, MPI_STATUS_IGNORE));
        if (done) return;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
}
