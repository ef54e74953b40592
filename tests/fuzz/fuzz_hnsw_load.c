/*
 * fuzz_hnsw_load.c — libFuzzer target for index files (lh_hnsw_load). The
 * first byte chooses whether the checksums are recomputed after mutation, so
 * damage reaches the structural checks and the graph code behind them too.
 * Any file either loads or is refused with LH_ECORRUPT; a file that loads
 * survives searches (plain, filtered, exact), verification, label lookups,
 * and growing a writable copy — wrong answers are allowed, crashes are not.
 */
#include "lakehouse/lh_hnsw.h"
#include "lakehouse/lh_mem.h"
#include "../../src/ann/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(lh_hnsw *h)
{
    lh_hnsw_info info;
    lh_hnsw_get_info(h, &info);
    uint32_t dim = info.params.dim;
    float *q = lh_xcalloc(dim, sizeof *q);
    for (uint32_t i = 0; i < dim; i++) q[i] = (float)((i * 7) % 5) - 2.0f;
    lh_hnsw_hit hits[8];
    lh_err err;
    lh_hnsw_search(h, q, 8, 16, NULL, hits);
    uint64_t words[4] = {0x5555555555555555ULL, ~0ULL, 0xF0F0F0F0F0F0F0F0ULL, 1};
    lh_bitmap allow = {.words = words, .nbits = 256};
    lh_hnsw_search(h, q, 3, 16, &allow, hits);
    lh_hnsw_exact(h, q, 4, NULL, hits);
    lh_hnsw_exact(h, q, 4, &allow, hits);
    lh_hnsw_verify(h, &err);
    lh_hnsw_vector(h, 1);
    lh_hnsw_delete(h, 2, &err);
    lh_hnsw *copy;
    if (lh_hnsw_clone(h, &copy, &err) == LH_OK) {
        lh_hnsw_add(copy, 1u << 20, q, &err);
        lh_hnsw_search(copy, q, 8, 16, NULL, hits);
        lh_hnsw_free(copy);
    }
    free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    bool reseal = data[0] & 1;
    unsigned char *file = lh_xmalloc(size);
    memcpy(file, data + 1, size - 1);
    if (reseal) hnsw_file_reseal(file, size - 1);
    char path[64];
    snprintf(path, sizeof path, "/tmp/fuzz-hnsw-%d", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    fwrite(file, 1, size - 1, f);
    fclose(f);
    free(file);
    lh_hnsw *h;
    lh_err err;
    lh_code rc = lh_hnsw_load(path, &h, &err);
    unlink(path);
    if (rc == LH_OK) {
        exercise(h);
        lh_hnsw_free(h);
    } else if (rc != LH_ECORRUPT) {
        abort();
    }
    return 0;
}
