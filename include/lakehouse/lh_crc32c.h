/*
 * lh_crc32c.h — CRC-32C (Castagnoli), the checksum of the files Lakehouse
 * maps (HNSW index files, the embedding model): SSE4.2's crc32 instruction
 * where the CPU has it, else a table. Thread-safe.
 */
#ifndef LH_CRC32C_H
#define LH_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The CRC of data[0..n) continuing from crc (0 to start). */
uint32_t lh_crc32c(uint32_t crc, const void *data, size_t n);

#endif
