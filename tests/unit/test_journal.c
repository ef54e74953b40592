/*
 * test_journal.c — the segment log and both journals (src/journal/): append,
 * flush, scan; recovery of a dead process's write-ahead files; a failing store
 * that keeps records until it recovers; concurrent appenders.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../src/journal/seglog.h"
#include "lakehouse/lh_journal.h"
#include "lakehouse/lh_mem.h"

#include <ftw.h>
#include <pthread.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A store that forwards to an fs store and fails puts while `down` is set:
 * a test double of the backend interface, standing in for an outage. */
struct flaky {
    lh_store base;
    lh_store *inner;
    bool down;
    int put_delay_ms; /* a slow store: every put waits this long first */
};

static lh_code flaky_put(lh_store *s, const char *key, const lh_store_src *src, unsigned flags, lh_err *err)
{
    struct flaky *f = (struct flaky *)s;
    if (f->down) return lh_err_set(err, LH_EUNAVAILABLE, "flaky store is down");
    if (f->put_delay_ms) usleep((useconds_t)f->put_delay_ms * 1000);
    return f->inner->ops->put(f->inner, key, src, flags, err);
}
static lh_code flaky_get(lh_store *s, const char *key, uint64_t o, uint64_t l, const lh_store_dst *d, lh_err *err)
{
    struct flaky *f = (struct flaky *)s;
    return f->inner->ops->get(f->inner, key, o, l, d, err);
}
static lh_code flaky_head(lh_store *s, const char *key, lh_object_info *i, lh_err *err)
{
    struct flaky *f = (struct flaky *)s;
    return f->inner->ops->head(f->inner, key, i, err);
}
static lh_code flaky_list(lh_store *s, const char *p, lh_store_list_fn fn, void *ctx, lh_err *err)
{
    struct flaky *f = (struct flaky *)s;
    if (f->down) return lh_err_set(err, LH_EUNAVAILABLE, "flaky store is down");
    return f->inner->ops->list(f->inner, p, fn, ctx, err);
}
static lh_code flaky_remove(lh_store *s, const char *key, lh_err *err)
{
    struct flaky *f = (struct flaky *)s;
    return f->inner->ops->remove(f->inner, key, err);
}
static lh_code flaky_check(lh_store *s, lh_err *err)
{
    (void)s;
    (void)err;
    return LH_OK;
}
static void flaky_close(lh_store *s)
{
    struct flaky *f = (struct flaky *)s;
    lh_store_close(f->inner);
    free(f);
}
static const lh_store_ops flaky_ops = {"flaky", flaky_get, flaky_put, flaky_head, flaky_list,
                                       flaky_remove, flaky_check, NULL, flaky_close};

struct fixture {
    char *dir, *wal;
    struct flaky *store;
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    struct fixture *f = lh_xcalloc(1, sizeof *f);
    char tmpl[] = "/tmp/lh-journal-XXXXXX";
    f->dir = lh_xstrdup(mkdtemp(tmpl));
    f->wal = lh_xasprintf("%s/wal", f->dir);
    char *root = lh_xasprintf("%s/bucket", f->dir);
    f->store = lh_xcalloc(1, sizeof *f->store);
    f->store->base.ops = &flaky_ops;
    f->store->base.name = "flaky";
    lh_err err;
    assert_int_equal(lh_store_fs_open("inner", root, &f->store->inner, &err), LH_OK);
    free(root);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    flaky_close(&f->store->base);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f->dir);
    free(f->wal);
    free(f);
    return 0;
}

static seglog_options opts(struct fixture *f, long flush_ms, long flush_events)
{
    return (seglog_options){.name = "t", .prefix = "_t/", .wal_dir = f->wal, .replica = "r1",
                            .flush_ms = flush_ms, .flush_events = flush_events};
}

static bool count_fn(void *ctx, json_t *rec)
{
    json_array_append(ctx, rec);
    return true;
}

static json_t *scan_all(seglog *log)
{
    json_t *all = json_array();
    lh_err err;
    assert_int_equal(seglog_scan(log, count_fn, all, &err), LH_OK);
    return all;
}

