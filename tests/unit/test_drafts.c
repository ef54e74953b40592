/*
 * test_drafts.c — write-audit-publish (src/app/drafts.c, and ingest's
 * prepare_only): a draft's rows reach no reader until it is published; it is
 * checked against the dataset as it is now; publishing is a commit on the
 * draft's base version (409 when the dataset moved); only its maker and
 * admins see it; purge keeps an open draft's files and may remove a
 * discarded one's; bad or oversize data fails clearly and leaves nothing.
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

#include <dirent.h>
#include <pthread.h>
#include <string.h>
#include <sys/time.h>

static json_t *call_as(struct fixture *f, const lh_who *who, const char *op, json_t *args,
                       lh_code want, lh_err *err)
{
    lh_op_ctx call = {.who = *who};
    json_t *out = NULL;
    lh_err local;
    if (!err) err = &local;
    lh_code rc = lh_app_call(f->app, op, args, &call, &out, err);
    char *text = args ? json_dumps(args, JSON_COMPACT) : NULL;
    if (rc != want)
        fail_msg("%s %.200s: want %d, got %d: %s", op, text ? text : "", want, rc,
                 rc ? err->message : "ok");
    free(text);
    json_decref(args);
    return out;
}

static json_t *call_ok(struct fixture *f, const char *op, json_t *args)
{
    return call_as(f, &tester, op, args, LH_OK, NULL);
}

/* SELECT count(*) over a table as tester: -1 when the statement fails. */
static long long count_rows(struct fixture *f, const char *table)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) AS n FROM %s", table);
    lh_op_ctx call = {.who = tester};
    json_t *args = json_pack("{s:s}", "sql", sql), *out = NULL;
    lh_err err;
    lh_code rc = lh_app_call(f->app, "sql", args, &call, &out, &err);
    json_decref(args);
    long long n =
        rc ? -1
           : json_integer_value(json_array_get(json_array_get(json_object_get(out, "rows"), 0), 0));
    json_decref(out);
    return n;
}

static json_t *draft(struct fixture *f, const lh_who *who, const char *dataset, const char *data,
                     const char *format, lh_code want, lh_err *err)
{
    json_t *args = json_pack("{s:s, s:s}", "dataset", dataset, "data", data);
    if (format) json_object_set_new(args, "format", json_string(format));
    return call_as(f, who, "drafts.create", args, want, err);
}

static const char *id_of(const json_t *d)
{
    return json_string_value(json_object_get(d, "draft"));
}

static json_t *by_id(const char *id)
{
    return json_pack("{s:s}", "id", id);
}

/* Files under the local bucket's datasets/<name>/data/. */
static size_t data_files(struct fixture *f, const char *dataset)
{
    char *dir = lh_xasprintf("%s/data/local/datasets/%s/data", f->dir, dataset);
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    free(dir);
    return n;
}

