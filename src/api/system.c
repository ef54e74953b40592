/*
 * system.c — GET /health (liveness and per-module readiness) and GET /v1/version.
 */
#include "internal.h"

#include "lakehouse/lh_version.h"

#include <string.h>

/* Readiness of the SQL engine: a trivial query must run within a second.
 * "busy" (every connection leased) is reported but still counts as ready. */
static json_t *check_query(lh_app *app, bool *ok)
{
    lh_query_cursor *cur;
    lh_err err;
    lh_query_args args = {.sql = "SELECT 1", .timeout_ms = 1000, .read_only = true};
    lh_code rc = lh_query_open(app->query, &args, &cur, &err);
    if (rc == LH_OK) lh_query_close(cur);
    *ok = rc == LH_OK || rc == LH_EUNAVAILABLE;
    return json_pack("{s:s, s:s, s:s*}", "status", rc == LH_OK ? "ok" : *ok ? "busy" : "failing",
                     "duckdb_version", lh_query_duckdb_version(), "error",
                     rc == LH_OK ? NULL : err.message);
}

/* Ready when the default bucket answers; other buckets failing is reported, not fatal. */
static json_t *check_storage(lh_app *app, bool *ok)
{
    json_t *buckets = lh_buckets_health(app->buckets);
    const char *def = lh_buckets_default(app->buckets)->name;
    *ok = false;
    bool all = true;
    size_t i;
    json_t *b;
    json_array_foreach(buckets, i, b) {
        bool up = strcmp(json_string_value(json_object_get(b, "status")), "ok") == 0;
        all &= up;
        if (strcmp(json_string_value(json_object_get(b, "name")), def) == 0) *ok = up;
    }
    return json_pack("{s:s, s:s, s:s, s:o}", "status", all ? "ok" : *ok ? "degraded" : "failing",
                     "data_dir", app->data_dir, "default_bucket", def, "buckets", buckets);
}

static void get_health(lh_http_req *req, lh_http_res *res, void *ctx)
{
    (void)req;
    lh_app *app = ctx;
    bool query_ok, storage_ok;
    json_t *modules = json_object();
    json_object_set_new(modules, "http", json_pack("{s:s}", "status", "ok"));
    json_object_set_new(modules, "query", check_query(app, &query_ok));
    json_object_set_new(modules, "storage", check_storage(app, &storage_ok));
    json_t *sidecar = lh_app_sidecar_status(app);
    const char *state = sidecar ? json_string_value(json_object_get(sidecar, "state")) : NULL;
    json_object_set_new(modules, "ai",
                        json_pack("{s:s, s:s, s:b, s:o?}", "status",
                                  !sidecar ? "ok" : state && !strcmp(state, "running") ? "ok" : "degraded", "provider",
                                  app->ai_provider, "chat", app->chat != NULL, "sidecar", sidecar));
    bool ready = query_ok && storage_ok;
    json_t *body = json_pack("{s:s, s:b, s:s, s:I, s:o}", "status", ready ? "ok" : "degraded",
                             "ready", ready, "version", lh_version(), "uptime_s",
                             (json_int_t)(time(NULL) - app->started_at), "modules", modules);
    lh_http_res_json(res, ready ? 200 : 503, body);
}

static void get_version(lh_http_req *req, lh_http_res *res, void *ctx)
{
    (void)req;
    (void)ctx;
    lh_http_res_json(res, 200,
                     json_pack("{s:s, s:s, s:s, s:s}", "name", "lakehouse", "version", lh_version(),
                               "git_commit", lh_git_commit(), "duckdb_version",
                               lh_query_duckdb_version()));
}

void lh_api_system_routes(lh_app *app, lh_router *r)
{
    lh_router_add(r, "GET", "/health", get_health, app);
    lh_router_add(r, "GET", "/v1/version", get_version, app);
}
