/*
 * vectors.c — /v1/vectors/indexes[/{name}[/search|vectors|vectors/delete|
 * promote|rollback|rebuild|history]], /v1/vectors/refresh/{dataset},
 * /v1/vectors/stale.
 */
#include "internal.h"

#include "lakehouse/lh_mem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Build parameters shared by create and rebuild. */
static void read_params(json_t *body, lh_vectors_spec *s, lh_http_res *res, bool *bad)
{
    s->params.M = (uint32_t)lh_api_opt_int(body, "M", 0, 2, 128, res, bad);
    s->params.ef_construction = (uint32_t)lh_api_opt_int(body, "ef_construction", 0, 2, 10000, res, bad);
    s->params.ef_search = (uint32_t)lh_api_opt_int(body, "ef_search", 0, 1, 10000, res, bad);
    s->params.seed = (uint64_t)lh_api_opt_int(body, "seed", 0, 0, INT64_MAX, res, bad);
    const char *metric = lh_api_opt_string(body, "metric", res, bad);
    const char *quant = lh_api_opt_string(body, "quantization", res, bad);
    if (*bad) return;
    s->params.metric = LH_METRIC_COSINE;
    s->params_set_metric = metric != NULL;
    if (metric && !lh_metric_parse(metric, &s->params.metric)) {
        lh_http_res_errorf(res, LH_EINVAL, "\"metric\" must be l2, cosine or ip");
        *bad = true;
    }
    s->params_set_quantization = quant != NULL;
    if (quant && strcmp(quant, "none") && strcmp(quant, "sq8")) {
        lh_http_res_errorf(res, LH_EINVAL, "\"quantization\" must be none or sq8");
        *bad = true;
    }
    if (quant && !strcmp(quant, "sq8")) s->params.quantization = LH_QUANT_SQ8;
    s->no_promote = !lh_api_opt_bool(body, "promote", true, res, bad);
    s->message = lh_api_opt_string(body, "message", res, bad);
}

static void list(lh_http_req *req, lh_http_res *res, void *ctx)
{
    (void)req;
    lh_app *app = ctx;
    json_t *out;
    lh_err err;
    if (lh_api_failed(res, lh_vectors_list(app->vectors, &out, &err), &err)) return;
    lh_http_res_json(res, 200, json_pack("{s:o}", "indexes", out));
}

static void create(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_app *app = ctx;
    json_t *body = lh_api_body_object(req, res), *out;
    if (!body) return;
    bool bad = false;
    lh_vectors_spec s = {0};
    const char *name = lh_api_opt_string(body, "name", res, &bad);
    s.dataset = lh_api_opt_string(body, "dataset", res, &bad);
    s.dataset_version = lh_api_opt_int(body, "dataset_version", 0, 1, INT64_MAX, res, &bad);
    s.id_column = lh_api_opt_string(body, "id_column", res, &bad);
    s.vector_column = lh_api_opt_string(body, "vector_column", res, &bad);
    read_params(body, &s, res, &bad);
    /* without a vector column: a text index, embedded here */
    json_t *text = NULL;
    if (!bad && !s.vector_column) {
        static const char *const fields[][2] = {{"text_columns", "columns"}, {"template", "template"},
                                                {"provider", "provider"},    {"model", "model"},
                                                {"refresh", "refresh"},      {"fusion", "fusion"},
                                                {"weight", "weight"},        {"rrf_k", "rrf_k"}};
        text = json_object();
        for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
            json_t *x = json_object_get(body, fields[i][0]);
            if (x && !json_is_null(x)) json_object_set(text, fields[i][1], x);
        }
        s.text = text;
    }
    if (!bad && (!name || !s.dataset || !s.id_column)) {
        lh_http_res_errorf(res, LH_EINVAL,
                           "\"name\", \"dataset\", \"id_column\" and either \"vector_column\" or \"text_columns\" "
                           "/ \"template\" are required");
        bad = true;
    }
    lh_who who = lh_api_who(req);
    lh_err err;
    if (!bad && !lh_api_failed(res, lh_vectors_create(app->vectors, name, &s, &who, &out, &err), &err))
        lh_http_res_json(res, 201, out);
    json_decref(text);
    json_decref(body);
}

