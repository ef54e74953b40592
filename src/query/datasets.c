/*
 * datasets.c — datasets as SQL tables: manifests turned into SELECTs over
 * their Parquet objects, resolved by name when a query mentions them.
 */
#include "lakehouse/lh_log.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_query.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char LH_DATASET_TABLES_INIT_SQL[] =
    "CREATE MACRO dataset_version(dataset, version) AS TABLE "
    "SELECT * FROM query_table(dataset || '@' || CAST(CAST(version AS BIGINT) AS VARCHAR));"
    "CREATE MACRO lh_version(dataset, version) AS TABLE "
    "SELECT * FROM dataset_version(dataset, version)";

struct lh_dataset_tables {
    lh_catalog *catalog;
    lh_buckets *buckets;
    char *cache_dir;
    char **dirs;
    size_t n_dirs;
};

lh_code lh_dataset_tables_new(lh_catalog *catalog, lh_buckets *buckets, const char *cache_dir,
                              lh_dataset_tables **out, lh_err *err)
{
    lh_dataset_tables *t = lh_xcalloc(1, sizeof *t);
    t->catalog = catalog;
    t->buckets = buckets;
    if (mkdir(cache_dir, 0755) != 0 && errno != EEXIST) {
        lh_err_errno(err, LH_EIO, errno, "cannot create the cache folder %s", cache_dir);
        free(t);
        return LH_EIO;
    }
    char *real = realpath(cache_dir, NULL);
    t->cache_dir = real ? real : lh_xstrdup(cache_dir);
    t->dirs = lh_xcalloc(lh_buckets_count(buckets) + 1, sizeof *t->dirs);
    t->dirs[t->n_dirs++] = lh_xstrdup(t->cache_dir);
    for (size_t i = 0; i < lh_buckets_count(buckets); i++) {
        char root[PATH_MAX];
        /* the folder of an fs bucket: the local path of a key, minus the key */
        if (lh_store_local_path(lh_buckets_at(buckets, i), "x", root, sizeof root)) {
            root[strlen(root) - 2] = '\0';
            t->dirs[t->n_dirs++] = lh_xstrdup(root);
        }
    }
    *out = t;
    return LH_OK;
}

void lh_dataset_tables_free(lh_dataset_tables *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n_dirs; i++) free(t->dirs[i]);
    free(t->dirs);
    free(t->cache_dir);
    free(t);
}

size_t lh_dataset_tables_dirs(const lh_dataset_tables *t, const char *const **dirs)
{
    *dirs = (const char *const *)t->dirs;
    return t->n_dirs;
}

/* A type from a manifest goes into SQL text, so it must be a type and
 * nothing more: outside quoted names and literals only [A-Za-z0-9_ ,.:[]()]
 * and non-ASCII letters, parentheses balanced (it cannot close the CAST it
 * sits in), no ';' and no comment. */
static bool type_ok(const char *type)
{
    int depth = 0;
    if (!type || !*type) return false;
    for (const char *p = type; *p; p++) {
        if (*p == '"' || *p == '\'') {
            char q = *p;
            for (p++; *p && !(*p == q && p[1] != q); p++)
                if (*p == q) p++; /* a doubled quote */
            if (!*p) return false;
        } else if (*p == '(') {
            depth++;
        } else if (*p == ')') {
            if (--depth < 0) return false;
        } else if (!strchr(" ,.:[]_", *p) && !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                                              (*p >= '0' && *p <= '9') || (unsigned char)*p >= 0x80)) {
            return false;
        }
    }
    return depth == 0;
}

/* How deep a type nests: the deepest parenthesis plus every '[' (list and
 * array levels), outside quoted names and literals. type is type_ok. */
static int type_depth(const char *type)
{
    int depth = 0, deepest = 0, lists = 0;
    for (const char *p = type; *p; p++) {
        if (*p == '"' || *p == '\'') {
            char q = *p;
            for (p++; *p && !(*p == q && p[1] != q); p++)
                if (*p == q) p++;
        } else if (*p == '(') {
            if (++depth > deepest) deepest = depth;
        } else if (*p == ')') {
            depth--;
        } else if (*p == '[') {
            lists++;
        }
    }
    return deepest + lists;
}

/* The SELECT for manifest m. Every column is cast to the version's schema
 * type (a no-op where the Parquet type is already that), so the result's
 * types are the catalog's, and schema_only — the same columns over no rows,
 * reading nothing — has exactly the types of the real thing (temp views for
 * introspection are bound with it; DuckDB refuses a view whose types change). */
