/*
 * buckets.c — the bucket registry: opening from configuration, rescue reads,
 * mirrored writes and health.
 */
#include "lakehouse/lh_buckets.h"
#include "lakehouse/lh_log.h"
#include "lakehouse/lh_mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct lh_buckets {
    lh_store **stores;
    size_t n;
    lh_store *def;
    lh_store *rescue;
    bool mirror;
};

static lh_code open_one(const lh_config *cfg, const lh_bucket_config *bc, lh_store **out, lh_err *err)
{
    if (strcmp(bc->backend, "fs") == 0) {
        char *path = bc->path[0] ? lh_xstrdup(bc->path)
                                 : lh_xasprintf("%s/%s", cfg->storage_data_dir, bc->name);
        lh_code rc = lh_store_fs_open(bc->name, path, out, err);
        free(path);
        return rc;
    }
    lh_s3_options o = {.endpoint = bc->endpoint,
                       .region = bc->region,
                       .bucket = bc->bucket[0] ? bc->bucket : bc->name,
                       .prefix = bc->prefix_in_bucket,
                       .path_style = bc->path_style != 0,
                       .access_key_id = bc->access_key_id,
                       .secret_access_key = bc->secret_access_key,
                       .multipart_threshold = (uint64_t)bc->multipart_threshold,
                       .part_size = (uint64_t)bc->part_size,
                       .timeout_ms = (long)bc->timeout_ms,
                       .retries = (int)bc->retries};
    lh_code rc = lh_store_s3_open(bc->name, &o, out, err);
    if (rc == LH_EUNAVAILABLE || rc == LH_EUPSTREAM) {
        lh_log(LH_LOG_WARN, "bucket.unreachable_at_start", LH_KV_STR("bucket", bc->name),
               LH_KV_STR("error", err->message));
        o.lazy = true;
        rc = lh_store_s3_open(bc->name, &o, out, err);
    }
    return rc;
}

lh_code lh_buckets_open(const lh_config *cfg, lh_buckets **out, lh_err *err)
{
    lh_buckets *b = lh_xcalloc(1, sizeof *b);
    lh_bucket_config implicit = {0};
    const lh_bucket_config *list = cfg->buckets;
    size_t n = cfg->n_buckets;
    if (n == 0) {
        implicit.name = "local";
        implicit.backend = "fs";
        implicit.path = "";
        list = &implicit;
        n = 1;
    }
    b->stores = lh_xcalloc(n, sizeof *b->stores);
    lh_code rc = LH_OK;
    for (size_t i = 0; i < n && rc == LH_OK; i++) {
        rc = open_one(cfg, &list[i], &b->stores[i], err);
        if (rc == LH_OK) b->n++;
    }
    const char *def = cfg->storage_default_bucket[0] ? cfg->storage_default_bucket : list[0].name;
    if (rc == LH_OK && !(b->def = lh_buckets_find(b, def)))
        rc = lh_err_set(err, LH_EINVAL, "storage.default_bucket: no bucket named \"%s\"", def);
    if (rc == LH_OK && cfg->storage_rescue_bucket[0]) {
        b->rescue = lh_buckets_find(b, cfg->storage_rescue_bucket);
        if (!b->rescue)
            rc = lh_err_set(err, LH_EINVAL, "storage.rescue_bucket: no bucket named \"%s\"",
                            cfg->storage_rescue_bucket);
        else if (b->rescue == b->def && n > 1)
            rc = lh_err_set(err, LH_EINVAL, "storage.rescue_bucket must differ from the default bucket");
    }
    b->mirror = cfg->storage_rescue_mirror != 0 && b->rescue;
    if (rc) {
        lh_buckets_close(b);
        return rc;
    }
    *out = b;
    return LH_OK;
}

void lh_buckets_close(lh_buckets *b)
{
    if (!b) return;
    for (size_t i = 0; i < b->n; i++) lh_store_close(b->stores[i]);
    free(b->stores);
    free(b);
}

size_t lh_buckets_count(const lh_buckets *b)
{
    return b->n;
}

lh_store *lh_buckets_at(lh_buckets *b, size_t i)
{
    return i < b->n ? b->stores[i] : NULL;
}

lh_store *lh_buckets_find(lh_buckets *b, const char *name)
{
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->stores[i]->name, name) == 0) return b->stores[i];
    return NULL;
}

lh_store *lh_buckets_default(lh_buckets *b)
{
    return b->def;
}

lh_store *lh_buckets_rescue(lh_buckets *b)
{
    return b->rescue;
}

void lh_buckets_observe(lh_buckets *b, lh_store_error_fn fn, void *ctx)
{
    for (size_t i = 0; i < b->n; i++) {
        b->stores[i]->on_error = fn;
        b->stores[i]->on_error_ctx = ctx;
    }
}

