/*
 * system_ops.c — version, health, storage (buckets and raw objects), the
 * journals, SQL and ingest: the operations' run functions and the policy
 * the edges used to hold (managed prefixes, deadline caps, row caps,
 * Parquet export, elapsed time).
 */
#include "internal.h"

#include "lakehouse/lh_json.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_time.h"
#include "lakehouse/lh_version.h"

#include <errno.h>
#include <math.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

LH_OP_RUN(lh_app_run_version)
{
    (void)app, (void)args, (void)call, (void)err;
    *out = json_pack("{s:s, s:s, s:s, s:s}", "name", "lakehouse", "version", lh_version(), "git_commit",
                     lh_git_commit(), "duckdb_version", lh_query_duckdb_version());
    return LH_OK;
}

/* ---- health ---- */

#define LH_HEALTH_CACHE_MS 1000

/* Readiness of the SQL engine: a trivial query must run within a second.
 * "busy" (every connection leased) is reported but still counts as ready. */
static json_t *check_query(lh_app *app, bool *ok)
{
    lh_query_cursor *cur;
    lh_err err;
    lh_query_args args = {.sql = "SELECT 1", .timeout_ms = 1000, .read_only = true};
    lh_query_engine *engine = lh_app_sql_engine(app, &err);
    lh_code rc = engine ? lh_query_open(engine, &args, &cur, &err) : err.code;
    if (rc == LH_OK) lh_query_close(cur);
    *ok = rc == LH_OK || rc == LH_EUNAVAILABLE;
    return json_pack("{s:s, s:s, s:s*}", "status", rc == LH_OK ? "ok" : *ok ? "busy" : "failing", "duckdb_version",
                     lh_query_duckdb_version(), "error", rc == LH_OK ? NULL : err.message);
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
    /* latency to 0.01 ms: more digits are noise */
    json_array_foreach(buckets, i, b) {
        double ms = json_real_value(json_object_get(b, "latency_ms"));
        json_object_set_new(b, "latency_ms", json_real(round(ms * 100) / 100));
    }
    /* no data_dir: /health is anonymous, and a server path helps only an attacker */
    return json_pack("{s:s, s:s, s:o}", "status", all ? "ok" : *ok ? "degraded" : "failing", "default_bucket", def,
                     "buckets", buckets);
}

static json_t *probe_health(lh_app *app, bool *ready)
{
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
    json_t *corrupt = lh_catalog_corrupt(app->catalog);
    bool intact = json_array_size(corrupt) == 0;
    json_object_set_new(modules, "catalog", json_pack("{s:s, s:o}", "status", intact ? "ok" : "degraded", "corrupt", corrupt));
    *ready = query_ok && storage_ok;
    return json_pack("{s:s, s:b, s:s, s:o}", "status", *ready && intact ? "ok" : "degraded", "ready", *ready, "version",
                     lh_version(), "modules", modules);
}

void lh_app_store_failed(void *ctx, const char *op, const char *bucket, const char *key, const lh_err *err)
{
    lh_app *app = ctx;
    lh_errors_store_observer(app->errors, op, bucket, key, err);
    pthread_mutex_lock(&app->health.mu);
    app->health.at.tv_sec -= LH_HEALTH_CACHE_MS / 1000 + 1; /* stale now */
    pthread_mutex_unlock(&app->health.mu);
}

static long long ms_between(const struct timespec *a, const struct timespec *b)
{
    return (long long)(b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
}

/* The probe (a query and a read of every bucket) runs at most once per
 * LH_HEALTH_CACHE_MS and by one caller at a time (single flight): callers
 * meanwhile get the last answer, so a burst of checks never queues behind I/O.
 * The text is rendered once per probe and uptime second, then copied. */
char *lh_app_health(lh_app *app, bool *ready)
{
    struct lh_app_health_cache *h = &app->health;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&h->mu);
    /* something found corrupt since the last probe is news at once */
    size_t corrupt = lh_catalog_corrupt_count(app->catalog);
    bool stale = !h->body || ms_between(&h->at, &now) >= LH_HEALTH_CACHE_MS || corrupt != h->corrupt;
    bool probe = stale && (!h->refreshing || !h->body);
    if (probe) h->refreshing = true;
    pthread_mutex_unlock(&h->mu);
    if (probe) {
        bool ok;
        json_t *fresh = probe_health(app, &ok);
        clock_gettime(CLOCK_MONOTONIC, &now);
        pthread_mutex_lock(&h->mu);
        json_decref(h->body);
        h->body = fresh;
        h->ready = ok;
        h->at = now;
        h->corrupt = corrupt;
        h->refreshing = false;
        free(h->text);
        h->text = NULL;
        pthread_mutex_unlock(&h->mu);
    }
    long long uptime = (long long)(time(NULL) - app->started_at);
    pthread_mutex_lock(&h->mu);
    if (!h->text || h->text_uptime != uptime) {
        free(h->text);
        json_object_set_new(h->body, "uptime_s", json_integer((json_int_t)uptime));
        char *t = lh_json_dumps(h->body, JSON_COMPACT);
        size_t n = t ? strlen(t) : 0;
        h->text = lh_xmalloc(n + 2);
        memcpy(h->text, t ? t : "", n);
        memcpy(h->text + n, "\n", 2);
        free(t);
        h->text_uptime = uptime;
    }
    char *out = lh_xstrdup(h->text);
    *ready = h->ready;
    pthread_mutex_unlock(&h->mu);
    return out;
}