static lh_code manifest_sql(lh_dataset_tables *t, const json_t *m, bool schema_only, lh_buf *sql,
                            lh_err *err)
{
    json_t *fields = json_object_get(json_object_get(m, "schema"), "fields");
    json_t *objects = json_object_get(m, "objects");
    bool empty = schema_only || json_array_size(objects) == 0;
    lh_buf_puts(sql, "SELECT ");
    size_t i;
    json_t *f;
    if (json_array_size(fields) == 0) lh_buf_puts(sql, "CAST(NULL AS INTEGER) AS \"_empty\"");
    json_array_foreach(fields, i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *type = json_string_value(json_object_get(f, "type"));
        if (!type_ok(type))
            return lh_err_set(err, LH_ECORRUPT, "dataset %s v%lld: column %s has an invalid type",
                              json_string_value(json_object_get(m, "dataset")),
                              (long long)json_integer_value(json_object_get(m, "version")), name);
        /* DuckDB binds, casts and prints a nested type in time that grows
         * much faster than its depth (600 levels: a minute, past any deadline) */
        if (type_depth(type) > LH_DATASET_MAX_TYPE_DEPTH)
            return lh_err_set(err, LH_EINVAL,
                              "dataset %s v%lld: column %s is nested %d levels deep; SQL reads at most %d",
                              json_string_value(json_object_get(m, "dataset")),
                              (long long)json_integer_value(json_object_get(m, "version")), name, type_depth(type),
                              LH_DATASET_MAX_TYPE_DEPTH);
        if (i) lh_buf_puts(sql, ", ");
        lh_buf_puts(sql, "CAST(");
        if (empty) lh_buf_puts(sql, "NULL");
        else lh_sql_quote_ident(sql, name);
        lh_buf_printf(sql, " AS %s) AS ", type);
        lh_sql_quote_ident(sql, name);
    }
    if (empty) {
        lh_buf_puts(sql, " WHERE false");
        return LH_OK;
    }
    lh_buf_puts(sql, " FROM read_parquet([");
    json_t *o;
    json_array_foreach(objects, i, o) {
        char path[PATH_MAX];
        lh_code rc = lh_buckets_local_file(t->buckets, t->cache_dir, json_string_value(json_object_get(o, "bucket")),
                                           json_string_value(json_object_get(o, "key")),
                                           (uint64_t)json_integer_value(json_object_get(o, "size")), path,
                                           sizeof path, err);
        if (rc) return rc;
        if (i) lh_buf_puts(sql, ", ");
        lh_sql_quote_literal(sql, path);
    }
    lh_buf_puts(sql, "], union_by_name = true)");
    /* tombstones: WHERE key IS NULL OR CAST(key AS VARCHAR) NOT IN (...), per key column */
    json_t *tombstones = json_object_get(m, "tombstones");
    json_t *columns = json_object();
    json_array_foreach(tombstones, i, o) {
        const char *col = json_string_value(json_object_get(o, "key_column"));
        json_t *list = json_object_get(columns, col);
        if (!list) {
            list = json_array();
            json_object_set_new(columns, col, list);
        }
        json_array_append(list, json_object_get(o, "key_value"));
    }
    const char *col;
    json_t *values;
    bool first = true;
    json_object_foreach(columns, col, values) {
        lh_buf_puts(sql, first ? " WHERE (" : " AND (");
        first = false;
        lh_sql_quote_ident(sql, col);
        lh_buf_puts(sql, " IS NULL OR CAST(");
        lh_sql_quote_ident(sql, col);
        lh_buf_puts(sql, " AS VARCHAR) NOT IN (");
        json_t *v;
        json_array_foreach(values, i, v) {
            if (i) lh_buf_puts(sql, ", ");
            lh_sql_quote_literal(sql, json_string_value(v));
        }
        lh_buf_puts(sql, "))");
    }
    json_decref(columns);
    return LH_OK;
}

lh_code lh_dataset_tables_sql(lh_dataset_tables *t, const json_t *m, lh_buf *sql, lh_err *err)
{
    return manifest_sql(t, m, false, sql, err);
}

lh_code lh_dataset_tables_resolve(void *ctx, const char *name, bool schema_only, lh_buf *sql, lh_err *err)
{
    lh_dataset_tables *t = ctx;
    char dataset[80];
    int64_t version = 0;
    const char *at = strchr(name, '@');
    size_t n = at ? (size_t)(at - name) : strlen(name);
    if (n >= sizeof dataset) return LH_OK; /* not a dataset name: not ours */
    memcpy(dataset, name, n);
    dataset[n] = '\0';
    if (lh_catalog_name_check(dataset, NULL) != LH_OK) return LH_OK;
    if (at) {
        char *end;
        errno = 0;
        long long v = strtoll(at + 1, &end, 10);
        if (!at[1] || *end || errno || v < 1)
            return lh_err_set(err, LH_EINVAL, "\"%s\": a version is a positive number (dataset@N)", name);
        version = v;
    }
    json_t *m;
    lh_code rc = lh_catalog_get(t->catalog, dataset, version, &m, err);
    if (rc == LH_ENOTFOUND && !at) {
        /* not a dataset: let DuckDB say the table does not exist */
        lh_err probe;
        if (lh_catalog_versions(t->catalog, dataset, 1, 1, &m, NULL, &probe) == LH_ENOTFOUND) return LH_OK;
        json_decref(m);
    }
    if (rc == LH_ENOTFOUND && at) return LH_EINVAL; /* the dataset exists; the version does not: say so */
    if (rc) return rc;
    if (json_is_true(json_object_get(m, "deleted")) && !at) {
        json_decref(m);
        return lh_err_set(err, LH_ENOTFOUND,
                          "dataset %s is deleted (its versions stay readable with dataset_version)", dataset);
    }
    rc = manifest_sql(t, m, schema_only, sql, err);
    json_decref(m);
    return rc;
}

lh_code lh_dataset_tables_list(void *ctx, json_t **tables, lh_err *err)
{
    lh_dataset_tables *t = ctx;
    json_t *list;
    lh_code rc = lh_catalog_list(t->catalog, false, &list, err);
    if (rc) return rc;
    *tables = json_array();
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d) {
        const char *name = json_string_value(json_object_get(d, "name"));
        json_t *m;
        lh_err ignored;
        if (lh_catalog_get(t->catalog, name, 0, &m, &ignored)) continue; /* gone meanwhile */
        if (!json_is_true(json_object_get(m, "deleted"))) {
            char *pinned = lh_xasprintf("%s@%lld", name, (long long)json_integer_value(json_object_get(m, "version")));
            json_array_append_new(*tables, json_pack("{s:s, s:s}", "name", name, "table", pinned));
            free(pinned);
        }
        json_decref(m);
    }
    json_decref(list);
    return LH_OK;
}
