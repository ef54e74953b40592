/*
 * test_manifests.c — the write-once manifest protocol (src/store/manifests.c)
 * over both store backends: the local folder, and S3 against a real s3rver
 * (started by scripts/with-s3rver). Key layout and names, write-once puts,
 * reading on to the head, commits in sequence, N threads racing with no
 * shared lock (no lost commit, contiguous numbers, each built on its
 * parent), a stale expected head, a failing build, and retries running out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lakehouse/lh_manifests.h"
#include "lakehouse/lh_mem.h"

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct fixture {
    char *dir;
    lh_config cfg;
    lh_buckets *buckets;
    lh_store *store;
    char *log_dir; /* a fresh folder of the bucket per test */
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int open_fixture(void **state, bool s3)
{
    static int serial;
    struct fixture *f = lh_xcalloc(1, sizeof *f);
    char tmpl[] = "/tmp/lh-manifests-XXXXXX";
    f->dir = lh_xstrdup(mkdtemp(tmpl));
    f->log_dir = lh_xasprintf("_catalog/t%d-%ld-%d", (int)getpid(), (long)time(NULL), serial++);
    lh_config_override fs_o[] = {{"storage.data_dir", f->dir, "test"}};
    const char *endpoint = getenv("LH_TEST_S3_ENDPOINT"), *bucket = getenv("LH_TEST_S3_BUCKET");
    if (s3 && (!endpoint || !bucket)) {
        fprintf(stderr, "LH_TEST_S3_ENDPOINT is not set: run under scripts/with-s3rver\n");
        return -1;
    }
    char *prefix = lh_xasprintf("manifests-%d/", (int)getpid());
    lh_config_override s3_o[] = {{"storage.data_dir", f->dir, "test"},
                                 {"bucket.s3.backend", "s3", "test"},
                                 {"bucket.s3.endpoint", endpoint, "test"},
                                 {"bucket.s3.path_style", "true", "test"},
                                 {"bucket.s3.bucket", bucket, "test"},
                                 {"bucket.s3.prefix", prefix, "test"}};
    lh_err err;
    lh_code rc = s3 ? lh_config_load(&f->cfg, NULL, NULL, s3_o, 6, &err) : lh_config_load(&f->cfg, NULL, NULL, fs_o, 1, &err);
    free(prefix);
    if (rc == LH_OK) rc = lh_buckets_open(&f->cfg, &f->buckets, &err);
    if (rc) {
        fprintf(stderr, "setup: %s\n", err.message);
        return -1;
    }
    f->store = s3 ? lh_buckets_find(f->buckets, "s3") : lh_buckets_default(f->buckets);
    if (!f->store) return -1;
    *state = f;
    return 0;
}

static int fs_setup(void **state)
{
    return open_fixture(state, false);
}

static int s3_setup(void **state)
{
    return open_fixture(state, true);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    lh_buckets_close(f->buckets);
    lh_config_free(&f->cfg);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f->dir);
    free(f->log_dir);
    free(f);
    return 0;
}

static lh_manifests log_of(struct fixture *f, int max_attempts)
{
    return (lh_manifests){.buckets = f->buckets, .store = f->store, .dir = f->log_dir, .what = "log t",
                          .max_attempts = max_attempts};
}

/* ---- names (no storage) ---- */

static void t_names(void **state)
{
    (void)state;
    lh_manifests v = {.dir = "_catalog/datasets/sales"}, p = {.dir = "_catalog/indexes/x/live", .stem = "p"};
    char *k = lh_manifests_key(&v, 1);
    assert_string_equal(k, "_catalog/datasets/sales/v00000001.json");
    free(k);
    k = lh_manifests_key(&p, 123456789);
    assert_string_equal(k, "_catalog/indexes/x/live/p123456789.json");
    free(k);
    int64_t n = 0;
    assert_true(lh_manifests_parse_name(&v, "v00000042.json", &n));
    assert_int_equal(n, 42);
    assert_true(lh_manifests_parse_name(&v, "_catalog/datasets/sales/v00000007.json", &n));
    assert_int_equal(n, 7);
    assert_true(lh_manifests_parse_name(&p, "p123456789.json", &n));
    assert_int_equal(n, 123456789);
    k = lh_manifests_key(&v, INT64_MAX); /* the largest number round-trips (found by fuzz_manifest_names) */
    assert_true(lh_manifests_parse_name(&v, k, &n));
    assert_true(n == INT64_MAX);
    free(k);
    const char *bad[] = {"v1.json", "v0000001.json", "v00000000.json", "v00000001.jso", "v00000001.json.tmp",
                         "p00000001.json", "v0000000a.json", "v012345678.json", "dataset.json", "",
                         "v99999999999999999999.json"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) assert_false(lh_manifests_parse_name(&v, bad[i], &n));
    assert_false(lh_manifests_parse_name(&p, "v00000001.json", &n));
}

