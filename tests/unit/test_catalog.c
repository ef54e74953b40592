/*
 * test_catalog.c — the catalog in-process (src/catalog/): names, manifest
 * validation, every operation's semantics, concurrent committers (threads, and
 * two catalogs over one store as two processes would be), corrupt and torn
 * version files, purge and rebuild.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lakehouse/lh_catalog.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_sha256.h"

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fixture {
    char *dir;
    lh_config cfg;
    lh_buckets *buckets;
    lh_catalog *cat;
};

static const lh_who alice = {"alice", "test"};
static lh_store *test_store; /* the fixture's default bucket */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    struct fixture *f = lh_xcalloc(1, sizeof *f);
    char tmpl[] = "/tmp/lh-catalog-XXXXXX";
    f->dir = lh_xstrdup(mkdtemp(tmpl));
    lh_config_override o[] = {{"storage.data_dir", f->dir, "test"}};
    lh_err err;
    if (lh_config_load(&f->cfg, NULL, NULL, o, 1, &err) || lh_buckets_open(&f->cfg, &f->buckets, &err) ||
        lh_catalog_open(f->buckets, NULL, &f->cat, &err)) {
        fprintf(stderr, "setup: %s\n", err.message);
        return -1;
    }
    test_store = lh_buckets_default(f->buckets);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    lh_catalog_close(f->cat);
    lh_buckets_close(f->buckets);
    lh_config_free(&f->cfg);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f->dir);
    free(f);
    return 0;
}

/* Stores an object holding its own key and describes it, as commits check. */
static json_t *one_object(const char *key, int rows)
{
    char sha[65];
    lh_sha256_hex(key, strlen(key), sha);
    if (lh_store_put(test_store, key, key, strlen(key), 0, NULL)) fail_msg("put %s", key);
    return json_pack("[{s:s, s:s, s:i, s:s, s:i}]", "bucket", "local", "key", key, "size", (int)strlen(key),
                     "sha256", sha, "rows", rows);
}

static int64_t commit_one(lh_catalog *cat, const char *name, const char *key, int rows, lh_commit_mode mode)
{
    json_t *objects = one_object(key, rows);
    json_t *schema = json_pack("[{s:s, s:s}]", "name", "id", "type", "BIGINT");
    lh_commit c = {.mode = mode, .objects = objects, .schema = schema, .message = key};
    json_t *m;
    lh_err err;
    lh_code rc = lh_catalog_commit(cat, name, &c, &alice, &m, &err);
    json_decref(objects);
    json_decref(schema);
    if (rc) fail_msg("commit %s: %s", key, err.message);
    int64_t v = json_integer_value(json_object_get(m, "version"));
    json_decref(m);
    return v;
}

static void t_names(void **state)
{
    (void)state;
    lh_err err;
    /* "_trials": a system dataset's name (callers cannot write it: lh_app_authorize) */
    const char *good[] = {"a", "workers", "job_orders_2024", "x123", "_trials", "_x"};
    for (size_t i = 0; i < 6; i++) assert_int_equal(lh_catalog_name_check(good[i], &err), LH_OK);
    char long_name[100];
    memset(long_name, 'a', 99);
    long_name[99] = '\0';
    const char *bad[] = {"", "A", "9x", "_", "__x", "_9", "a-b", "a.b", "a/b", "..", "caf\xC3\xA9", "a b", long_name, NULL};
    for (size_t i = 0; bad[i]; i++) {
        if (lh_catalog_name_check(bad[i], &err) != LH_EINVAL) fail_msg("accepted \"%s\"", bad[i]);
    }
    assert_int_equal(lh_catalog_name_check(NULL, &err), LH_EINVAL);
}

