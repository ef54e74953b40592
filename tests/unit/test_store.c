/*
 * test_store.c — one conformance suite, run over both backends (src/store/):
 * the local-folder store, and the S3 store against a real s3rver (started by
 * scripts/with-s3rver; see tests/s3/s3rver.mjs). Then what is specific to
 * each: path containment on fs; signatures, retries, multipart and the
 * conditional-write probe on S3.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- fixtures ---- */

struct fixture {
    lh_store *store;
    char *dir;    /* fs: the temp folder holding the bucket folder */
    int observed; /* failures reported to the error observer */
    char last_op[16];
};

static void observe(void *ctx, const char *op, const char *bucket, const char *key, const lh_err *err)
{
    (void)bucket;
    (void)key;
    (void)err;
    struct fixture *f = ctx;
    f->observed++;
    snprintf(f->last_op, sizeof f->last_op, "%s", op);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int fs_setup(void **state)
{
    struct fixture *f = lh_xcalloc(1, sizeof *f);
    char tmpl[] = "/tmp/lh-store-XXXXXX";
    f->dir = lh_xstrdup(mkdtemp(tmpl));
    char *root = lh_xasprintf("%s/bucket", f->dir);
    lh_err err;
    if (lh_store_fs_open("local", root, &f->store, &err)) {
        fprintf(stderr, "fs open: %s\n", err.message);
        return -1;
    }
    free(root);
    f->store->on_error = observe;
    f->store->on_error_ctx = f;
    *state = f;
    return 0;
}

static int fs_teardown(void **state)
{
    struct fixture *f = *state;
    lh_store_close(f->store);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f->dir);
    free(f);
    return 0;
}

static char *unique_prefix(void)
{
    static int n;
    return lh_xasprintf("t%d-%ld-%d/", (int)getpid(), (long)time(NULL), n++);
}

static lh_s3_options s3_options(const char *endpoint, const char *prefix)
{
    lh_s3_options o = {.endpoint = endpoint,
                       .region = "us-east-1",
                       .bucket = getenv("LH_TEST_S3_BUCKET"),
                       .prefix = prefix,
                       .path_style = true,
                       .multipart_threshold = 6 << 20,
                       .part_size = 5 << 20,
                       .timeout_ms = 10000,
                       .retries = 2};
    return o;
}

static int s3_setup(void **state)
{
    const char *endpoint = getenv("LH_TEST_S3_ENDPOINT");
    if (!endpoint) {
        fprintf(stderr, "LH_TEST_S3_ENDPOINT is not set: run under scripts/with-s3rver\n");
        return -1;
    }
    struct fixture *f = lh_xcalloc(1, sizeof *f);
    char *prefix = unique_prefix();
    lh_s3_options o = s3_options(endpoint, prefix);
    lh_err err;
    lh_code rc = lh_store_s3_open("remote", &o, &f->store, &err);
    free(prefix);
    if (rc) {
        fprintf(stderr, "s3 open: %s\n", err.message);
        return -1;
    }
    f->store->on_error = observe;
    f->store->on_error_ctx = f;
    *state = f;
    return 0;
}

static int s3_teardown(void **state)
{
    struct fixture *f = *state;
    lh_store_close(f->store);
    free(f);
    return 0;
}

static lh_store *S(void **state)
{
    return ((struct fixture *)*state)->store;
}

/* ---- the conformance suite ---- */