static void get(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_app *app = ctx;
    json_t *out;
    lh_err err;
    if (!lh_api_failed(res, lh_vectors_get(app->vectors, lh_http_param(req, "name"), &out, &err), &err))
        lh_http_res_json(res, 200, out);
}

static void history(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_app *app = ctx;
    json_t *out;
    lh_err err;
    if (!lh_api_failed(res, lh_vectors_history(app->vectors, lh_http_param(req, "name"), &out, &err), &err))
        lh_http_res_json(res, 200, out);
}

static void search(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_app *app = ctx;
    json_t *body = lh_api_body_object(req, res);
    if (!body) return;
    bool bad = false;
    long long k = lh_api_opt_int(body, "k", 10, 1, LH_VINDEX_MAX_K, res, &bad);
    long long ef = lh_api_opt_int(body, "ef", 0, 0, 10000, res, &bad);
    json_t *vec = json_object_get(body, "vector"), *filter = json_object_get(body, "filter_ids");
    if (!bad && (!json_is_array(vec) || json_array_size(vec) == 0 || json_array_size(vec) > LH_HNSW_MAX_DIM)) {
        lh_http_res_errorf(res, LH_EINVAL, "\"vector\" must be an array of 1..%d numbers", LH_HNSW_MAX_DIM);
        bad = true;
    }
    if (!bad && filter && !json_is_null(filter) && !json_is_array(filter)) {
        lh_http_res_errorf(res, LH_EINVAL, "\"filter_ids\" must be an array of ids");
        bad = true;
    }
    size_t dim = bad ? 0 : json_array_size(vec);
    float *q = lh_xmalloc((dim ? dim : 1) * sizeof *q);
    for (size_t i = 0; !bad && i < dim; i++) {
        json_t *x = json_array_get(vec, i);
        double d = json_number_value(x);
        if (!json_is_number(x) || !isfinite(d) || fabs(d) > 3.0e38) {
            lh_http_res_errorf(res, LH_EINVAL, "\"vector\"[%zu] is not a finite float", i);
            bad = true;
        }
        q[i] = (float)d;
    }
    json_t *out;
    lh_err err;
    if (!bad &&
        !lh_api_failed(res,
                       lh_vectors_search(app->vectors, lh_http_param(req, "name"), q, dim, (size_t)k, (size_t)ef,
                                         json_is_array(filter) ? filter : NULL, &out, &err),
                       &err))
        lh_http_res_json(res, 200, out);
    free(q);
    json_decref(body);
}

/* Adds ({vectors}) or deletes ({ids}): a new version on top of the live one. */
static void change(lh_http_req *req, lh_http_res *res, lh_app *app, bool adding)
{
    json_t *body = lh_api_body_object(req, res), *out;
    if (!body) return;
    bool bad = false;
    lh_vectors_spec s = {.no_promote = !lh_api_opt_bool(body, "promote", true, res, &bad),
                         .message = lh_api_opt_string(body, "message", res, &bad)};
    lh_who who = lh_api_who(req);
    lh_err err;
    const char *name = lh_http_param(req, "name");
    lh_code rc = bad      ? LH_EINVAL
                 : adding ? lh_vectors_add(app->vectors, name, json_object_get(body, "vectors"), &s, &who, &out, &err)
                          : lh_vectors_delete(app->vectors, name, json_object_get(body, "ids"), &s, &who, &out, &err);
    if (!bad && !lh_api_failed(res, rc, &err)) lh_http_res_json(res, 201, out);
    json_decref(body);
}

static void add(lh_http_req *req, lh_http_res *res, void *ctx)
{
    change(req, res, ctx, true);
}

static void delete_vectors(lh_http_req *req, lh_http_res *res, void *ctx)
{
    change(req, res, ctx, false);
}