static void append_n(seglog *log, const char *prefix, int n)
{
    for (int i = 0; i < n; i++) {
        char id[64];
        snprintf(id, sizeof id, "%s-%d", prefix, i);
        json_t *r = json_pack("{s:s, s:i}", "id", id, "n", i);
        seglog_append(log, r, i % 2 == 0); /* every other one relaxed: written, not waited for */
        json_decref(r);
    }
}

static void t_append_flush_scan(void **state)
{
    struct fixture *f = *state;
    seglog_options o = opts(f, 60000, 1000000);
    seglog *log;
    lh_err err;
    assert_int_equal(seglog_open(&f->store->base, &o, &log, &err), LH_OK);
    append_n(log, "a", 3);
    json_t *all = scan_all(log); /* buffered records are visible before any flush */
    assert_int_equal(json_array_size(all), 3);
    json_decref(all);
    assert_int_equal(seglog_flush(log, &err), LH_OK);
    assert_int_equal(seglog_flush(log, &err), LH_OK); /* nothing to do */
    append_n(log, "b", 2);
    assert_int_equal(seglog_flush(log, &err), LH_OK);
    all = scan_all(log);
    assert_int_equal(json_array_size(all), 5);
    assert_string_equal(json_string_value(json_object_get(json_array_get(all, 0), "id")), "a-0");
    assert_string_equal(json_string_value(json_object_get(json_array_get(all, 4), "id")), "b-1");
    json_decref(all);
    seglog_stats st;
    seglog_get_stats(log, &st);
    assert_int_equal(st.flushed_segments, 2);
    assert_int_equal(st.buffered, 0);
    seglog_close(log);
    /* a second log over the same store sees the segments, never rewritten */
    assert_int_equal(seglog_open(&f->store->base, &o, &log, &err), LH_OK);
    all = scan_all(log);
    assert_int_equal(json_array_size(all), 5);
    json_decref(all);
    seglog_close(log);
}

static void *flush_main(void *log)
{
    lh_err err;
    assert_int_equal(seglog_flush(log, &err), LH_OK);
    return NULL;
}

/* A scan while a flush is writing its segment still sees the records being
 * written (they are neither buffered nor listed then), and sees them once. */
static void t_scan_during_flush(void **state)
{
    struct fixture *f = *state;
    seglog_options o = opts(f, 3600000, 1000000);
    seglog *log;
    lh_err err;
    assert_int_equal(seglog_open(&f->store->base, &o, &log, &err), LH_OK);
    append_n(log, "a", 10);
    f->store->put_delay_ms = 300;
    pthread_t t;
    pthread_create(&t, NULL, flush_main, log);
    usleep(100 * 1000); /* the flush is inside its put now */
    json_t *all = scan_all(log);
    assert_int_equal(json_array_size(all), 10);
    json_decref(all);
    pthread_join(t, NULL);
    f->store->put_delay_ms = 0;
    all = scan_all(log);
    assert_int_equal(json_array_size(all), 10);
    json_decref(all);
    seglog_close(log);
}

static void t_background_flush(void **state)
{
    struct fixture *f = *state;
    seglog_options o = opts(f, 20, 4);
    seglog *log;
    lh_err err;
    assert_int_equal(seglog_open(&f->store->base, &o, &log, &err), LH_OK);
    append_n(log, "c", 10);
    for (int i = 0; i < 500; i++) { /* the buffer empties before its segment is counted: wait for both */
        seglog_stats st;
        seglog_get_stats(log, &st);
        if (st.buffered == 0 && st.flushed_segments >= 1) break;
        usleep(10000);
    }
    seglog_stats st;
    seglog_get_stats(log, &st);
    assert_int_equal(st.buffered, 0);
    assert_true(st.flushed_segments >= 1);
    seglog_close(log);
}