/* ---- storage ---- */

/* The first path segments Lakehouse manages (lh_store_key_managed): raw
 * writes and deletes are refused there and on the bare names. */
static lh_code check_raw_key(const char *key, const char *verb, lh_err *err)
{
    const char *folder = lh_store_key_managed(key);
    if (folder) return lh_err_set(err, LH_EFORBIDDEN, "%s/ is managed by Lakehouse; raw %s are refused there", folder, verb);
    return LH_OK;
}

static lh_code bucket_of(lh_app *app, json_t *args, lh_store **s, lh_err *err)
{
    const char *name = lh_op_str(args, "bucket");
    *s = lh_buckets_find(app->buckets, name);
    return *s ? LH_OK : lh_err_set(err, LH_ENOTFOUND, "no bucket named \"%s\"", name);
}

LH_OP_RUN(lh_app_run_buckets)
{
    (void)call, (void)err;
    *out = lh_op_page(lh_buckets_health(app->buckets), "buckets", args);
    return LH_OK;
}

struct listing {
    json_t *items;
    size_t limit;
    const char *after;
    bool more;
};

static bool add_object(void *ctx, const lh_object_info *info)
{
    struct listing *l = ctx;
    if (l->after && strcmp(info->key, l->after) <= 0) return true;
    if (json_array_size(l->items) == l->limit) {
        l->more = true;
        return false;
    }
    json_array_append_new(l->items, json_pack("{s:s, s:I, s:I}", "key", info->key, "size", (json_int_t)info->size,
                                              "mtime_ms", (json_int_t)info->mtime_ms));
    return true;
}

LH_OP_RUN(lh_app_run_objects)
{
    (void)call;
    lh_store *s;
    lh_code rc = bucket_of(app, args, &s, err);
    if (rc) return rc;
    const char *cursor = lh_op_str(args, "cursor"), *prefix = lh_op_str(args, "prefix");
    char *after = cursor ? lh_op_cursor_decode(cursor, "after") : NULL;
    if (cursor && !after) return lh_err_set(err, LH_EINVAL, "\"cursor\" is not a cursor this list gave out");
    struct listing l = {json_array(), (size_t)lh_op_int(args, "limit", LH_OP_LIST_DEFAULT), after, false};
    rc = lh_store_list(s, prefix ? prefix : "", add_object, &l, err);
    free(after);
    if (rc) {
        json_decref(l.items);
        return rc;
    }
    *out = json_pack("{s:s, s:o}", "bucket", s->name, "objects", l.items);
    if (l.more) {
        char *next = lh_op_cursor_encode("after", json_string_value(json_object_get(
                                                   json_array_get(l.items, json_array_size(l.items) - 1), "key")));
        json_object_set_new(*out, "next", json_string(next));
        free(next);
    }
    return LH_OK;
}

static void journal_object(lh_app *app, const lh_op_ctx *call, const char *action, lh_store *s, const char *key,
                           json_t *new_value)
{
    char *id = lh_xasprintf("%s/%s", s->name, key);
    lh_journal_event ev = {.entity_type = "object", .entity_id = id, .action = action, .new_value = new_value,
                           .actor = call->who.actor, .source = call->who.source};
    lh_journal_record(app->journal, &ev);
    free(id);
}

