/*
 * journal.c — /v1/journal/recent, /v1/journal/history/{entity_id}, /v1/journal/stats, flush.
 */
#include "internal.h"

static void recent(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_app *app = ctx;
    long long limit;
    lh_err err;
    if (lh_api_failed(res, lh_http_query_int(req, "limit", 50, 1, 10000, &limit, &err), &err)) return;
    json_t *events;
    if (lh_api_failed(res, lh_journal_recent(app->journal, NULL, (size_t)limit, &events, &err), &err)) return;
    lh_http_res_json(res, 200, json_pack("{s:o}", "events", events));
}

static void history(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_app *app = ctx;
    long long limit;
    lh_err err;
    if (lh_api_failed(res, lh_http_query_int(req, "limit", 1000, 1, 100000, &limit, &err), &err)) return;
    const char *id = lh_http_param(req, "entity_id");
    json_t *events;
    if (lh_api_failed(res, lh_journal_recent(app->journal, id, (size_t)limit, &events, &err), &err)) return;
    lh_http_res_json(res, 200, json_pack("{s:s, s:o}", "entity_id", id, "events", events));
}

static void stats(lh_http_req *req, lh_http_res *res, void *ctx)
{
    (void)req;
    lh_app *app = ctx;
    json_t *s;
    lh_err err;
    if (lh_api_failed(res, lh_journal_stats(app->journal, &s, &err), &err)) return;
    lh_http_res_json(res, 200, s);
}

static void flush(lh_http_req *req, lh_http_res *res, void *ctx)
{
    (void)req;
    lh_app *app = ctx;
    lh_err err;
    if (lh_api_failed(res, lh_journal_flush(app->journal, &err), &err)) return;
    lh_http_res_json(res, 200, json_pack("{s:b}", "flushed", 1));
}

void lh_api_journal_routes(lh_app *app, lh_router *r)
{
    lh_router_add(r, "GET", "/v1/journal/recent", recent, app);
    lh_router_add(r, "GET", "/v1/journal/history/{entity_id}", history, app);
    lh_router_add(r, "GET", "/v1/journal/stats", stats, app);
    lh_router_add(r, "POST", "/v1/journal/flush", flush, app);
}
