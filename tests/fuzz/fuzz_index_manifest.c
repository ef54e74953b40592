/*
 * fuzz_index_manifest.c — libFuzzer target for vector index manifests and
 * promotion records read from storage (lh_vectors_manifest_check,
 * lh_vectors_promotion_check). Any JSON is accepted or refused with
 * LH_ECORRUPT; one that is accepted survives a round trip.
 */
#include "lakehouse/lh_vectors.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(json_t *j, int64_t n, bool manifest)
{
    lh_err err;
    lh_code rc = manifest ? lh_vectors_manifest_check(j, "docs_idx", n, &err)
                          : lh_vectors_promotion_check(j, "docs_idx", n, &err);
    if (rc != LH_OK && rc != LH_ECORRUPT) abort();
    if (rc == LH_OK) {
        char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        json_t *again = json_loads(text, 0, NULL);
        lh_code rc2 = manifest ? lh_vectors_manifest_check(again, "docs_idx", n, &err)
                               : lh_vectors_promotion_check(again, "docs_idx", n, &err);
        if (!again || rc2 != LH_OK) abort();
        json_decref(again);
        free(text);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!j) return 0;
    int64_t n = json_integer_value(json_object_get(j, "version"));
    check(j, n, true);
    check(j, json_integer_value(json_object_get(j, "seq")), false);
    check(j, 1, true);
    json_decref(j);
    return 0;
}
