/*
 * storage.c — /v1/storage/buckets (health), objects, and /v1/errors.
 *
 * Raw object writes are refused inside the namespaces the system manages
 * (_catalog/, _journal/, _errors/, _vectors/, datasets/): those change only
 * through their own modules, so history can never be overwritten by hand.
 */
#include "internal.h"

#include "lakehouse/lh_time.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const managed[] = {"_catalog/", "_journal/", "_errors/", "_vectors/", "datasets/"};

static bool is_managed(const char *key)
{
    for (size_t i = 0; i < sizeof managed / sizeof managed[0]; i++)
        if (strncmp(key, managed[i], strlen(managed[i])) == 0) return true;
    return false;
}

static void list_buckets(lh_http_req *req, lh_http_res *res, void *ctx)
{
    (void)req;
    lh_app *app = ctx;
    lh_http_res_json(res, 200, json_pack("{s:o}", "buckets", lh_buckets_health(app->buckets)));
}

static lh_store *bucket_of(lh_app *app, lh_http_req *req, lh_http_res *res)
{
    const char *name = lh_http_param(req, "bucket");
    lh_store *s = lh_buckets_find(app->buckets, name);
    if (!s) lh_http_res_errorf(res, LH_ENOTFOUND, "no bucket named \"%s\"", name);
    return s;
}

struct listing {
    json_t *items;
    size_t limit;
    bool truncated;
};

static bool add_item(void *ctx, const lh_object_info *info)
{
    struct listing *l = ctx;
    if (json_array_size(l->items) == l->limit) {
        l->truncated = true;
        return false;
    }
    json_array_append_new(l->items, json_pack("{s:s, s:I, s:I}", "key", info->key, "size",
                                              (json_int_t)info->size, "mtime_ms",
                                              (json_int_t)info->mtime_ms));
    return true;
}

static void list_objects(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_app *app = ctx;
    lh_store *s = bucket_of(app, req, res);
    if (!s) return;
    long long limit;
    lh_err err;
    if (lh_api_failed(res, lh_http_query_int(req, "limit", 1000, 1, 100000, &limit, &err), &err)) return;
    const char *prefix = lh_http_query(req, "prefix");
    struct listing l = {json_array(), (size_t)limit, false};
    if (lh_api_failed(res, lh_store_list(s, prefix ? prefix : "", add_item, &l, &err), &err)) {
        json_decref(l.items);
        return;
    }
    lh_http_res_json(res, 200, json_pack("{s:s, s:o, s:b}", "bucket", s->name, "objects", l.items,
                                         "truncated", l.truncated));
}

static const char *key_of(lh_http_req *req, lh_http_res *res)
{
    const char *key = lh_http_query(req, "key");
    if (!key) lh_http_res_errorf(res, LH_EINVAL, "the object key goes in ?key=");
    return key;
}

static void get_object(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_app *app = ctx;
    lh_store *s = bucket_of(app, req, res);
    const char *key = s ? key_of(req, res) : NULL;
    if (!key) return;
    lh_buf body = {0};
    bool rescued = false;
    lh_err err;
    if (lh_api_failed(res, lh_buckets_get(app->buckets, s, key, &body, &rescued, &err), &err)) {
        lh_buf_free(&body);
        return;
    }
    size_t len = body.len;
    lh_http_res_bytes(res, 200, "application/octet-stream", lh_buf_detach(&body), len);
    if (rescued) lh_http_res_header(res, "X-Lakehouse-Rescue-Used", "1");
}

static void journal_object(lh_app *app, lh_http_req *req, const char *action, lh_store *s,
                           const char *key, size_t size)
{
    lh_who who = lh_api_who(req);
    char *id = lh_xasprintf("%s/%s", s->name, key);
    json_t *new = action[0] == 'p' ? json_pack("{s:I}", "size", (json_int_t)size) : NULL;
    lh_journal_event ev = {.entity_type = "object", .entity_id = id, .action = action,
                           .new_value = new, .actor = who.actor, .source = who.source};
    lh_journal_record(app->journal, &ev);
    json_decref(new);
    free(id);
}

static void put_object(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_app *app = ctx;
    lh_store *s = bucket_of(app, req, res);
    const char *key = s ? key_of(req, res) : NULL;
    if (!key) return;
    if (is_managed(key)) {
        lh_http_res_errorf(res, LH_EFORBIDDEN, "%s is managed by Lakehouse; raw writes are refused there", key);
        return;
    }
    lh_err err;
    if (lh_api_failed(res, lh_buckets_put(app->buckets, s, key, req->body, req->body_len, 0, &err), &err))
        return;
    journal_object(app, req, "put", s, key, req->body_len);
    lh_http_res_json(res, 201, json_pack("{s:s, s:s, s:I}", "bucket", s->name, "key", key, "size",
                                         (json_int_t)req->body_len));
}

static void delete_object(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_app *app = ctx;
    lh_store *s = bucket_of(app, req, res);
    const char *key = s ? key_of(req, res) : NULL;
    if (!key) return;
    if (is_managed(key)) {
        lh_http_res_errorf(res, LH_EFORBIDDEN, "%s is managed by Lakehouse; raw deletes are refused there", key);
        return;
    }
    lh_err err;
    if (lh_api_failed(res, lh_store_delete(s, key, &err), &err)) return;
    journal_object(app, req, "delete", s, key, 0);
    lh_http_res_json(res, 200, json_pack("{s:s, s:s, s:b}", "bucket", s->name, "key", key, "deleted", 1));
}

/* ?since= accepts milliseconds since the epoch or an ISO 8601 UTC time. */
static bool parse_since(const char *s, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s && !*end) {
        *out = v;
        return true;
    }
    return lh_time_parse_iso8601(s, out);
}

static void list_errors(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_app *app = ctx;
    long long limit;
    lh_err err;
    if (lh_api_failed(res, lh_http_query_int(req, "limit", 100, 1, 10000, &limit, &err), &err)) return;
    int64_t since = 0;
    const char *s = lh_http_query(req, "since");
    if (s && !parse_since(s, &since)) {
        lh_http_res_errorf(res, LH_EINVAL, "since: expected milliseconds or an ISO 8601 time, got \"%.40s\"", s);
        return;
    }
    json_t *errors;
    if (lh_api_failed(res, lh_errors_query(app->errors, since, (size_t)limit, &errors, &err), &err)) return;
    lh_http_res_json(res, 200, json_pack("{s:o}", "errors", errors));
}

static void flush_errors(lh_http_req *req, lh_http_res *res, void *ctx)
{
    (void)req;
    lh_app *app = ctx;
    lh_err err;
    if (lh_api_failed(res, lh_errors_flush(app->errors, &err), &err)) return;
    lh_http_res_json(res, 200, json_pack("{s:b}", "flushed", 1));
}

void lh_api_storage_routes(lh_app *app, lh_router *r)
{
    lh_router_add(r, "GET", "/v1/storage/buckets", list_buckets, app);
    lh_router_add(r, "GET", "/v1/storage/buckets/{bucket}/objects", list_objects, app);
    lh_router_add(r, "GET", "/v1/storage/buckets/{bucket}/object", get_object, app);
    lh_router_add(r, "PUT", "/v1/storage/buckets/{bucket}/object", put_object, app);
    lh_router_add(r, "DELETE", "/v1/storage/buckets/{bucket}/object", delete_object, app);
    lh_router_add(r, "GET", "/v1/errors", list_errors, app);
    lh_router_add(r, "POST", "/v1/errors/flush", flush_errors, app);
}
