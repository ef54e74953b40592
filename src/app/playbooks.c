/*
 * playbooks.c — playbook memory (lh_memory.h): completed operations as rows
 * of _playbooks (playbook.record, .list, .show, .retire), and the boost that
 * hybrid search takes from them (lh_app_playbooks_boost, called by the
 * search operation). A playbook version's state is its newest row.
 */
#include "internal.h"

#include "lakehouse/lh_ai.h"
#include "lakehouse/lh_memory.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_query.h"
#include "lakehouse/lh_time.h"
#include "lakehouse/lh_vectors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define STATE_SQL                                                                                  \
    "SELECT * FROM " LH_PLAYBOOKS_DATASET                                                          \
    " QUALIFY row_number() OVER (PARTITION BY playbook_id, version ORDER BY seq DESC) = 1"
/* the newest version of each playbook, in its current state */
#define NEWEST_SQL                                                                                 \
    "SELECT * FROM (" STATE_SQL                                                                    \
    ") QUALIFY row_number() OVER (PARTITION BY playbook_id ORDER BY version DESC) = 1"
#define ID_HEX           16
#define MAX_WORKER_BYTES 256

const char *const lh_op_choices_playbook_outcome[] = {"success", "failure", NULL};

static const char *field(const json_t *row, const char *name)
{
    const char *s = json_string_value(json_object_get(row, name));
    return s ? s : "";
}

static lh_code check_id(const char *id, lh_err *err)
{
    size_t n = strlen(id);
    if (n != ID_HEX || strspn(id, "0123456789abcdef") != n)
        return lh_err_set(err, LH_EINVAL,
                          "\"%.80s\" is not a playbook id (16 lower-case hex digits)", id);
    return LH_OK;
}

static lh_code check_text(json_t *args, const char *name, bool required, lh_err *err)
{
    const char *s = lh_op_str(args, name);
    if (required && (!s || !*s))
        return lh_err_set(err, LH_EINVAL, "\"%s\" must not be empty", name);
    if (s && strlen(s) > LH_PLAYBOOK_MAX_TEXT)
        return lh_err_set(err, LH_ETOOBIG, "\"%s\" is longer than %d bytes", name,
                          LH_PLAYBOOK_MAX_TEXT);
    return LH_OK;
}

/* A row as answered: its embedding replaced by its dimension. */
static json_t *shown(const json_t *row)
{
    json_t *r = json_deep_copy(row);
    json_object_set_new(
        r, "dim", json_integer((json_int_t)json_array_size(json_object_get(row, "embedding"))));
    json_object_del(r, "embedding");
    return r;
}

/* Every version of playbook id in its current state, oldest first (a new array). */
static lh_code versions_of(lh_app *app, const char *id, json_t **rows, lh_err *err)
{
    char *sql =
        lh_xasprintf("SELECT * FROM (" STATE_SQL ") WHERE playbook_id = '%s' ORDER BY version", id);
    lh_code rc = lh_app_system_query(app, LH_PLAYBOOKS_DATASET, sql, LH_OP_LIST_MAX, rows, err);
    free(sql);
    return rc;
}

/* The index's embedding provider and model, and its dataset and id column. */
typedef struct index_facts {
    json_t *info;
    const char *provider, *model, *dataset, *id_column;
} index_facts;

static lh_code facts_of(lh_app *app, const char *index, index_facts *f, lh_err *err)
{
    memset(f, 0, sizeof *f);
    lh_code rc = lh_vectors_get(app->vectors, index, &f->info, err);
    if (rc) return rc;
    const json_t *m = json_object_get(f->info, "manifest"), *t = json_object_get(m, "text"),
                 *o = json_object_get(m, "origin");
    if (!t) {
        json_decref(f->info);
        f->info = NULL;
        return lh_err_set(err, LH_EINVAL,
                          "index %s is not a text index: playbooks remember text searches", index);
    }
    f->provider = json_string_value(json_object_get(t, "provider"));
    f->model = json_string_value(json_object_get(t, "model"));
    f->dataset = json_string_value(json_object_get(o, "dataset"));
    f->id_column = json_string_value(json_object_get(o, "id_column"));
    return LH_OK;
}