static void t_manifest_validation(void **state)
{
    struct fixture *f = *state;
    json_t *m;
    lh_err err;
    assert_int_equal(lh_catalog_create(f->cat, "v", NULL, &alice, &m, &err), LH_OK);
    assert_int_equal(lh_manifest_validate(m, &err), LH_OK);
    struct {
        const char *field;
        json_t *value;
        const char *message;
    } breakages[] = {
        {"format", json_integer(2), "format 2"},
        {"dataset", json_string("../x"), "dataset name"},
        {"version", json_integer(0), "version must be"},
        {"parent", json_integer(5), "parent"},
        {"author", json_integer(1), "\"author\" must be a string"},
        {"objects", json_string("x"), "\"objects\" must be an array"},
        {"objects", json_pack("[{s:s}]", "key", "k"), "needs bucket"},
        {"objects", json_pack("[{s:s, s:s, s:i, s:s, s:i}]", "bucket", "b", "key", "../k", "size", 1, "sha256",
                              "0000000000000000000000000000000000000000000000000000000000000000", "rows", 0),
         "segment"},
        {"row_count", json_integer(7), "row_count"},
        {"tombstones", json_pack("[{s:s}]", "key_column", "id"), "tombstone"},
        {"deleted", json_string("no"), "deleted"},
        {"extra", json_array(), "extra"},
        {"schema", json_pack("{s:[], s:s}", "fields", "fingerprint", "xyz"), "fingerprint"},
    };
    for (size_t i = 0; i < sizeof breakages / sizeof breakages[0]; i++) {
        json_t *copy = json_deep_copy(m);
        json_object_set_new(copy, breakages[i].field, breakages[i].value);
        assert_int_equal(lh_manifest_validate(copy, &err), LH_ECORRUPT);
        if (!strstr(err.message, breakages[i].message))
            fail_msg("breaking %s: message \"%s\" lacks \"%s\"", breakages[i].field, err.message,
                     breakages[i].message);
        json_decref(copy);
    }
    json_t *not_object = json_array();
    assert_int_equal(lh_manifest_validate(not_object, &err), LH_ECORRUPT);
    json_decref(not_object);
    json_decref(m);
}

static void t_lifecycle(void **state)
{
    struct fixture *f = *state;
    lh_err err;
    json_t *m;
    lh_create_options co = {.description = "people"};
    assert_int_equal(lh_catalog_create(f->cat, "workers", &co, &alice, &m, &err), LH_OK);
    assert_int_equal(json_integer_value(json_object_get(m, "version")), 1);
    json_decref(m);
    assert_int_equal(lh_catalog_create(f->cat, "workers", NULL, &alice, &m, &err), LH_EEXIST);
    lh_create_options nowhere = {.bucket = "nowhere"};
    assert_int_equal(lh_catalog_create(f->cat, "elsewhere", &nowhere, &alice, &m, &err), LH_EINVAL);

    assert_int_equal(commit_one(f->cat, "workers", "datasets/workers/data/a", 10, LH_COMMIT_APPEND), 2);
    assert_int_equal(commit_one(f->cat, "workers", "datasets/workers/data/b", 5, LH_COMMIT_APPEND), 3);
    assert_int_equal(lh_catalog_get(f->cat, "workers", 0, &m, &err), LH_OK);
    assert_int_equal(json_integer_value(json_object_get(m, "row_count")), 15);
    assert_string_equal(json_string_value(json_object_get(m, "mode")), "append");
    json_decref(m);
    assert_int_equal(commit_one(f->cat, "workers", "datasets/workers/data/c", 1, LH_COMMIT_REPLACE), 4);
    assert_int_equal(lh_catalog_get(f->cat, "workers", 0, &m, &err), LH_OK);
    assert_int_equal(json_array_size(json_object_get(m, "objects")), 1);
    json_decref(m);

    assert_int_equal(lh_catalog_rollback(f->cat, "workers", 3, NULL, &alice, &m, &err), LH_OK);
    assert_int_equal(json_integer_value(json_object_get(m, "version")), 5);
    assert_int_equal(json_integer_value(json_object_get(m, "row_count")), 15);
    assert_string_equal(json_string_value(json_object_get(m, "message")), "rollback to version 3");
    json_decref(m);
    assert_int_equal(lh_catalog_rollback(f->cat, "workers", 9, NULL, &alice, &m, &err), LH_ENOTFOUND);

    json_t *values = json_pack("[s, i]", "7", 8);
    assert_int_equal(lh_catalog_tombstone(f->cat, "workers", "id", values, "gdpr", &alice, &m, &err), LH_OK);
    assert_int_equal(json_array_size(json_object_get(m, "tombstones")), 2);
    json_decref(m);
    assert_int_equal(lh_catalog_tombstone(f->cat, "workers", "nope", values, NULL, &alice, &m, &err), LH_EINVAL);
    json_decref(values);
    json_t *empty = json_array();
    assert_int_equal(lh_catalog_tombstone(f->cat, "workers", "id", empty, NULL, &alice, &m, &err), LH_EINVAL);
    json_decref(empty);

    assert_int_equal(lh_catalog_delete(f->cat, "workers", "retired", &alice, &m, &err), LH_OK);
    json_decref(m);
    json_t *list;
    assert_int_equal(lh_catalog_list(f->cat, false, &list, &err), LH_OK);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    assert_int_equal(lh_catalog_delete(f->cat, "workers", NULL, &alice, &m, &err), LH_ENOTFOUND);
    assert_int_equal(lh_catalog_rollback(f->cat, "workers", 6, NULL, &alice, &m, &err), LH_OK);
    assert_false(json_is_true(json_object_get(m, "deleted")));
    json_decref(m);

    json_t *versions;
    assert_int_equal(lh_catalog_versions(f->cat, "workers", 1, 0, &versions, NULL, &err), LH_OK);
    assert_int_equal(json_array_size(versions), 8);
    const char *ops[] = {"create", "commit", "commit", "commit", "rollback", "tombstone", "delete", "rollback"};
    for (size_t i = 0; i < 8; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(versions, i), "operation")), ops[i]);
    json_decref(versions);
    assert_int_equal(lh_catalog_get(f->cat, "nobody", 0, &m, &err), LH_ENOTFOUND);
    assert_int_equal(lh_catalog_get(f->cat, "workers", 99, &m, &err), LH_ENOTFOUND);
}