lh_code lh_app_object_get(lh_app *app, json_t *args, const lh_op_ctx *call, lh_buf *out, bool *rescued,
                          lh_err *err)
{
    lh_store *s;
    lh_code rc = lh_app_authorize(app, lh_op_find("storage.get"), args, &call->who, err);
    if (rc == LH_OK) rc = bucket_of(app, args, &s, err);
    return rc ? rc : lh_buckets_get(app->buckets, s, lh_op_str(args, "key"), out, rescued, err);
}

lh_code lh_app_object_put(lh_app *app, json_t *args, const char *data, size_t len, const char *path,
                          const lh_op_ctx *call, json_t **out, lh_err *err)
{
    lh_store *s;
    const char *key = lh_op_str(args, "key");
    lh_code rc = lh_app_authorize(app, lh_op_find("storage.put"), args, &call->who, err);
    if (rc == LH_OK) rc = bucket_of(app, args, &s, err);
    if (rc == LH_OK) rc = check_raw_key(key, "writes", err);
    if (rc) return rc;
    struct stat st;
    if (path && stat(path, &st) != 0) return lh_err_errno(err, LH_EIO, errno, "reading %s", path);
    if (path) len = (size_t)st.st_size;
    rc = path ? lh_buckets_put_file(app->buckets, s, key, path, err) : lh_buckets_put(app->buckets, s, key, data, len, 0, err);
    if (rc) return rc;
    json_t *size = json_pack("{s:I}", "size", (json_int_t)len);
    journal_object(app, call, "put", s, key, size);
    json_decref(size);
    *out = json_pack("{s:s, s:s, s:I}", "bucket", s->name, "key", key, "size", (json_int_t)len);
    return LH_OK;
}

LH_OP_RUN(lh_app_run_object_delete)
{
    lh_store *s;
    const char *key = lh_op_str(args, "key");
    lh_code rc = bucket_of(app, args, &s, err);
    if (rc == LH_OK) rc = check_raw_key(key, "deletes", err);
    if (rc == LH_OK) rc = lh_store_delete(s, key, err);
    if (rc) return rc;
    journal_object(app, call, "delete", s, key, NULL);
    *out = json_pack("{s:s, s:s, s:b}", "bucket", s->name, "key", key, "deleted", 1);
    return LH_OK;
}

/* ---- journals ---- */

/* How many newest records a page needs: offset + limit + 1 (to know there is more). */
static size_t page_reach(json_t *args)
{
    const char *cursor = lh_op_str(args, "cursor");
    char *at = cursor ? lh_op_cursor_decode(cursor, "offset") : NULL;
    size_t offset = at ? (size_t)strtoull(at, NULL, 10) : 0;
    free(at);
    return offset + (size_t)lh_op_int(args, "limit", LH_OP_LIST_DEFAULT) + 1;
}

/* `since` accepts milliseconds since the epoch or an ISO 8601 UTC time. */
static lh_code parse_since(const char *s, int64_t *out, lh_err *err)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*s && !*end && !errno && v >= 0) {
        *out = v;
        return LH_OK;
    }
    if (lh_time_parse_iso8601(s, out)) return LH_OK;
    return lh_err_set(err, LH_EINVAL, "\"since\" must be milliseconds or an ISO 8601 time, not \"%.40s\"", s);
}

LH_OP_RUN(lh_app_run_errors)
{
    int64_t since = 0;
    const char *s = lh_op_str(args, "since");
    json_t *list;
    lh_code rc = s ? parse_since(s, &since, err) : LH_OK;
    if (rc == LH_OK) rc = lh_errors_query(app->errors, since, page_reach(args), &list, err);
    if (rc == LH_OK) *out = lh_op_page(lh_app_visible_errors(&call->who, list), "errors", args);
    return rc;
}

LH_OP_RUN(lh_app_run_errors_flush)
{
    (void)args, (void)call;
    lh_code rc = lh_errors_flush(app->errors, err);
    if (rc == LH_OK) *out = json_pack("{s:b}", "flushed", 1);
    return rc;
}

/* An event field equal to want (contains it, when `part`); no filter: true. */
static bool event_matches(json_t *ev, const char *field, const char *want, bool part)
{
    if (!want || !*want) return true;
    const char *have = json_string_value(json_object_get(ev, field));
    return have && (part ? strstr(have, want) != NULL : !strcmp(have, want));
}

