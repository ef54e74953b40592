/*
 * catalog_ops.c — the catalog's operations over checked arguments.
 */
#include "internal.h"

#include "lakehouse/lh_mem.h"

#include <string.h>

static lh_code items(lh_code rc, json_t *list, const char *name, json_t *args, json_t **out)
{
    if (rc == LH_OK) *out = lh_op_page(list, name, args);
    return rc;
}

LH_OP_RUN(lh_app_run_catalog_list)
{
    json_t *list;
    lh_code rc = lh_catalog_list(app->catalog, lh_op_bool(args, "include_deleted", false), &list, err);
    if (rc == LH_OK) list = lh_app_visible(&call->who, list, "name", LH_BIND_DATASET);
    return items(rc, list, "datasets", args, out);
}

LH_OP_RUN(lh_app_run_catalog_create)
{
    lh_create_options o = {.bucket = lh_op_str(args, "bucket"), .description = lh_op_str(args, "description")};
    lh_code rc = lh_app_name_not_a_view(app, lh_op_str(args, "name"), err);
    if (rc) return rc;
    return lh_catalog_create(app->catalog, lh_op_str(args, "name"), &o, &call->who, out, err);
}

LH_OP_RUN(lh_app_run_catalog_show)
{
    (void)call;
    return lh_catalog_get(app->catalog, lh_op_str(args, "name"), lh_op_int(args, "version", 0), out, err);
}

LH_OP_RUN(lh_app_run_catalog_versions)
{
    (void)call;
    size_t offset, limit;
    lh_op_page_window(args, &offset, &limit);
    json_t *page;
    int64_t head;
    /* only the page's versions are read: a long history's manifests are large */
    int64_t from = offset < (size_t)INT64_MAX / 2 ? (int64_t)offset + 1 : INT64_MAX / 2; /* the cursor is untrusted */
    lh_code rc = lh_catalog_versions(app->catalog, lh_op_str(args, "name"), from, (int64_t)limit, &page, &head, err);
    if (rc) return rc;
    *out = lh_op_page_of(page, "versions", offset, limit, (size_t)head);
    json_object_set_new(*out, "dataset", json_string(lh_op_str(args, "name")));
    return LH_OK;
}

LH_OP_RUN(lh_app_run_catalog_commit)
{
    lh_commit c = {.objects = json_object_get(args, "objects"),
                   .schema = json_object_get(args, "schema"),
                   .lineage = json_object_get(args, "lineage"),
                   .message = lh_op_str(args, "message"),
                   .expected_parent = lh_op_int(args, "expected_parent", 0)};
    if (json_is_null(c.schema)) c.schema = NULL;
    if (json_is_null(c.lineage)) c.lineage = NULL;
    const char *mode = lh_op_str(args, "mode");
    if (mode && !lh_commit_mode_parse(mode, &c.mode)) return lh_err_set(err, LH_EINTERNAL, "mode %s", mode);
    return lh_catalog_commit(app->catalog, lh_op_str(args, "name"), &c, &call->who, out, err);
}

LH_OP_RUN(lh_app_run_catalog_rollback)
{
    return lh_catalog_rollback(app->catalog, lh_op_str(args, "name"), lh_op_int(args, "version", 0),
                               lh_op_str(args, "message"), &call->who, out, err);
}

LH_OP_RUN(lh_app_run_catalog_tombstones)
{
    (void)call;
    json_t *m;
    const char *name = lh_op_str(args, "name");
    lh_code rc = lh_catalog_get(app->catalog, name, 0, &m, err);
    if (rc) return rc;
    json_t *list = json_incref(json_object_get(m, "tombstones"));
    if (!list) list = json_array();
    *out = lh_op_page(list, "tombstones", args);
    json_object_set_new(*out, "dataset", json_string(name));
    json_object_set(*out, "version", json_object_get(m, "version"));
    json_decref(m);
    return LH_OK;
}

LH_OP_RUN(lh_app_run_catalog_tombstone)
{
    return lh_catalog_tombstone(app->catalog, lh_op_str(args, "name"), lh_op_str(args, "key_column"),
                                json_object_get(args, "values"), lh_op_str(args, "reason"), &call->who, out, err);
}

LH_OP_RUN(lh_app_run_catalog_delete)
{
    return lh_catalog_delete(app->catalog, lh_op_str(args, "name"), lh_op_str(args, "reason"), &call->who, out,
                             err);
}

LH_OP_RUN(lh_app_run_catalog_purge)
{
    return lh_catalog_purge(app->catalog, lh_op_bool(args, "dry_run", false), &call->who, out, err);
}

