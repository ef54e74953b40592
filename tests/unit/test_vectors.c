/*
 * test_vectors.c — what src/index/versions.c reads from storage: version
 * manifests and promotion records are untrusted, so every field is checked
 * before use; and two replicas (two applications over one data folder)
 * adding to one index at once: no version or promotion is lost, both logs
 * stay contiguous (the whole service runs end to end in
 * tests/e2e/vectors.test.mjs).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define APP_FIXTURE_SETTINGS {"ai.provider", "hash", "test"}
#include "app_fixture.h"
#include "lakehouse/lh_vectors.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char MANIFEST[] =
    "{\"format\":1,\"index\":\"docs\",\"version\":2,\"parent\":1,\"operation\":\"add\",\"dim\":8,\"metric\":\"l2\","
    "\"params\":{\"M\":16,\"ef_construction\":200,\"ef_search\":64,\"quantization\":\"none\",\"seed\":0},"
    "\"id_type\":\"integer\",\"origin\":null,\"objects\":[{\"bucket\":\"local\",\"key\":\"_vectors/docs/v00000001/e.parquet\","
    "\"size\":10,\"sha256\":\"ab\",\"rows\":5}],\"deleted\":[],\"count\":5,\"labels\":5,"
    "\"file\":{\"bucket\":\"local\",\"key\":\"_vectors/docs/v00000002/i.hnsw\",\"size\":4096,\"sha256\":\"cd\"}}";

static void t_manifest(void **state)
{
    (void)state;
    lh_err err;
    json_t *m = json_loads(MANIFEST, 0, NULL);
    assert_non_null(m);
    assert_int_equal(lh_vectors_manifest_check(m, "docs", 2, &err), LH_OK);
    assert_int_equal(lh_vectors_manifest_check(m, "other", 2, &err), LH_ECORRUPT);
    assert_int_equal(lh_vectors_manifest_check(m, "docs", 3, &err), LH_ECORRUPT);
    assert_non_null(strstr(err.message, "another version"));
    /* each damage is refused with a reason */
    static const struct {
        const char *path, *json;
    } bad[] = {
        {"format", "2"},           {"parent", "2"},          {"parent", "-1"},         {"operation", "7"},
        {"dim", "0"},              {"dim", "20000"},         {"metric", "\"cos\""},    {"params", "[]"},
        {"id_type", "\"float\""},  {"objects", "{}"},        {"deleted", "null"},      {"count", "6"},
        {"labels", "\"5\""},       {"file", "{\"bucket\":\"local\"}"},
        {"objects", "[{\"bucket\":\"local\",\"key\":\"k\",\"size\":-1,\"sha256\":\"x\",\"rows\":1}]"},
        {"objects", "[{\"bucket\":\"local\",\"key\":\"k\",\"size\":1,\"sha256\":\"x\"}]"},
        {"objects", "[7]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *copy = json_deep_copy(m);
        json_object_set_new(copy, bad[i].path, json_loads(bad[i].json, JSON_DECODE_ANY, NULL));
        if (lh_vectors_manifest_check(copy, "docs", 2, &err) != LH_ECORRUPT)
            fail_msg("%s = %s was accepted", bad[i].path, bad[i].json);
        json_decref(copy);
    }
    json_t *copy = json_deep_copy(m);
    json_object_del(json_object_get(copy, "params"), "M");
    assert_int_equal(lh_vectors_manifest_check(copy, "docs", 2, &err), LH_ECORRUPT);
    json_decref(copy);
    json_t *arr = json_array();
    assert_int_equal(lh_vectors_manifest_check(arr, "docs", 2, &err), LH_ECORRUPT);
    json_decref(arr);
    json_decref(m);
}

static void t_promotion(void **state)
{
    (void)state;
    lh_err err;
    json_t *r = json_loads("{\"format\":1,\"index\":\"docs\",\"seq\":3,\"version\":2,\"previous\":1,\"action\":\"rollback\"}",
                           0, NULL);
    assert_int_equal(lh_vectors_promotion_check(r, "docs", 3, &err), LH_OK);
    assert_int_equal(lh_vectors_promotion_check(r, "docs", 4, &err), LH_ECORRUPT);
    json_object_set_new(r, "version", json_integer(0));
    assert_int_equal(lh_vectors_promotion_check(r, "docs", 3, &err), LH_ECORRUPT);
    json_object_set_new(r, "version", json_integer(2));
    json_object_set_new(r, "previous", json_string("1"));
    assert_int_equal(lh_vectors_promotion_check(r, "docs", 3, &err), LH_ECORRUPT);
    json_decref(r);
}

