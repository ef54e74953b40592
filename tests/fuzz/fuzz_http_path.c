/*
 * fuzz_http_path.c — libFuzzer target for request paths: router matching and
 * percent-decoding of hostile URLs. Decoded parameters never contain NUL and
 * a match never reads past the input.
 */
#include "lakehouse/lh_http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void nop(lh_http_req *q, lh_http_res *s, void *c)
{
    (void)q;
    (void)s;
    (void)c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lh_router *r;
    if (!r) {
        r = lh_router_new();
        lh_router_add(r, "GET", "/v1/catalog/datasets", nop, NULL);
        lh_router_add(r, "GET", "/v1/catalog/datasets/{name}", nop, NULL);
        lh_router_add(r, "GET", "/v1/catalog/datasets/{name}/versions/{n}", nop, NULL);
        lh_router_add(r, "POST", "/v1/catalog/datasets/{name}/rollback", nop, NULL);
    }
    char *path = malloc(size + 2);
    path[0] = '/';
    memcpy(path + 1, data, size);
    path[size + 1] = '\0'; /* the server hands the router a C string */
    lh_arena *a = lh_arena_new(0);
    lh_route_match m;
    const char *methods[] = {"GET", "POST"};
    for (int i = 0; i < 2; i++) {
        lh_code rc = lh_router_match(r, methods[i], path, a, &m);
        if (rc == LH_OK)
            for (size_t p = 0; p < m.n_params; p++)
                if (strlen(m.params[p].value) == 0) abort();
    }
    char *out;
    if (lh_url_decode(a, (const char *)data, size, true, &out) && memchr(data, 0, size)) abort();
    lh_arena_free(a);
    free(path);
    return 0;
}