static lh_code embed(lh_app *app, const index_facts *f, const char *text, float **v, uint32_t *dim,
                     json_t **model, lh_err *err)
{
    lh_ai *ai = lh_app_ai(app, f->provider, f->model, err);
    if (!ai) return err->code ? err->code : LH_EINTERNAL;
    const char *texts[1] = {text};
    lh_code rc = lh_ai_embed(ai, texts, 1, NULL, NULL, v, dim, err);
    if (rc) return lh_err_wrap(err, "embedding the task");
    if (model)
        *model = json_pack("{s:s, s:s}", "provider", lh_ai_provider(ai), "model", lh_ai_model(ai));
    return LH_OK;
}

LH_OP_RUN(lh_app_run_playbook_record)
{
    lh_code rc = check_text(args, "task", true, err);
    if (rc == LH_OK) rc = check_text(args, "context", false, err);
    if (rc == LH_OK) rc = check_text(args, "note", false, err);
    json_t *workers = json_object_get(args, "workers"), *w;
    size_t i;
    json_array_foreach(workers, i, w)
    {
        if (rc) break;
        const char *s = json_string_value(w);
        if (!*s || strlen(s) > MAX_WORKER_BYTES)
            rc = lh_err_set(err, LH_EINVAL, "\"workers\"[%zu]: an id of 1..%d bytes", i,
                            MAX_WORKER_BYTES);
        for (size_t j = 0; j < i && rc == LH_OK; j++)
            if (!strcmp(s, json_string_value(json_array_get(workers, j))))
                rc = lh_err_set(err, LH_EINVAL, "\"workers\": %.80s is named twice", s);
    }
    const char *parent = lh_op_str(args, "parent"), *index = lh_op_str(args, "index");
    if (rc == LH_OK && parent) rc = check_id(parent, err);
    if (rc) return rc;
    index_facts facts;
    rc = facts_of(app, index, &facts, err);
    if (rc) return rc;
    float *v = NULL;
    uint32_t dim = 0;
    json_t *model = NULL;
    rc = embed(app, &facts, lh_op_str(args, "task"), &v, &dim, &model, err);
    const char *outcome = lh_op_str(args, "outcome") ? lh_op_str(args, "outcome") : "success";
    bool failed = !strcmp(outcome, "failure");
    int64_t now_ms = lh_time_now_ms();
    char now[LH_TIME_ISO_LEN];
    lh_time_iso8601(now_ms, now);
    lh_app_memory_lock();
    json_t *rows = json_array(), *was = NULL, *versions = NULL;
    if (rc == LH_OK && parent) rc = versions_of(app, parent, &versions, err);
    if (rc == LH_OK && parent) {
        was = json_array_get(versions, json_array_size(versions) - 1);
        if (!was)
            rc = lh_err_set(err, LH_ENOTFOUND, "no playbook %s", parent);
        else if (*field(was, "retired_at"))
            rc = lh_err_set(err, LH_ECONFLICT,
                            "playbook %s was retired at %s; record a new one instead", parent,
                            field(was, "retired_at"));
        else if (strcmp(field(was, "index_name"), index) != 0)
            rc = lh_err_set(err, LH_EINVAL, "playbook %s remembers index %s, not %s", parent,
                            field(was, "index_name"), index);
    }
    if (rc == LH_OK) {
        char *fresh = parent ? NULL : lh_app_hex_id();
        json_int_t version = was ? json_integer_value(json_object_get(was, "version")) : 0;
        json_int_t failures =
            (was ? json_integer_value(json_object_get(was, "failures")) : 0) + failed;
        char parent_ref[64] = "";
        if (was) {
            snprintf(parent_ref, sizeof parent_ref, "%s@%lld", parent, (long long)version);
            json_t *old = json_deep_copy(was);
            json_object_del(old, "seq");
            json_object_set_new(old, "event", json_string("supersede"));
            json_object_set_new(old, "superseded_at", json_string(now));
            json_array_append_new(rows, old);
        }
        json_t *emb = json_array();
        for (uint32_t d = 0; d < dim; d++) json_array_append_new(emb, json_real(v[d]));
        json_t *row = json_pack(
            "{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:O, s:I, s:s, s:I, s:O, s:O, s:o, s:I, s:s, "
            "s:s, s:s, s:s, s:s}",
            "event", "record", "playbook_id", parent ? parent : fresh, "version", version + 1,
            "parent", parent_ref, "index_name", index, "task", lh_op_str(args, "task"), "context",
            lh_op_str(args, "context") ? lh_op_str(args, "context") : "", "workers", workers, "n",
            (json_int_t)json_array_size(workers), "outcome", outcome, "failures", failures,
            "provider", json_object_get(model, "provider"), "model",
            json_object_get(model, "model"), "embedding", emb, "recorded_ms", (json_int_t)now_ms,
            "recorded_at", now, "superseded_at", "", "retired_at", "", "note",
            lh_op_str(args, "note") ? lh_op_str(args, "note") : "", "actor",
            call->who.actor ? call->who.actor : "system");
        json_array_append_new(rows, row);
        char message[160];
        snprintf(message, sizeof message, "playbook %s v%lld: %.100s", parent ? parent : fresh,
                 (long long)version + 1, lh_op_str(args, "task"));
        rc = lh_app_system_append(app, LH_PLAYBOOKS_DATASET, rows, message, &call->who, err);
        if (rc == LH_OK) {
            *out = json_pack("{s:s, s:o}", "action", "record", "playbook", shown(row));
            if (was) json_object_set_new(*out, "superseded", json_string(parent_ref));
        }
        free(fresh);
    }
    lh_app_memory_unlock();
    json_decref(rows);
    json_decref(versions);
    json_decref(model);
    json_decref(facts.info);
    free(v);
    return rc;
}

