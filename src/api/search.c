/*
 * search.c — POST /v1/search (vector, text or hybrid search of a text index)
 * and POST /v1/ask (answers with citations).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static double opt_number(json_t *body, const char *field, double min, double max, lh_http_res *res, bool *bad)
{
    json_t *v = json_object_get(body, field);
    if (!v || json_is_null(v) || *bad) return -1;
    if (!json_is_number(v) || json_number_value(v) < min || json_number_value(v) > max) {
        lh_http_res_errorf(res, LH_EINVAL, "\"%s\" must be a number in %g..%g", field, min, max);
        *bad = true;
        return -1;
    }
    return json_number_value(v);
}

static void search(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_app *app = ctx;
    json_t *body = lh_api_body_object(req, res), *out;
    if (!body) return;
    bool bad = false;
    lh_search_request q = {.index = lh_api_opt_string(body, "index", res, &bad),
                           .query = lh_api_opt_string(body, "query", res, &bad),
                           .k = (size_t)lh_api_opt_int(body, "k", 10, 1, LH_VINDEX_MAX_K, res, &bad),
                           .filter = lh_api_opt_string(body, "filter", res, &bad),
                           .fusion = lh_api_opt_string(body, "fusion", res, &bad),
                           .weight = opt_number(body, "weight", 0, 1, res, &bad),
                           .rrf_k = opt_number(body, "rrf_k", 0, 1e6, res, &bad),
                           .ef = (size_t)lh_api_opt_int(body, "ef", 0, 0, 10000, res, &bad),
                           .with_rows = lh_api_opt_bool(body, "rows", true, res, &bad)};
    const char *mode = lh_api_opt_string(body, "mode", res, &bad);
    if (!bad && mode) {
        if (!strcmp(mode, "vector")) q.mode = LH_SEARCH_VECTOR;
        else if (!strcmp(mode, "text")) q.mode = LH_SEARCH_TEXT;
        else if (strcmp(mode, "hybrid")) {
            lh_http_res_errorf(res, LH_EINVAL, "\"mode\" must be vector, text or hybrid");
            bad = true;
        }
    }
    lh_err err;
    if (!bad && !lh_api_failed(res, lh_vectors_query(app->vectors, &q, &out, &err), &err))
        lh_http_res_json(res, 200, out);
    json_decref(body);
}

static void ask(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_app *app = ctx;
    json_t *body = lh_api_body_object(req, res), *out;
    if (!body) return;
    bool bad = false;
    const char *question = lh_api_opt_string(body, "question", res, &bad);
    const char *index = lh_api_opt_string(body, "index", res, &bad);
    long long k = lh_api_opt_int(body, "k", 5, 1, 50, res, &bad);
    json_t *list = json_object_get(body, "indexes");
    const char *names[16];
    size_t n = 0;
    if (!bad && index) names[n++] = index;
    if (!bad && list) {
        if (!json_is_array(list) || json_array_size(list) + n > 16) {
            lh_http_res_errorf(res, LH_EINVAL, "\"indexes\" must be an array of at most 16 index names");
            bad = true;
        }
        for (size_t i = 0; !bad && i < json_array_size(list); i++) {
            if (!json_is_string(json_array_get(list, i))) {
                lh_http_res_errorf(res, LH_EINVAL, "\"indexes\" must hold index names");
                bad = true;
            }
            names[n++] = json_string_value(json_array_get(list, i));
        }
    }
    lh_ask_request q = {.question = question, .indexes = names, .n_indexes = n, .k = (size_t)k};
    lh_who who = lh_api_who(req);
    lh_err err;
    if (!bad && !lh_api_failed(res, lh_vectors_ask(app->vectors, &q, &who, &out, &err), &err))
        lh_http_res_json(res, 200, out);
    json_decref(body);
}

void lh_api_search_routes(lh_app *app, lh_router *r)
{
    lh_router_add(r, "POST", "/v1/search", search, app);
    lh_router_add(r, "POST", "/v1/ask", ask, app);
}
