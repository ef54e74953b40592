/*
 * catalog.c — /v1/catalog/datasets[/{name}[/versions[/{n}]]], rollback,
 * tombstones, commits, delete, rebuild and purge.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void list(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_app *app = ctx;
    const char *all = lh_http_query(req, "include_deleted");
    json_t *datasets;
    lh_err err;
    bool include = all && (strcmp(all, "1") == 0 || strcmp(all, "true") == 0);
    if (lh_api_failed(res, lh_catalog_list(app->catalog, include, &datasets, &err), &err)) return;
    lh_http_res_json(res, 200, json_pack("{s:o}", "datasets", datasets));
}

static void create(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_app *app = ctx;
    json_t *body, *m;
    lh_err err;
    if (lh_api_failed(res, lh_http_body_json(req, &body, &err), &err)) return;
    bool bad = false;
    const char *name = lh_api_opt_string(body, "name", res, &bad);
    lh_create_options o = {.bucket = lh_api_opt_string(body, "bucket", res, &bad),
                           .description = lh_api_opt_string(body, "description", res, &bad)};
    if (!bad && !name) {
        lh_http_res_errorf(res, LH_EINVAL, "\"name\" is required");
        bad = true;
    }
    lh_who who = lh_api_who(req);
    if (!bad && !lh_api_failed(res, lh_catalog_create(app->catalog, name, &o, &who, &m, &err), &err))
        lh_http_res_json(res, 201, m);
    json_decref(body);
}

static bool parse_version(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < 1) return false;
    *out = v;
    return true;
}

static void get(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_app *app = ctx;
    int64_t v = 0;
    const char *n = lh_http_param(req, "n");
    if (n && !parse_version(n, &v)) {
        lh_http_res_errorf(res, LH_EINVAL, "version must be a positive integer, got \"%.20s\"", n);
        return;
    }
    json_t *m;
    lh_err err;
    if (lh_api_failed(res, lh_catalog_get(app->catalog, lh_http_param(req, "name"), v, &m, &err), &err))
        return;
    lh_http_res_json(res, 200, m);
}

static void versions(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_app *app = ctx;
    json_t *list;
    lh_err err;
    const char *name = lh_http_param(req, "name");
    if (lh_api_failed(res, lh_catalog_versions(app->catalog, name, &list, &err), &err)) return;
    lh_http_res_json(res, 200, json_pack("{s:s, s:o}", "dataset", name, "versions", list));
}

static void rollback(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_app *app = ctx;
    json_t *body, *m;
    lh_err err;
    if (lh_api_failed(res, lh_http_body_json(req, &body, &err), &err)) return;
    json_t *v = json_object_get(body, "version");
    bool bad = false;
    const char *message = lh_api_opt_string(body, "message", res, &bad);
    if (!bad && (!json_is_integer(v) || json_integer_value(v) < 1)) {
        lh_http_res_errorf(res, LH_EINVAL, "\"version\" (a positive integer) is required");
        bad = true;
    }
    lh_who who = lh_api_who(req);
    if (!bad && !lh_api_failed(res, lh_catalog_rollback(app->catalog, lh_http_param(req, "name"),
                                                         json_integer_value(v), message, &who, &m, &err),
                               &err))
        lh_http_res_json(res, 201, m);
    json_decref(body);
}

static void tombstone(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_app *app = ctx;
    json_t *body, *m;
    lh_err err;
    if (lh_api_failed(res, lh_http_body_json(req, &body, &err), &err)) return;
    bool bad = false;
    const char *column = lh_api_opt_string(body, "key_column", res, &bad);
    const char *reason = lh_api_opt_string(body, "reason", res, &bad);
    lh_who who = lh_api_who(req);
    if (!bad && !lh_api_failed(res, lh_catalog_tombstone(app->catalog, lh_http_param(req, "name"), column,
                                                          json_object_get(body, "values"), reason, &who,
                                                          &m, &err),
                               &err))
        lh_http_res_json(res, 201, m);
    json_decref(body);
}

static void list_tombstones(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_app *app = ctx;
    json_t *m;
    lh_err err;
    const char *name = lh_http_param(req, "name");
    if (lh_api_failed(res, lh_catalog_get(app->catalog, name, 0, &m, &err), &err)) return;
    lh_http_res_json(res, 200, json_pack("{s:s, s:O, s:O}", "dataset", name, "version",
                                         json_object_get(m, "version"), "tombstones",
                                         json_object_get(m, "tombstones")));
    json_decref(m);
}

static void commit(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_app *app = ctx;
    json_t *body, *m;
    lh_err err;
    if (lh_api_failed(res, lh_http_body_json(req, &body, &err), &err)) return;
    bool bad = false;
    const char *mode = lh_api_opt_string(body, "mode", res, &bad);
    lh_commit c = {.mode = mode && strcmp(mode, "replace") == 0 ? LH_COMMIT_REPLACE : LH_COMMIT_APPEND,
                   .objects = json_object_get(body, "objects"),
                   .schema = json_object_get(body, "schema"),
                   .lineage = json_object_get(body, "lineage"),
                   .message = lh_api_opt_string(body, "message", res, &bad),
                   .expected_parent = json_integer_value(json_object_get(body, "expected_parent"))};
    if (!bad && mode && strcmp(mode, "append") != 0 && strcmp(mode, "replace") != 0) {
        lh_http_res_errorf(res, LH_EINVAL, "\"mode\" must be append or replace");
        bad = true;
    }
    if (!bad && !json_is_array(c.objects)) {
        lh_http_res_errorf(res, LH_EINVAL, "\"objects\" (an array) is required");
        bad = true;
    }
    lh_who who = lh_api_who(req);
    if (!bad &&
        !lh_api_failed(res, lh_catalog_commit(app->catalog, lh_http_param(req, "name"), &c, &who, &m, &err), &err))
        lh_http_res_json(res, 201, m);
    json_decref(body);
}

static void delete_dataset(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_app *app = ctx;
    json_t *m;
    lh_err err;
    lh_who who = lh_api_who(req);
    const char *reason = lh_http_query(req, "reason");
    if (lh_api_failed(res, lh_catalog_delete(app->catalog, lh_http_param(req, "name"), reason, &who, &m, &err),
                      &err))
        return;
    lh_http_res_json(res, 200, m);
}

static void rebuild(lh_http_req *req, lh_http_res *res, void *ctx)
{
    (void)req;
    lh_app *app = ctx;
    json_t *report;
    lh_err err;
    if (lh_api_failed(res, lh_catalog_rebuild(app->catalog, &report, &err), &err)) return;
    lh_http_res_json(res, 200, report);
}

static void purge(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_app *app = ctx;
    json_t *body = NULL, *report;
    lh_err err;
    if (req->body_len && lh_api_failed(res, lh_http_body_json(req, &body, &err), &err)) return;
    json_t *dry = json_object_get(body, "dry_run");
    bool dry_run = json_is_true(dry);
    lh_who who = lh_api_who(req);
    if (!lh_api_failed(res, lh_catalog_purge(app->catalog, dry_run, &who, &report, &err), &err))
        lh_http_res_json(res, 200, report);
    json_decref(body);
}

void lh_api_catalog_routes(lh_app *app, lh_router *r)
{
    lh_router_add(r, "GET", "/v1/catalog/datasets", list, app);
    lh_router_add(r, "POST", "/v1/catalog/datasets", create, app);
    lh_router_add(r, "GET", "/v1/catalog/datasets/{name}", get, app);
    lh_router_add(r, "DELETE", "/v1/catalog/datasets/{name}", delete_dataset, app);
    lh_router_add(r, "GET", "/v1/catalog/datasets/{name}/versions", versions, app);
    lh_router_add(r, "GET", "/v1/catalog/datasets/{name}/versions/{n}", get, app);
    lh_router_add(r, "POST", "/v1/catalog/datasets/{name}/commits", commit, app);
    lh_router_add(r, "POST", "/v1/catalog/datasets/{name}/rollback", rollback, app);
    lh_router_add(r, "GET", "/v1/catalog/datasets/{name}/tombstones", list_tombstones, app);
    lh_router_add(r, "POST", "/v1/catalog/datasets/{name}/tombstones", tombstone, app);
    lh_router_add(r, "POST", "/v1/catalog/rebuild", rebuild, app);
    lh_router_add(r, "POST", "/v1/catalog/purge", purge, app);
}