lh_code lh_buckets_get(lh_buckets *b, lh_store *s, const char *key, lh_buf *out, bool *rescued,
                       lh_err *err)
{
    *rescued = false;
    size_t start = out->len;
    lh_code rc = lh_store_get(s, key, out, err);
    if (rc == LH_OK || rc == LH_ENOTFOUND || rc == LH_EINVAL || !b->rescue || b->rescue == s)
        return rc;
    out->len = start;
    lh_err rescue_err;
    if (lh_store_get(b->rescue, key, out, &rescue_err) != LH_OK) {
        out->len = start;
        return rc; /* report the primary's failure */
    }
    lh_log(LH_LOG_WARN, "bucket.rescue_read", LH_KV_STR("bucket", s->name), LH_KV_STR("key", key),
           LH_KV_STR("rescue", b->rescue->name));
    *rescued = true;
    return LH_OK;
}

lh_code lh_buckets_put(lh_buckets *b, lh_store *s, const char *key, const void *data, size_t len,
                       unsigned flags, lh_err *err)
{
    lh_code rc = lh_store_put(s, key, data, len, flags, err);
    if (rc == LH_OK && b->mirror && b->rescue != s) {
        lh_err mirror_err;
        lh_store_put(b->rescue, key, data, len, 0, &mirror_err); /* failures reach the observer */
    }
    return rc;
}

lh_code lh_buckets_put_file(lh_buckets *b, lh_store *s, const char *key, const char *path, lh_err *err)
{
    lh_code rc = lh_store_put_file(s, key, path, 0, err);
    if (rc == LH_OK && b->mirror && b->rescue != s) {
        lh_err mirror_err;
        lh_store_put_file(b->rescue, key, path, 0, &mirror_err); /* failures reach the observer */
    }
    return rc;
}

json_t *lh_buckets_health(lh_buckets *b)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < b->n; i++) {
        lh_store *s = b->stores[i];
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        lh_err err;
        lh_code rc = lh_store_check(s, &err);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:b, s:b, s:s, s:f, s:s*, s:b}", "name", s->name, "backend",
                           s->ops->backend, "default", s == b->def, "rescue", s == b->rescue,
                           "status", rc == LH_OK ? "ok" : "failing", "latency_ms", ms, "error",
                           rc == LH_OK ? NULL : err.message, "conditional_writes",
                           s->conditional_writes));
    }
    return arr;
}

lh_code lh_buckets_get_json(lh_buckets *b, lh_store *s, const char *key, json_t **out, lh_err *err)
{
    lh_code rc = LH_OK;
    for (int attempt = 0; attempt < 5; attempt++) {
        lh_buf text = {0};
        bool rescued;
        rc = lh_buckets_get(b, s, key, &text, &rescued, err);
        if (rc) {
            lh_buf_free(&text);
            return rc;
        }
        json_error_t jerr;
        json_t *j = json_loadb(text.data ? text.data : "", text.len, JSON_REJECT_DUPLICATES, &jerr);
        lh_buf_free(&text);
        if (j) {
            *out = j;
            return LH_OK;
        }
        rc = lh_err_set(err, LH_ECORRUPT, "%s: not valid JSON (%s at line %d)", key, jerr.text, jerr.line);
        long ms = 10L << attempt;
        nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
    }
    return rc;
}

lh_code lh_buckets_local_file(lh_buckets *b, const char *cache_dir, const char *bucket, const char *key,
                              uint64_t size, char *out, size_t n, lh_err *err)
{
    lh_store *s = lh_buckets_find(b, bucket);
    if (!s) return lh_err_set(err, LH_ENOTFOUND, "object %s is in bucket \"%s\", which is not configured", key, bucket);
    lh_code rc = lh_store_key_check(key, err); /* keys come from manifests: never a path out of the cache */
    if (rc) return rc;
    if (lh_store_local_path(s, key, out, n)) return LH_OK;
    if ((size_t)snprintf(out, n, "%s/%s/%s", cache_dir, bucket, key) >= n)
        return lh_err_set(err, LH_EINVAL, "cache path for %s is too long", key);
    struct stat st;
    if (stat(out, &st) == 0 && (uint64_t)st.st_size == size) return LH_OK;
    /* make the parent folders, then fetch (lh_store_get_file writes via a temp file) */
    for (char *p = out + strlen(cache_dir) + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(out, 0755) != 0 && errno != EEXIST) {
            rc = lh_err_errno(err, LH_EIO, errno, "cannot create the cache folder %s", out);
            *p = '/';
            return rc;
        }
        *p = '/';
    }
    rc = lh_store_get_file(s, key, out, err);
    if (rc == LH_OK) lh_log(LH_LOG_DEBUG, "bucket.cache_fill", LH_KV_STR("bucket", bucket), LH_KV_STR("key", key));
    return rc;
}