LH_OP_RUN(lh_app_run_catalog_rebuild)
{
    (void)args, (void)call;
    return lh_catalog_rebuild(app->catalog, out, err);
}

/* ---- diff ---- */

static json_t *fields_by_name(const json_t *m)
{
    json_t *byname = json_object();
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(json_object_get(m, "schema"), "fields"), i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        if (name) json_object_set(byname, name, json_object_get(f, "type"));
    }
    return byname;
}

json_t *lh_app_schema_diff(const json_t *from, const json_t *to)
{
    json_t *a = fields_by_name(from), *b = fields_by_name(to);
    json_t *added = json_array(), *removed = json_array(), *changed = json_array();
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(json_object_get(to, "schema"), "fields"), i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        json_t *was = name ? json_object_get(a, name) : NULL;
        if (!name) continue;
        if (!was) json_array_append_new(added, json_pack("{s:s, s:O}", "name", name, "type", json_object_get(f, "type")));
        else if (!json_equal(was, json_object_get(f, "type")))
            json_array_append_new(changed, json_pack("{s:s, s:O, s:O}", "name", name, "from", was, "to",
                                                     json_object_get(f, "type")));
    }
    json_array_foreach(json_object_get(json_object_get(from, "schema"), "fields"), i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        if (name && !json_object_get(b, name))
            json_array_append_new(removed, json_pack("{s:s, s:O}", "name", name, "type", json_object_get(f, "type")));
    }
    json_decref(a);
    json_decref(b);
    return json_pack("{s:o, s:o, s:o}", "added", added, "removed", removed, "changed", changed);
}

static bool integer_type(const char *t)
{
    static const char *const ints[] = {"TINYINT", "UTINYINT", "SMALLINT", "USMALLINT", "INTEGER", "UINTEGER", "BIGINT"};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
        if (!strcmp(t, ints[i])) return true;
    return false;
}

static bool number_type(const char *t)
{
    return integer_type(t) || !strcmp(t, "FLOAT") || !strcmp(t, "DOUBLE") || !strncmp(t, "DECIMAL", 7);
}

/* A type both a and b read into without loss of equality, as ingest widens:
 * integers to BIGINT, numbers to DOUBLE, anything else to VARCHAR. */
static const char *common_type(const char *a, const char *b)
{
    if (integer_type(a) && integer_type(b)) return "BIGINT";
    if (number_type(a) && number_type(b)) return "DOUBLE";
    return "VARCHAR";
}

/* SELECT <columns> FROM dataset_version('<name>', v): the common columns,
 * those whose type changed cast to a type both sides fit (common_type). */
static void side(lh_buf *sql, const char *name, int64_t v, json_t *common)
{
    lh_buf_puts(sql, "SELECT ");
    size_t i;
    json_t *c;
    json_array_foreach(common, i, c) {
        const char *col = json_string_value(json_object_get(c, "name"));
        if (i) lh_buf_puts(sql, ", ");
        const char *as = json_string_value(json_object_get(c, "as"));
        if (as) {
            lh_buf_puts(sql, "CAST(");
            lh_sql_quote_ident(sql, col);
            lh_buf_printf(sql, " AS %s) AS ", as);
        }
        lh_sql_quote_ident(sql, col);
    }
    lh_buf_puts(sql, " FROM dataset_version(");
    lh_sql_quote_literal(sql, name);
    lh_buf_printf(sql, ", %lld)", (long long)v);
}

/* Rows of `plus` that `minus` does not hold (EXCEPT ALL: duplicates count). */
/* How many rows relation holds, and the first limit of them. */
static lh_code count_and_rows(lh_app *app, const char *relation, long long limit, long long *count, json_t **rows,
                              bool *truncated, lh_err *err)
{
    char *sql = lh_xasprintf("SELECT count(*) AS n FROM %s AS d", relation);
    json_t *n;
    lh_code rc = lh_app_query_rows(app, sql, true, 1, &n, NULL, err);
    free(sql);
    if (rc) return rc;
    *count = json_integer_value(json_object_get(json_array_get(n, 0), "n"));
    json_decref(n);
    sql = lh_xasprintf("SELECT * FROM %s AS d", relation);
    rc = lh_app_query_rows(app, sql, true, limit, rows, truncated, err);
    free(sql);
    return rc;
}

