/*
 * views.c — AI-safe views: a dataset seen through a column list, a row
 * filter and column redactions, as versioned objects in the default bucket
 * (_catalog/views/<name>/v00000001.json, one write-once log each, journaled
 * as entity type "view"), and the SQL that makes one a table.
 *
 *   {name, base_dataset, columns: [..] | null (all), row_filter: "SQL" | null,
 *    column_redactions: {column: null | "hash" | {"mask": {keep_prefix, keep_suffix}}},
 *    description, version, created_at, created_by, updated_at, updated_by, deleted}
 *
 * Redaction happens in the SQL engine: a view's table is
 *   SELECT <columns, each redacted> FROM (<the base dataset's SELECT>) WHERE (<row_filter>)
 * and the base dataset's SELECT reads its Parquet files directly (not by
 * name), so a profile bound to the view and not to its dataset gets the
 * redacted rows only: null → NULL, hash → sha256 of the value's text,
 * mask → the first keep_prefix and last keep_suffix characters, '*' between.
 */
#include "internal.h"

#include "lakehouse/lh_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

lh_code lh_app_views_load(lh_app *app, lh_err *err)
{
    return lh_app_objects_load(app, &app->views, err);
}

json_t *lh_app_view_get(lh_app *app, const char *name)
{
    return lh_app_objects_get(&app->views, name);
}

lh_code lh_app_name_not_a_view(lh_app *app, const char *name, lh_err *err)
{
    json_t *v = name ? lh_app_view_get(app, name) : NULL;
    json_decref(v);
    return v ? lh_err_set(err, LH_EEXIST, "\"%s\" is a view; a dataset needs a name of its own", name) : LH_OK;
}

/* ---- SQL ---- */

static void redacted(lh_buf *sql, const char *col, json_t *how)
{
    lh_buf q = {0};
    lh_sql_quote_ident(&q, col);
    if (json_is_null(how)) {
        lh_buf_puts(sql, "CAST(NULL AS VARCHAR)");
    } else if (json_is_string(how)) { /* "hash" */
        lh_buf_printf(sql, "sha256(CAST(%s AS VARCHAR))", q.data);
    } else {
        json_t *mask = json_object_get(how, "mask");
        long long p = json_integer_value(json_object_get(mask, "keep_prefix"));
        long long s = json_integer_value(json_object_get(mask, "keep_suffix"));
        lh_buf_printf(sql,
                      "CASE WHEN %1$s IS NULL THEN NULL "
                      "WHEN length(CAST(%1$s AS VARCHAR)) <= %2$lld THEN repeat('*', length(CAST(%1$s AS VARCHAR))) "
                      "ELSE left(CAST(%1$s AS VARCHAR), %3$lld) || repeat('*', length(CAST(%1$s AS VARCHAR)) - %2$lld) || "
                      "right(CAST(%1$s AS VARCHAR), %4$lld) END",
                      q.data, p + s, p, s);
    }
    lh_buf_printf(sql, " AS %s", q.data);
    lh_buf_free(&q);
}

lh_code lh_app_view_sql(lh_app *app, const json_t *view, bool schema_only, lh_buf *sql, lh_err *err)
{
    const char *base = json_string_value(json_object_get(view, "base_dataset"));
    lh_buf inner = {0};
    /* the base by its files, not by name: the caller's scope does not apply to it */
    lh_code rc = lh_dataset_tables_resolve(app->tables, base, schema_only, &inner, err);
    if (rc == LH_OK && !inner.len) rc = lh_err_set(err, LH_ENOTFOUND, "view %s: no dataset %s",
                                                   json_string_value(json_object_get(view, "name")), base);
    json_t *columns = json_object_get(view, "columns"), *all = NULL;
    if (rc == LH_OK && !json_is_array(columns)) { /* every column of the base's current schema */
        json_t *m;
        rc = lh_catalog_get(app->catalog, base, 0, &m, err);
        if (rc == LH_OK) {
            all = json_array();
            size_t i;
            json_t *f;
            json_array_foreach(json_object_get(json_object_get(m, "schema"), "fields"), i, f)
                json_array_append(all, json_object_get(f, "name"));
            json_decref(m);
            columns = all;
        }
    }
    if (rc == LH_OK) {
        json_t *redactions = json_object_get(view, "column_redactions");
        lh_buf_puts(sql, "SELECT ");
        size_t i;
        json_t *c;
        json_array_foreach(columns, i, c) {
            const char *col = json_string_value(c);
            if (i) lh_buf_puts(sql, ", ");
            json_t *how = json_object_get(redactions, col);
            if (how) redacted(sql, col, how);
            else lh_sql_quote_ident(sql, col);
        }
        if (!json_array_size(columns)) lh_buf_puts(sql, "NULL AS \"_empty\"");
        lh_buf_printf(sql, " FROM (%s) AS lh_base", inner.data);
        const char *filter = json_string_value(json_object_get(view, "row_filter"));
        if (filter && *filter) lh_buf_printf(sql, " WHERE (%s)", filter);
    }
    json_decref(all);
    lh_buf_free(&inner);
    return rc;
}

