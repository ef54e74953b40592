/*
 * test_diff.c — catalog.diff (src/app/catalog_ops.c): rows added and removed
 * between two versions as readers see them (tombstones applied, duplicates
 * counted), schema changes, limits, bad versions; and ai.embed (src/app/ai.c)
 * through the operation table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define APP_FIXTURE_SETTINGS                                                                       \
    {                                                                                              \
        "ai.provider", "hash", "test"                                                              \
    }
#include "app_fixture.h"

#include <math.h>
#include <string.h>

static json_t *call(struct fixture *f, const char *op, json_t *args, lh_code want, lh_err *err)
{
    lh_op_ctx c = {.who = tester};
    json_t *out = NULL;
    lh_err local;
    if (!err) err = &local;
    lh_code rc = lh_app_call(f->app, op, args, &c, &out, err);
    if (rc != want) fail_msg("%s: want %d, got %d: %s", op, want, rc, rc ? err->message : "ok");
    json_decref(args);
    return out;
}

static void ingest(struct fixture *f, const char *dataset, const char *mode, const char *name,
                   const char *text)
{
    char *path = lh_xasprintf("%s/%s", f->dir, name);
    FILE *fp = fopen(path, "w");
    fputs(text, fp);
    fclose(fp);
    json_t *args = json_pack("{s:s, s:s}", "dataset", dataset, "mode", mode), *out = NULL;
    lh_ingest_source src = {.path = path, .name = name};
    lh_op_ctx c = {.who = tester};
    lh_err err;
    if (lh_app_ingest(f->app, args, &src, 1, &c, &out, &err)) fail_msg("ingest: %s", err.message);
    json_decref(out);
    json_decref(args);
    free(path);
}

static json_t *diff(struct fixture *f, const char *name, int from, int to, int limit)
{
    json_t *args = json_pack("{s:s, s:i}", "name", name, "from", from);
    if (to) json_object_set_new(args, "to", json_integer(to));
    if (limit) json_object_set_new(args, "limit", json_integer(limit));
    return call(f, "catalog.diff", args, LH_OK, NULL);
}

static long long num(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

/* The value of column col in each row of list, joined by ','. */
static char *column(const json_t *list, const char *col)
{
    lh_buf b = {0};
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r)
    {
        json_t *v = json_object_get(r, col);
        char *s = json_dumps(v, JSON_ENCODE_ANY);
        lh_buf_printf(&b, "%s%s", i ? "," : "", s);
        free(s);
    }
    return b.data ? lh_buf_detach(&b) : lh_xstrdup("");
}

static void test_appends_replace_and_tombstones(void **state)
{
    struct fixture *f = *state;
    ingest(f, "t", "append", "a.csv", "id,name\n1,ann\n2,bob\n"); /* v2 */
    ingest(f, "t", "append", "b.csv", "id,name\n3,cy\n2,bob\n");  /* v3: a duplicate row too */
    json_t *d = diff(f, "t", 2, 3, 0);
    assert_string_equal(json_string_value(json_object_get(d, "dataset")), "t");
    assert_int_equal(num(d, "from"), 2);
    assert_int_equal(num(d, "to"), 3);
    assert_int_equal(num(d, "rows_added"), 2); /* EXCEPT ALL: the second bob is new */
    assert_int_equal(num(d, "rows_removed"), 0);
    assert_false(json_is_true(json_object_get(d, "truncated")));
    assert_int_equal(json_array_size(json_object_get(json_object_get(d, "schema"), "added")), 0);
    json_decref(d);
    /* "to" defaults to the current version; the other way round swaps the sides */
    d = diff(f, "t", 3, 2, 0);
    assert_int_equal(num(d, "rows_added"), 0);
    assert_int_equal(num(d, "rows_removed"), 2);
    json_decref(d);
    /* a tombstone removes rows as readers see them */
    json_decref(call(f, "catalog.tombstone",
                     json_pack("{s:s, s:s, s:[s]}", "name", "t", "key_column", "id", "values", "1"),
                     LH_OK, NULL)); /* v4 */
    d = diff(f, "t", 3, 0, 0);
    assert_int_equal(num(d, "to"), 4);
    assert_int_equal(num(d, "rows_added"), 0);
    assert_int_equal(num(d, "rows_removed"), 1);
    char *names = column(json_object_get(d, "removed"), "name");
    assert_string_equal(names, "\"ann\"");
    free(names);
    json_decref(d);
    /* replace: what the new file lacks is removed, what it adds is added */
    ingest(f, "t", "replace", "c.csv", "id,name\n3,cy\n4,dee\n"); /* v5 */
    d = diff(f, "t", 4, 5, 0);
    assert_int_equal(num(d, "rows_added"), 1);
    assert_int_equal(num(d, "rows_removed"), 2); /* both bobs */
    names = column(json_object_get(d, "added"), "name");
    assert_string_equal(names, "\"dee\"");
    free(names);
    json_decref(d);
    /* limit: counts stay whole, the rows shown are cut, and it says so */
    d = diff(f, "t", 4, 5, 1);
    assert_int_equal(num(d, "rows_removed"), 2);
    assert_int_equal(json_array_size(json_object_get(d, "removed")), 1);
    assert_true(json_is_true(json_object_get(d, "truncated")));
    json_decref(d);
    /* the same version: nothing */
    d = diff(f, "t", 5, 5, 0);
    assert_int_equal(num(d, "rows_added") + num(d, "rows_removed"), 0);
    json_decref(d);
}