static lh_code one_side(lh_app *app, const char *name, int64_t plus, int64_t minus, json_t *common, long long limit,
                        long long *count, json_t **rows, bool *truncated, lh_err *err)
{
    lh_buf diff = {0};
    lh_buf_putc(&diff, '(');
    side(&diff, name, plus, common);
    lh_buf_puts(&diff, " EXCEPT ALL ");
    side(&diff, name, minus, common);
    lh_buf_putc(&diff, ')');
    lh_code rc = count_and_rows(app, diff.data, limit, count, rows, truncated, err);
    lh_buf_free(&diff);
    return rc;
}

/* Every row of version v (as readers see it): the side of a diff with no column in common. */
static lh_code whole_side(lh_app *app, const char *name, int64_t v, long long limit, long long *count, json_t **rows,
                          bool *truncated, lh_err *err)
{
    lh_buf table = {0};
    lh_buf_puts(&table, "dataset_version(");
    lh_sql_quote_literal(&table, name);
    lh_buf_printf(&table, ", %lld)", (long long)v);
    lh_code rc = count_and_rows(app, table.data, limit, count, rows, truncated, err);
    lh_buf_free(&table);
    return rc;
}

LH_OP_RUN(lh_app_run_catalog_diff)
{
    (void)call;
    const char *name = lh_op_str(args, "name");
    json_t *from = NULL, *to = NULL;
    lh_code rc = lh_catalog_get(app->catalog, name, lh_op_int(args, "from", 0), &from, err);
    if (rc == LH_OK) rc = lh_catalog_get(app->catalog, name, lh_op_int(args, "to", 0), &to, err);
    if (rc) {
        json_decref(from);
        return rc;
    }
    int64_t vf = json_integer_value(json_object_get(from, "version")), vt = json_integer_value(json_object_get(to, "version"));
    json_t *schema = lh_app_schema_diff(from, to), *common = json_array(), *types = fields_by_name(from);
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(json_object_get(to, "schema"), "fields"), i, f) {
        const char *col = json_string_value(json_object_get(f, "name"));
        json_t *was = col ? json_object_get(types, col) : NULL;
        const char *now = json_string_value(json_object_get(f, "type"));
        if (!was || !json_is_string(was) || !now) continue;
        json_t *c = json_pack("{s:s}", "name", col);
        if (strcmp(json_string_value(was), now) != 0)
            json_object_set_new(c, "as", json_string(common_type(json_string_value(was), now)));
        json_array_append_new(common, c);
    }
    json_decref(types);
    long long limit = lh_op_int(args, "limit", 20), n_added = 0, n_removed = 0;
    json_t *added = NULL, *removed = NULL;
    bool more_added = false, more_removed = false;
    if (json_array_size(common) == 0) { /* nothing to compare by: every row is new, every old one gone */
        rc = whole_side(app, name, vt, limit, &n_added, &added, &more_added, err);
        if (rc == LH_OK) rc = whole_side(app, name, vf, limit, &n_removed, &removed, &more_removed, err);
    } else {
        rc = one_side(app, name, vt, vf, common, limit, &n_added, &added, &more_added, err);
        if (rc == LH_OK) rc = one_side(app, name, vf, vt, common, limit, &n_removed, &removed, &more_removed, err);
    }
    if (rc == LH_OK) {
        json_t *columns = json_array();
        json_array_foreach(common, i, f) json_array_append(columns, json_object_get(f, "name"));
        *out = json_pack("{s:s, s:I, s:I, s:o, s:o, s:I, s:I, s:O, s:O, s:b}", "dataset", name, "from", (json_int_t)vf,
                         "to", (json_int_t)vt, "schema", schema, "columns", columns, "rows_added", (json_int_t)n_added,
                         "rows_removed", (json_int_t)n_removed, "added", added, "removed", removed, "truncated",
                         more_added || more_removed);
        schema = NULL;
    }
    json_decref(schema);
    json_decref(added);
    json_decref(removed);
    json_decref(common);
    json_decref(from);
    json_decref(to);
    return rc;
}

/* Columns worth faceting: short-valued types (long text and floats rarely repeat). */
static bool facet_type(const char *t)
{
    return !strcmp(t, "VARCHAR") || !strcmp(t, "BOOLEAN") || !strcmp(t, "DATE") || integer_type(t);
}

/* The candidates' approximate distinct counts in the first
 * LH_FACETS_SAMPLE_ROWS rows: {column: n}, new. */