/* ---- write-once, read, scan ---- */

static lh_code count_each(void *ctx, int64_t n, json_t *m, lh_err *err)
{
    int64_t *seen = ctx;
    bool ok = json_integer_value(json_object_get(m, "n")) == n;
    json_decref(m);
    (*seen)++;
    return ok ? LH_OK : lh_err_set(err, LH_ECORRUPT, "manifest %lld names another number", (long long)n);
}

static lh_code stop_at_two(void *ctx, int64_t n, json_t *m, lh_err *err)
{
    (void)ctx;
    json_decref(m);
    return n == 2 ? lh_err_set(err, LH_ECORRUPT, "manifest 2 is bad") : LH_OK;
}

static void t_put_read_scan(void **state)
{
    struct fixture *f = *state;
    lh_manifests log = log_of(f, 0);
    lh_err err;
    int64_t head = -1, seen = 0, last = -1;
    assert_int_equal(lh_manifests_scan(&log, 0, count_each, &seen, &head, &err), LH_OK);
    assert_int_equal(head, 0);
    assert_int_equal(lh_manifests_last(&log, &last, &err), LH_OK);
    assert_int_equal(last, 0);
    for (int i = 1; i <= 3; i++) {
        json_t *m = json_pack("{s:i}", "n", i);
        assert_int_equal(lh_manifests_put(&log, i, m, &err), LH_OK);
        json_decref(m);
    }
    json_t *other = json_pack("{s:i}", "n", 99);
    assert_int_equal(lh_manifests_put(&log, 2, other, &err), LH_EEXIST); /* write-once */
    json_decref(other);
    json_t *m;
    assert_int_equal(lh_manifests_read(&log, 2, &m, &err), LH_OK);
    assert_int_equal(json_integer_value(json_object_get(m, "n")), 2);
    json_decref(m);
    assert_int_equal(lh_manifests_read(&log, 4, &m, &err), LH_ENOTFOUND);
    /* the listing's highest number; what is not one of the log's names does not count */
    char *beside[] = {lh_xasprintf("%s/descriptor.json", log.dir), lh_xasprintf("%s/v12.json", log.dir),
                      lh_xasprintf("%s/v000000077.json", log.dir), lh_xasprintf("%s/live/v00000050.json", log.dir),
                      lh_xasprintf("%s2/v00000060.json", log.dir)};
    for (size_t i = 0; i < sizeof beside / sizeof beside[0]; i++) {
        assert_int_equal(lh_store_put(f->store, beside[i], "{}", 2, 0, &err), LH_OK);
        free(beside[i]);
    }
    assert_int_equal(lh_manifests_last(&log, &last, &err), LH_OK);
    assert_int_equal(last, 3);
    assert_int_equal(lh_manifests_scan(&log, 0, count_each, &seen, &head, &err), LH_OK);
    assert_int_equal(head, 3);
    assert_int_equal(seen, 3);
    assert_int_equal(lh_manifests_scan(&log, 2, count_each, &seen, &head, &err), LH_OK);
    assert_int_equal(head, 3);
    assert_int_equal(seen, 4);
    /* an error from the callback stops the scan at the last good one */
    assert_int_equal(lh_manifests_scan(&log, 0, stop_at_two, NULL, &head, &err), LH_ECORRUPT);
    assert_int_equal(head, 1);
    /* the stored bytes are compact with sorted keys */
    lh_buf raw = {0};
    char *key = lh_manifests_key(&log, 1);
    assert_int_equal(lh_store_get(f->store, key, &raw, &err), LH_OK);
    assert_int_equal(raw.len, strlen("{\"n\":1}"));
    assert_memory_equal(raw.data, "{\"n\":1}", raw.len);
    lh_buf_free(&raw);
    free(key);
}

/* ---- commits ---- */

