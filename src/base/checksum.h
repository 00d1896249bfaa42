#ifndef PRENAS_CHECKSUM_H
#define PRENAS_CHECKSUM_H

/* SHA-256 of whole files, for the provenance chain of artefacts: the same digest
 * `sha256sum FILE` prints, so users can check an input by hand. */

#include "error.h"

#include <stdbool.h>

enum { SHA256_HEX_SIZE = 65 };

bool sha256_file(const char *path, char hex[SHA256_HEX_SIZE], Error *err);
/* The SHA-256 of a string's bytes (without its terminating NUL). */
void sha256_text(const char *text, char hex[SHA256_HEX_SIZE]);

#endif
