/*
 * sha256.c — SHA-256 over OpenSSL's EVP interface, plus hex helpers.
 */
#include "lakehouse/lh_sha256.h"
#include "lakehouse/lh_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <unistd.h>

void lh_sha256_init(lh_sha256 *h)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) abort();
    h->ctx = ctx;
}

void lh_sha256_update(lh_sha256 *h, const void *data, size_t n)
{
    if (n && EVP_DigestUpdate(h->ctx, data, n) != 1) abort();
}

void lh_sha256_final(lh_sha256 *h, uint8_t out[LH_SHA256_LEN])
{
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(h->ctx, out, &len) != 1 || len != LH_SHA256_LEN) abort();
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
}

void lh_hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void lh_sha256_final_hex(lh_sha256 *h, char out[LH_SHA256_HEX_LEN + 1])
{
    uint8_t raw[LH_SHA256_LEN];
    lh_sha256_final(h, raw);
    lh_hex_encode(raw, sizeof raw, out);
}

void lh_sha256_hex(const void *data, size_t n, char out[LH_SHA256_HEX_LEN + 1])
{
    lh_sha256 h;
    lh_sha256_init(&h);
    lh_sha256_update(&h, data, n);
    lh_sha256_final_hex(&h, out);
}

lh_code lh_sha256_file_hex(const char *path, char out[LH_SHA256_HEX_LEN + 1], lh_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lh_err_errno(err, errno == ENOENT ? LH_ENOTFOUND : LH_EIO, errno, "%s", path);
    lh_sha256 h;
    lh_sha256_init(&h);
    enum { CHUNK = 1 << 16 };
    unsigned char *chunk = lh_xmalloc(CHUNK);
    for (;;) {
        ssize_t n = read(fd, chunk, CHUNK);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            free(chunk);
            uint8_t discard[LH_SHA256_LEN];
            lh_sha256_final(&h, discard);
            return lh_err_errno(err, LH_EIO, e, "reading %s", path);
        }
        if (n == 0) break;
        lh_sha256_update(&h, chunk, (size_t)n);
    }
    close(fd);
    free(chunk);
    lh_sha256_final_hex(&h, out);
    return LH_OK;
}
