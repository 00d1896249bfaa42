#include "error.h"

#include <errno.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool error_set(Error *err, int code, const char *fmt, ...) {
    if (err->code != 0) return false;
    err->code = code;
    va_list args;
    va_start(args, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, args);
    va_end(args);
    return false;
}

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
    if (primary_process())
        fprintf(stderr, "%s: error: %s\n", program_invocation_short_name, err->message);
    if (mpi_running()) MPI_Finalize();
    exit(err->code != 0 ? err->code : EXIT_RUNTIME);
}

_Noreturn void die_alone(const Error *err) {
    const int code = err->code != 0 ? err->code : EXIT_RUNTIME;
    fprintf(stderr, "%s: error: %s\n", program_invocation_short_name, err->message);
    if (mpi_running()) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
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

_Noreturn void fatal_at(const char *file, int line, const char *fmt, ...) {
    int saved_errno = errno;
    char message[1024];
    va_list args;
    va_start(args, fmt);
    errno = saved_errno; /* for %m */
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    fprintf(stderr, "%s: internal error: %s, %s:%d\n", program_invocation_short_name, message, file,
            line);
    exit(EXIT_RUNTIME);
}

void *xmalloc_at(const char *file, int line, size_t size) {
    void *p = malloc(size ? size : 1);
    if (!p) fatal_at(file, line, "out of memory allocating %zu bytes", size);
    return p;
}

void *xcalloc_at(const char *file, int line, size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) fatal_at(file, line, "out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *xrealloc_at(const char *file, int line, void *ptr, size_t size) {
    void *p = realloc(ptr, size ? size : 1);
    if (!p) fatal_at(file, line, "out of memory reallocating to %zu bytes", size);
    return p;
}

char *xstrdup_at(const char *file, int line, const char *s) {
    char *p = strdup(s);
    if (!p) fatal_at(file, line, "out of memory copying a string");
    return p;
}
