/*
 * fuzz_manifest.c — libFuzzer target for manifests read from storage: JSON
 * parsing (jansson) and lh_manifest_validate. Any input is accepted or
 * rejected with LH_ECORRUPT; a manifest that validates survives a round trip.
 */
#include "lakehouse/lh_catalog.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *m = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!m) return 0;
    lh_err err;
    lh_code rc = lh_manifest_validate(m, &err);
    if (rc != LH_OK && rc != LH_ECORRUPT) abort();
    if (rc == LH_OK) {
        char *text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
        json_t *again = json_loads(text, 0, NULL);
        if (!again || lh_manifest_validate(again, &err) != LH_OK) abort();
        json_decref(again);
        free(text);
    }
    json_decref(m);
    return 0;
}