/* Object keys in manifests never reach outside a bucket or the cache. */
static void t_hostile_object_keys(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/lh-vectors-XXXXXX";
    char *dir = mkdtemp(tmpl);
    lh_config cfg;
    lh_config_override o[] = {{"storage.data_dir", dir, "test"}};
    lh_buckets *b;
    lh_err err;
    assert_int_equal(lh_config_load(&cfg, NULL, NULL, o, 1, &err), LH_OK);
    assert_int_equal(lh_buckets_open(&cfg, &b, &err), LH_OK);
    char path[4096], cache[4200];
    snprintf(cache, sizeof cache, "%s/_cache", dir);
    /* a file outside the cache, of the size a hostile manifest would claim */
    char secret[4200];
    snprintf(secret, sizeof secret, "%s/secret", dir);
    FILE *f = fopen(secret, "w");
    fputs("secret", f);
    fclose(f);
    static const char *const keys[] = {"../../secret", "/etc/passwd", "a/../../../secret", "", "a//b"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (lh_buckets_local_file(b, cache, "local", keys[i], 6, path, sizeof path, &err) != LH_EINVAL)
            fail_msg("key \"%s\" was accepted (%s)", keys[i], path);
    assert_int_equal(lh_buckets_local_file(b, cache, "nope", "a", 0, path, sizeof path, &err), LH_ENOTFOUND);
    assert_int_equal(lh_buckets_local_file(b, cache, "local", "_vectors/x/i.hnsw", 0, path, sizeof path, &err), LH_OK);
    assert_non_null(strstr(path, "/local/_vectors/x/i.hnsw")); /* a folder bucket: in place */
    lh_buckets_close(b);
    lh_config_free(&cfg);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- two replicas ---- */

#define ADDS 8

struct replica {
    lh_vectors *v;
    long first; /* ids first .. first + ADDS - 1 */
    int added;
    char error[256];
};

static void *add_rows(void *arg)
{
    struct replica *r = arg;
    for (long i = r->first; i < r->first + ADDS; i++) {
        json_t *rows = json_pack("[{s:I, s:[f, f, f, f]}]", "id", (json_int_t)i, "vector", (double)i, 1.0, 2.0, 3.0);
        lh_vectors_spec spec = {0};
        json_t *m = NULL;
        lh_err err;
        lh_code rc = lh_vectors_add(r->v, "pts", rows, &spec, &tester, &m, &err);
        json_decref(rows);
        json_decref(m);
        if (rc) {
            snprintf(r->error, sizeof r->error, "%s", err.message);
            return NULL;
        }
        r->added++;
    }
    return NULL;
}

/* A second application over the fixture's bucket, with its own data folder
 * (journals, caches): what another replica would be. */
static lh_app *open_replica(struct fixture *f, const char *folder, lh_config *cfg)
{
    char *data = lh_xasprintf("%s/%s", f->dir, folder), *bucket = lh_xasprintf("%s/data/local", f->dir);
    lh_config_override o[] = {{"storage.data_dir", data, "test"},  {"bucket.local.backend", "fs", "test"},
                              {"bucket.local.path", bucket, "test"}, {"journal.flush_ms", "20", "test"},
                              {"ai.provider", "hash", "test"}};
    lh_app *app = NULL;
    lh_err err;
    if (lh_config_load(cfg, NULL, NULL, o, sizeof o / sizeof *o, &err) != LH_OK || lh_app_open(cfg, &app, &err) != LH_OK)
        fail_msg("%s", err.message);
    free(data);
    free(bucket);
    return app;
}

/* The "pts" index over 20 points. */
static void make_points_index(struct fixture *f)
{
    char *path = lh_xasprintf("%s/points.ndjson", f->dir);
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    for (long i = 0; i < 20; i++) fprintf(out, "{\"id\": %ld, \"vec\": [%ld.5, 1, 2, 3]}\n", i, i);
    fclose(out);
    lh_ingest_source src = {.path = path};
    lh_ingest_options o = {.dataset = "points"};
    json_t *m = NULL;
    lh_err err;
    if (lh_ingest(lh_app_ingester(f->app), &src, 1, &o, &tester, &m, &err) != LH_OK) fail_msg("%s", err.message);
    json_decref(m);
    free(path);
    lh_vectors_spec spec = {.dataset = "points", .id_column = "id", .vector_column = "vec"};
    if (lh_vectors_create(lh_app_vectors(f->app), "pts", &spec, &tester, &m, &err) != LH_OK)
        fail_msg("%s", err.message);
    json_decref(m);
}

static void t_replicas_add_at_once(void **state)
{
    struct fixture *f = *state;
    lh_err err;
    make_points_index(f);
    lh_config cfg2;
    lh_app *other = open_replica(f, "data2", &cfg2);
    struct replica r[2] = {{lh_app_vectors(f->app), 1000, 0, ""}, {lh_app_vectors(other), 2000, 0, ""}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, add_rows, &r[i]);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++) {
        if (r[i].error[0]) fail_msg("replica %d: %s", i, r[i].error);
        assert_int_equal(r[i].added, ADDS);
    }
    /* every add is a version and a promotion, numbered without a gap, as
     * either replica sees it */
    for (int i = 0; i < 2; i++) {
        json_t *h;
        assert_int_equal(lh_vectors_history(r[i].v, "pts", &h, &err), LH_OK);
        json_t *versions = json_object_get(h, "versions"), *promotions = json_object_get(h, "promotions");
        assert_int_equal(json_array_size(versions), 1 + 2 * ADDS);
        assert_int_equal(json_array_size(promotions), 1 + 2 * ADDS);
        int adds = 0;
        for (size_t k = 0; k < json_array_size(versions); k++) {
            json_t *v = json_array_get(versions, k);
            assert_int_equal(json_integer_value(json_object_get(v, "version")), (json_int_t)k + 1);
            assert_true(json_integer_value(json_object_get(v, "parent")) < (json_int_t)k + 1);
            adds += !strcmp(json_string_value(json_object_get(v, "operation")), "add");
        }
        assert_int_equal(adds, 2 * ADDS);
        for (size_t k = 0; k < json_array_size(promotions); k++)
            assert_int_equal(json_integer_value(json_object_get(json_array_get(promotions, k), "seq")), (json_int_t)k + 1);
        json_decref(h);
    }
    lh_app_close(other);
    lh_config_free(&cfg2);
}

/* A process new to an index reads its newest version and promotion, not
 * their history: a damaged old one does not keep the index from being listed
 * or searched, and is reported when the history is asked for. */
static void t_history_read_when_asked(void **state)
{
    struct fixture *f = *state;
    lh_err err;
    make_points_index(f);
    for (int i = 0; i < 3; i++) {
        json_t *rows = json_pack("[{s:i, s:[f, f, f, f]}]", "id", 100 + i, "vector", 9.0, 1.0, 2.0, 3.0), *m;
        lh_vectors_spec spec = {0};
        assert_int_equal(lh_vectors_add(lh_app_vectors(f->app), "pts", rows, &spec, &tester, &m, &err), LH_OK);
        json_decref(rows);
        json_decref(m);
    }
    /* version 2 and the second promotion damaged behind the index's back */
    static const char *const damaged[] = {"v00000002.json", "live/p00000002.json"};
    for (int i = 0; i < 2; i++) {
        char *path = lh_xasprintf("%s/data/local/_catalog/indexes/pts/%s", f->dir, damaged[i]);
        FILE *out = fopen(path, "w");
        assert_non_null(out);
        fputs("{\"format\":1,\"ind", out);
        fclose(out);
        free(path);
    }
    lh_config cfg2;
    lh_app *other = open_replica(f, "data2", &cfg2);
    json_t *list, *h;
    assert_int_equal(lh_vectors_list(lh_app_vectors(other), &list, &err), LH_OK);
    assert_int_equal(json_array_size(list), 1);
    json_t *pts = json_array_get(list, 0);
    assert_int_equal(json_integer_value(json_object_get(pts, "versions")), 4);
    assert_int_equal(json_integer_value(json_object_get(pts, "live")), 4);
    assert_int_equal(json_integer_value(json_object_get(pts, "count")), 23);
    json_decref(list);
    const float query[4] = {9, 1, 2, 3};
    json_t *hits;
    assert_int_equal(lh_vectors_search(lh_app_vectors(other), "pts", query, 4, 1, 0, NULL, &hits, &err), LH_OK);
    assert_int_equal(json_integer_value(json_object_get(hits, "version")), 4);
    json_t *hit = json_array_get(json_object_get(hits, "hits"), 0);
    assert_true(json_integer_value(json_object_get(hit, "id")) >= 100);
    assert_true(json_real_value(json_object_get(hit, "distance")) < 1e-6);
    json_decref(hits);
    assert_int_equal(lh_vectors_history(lh_app_vectors(other), "pts", &h, &err), LH_ECORRUPT);
    assert_non_null(strstr(err.message, "v00000002.json"));
    /* the first application read its versions as it wrote them */
    assert_int_equal(lh_vectors_history(lh_app_vectors(f->app), "pts", &h, &err), LH_OK);
    assert_int_equal(json_array_size(json_object_get(h, "versions")), 4);
    json_decref(h);
    lh_app_close(other);
    lh_config_free(&cfg2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_manifest),
        cmocka_unit_test(t_promotion),
        cmocka_unit_test(t_hostile_object_keys),
        cmocka_unit_test_setup_teardown(t_replicas_add_at_once, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(t_history_read_when_asked, app_setup, app_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