static void rebuild(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_app *app = ctx;
    json_t *body = req->body_len ? lh_api_body_object(req, res) : json_object(), *out;
    if (!body) return;
    bool bad = false;
    lh_vectors_spec s = {.version = lh_api_opt_int(body, "version", 0, 1, INT64_MAX, res, &bad)};
    read_params(body, &s, res, &bad);
    if (!bad && json_object_get(body, "metric")) {
        lh_http_res_errorf(res, LH_EINVAL, "a rebuild keeps the metric (create a new index to change it)");
        bad = true;
    }
    lh_who who = lh_api_who(req);
    lh_err err;
    if (!bad && !lh_api_failed(res, lh_vectors_rebuild(app->vectors, lh_http_param(req, "name"), &s, &who, &out, &err),
                               &err))
        lh_http_res_json(res, 201, out);
    json_decref(body);
}

static void promote_or_rollback(lh_http_req *req, lh_http_res *res, lh_app *app, bool promote)
{
    json_t *body = req->body_len ? lh_api_body_object(req, res) : json_object(), *out;
    if (!body) return;
    bool bad = false;
    long long version = lh_api_opt_int(body, "version", 0, 1, INT64_MAX, res, &bad);
    const char *message = lh_api_opt_string(body, "message", res, &bad);
    if (!bad && promote && !version) {
        lh_http_res_errorf(res, LH_EINVAL, "\"version\" is required");
        bad = true;
    }
    lh_who who = lh_api_who(req);
    lh_err err;
    const char *name = lh_http_param(req, "name");
    lh_code rc = bad ? LH_EINVAL
                 : promote ? lh_vectors_promote(app->vectors, name, version, message, &who, &out, &err)
                           : lh_vectors_rollback(app->vectors, name, version, message, &who, &out, &err);
    if (!bad && !lh_api_failed(res, rc, &err)) lh_http_res_json(res, 200, out);
    json_decref(body);
}

static void promote(lh_http_req *req, lh_http_res *res, void *ctx)
{
    promote_or_rollback(req, res, ctx, true);
}

static void rollback(lh_http_req *req, lh_http_res *res, void *ctx)
{
    promote_or_rollback(req, res, ctx, false);
}

static void refresh(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_app *app = ctx;
    json_t *out;
    lh_who who = lh_api_who(req);
    lh_err err;
    if (!lh_api_failed(res, lh_vectors_refresh(app->vectors, lh_http_param(req, "dataset"), &who, &out, &err), &err))
        lh_http_res_json(res, 200, out);
}

static void stale(lh_http_req *req, lh_http_res *res, void *ctx)
{
    (void)req;
    lh_app *app = ctx;
    json_t *out;
    lh_err err;
    if (!lh_api_failed(res, lh_vectors_stale(app->vectors, &out, &err), &err))
        lh_http_res_json(res, 200, json_pack("{s:o, s:b}", "stale", out, "refreshing",
                                             lh_vectors_refreshing(app->vectors)));
}

void lh_api_vectors_routes(lh_app *app, lh_router *r)
{
    lh_router_add(r, "POST", "/v1/vectors/refresh/{dataset}", refresh, app);
    lh_router_add(r, "GET", "/v1/vectors/stale", stale, app);
    lh_router_add(r, "GET", "/v1/vectors/indexes", list, app);
    lh_router_add(r, "POST", "/v1/vectors/indexes", create, app);
    lh_router_add(r, "GET", "/v1/vectors/indexes/{name}", get, app);
    lh_router_add(r, "GET", "/v1/vectors/indexes/{name}/history", history, app);
    lh_router_add(r, "POST", "/v1/vectors/indexes/{name}/search", search, app);
    lh_router_add(r, "POST", "/v1/vectors/indexes/{name}/vectors", add, app);
    lh_router_add(r, "POST", "/v1/vectors/indexes/{name}/vectors/delete", delete_vectors, app);
    lh_router_add(r, "POST", "/v1/vectors/indexes/{name}/rebuild", rebuild, app);
    lh_router_add(r, "POST", "/v1/vectors/indexes/{name}/promote", promote, app);
    lh_router_add(r, "POST", "/v1/vectors/indexes/{name}/rollback", rollback, app);
}
