/*
 * test_app.c — the operation table (src/app/ops.c) and the routes over it
 * (src/api/routes.c): argument checking and typing, enum choices against
 * their modules' parsers, cursors and pages, the OpenAPI document, and
 * operations run through a whole application.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define APP_FIXTURE_SETTINGS {"ai.provider", "hash", "test"}
#include "app_fixture.h"

#include "lakehouse/lh_api.h"
#include "lakehouse/lh_fusion.h"
#include "lakehouse/lh_hnsw.h"
#include "lakehouse/lh_trials.h"

#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static lh_code check(const char *op, const char *json, lh_err *err)
{
    json_t *args = json_loads(json, 0, NULL);
    assert_non_null(args);
    lh_code rc = lh_op_check(lh_op_find(op), args, err);
    json_decref(args);
    return rc;
}

static void test_check_arguments(void **state)
{
    (void)state;
    lh_err err;
    assert_int_equal(check("catalog.commit", "{\"name\":\"a\",\"objects\":[]}", &err), LH_OK);
    assert_int_equal(check("catalog.commit", "{\"name\":\"a\",\"objects\":[],\"colour\":1}", &err), LH_EINVAL);
    assert_string_equal(err.message, "unknown field \"colour\" (catalog.commit takes: name, mode, objects, schema, "
                                     "lineage, message, expected_parent)");
    assert_int_equal(check("catalog.commit", "{\"name\":\"a\"}", &err), LH_EINVAL);
    assert_string_equal(err.message, "\"objects\" is required");
    assert_int_equal(check("catalog.commit", "{\"name\":\"a\",\"objects\":[],\"mode\":\"upsert\"}", &err), LH_EINVAL);
    assert_string_equal(err.message, "\"mode\" must be one of append, replace, not \"upsert\"");
    assert_int_equal(check("catalog.commit", "{\"name\":\"a\",\"objects\":{}}", &err), LH_EINVAL);
    assert_int_equal(check("catalog.commit", "{\"name\":7,\"objects\":[]}", &err), LH_EINVAL);
    assert_string_equal(err.message, "\"name\" must be a string");
    /* null is absent */
    assert_int_equal(check("catalog.commit", "{\"name\":\"a\",\"objects\":[],\"mode\":null}", &err), LH_OK);
    /* limits are the library's constants */
    assert_int_equal(check("index.search", "{\"name\":\"i\",\"vector\":[1],\"k\":1000}", &err), LH_OK);
    assert_int_equal(check("index.search", "{\"name\":\"i\",\"vector\":[1],\"k\":1001}", &err), LH_EINVAL);
    assert_string_equal(err.message, "\"k\" must be an integer in 1..1000");
    assert_int_equal(check("index.search", "{\"name\":\"i\",\"vector\":[1],\"ef\":10001}", &err), LH_EINVAL);
    assert_int_equal(check("index.search", "{\"name\":\"i\",\"vector\":[1, \"x\"]}", &err), LH_EINVAL);
    assert_int_equal(check("index.search", "{\"name\":\"i\",\"vector\":[]}", &err), LH_EINVAL);
    assert_int_equal(check("ask", "{\"question\":\"q\",\"k\":51}", &err), LH_EINVAL);
    assert_int_equal(check("search", "{\"index\":\"i\",\"query\":\"q\",\"weight\":1.5}", &err), LH_EINVAL);
    /* lists take limit and cursor; others do not */
    assert_int_equal(check("catalog.list", "{\"limit\":5}", &err), LH_OK);
    assert_int_equal(check("catalog.list", "{\"limit\":0}", &err), LH_EINVAL);
    assert_int_equal(check("catalog.list", "{\"limit\":10001}", &err), LH_EINVAL);
    assert_int_equal(check("catalog.list", "{\"cursor\":\"nonsense\"}", &err), LH_EINVAL);
    assert_int_equal(check("catalog.show", "{\"name\":\"a\",\"limit\":5}", &err), LH_EINVAL);
    assert_int_equal(check("catalog.list", "[]", &err), LH_EINVAL);
}