/* A committer: what it knows of the log (as a catalog or index entry
 * would), and who it is. */
struct committer {
    const lh_manifests *log;
    int64_t known;
    int id, made;
    int refreshes, builds;
    bool off_head; /* a build was asked for a number other than known + 1 */
    bool steal; /* build also writes the number itself, so the put always loses */
};

static lh_code c_refresh(void *ctx, int64_t *head, lh_err *err)
{
    struct committer *c = ctx;
    c->refreshes++;
    int64_t seen = 0;
    lh_code rc = lh_manifests_scan(c->log, c->known, count_each, &seen, &c->known, err);
    *head = c->known;
    return rc;
}

static lh_code c_build(void *ctx, int64_t next, json_t **out, lh_err *err)
{
    struct committer *c = ctx;
    c->builds++;
    if (next != c->known + 1) c->off_head = true; /* always on top of the head just read */
    if (c->steal) {
        json_t *thief = json_pack("{s:I, s:i}", "n", (json_int_t)next, "writer", -1);
        lh_code rc = lh_manifests_put(c->log, next, thief, err);
        json_decref(thief);
        if (rc) return rc;
    }
    *out = json_pack("{s:I, s:I, s:i, s:i}", "n", (json_int_t)next, "parent", (json_int_t)(next - 1), "writer", c->id,
                     "seq", c->made);
    return LH_OK;
}

static lh_code c_fail(void *ctx, int64_t next, json_t **out, lh_err *err)
{
    (void)ctx, (void)next, (void)out;
    return lh_err_set(err, LH_EINVAL, "nothing to build");
}

static const lh_manifests_writer writer = {c_refresh, c_build};

static void t_commit_sequence(void **state)
{
    struct fixture *f = *state;
    lh_manifests log = log_of(f, 0);
    struct committer c = {.log = &log, .id = 1};
    lh_err err;
    for (int i = 1; i <= 5; i++) {
        json_t *m = NULL;
        int64_t n = 0;
        assert_int_equal(lh_manifests_commit(&log, &writer, &c, LH_MANIFESTS_ANY_HEAD, &m, &n, &err), LH_OK);
        assert_int_equal(n, i);
        assert_int_equal(json_integer_value(json_object_get(m, "n")), i);
        json_decref(m);
        c.made++;
        c.known = n;
    }
    /* a second committer that knows nothing catches up first */
    struct committer late = {.log = &log, .id = 2};
    json_t *m = NULL;
    int64_t n = 0;
    assert_int_equal(lh_manifests_commit(&log, &writer, &late, LH_MANIFESTS_ANY_HEAD, &m, &n, &err), LH_OK);
    assert_int_equal(n, 6);
    json_decref(m);
}

static void t_expected_head(void **state)
{
    struct fixture *f = *state;
    lh_manifests log = log_of(f, 0);
    struct committer c = {.log = &log, .id = 1};
    lh_err err;
    json_t *m = NULL;
    int64_t n = 0;
    assert_int_equal(lh_manifests_commit(&log, &writer, &c, 0, &m, &n, &err), LH_OK); /* expects an empty log */
    json_decref(m);
    assert_int_equal(lh_manifests_commit(&log, &writer, &c, 1, &m, &n, &err), LH_OK);
    json_decref(m);
    assert_int_equal(n, 2);
    /* a request made against version 1 is stale now: refused, nothing built */
    int builds = c.builds;
    assert_int_equal(lh_manifests_commit(&log, &writer, &c, 1, &m, &n, &err), LH_ECONFLICT);
    assert_non_null(strstr(err.message, "log t is at version 2, not 1 as the request expected"));
    assert_int_equal(c.builds, builds);
    assert_int_equal(lh_manifests_read(&log, 3, &m, &err), LH_ENOTFOUND);
}

static void t_build_fails(void **state)
{
    struct fixture *f = *state;
    lh_manifests log = log_of(f, 0);
    struct committer c = {.log = &log, .id = 1};
    static const lh_manifests_writer failing = {c_refresh, c_fail};
    lh_err err;
    json_t *m = NULL;
    assert_int_equal(lh_manifests_commit(&log, &failing, &c, LH_MANIFESTS_ANY_HEAD, &m, NULL, &err), LH_EINVAL);
    assert_null(m);
    assert_int_equal(lh_manifests_read(&log, 1, &m, &err), LH_ENOTFOUND);
}

