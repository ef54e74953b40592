/*
 * lh_blake3.h — BLAKE3 (unkeyed, 32-byte output): the content hash of
 * ingested inputs, written "blake3:<hex>". A cryptographic hash like SHA-256,
 * made of a tree of 1 KB chunks, so a CPU hashes many chunks at once: on
 * AVX-512 sixteen, on AVX2 eight, several times the speed of SHA-256.
 */
#ifndef LH_BLAKE3_H
#define LH_BLAKE3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LH_BLAKE3_LEN 32
#define LH_BLAKE3_HEX_LEN 64
#define LH_BLAKE3_PREFIX "blake3:"
/* "blake3:" and the hex digest */
#define LH_CONTENT_HASH_LEN (sizeof LH_BLAKE3_PREFIX - 1 + LH_BLAKE3_HEX_LEN)

typedef struct lh_blake3 {
    uint32_t cv[8];         /* the open chunk's chaining value */
    uint64_t chunk;         /* its index in the input */
    uint8_t block[64];      /* its bytes not yet compressed */
    uint8_t block_len;
    uint8_t blocks;         /* its blocks compressed */
    uint8_t depth;          /* complete subtrees on the stack */
    uint32_t stack[56][8];  /* their chaining values, largest first (merged lazily) */
} lh_blake3;

void lh_blake3_init(lh_blake3 *h);
void lh_blake3_update(lh_blake3 *h, const void *data, size_t n);
/* The digest of everything given so far (h is unchanged and may go on). */
void lh_blake3_final(const lh_blake3 *h, uint8_t out[LH_BLAKE3_LEN]);
void lh_blake3_final_hex(const lh_blake3 *h, char out[LH_BLAKE3_HEX_LEN + 1]);
/* The content hash as written: "blake3:<hex>". */
void lh_blake3_final_content(const lh_blake3 *h, char out[LH_CONTENT_HASH_LEN + 1]);

/* Sixteen or eight lanes, as the CPU allows, or "portable"; for tests and
 * benchmarks, lh_blake3_use("portable") turns the lanes off (false if the
 * CPU cannot run the one named). */
const char *lh_blake3_impl(void);
bool lh_blake3_use(const char *name);

#endif
