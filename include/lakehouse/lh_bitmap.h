/*
 * lh_bitmap.h — an allow-list over dense labels, shared by the ANN (lh_hnsw.h)
 * and full-text (lh_bm25.h) searches so that one filter serves both.
 */
#ifndef LH_BITMAP_H
#define LH_BITMAP_H

#include <stdint.h>

/* An allow-list: bit `label` set = allowed. Labels past nbits are not allowed. */
typedef struct lh_bitmap {
    const uint64_t *words;
    uint64_t nbits;
} lh_bitmap;

#endif