static void t_retries_run_out(void **state)
{
    struct fixture *f = *state;
    lh_manifests log = log_of(f, 3);
    struct committer c = {.log = &log, .id = 1, .steal = true};
    lh_err err;
    json_t *m = NULL;
    int64_t n = -1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(lh_manifests_commit(&log, &writer, &c, LH_MANIFESTS_ANY_HEAD, &m, &n, &err), LH_ECONFLICT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_non_null(strstr(err.message, "log t: gave up after 3 conflicting attempts"));
    assert_null(m);
    assert_int_equal(n, -1);
    assert_int_equal(c.builds, 3);    /* every attempt lost its race */
    assert_int_equal(c.refreshes, 4); /* and caught up after each loss */
    assert_false(c.off_head);
    /* each loss backed off at least 1 ms */
    assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >= 3);
    /* what the thief wrote is there, nothing of the committer's */
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(lh_manifests_read(&log, i, &m, &err), LH_OK);
        assert_int_equal(json_integer_value(json_object_get(m, "writer")), -1);
        json_decref(m);
    }
    assert_int_equal(lh_manifests_read(&log, 4, &m, &err), LH_ENOTFOUND);
    /* the default bound applies when none is set */
    lh_manifests dflt = log_of(f, 0);
    struct committer d = {.log = &dflt, .id = 2, .steal = true};
    assert_int_equal(lh_manifests_commit(&dflt, &writer, &d, LH_MANIFESTS_ANY_HEAD, &m, &n, &err), LH_ECONFLICT);
    assert_int_equal(d.builds, LH_MANIFESTS_MAX_ATTEMPTS);
}

/* ---- racing ---- */

#define RACERS 6
#define COMMITS 10

static void *racer(void *arg)
{
    struct committer *c = arg;
    for (int i = 0; i < COMMITS; i++) {
        json_t *m = NULL;
        int64_t n = 0;
        lh_err err;
        lh_code rc = lh_manifests_commit(c->log, &writer, c, LH_MANIFESTS_ANY_HEAD, &m, &n, &err);
        if (rc) {
            fprintf(stderr, "racer %d: %s\n", c->id, err.message);
            return NULL;
        }
        json_decref(m);
        c->made++;
        c->known = n;
    }
    return NULL;
}

static void t_threads_race(void **state)
{
    struct fixture *f = *state;
    lh_manifests log = log_of(f, 1000); /* the bound is not what this tests */
    pthread_t t[RACERS];
    struct committer c[RACERS];
    for (int i = 0; i < RACERS; i++) {
        c[i] = (struct committer){.log = &log, .id = i};
        pthread_create(&t[i], NULL, racer, &c[i]);
    }
    int lost = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(c[i].made, COMMITS);
        assert_false(c[i].off_head);
        lost += c[i].builds - COMMITS;
    }
    /* every commit is there exactly once, numbered 1..N without a gap,
     * each built on its parent */
    bool seen[RACERS][COMMITS] = {{false}};
    lh_err err;
    for (int64_t n = 1; n <= RACERS * COMMITS; n++) {
        json_t *m;
        assert_int_equal(lh_manifests_read(&log, n, &m, &err), LH_OK);
        assert_int_equal(json_integer_value(json_object_get(m, "parent")), n - 1);
        int w = (int)json_integer_value(json_object_get(m, "writer"));
        int s = (int)json_integer_value(json_object_get(m, "seq"));
        assert_true(w >= 0 && w < RACERS && s >= 0 && s < COMMITS);
        assert_false(seen[w][s]);
        seen[w][s] = true;
        json_decref(m);
    }
    json_t *m;
    assert_int_equal(lh_manifests_read(&log, RACERS * COMMITS + 1, &m, &err), LH_ENOTFOUND);
    printf("racers=%d commits=%d lost_races=%d\n", RACERS, RACERS * COMMITS, lost);
}

#define BOTH(t) cmocka_unit_test_setup_teardown(t, fs_setup, teardown), cmocka_unit_test_setup_teardown(t, s3_setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_names),
        BOTH(t_put_read_scan),
        BOTH(t_commit_sequence),
        BOTH(t_expected_head),
        BOTH(t_build_fails),
        BOTH(t_retries_run_out),
        BOTH(t_threads_race),
    };
    return cmocka_run_group_tests_name("manifests", tests, NULL, NULL);
}
