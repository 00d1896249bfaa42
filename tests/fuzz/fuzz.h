#ifndef PRENAS_FUZZ_H
#define PRENAS_FUZZ_H

/* What the harnesses share (docs/fuzzing.md). Each harness is one LLVMFuzzerTestOneInput: in
 * the fuzz build (-DPRENAS_FUZZ=ON) libFuzzer calls it; in every other build replay.c's main
 * calls it on the files named on the command line, so that the seed corpus and the regression
 * inputs run in the normal test suites too.
 *
 * The readers take paths (the stages hand them command-line arguments), so an input becomes
 * files in a scratch folder of the process's own, emptied before each input. */

#include "error.h"
#include "import.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The scratch folder, empty: created on the first call (under $TMPDIR, else /tmp) and removed
 * when the process exits; emptied on every later call. */
const char *fuzz_scratch(void);
/* Writes `size` bytes to SCRATCH/NAME; the path, owned by the caller. */
char *fuzz_file(const char *name, const uint8_t *data, size_t size);
/* The input as a NUL-terminated string (a NUL inside ends it early), owned by the caller. */
char *fuzz_text(const uint8_t *data, size_t size);

/* The input as an HDF5 artefact, SCRATCH/in.h5 (HDF5's messages silenced, as in the stages). */
char *fuzz_h5_file(const uint8_t *data, size_t size);
/* The HDF5 harnesses' input (fuzz_h5_edit.c): an edit program applied to one of the seed
 * artefacts in $PRENAS_FUZZ_H5_SEEDS, or with $PRENAS_FUZZ_H5_RAW set the input's bytes as the
 * file; SCRATCH/in.h5, the path owned by the caller. */
char *fuzz_h5_input(const uint8_t *data, size_t size);
/* fuzz_expect, and the reader, whether it failed or not and once its results are freed, has
 * closed every HDF5 identifier it opened. */
void fuzz_h5_expect(bool ok, const Error *err, const char *path);

/* An input that holds several files: the parts between FUZZ_SEPARATOR lines. */
#define FUZZ_SEPARATOR "\n--8<--\n"
typedef struct {
    const uint8_t *data;
    size_t size;
} FuzzPart;
/* Up to `max` parts (the last takes the rest); returns how many. */
int fuzz_parts(const uint8_t *data, size_t size, FuzzPart *parts, int max);

/* ---- checks every harness makes ---- */

/* The error conventions (docs/architecture.md): a reader that succeeds leaves `err` clear; one
 * that fails has set an input error (exit 2, not a machine failure) of one line that names
 * `path` when given (printed when PRENAS_FUZZ_VERBOSE is set). Aborts, which libFuzzer reports as a
 * crash, on anything else. */
void fuzz_expect(bool ok, const Error *err, const char *path);
/* Aborts with `what` unless `property` holds: a harness's own oracle. */
void fuzz_assert(bool property, const char *what);

/* prenas-pack's whole reading path on the source `options` names: its layout, headers and
 * labels, every image of every split, fitted to the shape asked and written to an HDF5 file
 * that lives in memory only. */
void fuzz_pack(const SourceOptions *options);

#endif
