/*
 * lh_sha256.h — SHA-256 (OpenSSL libcrypto underneath).
 */
#ifndef LH_SHA256_H
#define LH_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "lakehouse/lh_err.h"

#define LH_SHA256_LEN 32
#define LH_SHA256_HEX_LEN 64

typedef struct lh_sha256 {
    void *ctx; /* EVP_MD_CTX, owned */
} lh_sha256;

void lh_sha256_init(lh_sha256 *h);
void lh_sha256_update(lh_sha256 *h, const void *data, size_t n);
void lh_sha256_final(lh_sha256 *h, uint8_t out[LH_SHA256_LEN]);       /* also releases h */
void lh_sha256_final_hex(lh_sha256 *h, char out[LH_SHA256_HEX_LEN + 1]);

void lh_sha256_hex(const void *data, size_t n, char out[LH_SHA256_HEX_LEN + 1]);
lh_code lh_sha256_file_hex(const char *path, char out[LH_SHA256_HEX_LEN + 1], lh_err *err);

/* Lower-case hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void lh_hex_encode(const uint8_t *in, size_t n, char *out);

#endif
