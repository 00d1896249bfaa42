/* Leaving a stage on an error (error.h): die and die_input, which know about MPI.
 * Kept apart from error.c so that error.c builds without MPI (tests/device/). */
#include "error.h"

#include <errno.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool mpi_running(void) {
    int started = 0, finished = 0;
    MPI_Initialized(&started);
    MPI_Finalized(&finished);
    return started && !finished;
}

/* Rank 0 speaks for errors every rank meets alike. Before MPI starts (command-line errors),
 * the launchers' environment tells the rank. */
static bool primary_process(void) {
    if (mpi_running()) {
        int rank = 0;
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        return rank == 0;
    }
    static const char *const variables[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK",
                                            "SLURM_PROCID"};
    for (size_t i = 0; i < sizeof variables / sizeof variables[0]; i++) {
        const char *rank = getenv(variables[i]);
        if (rank) return strcmp(rank, "0") == 0;
    }
    return true;
}

_Noreturn void die(const Error *err) {
    fflush(stdout); /* what the stage printed comes first in a log of both streams */
    if (primary_process())
        fprintf(stderr, "%s: error: %s\n", program_invocation_short_name, err->message);
    if (mpi_running()) MPI_Finalize();
    exit(err->code != 0 ? err->code : EXIT_RUNTIME);
}

_Noreturn void die_input(const char *fmt, ...) {
    Error err = {0};
    va_list args;
    va_start(args, fmt);
    err.code = EXIT_INPUT;
    vsnprintf(err.message, sizeof err.message, fmt, args);
    va_end(args);
    die(&err);
}