static void t_put_get(void **state)
{
    lh_store *s = S(state);
    lh_err err;
    lh_buf b = {0};
    assert_int_equal(lh_store_put(s, "a/b/c.txt", "hello", 5, 0, &err), LH_OK);
    assert_int_equal(lh_store_get(s, "a/b/c.txt", &b, &err), LH_OK);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "hello", 5);
    /* overwrite replaces the whole object */
    assert_int_equal(lh_store_put(s, "a/b/c.txt", "bye", 3, 0, &err), LH_OK);
    lh_buf_reset(&b);
    assert_int_equal(lh_store_get(s, "a/b/c.txt", &b, &err), LH_OK);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "bye", 3);
    /* empty and binary objects */
    assert_int_equal(lh_store_put(s, "empty", "", 0, 0, &err), LH_OK);
    lh_buf_reset(&b);
    assert_int_equal(lh_store_get(s, "empty", &b, &err), LH_OK);
    assert_int_equal(b.len, 0);
    char bin[256];
    for (int i = 0; i < 256; i++) bin[i] = (char)i;
    assert_int_equal(lh_store_put(s, "bin", bin, sizeof bin, 0, &err), LH_OK);
    lh_buf_reset(&b);
    assert_int_equal(lh_store_get(s, "bin", &b, &err), LH_OK);
    assert_int_equal(b.len, 256);
    assert_memory_equal(b.data, bin, 256);
    lh_buf_free(&b);
}

static void t_missing(void **state)
{
    lh_store *s = S(state);
    struct fixture *f = *state;
    lh_err err;
    lh_buf b = {0};
    int before = f->observed;
    assert_int_equal(lh_store_get(s, "no/such/key", &b, &err), LH_ENOTFOUND);
    lh_object_info info;
    assert_int_equal(lh_store_head(s, "no/such/key", &info, &err), LH_ENOTFOUND);
    assert_int_equal(f->observed, before); /* absence is an answer, not a failure */
    lh_buf_free(&b);
}

static void t_range(void **state)
{
    lh_store *s = S(state);
    lh_err err;
    lh_buf b = {0};
    assert_int_equal(lh_store_put(s, "range", "0123456789", 10, 0, &err), LH_OK);
    assert_int_equal(lh_store_get_range(s, "range", 2, 3, &b, &err), LH_OK);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "234", 3);
    lh_buf_reset(&b);
    assert_int_equal(lh_store_get_range(s, "range", 7, LH_STORE_TO_END, &b, &err), LH_OK);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "789", 3);
    lh_buf_reset(&b);
    assert_int_equal(lh_store_get_range(s, "range", 8, 100, &b, &err), LH_OK); /* clamped */
    assert_int_equal(b.len, 2);
    lh_buf_reset(&b);
    assert_int_equal(lh_store_get_range(s, "range", 50, 5, &b, &err), LH_EINVAL);
    lh_buf_free(&b);
}

static void t_head(void **state)
{
    lh_store *s = S(state);
    lh_err err;
    assert_int_equal(lh_store_put(s, "h/obj", "12345", 5, 0, &err), LH_OK);
    lh_object_info info;
    assert_int_equal(lh_store_head(s, "h/obj", &info, &err), LH_OK);
    assert_string_equal(info.key, "h/obj");
    assert_int_equal(info.size, 5);
    assert_true(info.mtime_ms > 1600000000000LL);
    /* a "directory" is not an object */
    assert_int_equal(lh_store_head(s, "h", &info, &err), LH_ENOTFOUND);
}

static void t_if_absent(void **state)
{
    lh_store *s = S(state);
    lh_err err;
    assert_int_equal(lh_store_put(s, "once", "first", 5, LH_PUT_IF_ABSENT, &err), LH_OK);
    assert_int_equal(lh_store_put(s, "once", "second", 6, LH_PUT_IF_ABSENT, &err), LH_EEXIST);
    lh_buf b = {0};
    assert_int_equal(lh_store_get(s, "once", &b, &err), LH_OK);
    assert_string_equal(b.data, "first");
    lh_buf_free(&b);
}

struct race {
    lh_store *store;
    char key[64];
    int id;
    lh_code rc;
};

static void *race_put(void *arg)
{
    struct race *r = arg;
    char body[32];
    snprintf(body, sizeof body, "writer-%d", r->id);
    lh_err err;
    r->rc = lh_store_put(r->store, r->key, body, strlen(body), LH_PUT_IF_ABSENT, &err);
    return NULL;
}