static void t_recovers_dead_process(void **state)
{
    struct fixture *f = *state;
    seglog_options o = opts(f, 3600000, 1000000); /* never flushes on its own */
    pid_t pid = fork();
    if (pid == 0) {
        seglog *log;
        lh_err err;
        if (seglog_open(&f->store->base, &o, &log, &err)) _exit(1);
        append_n(log, "dead", 7);
        _exit(0); /* dies without flushing or closing: the WAL holds the records, relaxed ones too */
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    seglog *log;
    lh_err err;
    assert_int_equal(seglog_open(&f->store->base, &o, &log, &err), LH_OK);
    json_t *all = scan_all(log);
    assert_int_equal(json_array_size(all), 7);
    json_decref(all);
    seglog_stats st;
    seglog_get_stats(log, &st);
    assert_int_equal(st.buffered, 0); /* adopted and flushed at open */
    seglog_close(log);
    /* the adopted WAL is gone: a third open finds nothing new to adopt */
    assert_int_equal(seglog_open(&f->store->base, &o, &log, &err), LH_OK);
    all = scan_all(log);
    assert_int_equal(json_array_size(all), 7);
    json_decref(all);
    seglog_close(log);
}

static void t_store_outage(void **state)
{
    struct fixture *f = *state;
    seglog_options o = opts(f, 3600000, 1000000);
    seglog *log;
    lh_err err;
    assert_int_equal(seglog_open(&f->store->base, &o, &log, &err), LH_OK);
    append_n(log, "x", 2);
    f->store->down = true;
    assert_int_equal(seglog_flush(log, &err), LH_EUNAVAILABLE);
    append_n(log, "y", 1);
    json_t *all = scan_all(log); /* degraded: the store cannot list, the buffer still answers */
    assert_int_equal(json_array_size(all), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(all, 0), "id")), "x-0");
    json_decref(all);
    f->store->down = false;
    assert_int_equal(seglog_flush(log, &err), LH_OK);
    seglog_stats st;
    seglog_get_stats(log, &st);
    assert_int_equal(st.failed_flushes, 1);
    assert_int_equal(st.buffered, 0);
    seglog_close(log);
    assert_int_equal(seglog_open(&f->store->base, &o, &log, &err), LH_OK);
    all = scan_all(log);
    assert_int_equal(json_array_size(all), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(all, 2), "id")), "y-0");
    json_decref(all);
    seglog_close(log);
}

struct appender {
    seglog *log;
    int id;
};

static void *append_many(void *arg)
{
    struct appender *a = arg;
    char prefix[16];
    snprintf(prefix, sizeof prefix, "w%d", a->id);
    append_n(a->log, prefix, 300);
    return NULL;
}