struct worker {
    lh_catalog *cat;
    int id, n;
};

static void *committer(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < w->n; i++) {
        char key[64];
        snprintf(key, sizeof key, "datasets/shared/data/w%d-%d", w->id, i);
        commit_one(w->cat, "shared", key, 1, LH_COMMIT_APPEND);
    }
    return NULL;
}

static void t_concurrent_commits(void **state)
{
    struct fixture *f = *state;
    json_t *m;
    lh_err err;
    assert_int_equal(lh_catalog_create(f->cat, "shared", NULL, &alice, &m, &err), LH_OK);
    json_decref(m);
    /* a second catalog over the same buckets: what another process would see */
    lh_catalog *other;
    assert_int_equal(lh_catalog_open(f->buckets, NULL, &other, &err), LH_OK);
    pthread_t t[4];
    struct worker w[4] = {{f->cat, 0, 40}, {f->cat, 1, 40}, {other, 2, 40}, {other, 3, 40}};
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, committer, &w[i]);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    json_t *versions;
    assert_int_equal(lh_catalog_versions(f->cat, "shared", 1, 0, &versions, NULL, &err), LH_OK);
    assert_int_equal(json_array_size(versions), 161);
    for (size_t i = 0; i < 161; i++)
        assert_int_equal(json_integer_value(json_object_get(json_array_get(versions, i), "version")), (json_int_t)i + 1);
    json_decref(versions);
    assert_int_equal(lh_catalog_get(other, "shared", 0, &m, &err), LH_OK);
    assert_int_equal(json_integer_value(json_object_get(m, "row_count")), 160);
    json_decref(m);
    lh_catalog_close(other);
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void t_corrupt_versions(void **state)
{
    struct fixture *f = *state;
    json_t *m;
    lh_err err;
    assert_int_equal(lh_catalog_create(f->cat, "fragile", NULL, &alice, &m, &err), LH_OK);
    json_decref(m);
    commit_one(f->cat, "fragile", "datasets/fragile/data/a", 1, LH_COMMIT_APPEND);
    char path[512];
    /* a torn version 3 (half a JSON object) written behind the catalog's back */
    snprintf(path, sizeof path, "%s/local/_catalog/datasets/fragile/v00000003.json", f->dir);
    write_file(path, "{\"format\":1,\"dataset\":\"fra");
    assert_int_equal(lh_catalog_get(f->cat, "fragile", 0, &m, &err), LH_ECORRUPT);
    assert_non_null(strstr(err.message, "v00000003.json"));
    /* a well-formed JSON file that lies about what it is */
    snprintf(path, sizeof path, "%s/local/_catalog/datasets/fragile/v00000003.json", f->dir);
    write_file(path, "{\"format\":1,\"dataset\":\"other\",\"version\":3}");
    json_t *report;
    assert_int_equal(lh_catalog_rebuild(f->cat, &report, &err), LH_OK);
    assert_int_equal(json_array_size(json_object_get(report, "skipped")), 1);
    json_decref(report);
    /* commits refuse to build on a head they cannot read */
    json_t *objects = one_object("datasets/fragile/data/b", 1);
    lh_commit c = {.objects = objects};
    assert_int_equal(lh_catalog_commit(f->cat, "fragile", &c, &alice, &m, &err), LH_ECORRUPT);
    json_decref(objects);
}