static void t_if_absent_race(void **state)
{
    lh_store *s = S(state);
    for (int round = 0; round < 5; round++) {
        enum { N = 8 };
        pthread_t t[N];
        struct race r[N];
        for (int i = 0; i < N; i++) {
            r[i] = (struct race){.store = s, .id = i};
            snprintf(r[i].key, sizeof r[i].key, "race/v%d.json", round);
            pthread_create(&t[i], NULL, race_put, &r[i]);
        }
        int winners = 0, winner = -1;
        for (int i = 0; i < N; i++) {
            pthread_join(t[i], NULL);
            if (r[i].rc == LH_OK) {
                winners++;
                winner = i;
            } else {
                assert_int_equal(r[i].rc, LH_EEXIST);
            }
        }
        assert_int_equal(winners, 1);
        lh_buf b = {0};
        lh_err err;
        assert_int_equal(lh_store_get(s, r[0].key, &b, &err), LH_OK);
        char want[32];
        snprintf(want, sizeof want, "writer-%d", winner);
        assert_string_equal(b.data, want);
        lh_buf_free(&b);
    }
}

struct collected {
    char keys[64][LH_STORE_KEY_MAX + 1];
    uint64_t sizes[64];
    int n, stop_after;
};

static bool collect(void *ctx, const lh_object_info *info)
{
    struct collected *c = ctx;
    if (c->n < 64) {
        snprintf(c->keys[c->n], sizeof c->keys[0], "%s", info->key);
        c->sizes[c->n] = info->size;
    }
    c->n++;
    return c->stop_after == 0 || c->n < c->stop_after;
}

static void t_list(void **state)
{
    lh_store *s = S(state);
    lh_err err;
    const char *keys[] = {"ls/b/2", "ls/a", "ls/b/1", "ls/c/d/e", "ls/bb", "lsx"};
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(lh_store_put(s, keys[i], "xyz", 3, 0, &err), LH_OK);
    struct collected c = {0};
    assert_int_equal(lh_store_list(s, "ls/", collect, &c, &err), LH_OK);
    assert_int_equal(c.n, 5);
    const char *want[] = {"ls/a", "ls/b/1", "ls/b/2", "ls/bb", "ls/c/d/e"};
    for (int i = 0; i < 5; i++) {
        assert_string_equal(c.keys[i], want[i]);
        assert_int_equal(c.sizes[i], 3);
    }
    memset(&c, 0, sizeof c);
    assert_int_equal(lh_store_list(s, "ls/b", collect, &c, &err), LH_OK); /* partial segment */
    assert_int_equal(c.n, 3);
    assert_string_equal(c.keys[2], "ls/bb");
    memset(&c, 0, sizeof c);
    assert_int_equal(lh_store_list(s, "ls/b/", collect, &c, &err), LH_OK);
    assert_int_equal(c.n, 2);
    memset(&c, 0, sizeof c);
    assert_int_equal(lh_store_list(s, "nothing-here/", collect, &c, &err), LH_OK);
    assert_int_equal(c.n, 0);
    memset(&c, 0, sizeof c);
    c.stop_after = 2;
    assert_int_equal(lh_store_list(s, "ls/", collect, &c, &err), LH_OK);
    assert_int_equal(c.n, 2);
    assert_int_equal(lh_store_list(s, "../", collect, &c, &err), LH_EINVAL);
}

static void t_delete(void **state)
{
    lh_store *s = S(state);
    lh_err err;
    assert_int_equal(lh_store_put(s, "del/x", "1", 1, 0, &err), LH_OK);
    assert_int_equal(lh_store_delete(s, "del/x", &err), LH_OK);
    lh_buf b = {0};
    assert_int_equal(lh_store_get(s, "del/x", &b, &err), LH_ENOTFOUND);
    assert_int_equal(lh_store_delete(s, "del/x", &err), LH_OK); /* idempotent */
    /* a deleted key can be created again, even with IF_ABSENT */
    assert_int_equal(lh_store_put(s, "del/x", "2", 1, LH_PUT_IF_ABSENT, &err), LH_OK);
    lh_buf_free(&b);
}