static void t_concurrent_appenders(void **state)
{
    struct fixture *f = *state;
    seglog_options o = opts(f, 5, 16);
    seglog *log;
    lh_err err;
    assert_int_equal(seglog_open(&f->store->base, &o, &log, &err), LH_OK);
    pthread_t t[4];
    struct appender a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct appender){log, i};
        pthread_create(&t[i], NULL, append_many, &a[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    seglog_close(log);
    assert_int_equal(seglog_open(&f->store->base, &o, &log, &err), LH_OK);
    json_t *all = scan_all(log);
    assert_int_equal(json_array_size(all), 1200);
    json_t *ids = json_object();
    size_t i;
    json_t *rec;
    json_array_foreach(all, i, rec) json_object_set_new(ids, json_string_value(json_object_get(rec, "id")), json_true());
    assert_int_equal(json_object_size(ids), 1200);
    json_decref(ids);
    json_decref(all);
    seglog_close(log);
}

static void t_journal_and_errors(void **state)
{
    struct fixture *f = *state;
    lh_journal_options o = {.wal_dir = f->wal, .replica = "rep", .flush_ms = 3600000, .flush_events = 1000};
    lh_journal *j;
    lh_errors *e;
    lh_err err;
    assert_int_equal(lh_journal_open(&f->store->base, &o, &j, &err), LH_OK);
    assert_int_equal(lh_errors_open(&f->store->base, &o, &e, &err), LH_OK);
    json_t *old = json_pack("{s:i}", "version", 1), *new = json_pack("{s:i}", "version", 2);
    lh_journal_event ev = {"dataset", "workers", "commit", old, new, "alice", "test"};
    lh_journal_record(j, &ev);
    ev.entity_id = "clients";
    ev.action = "create";
    lh_journal_record(j, &ev);
    ev.entity_id = "workers";
    ev.action = "rollback";
    lh_journal_record(j, &ev);
    json_decref(old);
    json_decref(new);
    json_t *events;
    assert_int_equal(lh_journal_recent(j, "workers", 10, &events, &err), LH_OK);
    assert_int_equal(json_array_size(events), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(events, 0), "action")), "rollback");
    json_t *first = json_array_get(events, 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(first, "new"), "version")), 2);
    assert_string_equal(json_string_value(json_object_get(first, "actor")), "alice");
    json_decref(events);
    assert_int_equal(lh_journal_recent(j, NULL, 1, &events, &err), LH_OK);
    assert_int_equal(json_array_size(events), 1);
    json_decref(events);
    json_t *stats;
    assert_int_equal(lh_journal_stats(j, &stats, &err), LH_OK);
    assert_int_equal(json_integer_value(json_object_get(stats, "events")), 3);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(stats, "by_action"), "commit")), 1);
    json_decref(stats);

    lh_err failure = {.code = LH_EIO};
    snprintf(failure.message, sizeof failure.message, "disk on fire");
    lh_errors_record(e, "put", "local", "a/b", &failure);
    usleep(5000);
    int64_t mid = 0;
    {
        json_t *all;
        assert_int_equal(lh_errors_query(e, 0, 10, &all, &err), LH_OK);
        mid = json_integer_value(json_object_get(json_array_get(all, 0), "ts_ms")) + 1;
        json_decref(all);
    }
    usleep(5000);
    lh_errors_store_observer(e, "get", "local", "c", &failure);
    json_t *recent;
    assert_int_equal(lh_errors_query(e, mid, 10, &recent, &err), LH_OK);
    assert_int_equal(json_array_size(recent), 1);
    json_t *r = json_array_get(recent, 0);
    assert_string_equal(json_string_value(json_object_get(r, "operation")), "get");
    assert_string_equal(json_string_value(json_object_get(r, "code")), "io_error");
    assert_string_equal(json_string_value(json_object_get(r, "error")), "disk on fire");
    json_decref(recent);
    lh_errors_close(e);
    lh_journal_close(j);
}

static size_t count_wals(const char *dir)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) n += strstr(de->d_name, ".wal") != NULL;
    if (d) closedir(d);
    return n;
}

/* A store that refuses the error journal's segments (a file where its folder
 * should be) must not make it record its own failures, nor leave one WAL file
 * per attempt behind (issue 11). */
static void t_errors_flush_failing(void **state)
{
    struct fixture *f = *state;
    char *blocker = lh_xasprintf("%s/bucket/_errors", f->dir);
    FILE *fp = fopen(blocker, "w");
    assert_non_null(fp);
    fclose(fp);
    free(blocker);
    lh_store *base = &f->store->base;
    lh_journal_options o = {.wal_dir = f->wal, .replica = "rep", .flush_ms = 3600000, .flush_events = 1000};
    lh_errors *e;
    lh_err err;
    assert_int_equal(lh_errors_open(base, &o, &e, &err), LH_OK);
    base->on_error = lh_errors_store_observer;
    base->on_error_ctx = e;
    lh_err failure = {.code = LH_EIO};
    snprintf(failure.message, sizeof failure.message, "disk on fire");
    lh_errors_record(e, "put", "local", "a/b", &failure);
    size_t wals = count_wals(f->wal);
    for (int i = 0; i < 20; i++) assert_int_not_equal(lh_errors_flush(e, &err), LH_OK);
    assert_true(count_wals(f->wal) <= wals);
    json_t *all;
    assert_int_equal(lh_errors_query(e, 0, 100, &all, &err), LH_OK);
    assert_int_equal(json_array_size(all), 1);
    json_decref(all);
    base->on_error = NULL;
    lh_errors_close(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t_append_flush_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(t_scan_during_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(t_background_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(t_recovers_dead_process, setup, teardown),
        cmocka_unit_test_setup_teardown(t_store_outage, setup, teardown),
        cmocka_unit_test_setup_teardown(t_concurrent_appenders, setup, teardown),
        cmocka_unit_test_setup_teardown(t_journal_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(t_errors_flush_failing, setup, teardown),
    };
    return cmocka_run_group_tests_name("journal", tests, NULL, NULL);
}
