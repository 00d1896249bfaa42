#ifndef PRENAS_TESTS_ORACLE_RUN_H
#define PRENAS_TESTS_ORACLE_RUN_H

/* The end of a test whose checks a Python oracle makes (tests/oracle/): runs `script` on the
 * HDF5 file the test wrote (Debian's Python, or PRENAS_PYTHON), counts its exit status as a
 * check, and removes the test's temporary folder. */

#include "check.h"

#include <stdio.h>
#include <stdlib.h>

static inline void oracle_run(const char *script, const char *path, const char *dir) {
    char command[2048];
    const char *python = getenv("PRENAS_PYTHON") ? getenv("PRENAS_PYTHON") : "/usr/bin/python3";
    snprintf(command, sizeof command, "%s %s %s", python, script, path);
    fflush(stdout);
    if (!CHECK(system(command) == 0)) fprintf(stderr, "     the oracle failed: %s\n", command);
    snprintf(command, sizeof command, "rm -rf %s", dir);
    CHECK(system(command) == 0);
}

#endif
