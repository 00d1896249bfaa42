#include "checksum.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static EVP_MD_CTX *digest_start(void) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        fatal_at(__FILE__, __LINE__, "OpenSSL cannot start a SHA-256 digest");
    return ctx;
}

static void digest_finish(EVP_MD_CTX *ctx, char hex[SHA256_HEX_SIZE]) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned length = 0;
    if (EVP_DigestFinal_ex(ctx, digest, &length) != 1 || length != 32)
        fatal_at(__FILE__, __LINE__, "SHA-256 final failed");
    EVP_MD_CTX_free(ctx);
    for (unsigned i = 0; i < length; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

void sha256_text(const char *text, char hex[SHA256_HEX_SIZE]) {
    EVP_MD_CTX *ctx = digest_start();
    if (EVP_DigestUpdate(ctx, text, strlen(text)) != 1)
        fatal_at(__FILE__, __LINE__, "SHA-256 update failed");
    digest_finish(ctx, hex);
}

bool sha256_file(const char *path, char hex[SHA256_HEX_SIZE], Error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return input_error(err, "cannot open: %m, %s", path);
    EVP_MD_CTX *ctx = digest_start();
    enum { BLOCK = 1 << 20 };
    unsigned char *buffer = xmalloc(BLOCK);
    size_t n;
    while ((n = fread(buffer, 1, BLOCK, f)) > 0)
        if (EVP_DigestUpdate(ctx, buffer, n) != 1)
            fatal_at(__FILE__, __LINE__, "SHA-256 update failed");
    bool read_failed = ferror(f);
    fclose(f);
    free(buffer);
    digest_finish(ctx, hex);
    if (read_failed) return input_error(err, "read error: %m, %s", path);
    return true;
}
