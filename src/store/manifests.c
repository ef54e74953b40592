/*
 * manifests.c — write-once numbered manifests (lh_manifests.h): the key
 * layout, reading on to the head, and the put-if-absent commit with bounded,
 * jittered exponential backoff.
 */
#include "lakehouse/lh_manifests.h"

#include "lakehouse/lh_mem.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define DIGITS 8

static const char *stem_of(const lh_manifests *log)
{
    return log->stem ? log->stem : "v";
}

char *lh_manifests_key(const lh_manifests *log, int64_t n)
{
    return lh_xasprintf("%s/%s%08" PRId64 ".json", log->dir, stem_of(log), n);
}

bool lh_manifests_parse_name(const lh_manifests *log, const char *name, int64_t *n)
{
    const char *slash = strrchr(name, '/'), *stem = stem_of(log);
    if (slash) name = slash + 1;
    size_t sl = strlen(stem);
    if (strncmp(name, stem, sl) != 0) return false;
    name += sl;
    int64_t v = 0;
    size_t digits = 0;
    for (; name[digits] >= '0' && name[digits] <= '9'; digits++) {
        int d = name[digits] - '0';
        if (v > (INT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    /* %08d: at least 8 digits, no leading zero beyond the padding */
    if (digits < DIGITS || (digits > DIGITS && name[0] == '0') || strcmp(name + digits, ".json") != 0 || v < 1)
        return false;
    *n = v;
    return true;
}

lh_code lh_manifests_read(const lh_manifests *log, int64_t n, json_t **out, lh_err *err)
{
    char *key = lh_manifests_key(log, n);
    json_t *m = NULL;
    lh_code rc = lh_buckets_get_json(log->buckets, log->store, key, &m, err);
    free(key);
    if (rc == LH_OK) *out = m;
    return rc;
}

lh_code lh_manifests_put(const lh_manifests *log, int64_t n, const json_t *m, lh_err *err)
{
    char *text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text) return lh_err_set(err, LH_EINTERNAL, "%s: manifest %" PRId64 " cannot be serialised", log->what, n);
    char *key = lh_manifests_key(log, n);
    lh_code rc = lh_buckets_put(log->buckets, log->store, key, text, strlen(text), LH_PUT_IF_ABSENT, err);
    free(key);
    free(text);
    return rc;
}

struct last {
    const lh_manifests *log;
    size_t prefix;
    int64_t n;
};

static bool keep_highest(void *ctx, const lh_object_info *info)
{
    struct last *l = ctx;
    const char *name = info->key + l->prefix;
    int64_t v;
    if (!strchr(name, '/') && lh_manifests_parse_name(l->log, name, &v) && v > l->n) l->n = v;
    return true;
}

lh_code lh_manifests_last(const lh_manifests *log, int64_t *n, lh_err *err)
{
    char *prefix = lh_xasprintf("%s/", log->dir);
    struct last l = {log, strlen(prefix), 0};
    lh_code rc = lh_store_list(log->store, prefix, keep_highest, &l, err);
    free(prefix);
    *n = rc ? 0 : l.n;
    return rc;
}

lh_code lh_manifests_scan(const lh_manifests *log, int64_t after, lh_manifests_each_fn fn, void *ctx,
                          int64_t *head, lh_err *err)
{
    lh_code rc = LH_OK;
    for (;;) {
        json_t *m;
        rc = lh_manifests_read(log, after + 1, &m, err);
        if (rc == LH_ENOTFOUND) {
            rc = LH_OK;
            break;
        }
        if (rc) break;
        rc = fn(ctx, after + 1, m, err);
        if (rc) break;
        after++;
    }
    if (head) *head = after;
    return rc;
}

lh_code lh_manifests_scan_newest(const lh_manifests *log, lh_manifests_each_fn fn, void *ctx, int64_t *head,
                                 lh_err *err)
{
    int64_t last;
    lh_code rc = lh_manifests_last(log, &last, err);
    if (rc) return rc;
    return lh_manifests_scan(log, last > 0 ? last - 1 : 0, fn, ctx, head, err);
}

/* A random 1..min(MAX, MIN * 2^attempt) ms: spread out, so that writers
 * that just collided do not collide again. */
static void backoff(int attempt)
{
    long cap = LH_MANIFESTS_BACKOFF_MIN_MS;
    for (int i = 0; i < attempt && cap < LH_MANIFESTS_BACKOFF_MAX_MS; i++) cap *= 2;
    if (cap > LH_MANIFESTS_BACKOFF_MAX_MS) cap = LH_MANIFESTS_BACKOFF_MAX_MS;
    unsigned r = 0;
    if (getrandom(&r, sizeof r, 0) != sizeof r) r = (unsigned)clock();
    long ms = 1 + (long)(r % (unsigned)cap);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

lh_code lh_manifests_commit(const lh_manifests *log, const lh_manifests_writer *w, void *ctx, int64_t expect_head,
                            json_t **out, int64_t *number, lh_err *err)
{
    int max = log->max_attempts > 0 ? log->max_attempts : LH_MANIFESTS_MAX_ATTEMPTS;
    for (int attempt = 0;; attempt++) {
        int64_t head = 0;
        lh_code rc = w->refresh(ctx, &head, err);
        if (rc) return rc;
        if (expect_head != LH_MANIFESTS_ANY_HEAD && head != expect_head)
            return lh_err_set(err, LH_ECONFLICT, "%s is at version %" PRId64 ", not %" PRId64 " as the request expected",
                              log->what, head, expect_head);
        if (attempt >= max)
            return lh_err_set(err, LH_ECONFLICT, "%s: gave up after %d conflicting attempts", log->what, attempt);
        json_t *m = NULL;
        rc = w->build(ctx, head + 1, &m, err);
        if (rc) return rc;
        rc = lh_manifests_put(log, head + 1, m, err);
        if (rc == LH_OK) {
            *out = m;
            if (number) *number = head + 1;
            return LH_OK;
        }
        json_decref(m);
        if (rc != LH_EEXIST) return rc;
        backoff(attempt); /* another writer took head + 1: catch up and build on top of it */
    }
}