/* ---- checks ---- */

static lh_code check_view(lh_app *app, json_t *view, lh_err *err)
{
    const char *name = json_string_value(json_object_get(view, "name"));
    const char *base = json_string_value(json_object_get(view, "base_dataset"));
    lh_code rc = lh_catalog_name_check(name, NULL);
    if (rc) return lh_err_set(err, LH_EINVAL, "\"name\" must match [a-z][a-z0-9_]{0,62}, not \"%.70s\"", name);
    json_t *m;
    rc = lh_catalog_get(app->catalog, name, 0, &m, NULL);
    if (rc == LH_OK) {
        json_decref(m);
        return lh_err_set(err, LH_EEXIST, "\"%s\" is a dataset; a view needs a name of its own", name);
    }
    rc = lh_catalog_get(app->catalog, base, 0, &m, err);
    if (rc) return rc;
    json_t *fields = json_object_get(json_object_get(m, "schema"), "fields");
    json_t *known = json_object();
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f) json_object_set(known, json_string_value(json_object_get(f, "name")), json_true());
    json_decref(m);
    json_array_foreach(json_object_get(view, "columns"), i, f) {
        if (rc == LH_OK && !json_object_get(known, json_string_value(f)))
            rc = lh_err_set(err, LH_EINVAL, "\"columns\"[%zu]: %s has no column \"%.60s\"", i, base, json_string_value(f));
    }
    const char *col;
    json_t *how;
    json_object_foreach(json_object_get(view, "column_redactions"), col, how) {
        if (rc) break;
        json_t *mask = json_is_object(how) ? json_object_get(how, "mask") : NULL;
        json_t *p = json_object_get(mask, "keep_prefix"), *s = json_object_get(mask, "keep_suffix");
        if (!json_object_get(known, col))
            rc = lh_err_set(err, LH_EINVAL, "\"column_redactions\": %s has no column \"%.60s\"", base, col);
        else if (!(json_is_null(how) || (json_is_string(how) && !strcmp(json_string_value(how), "hash")) ||
                   (json_is_object(how) && json_object_size(how) == 1 && json_is_object(mask) &&
                    json_object_size(mask) == (size_t)(!!p + !!s) && (!p || (json_is_integer(p) && json_integer_value(p) >= 0 && json_integer_value(p) <= 64)) &&
                    (!s || (json_is_integer(s) && json_integer_value(s) >= 0 && json_integer_value(s) <= 64)))))
            rc = lh_err_set(err, LH_EINVAL,
                            "\"column_redactions\".%s must be null, \"hash\" or {\"mask\": {\"keep_prefix\": 0..64, "
                            "\"keep_suffix\": 0..64}}", col);
    }
    json_decref(known);
    if (rc) return rc;
    /* the row filter is checked as user SQL over the base (the sandbox's rules:
     * one read-only SELECT, no file-reading functions), under the caller's scope */
    const char *filter = json_string_value(json_object_get(view, "row_filter"));
    if (filter && *filter) {
        lh_buf sql = {0};
        lh_buf_puts(&sql, "SELECT * FROM ");
        lh_sql_quote_ident(&sql, base);
        lh_buf_printf(&sql, " WHERE (%s) LIMIT 0", filter);
        lh_query_engine *engine = lh_app_sql_engine(app, err);
        rc = engine ? lh_query_check(engine, sql.data, err) : err->code;
        if (rc == LH_OK) {
            lh_query_args qa = {.sql = sql.data, .timeout_ms = 5000, .read_only = true};
            lh_query_cursor *cur;
            rc = lh_query_open(engine, &qa, &cur, err);
            if (rc == LH_OK) lh_query_close(cur);
        }
        if (rc) lh_err_wrap(err, "\"row_filter\"");
        lh_buf_free(&sql);
    }
    return rc;
}

/* ---- changes ---- */

static const char *const fields[] = {"base_dataset", "columns", "row_filter", "column_redactions", "description", NULL};

