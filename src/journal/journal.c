/*
 * journal.c — the mutation journal and the error journal over seglog.
 */
#include "seglog.h"

#include "lakehouse/lh_journal.h"
#include "lakehouse/lh_log.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_time.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ids sort by time: <ms>-<replica>-<counter>. */
static void make_id(const char *replica, atomic_uint_fast64_t *counter, int64_t ms, char out[64])
{
    snprintf(out, 64, "%013lld-%s-%llu", (long long)ms, replica,
             (unsigned long long)atomic_fetch_add(counter, 1));
}

/* What both journals are: a segment log and a source of record ids. */
struct journal_log {
    seglog *log;
    char *replica;
    atomic_uint_fast64_t counter;
};

static lh_code log_open(struct journal_log *l, lh_store *store, const lh_journal_options *opt,
                        const char *name, const char *prefix, lh_err *err)
{
    seglog_options so = {.name = name,
                         .prefix = prefix,
                         .wal_dir = opt->wal_dir,
                         .replica = opt->replica,
                         .flush_ms = opt->flush_ms,
                         .flush_events = opt->flush_events};
    l->replica = lh_xstrdup(opt->replica);
    lh_code rc = seglog_open(store, &so, &l->log, err);
    if (rc) free(l->replica);
    return rc;
}

static void log_close(struct journal_log *l)
{
    seglog_close(l->log);
    free(l->replica);
}

/* Collects the last `limit` records passing a filter; returns them newest first. */
struct tail {
    json_t *ring; /* array used as a ring of at most limit */
    size_t limit, next;
    bool (*keep)(struct tail *t, json_t *rec);
    const char *entity_id;
    int64_t since_ms;
};

static bool tail_add(void *ctx, json_t *rec)
{
    struct tail *t = ctx;
    if (t->keep && !t->keep(t, rec)) return true;
    if (json_array_size(t->ring) < t->limit) {
        json_array_append(t->ring, rec);
    } else {
        json_array_set(t->ring, t->next, rec);
        t->next = (t->next + 1) % t->limit;
    }
    return true;
}

static json_t *tail_newest_first(struct tail *t)
{
    json_t *out = json_array();
    size_t n = json_array_size(t->ring);
    for (size_t i = 0; i < n; i++) {
        /* oldest is at t->next once the ring is full */
        size_t idx = (t->next + n - 1 - i) % n;
        json_array_append(out, json_array_get(t->ring, idx));
    }
    return out;
}

/* ---- mutation journal ---- */

struct lh_journal {
    struct journal_log l;
};

lh_code lh_journal_open(lh_store *store, const lh_journal_options *opt, lh_journal **out, lh_err *err)
{
    lh_journal *j = lh_xcalloc(1, sizeof *j);
    lh_code rc = log_open(&j->l, store, opt, "journal", "_journal/", err);
    if (rc) {
        free(j);
        return rc;
    }
    *out = j;
    return LH_OK;
}

void lh_journal_close(lh_journal *j)
{
    if (!j) return;
    log_close(&j->l);
    free(j);
}

void lh_journal_record(lh_journal *j, const lh_journal_event *ev)
{
    int64_t ms = lh_time_now_ms();
    char id[64], ts[32];
    make_id(j->l.replica, &j->l.counter, ms, id);
    lh_time_iso8601(ms, ts);
    const char *rid = lh_log_request_id();
    json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O?, s:O?, s:s, s:s, s:s?}", "id", id, "ts",
                            ts, "entity_type", ev->entity_type, "entity_id", ev->entity_id,
                            "action", ev->action, "old", ev->old_value, "new", ev->new_value,
                            "actor", ev->actor ? ev->actor : "anonymous", "source",
                            ev->source ? ev->source : "system", "request_id", rid);
    if (!rec) {
        lh_log(LH_LOG_ERROR, "journal.bad_event", LH_KV_STR("entity_id", ev->entity_id),
               LH_KV_STR("action", ev->action));
        return;
    }
    seglog_append(j->l.log, rec, !ev->relaxed);
    json_decref(rec);
}

lh_code lh_journal_flush(lh_journal *j, lh_err *err)
{
    return seglog_flush(j->l.log, err);
}

static bool same_entity(struct tail *t, json_t *rec)
{
    const char *id = json_string_value(json_object_get(rec, "entity_id"));
    return id && strcmp(id, t->entity_id) == 0;
}

lh_code lh_journal_recent(lh_journal *j, const char *entity_id, size_t limit, json_t **out,
                          lh_err *err)
{
    struct tail t = {.ring = json_array(), .limit = limit ? limit : 1,
                     .keep = entity_id ? same_entity : NULL, .entity_id = entity_id};
    lh_code rc = seglog_scan(j->l.log, tail_add, &t, err);
    if (rc == LH_OK) *out = tail_newest_first(&t);
    json_decref(t.ring);
    return rc;
}