static void test_text_arguments(void **state)
{
    (void)state;
    const lh_op *op = lh_op_find("index.create");
    json_t *args = json_object();
    lh_err err;
    assert_int_equal(lh_op_set_text(op, args, "M", "32", &err), LH_OK);
    assert_int_equal(lh_op_set_text(op, args, "M", "33", &err), LH_EINVAL);
    assert_string_equal(err.message, "\"M\" is given twice");
    assert_int_equal(lh_op_set_text(op, args, "ef_search", "12x", &err), LH_EINVAL);
    assert_string_equal(err.message, "\"ef_search\" must be an integer, not \"12x\"");
    assert_int_equal(lh_op_set_text(op, args, "weight", "0.25", &err), LH_OK);
    assert_int_equal(lh_op_set_text(op, args, "promote", "", &err), LH_OK); /* a bare flag */
    assert_int_equal(lh_op_set_text(op, args, "text_columns", "a,b", &err), LH_OK);
    assert_int_equal(lh_op_set_text(op, args, "text_columns", "c", &err), LH_OK); /* repeated: appended */
    assert_int_equal(lh_op_set_text(op, args, "name", "\xff\xfe", &err), LH_EINVAL);
    assert_string_equal(err.message, "\"name\" must be valid UTF-8 text");
    assert_int_equal(lh_op_set_text(op, args, "colour", "red", &err), LH_EINVAL);
    json_t *want = json_loads("{\"M\":32,\"weight\":0.25,\"promote\":true,\"text_columns\":[\"a\",\"b\",\"c\"]}", 0, NULL);
    assert_true(json_equal(args, want));
    json_decref(want);
    json_decref(args);

    args = json_object();
    op = lh_op_find("catalog.commit");
    assert_int_equal(lh_op_set_text(op, args, "objects", "[{\"key\":1}]", &err), LH_OK);
    assert_int_equal(lh_op_set_text(op, args, "schema", "[1,", &err), LH_EINVAL);
    assert_int_equal(lh_op_set_text(lh_op_find("catalog.purge"), args, "dry_run", "maybe", &err), LH_EINVAL);
    json_decref(args);
}

static void test_choices_match_parsers(void **state)
{
    (void)state;
    for (const char *const *c = lh_op_choices_commit_mode; *c; c++) {
        lh_commit_mode m;
        assert_true(lh_commit_mode_parse(*c, &m));
    }
    lh_commit_mode m;
    assert_false(lh_commit_mode_parse("upsert", &m));
    for (const char *const *c = lh_op_choices_metric; *c; c++) {
        lh_metric x;
        assert_true(lh_metric_parse(*c, &x));
        assert_string_equal(lh_metric_name(x), *c);
    }
    for (const char *const *c = lh_op_choices_quantization; *c; c++) {
        lh_quant q;
        assert_true(lh_quant_parse(*c, &q));
    }
    for (const char *const *c = lh_op_choices_search_mode; *c; c++) {
        lh_search_mode s;
        assert_true(lh_search_mode_parse(*c, &s));
    }
    lh_search_mode s;
    assert_false(lh_search_mode_parse("fuzzy", &s));
    for (const char *const *c = lh_op_choices_fusion; *c; c++) {
        lh_fusion f;
        assert_true(lh_fusion_parse(*c, &f));
        assert_string_equal(lh_fusion_name(f), *c);
    }
    for (const char *const *c = lh_op_choices_sql_format; *c; c++) {
        lh_result_format f;
        assert_true(!strcmp(*c, "parquet") || lh_result_format_parse(*c, &f));
    }
}

static void test_cursors_and_pages(void **state)
{
    (void)state;
    char *c = lh_op_cursor_encode("after", "datasets/a b/ü");
    assert_null(strpbrk(c, "+/="));
    char *v = lh_op_cursor_decode(c, "after");
    assert_string_equal(v, "datasets/a b/ü");
    free(v);
    assert_null(lh_op_cursor_decode(c, "offset")); /* another kind */
    free(c);
    assert_null(lh_op_cursor_decode("", "offset"));
    assert_null(lh_op_cursor_decode("!!!!", "offset"));
    assert_null(lh_op_cursor_decode("b2Zmc2V0", "offset")); /* "offset" without ':' */

    json_t *items = json_array();
    for (int i = 0; i < 5; i++) json_array_append_new(items, json_integer(i));
    json_t *args = json_pack("{s:i}", "limit", 2);
    json_t *page = lh_op_page(json_incref(items), "xs", args);
    assert_int_equal(json_array_size(json_object_get(page, "xs")), 2);
    const char *next = json_string_value(json_object_get(page, "next"));
    assert_non_null(next);
    json_object_set_new(args, "cursor", json_string(next));
    json_t *page2 = lh_op_page(json_incref(items), "xs", args);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(page2, "xs"), 0)), 2);
    json_object_set_new(args, "cursor", json_string(json_string_value(json_object_get(page2, "next"))));
    json_t *page3 = lh_op_page(json_incref(items), "xs", args);
    assert_int_equal(json_array_size(json_object_get(page3, "xs")), 1);
    assert_null(json_object_get(page3, "next")); /* the last page */
    json_decref(page);
    json_decref(page2);
    json_decref(page3);
    json_decref(args);
    json_decref(items);
}

