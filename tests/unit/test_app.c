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

#include <string.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_arguments),
        cmocka_unit_test(test_text_arguments),
        cmocka_unit_test(test_choices_match_parsers),
        cmocka_unit_test(test_cursors_and_pages),
        cmocka_unit_test(test_routes_and_openapi),
        cmocka_unit_test_setup_teardown(test_operations_through_the_app, app_setup, app_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
