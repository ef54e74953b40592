/*
 * fuzz_manifest_names.c — libFuzzer target for the names of write-once
 * manifests (lh_manifests_parse_name), which arrive from storage listings
 * (catalog rebuild, the list of indexes). Any bytes parse or are refused; a
 * number that parses gives back, through lh_manifests_key, a name that parses
 * to the same number, and every key the layout makes parses back.
 */
#include "lakehouse/lh_manifests.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *name = malloc(size + 1);
    memcpy(name, data, size);
    name[size] = '\0';
    static const lh_manifests logs[] = {{.dir = "_catalog/datasets/d"}, {.dir = "_catalog/indexes/i/live", .stem = "p"}};
    for (size_t i = 0; i < sizeof logs / sizeof *logs; i++) {
        int64_t n = 0, again = 0;
        if (lh_manifests_parse_name(&logs[i], name, &n)) {
            if (n < 1) abort();
            char *key = lh_manifests_key(&logs[i], n);
            if (!lh_manifests_parse_name(&logs[i], key, &again) || again != n) abort();
            free(key);
        }
        /* the layout's own keys always parse back */
        int64_t made = 1;
        memcpy(&made, data, size < sizeof made ? size : sizeof made);
        if (made < 1) made = made == INT64_MIN ? 1 : (made < 0 ? -made : 1);
        char *key = lh_manifests_key(&logs[i], made);
        if (!lh_manifests_parse_name(&logs[i], key, &again) || again != made) abort();
        free(key);
    }
    free(name);
    return 0;
}