static void test_routes_and_openapi(void **state)
{
    (void)state;
    size_t n;
    const lh_api_route *routes = lh_api_routes(&n);
    json_t *doc = lh_api_openapi();
    json_t *paths = json_object_get(doc, "paths");
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
    for (size_t i = 0; i < n; i++) {
        const lh_op *op = routes[i].op ? lh_op_find(routes[i].op) : NULL;
        if (routes[i].op) assert_non_null(op);
        char method[8];
        size_t k = 0;
        for (; routes[i].method[k]; k++) method[k] = (char)(routes[i].method[k] | 0x20);
        method[k] = '\0';
        json_t *o = json_object_get(json_object_get(paths, routes[i].path), method);
        assert_non_null(o);
        assert_non_null(json_object_get(json_object_get(o, "responses"), "400"));
        /* every {x} of the path is a parameter of the operation and in the document */
        for (const char *p = strchr(routes[i].path, '{'); p; p = strchr(p + 1, '{')) {
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(strchr(p, '}') - p - 1), p + 1);
            bool declared = false;
            for (const lh_op_param *q = op->params; q->name; q++) declared |= !strcmp(q->name, name);
            assert_true(declared);
            bool documented = false;
            size_t j;
            json_t *x;
            json_array_foreach(json_object_get(o, "parameters"), j, x) documented |=
                !strcmp(json_string_value(json_object_get(x, "name")), name) &&
                !strcmp(json_string_value(json_object_get(x, "in")), "path");
            assert_true(documented);
        }
    }
    /* a JSON body's fields are the operation's parameters, and nothing else */
    json_t *commit = json_object_get(json_object_get(paths, "/v1/catalog/datasets/{name}/commits"), "post");
    json_t *schema = json_object_get(
        json_object_get(json_object_get(json_object_get(commit, "requestBody"), "content"), "application/json"),
        "schema");
    assert_true(json_is_false(json_object_get(schema, "additionalProperties")));
    assert_non_null(json_object_get(json_object_get(schema, "properties"), "mode"));
    assert_null(json_object_get(json_object_get(schema, "properties"), "name")); /* in the path */
    json_t *list = json_object_get(json_object_get(paths, "/v1/catalog/datasets"), "get");
    assert_int_equal(json_array_size(json_object_get(list, "parameters")), 3); /* include_deleted, limit, cursor */
    json_decref(doc);
}

static void test_operations_through_the_app(void **state)
{
    struct fixture *f = *state;
    lh_op_ctx call = {.who = tester};
    json_t *out, *args;
    lh_err err;
    for (int i = 0; i < 3; i++) {
        char name[8];
        snprintf(name, sizeof name, "d%d", i);
        args = json_pack("{s:s}", "name", name);
        assert_int_equal(lh_app_call(f->app, "catalog.create", args, &call, &out, &err), LH_OK);
        json_decref(out);
        json_decref(args);
    }
    args = json_pack("{s:i}", "limit", 2);
    assert_int_equal(lh_app_call(f->app, "catalog.list", args, &call, &out, &err), LH_OK);
    assert_int_equal(json_array_size(json_object_get(out, "datasets")), 2);
    json_object_set(args, "cursor", json_object_get(out, "next"));
    json_decref(out);
    assert_int_equal(lh_app_call(f->app, "catalog.list", args, &call, &out, &err), LH_OK);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(out, "datasets"), 0), "name")),
                        "d2");
    assert_null(json_object_get(out, "next"));
    json_decref(out);
    json_decref(args);

    /* raw writes: refused under managed prefixes and on their bare names */
    static const char *const refused[] = {"_errors", "_catalog", "datasets", "datasets/x/y", "_journal/a", "_tmp/x"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        args = json_pack("{s:s, s:s}", "bucket", "local", "key", refused[i]);
        assert_int_equal(lh_app_object_put(f->app, args, "x", 1, NULL, &call, &out, &err), LH_EFORBIDDEN);
        assert_int_equal(lh_app_call(f->app, "storage.delete", args, &call, &out, &err), LH_EFORBIDDEN);
        json_decref(args);
    }
    args = json_pack("{s:s, s:s}", "bucket", "local", "key", "raw/datasets.txt");
    assert_int_equal(lh_app_object_put(f->app, args, "x", 1, NULL, &call, &out, &err), LH_OK);
    json_decref(out);
    json_decref(args);
    /* objects page by key */
    args = json_pack("{s:s, s:s, s:i}", "bucket", "local", "prefix", "_catalog/names/", "limit", 2);
    assert_int_equal(lh_app_call(f->app, "storage.objects", args, &call, &out, &err), LH_OK);
    assert_int_equal(json_array_size(json_object_get(out, "objects")), 2);
    json_object_set(args, "cursor", json_object_get(out, "next"));
    json_decref(out);
    assert_int_equal(lh_app_call(f->app, "storage.objects", args, &call, &out, &err), LH_OK);
    assert_int_equal(json_array_size(json_object_get(out, "objects")), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(out, "objects"), 0), "key")),
                        "_catalog/names/d2");
    json_decref(out);
    json_decref(args);
    /* an unknown operation, and one that does not answer JSON */
    assert_int_equal(lh_app_call(f->app, "catalog.frobnicate", NULL, &call, &out, &err), LH_ENOTFOUND);
    assert_int_equal(lh_app_call(f->app, "storage.get", NULL, &call, &out, &err), LH_EUNSUPPORTED);
    /* the SQL policy: a JSON answer with the elapsed time */
    args = json_pack("{s:s}", "sql", "SELECT 0.1 AS x");
    assert_int_equal(lh_app_call(f->app, "sql", args, &call, &out, &err), LH_OK);
    assert_non_null(json_object_get(out, "elapsed_ms"));
    json_decref(out);
    json_decref(args);
}

