/*
 * pathways.c — pathway memory (lh_memory.h): decision traces as rows of
 * _pathways. pathway.add (ADD, or UPDATE of a repeat), pathway.revise,
 * pathway.retire, pathway.history, pathway.search and pathway.list. A
 * pathway's state is its newest row; every row is its history.
 */
#include "internal.h"

#include "lakehouse/lh_memory.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_time.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATE_SQL                                                                                  \
    "SELECT * FROM " LH_PATHWAYS_DATASET                                                           \
    " QUALIFY row_number() OVER (PARTITION BY pathway_id ORDER BY seq DESC) = 1"

static const char *text_arg(json_t *args, const char *name)
{
    const char *s = lh_op_str(args, name);
    return s ? s : "";
}

/* A text argument: required ones non-empty; every one at most LH_PATHWAY_MAX_TEXT bytes. */
static lh_code check_text(json_t *args, const char *name, bool required, lh_err *err)
{
    const char *s = lh_op_str(args, name);
    if (required && (!s || !*s))
        return lh_err_set(err, LH_EINVAL, "\"%s\" must not be empty", name);
    if (s && strlen(s) > LH_PATHWAY_MAX_TEXT)
        return lh_err_set(err, LH_ETOOBIG, "\"%s\" is longer than %d bytes", name,
                          LH_PATHWAY_MAX_TEXT);
    return LH_OK;
}

static lh_code check_path(const char *path, lh_err *err)
{
    char prefix[8];
    if (!lh_pathway_prefix(path, prefix, sizeof prefix))
        return lh_err_set(err, LH_EINVAL, "\"path\" needs at least one segment (\"a/b/c\")");
    return LH_OK;
}

static lh_code check_id(const char *id, lh_err *err)
{
    size_t n = strlen(id);
    if (n != LH_PATHWAY_ID_HEX || strspn(id, "0123456789abcdef") != n)
        return lh_err_set(err, LH_EINVAL,
                          "\"%.80s\" is not a pathway id (64 lower-case hex digits)", id);
    return LH_OK;
}

/* The current row of pathway id (a new reference), or NULL (*rc set on a failure). */
static json_t *current(lh_app *app, const char *id, lh_code *rc, lh_err *err)
{
    char *sql = lh_xasprintf(STATE_SQL " AND pathway_id = '%s'", id); /* id: checked hex */
    json_t *rows = NULL;
    *rc = lh_app_system_query(app, LH_PATHWAYS_DATASET, sql, 1, &rows, err);
    free(sql);
    json_t *row = *rc ? NULL : json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return row;
}

static void set_vector(json_t *row)
{
    char *text = lh_xasprintf("%s %s %s", json_string_value(json_object_get(row, "task_class")),
                              json_string_value(json_object_get(row, "path")),
                              json_string_value(json_object_get(row, "signal_class")));
    double v[LH_PATHWAY_DIM];
    lh_pathway_vector(text, v);
    free(text);
    json_t *a = json_array();
    for (int i = 0; i < LH_PATHWAY_DIM; i++) json_array_append_new(a, json_real(v[i]));
    json_object_set_new(row, "vector", a);
}

static const char *field(const json_t *row, const char *name)
{
    const char *s = json_string_value(json_object_get(row, name));
    return s ? s : "";
}

static bool retired(const json_t *row)
{
    return *field(row, "retired_at") != '\0';
}

/* Appends row (stolen) as event; *out: {action, pathway: the row}. */
static lh_code append(lh_app *app, json_t *row, const char *event, const lh_who *who, json_t **out,
                      lh_err *err)
{
    char now[LH_TIME_ISO_LEN];
    lh_time_iso8601(lh_time_now_ms(), now);
    json_object_set_new(row, "event", json_string(event));
    json_object_set_new(row, "updated_at", json_string(now));
    json_object_set_new(row, "actor", json_string(who && who->actor ? who->actor : "system"));
    if (!*field(row, "created_at")) json_object_set_new(row, "created_at", json_string(now));
    json_object_del(row, "seq");
    json_t *rows = json_pack("[O]", row);
    char message[160];
    snprintf(message, sizeof message, "pathway %s: %.12s v%lld", event, field(row, "pathway_id"),
             (long long)json_integer_value(json_object_get(row, "version")));
    lh_code rc = lh_app_system_append(app, LH_PATHWAYS_DATASET, rows, message, who, err);
    json_decref(rows);
    if (rc == LH_OK)
        *out = json_pack("{s:s, s:o}", "action", event, "pathway", row);
    else
        json_decref(row);
    return rc;
}