static void test_schema_evolution(void **state)
{
    struct fixture *f = *state;
    ingest(f, "s", "append", "a.csv", "id,score,gone\n1,3,x\n"); /* v2 */
    ingest(f, "s", "append", "b.csv",
           "id,score,city\n2,4.5,york\n"); /* v3: city added, score widened */
    json_t *d = diff(f, "s", 2, 3, 0);
    json_t *schema = json_object_get(d, "schema");
    json_t *added = json_object_get(schema, "added"), *changed = json_object_get(schema, "changed");
    assert_int_equal(json_array_size(added), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(added, 0), "name")),
                        "city");
    assert_int_equal(json_array_size(changed), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(changed, 0), "name")),
                        "score");
    assert_string_equal(json_string_value(json_object_get(json_array_get(changed, 0), "from")),
                        "BIGINT");
    assert_string_equal(json_string_value(json_object_get(json_array_get(changed, 0), "to")),
                        "DOUBLE");
    assert_int_equal(json_array_size(json_object_get(schema, "removed")),
                     0); /* append keeps every column */
    /* rows compare over the common columns (score as DOUBLE on both sides: 3 = 3.0) */
    assert_int_equal(num(d, "rows_added"), 1);
    assert_int_equal(num(d, "rows_removed"), 0);
    assert_null(json_object_get(json_array_get(json_object_get(d, "added"), 0), "city"));
    json_decref(d);
    ingest(f, "s", "replace", "c.csv", "id,city\n2,york\n"); /* v4: score and gone removed */
    d = diff(f, "s", 3, 4, 0);
    assert_int_equal(json_array_size(json_object_get(json_object_get(d, "schema"), "removed")), 2);
    assert_int_equal(num(d, "rows_removed"), 1); /* (1, NULL city) */
    assert_int_equal(num(d, "rows_added"), 0);
    json_decref(d);
}

static void test_bad_versions(void **state)
{
    struct fixture *f = *state;
    ingest(f, "t", "append", "a.csv", "id\n1\n");
    lh_err err;
    call(f, "catalog.diff", json_pack("{s:s, s:i}", "name", "t", "from", 9), LH_ENOTFOUND, &err);
    call(f, "catalog.diff", json_pack("{s:s, s:i, s:i}", "name", "t", "from", 1, "to", 9),
         LH_ENOTFOUND, &err);
    call(f, "catalog.diff", json_pack("{s:s, s:i}", "name", "t", "from", 0), LH_EINVAL, &err);
    assert_non_null(strstr(err.message, "\"from\""));
    call(f, "catalog.diff", json_pack("{s:s}", "name", "t"), LH_EINVAL, &err);
    call(f, "catalog.diff", json_pack("{s:s, s:i, s:i}", "name", "t", "from", 1, "limit", 1001),
         LH_EINVAL, &err);
    call(f, "catalog.diff", json_pack("{s:s, s:i}", "name", "nope", "from", 1), LH_ENOTFOUND, &err);
    /* version 1 (empty) to 2 */
    json_t *d = diff(f, "t", 1, 2, 0);
    assert_int_equal(num(d, "rows_added"), 1);
    assert_int_equal(json_array_size(json_object_get(d, "added")),
                     1); /* no column in common: the rows themselves */
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(json_object_get(d, "added"), 0), "id")),
        1);
    json_decref(d);
}

static void test_embed(void **state)
{
    struct fixture *f = *state;
    json_t *e = call(f, "ai.embed",
                     json_pack("{s:[s, s, s]}", "texts", "red apples", "red apples", "tax law"),
                     LH_OK, NULL);
    assert_string_equal(json_string_value(json_object_get(e, "provider")), "hash");
    int dim = (int)num(e, "dim");
    assert_true(dim > 0);
    json_t *v = json_object_get(e, "vectors");
    assert_int_equal(json_array_size(v), 3);
    assert_int_equal(json_array_size(json_array_get(v, 0)), (size_t)dim);
    assert_true(json_equal(json_array_get(v, 0), json_array_get(v, 1)));
    assert_false(json_equal(json_array_get(v, 0), json_array_get(v, 2)));
    double norm = 0;
    for (int i = 0; i < dim; i++)
        norm += pow(json_number_value(json_array_get(json_array_get(v, 0), (size_t)i)), 2);
    assert_true(fabs(norm - 1) < 1e-3);
    json_decref(e);
    /* a named model */
    e = call(f, "ai.embed",
             json_pack("{s:[s], s:s, s:s}", "texts", "x", "provider", "hash", "model", "hash-64"),
             LH_OK, NULL);
    assert_int_equal(num(e, "dim"), 64);
    json_decref(e);
    /* limits */
    lh_err err;
    call(f, "ai.embed", json_pack("{s:[]}", "texts"), LH_EINVAL, &err);
    json_t *many = json_array();
    for (int i = 0; i < LH_APP_EMBED_MAX_TEXTS + 1; i++)
        json_array_append_new(many, json_string("x"));
    call(f, "ai.embed", json_pack("{s:o}", "texts", many), LH_EINVAL, &err);
    char *big = lh_xmalloc(LH_APP_EMBED_MAX_CHARS + 2);
    memset(big, 'a', LH_APP_EMBED_MAX_CHARS + 1);
    big[LH_APP_EMBED_MAX_CHARS + 1] = '\0';
    call(f, "ai.embed", json_pack("{s:[s]}", "texts", big), LH_EINVAL, &err);
    assert_non_null(strstr(err.message, "characters"));
    free(big);
    call(f, "ai.embed", json_pack("{s:[s], s:s}", "texts", "x", "provider", "nope"), LH_EINVAL,
         &err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_appends_replace_and_tombstones, app_setup,
                                        app_teardown),
        cmocka_unit_test_setup_teardown(test_schema_evolution, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_bad_versions, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_embed, app_setup, app_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