LH_OP_RUN(lh_app_run_playbook_list)
{
    const char *index = lh_op_str(args, "index"), *context = lh_op_str(args, "context");
    char *li = index ? lh_app_sql_literal(index) : NULL,
         *lc = context ? lh_app_sql_literal(context) : NULL;
    char *sql = lh_xasprintf(
        "SELECT * EXCLUDE (embedding) FROM (" NEWEST_SQL ") WHERE %s%s%s%s%s%s ORDER BY seq DESC",
        lh_op_bool(args, "all", false) ? "true" : "retired_at = ''", li ? " AND index_name = " : "",
        li ? li : "", lc ? " AND lower(context) = lower(" : "", lc ? lc : "", lc ? ")" : "");
    json_t *rows;
    lh_code rc = lh_app_system_query(app, LH_PLAYBOOKS_DATASET, sql, LH_OP_LIST_MAX, &rows, err);
    free(sql);
    free(li);
    free(lc);
    if (rc) return rc;
    *out = lh_op_page(lh_app_visible(&call->who, rows, "index_name", LH_BIND_INDEX), "playbooks",
                      args);
    return LH_OK;
}

/* Whether who's profile binds the playbook's index (no profile: yes). */
static bool visible(const lh_who *who, const json_t *playbook)
{
    if (!who->profile) return true;
    json_t *one = lh_app_visible(who, json_pack("[O]", playbook), "index_name", LH_BIND_INDEX);
    bool yes = json_array_size(one) > 0;
    json_decref(one);
    return yes;
}

LH_OP_RUN(lh_app_run_playbook_show)
{
    const char *id = lh_op_str(args, "id");
    lh_code rc = check_id(id, err);
    json_t *versions = NULL;
    if (rc == LH_OK) rc = versions_of(app, id, &versions, err);
    if (rc) return rc;
    json_t *newest = json_array_get(versions, json_array_size(versions) - 1);
    if (!newest)
        rc = lh_err_set(err, LH_ENOTFOUND, "no playbook %s", id);
    else if (!visible(&call->who, newest))
        rc = lh_err_set(err, LH_ENOTFOUND, "no playbook %s", id);
    if (rc == LH_OK) {
        json_t *list = json_array(), *v;
        size_t i;
        json_array_foreach(versions, i, v) json_array_append_new(list, shown(v));
        *out = json_pack("{s:o, s:o}", "playbook", shown(newest), "versions", list);
    }
    json_decref(versions);
    return rc;
}

