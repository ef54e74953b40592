/*
 * lh_hash.h — the small non-cryptographic hashes the hash tables share
 * (for content hashes, lh_sha256.h). Fixed definitions: values may be
 * persisted or compared across machines.
 */
#ifndef LH_HASH_H
#define LH_HASH_H

#include <stddef.h>
#include <stdint.h>

#define LH_FNV1A_BASIS 0xcbf29ce484222325ULL
#define LH_FNV1A_PRIME 0x100000001b3ULL

/* The 64-bit finaliser of MurmurHash3: every input bit affects every output bit. */
static inline uint64_t lh_hash_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

/* 64-bit FNV-1a of n bytes, continuing from h (LH_FNV1A_BASIS to start). */
static inline uint64_t lh_hash_fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * LH_FNV1A_PRIME;
    return h;
}

#endif