LH_OP_RUN(lh_app_run_pathway_add)
{
    lh_code rc = check_text(args, "task_class", true, err);
    if (rc == LH_OK) rc = check_text(args, "path", true, err);
    if (rc == LH_OK) rc = check_text(args, "signal_class", true, err);
    if (rc == LH_OK) rc = check_text(args, "outcome", false, err);
    if (rc == LH_OK) rc = check_text(args, "trace", false, err);
    if (rc == LH_OK) rc = check_path(text_arg(args, "path"), err);
    if (rc) return rc;
    char id[LH_PATHWAY_ID_HEX + 1], prefix[LH_PATHWAY_MAX_TEXT + 1];
    lh_pathway_id(text_arg(args, "task_class"), text_arg(args, "path"),
                  text_arg(args, "signal_class"), id);
    lh_pathway_prefix(text_arg(args, "path"), prefix, sizeof prefix);
    lh_app_memory_lock();
    json_t *was = current(app, id, &rc, err), *row = NULL;
    const char *event = "add";
    if (rc == LH_OK && was && !retired(was)) { /* a repeat: UPDATE */
        event = "update";
        row = json_deep_copy(was);
        json_object_set_new(
            row, "replay_count",
            json_integer(json_integer_value(json_object_get(was, "replay_count")) + 1));
        if (lh_op_str(args, "outcome"))
            json_object_set_new(row, "outcome", json_string(lh_op_str(args, "outcome")));
        if (lh_op_str(args, "trace"))
            json_object_set_new(row, "trace", json_string(lh_op_str(args, "trace")));
    } else if (rc == LH_OK) { /* new, or added again after RETIRE: a new version */
        json_int_t version = was ? json_integer_value(json_object_get(was, "version")) : 0;
        row = json_pack("{s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s}",
                        "pathway_id", id, "version", version + 1, "parent_version", version,
                        "task_class", text_arg(args, "task_class"), "path", text_arg(args, "path"),
                        "prefix", prefix, "signal_class", text_arg(args, "signal_class"), "outcome",
                        text_arg(args, "outcome"), "trace", text_arg(args, "trace"), "replay_count",
                        0, "created_at", "", "retired_at", "", "note", "");
        set_vector(row);
    }
    if (rc == LH_OK) rc = append(app, row, event, &call->who, out, err);
    lh_app_memory_unlock();
    json_decref(was);
    return rc;
}

/* The live pathway of args' id, for a change (locked by the caller). */
static json_t *live_for_change(lh_app *app, json_t *args, const char *verb, lh_code *rc,
                               lh_err *err)
{
    const char *id = lh_op_str(args, "id");
    *rc = check_id(id, err);
    json_t *was = *rc ? NULL : current(app, id, rc, err);
    if (*rc == LH_OK && !was)
        *rc = lh_err_set(err, LH_ENOTFOUND, "no pathway %s", id);
    else if (*rc == LH_OK && retired(was))
        *rc = lh_err_set(err, LH_ECONFLICT, "pathway %s was retired at %s; it cannot be %s", id,
                         field(was, "retired_at"), verb);
    if (*rc) {
        json_decref(was);
        return NULL;
    }
    return was;
}

LH_OP_RUN(lh_app_run_pathway_revise)
{
    lh_code rc = check_text(args, "path", false, err);
    if (rc == LH_OK) rc = check_text(args, "outcome", false, err);
    if (rc == LH_OK) rc = check_text(args, "trace", false, err);
    if (rc) return rc;
    if (!lh_op_str(args, "path") && !lh_op_str(args, "outcome") && !lh_op_str(args, "trace"))
        return lh_err_set(err, LH_EINVAL, "a revision changes \"path\", \"outcome\" or \"trace\"");
    lh_app_memory_lock();
    json_t *was = live_for_change(app, args, "revised", &rc, err), *row = NULL;
    if (rc == LH_OK && lh_op_str(args, "path")) {
        char a[LH_PATHWAY_MAX_TEXT + 1], b[LH_PATHWAY_MAX_TEXT + 1];
        lh_pathway_prefix(lh_op_str(args, "path"), b, sizeof b);
        snprintf(a, sizeof a, "%s", field(was, "prefix"));
        if (strcmp(a, b) != 0)
            rc = lh_err_set(err, LH_EINVAL,
                            "a revised path keeps the pathway's first two segments (%s), which "
                            "make its id; \"%.200s\" "
                            "begins %s: add it as a pathway of its own",
                            a, lh_op_str(args, "path"), b);
    }
    if (rc == LH_OK) {
        row = json_deep_copy(was);
        json_int_t version = json_integer_value(json_object_get(was, "version"));
        json_object_set_new(row, "version", json_integer(version + 1));
        json_object_set_new(row, "parent_version", json_integer(version));
        json_object_set_new(row, "replay_count", json_integer(0));
        json_object_set_new(row, "created_at", json_string(""));
        for (const char *const *f = (const char *const[]){"path", "outcome", "trace", NULL}; *f;
             f++)
            if (lh_op_str(args, *f)) json_object_set_new(row, *f, json_string(lh_op_str(args, *f)));
        set_vector(row);
        rc = append(app, row, "revise", &call->who, out, err);
    }
    lh_app_memory_unlock();
    json_decref(was);
    return rc;
}