struct edit {
    json_t *args;
    bool create, remove;
};

static lh_code edit_view(lh_app *app, const json_t *live, json_t *m, void *ctx, lh_err *err)
{
    struct edit *e = ctx;
    const char *name = lh_op_str(e->args, "name");
    if (e->create && live) return lh_err_set(err, LH_EEXIST, "view \"%s\" exists", name);
    if (!e->create && !live) return lh_err_set(err, LH_ENOTFOUND, "no view \"%s\"", name);
    if (e->remove) {
        json_object_set_new(m, "deleted", json_true());
        json_object_set_new(m, "delete_reason", lh_op_str(e->args, "reason") ? json_string(lh_op_str(e->args, "reason")) : json_null());
        return LH_OK;
    }
    if (e->create) {
        json_object_set_new(m, "columns", json_null());
        json_object_set_new(m, "row_filter", json_null());
        json_object_set_new(m, "column_redactions", json_object());
        json_object_set_new(m, "description", json_string(""));
    }
    for (const char *const *f = fields; *f; f++) {
        json_t *v = json_object_get(e->args, *f);
        if (v) json_object_set(m, *f, v);
    }
    json_object_set_new(m, "name", json_string(name));
    json_object_set_new(m, "deleted", json_false());
    return check_view(app, m, err);
}

static lh_code change(lh_app *app, json_t *args, bool create, bool remove, const char *action, const lh_who *who,
                      json_t **out, lh_err *err)
{
    struct edit e = {args, create, remove};
    return lh_app_objects_commit(app, &app->views, lh_op_str(args, "name"), action, edit_view, &e, who, out, err);
}

LH_OP_RUN(lh_app_run_views_create)
{
    return change(app, args, true, false, "create", &call->who, out, err);
}

LH_OP_RUN(lh_app_run_views_update)
{
    return change(app, args, false, false, "update", &call->who, out, err);
}

LH_OP_RUN(lh_app_run_views_delete)
{
    return change(app, args, false, true, "delete", &call->who, out, err);
}

LH_OP_RUN(lh_app_run_views_get)
{
    (void)call;
    const char *name = lh_op_str(args, "name");
    lh_code rc = lh_app_objects_refresh(app, &app->views, name, err);
    if (rc) return rc;
    json_t *m = lh_app_view_get(app, name);
    if (!m) return lh_err_set(err, LH_ENOTFOUND, "no view \"%s\"", name);
    *out = json_deep_copy(m); /* the caller's to change; the registry's stays as it is */
    json_decref(m);
    return LH_OK;
}

LH_OP_RUN(lh_app_run_views_list)
{
    lh_code rc = lh_app_views_load(app, err);
    if (rc) return rc;
    *out = lh_op_page(lh_app_visible(&call->who, lh_app_objects_list(&app->views), "name", LH_BIND_VIEW), "views", args);
    return LH_OK;
}

/* ---- suggestions from ingest's PII tags ---- */

/* The redaction proposed for a column ingest tagged as personal data (NULL: none). */
static json_t *proposal(const char *pii)
{
    if (!strcmp(pii, "person_name")) return json_string("hash");
    if (!strcmp(pii, "phone")) return json_pack("{s:{s:i, s:i}}", "mask", "keep_prefix", 0, "keep_suffix", 4);
    if (!strcmp(pii, "email")) return json_pack("{s:{s:i, s:i}}", "mask", "keep_prefix", 1, "keep_suffix", 4);
    return json_null(); /* national_id and any other kind: nothing of it */
}

LH_OP_RUN(lh_app_run_views_suggest)
{
    (void)call;
    const char *dataset = lh_op_str(args, "dataset");
    json_t *m;
    lh_code rc = lh_catalog_get(app->catalog, dataset, 0, &m, err);
    if (rc) return rc;
    json_t *columns = json_array(), *redactions = json_object();
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(json_object_get(m, "schema"), "fields"), i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *pii = json_string_value(json_object_get(f, "pii"));
        json_array_append_new(columns, json_string(name));
        if (pii) json_object_set_new(redactions, name, proposal(pii));
    }
    json_decref(m);
    char *name = lh_xasprintf("%.57s_safe", dataset);
    *out = json_pack("{s:s, s:s, s:o, s:n, s:o, s:s}", "name", name, "base_dataset", dataset, "columns", columns,
                     "row_filter", "column_redactions", redactions, "description",
                     "proposed from ingest's PII tags: names hashed, phones and emails masked, other personal data nulled");
    free(name);
    return LH_OK;
}