/* Opening reads each dataset's head, not its history: an old version that no
 * longer reads is found when it is asked for, not at open, and the head,
 * list and versions of a catalog opened over a long history are those of the
 * catalog that wrote it. */
static void t_open_reads_heads(void **state)
{
    struct fixture *f = *state;
    json_t *m, *want_list, *want_versions;
    lh_err err;
    assert_int_equal(lh_catalog_create(f->cat, "long", NULL, &alice, &m, &err), LH_OK);
    json_decref(m);
    char key[64];
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof key, "datasets/long/data/%d", i);
        assert_int_equal(commit_one(f->cat, "long", key, i + 1, LH_COMMIT_APPEND), i + 2);
    }
    assert_int_equal(lh_catalog_create(f->cat, "torn", NULL, &alice, &m, &err), LH_OK);
    json_decref(m);
    commit_one(f->cat, "torn", "datasets/torn/data/a", 1, LH_COMMIT_APPEND);
    assert_int_equal(lh_catalog_list(f->cat, false, &want_list, &err), LH_OK);
    assert_int_equal(lh_catalog_versions(f->cat, "long", 1, 0, &want_versions, NULL, &err), LH_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/local/_catalog/datasets/long/v00000003.json", f->dir);
    write_file(path, "{\"format\":1,\"dataset\":\"lo"); /* damaged behind the catalog's back */
    snprintf(path, sizeof path, "%s/local/_catalog/datasets/torn/v00000003.json", f->dir);
    write_file(path, "{\"format\":1,\"dataset\":\"to"); /* a newest version that does not read */

    lh_catalog *fresh;
    assert_int_equal(lh_catalog_open(f->buckets, NULL, &fresh, &err), LH_OK);
    /* only the torn head was read, and noted; long's version 3 was not read */
    assert_int_equal(lh_catalog_corrupt_count(fresh), 1);
    json_t *corrupt = lh_catalog_corrupt(fresh);
    char *noted = json_dumps(corrupt, 0);
    assert_non_null(strstr(noted, "torn/v00000003.json"));
    free(noted);
    json_decref(corrupt);
    assert_int_equal(lh_catalog_get(fresh, "long", 0, &m, &err), LH_OK);
    assert_int_equal(json_integer_value(json_object_get(m, "version")), 6);
    assert_int_equal(json_integer_value(json_object_get(m, "row_count")), 15);
    json_decref(m);
    json_t *list;
    assert_int_equal(lh_catalog_list(fresh, false, &list, &err), LH_OK);
    assert_true(json_equal(list, want_list)); /* created_at from version 1, read for the list */
    json_decref(list);
    assert_int_equal(lh_catalog_corrupt_count(fresh), 1);
    /* the newest of torn is the one that reads; asking for "the newest" says what is wrong */
    assert_int_equal(lh_catalog_get(fresh, "torn", 2, &m, &err), LH_OK);
    json_decref(m);
    assert_int_equal(lh_catalog_get(fresh, "torn", 0, &m, &err), LH_ECORRUPT);
    assert_non_null(strstr(err.message, "v00000003.json"));
    /* long's history: read when asked for, a page at a time, the damaged version null and noted */
    json_t *versions;
    int64_t head = 0;
    assert_int_equal(lh_catalog_versions(fresh, "long", 4, 2, &versions, &head, &err), LH_OK);
    assert_int_equal(head, 6);
    assert_int_equal(json_array_size(versions), 2);
    assert_true(json_equal(json_array_get(versions, 0), json_array_get(want_versions, 3)));
    assert_true(json_equal(json_array_get(versions, 1), json_array_get(want_versions, 4)));
    json_decref(versions);
    assert_int_equal(lh_catalog_versions(fresh, "long", 6, 100, &versions, NULL, &err), LH_OK);
    assert_int_equal(json_array_size(versions), 1);
    json_decref(versions);
    assert_int_equal(lh_catalog_versions(fresh, "long", 7, 100, &versions, NULL, &err), LH_OK);
    assert_int_equal(json_array_size(versions), 0);
    json_decref(versions);
    assert_int_equal(lh_catalog_corrupt_count(fresh), 1);
    assert_int_equal(lh_catalog_versions(fresh, "long", 1, 0, &versions, NULL, &err), LH_OK);
    assert_int_equal(json_array_size(versions), 6);
    assert_true(json_is_null(json_array_get(versions, 2)));
    json_array_set_new(want_versions, 2, json_null());
    assert_true(json_equal(versions, want_versions));
    json_decref(versions);
    assert_int_equal(lh_catalog_corrupt_count(fresh), 2);
    assert_int_equal(lh_catalog_get(fresh, "long", 3, &m, &err), LH_ECORRUPT);
    /* commits go on from the head, and the history read stays whole */
    commit_one(fresh, "long", "datasets/long/data/next", 1, LH_COMMIT_APPEND);
    assert_int_equal(lh_catalog_versions(fresh, "long", 1, 0, &versions, NULL, &err), LH_OK);
    assert_int_equal(json_array_size(versions), 7);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(versions, 6), "row_count")), 16);
    json_decref(versions);
    /* a dataset another process made after this one opened is found by its name */
    assert_int_equal(lh_catalog_create(f->cat, "late", NULL, &alice, &m, &err), LH_OK);
    json_decref(m);
    commit_one(f->cat, "late", "datasets/late/data/a", 2, LH_COMMIT_APPEND);
    commit_one(f->cat, "late", "datasets/late/data/b", 3, LH_COMMIT_APPEND);
    assert_int_equal(lh_catalog_get(fresh, "late", 0, &m, &err), LH_OK);
    assert_int_equal(json_integer_value(json_object_get(m, "version")), 3);
    json_decref(m);
    assert_int_equal(lh_catalog_versions(fresh, "late", 1, 0, &versions, NULL, &err), LH_OK);
    assert_int_equal(json_array_size(versions), 3);
    json_decref(versions);
    lh_catalog_close(fresh);
    json_decref(want_list);
    json_decref(want_versions);
}