/* lh_app_call that must succeed; the answer (new). */
static json_t *ok_call(struct fixture *f, const lh_op_ctx *call, const char *op, const char *json)
{
    json_t *args = json_loads(json, 0, NULL), *out = NULL;
    lh_err err;
    if (lh_app_call(f->app, op, args, call, &out, &err)) fail_msg("%s %s: %s", op, json, err.message);
    json_decref(args);
    return out;
}

static lh_code failed_call(struct fixture *f, const char *op, const char *json, lh_err *err)
{
    lh_op_ctx call = {.who = tester};
    json_t *args = json_loads(json, 0, NULL), *out = NULL;
    lh_code rc = lh_app_call(f->app, op, args, &call, &out, err);
    json_decref(args);
    json_decref(out);
    return rc;
}

static void test_facets(void **state)
{
    struct fixture *f = *state;
    lh_op_ctx call = {.who = tester};
    /* 12 rows: city repeats (3 values, one null), id is unique, score is a float */
    app_ingest_csv(f, "people", "id,city,score,active\n1,Oslo,0.5,true\n2,Oslo,1.5,false\n3,Rome,2.5,true\n"
                                "4,Oslo,3.5,true\n5,Rome,4.5,false\n6,,5.5,true\n7,Oslo,6.5,true\n8,Lima,7.5,true\n"
                                "9,Oslo,8.5,false\n10,Rome,9.5,true\n11,Oslo,1.0,true\n12,,2.0,true\n");
    json_t *out = ok_call(f, &call, "catalog.facets", "{\"name\":\"people\"}");
    json_t *facets = json_object_get(out, "facets");
    /* suggested: repeating short-valued columns, not the unique id nor the float */
    assert_int_equal(json_array_size(facets), 2);
    json_t *city = json_array_get(facets, 0);
    assert_string_equal(json_string_value(json_object_get(city, "column")), "city");
    json_t *top = json_array_get(json_object_get(city, "values"), 0);
    assert_string_equal(json_string_value(json_object_get(top, "value")), "Oslo");
    assert_int_equal(json_integer_value(json_object_get(top, "count")), 6);
    json_t *values = json_object_get(city, "values"); /* Oslo 6, Rome 3, null 2, Lima 1 */
    assert_int_equal(json_array_size(values), 4);
    assert_true(json_is_null(json_object_get(json_array_get(values, 2), "value")));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(values, 2), "count")), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(facets, 1), "column")), "active");
    json_decref(out);
    /* asked for: any column, capped values, truncated said */
    out = ok_call(f, &call, "catalog.facets", "{\"name\":\"people\",\"columns\":[\"id\"],\"limit\":3}");
    city = json_array_get(json_object_get(out, "facets"), 0);
    assert_int_equal(json_array_size(json_object_get(city, "values")), 3);
    assert_true(json_is_true(json_object_get(city, "truncated")));
    json_decref(out);
    lh_err err;
    assert_int_equal(failed_call(f, "catalog.facets", "{\"name\":\"people\",\"columns\":[\"nope\"]}", &err), LH_EINVAL);
    assert_non_null(strstr(err.message, "no column nope"));
    assert_int_equal(failed_call(f, "catalog.facets", "{\"name\":\"people\",\"limit\":0}", &err), LH_EINVAL);
    assert_int_equal(failed_call(f, "catalog.facets", "{\"name\":\"nobody\"}", &err), LH_ENOTFOUND);
    /* a column name that needs quoting, and tombstoned rows left out */
    app_ingest_csv(f, "odd", "\"a \"\"b\"\"\",k\nx,1\nx,2\ny,3\nx,4\n");
    out = ok_call(f, &call, "catalog.tombstone", "{\"name\":\"odd\",\"key_column\":\"k\",\"values\":[\"1\",\"2\"]}");
    json_decref(out);
    out = ok_call(f, &call, "catalog.facets", "{\"name\":\"odd\",\"columns\":[\"a \\\"b\\\"\"]}");
    top = json_array_get(json_object_get(json_array_get(json_object_get(out, "facets"), 0), "values"), 0);
    assert_int_equal(json_integer_value(json_object_get(top, "count")), 1);
    json_decref(out);
}