LH_OP_RUN(lh_app_run_journal_recent)
{
    json_t *list;
    const char *type = lh_op_str(args, "entity_type"), *id = lh_op_str(args, "entity_id"),
               *action = lh_op_str(args, "action"), *actor = lh_op_str(args, "actor");
    bool filtered = (type && *type) || (id && *id) || (action && *action) || (actor && *actor);
    lh_code rc = lh_journal_recent(app->journal, NULL, filtered ? LH_JOURNAL_FILTER_SCAN : page_reach(args), &list, err);
    if (rc) return rc;
    if (filtered) {
        json_t *kept = json_array();
        size_t i;
        json_t *ev;
        json_array_foreach(list, i, ev)
            if (event_matches(ev, "entity_type", type, false) && event_matches(ev, "entity_id", id, true) &&
                event_matches(ev, "action", action, false) && event_matches(ev, "actor", actor, false))
                json_array_append(kept, ev);
        json_decref(list);
        list = kept;
    }
    *out = lh_op_page(lh_app_visible_events(&call->who, list), "events", args);
    return LH_OK;
}

LH_OP_RUN(lh_app_run_journal_history)
{
    json_t *list;
    const char *id = lh_op_str(args, "entity_id");
    lh_code rc = lh_journal_recent(app->journal, id, page_reach(args), &list, err);
    if (rc) return rc;
    *out = lh_op_page(lh_app_visible_events(&call->who, list), "events", args);
    json_object_set_new(*out, "entity_id", json_string(id));
    return LH_OK;
}

LH_OP_RUN(lh_app_run_journal_stats)
{
    (void)args, (void)call;
    return lh_journal_stats(app->journal, out, err);
}

LH_OP_RUN(lh_app_run_journal_flush)
{
    (void)args, (void)call;
    lh_code rc = lh_journal_flush(app->journal, err);
    if (rc == LH_OK) *out = json_pack("{s:b}", "flushed", 1);
    return rc;
}

/* ---- SQL ---- */

static lh_code sql_open_scoped(lh_app *app, json_t *args, const char *sql, const char *format, json_t *params,
                               long long timeout_ms, const lh_who *who, lh_app_sql_run *run, lh_err *err);

lh_code lh_app_sql_open(lh_app *app, json_t *args, const lh_who *who, lh_app_sql_run *run, lh_err *err)
{
    memset(run, 0, sizeof *run);
    const char *sql = lh_op_str(args, "sql"), *format = lh_op_str(args, "format");
    json_t *params = json_object_get(args, "params");
    if (json_is_null(params)) params = NULL;
    long long timeout_ms = lh_op_int(args, "timeout_ms", app->query_timeout_ms);
    if (timeout_ms > app->query_max_timeout_ms) timeout_ms = app->query_max_timeout_ms;
    run->format = LH_FORMAT_JSON;
    if (format && strcmp(format, "parquet") != 0 && !lh_result_format_parse(format, &run->format))
        return lh_err_set(err, LH_EINTERNAL, "format %s", format);
    run->max_rows = lh_op_int(args, "max_rows", 0);
    if (run->format == LH_FORMAT_JSON && (run->max_rows == 0 || run->max_rows > app->query_max_rows))
        run->max_rows = app->query_max_rows;
    run->offset = lh_op_int(args, "offset", 0);
    if (run->offset && format && !strcmp(format, "parquet"))
        return lh_err_set(err, LH_EINVAL, "offset pages json, ndjson and csv results; for parquet put OFFSET in the statement");
    if (!sql || !*sql) return lh_err_set(err, LH_EINVAL, "\"sql\" is required");
    lh_code rc = lh_app_authorize(app, lh_op_find("sql"), args, who, err);
    if (rc) return rc;
    /* the statement binds on this thread: the resolver and lister see only what the profile binds */
    const lh_profile *was = lh_app_scope_swap(who ? who->profile : NULL);
    rc = sql_open_scoped(app, args, sql, format, params, timeout_ms, who, run, err);
    lh_app_scope_swap(was);
    if (rc == LH_OK) lh_app_history_note(app, who, sql);
    return rc;
}