static void t_unicode_keys(void **state)
{
    lh_store *s = S(state);
    lh_err err;
    /* XML-special characters (& < >) round-trip through put and get everywhere, but
     * s3rver double-escapes them in listings (botocore sees the same), so the
     * listed keys below avoid them. */
    const char *keys[] = {"données/été 2024.csv", "sym/a+b=c%d", "sym/space here", "日本/語",
                          "xml/a&b<c>'\""};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(lh_store_put(s, keys[i], keys[i], strlen(keys[i]), 0, &err), LH_OK);
        lh_buf b = {0};
        assert_int_equal(lh_store_get(s, keys[i], &b, &err), LH_OK);
        assert_string_equal(b.data, keys[i]);
        lh_buf_free(&b);
    }
    struct collected c = {0};
    assert_int_equal(lh_store_list(s, "sym/", collect, &c, &err), LH_OK);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.keys[0], "sym/a+b=c%d");
    assert_string_equal(c.keys[1], "sym/space here");
}

static void t_hostile_keys(void **state)
{
    lh_store *s = S(state);
    lh_err err;
    char long_key[LH_STORE_KEY_MAX + 2];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    const char *bad[] = {"",          "/etc/passwd",  "../escape",      "a/../../b",  "a/./b",
                         "a//b",      "trailing/",    ".",              "..",         "a\\b",
                         "ctl\x01",   "tab\there",    "\xff\xfe",       "\xC0\xAF",   ".lh-tmp/x",
                         "bidi\xE2\x80\xAEtxt.exe",     "zero\xE2\x80\x8Bwidth",      "c1\xC2\x85",
                         long_key};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (lh_store_put(s, bad[i], "x", 1, 0, &err) != LH_EINVAL)
            fail_msg("key #%zu \"%s\" was accepted", i, bad[i]);
        assert_true(strlen(err.message) > 0);
        lh_buf b = {0};
        assert_int_equal(lh_store_get(s, bad[i], &b, &err), LH_EINVAL);
        assert_int_equal(lh_store_delete(s, bad[i], &err), LH_EINVAL);
        lh_buf_free(&b);
    }
    /* NUL inside a key cannot even be expressed past the first byte: the key ends there */
    assert_int_equal(lh_store_key_check("ok/key", &err), LH_OK);
    /* a managed folder's bare name would shadow the folder: no writer may take it */
    const char *bare[] = {"_catalog", "_journal", "_errors", "_vectors", "_tmp", "datasets"};
    for (size_t i = 0; i < sizeof bare / sizeof bare[0]; i++) {
        if (lh_store_put(s, bare[i], "x", 1, 0, &err) != LH_EFORBIDDEN) fail_msg("bare \"%s\" was accepted", bare[i]);
        assert_string_equal(lh_store_key_managed(bare[i]), bare[i]);
    }
    assert_null(lh_store_key_managed("_errorsx/a"));
    assert_string_equal(lh_store_key_managed("_errors/seg"), "_errors");
    assert_int_equal(lh_store_put(s, "_errors/seg", "x", 1, 0, &err), LH_OK);
}