static void test_sql_history(void **state)
{
    struct fixture *f = *state;
    lh_op_ctx local = {.who = tester}, bot = {.who = tester};
    json_t *out = ok_call(f, &local, "profiles.create", "{\"id\":\"bot\",\"kind\":\"agent\",\"scopes\":[\"read\"]}");
    json_decref(out);
    lh_err err;
    assert_int_equal(lh_app_act_as(f->app, "bot", &bot.who, &err), LH_OK);
    static const char *const mine[] = {"SELECT 1", "SELECT 2", "SELECT 1"};
    for (size_t i = 0; i < 3; i++) {
        char json[64];
        snprintf(json, sizeof json, "{\"sql\":\"%s\"}", mine[i]);
        json_decref(ok_call(f, &local, "sql", json));
    }
    json_decref(ok_call(f, &bot, "sql", "{\"sql\":\"SELECT 42\"}"));
    /* a failed statement is not kept */
    json_t *args = json_pack("{s:s}", "sql", "SELEC 3");
    assert_int_equal(lh_app_call(f->app, "sql", args, &local, &out, &err), LH_EINVAL);
    json_decref(args);
    /* newest first, one entry per text, each caller its own */
    out = ok_call(f, &local, "sql.history", "{}");
    json_t *list = json_object_get(out, "statements");
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "sql")), "SELECT 1");
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "sql")), "SELECT 2");
    json_decref(out);
    out = ok_call(f, &bot, "sql.history", "{\"limit\":5}");
    list = json_object_get(out, "statements");
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "sql")), "SELECT 42");
    json_decref(out);
    /* the ring wraps: the oldest go, memory stays bounded */
    for (int i = 0; i < LH_SQL_HISTORY_SLOTS + 10; i++) {
        char json[64];
        snprintf(json, sizeof json, "{\"sql\":\"SELECT %d\"}", 1000 + i);
        json_decref(ok_call(f, &bot, "sql", json));
    }
    out = ok_call(f, &local, "sql.history", "{}");
    assert_int_equal(json_array_size(json_object_get(out, "statements")), 0);
    json_decref(out);
    out = ok_call(f, &bot, "sql.history", "{\"limit\":1000}");
    list = json_object_get(out, "statements");
    assert_int_equal(json_array_size(list), LH_SQL_HISTORY_PER_CALLER);
    char want[32];
    snprintf(want, sizeof want, "SELECT %d", 1000 + LH_SQL_HISTORY_SLOTS + 9);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "sql")), want);
    json_decref(out);
}