struct counts {
    json_t *by_action, *by_type;
    json_int_t total;
    const char *first_ts, *last_ts;
    json_t *first, *last;
};

static void bump(json_t *obj, const char *key)
{
    if (!key) key = "?";
    json_t *v = json_object_get(obj, key);
    json_object_set_new(obj, key, json_integer((v ? json_integer_value(v) : 0) + 1));
}

static bool count_event(void *ctx, json_t *rec)
{
    struct counts *c = ctx;
    c->total++;
    bump(c->by_action, json_string_value(json_object_get(rec, "action")));
    bump(c->by_type, json_string_value(json_object_get(rec, "entity_type")));
    if (!c->first) c->first = json_incref(rec);
    json_decref(c->last);
    c->last = json_incref(rec);
    return true;
}

lh_code lh_journal_stats(lh_journal *j, json_t **out, lh_err *err)
{
    struct counts c = {.by_action = json_object(), .by_type = json_object()};
    lh_code rc = seglog_scan(j->l.log, count_event, &c, err);
    if (rc == LH_OK) {
        seglog_stats st;
        seglog_get_stats(j->l.log, &st);
        *out = json_pack("{s:I, s:O, s:O, s:O?, s:O?, s:I, s:I, s:I, s:I}", "events", c.total,
                         "by_action", c.by_action, "by_entity_type", c.by_type, "first_ts",
                         c.first ? json_object_get(c.first, "ts") : NULL, "last_ts",
                         c.last ? json_object_get(c.last, "ts") : NULL, "buffered",
                         (json_int_t)st.buffered, "recorded_by_this_process",
                         (json_int_t)st.appended, "segments_flushed_by_this_process",
                         (json_int_t)st.flushed_segments, "failed_flushes",
                         (json_int_t)st.failed_flushes);
    }
    json_decref(c.by_action);
    json_decref(c.by_type);
    json_decref(c.first);
    json_decref(c.last);
    return rc;
}

/* ---- error journal ---- */

struct lh_errors {
    struct journal_log l;
};

lh_code lh_errors_open(lh_store *store, const lh_journal_options *opt, lh_errors **out, lh_err *err)
{
    lh_errors *e = lh_xcalloc(1, sizeof *e);
    lh_code rc = log_open(&e->l, store, opt, "errors", "_errors/", err);
    if (rc) {
        free(e);
        return rc;
    }
    *out = e;
    return LH_OK;
}

void lh_errors_close(lh_errors *e)
{
    if (!e) return;
    log_close(&e->l);
    free(e);
}

void lh_errors_record(lh_errors *e, const char *operation, const char *bucket, const char *key,
                      const lh_err *err)
{
    int64_t ms = lh_time_now_ms();
    char id[64], ts[32];
    make_id(e->l.replica, &e->l.counter, ms, id);
    lh_time_iso8601(ms, ts);
    json_t *rec = json_pack("{s:s, s:s, s:I, s:s, s:s?, s:s?, s:s, s:s, s:s?}", "id", id, "ts", ts,
                            "ts_ms", (json_int_t)ms, "operation", operation, "bucket", bucket,
                            "key", key && *key ? key : NULL, "code", lh_code_name(err->code),
                            "error", err->message, "request_id", lh_log_request_id());
    if (!rec) return;
    lh_log(LH_LOG_WARN, "error.recorded", LH_KV_STR("operation", operation),
           LH_KV_STR("bucket", bucket ? bucket : "-"), LH_KV_STR("error", err->message));
    seglog_append(e->l.log, rec, true);
    json_decref(rec);
}

lh_code lh_errors_flush(lh_errors *e, lh_err *err)
{
    return seglog_flush(e->l.log, err);
}

static bool since(struct tail *t, json_t *rec)
{
    return json_integer_value(json_object_get(rec, "ts_ms")) >= t->since_ms;
}

lh_code lh_errors_query(lh_errors *e, int64_t since_ms, size_t limit, json_t **out, lh_err *err)
{
    struct tail t = {.ring = json_array(), .limit = limit ? limit : 1, .keep = since,
                     .since_ms = since_ms};
    lh_code rc = seglog_scan(e->l.log, tail_add, &t, err);
    if (rc == LH_OK) *out = tail_newest_first(&t);
    json_decref(t.ring);
    return rc;
}

void lh_errors_store_observer(void *ctx, const char *op, const char *bucket, const char *key,
                              const lh_err *err)
{
    /* the journal's own failed flush is not news for the journal: recording it
     * would give the next flush one more record to fail on, forever */
    if (key && strncmp(key, "_errors/", 8) == 0) {
        lh_log(LH_LOG_WARN, "errors.flush_failed", LH_KV_STR("bucket", bucket ? bucket : "-"),
               LH_KV_STR("error", err->message));
        return;
    }
    lh_errors_record(ctx, op, bucket, key, err);
}
