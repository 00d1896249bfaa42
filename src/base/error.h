#ifndef PRENAS_ERROR_H
#define PRENAS_ERROR_H

/* Two kinds of failure, two mechanisms.
 *
 * Bad input (a config, an architecture string, a data file, an artefact) is expected: the
 * library reports it through an Error that the caller passes in, so that a stage can abort
 * its half-written output before it exits with status 2 and one line on stderr:
 *     prenas-pack: error: <what>, <where>
 *
 * Failures of the machine (out of memory, an HDF5 or MPI call that should not fail) are
 * not the user's fault: the CHECK_* macros report the call, file and line, and exit 1. */

#include <stdbool.h>
#include <stddef.h>

/* EXIT_STOPPED: a run stopped early on request (SIGTERM, SIGUSR1) after a complete checkpoint;
 * the same command continues it. 75 is sysexits' EX_TEMPFAIL ("try again later"): distinct from
 * success, so that a job script can tell "requeue me" from "done", and from every failure. */
enum { EXIT_RUNTIME = 1, EXIT_INPUT = 2, EXIT_STOPPED = 75 };

typedef struct {
    int code; /* 0: no error; EXIT_INPUT or EXIT_RUNTIME */
    char message[1024];
} Error;

/* Records the first error only (later ones are consequences); always returns false so that
 * a function can `return error_set(err, ...)`. */
bool error_set(Error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define input_error(err, ...) error_set((err), EXIT_INPUT, __VA_ARGS__)

/* Prints "<program>: error: <message>" and exits with the error's code. Under MPI it is
 * collective: every rank calls it for the same error, rank 0 prints, all finalise. (An error
 * that only some ranks meet goes through comm_check, mpi/comm.h.) */
_Noreturn void die(const Error *err);
/* The same for an error a stage detects itself (usage, option values): exit 2. */
_Noreturn void die_input(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatal_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Calls that return a negative value on failure (HDF5). */
#define CHECK_H5(call)                                                                             \
    do {                                                                                           \
        if ((call) < 0) fatal_at(__FILE__, __LINE__, "HDF5 call failed: %s", #call);               \
    } while (0)
/* Calls that return MPI_SUCCESS or an error code. */
#define CHECK_MPI(call)                                                                            \
    do {                                                                                           \
        int mpi_rc_ = (call);                                                                      \
        if (mpi_rc_ != 0)                                                                          \
            fatal_at(__FILE__, __LINE__, "MPI call failed (%d): %s", mpi_rc_, #call);              \
    } while (0)
/* C library calls that return -1 (or any negative value) and set errno. */
#define CHECK_SYS(call)                                                                            \
    do {                                                                                           \
        if ((call) < 0) fatal_at(__FILE__, __LINE__, "%s: %m", #call);                             \
    } while (0)

void *xmalloc_at(const char *file, int line, size_t size);
void *xcalloc_at(const char *file, int line, size_t count, size_t size);
void *xrealloc_at(const char *file, int line, void *ptr, size_t size);
char *xstrdup_at(const char *file, int line, const char *s);
#define xmalloc(size)        xmalloc_at(__FILE__, __LINE__, (size))
#define xcalloc(count, size) xcalloc_at(__FILE__, __LINE__, (count), (size))
#define xrealloc(ptr, size)  xrealloc_at(__FILE__, __LINE__, (ptr), (size))
#define xstrdup(s)           xstrdup_at(__FILE__, __LINE__, (s))

#endif