static void test_publish_makes_rows_visible(void **state)
{
    struct fixture *f = *state;
    app_ingest_csv(f, "people", "id,name,score\n1,ann,3\n2,bob,4\n");
    json_t *d = draft(f, &tester, "people", "id,name,score\n3,cy,5\n4,dee,\n", "csv", LH_OK, NULL);
    const char *id = id_of(d);
    assert_int_equal(strlen(id), 33);
    assert_int_equal(id[0], 'd');
    assert_string_equal(json_string_value(json_object_get(d, "status")), "open");
    assert_int_equal(json_integer_value(json_object_get(d, "base_version")), 2);
    assert_int_equal(json_integer_value(json_object_get(d, "rows")), 2);
    assert_string_equal(json_string_value(json_object_get(d, "mode")), "append");
    assert_non_null(json_object_get(d, "created_at"));
    /* stored, yet no reader sees it: SQL reads committed versions only */
    assert_int_equal(count_rows(f, "people"), 2);
    json_t *m = call_ok(f, "catalog.show", json_pack("{s:s}", "name", "people"));
    assert_int_equal(json_integer_value(json_object_get(m, "version")), 2);
    json_decref(m);
    /* the draft's files cannot be named by path either */
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM read_parquet('%s/data/local/datasets/people/data/*.parquet')",
             f->dir);
    lh_op_ctx call = {.who = tester};
    json_t *out = NULL, *args = json_pack("{s:s}", "sql", sql);
    lh_err err;
    assert_int_not_equal(lh_app_call(f->app, "sql", args, &call, &out, &err), LH_OK);
    json_decref(args);

    json_t *v = call_ok(f, "drafts.validate", by_id(id));
    assert_true(json_is_true(json_object_get(v, "publishable")));
    assert_int_equal(json_array_size(json_object_get(v, "problems")), 0);
    assert_int_equal(json_integer_value(json_object_get(v, "row_count")), 2);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(v, "null_counts"), "score")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "null_counts"), "id")),
                     0);
    assert_int_equal(json_array_size(json_object_get(v, "preview")), 2);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(v, "preview"), 0), "name")),
                        "cy");
    assert_int_equal(json_array_size(json_object_get(v, "rules")), 0);
    assert_int_equal(json_array_size(json_object_get(json_object_get(v, "schema_diff"), "changed")),
                     0);
    json_decref(v);

    json_t *p = call_ok(f, "drafts.publish",
                        json_pack("{s:s, s:s}", "id", id, "message", "checked by test"));
    assert_string_equal(json_string_value(json_object_get(p, "status")), "published");
    assert_int_equal(json_integer_value(json_object_get(p, "published_version")), 3);
    json_decref(p);
    assert_int_equal(count_rows(f, "people"), 4);
    m = call_ok(f, "catalog.show", json_pack("{s:s}", "name", "people"));
    assert_string_equal(json_string_value(json_object_get(m, "message")), "checked by test");
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "extra"), "draft")),
                        id);
    json_decref(m);
    /* closed: no second publish, gone from the open list, kept in history */
    assert_non_null(strstr(
        json_string_value(json_object_get(v = call_ok(f, "drafts.validate", by_id(id)), "status")),
        "published"));
    assert_false(json_is_true(json_object_get(v, "publishable")));
    json_decref(v);
    call_as(f, &tester, "drafts.publish", by_id(id), LH_ECONFLICT, &err);
    assert_non_null(strstr(err.message, "published already"));
    call_as(f, &tester, "drafts.discard", by_id(id), LH_ECONFLICT, NULL);
    json_t *l = call_ok(f, "drafts.list", NULL);
    assert_int_equal(json_array_size(json_object_get(l, "drafts")), 0);
    json_decref(l);
    l = call_ok(f, "drafts.list", json_pack("{s:b}", "include_closed", 1));
    assert_int_equal(json_array_size(json_object_get(l, "drafts")), 1);
    json_decref(l);
    /* journaled: made and published */
    json_t *h = call_ok(f, "journal.history", json_pack("{s:s}", "entity_id", id));
    json_t *events = json_object_get(h, "events");
    assert_int_equal(json_array_size(events), 2);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(events, 0), "entity_type")), "draft");
    json_decref(h);
    /* the same bytes again: nothing to draft (idempotent ingest) */
    draft(f, &tester, "people", "id,name,score\n3,cy,5\n4,dee,\n", "csv", LH_EEXIST, NULL);
    /* unknown ids */
    call_as(f, &tester, "drafts.validate", by_id("d00000000000000000000000000000000"), LH_ENOTFOUND,
            NULL);
    call_as(f, &tester, "drafts.publish", by_id("../people"), LH_ENOTFOUND, NULL);
    json_decref(d);
}