static void test_journal_filters(void **state)
{
    struct fixture *f = *state;
    lh_op_ctx call = {.who = tester};
    json_decref(ok_call(f, &call, "catalog.create", "{\"name\":\"alpha\"}"));
    json_decref(ok_call(f, &call, "catalog.create", "{\"name\":\"beta\"}"));
    json_decref(ok_call(f, &call, "catalog.delete", "{\"name\":\"beta\"}"));
    json_t *out = ok_call(f, &call, "journal.recent", "{\"entity_type\":\"dataset\",\"action\":\"create\"}");
    json_t *events = json_object_get(out, "events");
    assert_int_equal(json_array_size(events), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(events, 0), "entity_id")), "beta");
    json_decref(out);
    out = ok_call(f, &call, "journal.recent", "{\"entity_id\":\"et\",\"limit\":1}");
    events = json_object_get(out, "events");
    assert_int_equal(json_array_size(events), 1); /* beta's delete, then a next page */
    assert_string_equal(json_string_value(json_object_get(json_array_get(events, 0), "action")), "delete");
    assert_non_null(json_object_get(out, "next"));
    json_decref(out);
    out = ok_call(f, &call, "journal.recent", "{\"actor\":\"nobody\"}");
    assert_int_equal(json_array_size(json_object_get(out, "events")), 0);
    json_decref(out);
}

/* The watch's verdict, to the figure: recall under the target, recall under
 * the trial's by more than the drop, latency over twice the trial's and by
 * more than a millisecond (sub-ms swings are noise). */
static void test_trials_regressed(void **state)
{
    (void)state;
    char why[200];
    assert_false(lh_trials_regressed(3, 0.99, 0.5, 0.99, true, 0.995, 0.4, why, sizeof why));
    assert_true(lh_trials_regressed(3, 0.989, 0.5, 0.99, false, 0, 0, why, sizeof why));
    assert_string_equal(why, "recall@10 0.989 of version 3 is under the index's target (target 0.990)");
    assert_true(lh_trials_regressed(3, 0.95, 0.5, 0.9, true, 0.975, 0.5, why, sizeof why));
    assert_string_equal(why, "recall@10 0.950 of version 3 is under its trial's 0.975 by more than 0.02");
    assert_false(lh_trials_regressed(3, 0.956, 0.5, 0.9, true, 0.975, 0.5, why, sizeof why)); /* within the drop */
    assert_false(lh_trials_regressed(3, 0.97, 0.9, 0.9, true, 0.97, 0.3, why, sizeof why));   /* 3x, +0.6 ms: noise */
    assert_false(lh_trials_regressed(3, 0.97, 2.5, 0.9, true, 0.97, 1.3, why, sizeof why));   /* +1.2 ms, < 2x */
    assert_true(lh_trials_regressed(3, 0.97, 3.0, 0.9, true, 0.97, 1.4, why, sizeof why));
    assert_string_equal(why, "p50 3.000 ms of version 3 is over 2.0 x its trial's 1.400 ms");
    assert_false(lh_trials_regressed(3, 0.97, 30.0, 0.9, false, 0, 0, why, sizeof why)); /* no trial: no latency verdict */
}

/* The SQL engine opens on first use (an ingest needs none), once, whichever
 * threads ask at the same time; every caller gets that one engine. */
static void *ask_sql_engine(void *arg)
{
    lh_err err;
    return lh_app_sql_engine(arg, &err);
}

static void test_sql_engine_on_first_use(void **state)
{
    struct fixture *f = *state;
    app_ingest_csv(f, "early", "id\n1\n2\n");
    char *spill = lh_xasprintf("%s/data/_spill/sql-%d", f->dir, (int)getpid());
    struct stat st;
    assert_int_not_equal(stat(spill, &st), 0); /* DuckDB's SQL spill folder: made when the engine opens */
    pthread_t t[4];
    void *got[4];
    for (int i = 0; i < 4; i++) assert_int_equal(pthread_create(&t[i], NULL, ask_sql_engine, f->app), 0);
    for (int i = 0; i < 4; i++) pthread_join(t[i], &got[i]);
    assert_non_null(got[0]);
    for (int i = 1; i < 4; i++) assert_ptr_equal(got[i], got[0]);
    assert_int_equal(stat(spill, &st), 0);
    lh_query_args args = {.sql = "SELECT sum(id) AS s FROM early", .timeout_ms = 5000, .read_only = true};
    lh_query_cursor *cur;
    lh_err err;
    assert_int_equal(lh_query_open(got[0], &args, &cur, &err), LH_OK); /* the datasets are its tables */
    lh_query_close(cur);
    free(spill);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_arguments),
        cmocka_unit_test(test_text_arguments),
        cmocka_unit_test(test_choices_match_parsers),
        cmocka_unit_test(test_cursors_and_pages),
        cmocka_unit_test(test_routes_and_openapi),
        cmocka_unit_test_setup_teardown(test_operations_through_the_app, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_facets, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_sql_history, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_journal_filters, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_sql_engine_on_first_use, app_setup, app_teardown),
        cmocka_unit_test(test_trials_regressed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
