/*
 * fuzz_json_nesting.c — libFuzzer target for the JSON nesting check that runs
 * before DuckDB's reader (ingest_json_nesting_feed). For any bytes: fed whole
 * or split anywhere it gives the same answer; an accepted input never nests
 * past the limit; and for input jansson parses, the depth it reports is the
 * document's real depth (jansson's own count, with its 2048 ceiling).
 */
#include "../../src/ingest/internal.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int depth_of(const json_t *j)
{
    int deepest = 0;
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v) {
            int d = depth_of(v);
            if (d > deepest) deepest = d;
        }
        return deepest + 1;
    }
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) {
            int d = depth_of(v);
            if (d > deepest) deepest = d;
        }
        return deepest + 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    int limit = 8;
    ingest_json_nesting whole = {0}, split = {0};
    bool ok_whole = ingest_json_nesting_feed(&whole, p, size, limit);
    size_t cut = size ? data[0] % (size + 1) : 0;
    bool ok_split = ingest_json_nesting_feed(&split, p, cut, limit) && ingest_json_nesting_feed(&split, p + cut, size - cut, limit);
    if (ok_whole != ok_split) abort();
    if (ok_whole && whole.deepest > limit) abort();
    ingest_json_nesting unlimited = {0};
    ingest_json_nesting_feed(&unlimited, p, size, 1 << 30);
    json_t *j = json_loadb(p, size, JSON_DECODE_ANY, NULL);
    if (j) {
        if (depth_of(j) != unlimited.deepest) abort();
        json_decref(j);
    }
    return 0;
}