static void test_conflict_when_the_dataset_moved(void **state)
{
    struct fixture *f = *state;
    app_ingest_csv(f, "people", "id,name,score\n1,ann,3\n");
    json_t *a = draft(f, &tester, "people", "id,name,score\n2,bob,4\n", "csv", LH_OK, NULL);
    json_t *b = draft(f, &tester, "people", "id,name,score\n3,cy,5\n", "csv", LH_OK, NULL);
    json_decref(call_ok(f, "drafts.publish", by_id(id_of(a))));
    json_t *v = call_ok(f, "drafts.validate", by_id(id_of(b)));
    assert_false(json_is_true(json_object_get(v, "publishable")));
    json_t *problem = json_array_get(json_object_get(v, "problems"), 0);
    assert_string_equal(json_string_value(json_object_get(problem, "kind")), "moved");
    assert_int_equal(json_integer_value(json_object_get(problem, "current_version")), 3);
    json_decref(v);
    lh_err err;
    call_as(f, &tester, "drafts.publish", by_id(id_of(b)), LH_ECONFLICT, &err);
    assert_non_null(strstr(err.message, "moved from version 2"));
    assert_non_null(strstr(err.message, "draft again"));
    assert_int_equal(count_rows(f, "people"), 2);
    /* a type change is a problem until allowed */
    json_t *c = draft(f, &tester, "people", "id,name,score\n4,dee,4.5\n", "csv", LH_OK, NULL);
    v = call_ok(f, "drafts.validate", by_id(id_of(c)));
    problem = json_array_get(json_object_get(v, "problems"), 0);
    assert_string_equal(json_string_value(json_object_get(problem, "kind")), "type_change");
    json_t *changed =
        json_array_get(json_object_get(json_object_get(v, "schema_diff"), "changed"), 0);
    assert_string_equal(json_string_value(json_object_get(changed, "to")), "DOUBLE");
    json_decref(v);
    call_as(f, &tester, "drafts.publish", by_id(id_of(c)), LH_ECONFLICT, &err);
    assert_non_null(strstr(err.message, "allow_type_changes"));
    json_decref(call_ok(f, "drafts.publish",
                        json_pack("{s:s, s:b}", "id", id_of(c), "allow_type_changes", 1)));
    assert_int_equal(count_rows(f, "people"), 3);
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

static void test_new_dataset_and_replace(void **state)
{
    struct fixture *f = *state;
    json_t *d = draft(f, &tester, "fresh", "[{\"k\": 1, \"v\": \"a\"}, {\"k\": 2, \"v\": \"b\"}]",
                      "json", LH_OK, NULL);
    assert_int_equal(json_integer_value(json_object_get(d, "base_version")), 0);
    call_as(f, &tester, "catalog.show", json_pack("{s:s}", "name", "fresh"), LH_ENOTFOUND, NULL);
    assert_int_equal(count_rows(f, "fresh"), -1);
    json_t *v = call_ok(f, "drafts.validate", by_id(id_of(d)));
    assert_true(json_is_true(json_object_get(v, "publishable")));
    assert_int_equal(json_array_size(json_object_get(json_object_get(v, "schema_diff"), "added")),
                     2);
    assert_true(json_is_null(json_object_get(v, "current_version")));
    json_decref(v);
    json_decref(call_ok(f, "drafts.publish", by_id(id_of(d))));
    assert_int_equal(count_rows(f, "fresh"), 2);
    json_decref(d);
    /* replace: the version holds the draft's rows only */
    json_t *r =
        call_ok(f, "drafts.create",
                json_pack("{s:s, s:s, s:s, s:s}", "dataset", "fresh", "data",
                          "{\"k\": 9, \"v\": \"z\"}\n", "format", "ndjson", "mode", "replace"));
    assert_string_equal(json_string_value(json_object_get(r, "mode")), "replace");
    json_decref(call_ok(f, "drafts.publish", by_id(id_of(r))));
    assert_int_equal(count_rows(f, "fresh"), 1);
    json_decref(r);
}

static void test_purge_keeps_open_drafts(void **state)
{
    struct fixture *f = *state;
    app_ingest_csv(f, "people", "id,name\n1,ann\n");
    json_t *d = draft(f, &tester, "people", "id,name\n2,bob\n", "csv", LH_OK, NULL);
    assert_int_equal(data_files(f, "people"), 2);
    /* age every data file past purge's grace period */
    char *dir = lh_xasprintf("%s/data/local/datasets/people/data", f->dir);
    DIR *dd = opendir(dir);
    struct dirent *e;
    struct timeval old[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};
    while ((e = readdir(dd))) {
        if (e->d_name[0] == '.') continue;
        char *path = lh_xasprintf("%s/%s", dir, e->d_name);
        assert_int_equal(utimes(path, old), 0);
        free(path);
    }
    closedir(dd);
    free(dir);
    json_t *p = call_ok(f, "catalog.purge", NULL);
    assert_int_equal(json_array_size(json_object_get(p, "removed")), 0);
    json_decref(p);
    assert_int_equal(data_files(f, "people"), 2);
    json_t *x = call_ok(f, "drafts.discard",
                        json_pack("{s:s, s:s}", "id", id_of(d), "reason", "wrong file"));
    assert_string_equal(json_string_value(json_object_get(x, "status")), "discarded");
    assert_string_equal(json_string_value(json_object_get(x, "discard_reason")), "wrong file");
    json_decref(x);
    p = call_ok(f, "catalog.purge", NULL);
    assert_int_equal(json_array_size(json_object_get(p, "removed")), 1);
    json_decref(p);
    assert_int_equal(data_files(f, "people"), 1);
    assert_int_equal(count_rows(f, "people"), 1);
    /* a discarded draft still validates (its files gone): closed, not publishable */
    json_t *v = call_ok(f, "drafts.validate", by_id(id_of(d)));
    assert_false(json_is_true(json_object_get(v, "publishable")));
    assert_int_equal(json_array_size(json_object_get(v, "preview")), 0);
    assert_int_equal(json_integer_value(json_object_get(v, "row_count")), 1);
    json_decref(v);
    lh_err err;
    call_as(f, &tester, "drafts.publish", by_id(id_of(d)), LH_ECONFLICT, &err);
    assert_non_null(strstr(err.message, "discarded"));
    json_decref(d);
}

/* A publish whose commit landed but whose marking of the draft did not (a
 * crash between the two): publishing again marks it, and commits nothing. */
static void test_publish_repairs_a_half_done_publish(void **state)
{
    struct fixture *f = *state;
    app_ingest_csv(f, "people", "id,name\n1,ann\n");
    json_t *d = draft(f, &tester, "people", "id,name\n2,bob\n", "csv", LH_OK, NULL);
    char *path = lh_xasprintf("%s/data/local/_catalog/drafts/%s/v00000001.json", f->dir, id_of(d));
    json_t *record = json_load_file(path, 0, NULL);
    assert_non_null(record);
    free(path);
    json_t *extra = json_pack("{s:s}", "draft", id_of(d)), *m;
    lh_commit c = {.objects = json_object_get(record, "objects"),
                   .schema = json_object_get(record, "schema"),
                   .extra = extra,
                   .message = "half",
                   .expected_parent = 2};
    lh_err err;
    assert_int_equal(lh_catalog_commit(lh_app_catalog(f->app), "people", &c, &tester, &m, &err),
                     LH_OK);
    json_decref(m);
    json_decref(extra);
    json_decref(record);
    json_t *p = call_ok(f, "drafts.publish", by_id(id_of(d)));
    assert_string_equal(json_string_value(json_object_get(p, "status")), "published");
    assert_int_equal(json_integer_value(json_object_get(p, "published_version")), 3);
    json_decref(p);
    m = call_ok(f, "catalog.show", json_pack("{s:s}", "name", "people"));
    assert_int_equal(json_integer_value(json_object_get(m, "version")), 3);
    json_decref(m);
    assert_int_equal(count_rows(f, "people"), 2);
    json_decref(d);
}

static lh_who as_profile(struct fixture *f, const char *id, const char *scopes,
                         const char *datasets)
{
    char *spec = lh_xasprintf("{\"id\":\"%s\",\"kind\":\"agent\",\"scopes\":%s,\"datasets\":%s}",
                              id, scopes, datasets);
    json_decref(call_ok(f, "profiles.create", json_loads(spec, 0, NULL)));
    free(spec);
    json_t *k = call_ok(f, "keys.create", json_pack("{s:s}", "profile", id));
    char *bearer = lh_xasprintf("Bearer %s", json_string_value(json_object_get(k, "key")));
    json_decref(k);
    lh_who who = {.actor = id, .source = "test"};
    lh_err err;
    if (lh_app_authenticate(f->app, bearer, "127.0.0.1", &who, &err))
        fail_msg("authenticate: %s", err.message);
    free(bearer);
    return who;
}

struct racer {
    struct fixture *f;
    const char *id;
    lh_code rc;
    lh_err err;
};

static void *publish_one(void *arg)
{
    struct racer *r = arg;
    lh_op_ctx c = {.who = tester};
    json_t *args = json_pack("{s:s}", "id", r->id), *out = NULL;
    r->rc = lh_app_call(r->f->app, "drafts.publish", args, &c, &out, &r->err);
    json_decref(args);
    json_decref(out);
    return NULL;
}

/* Two drafts on one base published at once: exactly one becomes a version. */
static void test_concurrent_publishers(void **state)
{
    struct fixture *f = *state;
    app_ingest_csv(f, "people", "id,name\n1,ann\n");
    for (int round = 0; round < 3; round++) {
        char one[64], two[64];
        snprintf(one, sizeof one, "id,name\n%d,x\n", 10 + 2 * round);
        snprintf(two, sizeof two, "id,name\n%d,y\n", 11 + 2 * round);
        json_t *a = draft(f, &tester, "people", one, "csv", LH_OK, NULL);
        json_t *b = draft(f, &tester, "people", two, "csv", LH_OK, NULL);
        struct racer r[2] = {{f, id_of(a), 0, {0}}, {f, id_of(b), 0, {0}}};
        pthread_t t[2];
        for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, publish_one, &r[i]);
        for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
        assert_true((r[0].rc == LH_OK) != (r[1].rc == LH_OK));
        assert_int_equal(r[0].rc == LH_OK ? r[1].rc : r[0].rc, LH_ECONFLICT);
        assert_int_equal(count_rows(f, "people"), 2 + round);
        json_decref(a);
        json_decref(b);
    }
}