static void t_files(void **state)
{
    lh_store *s = S(state);
    lh_err err;
    char src[] = "/tmp/lh-store-src-XXXXXX";
    int fd = mkstemp(src);
    /* 13 MiB: over the S3 fixture's multipart threshold, so it goes in 3 parts */
    size_t n = 13u << 20;
    char *data = lh_xmalloc(n);
    for (size_t i = 0; i < n; i++) data[i] = (char)(i * 2654435761u >> 24);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
    assert_int_equal(lh_store_put_file(s, "big/blob", src, 0, &err), LH_OK);
    char dst[] = "/tmp/lh-store-dst-XXXXXX";
    close(mkstemp(dst));
    assert_int_equal(lh_store_get_file(s, "big/blob", dst, &err), LH_OK);
    struct stat st;
    assert_int_equal(stat(dst, &st), 0);
    assert_int_equal((size_t)st.st_size, n);
    lh_buf b = {0};
    assert_int_equal(lh_store_get_range(s, "big/blob", n - 100, 100, &b, &err), LH_OK);
    assert_memory_equal(b.data, data + n - 100, 100);
    /* put-if-absent from a file */
    assert_int_equal(lh_store_put_file(s, "big/blob", src, LH_PUT_IF_ABSENT, &err), LH_EEXIST);
    assert_int_equal(lh_store_get_file(s, "big/missing", dst, &err), LH_ENOTFOUND);
    assert_int_equal(lh_store_put_file(s, "big/x", "/no/such/file", 0, &err), LH_EIO);
    /* a finished file shared with the store (a hard link on a local bucket):
     * the object outlives the caller's name, and put-if-absent still holds */
    assert_int_equal(lh_store_put_file(s, "big/shared", src, LH_PUT_IF_ABSENT | LH_PUT_SHARE_FILE, &err), LH_OK);
    assert_int_equal(lh_store_put_file(s, "big/shared", src, LH_PUT_IF_ABSENT | LH_PUT_SHARE_FILE, &err), LH_EEXIST);
    unlink(src);
    lh_buf_reset(&b);
    assert_int_equal(lh_store_get_range(s, "big/shared", 0, 100, &b, &err), LH_OK);
    assert_memory_equal(b.data, data, 100);
    lh_object_info info;
    assert_int_equal(lh_store_head(s, "big/shared", &info, &err), LH_OK);
    assert_int_equal(info.size, n);
    lh_buf_free(&b);
    free(data);
    unlink(dst);
}

static void t_check(void **state)
{
    lh_err err;
    assert_int_equal(lh_store_check(S(state), &err), LH_OK);
}

/* ---- fs only ---- */

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void t_fs_containment(void **state)
{
    struct fixture *f = *state;
    lh_err err;
    /* every hostile key above was refused: nothing appeared beside the bucket folder */
    assert_int_equal(count_entries(f->dir), 1);
    char path[4096];
    assert_true(lh_store_local_path(f->store, "a/b/c.txt", path, sizeof path));
    assert_non_null(strstr(path, "/bucket/a/b/c.txt"));
    assert_false(lh_store_local_path(f->store, "../x", path, sizeof path));
    /* no temp files are left behind by completed writes */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/bucket/.lh-tmp", f->dir);
    assert_int_equal(count_entries(tmp), 0);
    (void)err;
}

/* ---- s3 only ---- */

static void t_s3_no_conditional_writes_detected(void **state)
{
    (void)state;
    const char *plain = getenv("LH_TEST_S3_PLAIN_ENDPOINT");
    assert_non_null(plain);
    lh_s3_options o = s3_options(plain, "probe/");
    lh_store *s;
    lh_err err;
    assert_int_equal(lh_store_s3_open("plain", &o, &s, &err), LH_OK);
    assert_false(s->conditional_writes);
    lh_store_close(s);
    assert_true(((struct fixture *)*state)->store->conditional_writes);
}

static void t_s3_bad_credentials(void **state)
{
    (void)state;
    lh_s3_options o = s3_options(getenv("LH_TEST_S3_ENDPOINT"), "x/");
    o.access_key_id = "S3RVER";
    o.secret_access_key = "wrong-secret";
    lh_store *s;
    lh_err err;
    assert_int_equal(lh_store_s3_open("creds", &o, &s, &err), LH_EFORBIDDEN);
    assert_non_null(strstr(err.message, "SignatureDoesNotMatch"));
    o.bucket = "no-such-bucket";
    o.secret_access_key = NULL;
    assert_int_equal(lh_store_s3_open("nobucket", &o, &s, &err), LH_EIO);
    assert_non_null(strstr(err.message, "does not exist"));
}