/* Commits point only at real objects of their own dataset (issue 11). */
static void t_commit_validation(void **state)
{
    struct fixture *f = *state;
    json_t *m;
    lh_err err;
    assert_int_equal(lh_catalog_create(f->cat, "checked", NULL, &alice, &m, &err), LH_OK);
    json_decref(m);
    assert_int_equal(lh_catalog_create(f->cat, "other", NULL, &alice, &m, &err), LH_OK);
    json_decref(m);
    json_t *good = one_object("datasets/checked/data/a", 1);
    json_t *elsewhere = one_object("datasets/other/data/a", 1);
    json_t *catalog = one_object("_catalog/datasets/checked/x", 1);
    struct {
        const char *field;
        json_t *value;
        const char *message;
    } lies[] = {
        {"bucket", json_string("rescue"), "lives in bucket"},
        {"key", json_string("datasets/checked/data/missing"), "does not exist"},
        {"key", json_string("_catalog/datasets/checked/x"), "is not under datasets/checked/"},
        {"key", json_string("datasets/other/data/a"), "is not under datasets/checked/"},
        {"key", json_string("datasets/checked/../other/data/a"), "is not under"},
        {"size", json_integer(999), "holds 23 bytes, not 999"},
        {"sha256", json_string("0000000000000000000000000000000000000000000000000000000000000000"), "has sha256"},
    };
    for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
        json_t *objects = json_deep_copy(good);
        json_object_set_new(json_array_get(objects, 0), lies[i].field, lies[i].value);
        lh_commit c = {.objects = objects};
        lh_code rc = lh_catalog_commit(f->cat, "checked", &c, &alice, &m, &err);
        json_decref(objects);
        if (rc != LH_EINVAL || !strstr(err.message, lies[i].message))
            fail_msg("lie %zu (%s) gave %d: %s", i, lies[i].field, rc, err.message);
    }
    /* a malformed object is refused once, with the validator's words (no self-formatting) */
    json_t *shapeless = json_pack("[{s:s, s:s}]", "bucket", "local", "key", "datasets/checked/data/a");
    lh_commit bad = {.objects = shapeless};
    assert_int_equal(lh_catalog_commit(f->cat, "checked", &bad, &alice, &m, &err), LH_EINVAL);
    assert_string_equal(err.message, "refusing to write an invalid manifest: manifest object 0 needs bucket, key, "
                                     "size, sha256 (hex) and rows");
    json_decref(shapeless);
    lh_commit c = {.objects = good};
    assert_int_equal(lh_catalog_commit(f->cat, "checked", &c, &alice, &m, &err), LH_OK);
    assert_int_equal(json_integer_value(json_object_get(m, "version")), 2);
    json_decref(m);
    json_decref(good);
    json_decref(elsewhere);
    json_decref(catalog);
}