static void test_only_the_maker_sees_a_draft(void **state)
{
    struct fixture *f = *state;
    app_ingest_csv(f, "people", "id,name\n1,ann\n");
    app_ingest_csv(f, "other", "id,name\n1,ann\n");
    lh_who alice = as_profile(f, "alice", "[\"ingest\",\"read\"]", "[\"people\"]");
    lh_who bob = as_profile(f, "bob", "[\"ingest\",\"read\"]", "[\"people\"]");
    lh_who reader = as_profile(f, "reader", "[\"read\"]", "[\"people\"]");
    json_t *d = draft(f, &alice, "people", "id,name\n2,bob\n", "csv", LH_OK, NULL);
    assert_string_equal(json_string_value(json_object_get(d, "owner")), "alice");
    const char *id = id_of(d);
    /* another profile: no such draft, whatever it tries */
    lh_err err;
    call_as(f, &bob, "drafts.validate", by_id(id), LH_ENOTFOUND, &err);
    assert_non_null(strstr(err.message, "no draft"));
    call_as(f, &bob, "drafts.publish", by_id(id), LH_ENOTFOUND, NULL);
    call_as(f, &bob, "drafts.discard", by_id(id), LH_ENOTFOUND, NULL);
    json_t *l = call_as(f, &bob, "drafts.list", NULL, LH_OK, NULL);
    assert_int_equal(json_array_size(json_object_get(l, "drafts")), 0);
    json_decref(l);
    l = call_as(f, &alice, "drafts.list", NULL, LH_OK, NULL);
    assert_int_equal(json_array_size(json_object_get(l, "drafts")), 1);
    json_decref(l);
    l = call_ok(f, "drafts.list", NULL); /* the local operator is admin */
    assert_int_equal(json_array_size(json_object_get(l, "drafts")), 1);
    json_decref(l);
    /* scope and bindings */
    call_as(f, &reader, "drafts.create",
            json_pack("{s:s, s:s}", "dataset", "people", "data", "id\n5\n"), LH_EFORBIDDEN, NULL);
    call_as(f, &alice, "drafts.create",
            json_pack("{s:s, s:s}", "dataset", "other", "data", "id\n5\n"), LH_EFORBIDDEN, NULL);
    /* the maker validates and publishes */
    json_t *v = call_as(f, &alice, "drafts.validate", by_id(id), LH_OK, NULL);
    assert_true(json_is_true(json_object_get(v, "publishable")));
    json_decref(v);
    json_decref(call_as(f, &alice, "drafts.publish", by_id(id), LH_OK, NULL));
    assert_int_equal(count_rows(f, "people"), 2);
    json_decref(d);
}