static void t_s3_unreachable(void **state)
{
    struct fixture *f = *state;
    (void)f;
    lh_s3_options o = s3_options("http://127.0.0.1:9", "x/"); /* discard port: refused */
    o.retries = 2;
    o.timeout_ms = 500;
    lh_store *s;
    lh_err err;
    assert_int_equal(lh_store_s3_open("down", &o, &s, &err), LH_EUNAVAILABLE);
    assert_non_null(strstr(err.message, "after 3 attempts"));
}

static void t_s3_observer(void **state)
{
    struct fixture *f = *state;
    /* an S3 store whose bucket vanished reports failures to its observer */
    lh_s3_options o = s3_options(getenv("LH_TEST_S3_ENDPOINT"), "obs/");
    lh_store *s;
    lh_err err;
    assert_int_equal(lh_store_s3_open("obs", &o, &s, &err), LH_OK);
    s->on_error = observe;
    s->on_error_ctx = f;
    int before = f->observed;
    lh_buf b = {0};
    assert_int_equal(lh_store_get_range(s, "nope", 0, 10, &b, &err), LH_ENOTFOUND);
    assert_int_equal(f->observed, before);
    assert_int_equal(lh_store_put(s, "ok", "1", 1, 0, &err), LH_OK);
    assert_int_equal(lh_store_get_range(s, "ok", 5, 1, &b, &err), LH_EINVAL); /* 416 */
    assert_int_equal(f->observed, before + 1);
    assert_string_equal(f->last_op, "get");
    lh_buf_free(&b);
    lh_store_close(s);
}

#define CONFORMANCE(prefix, setup, teardown)                                                       \
    cmocka_unit_test_setup_teardown(t_put_get, setup, teardown),                                   \
        cmocka_unit_test_setup_teardown(t_missing, setup, teardown),                               \
        cmocka_unit_test_setup_teardown(t_range, setup, teardown),                                 \
        cmocka_unit_test_setup_teardown(t_head, setup, teardown),                                  \
        cmocka_unit_test_setup_teardown(t_if_absent, setup, teardown),                             \
        cmocka_unit_test_setup_teardown(t_if_absent_race, setup, teardown),                        \
        cmocka_unit_test_setup_teardown(t_list, setup, teardown),                                  \
        cmocka_unit_test_setup_teardown(t_delete, setup, teardown),                                \
        cmocka_unit_test_setup_teardown(t_unicode_keys, setup, teardown),                          \
        cmocka_unit_test_setup_teardown(t_files, setup, teardown),                                 \
        cmocka_unit_test_setup_teardown(t_check, setup, teardown)

static void t_fs_hostile_then_contained(void **state)
{
    t_hostile_keys(state);
    t_fs_containment(state);
}

int main(void)
{
    const struct CMUnitTest fs_tests[] = {
        CONFORMANCE(fs, fs_setup, fs_teardown),
        cmocka_unit_test_setup_teardown(t_fs_hostile_then_contained, fs_setup, fs_teardown),
    };
    const struct CMUnitTest s3_tests[] = {
        CONFORMANCE(s3, s3_setup, s3_teardown),
        cmocka_unit_test_setup_teardown(t_hostile_keys, s3_setup, s3_teardown),
        cmocka_unit_test_setup_teardown(t_s3_no_conditional_writes_detected, s3_setup, s3_teardown),
        cmocka_unit_test_setup_teardown(t_s3_bad_credentials, s3_setup, s3_teardown),
        cmocka_unit_test_setup_teardown(t_s3_unreachable, s3_setup, s3_teardown),
        cmocka_unit_test_setup_teardown(t_s3_observer, s3_setup, s3_teardown),
    };
    int failed = cmocka_run_group_tests_name("store_fs", fs_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("store_s3", s3_tests, NULL, NULL);
    return failed;
}