static void t_rebuild_from_store(void **state)
{
    struct fixture *f = *state;
    json_t *m;
    lh_err err;
    assert_int_equal(lh_catalog_create(f->cat, "alpha", NULL, &alice, &m, &err), LH_OK);
    json_decref(m);
    commit_one(f->cat, "alpha", "datasets/alpha/data/a", 3, LH_COMMIT_APPEND);
    assert_int_equal(lh_catalog_create(f->cat, "beta", NULL, &alice, &m, &err), LH_OK);
    json_decref(m);
    /* a brand-new catalog knows everything from storage alone */
    lh_catalog *fresh;
    assert_int_equal(lh_catalog_open(f->buckets, NULL, &fresh, &err), LH_OK);
    json_t *list;
    assert_int_equal(lh_catalog_list(fresh, false, &list, &err), LH_OK);
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "name")), "alpha");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "row_count")), 3);
    json_decref(list);
    /* and sees later commits made by the first one */
    commit_one(f->cat, "beta", "datasets/beta/data/x", 4, LH_COMMIT_APPEND);
    assert_int_equal(lh_catalog_get(fresh, "beta", 0, &m, &err), LH_OK);
    assert_int_equal(json_integer_value(json_object_get(m, "version")), 2);
    json_decref(m);
    /* and datasets created after it opened */
    assert_int_equal(lh_catalog_create(f->cat, "gamma", NULL, &alice, &m, &err), LH_OK);
    json_decref(m);
    assert_int_equal(lh_catalog_list(fresh, false, &list, &err), LH_OK);
    assert_int_equal(json_array_size(list), 3);
    json_decref(list);
    lh_catalog_close(fresh);
}

static void t_purge(void **state)
{
    struct fixture *f = *state;
    json_t *m;
    lh_err err;
    assert_int_equal(lh_catalog_create(f->cat, "p", NULL, &alice, &m, &err), LH_OK);
    json_decref(m);
    commit_one(f->cat, "p", "datasets/p/data/kept", 1, LH_COMMIT_APPEND);
    commit_one(f->cat, "p", "datasets/p/data/replaced", 1, LH_COMMIT_REPLACE);
    lh_store *local = lh_buckets_default(f->buckets);
    assert_int_equal(lh_store_put(local, "datasets/p/data/kept", "k", 1, 0, &err), LH_OK);
    assert_int_equal(lh_store_put(local, "datasets/p/data/replaced", "r", 1, 0, &err), LH_OK);
    assert_int_equal(lh_store_put(local, "datasets/p/data/orphan", "o", 1, 0, &err), LH_OK);
    char path[512];
    struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
    const char *names[] = {"kept", "replaced", "orphan"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/local/datasets/p/data/%s", f->dir, names[i]);
        utimensat(AT_FDCWD, path, old, 0);
    }
    json_t *report;
    assert_int_equal(lh_catalog_purge(f->cat, true, &alice, &report, &err), LH_OK);
    assert_int_equal(json_array_size(json_object_get(report, "removed")), 1);
    json_decref(report);
    lh_buf b = {0};
    assert_int_equal(lh_store_get(local, "datasets/p/data/orphan", &b, &err), LH_OK);
    assert_int_equal(lh_catalog_purge(f->cat, false, &alice, &report, &err), LH_OK);
    json_decref(report);
    assert_int_equal(lh_store_get(local, "datasets/p/data/orphan", &b, &err), LH_ENOTFOUND);
    /* version 2 still references "kept", even though the head replaced it */
    assert_int_equal(lh_store_get(local, "datasets/p/data/kept", &b, &err), LH_OK);
    lh_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_names),
        cmocka_unit_test_setup_teardown(t_manifest_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(t_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(t_concurrent_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(t_corrupt_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(t_open_reads_heads, setup, teardown),
        cmocka_unit_test_setup_teardown(t_commit_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(t_rebuild_from_store, setup, teardown),
        cmocka_unit_test_setup_teardown(t_purge, setup, teardown),
    };
    return cmocka_run_group_tests_name("catalog", tests, NULL, NULL);
}