static lh_code sql_open_scoped(lh_app *app, json_t *args, const char *sql, const char *format, json_t *params,
                               long long timeout_ms, const lh_who *who, lh_app_sql_run *run, lh_err *err)
{
    (void)args;
    lh_query_engine *engine = lh_app_sql_engine(app, err);
    if (!engine) return err->code;
    if (!format || strcmp(format, "parquet") != 0) {
        /* JSON is answered whole, so its size is bounded; ndjson and csv stream */
        lh_query_args qa = {.sql = sql, .params = params, .timeout_ms = timeout_ms, .read_only = true,
                            .max_result_bytes = run->format == LH_FORMAT_JSON ? app->query_max_result_bytes : 0,
                            .client = who ? who->actor : NULL};
        return lh_app_error_scrub(app, lh_query_open(engine, &qa, &run->cursor, err), err);
    }
    /* parquet: COPY the checked statement into a temp file inside the sandbox */
    lh_code rc = lh_query_check(engine, sql, err);
    if (rc) return rc;
    static unsigned counter;
    char *path = lh_xasprintf("%s/_cache/result-%d-%u.parquet", app->data_dir, (int)getpid(),
                              __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
    lh_buf copy = {0};
    /* the statement was checked to be a single SELECT: it cannot close this parenthesis */
    lh_buf_printf(&copy, "COPY (\n%s\n) TO ", sql);
    lh_sql_quote_literal(&copy, path);
    lh_buf_puts(&copy, " (FORMAT parquet, COMPRESSION zstd)");
    lh_query_args qa = {.sql = copy.data, .params = params, .timeout_ms = timeout_ms, .client = who ? who->actor : NULL};
    lh_query_cursor *cur;
    rc = lh_query_open(engine, &qa, &cur, err);
    if (rc == LH_OK) lh_query_close(cur);
    lh_buf_free(&copy);
    if (rc) {
        unlink(path);
        free(path);
        return lh_app_error_scrub(app, rc, err);
    }
    run->parquet_path = path;
    return LH_OK;
}

lh_code lh_app_sql_json(lh_query_cursor *cur, long long offset, long long max_rows, lh_buf *out, lh_err *err)
{
    lh_result_writer *w = lh_result_writer_new(cur, LH_FORMAT_JSON, max_rows);
    lh_result_writer_skip(w, offset);
    bool done = false;
    lh_code rc = LH_OK;
    while (rc == LH_OK && !done) rc = lh_result_writer_next(w, out, &done, err);
    if (rc == LH_ETIMEOUT) {
        size_t n = strlen(err->message);
        snprintf(err->message + n, sizeof err->message - n, " (after %.0f ms, %lld rows produced)",
                 lh_query_elapsed_ms(cur), lh_result_writer_rows(w));
    }
    if (rc == LH_OK) {
        /* the elapsed time goes before the closing brace */
        while (out->len && (out->data[out->len - 1] == '\n' || out->data[out->len - 1] == '}')) out->len--;
        lh_buf_printf(out, ",\"elapsed_ms\":%.3f}\n", lh_query_elapsed_ms(cur));
    }
    lh_result_writer_free(w);
    return rc;
}

lh_code lh_app_query_rows(lh_app *app, const char *sql, bool read_only, long long max_rows, json_t **rows,
                          bool *truncated, lh_err *err)
{
    *rows = NULL;
    lh_query_args qa = {.sql = sql, .timeout_ms = app->query_timeout_ms, .read_only = read_only,
                        .max_result_bytes = app->query_max_result_bytes};
    lh_query_cursor *cur;
    lh_query_engine *engine = lh_app_sql_engine(app, err);
    lh_code rc = engine ? lh_query_open(engine, &qa, &cur, err) : err->code;
    if (rc) return rc;
    lh_buf text = {0};
    rc = lh_app_sql_json(cur, 0, max_rows, &text, err);
    lh_query_close(cur);
    json_t *result = rc == LH_OK ? json_loadb(text.data, text.len, 0, NULL) : NULL;
    lh_buf_free(&text);
    if (rc == LH_OK && !result) return lh_err_set(err, LH_EINTERNAL, "an internal query's result is not JSON");
    if (rc) return rc;
    json_t *columns = json_object_get(result, "columns"), *out = json_array();
    size_t i, k;
    json_t *row, *c;
    json_array_foreach(json_object_get(result, "rows"), i, row) {
        json_t *obj = json_object();
        json_array_foreach(columns, k, c) json_object_set(obj, json_string_value(json_object_get(c, "name")), json_array_get(row, k));
        json_array_append_new(out, obj);
    }
    if (truncated) *truncated = json_is_true(json_object_get(result, "truncated"));
    json_decref(result);
    *rows = out;
    return LH_OK;
}

LH_OP_RUN(lh_app_run_sql)
{
    const char *format = lh_op_str(args, "format");
    if (format && strcmp(format, "json") != 0)
        return lh_err_set(err, LH_EUNSUPPORTED, "format %s is streamed, not answered as JSON", format);
    lh_app_sql_run run;
    lh_code rc = lh_app_sql_open(app, args, &call->who, &run, err);
    if (rc) return rc;
    lh_buf text = {0};
    rc = lh_app_sql_json(run.cursor, run.offset, run.max_rows, &text, err);
    lh_query_close(run.cursor);
    if (rc == LH_OK) {
        json_error_t jerr;
        *out = json_loadb(text.data, text.len, JSON_DECODE_ANY, &jerr);
        if (!*out) rc = lh_err_set(err, LH_EINTERNAL, "result JSON: %s", jerr.text);
    }
    lh_buf_free(&text);
    return rc;
}

/* ---- ingest ---- */

/* ingest --index: the text index named after the dataset, created with its
 * defaults (a documents dataset's chunk_id and text), else refreshed; the
 * outcome joins the report as "index". */
static lh_code index_dataset(lh_app *app, json_t *report, const lh_op_ctx *call, lh_err *err)
{
    const char *dataset = json_string_value(json_object_get(report, "dataset"));
    json_t *args = json_pack("{s:s}", "name", dataset), *out = NULL;
    lh_code rc = lh_app_call(app, "index.show", args, call, &out, err);
    json_decref(args);
    json_decref(out);
    out = NULL;
    const char *action = rc == LH_OK ? "refreshed" : "created";
    if (rc == LH_OK) {
        args = json_pack("{s:s}", "dataset", dataset);
        rc = lh_app_call(app, "index.refresh", args, call, &out, err);
    } else if (rc == LH_ENOTFOUND) {
        args = json_pack("{s:s, s:s}", "name", dataset, "dataset", dataset);
        rc = lh_app_call(app, "index.create", args, call, &out, err);
    } else {
        args = NULL;
    }
    json_decref(args);
    json_decref(out);
    if (rc) return lh_err_wrap(err, "version %lld is ingested, but its index failed",
                               (long long)json_integer_value(json_object_get(report, "version")));
    args = json_pack("{s:s}", "name", dataset);
    rc = lh_app_call(app, "index.show", args, call, &out, err);
    json_decref(args);
    if (rc == LH_OK)
        json_object_set_new(report, "index", json_pack("{s:s, s:s, s:O?}", "name", dataset, "action", action, "version",
                                                       json_object_get(out, "live")));
    json_decref(out);
    return rc;
}

lh_code lh_app_ingest(lh_app *app, json_t *args, const lh_ingest_source *src, size_t n, const lh_op_ctx *call,
                      json_t **out, lh_err *err)
{
    lh_code rc = lh_app_authorize(app, lh_op_find("ingest"), args, &call->who, err);
    if (rc == LH_OK) rc = lh_app_name_not_a_view(app, lh_op_str(args, "dataset"), err);
    if (rc) return rc;
    lh_ingest_options o = {.dataset = lh_op_str(args, "dataset"),
                           .format = lh_op_str(args, "format"),
                           .bucket = lh_op_str(args, "bucket"),
                           .message = lh_op_str(args, "message"),
                           .skip_bad_rows = lh_op_bool(args, "skip_bad_rows", false),
                           .chunk_chars = (size_t)lh_op_int(args, "chunk_chars", 0),
                           .chunk_overlap = (size_t)lh_op_int(args, "chunk_overlap", 0),
                           .timeout_ms = app->query_timeout_ms * 10,
                           .delimiter = lh_op_str(args, "delimiter"),
                           .header = !json_is_boolean(json_object_get(args, "header")) ? LH_HEADER_SNIFFED
                                     : lh_op_bool(args, "header", true)                 ? LH_HEADER_YES
                                                                                        : LH_HEADER_NO,
                           .decimal = lh_op_str(args, "decimal"),
                           .encoding = lh_op_str(args, "encoding")};
    const char *mode = lh_op_str(args, "mode");
    if (mode && !lh_commit_mode_parse(mode, &o.mode)) return lh_err_set(err, LH_EINTERNAL, "mode %s", mode);
    if (n == 0) return lh_err_set(err, LH_EINVAL, "no file to ingest");
    o.progress = call->progress;
    o.progress_ctx = call->progress_ctx;
    rc = lh_app_error_scrub(app, lh_ingest(app->ingester, src, n, &o, &call->who, out, err), err);
    if (rc == LH_OK && lh_op_bool(args, "index", false)) rc = index_dataset(app, *out, call, err);
    return rc;
}