LH_OP_RUN(lh_app_run_playbook_retire)
{
    const char *id = lh_op_str(args, "id");
    lh_code rc = check_id(id, err);
    if (rc == LH_OK) rc = check_text(args, "reason", false, err);
    if (rc) return rc;
    lh_app_memory_lock();
    json_t *versions = NULL;
    rc = versions_of(app, id, &versions, err);
    json_t *newest = rc ? NULL : json_array_get(versions, json_array_size(versions) - 1);
    if (rc == LH_OK && !newest)
        rc = lh_err_set(err, LH_ENOTFOUND, "no playbook %s", id);
    else if (rc == LH_OK && !visible(&call->who, newest))
        rc = lh_err_set(err, LH_ENOTFOUND, "no playbook %s", id);
    else if (rc == LH_OK && *field(newest, "retired_at"))
        rc = lh_err_set(err, LH_ECONFLICT, "playbook %s was retired at %s already", id,
                        field(newest, "retired_at"));
    if (rc == LH_OK) {
        char now[LH_TIME_ISO_LEN];
        lh_time_iso8601(lh_time_now_ms(), now);
        json_t *row = json_deep_copy(newest);
        json_object_del(row, "seq");
        json_object_set_new(row, "event", json_string("retire"));
        json_object_set_new(row, "retired_at", json_string(now));
        if (lh_op_str(args, "reason"))
            json_object_set_new(row, "note", json_string(lh_op_str(args, "reason")));
        json_t *rows = json_pack("[O]", row);
        char message[96];
        snprintf(message, sizeof message, "playbook %s retired", id);
        rc = lh_app_system_append(app, LH_PLAYBOOKS_DATASET, rows, message, &call->who, err);
        json_decref(rows);
        if (rc == LH_OK) *out = json_pack("{s:s, s:o}", "action", "retire", "playbook", shown(row));
        json_decref(row);
    }
    lh_app_memory_unlock();
    json_decref(versions);
    return rc;
}

/* ---- the boost ---- */

static char *id_text(const json_t *id)
{
    return json_is_string(id) ? lh_xstrdup(json_string_value(id))
                              : lh_xasprintf("%lld", (long long)json_integer_value(id));
}

typedef struct ranked {
    json_t *hit;
    double score;
    size_t at; /* ties keep the plain search's order */
} ranked;

static int by_score(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return (x->at > y->at) - (x->at < y->at);
}

/* Injected workers' source rows (matching the search's filter), by id text. */
static lh_code injected_rows(lh_app *app, const index_facts *f, json_t *ids, const char *filter,
                             json_t **byid, lh_err *err)
{
    lh_buf sql = {0};
    lh_buf_puts(&sql, "SELECT * FROM ");
    lh_sql_quote_ident(&sql, f->dataset);
    lh_buf_puts(&sql, " WHERE CAST(");
    lh_sql_quote_ident(&sql, f->id_column);
    lh_buf_puts(&sql, " AS VARCHAR) IN (");
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        if (i) lh_buf_puts(&sql, ", ");
        lh_sql_quote_literal(&sql, json_string_value(id));
    }
    lh_buf_puts(&sql, ")");
    if (filter && *filter) lh_buf_printf(&sql, " AND (%s\n)", filter);
    json_t *rows = NULL;
    lh_code rc =
        lh_app_query_rows(app, sql.data, true, (long long)json_array_size(ids), &rows, NULL, err);
    lh_buf_free(&sql);
    *byid = json_object();
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        char *key = id_text(json_object_get(row, f->id_column));
        json_object_set(*byid, key, row);
        free(key);
    }
    json_decref(rows);
    return rc;
}