LH_OP_RUN(lh_app_run_pathway_retire)
{
    lh_code rc = check_text(args, "reason", false, err);
    if (rc) return rc;
    lh_app_memory_lock();
    json_t *was = live_for_change(app, args, "retired again", &rc, err);
    if (rc == LH_OK) {
        json_t *row = json_deep_copy(was);
        char now[LH_TIME_ISO_LEN];
        lh_time_iso8601(lh_time_now_ms(), now);
        json_object_set_new(row, "retired_at", json_string(now));
        json_object_set_new(row, "note", json_string(text_arg(args, "reason")));
        rc = append(app, row, "retire", &call->who, out, err);
    }
    lh_app_memory_unlock();
    json_decref(was);
    return rc;
}

LH_OP_RUN(lh_app_run_pathway_history)
{
    (void)call;
    const char *id = lh_op_str(args, "id");
    lh_code rc = check_id(id, err);
    if (rc) return rc;
    char *sql = lh_xasprintf(
        "SELECT * FROM " LH_PATHWAYS_DATASET " WHERE pathway_id = '%s' ORDER BY seq", id);
    json_t *rows;
    rc = lh_app_system_query(app, LH_PATHWAYS_DATASET, sql, LH_OP_LIST_MAX, &rows, err);
    free(sql);
    if (rc) return rc;
    if (!json_array_size(rows)) {
        json_decref(rows);
        return lh_err_set(err, LH_ENOTFOUND, "no pathway %s", id);
    }
    *out = lh_op_page(rows, "history", args);
    return LH_OK;
}

LH_OP_RUN(lh_app_run_pathway_list)
{
    (void)call;
    bool all = lh_op_bool(args, "all", false);
    const char *task_class = lh_op_str(args, "task_class");
    char *lit = task_class ? lh_app_sql_literal(task_class) : NULL;
    char *sql = lh_xasprintf("SELECT * FROM (" STATE_SQL ") WHERE %s%s%s ORDER BY seq DESC",
                             all ? "true" : "retired_at = ''", lit ? " AND task_class = " : "",
                             lit ? lit : "");
    json_t *rows;
    lh_code rc = lh_app_system_query(app, LH_PATHWAYS_DATASET, sql, LH_OP_LIST_MAX, &rows, err);
    free(sql);
    free(lit);
    if (rc) return rc;
    *out = lh_op_page(rows, "pathways", args);
    return LH_OK;
}

typedef struct scored {
    double similarity;
    size_t at;
} scored;

static int by_similarity(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->similarity != y->similarity) return x->similarity < y->similarity ? 1 : -1;
    return (x->at > y->at) - (x->at < y->at);
}

LH_OP_RUN(lh_app_run_pathway_search)
{
    (void)call;
    lh_code rc = check_text(args, "query", true, err);
    if (rc == LH_OK) rc = check_text(args, "task_class", false, err);
    if (rc) return rc;
    size_t k = (size_t)lh_op_int(args, "k", 10);
    double q[LH_PATHWAY_DIM];
    lh_pathway_vector(lh_op_str(args, "query"), q);
    const char *task_class = lh_op_str(args, "task_class");
    char *lit = task_class ? lh_app_sql_literal(task_class) : NULL;
    char *sql = lh_xasprintf("SELECT * FROM (" STATE_SQL ") WHERE retired_at = ''%s%s ORDER BY seq",
                             lit ? " AND task_class = " : "", lit ? lit : "");
    json_t *rows;
    rc = lh_app_system_query(app, LH_PATHWAYS_DATASET, sql, LH_OP_LIST_MAX, &rows, err);
    free(sql);
    free(lit);
    if (rc) return rc;
    size_t n = json_array_size(rows);
    scored *s = lh_xcalloc(n ? n : 1, sizeof *s);
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_object_get(json_array_get(rows, i), "vector");
        double dot = 0;
        for (size_t d = 0; d < LH_PATHWAY_DIM && d < json_array_size(v); d++)
            dot += q[d] * json_number_value(json_array_get(v, d));
        s[i] = (scored){dot, i}; /* both unit length: the dot is the cosine */
    }
    qsort(s, n, sizeof *s, by_similarity);
    json_t *hits = json_array();
    for (size_t i = 0; i < n && i < k; i++) {
        json_t *row = json_deep_copy(json_array_get(rows, s[i].at));
        json_object_set_new(row, "similarity", json_real(s[i].similarity));
        json_object_del(row, "vector");
        json_array_append_new(hits, row);
    }
    free(s);
    json_decref(rows);
    *out = json_pack("{s:s, s:o}", "query", lh_op_str(args, "query"), "hits", hits);
    return LH_OK;
}
