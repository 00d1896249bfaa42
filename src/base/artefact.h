#ifndef PRENAS_ARTEFACT_H
#define PRENAS_ARTEFACT_H

/* Every hand-off between stages is one HDF5 file with a /meta group (docs/artefacts.md):
 * schema name and version, producing stage, project version, creation time and host, the
 * command line, the resolved configuration text, seed, world size, and the path and SHA-256
 * of every input artefact. Files are written atomically: the data goes to PATH.tmp, which is
 * flushed to disk and renamed over PATH only when complete, so a crash never leaves a
 * half-written PATH and never destroys the previous one. */

#include "checksum.h"
#include "error.h"

#include <hdf5.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

enum { ARTEFACT_MAX_INPUTS = 16, ARTEFACT_PATH_MAX = 4096 };

typedef struct {
    char role[32]; /* what the input was to the stage: "dataset", "scores", "source", ... */
    char path[ARTEFACT_PATH_MAX];
    char sha256[SHA256_HEX_SIZE];
} ArtefactInput;

/* What run an artefact belongs to, so that a stage can refuse inputs of two different runs
 * (src/base/lineage.h): digests, "" where unknown (a file written before they were recorded, a
 * supernet from tools/torch2h5.py) or where there is none (data-free scores have no data). */
typedef struct {
    char space[SHA256_HEX_SIZE];   /* the search space scored, selected in, trained */
    char classes[SHA256_HEX_SIZE]; /* the data's classes: their number and names */
} Lineage;

typedef struct {
    char schema[64]; /* "prenas.dataset" */
    int64_t schema_version;
    char stage[64];          /* producing program */
    char prenas_version[64]; /* of the producing program */
    char created[32];        /* UTC, ISO 8601 */
    char host[256];
    char *command_line; /* owned */
    char *config;       /* the resolved configuration text, owned; "" when none */
    uint64_t seed;
    int64_t world_size;
    char mode[64]; /* how the stage ran, when it has modes (prenas-train: the sampling); "" */
    int n_inputs;
    ArtefactInput inputs[ARTEFACT_MAX_INPUTS];
    Lineage lineage; /* /meta/lineage, written when either digest is known */
} ArtefactMeta;

/* Fills the fields every producer shares (stage, versions, time, host, command line);
 * seed 0, world size 1, no config, no inputs. */
void artefact_meta_init(ArtefactMeta *meta, const char *schema, int64_t schema_version, int argc,
                        char **argv);
void artefact_meta_set_config(ArtefactMeta *meta, const char *config_text);
/* Records an input file with its SHA-256. */
bool artefact_meta_add_input(ArtefactMeta *meta, const char *role, const char *path, Error *err);
void artefact_meta_free(ArtefactMeta *meta);
/* The first input of this role ("dataset", "supernet", ...); NULL when there is none. */
const ArtefactInput *artefact_meta_input(const ArtefactMeta *meta, const char *role);

/* A stage's PATH.tmp removed when SIGTERM or SIGINT ends the stage (a cancelled job, ^C),
 * which would otherwise leave it behind (30 MB for a small packed dataset). As prenas-train
 * takes its stop signals, the signals are blocked in every thread and taken by a thread of
 * their own with sigwait: that thread may remove the file and end the process while the
 * stage is anywhere in HDF5, which a handler interrupting HDF5 could not. Owned by main. */
typedef struct {
    sigset_t signals;
    pthread_mutex_t lock; /* between the signal and a commit, an abort or a text write */
    int n;                /* the files a signal removes: every writer begun and not yet done */
    char **tmp_paths;     /* (prenas-specialize begins one per budget) */
} ArtefactGuard;

typedef struct {
    hid_t file; /* write datasets here between begin and commit */
    char path[ARTEFACT_PATH_MAX], tmp_path[ARTEFACT_PATH_MAX + 8];
    ArtefactGuard *guard; /* set by artefact_begin_guarded */
    bool in_memory;       /* begun by artefact_begin_in_memory */
} ArtefactWriter;

/* Creates PATH.tmp; an input error if PATH's directory is missing or not writable, or if
 * another process is writing PATH.tmp (a second stage with the same output), which is then
 * left as it is. */
bool artefact_begin(ArtefactWriter *writer, const char *path, Error *err);
/* artefact_begin for a file that fits in memory twice over (a training checkpoint): it is built
 * in memory, and the file system is first touched in artefact_save, where each of its failures
 * (a full or read-only one, a missing directory, an I/O error) is an input error naming the
 * file. Written through HDF5, such failures surface in whichever HDF5 call meets them, which
 * can only end the process (CHECK_H5), leaving PATH.tmp behind. */
bool artefact_begin_in_memory(ArtefactWriter *writer, const char *path, Error *err);
/* Writes /meta, flushes, fsyncs, and renames PATH.tmp to PATH. On a failure PATH.tmp is removed
 * and PATH (an older version, if any) left as it was. */
bool artefact_save(ArtefactWriter *writer, const ArtefactMeta *meta, Error *err);
/* artefact_save for stages that cannot continue without their output: a failure exits 1. */
void artefact_commit(ArtefactWriter *writer, const ArtefactMeta *meta);
/* Closes and removes PATH.tmp; PATH (an older version, if any) is untouched. */
void artefact_abort(ArtefactWriter *writer);

/* Blocks SIGTERM and SIGINT and starts the thread that takes them. Call it first in main,
 * before MPI or OpenMP start threads: a thread started earlier does not block them, and a
 * signal it took would end the process with PATH.tmp still there. A signal ends the process
 * as it would have without the guard (the shell sees 128 + the signal's number). */
void artefact_guard_start(ArtefactGuard *guard);
/* artefact_begin, after which, until `writer` commits or aborts, a signal removes its PATH.tmp
 * first; a signal while it runs waits for it, so that no PATH.tmp is left unknown to the guard. */
bool artefact_begin_guarded(ArtefactWriter *writer, const char *path, ArtefactGuard *guard,
                            Error *err);
/* Between these a signal waits: text outputs (atomic_write_text, the plot's files) written
 * between them are never left as PATH.tmp. No commit or abort may come between them. */
void artefact_guard_hold(ArtefactGuard *guard);
void artefact_guard_release(ArtefactGuard *guard);

/* Whether PATH can be written: its directory exists and is writable, and PATH is not a
 * directory. artefact_begin checks this; a stage that writes text at its end calls it first,
 * so that a mistyped output is reported before the work. */
bool artefact_check_output(const char *path, Error *err);
/* An input error when the output PATH is one of the n files `inputs` (the same file by device
 * and inode, whatever the paths): the rename would replace that input, e.g. scores.h5 given as
 * both --in and --out. NULL inputs (options not given), a missing input or a missing output
 * pass: other checks report those. */
bool artefact_check_not_input(const char *path, int n, const char *const *inputs, Error *err);
/* A text file (JSON, a configuration) written the same way: PATH.tmp, fsync, rename. Under a
 * guard, write it between artefact_guard_hold and artefact_guard_release. */
bool atomic_write_text(const char *path, const char *text, Error *err);

typedef struct {
    hid_t file;
    char path[ARTEFACT_PATH_MAX];
    ArtefactMeta meta;
} Artefact;

/* Opens PATH and checks that it is a prenas artefact of `schema` with a version this build
 * understands (1..max_version); `schema` NULL accepts any prenas artefact. */
bool artefact_open(Artefact *artefact, const char *path, const char *schema, int64_t max_version,
                   Error *err);
void artefact_close(Artefact *artefact);

#endif