/* The live playbook versions (a new reference), read again when _playbooks has a new version. */
static lh_code live_playbooks(lh_app *app, json_t **out, lh_err *err)
{
    json_t *m = NULL;
    int64_t version = 0;
    if (lh_catalog_get(app->catalog, LH_PLAYBOOKS_DATASET, 0, &m, NULL) == LH_OK)
        version = json_is_true(json_object_get(m, "deleted"))
                      ? 0
                      : json_integer_value(json_object_get(m, "version"));
    json_decref(m);
    if (!version) { /* none yet */
        *out = json_array();
        return LH_OK;
    }
    struct lh_app_playbook_cache *cache = &app->playbook_cache;
    pthread_mutex_lock(&cache->mu);
    lh_code rc = LH_OK;
    if (cache->version != version) {
        json_t *rows = NULL;
        rc = lh_app_system_query(
            app, LH_PLAYBOOKS_DATASET,
            "SELECT playbook_id, version, index_name, context, workers, n, failures, recorded_ms, "
            "provider, model, embedding FROM (" STATE_SQL ") WHERE superseded_at = '' AND "
            "retired_at = '' ORDER BY seq DESC", /* past the cap, the newest are kept */
            LH_PLAYBOOK_MAX_CANDIDATES, &rows, err);
        if (rc == LH_OK) {
            json_decref(cache->live);
            cache->live = rows;
            cache->version = version;
        }
    }
    *out = rc ? NULL : json_incref(cache->live);
    pthread_mutex_unlock(&cache->mu);
    return rc;
}