static lh_code sample_distinct(lh_app *app, const char *table, json_t *columns, json_t **counts, lh_err *err)
{
    lh_buf sql = {0};
    lh_buf_puts(&sql, "SELECT ");
    size_t i;
    json_t *c;
    json_array_foreach(columns, i, c) {
        if (i) lh_buf_puts(&sql, ", ");
        lh_buf_puts(&sql, "approx_count_distinct(");
        lh_sql_quote_ident(&sql, json_string_value(c));
        lh_buf_puts(&sql, ") AS ");
        lh_sql_quote_ident(&sql, json_string_value(c));
    }
    lh_buf_printf(&sql, " FROM (SELECT * FROM %s LIMIT %d)", table, LH_FACETS_SAMPLE_ROWS);
    json_t *rows;
    lh_code rc = lh_app_query_rows(app, sql.data, true, 1, &rows, NULL, err);
    lh_buf_free(&sql);
    if (rc) return rc;
    *counts = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return LH_OK;
}

LH_OP_RUN(lh_app_run_catalog_facets)
{
    (void)call;
    const char *name = lh_op_str(args, "name");
    json_t *manifest, *fields, *asked = json_object_get(args, "columns");
    lh_code rc = lh_catalog_get(app->catalog, name, lh_op_int(args, "version", 0), &manifest, err);
    if (rc) return rc;
    int64_t version = json_integer_value(json_object_get(manifest, "version"));
    long long rows = json_integer_value(json_object_get(manifest, "row_count"));
    fields = fields_by_name(manifest);
    json_t *columns = json_array(), *counts = NULL, *facets = json_array();
    size_t i;
    json_t *f;
    lh_buf table = {0};
    lh_buf_puts(&table, "dataset_version(");
    lh_sql_quote_literal(&table, name);
    lh_buf_printf(&table, ", %lld)", (long long)version);
    if (json_array_size(asked)) {
        json_array_foreach(asked, i, f) {
            if (!json_object_get(fields, json_string_value(f))) {
                rc = lh_err_set(err, LH_EINVAL, "%s has no column %s (v%lld)", name, json_string_value(f), (long long)version);
                goto done;
            }
            json_array_append(columns, f);
        }
    } else { /* suggestions: facetable columns that repeat in a sample */
        json_t *candidates = json_array();
        json_array_foreach(json_object_get(json_object_get(manifest, "schema"), "fields"), i, f) {
            const char *type = json_string_value(json_object_get(f, "type"));
            if (type && facet_type(type) && json_array_size(candidates) < 32)
                json_array_append(candidates, json_object_get(f, "name"));
        }
        if (json_array_size(candidates)) rc = sample_distinct(app, table.data, candidates, &counts, err);
        long long sampled = rows < LH_FACETS_SAMPLE_ROWS ? rows : LH_FACETS_SAMPLE_ROWS;
        json_array_foreach(candidates, i, f) {
            long long distinct = json_integer_value(json_object_get(counts, json_string_value(f)));
            if (rc == LH_OK && distinct >= 2 && distinct <= LH_FACETS_SUGGEST_DISTINCT && distinct * 2 <= sampled &&
                json_array_size(columns) < LH_FACETS_SUGGEST)
                json_array_append(columns, f);
        }
        json_decref(candidates);
    }
    long long limit = lh_op_int(args, "limit", 10);
    json_array_foreach(columns, i, f) {
        if (rc) break;
        const char *col = json_string_value(f);
        /* one scan per column: the top values and, over the groups, how many there are */
        lh_buf sql = {0};
        lh_buf_puts(&sql, "SELECT ");
        lh_sql_quote_ident(&sql, col);
        lh_buf_printf(&sql, " AS value, count(*) AS count, count(*) OVER () AS groups FROM %s GROUP BY ALL "
                            "ORDER BY count DESC, value NULLS LAST", table.data);
        json_t *values, *v;
        bool more = false;
        rc = lh_app_query_rows(app, sql.data, true, limit, &values, &more, err);
        lh_buf_free(&sql);
        if (rc) break;
        long long distinct = json_integer_value(json_object_get(json_array_get(values, 0), "groups"));
        size_t j;
        json_array_foreach(values, j, v) json_object_del(v, "groups");
        json_array_append_new(facets, json_pack("{s:s, s:O, s:I, s:o, s:b}", "column", col, "type",
                                                json_object_get(fields, col), "distinct", (json_int_t)distinct,
                                                "values", values, "truncated", more));
    }
    if (rc == LH_OK)
        *out = json_pack("{s:s, s:I, s:O}", "dataset", name, "version", (json_int_t)version, "facets", facets);
done:
    lh_buf_free(&table);
    json_decref(facets);
    json_decref(counts);
    json_decref(columns);
    json_decref(fields);
    json_decref(manifest);
    return rc;
}