static void test_bad_data_fails_clearly(void **state)
{
    struct fixture *f = *state;
    app_ingest_csv(f, "people", "id,name\n1,ann\n");
    size_t before = data_files(f, "people");
    lh_err err;
    draft(f, &tester, "people", "id,name\n2,\"bob\n", "csv", LH_EINVAL, &err);
    assert_non_null(strstr(err.message, "data.csv"));
    draft(f, &tester, "people", "id,name\n2,bob,extra,more\n3\n", "csv", LH_EINVAL, &err);
    assert_non_null(strstr(err.message, "nothing was ingested"));
    draft(f, &tester, "people", "[{\"id\": 2, \"name\": ", "json", LH_EINVAL, &err);
    assert_non_null(strstr(err.message, "data.json"));
    draft(f, &tester, "people", "", "csv", LH_EINVAL, &err);
    assert_non_null(strstr(err.message, "empty"));
    size_t big = (size_t)LH_DRAFT_MAX_BYTES + 1;
    char *huge = lh_xmalloc(big + 1);
    memset(huge, 'a', big);
    huge[big] = '\0';
    draft(f, &tester, "people", huge, "text", LH_ETOOBIG, &err);
    assert_non_null(strstr(err.message, "at most"));
    free(huge);
    call_as(f, &tester, "drafts.create",
            json_pack("{s:s, s:s, s:s}", "dataset", "people", "data", "x", "format", "pdf"),
            LH_EINVAL, NULL);
    call_as(f, &tester, "drafts.create",
            json_pack("{s:s, s:s}", "dataset", "Bad Name", "data", "id\n1\n"), LH_EINVAL, NULL);
    /* nothing was lost, nothing was left */
    json_t *l = call_ok(f, "drafts.list", json_pack("{s:b}", "include_closed", 1));
    assert_int_equal(json_array_size(json_object_get(l, "drafts")), 0);
    json_decref(l);
    assert_int_equal(data_files(f, "people"), before);
    assert_int_equal(count_rows(f, "people"), 1);
    /* skip_bad_rows keeps the good rows and reports the bad */
    json_t *d = call_ok(f, "drafts.create",
                        json_pack("{s:s, s:s, s:s, s:b}", "dataset", "people", "data",
                                  "id,name\n2,bob\n3,cy,extra\n4,dee\n", "format", "csv",
                                  "skip_bad_rows", 1));
    assert_int_equal(json_integer_value(json_object_get(d, "rows")), 2);
    assert_int_equal(json_array_size(json_object_get(d, "rejects")), 1);
    json_decref(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_publish_makes_rows_visible, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_conflict_when_the_dataset_moved, app_setup,
                                        app_teardown),
        cmocka_unit_test_setup_teardown(test_new_dataset_and_replace, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_purge_keeps_open_drafts, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_publish_repairs_a_half_done_publish, app_setup,
                                        app_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_publishers, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_only_the_maker_sees_a_draft, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_bad_data_fails_clearly, app_setup, app_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