lh_code lh_app_playbooks_boost(lh_app *app, const char *index, const char *query,
                               const char *context, const char *filter, size_t k, bool with_rows,
                               json_t *result, lh_err *err)
{
    index_facts facts;
    lh_code rc = facts_of(app, index, &facts, err);
    if (rc) return rc;
    json_t *all = NULL, *cands = json_array(), *c;
    rc = live_playbooks(app, &all, err);
    size_t i;
    json_array_foreach(all, i,
                       c) /* the same index, and the same context (case folded) when asked */
        if (!strcmp(field(c, "index_name"), index) &&
            (!context || !strcasecmp(field(c, "context"), context))) json_array_append(cands, c);
    json_decref(all);
    float *qv = NULL;
    uint32_t dim = 0;
    json_t *model = NULL;
    if (rc == LH_OK && json_array_size(cands))
        rc = embed(app, &facts, query, &qv, &dim, &model, err);
    double qnorm = 0;
    for (uint32_t d = 0; d < dim; d++) qnorm += (double)qv[d] * qv[d];
    qnorm = sqrt(qnorm);
    /* per worker: {boost, playbooks:[...], inject} */
    json_t *endorsed = json_object(), *used = json_array();
    int64_t now = lh_time_now_ms();
    json_array_foreach(cands, i, c)
    {
        if (rc) break;
        const json_t *e = json_object_get(c, "embedding");
        if (strcmp(field(c, "provider"), field(model, "provider")) ||
            strcmp(field(c, "model"), field(model, "model")) || json_array_size(e) != dim ||
            qnorm == 0)
            continue; /* embedded by another model: not comparable */
        double dot = 0, norm = 0;
        for (uint32_t d = 0; d < dim; d++) {
            double x = json_number_value(json_array_get(e, d));
            dot += x * qv[d];
            norm += x * x;
        }
        double cos = norm > 0 ? dot / (sqrt(norm) * qnorm) : 0;
        if (cos < LH_PLAYBOOK_MIN_COS) continue;
        double age_days =
            (double)(now - json_integer_value(json_object_get(c, "recorded_ms"))) / 86400000.0;
        const json_t *workers = json_object_get(c, "workers");
        double b =
            lh_playbook_boost(cos, age_days, json_integer_value(json_object_get(c, "failures")),
                              json_array_size(workers));
        char ref[64];
        snprintf(ref, sizeof ref, "%s@%lld", field(c, "playbook_id"),
                 (long long)json_integer_value(json_object_get(c, "version")));
        json_array_append_new(used, json_pack("{s:s, s:f, s:f, s:f, s:I}", "playbook", ref, "cos",
                                              cos, "boost", b, "age_days", age_days, "failures",
                                              json_integer_value(json_object_get(c, "failures"))));
        size_t j;
        json_t *w;
        json_array_foreach(workers, j, w)
        {
            json_t *slot = json_object_get(endorsed, json_string_value(w));
            if (!slot) {
                slot = json_pack("{s:f, s:[], s:b}", "boost", 0.0, "playbooks", "inject", 0);
                json_object_set_new(endorsed, json_string_value(w), slot);
            }
            json_object_set_new(slot, "boost",
                                json_real(json_number_value(json_object_get(slot, "boost")) + b));
            json_array_append_new(json_object_get(slot, "playbooks"), json_string(ref));
            if (1 - cos <= LH_PLAYBOOK_INJECT_DISTANCE)
                json_object_set_new(slot, "inject", json_true());
        }
    }
    json_t *hits = json_object_get(result, "hits"), *boosted = json_array(),
           *injected = json_array(), *h;
    json_t *seen = json_object();
    /* an injected answer scores as if the plain search had ranked it last, plus its boost */
    size_t plain = json_array_size(hits);
    double floor_score =
        plain >= k ? json_number_value(json_object_get(json_array_get(hits, plain - 1), "score"))
                   : 0;
    json_array_foreach(hits, i, h)
    {
        if (rc) break;
        char *key = id_text(json_object_get(h, "id"));
        json_object_set_new(seen, key, json_true());
        json_t *slot = json_object_get(endorsed, key);
        if (slot) {
            double b =
                fmin(json_number_value(json_object_get(slot, "boost")), LH_PLAYBOOK_BOOST_CAP);
            json_object_set_new(h, "score",
                                json_real(json_number_value(json_object_get(h, "score")) + b));
            json_object_set_new(h, "boost", json_real(b));
            json_object_set(h, "playbooks", json_object_get(slot, "playbooks"));
        }
        free(key);
    }
    /* remembered answers the plain search missed, from a playbook near enough */
    json_t *missing = json_array();
    const char *key;
    json_t *slot;
    json_object_foreach(endorsed, key, slot) if (json_is_true(json_object_get(slot, "inject")) &&
                                                 !json_object_get(seen, key))
        json_array_append_new(missing, json_string(key));
    json_t *byid = NULL;
    if (rc == LH_OK && json_array_size(missing))
        rc = injected_rows(app, &facts, missing, filter, &byid, err);
    json_array_foreach(missing, i, c)
    {
        if (rc) break;
        json_t *row = json_object_get(byid, json_string_value(c));
        if (!row) continue; /* not in the dataset (any more), or not within the filter */
        slot = json_object_get(endorsed, json_string_value(c));
        double b = fmin(json_number_value(json_object_get(slot, "boost")), LH_PLAYBOOK_BOOST_CAP);
        json_t *hit =
            json_pack("{s:O, s:f, s:f, s:O, s:b}", "id", json_object_get(row, facts.id_column),
                      "score", floor_score + b, "boost", b, "playbooks",
                      json_object_get(slot, "playbooks"), "injected", 1);
        if (with_rows) json_object_set(hit, "row", row);
        json_array_append_new(hits, hit);
    }
    if (rc == LH_OK) {
        size_t n = json_array_size(hits);
        ranked *order = lh_xcalloc(n ? n : 1, sizeof *order);
        for (i = 0; i < n; i++) {
            json_t *x = json_incref(json_array_get(hits, i));
            order[i] = (ranked){x, json_number_value(json_object_get(x, "score")), i};
        }
        qsort(order, n, sizeof *order, by_score);
        json_array_clear(hits);
        for (i = 0; i < n; i++) {
            if (i < k) {
                json_object_set_new(order[i].hit, "rank", json_integer((json_int_t)i + 1));
                json_array_append(hits, order[i].hit);
                if (json_is_true(json_object_get(order[i].hit, "injected")))
                    json_array_append(injected, json_object_get(order[i].hit, "id"));
                else if (json_object_get(order[i].hit, "boost"))
                    json_array_append(boosted, json_object_get(order[i].hit, "id"));
            }
            json_decref(order[i].hit);
        }
        free(order);
        json_object_set_new(result, "playbooks",
                            json_pack("{s:s?, s:O, s:O, s:O}", "context", context, "candidates",
                                      used, "boosted", boosted, "injected", injected));
    }
    json_decref(byid);
    json_decref(missing);
    json_decref(seen);
    json_decref(boosted);
    json_decref(injected);
    json_decref(used);
    json_decref(endorsed);
    json_decref(model);
    json_decref(cands);
    json_decref(facts.info);
    free(qv);
    return rc;
}
