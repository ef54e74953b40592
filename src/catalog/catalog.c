/*
 * catalog.c — datasets, versions, commits with put-if-absent, rebuild.
 *
 * Concurrency: within a process, a dataset's mutex serialises its commits
 * (fewer wasted attempts); across processes, only the put-if-absent of the
 * version file decides who gets version N+1 (lh_manifests.h: the protocol,
 * key layout and retry policy). A loser re-reads the head and rebuilds its
 * manifest on top of it. Reads of a version racing its write on
 * an S3 server without atomic visibility can see a torn object: such a read
 * is retried before it is called corrupt.
 *
 * Opening reads one manifest per dataset, its head, found from a listing;
 * older versions are read when asked for (a dataset appended to hourly has
 * thousands, and a manifest lists every object of its version). Rebuild
 * reads them all.
 */
#include "lakehouse/lh_catalog.h"
#include "lakehouse/lh_log.h"
#include "lakehouse/lh_manifests.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_sha256.h"
#include "lakehouse/lh_time.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_COMMIT_ATTEMPTS 1000
#define PURGE_GRACE_MS (3600LL * 1000)

struct dataset {
    char *name;
    lh_store *bucket;
    json_t *head;      /* newest known manifest */
    json_t *summaries; /* index = version - 1: a summary, null where unreadable, false until read */
    pthread_mutex_t mu;
    char *dir, *what;  /* of the version log */
    lh_manifests log;  /* _catalog/datasets/<name>/v<N>.json */
};

struct lh_catalog {
    lh_buckets *buckets;
    lh_journal *journal;
    pthread_rwlock_t lock; /* the dataset table */
    struct dataset **ds;
    size_t n, cap;
    lh_catalog_observer observer;
    void *observer_ctx;
    lh_catalog_purge_keeper keeper;
    void *keeper_ctx;
    pthread_mutex_t corrupt_mu;
    json_t *corrupt; /* object: where -> {dataset, where, error}: what failed its checks */
};

void lh_catalog_note_corrupt(lh_catalog *c, const char *dataset, const char *where, const char *message)
{
    if (!c || !where) return;
    pthread_mutex_lock(&c->corrupt_mu);
    if (!json_object_get(c->corrupt, where)) {
        lh_log(LH_LOG_ERROR, "catalog.corrupt", LH_KV_STR("dataset", dataset ? dataset : "-"),
               LH_KV_STR("where", where), LH_KV_STR("error", message ? message : ""));
        json_object_set_new(c->corrupt, where,
                            json_pack("{s:s?, s:s, s:s?}", "dataset", dataset, "where", where, "error", message));
    }
    pthread_mutex_unlock(&c->corrupt_mu);
}

size_t lh_catalog_corrupt_count(lh_catalog *c)
{
    pthread_mutex_lock(&c->corrupt_mu);
    size_t n = json_object_size(c->corrupt);
    pthread_mutex_unlock(&c->corrupt_mu);
    return n;
}

json_t *lh_catalog_corrupt(lh_catalog *c)
{
    json_t *out = json_array();
    pthread_mutex_lock(&c->corrupt_mu);
    const char *k;
    json_t *v;
    json_object_foreach(c->corrupt, k, v) json_array_append(out, v);
    pthread_mutex_unlock(&c->corrupt_mu);
    return out;
}

/* Records a corrupt version of ds (its manifest's key) for health. */
static void note_version(lh_catalog *c, struct dataset *ds, int64_t v, const lh_err *err);

/* ---- small helpers ---- */

static void now_iso(char out[LH_TIME_ISO_LEN])
{
    lh_time_iso8601(lh_time_now_ms(), out);
}

static int64_t head_version(const struct dataset *ds)
{
    return ds->head ? json_integer_value(json_object_get(ds->head, "version")) : 0;
}

static json_t *summary_of(const json_t *m)
{
    return json_pack("{s:O, s:O, s:O, s:O, s:O, s:O?, s:O, s:O, s:I, s:I}", "version",
                     json_object_get(m, "version"), "parent", json_object_get(m, "parent"),
                     "operation", json_object_get(m, "operation"), "created_at",
                     json_object_get(m, "created_at"), "author", json_object_get(m, "author"),
                     "message", json_object_get(m, "message"), "row_count",
                     json_object_get(m, "row_count"), "deleted", json_object_get(m, "deleted"),
                     "objects", (json_int_t)json_array_size(json_object_get(m, "objects")),
                     "tombstones", (json_int_t)json_array_size(json_object_get(m, "tombstones")));
}

/* Sets version v's entry in ds->summaries (stolen), the ones before it that
 * are not there yet to false (not read). */
static void put_summary(struct dataset *ds, int64_t v, json_t *summary)
{
    while ((int64_t)json_array_size(ds->summaries) < v - 1) json_array_append_new(ds->summaries, json_false());
    if ((int64_t)json_array_size(ds->summaries) == v - 1) json_array_append_new(ds->summaries, summary);
    else json_array_set_new(ds->summaries, (size_t)v - 1, summary);
}

static void fingerprint(json_t *fields, char out[65])
{
    lh_buf canon = {0};
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f) {
        lh_buf_printf(&canon, "%s\t%s\n", json_string_value(json_object_get(f, "name")),
                      json_string_value(json_object_get(f, "type")));
    }
    lh_sha256_hex(canon.data ? canon.data : "", canon.len, out);
    lh_buf_free(&canon);
}

static json_t *schema_of(json_t *fields)
{
    char fp[65];
    fingerprint(fields, fp);
    return json_pack("{s:O, s:s}", "fields", fields, "fingerprint", fp);
}

/* ---- reading manifests ---- */

/* Storage is untrusted: version v (just read, rc its read's outcome) must
 * be a valid manifest of this dataset and version. */
static lh_code check_manifest(struct dataset *ds, int64_t v, lh_code rc, json_t *m, lh_err *err)
{
    if (rc == LH_OK) rc = lh_manifest_validate(m, err);
    if (rc == LH_OK && (strcmp(json_string_value(json_object_get(m, "dataset")), ds->name) != 0 ||
                        json_integer_value(json_object_get(m, "version")) != v)) {
        char *key = lh_manifests_key(&ds->log, v);
        rc = lh_err_set(err, LH_ECORRUPT, "%s does not describe %s version %lld", key, ds->name,
                        (long long)v);
        free(key);
    }
    return rc;
}

static void note_version(lh_catalog *c, struct dataset *ds, int64_t v, const lh_err *err)
{
    char *key = lh_manifests_key(&ds->log, v);
    char *where = lh_xasprintf("%s/%s", ds->bucket->name, key);
    lh_catalog_note_corrupt(c, ds->name, where, err ? err->message : NULL);
    free(where);
    free(key);
}

static lh_code read_manifest(lh_catalog *c, struct dataset *ds, int64_t v, json_t **out, lh_err *err)
{
    json_t *m = NULL;
    lh_code rc = lh_manifests_read(&ds->log, v, &m, err);
    rc = check_manifest(ds, v, rc, m, err);
    if (rc == LH_ECORRUPT) {
        lh_err_wrap(err, "bucket %s", ds->bucket->name);
        note_version(c, ds, v, err);
    }
    if (rc) {
        json_decref(m);
        return rc;
    }
    *out = m;
    return LH_OK;
}

static lh_code take_version(void *ctx, int64_t v, json_t *m, lh_err *err)
{
    struct dataset *ds = ctx;
    lh_code rc = check_manifest(ds, v, LH_OK, m, err);
    if (rc) {
        json_decref(m);
        return rc;
    }
    json_decref(ds->head);
    ds->head = m;
    put_summary(ds, v, summary_of(m));
    return LH_OK;
}

/* Reads versions past the known head until one is absent. Caller holds ds->mu. */
static lh_code refresh_head(lh_catalog *c, struct dataset *ds, lh_err *err)
{
    lh_code rc = lh_manifests_scan(&ds->log, head_version(ds), take_version, ds, NULL, err);
    if (rc == LH_ECORRUPT) {
        lh_err_wrap(err, "bucket %s", ds->bucket->name);
        note_version(c, ds, head_version(ds) + 1, err);
    }
    return rc;
}

/* Loads the head of a dataset not yet in memory: the highest-numbered
 * version the listing showed (listed) that reads, noting those above it that
 * do not. Versions committed since the listing are read by the next refresh. */
static lh_code load_head(lh_catalog *c, struct dataset *ds, int64_t listed, lh_err *err)
{
    for (int64_t v = listed; v >= 1 && !ds->head; v--) {
        lh_err read_err;
        lh_code rc = read_manifest(c, ds, v, &ds->head, &read_err);
        if (rc != LH_OK && rc != LH_ECORRUPT && rc != LH_ENOTFOUND) {
            *err = read_err;
            return rc;
        }
    }
    if (ds->head) put_summary(ds, head_version(ds), summary_of(ds->head));
    return LH_OK;
}

/* The summary of version v (1..head), read the first time it is asked for:
 * borrowed, null when the version does not read; NULL on an I/O error
 * (err), asked again next time. Caller holds ds->mu. */
static json_t *summary_at(lh_catalog *c, struct dataset *ds, int64_t v, lh_err *err)
{
    json_t *have = json_array_get(ds->summaries, (size_t)v - 1);
    if (have && !json_is_false(have)) return have;
    json_t *m;
    lh_err read_err;
    lh_code rc = read_manifest(c, ds, v, &m, &read_err);
    /* numbers have no gaps: a missing one is damage, as a corrupt one is */
    if (rc != LH_OK && rc != LH_ECORRUPT && rc != LH_ENOTFOUND) {
        if (err) *err = read_err;
        return NULL;
    }
    put_summary(ds, v, rc ? json_null() : summary_of(m));
    if (rc == LH_OK) json_decref(m);
    return json_array_get(ds->summaries, (size_t)v - 1);
}

/* ---- the dataset table ---- */

static struct dataset *find_locked(lh_catalog *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->ds[i]->name, name) == 0) return c->ds[i];
    return NULL;
}

static struct dataset *dataset_new(lh_catalog *c, const char *name, lh_store *bucket)
{
    struct dataset *ds = lh_xcalloc(1, sizeof *ds);
    ds->name = lh_xstrdup(name);
    ds->bucket = bucket;
    ds->summaries = json_array();
    pthread_mutex_init(&ds->mu, NULL);
    ds->dir = lh_xasprintf("_catalog/datasets/%s", name);
    ds->what = lh_xasprintf("dataset %s", name);
    ds->log = (lh_manifests){.buckets = c->buckets, .store = bucket, .dir = ds->dir, .what = ds->what,
                             .max_attempts = MAX_COMMIT_ATTEMPTS};
    return ds;
}

static void dataset_free(struct dataset *ds)
{
    if (!ds) return;
    json_decref(ds->head);
    json_decref(ds->summaries);
    pthread_mutex_destroy(&ds->mu);
    free(ds->dir);
    free(ds->what);
    free(ds->name);
    free(ds);
}

/* Adds ds unless a dataset of that name is there already; returns the one in the table. */
static struct dataset *table_add(lh_catalog *c, struct dataset *ds)
{
    pthread_rwlock_wrlock(&c->lock);
    struct dataset *have = find_locked(c, ds->name);
    if (have) {
        pthread_rwlock_unlock(&c->lock);
        dataset_free(ds);
        return have;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->ds = lh_xrealloc(c->ds, c->cap * sizeof *c->ds);
    }
    c->ds[c->n++] = ds;
    pthread_rwlock_unlock(&c->lock);
    return ds;
}

/* Looks a dataset up, loading it from storage if another process created it. */
static lh_code lookup(lh_catalog *c, const char *name, struct dataset **out, lh_err *err)
{
    lh_code rc = lh_catalog_name_check(name, err);
    if (rc) return rc;
    pthread_rwlock_rdlock(&c->lock);
    struct dataset *ds = find_locked(c, name);
    pthread_rwlock_unlock(&c->lock);
    if (ds) {
        *out = ds;
        return LH_OK;
    }
    char *claim_key = lh_xasprintf("_catalog/names/%s", name);
    json_t *claim = NULL;
    rc = lh_buckets_get_json(c->buckets, lh_buckets_default(c->buckets), claim_key, &claim, err);
    free(claim_key);
    if (rc == LH_ENOTFOUND) return lh_err_set(err, LH_ENOTFOUND, "no dataset named \"%s\"", name);
    if (rc) return rc;
    const char *bucket_name = json_string_value(json_object_get(claim, "bucket"));
    lh_store *bucket = bucket_name ? lh_buckets_find(c->buckets, bucket_name) : NULL;
    json_decref(claim);
    if (!bucket)
        return lh_err_set(err, LH_ENOTFOUND, "dataset \"%s\" lives in bucket \"%s\", which is not configured",
                          name, bucket_name ? bucket_name : "?");
    ds = dataset_new(c, name, bucket);
    pthread_mutex_lock(&ds->mu);
    int64_t listed;
    rc = lh_manifests_last(&ds->log, &listed, err);
    if (rc == LH_OK) rc = load_head(c, ds, listed, err);
    if (rc == LH_OK) rc = refresh_head(c, ds, err);
    pthread_mutex_unlock(&ds->mu);
    if (rc == LH_ECORRUPT && ds->head) rc = LH_OK; /* older versions stay readable; the head says corrupt */
    if (rc || !ds->head) {
        dataset_free(ds);
        return rc ? rc : lh_err_set(err, LH_ENOTFOUND, "no dataset named \"%s\"", name);
    }
    *out = table_add(c, ds);
    return LH_OK;
}

/* ---- writing versions ---- */

/* Fills a new manifest m (already holding the fixed fields) from the head. */
typedef lh_code (*build_fn)(lh_catalog *c, struct dataset *ds, void *ctx, const json_t *head,
                            json_t *m, lh_err *err);

static json_t *skeleton(const struct dataset *ds, int64_t version, const char *operation,
                        const char *message, const lh_who *who)
{
    char ts[32];
    now_iso(ts);
    return json_pack("{s:i, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s?, s:s, s:b, s:n}", "format", 1,
                     "dataset", ds->name, "version", (json_int_t)version, "parent",
                     (json_int_t)(version - 1), "operation", operation, "created_at", ts, "author",
                     who && who->actor ? who->actor : "anonymous", "source",
                     who && who->source ? who->source : "system", "message", message, "bucket",
                     ds->bucket->name, "deleted", 0, "rollback_of");
}

/* Copies state (schema, objects, tombstones, extra) from src into m. */
static void copy_state(json_t *m, const json_t *src)
{
    json_object_set_new(m, "schema", json_deep_copy(json_object_get(src, "schema")));
    json_object_set_new(m, "objects", json_deep_copy(json_object_get(src, "objects")));
    json_object_set_new(m, "row_count", json_deep_copy(json_object_get(src, "row_count")));
    json_object_set_new(m, "tombstones", json_deep_copy(json_object_get(src, "tombstones")));
    json_t *extra = json_object_get(src, "extra");
    json_object_set_new(m, "extra", extra ? json_deep_copy(extra) : json_object());
}

static void recount_rows(json_t *m)
{
    json_int_t rows = 0;
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(m, "objects"), i, o) rows += json_integer_value(json_object_get(o, "rows"));
    json_object_set_new(m, "row_count", json_integer(rows));
}

static void journal(lh_catalog *c, const char *action, const char *name, json_t *old_value,
                    json_t *new_value, const lh_who *who)
{
    if (!c->journal) return;
    lh_journal_event ev = {.entity_type = "dataset", .entity_id = name, .action = action,
                           .old_value = old_value, .new_value = new_value,
                           .actor = who ? who->actor : NULL, .source = who ? who->source : NULL};
    lh_journal_record(c->journal, &ev);
}

/* Writes the next version built by fn, retrying on top of any concurrent winner. */
static int64_t num_version(const json_t *m)
{
    return json_integer_value(json_object_get(m, "version"));
}

struct advance {
    lh_catalog *c;
    struct dataset *ds;
    const char *operation, *message;
    bool allow_deleted;
    build_fn fn;
    void *ctx;
    const lh_who *who;
};

static lh_code advance_refresh(void *ctx, int64_t *head, lh_err *err)
{
    struct advance *a = ctx;
    lh_code rc = refresh_head(a->c, a->ds, err);
    *head = head_version(a->ds);
    return rc;
}

static lh_code advance_build(void *ctx, int64_t next, json_t **out, lh_err *err)
{
    struct advance *a = ctx;
    struct dataset *ds = a->ds;
    if (!a->allow_deleted && json_is_true(json_object_get(ds->head, "deleted")))
        return lh_err_set(err, LH_ENOTFOUND, "dataset %s is deleted (roll back to an earlier version to restore it)",
                          ds->name);
    json_t *m = skeleton(ds, next, a->operation, a->message, a->who);
    copy_state(m, ds->head);
    lh_code rc = a->fn(a->c, ds, a->ctx, ds->head, m, err);
    if (rc == LH_OK) {
        recount_rows(m);
        rc = lh_manifest_validate(m, err);
        if (rc) {
            lh_err_wrap(err, "refusing to write an invalid manifest");
            rc = err ? (err->code = LH_EINVAL) : LH_EINVAL;
        }
    }
    if (rc) {
        json_decref(m);
        return rc;
    }
    *out = m;
    return LH_OK;
}

/* Writes the next version built by fn, on top of any concurrent winner
 * (expected_parent: 0, or the head the request was made against). */
static lh_code advance(lh_catalog *c, struct dataset *ds, const char *operation, const char *message,
                       int64_t expected_parent, bool allow_deleted, build_fn fn, void *ctx,
                       const lh_who *who, json_t **out, lh_err *err)
{
    static const lh_manifests_writer writer = {advance_refresh, advance_build};
    struct advance a = {c, ds, operation, message, allow_deleted, fn, ctx, who};
    pthread_mutex_lock(&ds->mu);
    int64_t version = 0;
    lh_code rc = lh_manifests_commit(&ds->log, &writer, &a, expected_parent ? expected_parent : LH_MANIFESTS_ANY_HEAD,
                                     out, &version, err);
    if (rc == LH_OK) {
        json_t *old = json_pack("{s:I}", "version", (json_int_t)(version - 1));
        json_t *new = summary_of(*out);
        json_decref(ds->head);
        ds->head = json_incref(*out);
        put_summary(ds, version, json_incref(new));
        journal(c, operation, ds->name, old, new, who);
        json_decref(old);
        json_decref(new);
    }
    pthread_mutex_unlock(&ds->mu);
    if (rc == LH_OK && c->observer) c->observer(c->observer_ctx, ds->name, num_version(*out));
    return rc;
}

void lh_catalog_observe(lh_catalog *c, lh_catalog_observer fn, void *ctx)
{
    c->observer = fn;
    c->observer_ctx = ctx;
}

void lh_catalog_keep(lh_catalog *c, lh_catalog_purge_keeper fn, void *ctx)
{
    c->keeper = fn;
    c->keeper_ctx = ctx;
}

/* ---- create ---- */

lh_code lh_catalog_create(lh_catalog *c, const char *name, const lh_create_options *opt,
                          const lh_who *who, json_t **out, lh_err *err)
{
    lh_code rc = lh_catalog_name_check(name, err);
    if (rc) return rc;
    lh_store *bucket = lh_buckets_default(c->buckets);
    if (opt && opt->bucket && *opt->bucket && !(bucket = lh_buckets_find(c->buckets, opt->bucket)))
        return lh_err_set(err, LH_EINVAL, "no bucket named \"%s\"", opt->bucket);
    struct dataset *existing;
    lh_err ignored;
    if (lookup(c, name, &existing, &ignored) == LH_OK)
        return lh_err_set(err, LH_EEXIST, "dataset \"%s\" already exists", name);

    /* claim the name in the default bucket: names are unique across buckets */
    char ts[32];
    now_iso(ts);
    json_t *claim = json_pack("{s:s, s:s, s:s}", "bucket", bucket->name, "created_at", ts,
                              "created_by", who && who->actor ? who->actor : "anonymous");
    char *claim_text = json_dumps(claim, JSON_COMPACT | JSON_SORT_KEYS);
    char *claim_key = lh_xasprintf("_catalog/names/%s", name);
    rc = lh_buckets_put(c->buckets, lh_buckets_default(c->buckets), claim_key, claim_text,
                        strlen(claim_text), LH_PUT_IF_ABSENT, err);
    free(claim_key);
    free(claim_text);
    if (rc == LH_EEXIST) {
        /* a claim without version 1 was abandoned by a crashed creator: take it over,
         * as long as it names the same bucket (version 1's put-if-absent decides races) */
        json_decref(claim);
        struct dataset *probe = dataset_new(c, name, bucket);
        json_t *v1;
        lh_err e2;
        lh_code r1 = read_manifest(c, probe, 1, &v1, &e2);
        dataset_free(probe);
        if (r1 == LH_OK) {
            json_decref(v1);
            return lh_err_set(err, LH_EEXIST, "dataset \"%s\" already exists", name);
        }
        if (r1 != LH_ENOTFOUND) {
            if (err) *err = e2;
            return r1;
        }
        char *ck = lh_xasprintf("_catalog/names/%s", name);
        json_t *old_claim;
        rc = lh_buckets_get_json(c->buckets, lh_buckets_default(c->buckets), ck, &old_claim, err);
        free(ck);
        if (rc) return rc;
        const char *claimed = json_string_value(json_object_get(old_claim, "bucket"));
        bool same = claimed && strcmp(claimed, bucket->name) == 0;
        json_decref(old_claim);
        if (!same) return lh_err_set(err, LH_EEXIST, "dataset \"%s\" is being created in bucket %s", name, claimed ? claimed : "?");
        claim = json_pack("{s:s, s:s, s:s}", "bucket", bucket->name, "created_at", ts, "created_by",
                          who && who->actor ? who->actor : "anonymous");
    } else if (rc) {
        json_decref(claim);
        return rc;
    }
    if (opt && opt->description) json_object_set_new(claim, "description", json_string(opt->description));
    json_object_set_new(claim, "name", json_string(name));
    char *desc_text = json_dumps(claim, JSON_COMPACT | JSON_SORT_KEYS);
    char *desc_key = lh_xasprintf("_catalog/datasets/%s/dataset.json", name);
    rc = lh_buckets_put(c->buckets, bucket, desc_key, desc_text, strlen(desc_text), 0, err);
    free(desc_key);
    free(desc_text);
    json_decref(claim);
    if (rc) return rc;

    struct dataset *ds = dataset_new(c, name, bucket);
    /* version 1 starts from an empty state */
    json_t *no_fields = json_array();
    json_t *empty = json_pack("{s:o, s:o, s:i, s:o, s:o}", "schema", schema_of(no_fields), "objects",
                              json_array(), "row_count", 0, "tombstones", json_array(), "extra",
                              json_object());
    json_decref(no_fields);
    pthread_mutex_lock(&ds->mu);
    json_t *m = skeleton(ds, 1, "create", opt && opt->description ? opt->description : NULL, who);
    copy_state(m, empty);
    json_decref(empty);
    rc = lh_manifests_put(&ds->log, 1, m, err);
    if (rc == LH_EEXIST) rc = lh_err_set(err, LH_EEXIST, "dataset \"%s\" already exists", name);
    if (rc == LH_OK) {
        ds->head = json_incref(m);
        put_summary(ds, 1, summary_of(m));
    }
    pthread_mutex_unlock(&ds->mu);
    if (rc) {
        json_decref(m);
        dataset_free(ds);
        return rc;
    }
    table_add(c, ds);
    json_t *new = json_pack("{s:s, s:I}", "bucket", bucket->name, "version", (json_int_t)1);
    journal(c, "create", name, NULL, new, who);
    json_decref(new);
    *out = m;
    return LH_OK;
}

/* ---- commit ---- */

static lh_code build_commit(lh_catalog *c, struct dataset *ds, void *ctx, const json_t *head,
                            json_t *m, lh_err *err)
{
    (void)c, (void)ds, (void)head;
    const lh_commit *req = ctx;
    if (req->objects && !json_is_array(req->objects))
        return lh_err_set(err, LH_EINVAL, "commit objects must be an array");
    json_t *objects = json_object_get(m, "objects");
    if (req->mode == LH_COMMIT_REPLACE) json_array_clear(objects);
    size_t i;
    json_t *o;
    json_array_foreach(req->objects, i, o) {
        json_t *copy = json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?}", "bucket", json_object_get(o, "bucket"),
                                 "key", json_object_get(o, "key"), "size", json_object_get(o, "size"),
                                 "sha256", json_object_get(o, "sha256"), "rows",
                                 json_object_get(o, "rows"));
        json_array_append_new(objects, copy ? copy : json_object());
    }
    if (req->schema) {
        if (!json_is_array(req->schema)) return lh_err_set(err, LH_EINVAL, "commit schema must be an array");
        json_object_set_new(m, "schema", schema_of(req->schema));
    }
    if (req->lineage) json_object_set(m, "lineage", req->lineage);
    json_object_set_new(m, "mode", json_string(req->mode == LH_COMMIT_REPLACE ? "replace" : "append"));
    if (req->extra) {
        if (!json_is_object(req->extra)) return lh_err_set(err, LH_EINVAL, "commit extra must be an object");
        json_object_update(json_object_get(m, "extra"), req->extra);
    }
    if (req->content_hashes) {
        json_t *extra = json_object_get(m, "extra");
        json_t *known = json_object_get(extra, "content_hashes");
        if (!json_is_object(known)) {
            known = json_object();
            json_object_set_new(extra, "content_hashes", known);
        }
        json_t *h;
        json_array_foreach(req->content_hashes, i, h) {
            if (json_is_string(h)) json_object_set(known, json_string_value(h), json_object_get(m, "version"));
        }
    }
    return LH_OK;
}

/* A commit only points at what is there: each object lies in the dataset's
 * own bucket under datasets/<name>/, exists, has the size it claims and, up to
 * LH_COMMIT_HASH_MAX bytes, the sha256 it claims (larger objects are checked by
 * size; their hash is the writer's word, as ingest's content-addressed keys are).
 * Objects of the wrong shape are left to lh_manifest_validate's message. */
static lh_code verify_objects(struct dataset *ds, const json_t *objects, lh_err *err)
{
    char *prefix = lh_xasprintf("datasets/%s/", ds->name);
    size_t plen = strlen(prefix), i;
    json_t *o;
    lh_code rc = LH_OK;
    json_array_foreach(objects, i, o) {
        const char *bucket = json_string_value(json_object_get(o, "bucket"));
        const char *key = json_string_value(json_object_get(o, "key"));
        const char *sha = json_string_value(json_object_get(o, "sha256"));
        json_t *size = json_object_get(o, "size");
        if (!bucket || !key || !sha || !json_is_integer(size) || json_integer_value(size) < 0) continue;
        if (strcmp(bucket, ds->bucket->name) != 0) {
            rc = lh_err_set(err, LH_EINVAL, "object %zu is in bucket \"%s\"; dataset %s lives in bucket \"%s\"", i,
                            bucket, ds->name, ds->bucket->name);
            break;
        }
        if (strncmp(key, prefix, plen) != 0 || lh_store_key_check(key, NULL) != LH_OK) {
            rc = lh_err_set(err, LH_EINVAL, "object %zu: key \"%s\" is not under %s", i, key, prefix);
            break;
        }
        lh_object_info info;
        lh_err head_err;
        rc = lh_store_head(ds->bucket, key, &info, &head_err);
        if (rc == LH_ENOTFOUND) {
            rc = lh_err_set(err, LH_EINVAL, "object %zu: %s/%s does not exist", i, bucket, key);
            break;
        }
        if (rc) {
            if (err) *err = head_err;
            break;
        }
        if (info.size != (uint64_t)json_integer_value(size)) {
            rc = lh_err_set(err, LH_EINVAL, "object %zu: %s/%s holds %llu bytes, not %lld", i, bucket, key,
                            (unsigned long long)info.size, (long long)json_integer_value(size));
            break;
        }
        if (info.size <= LH_COMMIT_HASH_MAX) {
            lh_buf data = {0};
            rc = lh_store_get(ds->bucket, key, &data, err);
            char actual[65];
            if (rc == LH_OK) {
                lh_sha256_hex(data.data, data.len, actual);
                if (strcasecmp(actual, sha) != 0)
                    rc = lh_err_set(err, LH_EINVAL, "object %zu: %s/%s has sha256 %s, not %s", i, bucket, key,
                                    actual, sha);
            }
            lh_buf_free(&data);
            if (rc) break;
        }
    }
    free(prefix);
    return rc;
}

lh_code lh_catalog_commit(lh_catalog *c, const char *name, const lh_commit *req, const lh_who *who,
                          json_t **out, lh_err *err)
{
    struct dataset *ds;
    lh_code rc = lookup(c, name, &ds, err);
    if (rc) return rc;
    if (json_is_array(req->objects) && (rc = verify_objects(ds, req->objects, err))) return rc;
    return advance(c, ds, "commit", req->message, req->expected_parent, false, build_commit,
                   (void *)req, who, out, err);
}

/* ---- rollback, tombstone, delete ---- */

struct rollback_ctx {
    int64_t to;
};

static lh_code build_rollback(lh_catalog *c, struct dataset *ds, void *ctx, const json_t *head,
                              json_t *m, lh_err *err)
{
    struct rollback_ctx *r = ctx;
    int64_t hv = json_integer_value(json_object_get(head, "version"));
    if (r->to < 1 || r->to > hv)
        return lh_err_set(err, LH_ENOTFOUND, "dataset %s has no version %lld (versions 1..%lld)",
                          ds->name, (long long)r->to, (long long)hv);
    json_t *target;
    lh_code rc = read_manifest(c, ds, r->to, &target, err);
    if (rc) return rc;
    copy_state(m, target);
    json_decref(target);
    json_object_set_new(m, "rollback_of", json_integer(r->to));
    return LH_OK;
}

lh_code lh_catalog_rollback(lh_catalog *c, const char *name, int64_t to, const char *message,
                            const lh_who *who, json_t **out, lh_err *err)
{
    struct dataset *ds;
    lh_code rc = lookup(c, name, &ds, err);
    if (rc) return rc;
    struct rollback_ctx r = {to};
    char auto_message[64];
    if (!message) {
        snprintf(auto_message, sizeof auto_message, "rollback to version %lld", (long long)to);
        message = auto_message;
    }
    return advance(c, ds, "rollback", message, 0, true, build_rollback, &r, who, out, err);
}

struct tombstone_ctx {
    const char *key_column;
    json_t *values;
    const char *reason;
    const lh_who *who;
};

static lh_code build_tombstone(lh_catalog *c, struct dataset *ds, void *ctx, const json_t *head,
                               json_t *m, lh_err *err)
{
    (void)c;
    struct tombstone_ctx *t = ctx;
    bool known = false;
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(json_object_get(head, "schema"), "fields"), i, f) {
        known |= strcmp(json_string_value(json_object_get(f, "name")), t->key_column) == 0;
    }
    if (!known)
        return lh_err_set(err, LH_EINVAL, "dataset %s has no column \"%s\"", ds->name, t->key_column);
    if (!json_is_array(t->values) || json_array_size(t->values) == 0)
        return lh_err_set(err, LH_EINVAL, "tombstone needs a non-empty array of key values");
    char ts[32];
    now_iso(ts);
    json_t *list = json_object_get(m, "tombstones");
    json_t *v;
    json_array_foreach(t->values, i, v) {
        char num[64];
        const char *text = json_string_value(v);
        if (!text && json_is_integer(v)) {
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
            text = num;
        }
        if (!text) return lh_err_set(err, LH_EINVAL, "tombstone key values must be strings or integers");
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:s?}", "key_column", t->key_column,
                                              "key_value", text, "deleted_at", ts, "actor",
                                              t->who && t->who->actor ? t->who->actor : "anonymous",
                                              "reason", t->reason));
    }
    return LH_OK;
}

lh_code lh_catalog_tombstone(lh_catalog *c, const char *name, const char *key_column, json_t *values,
                             const char *reason, const lh_who *who, json_t **out, lh_err *err)
{
    struct dataset *ds;
    lh_code rc = lookup(c, name, &ds, err);
    if (rc) return rc;
    if (!key_column || !*key_column) return lh_err_set(err, LH_EINVAL, "tombstone needs a key_column");
    struct tombstone_ctx t = {key_column, values, reason, who};
    return advance(c, ds, "tombstone", reason, 0, false, build_tombstone, &t, who, out, err);
}

static lh_code build_delete(lh_catalog *c, struct dataset *ds, void *ctx, const json_t *head,
                            json_t *m, lh_err *err)
{
    (void)c, (void)ds, (void)ctx, (void)head, (void)err;
    json_object_set_new(m, "deleted", json_true());
    return LH_OK;
}

lh_code lh_catalog_delete(lh_catalog *c, const char *name, const char *reason, const lh_who *who,
                          json_t **out, lh_err *err)
{
    struct dataset *ds;
    lh_code rc = lookup(c, name, &ds, err);
    if (rc) return rc;
    return advance(c, ds, "delete", reason, 0, false, build_delete, NULL, who, out, err);
}

/* ---- reads ---- */

static json_t *list_entry(lh_catalog *c, struct dataset *ds)
{
    json_t *h = ds->head;
    json_t *first = summary_at(c, ds, 1, NULL);
    return json_pack("{s:s, s:s, s:O, s:O, s:O?, s:O, s:O, s:O, s:I}", "name", ds->name, "bucket",
                     ds->bucket->name, "version", json_object_get(h, "version"), "row_count",
                     json_object_get(h, "row_count"), "created_at",
                     first ? json_object_get(first, "created_at") : NULL, "updated_at",
                     json_object_get(h, "created_at"), "deleted", json_object_get(h, "deleted"),
                     "schema_fingerprint", json_object_get(json_object_get(h, "schema"), "fingerprint"),
                     "columns", (json_int_t)json_array_size(json_object_get(json_object_get(h, "schema"), "fields")));
}

struct name_list {
    json_t *names;
};

static bool collect_name(void *ctx, const lh_object_info *info)
{
    struct name_list *l = ctx;
    const char *name = info->key + strlen("_catalog/names/");
    if (!strchr(name, '/')) json_array_append_new(l->names, json_string(name));
    return true;
}

lh_code lh_catalog_list(lh_catalog *c, bool include_deleted, json_t **out, lh_err *err)
{
    /* datasets created by other processes appear through their name claims */
    struct name_list l = {json_array()};
    lh_code rc = lh_store_list(lh_buckets_default(c->buckets), "_catalog/names/", collect_name, &l, err);
    size_t i;
    json_t *n;
    json_array_foreach(l.names, i, n) {
        struct dataset *ds;
        lh_err ignored;
        lookup(c, json_string_value(n), &ds, &ignored);
    }
    json_decref(l.names);
    if (rc) return rc;
    /* the entries outside the table's lock: one may read its version 1
     * (datasets stay in the table until close) */
    pthread_rwlock_rdlock(&c->lock);
    size_t n_ds = c->n;
    struct dataset **all = lh_xmalloc((n_ds ? n_ds : 1) * sizeof *all);
    if (n_ds) memcpy(all, c->ds, n_ds * sizeof *all);
    pthread_rwlock_unlock(&c->lock);
    json_t *arr = json_array();
    for (size_t k = 0; k < n_ds; k++) {
        struct dataset *ds = all[k];
        pthread_mutex_lock(&ds->mu);
        if (ds->head && (include_deleted || !json_is_true(json_object_get(ds->head, "deleted"))))
            json_array_append_new(arr, list_entry(c, ds));
        pthread_mutex_unlock(&ds->mu);
    }
    free(all);
    /* sort by name */
    size_t count = json_array_size(arr);
    for (size_t a = 1; a < count; a++) {
        for (size_t b = a; b > 0; b--) {
            json_t *x = json_array_get(arr, b - 1), *y = json_array_get(arr, b);
            if (strcmp(json_string_value(json_object_get(x, "name")),
                       json_string_value(json_object_get(y, "name"))) <= 0)
                break;
            json_incref(x);
            json_array_set(arr, b - 1, y);
            json_array_set_new(arr, b, x);
        }
    }
    *out = arr;
    return LH_OK;
}

lh_code lh_catalog_get(lh_catalog *c, const char *name, int64_t version, json_t **out, lh_err *err)
{
    struct dataset *ds;
    lh_code rc = lookup(c, name, &ds, err);
    if (rc) return rc;
    pthread_mutex_lock(&ds->mu);
    rc = refresh_head(c, ds, err);
    int64_t head = head_version(ds);
    /* a corrupt newer version fails "the newest", not the intact versions before it */
    if (rc == LH_ECORRUPT && version >= 1 && version <= head) rc = LH_OK;
    if (rc == LH_OK && (version == 0 || version == head)) {
        *out = json_incref(ds->head);
    } else if (rc == LH_OK && (version < 1 || version > head)) {
        rc = lh_err_set(err, LH_ENOTFOUND, "dataset %s has no version %lld (versions 1..%lld)", name,
                        (long long)version, (long long)head);
    } else if (rc == LH_OK) {
        rc = read_manifest(c, ds, version, out, err);
    }
    pthread_mutex_unlock(&ds->mu);
    return rc;
}

lh_code lh_catalog_versions(lh_catalog *c, const char *name, int64_t from, int64_t limit, json_t **out,
                            int64_t *head, lh_err *err)
{
    struct dataset *ds;
    lh_code rc = lookup(c, name, &ds, err);
    if (rc) return rc;
    pthread_mutex_lock(&ds->mu);
    rc = refresh_head(c, ds, err);
    if (rc == LH_ECORRUPT) rc = LH_OK; /* the readable versions; the corrupt one is in lh_catalog_corrupt */
    int64_t newest = head_version(ds), to = limit > 0 && from <= newest - limit ? from + limit - 1 : newest;
    json_t *list = json_array();
    for (int64_t v = from < 1 ? 1 : from; rc == LH_OK && v <= to; v++) {
        json_t *one = summary_at(c, ds, v, err);
        if (one) json_array_append_new(list, json_deep_copy(one));
        else rc = err->code;
    }
    pthread_mutex_unlock(&ds->mu);
    if (rc) {
        json_decref(list);
        return rc;
    }
    *out = list;
    if (head) *head = newest;
    return LH_OK;
}

/* ---- rebuild ---- */

struct scan {
    json_t *names; /* object: name -> [version numbers] */
};

static bool collect_catalog_key(void *ctx, const lh_object_info *info)
{
    struct scan *s = ctx;
    const char *rest = info->key + strlen("_catalog/datasets/");
    const char *slash = strchr(rest, '/');
    if (!slash) return true;
    char name[80];
    if ((size_t)(slash - rest) >= sizeof name) return true;
    snprintf(name, sizeof name, "%.*s", (int)(slash - rest), rest);
    static const lh_manifests versions = {.stem = "v"};
    int64_t v;
    if (!lh_manifests_parse_name(&versions, slash + 1, &v)) return true;
    json_t *list = json_object_get(s->names, name);
    if (!list) {
        list = json_array();
        json_object_set_new(s->names, name, list);
    }
    json_array_append_new(list, json_integer(v));
    return true;
}

/* Reads versions 1.. of a dataset new to memory until one is absent (count:
 * how many the listing showed); those that do not read go to skipped. Returns
 * how many read. */
static json_int_t read_versions(lh_catalog *c, struct dataset *ds, int64_t count, json_t *skipped)
{
    json_int_t read = 0;
    for (int64_t v = 1; v <= count + 1; v++) {
        json_t *m;
        lh_err read_err;
        lh_code r = read_manifest(c, ds, v, &m, &read_err);
        if (r == LH_ENOTFOUND) break;
        if (r) { /* read_manifest noted it for health */
            json_array_append_new(skipped, json_pack("{s:s, s:I, s:s}", "dataset", ds->name, "version",
                                                     (json_int_t)v, "error", read_err.message));
            put_summary(ds, v, json_null());
            continue;
        }
        json_decref(ds->head);
        ds->head = m;
        put_summary(ds, v, summary_of(m));
        read++;
    }
    return read;
}

/* Reads what the buckets hold into the table. full (rebuild): every version
 * of every dataset, counting them and reporting those that do not read; else
 * (open) each dataset's head only. */
static lh_code load(lh_catalog *c, bool full, json_t **report, lh_err *err)
{
    json_t *skipped = json_array();
    struct dataset **fresh = NULL;
    size_t n_fresh = 0;
    json_int_t versions = 0;
    lh_code rc = LH_OK;
    for (size_t b = 0; b < lh_buckets_count(c->buckets) && rc == LH_OK; b++) {
        lh_store *bucket = lh_buckets_at(c->buckets, b);
        struct scan s = {json_object()};
        rc = lh_store_list(bucket, "_catalog/datasets/", collect_catalog_key, &s, err);
        const char *name;
        json_t *list;
        json_object_foreach(s.names, name, list) {
            lh_err name_err;
            if (lh_catalog_name_check(name, &name_err)) {
                json_array_append_new(skipped, json_pack("{s:s, s:s}", "dataset", name, "error", name_err.message));
                continue;
            }
            struct dataset *ds = dataset_new(c, name, bucket);
            if (full) versions += read_versions(c, ds, (int64_t)json_array_size(list), skipped);
            else {
                int64_t listed = 0;
                size_t k;
                json_t *n;
                json_array_foreach(list, k, n) if (json_integer_value(n) > listed) listed = json_integer_value(n);
                lh_err read_err;
                if (load_head(c, ds, listed, &read_err) != LH_OK) /* one dataset's I/O does not stop the rest */
                    json_array_append_new(skipped, json_pack("{s:s, s:s}", "dataset", name, "error", read_err.message));
            }
            if (!ds->head) {
                dataset_free(ds);
                continue;
            }
            fresh = lh_xrealloc(fresh, (n_fresh + 1) * sizeof *fresh);
            fresh[n_fresh++] = ds;
        }
        json_decref(s.names);
    }
    if (rc) {
        for (size_t i = 0; i < n_fresh; i++) dataset_free(fresh[i]);
        free(fresh);
        json_decref(skipped);
        return rc;
    }
    /* merge into the table: a dataset already known keeps its identity (requests
     * in flight may hold it) and takes the fresh state */
    for (size_t k = 0; k < n_fresh; k++) {
        struct dataset *f = fresh[k];
        pthread_rwlock_rdlock(&c->lock);
        struct dataset *have = find_locked(c, f->name);
        pthread_rwlock_unlock(&c->lock);
        if (!have) {
            table_add(c, f);
            continue;
        }
        pthread_mutex_lock(&have->mu);
        json_t *h = have->head, *sm = have->summaries;
        have->head = f->head;
        have->summaries = f->summaries;
        have->bucket = f->bucket;
        f->head = h;
        f->summaries = sm;
        pthread_mutex_unlock(&have->mu);
        dataset_free(f);
    }
    free(fresh);
    size_t i;
    json_t *sk;
    json_array_foreach(skipped, i, sk) {
        lh_log(LH_LOG_WARN, "catalog.skipped", LH_KV_STR("dataset", json_string_value(json_object_get(sk, "dataset"))),
               LH_KV_STR("error", json_string_value(json_object_get(sk, "error"))));
    }
    if (full)
        lh_log(LH_LOG_INFO, "catalog.rebuilt", LH_KV_INT("datasets", n_fresh), LH_KV_INT("versions", versions),
               LH_KV_INT("skipped", json_array_size(skipped)));
    else
        lh_log(LH_LOG_INFO, "catalog.opened", LH_KV_INT("datasets", n_fresh),
               LH_KV_INT("skipped", json_array_size(skipped)));
    if (report)
        *report = json_pack("{s:I, s:I, s:O}", "datasets", (json_int_t)n_fresh, "versions", versions,
                            "skipped", skipped);
    json_decref(skipped);
    return LH_OK;
}

lh_code lh_catalog_rebuild(lh_catalog *c, json_t **report, lh_err *err)
{
    return load(c, true, report, err);
}

/* ---- purge ---- */

struct purge_scan {
    json_t *candidates; /* array of {key, size, mtime_ms} */
};

static bool collect_data(void *ctx, const lh_object_info *info)
{
    struct purge_scan *p = ctx;
    json_array_append_new(p->candidates, json_pack("{s:s, s:I, s:I}", "key", info->key, "size",
                                                   (json_int_t)info->size, "mtime_ms",
                                                   (json_int_t)info->mtime_ms));
    return true;
}

lh_code lh_catalog_purge(lh_catalog *c, bool dry_run, const lh_who *who, json_t **report, lh_err *err)
{
    /* every object referenced by any version of any dataset is kept, and
     * what the keeper holds (open drafts). The keeper is asked first: a draft
     * published while the versions are read is then kept as one or the other. */
    json_t *referenced = json_object();
    lh_code rc = c->keeper ? c->keeper(c->keeper_ctx, referenced, err) : LH_OK;
    if (rc) {
        json_decref(referenced);
        return lh_err_wrap(err, "purge stopped");
    }
    json_t *all;
    rc = lh_catalog_list(c, true, &all, err);
    if (rc) {
        json_decref(referenced);
        return rc;
    }
    size_t i;
    json_t *entry;
    json_array_foreach(all, i, entry) {
        const char *name = json_string_value(json_object_get(entry, "name"));
        int64_t head = json_integer_value(json_object_get(entry, "version"));
        for (int64_t v = 1; v <= head && rc == LH_OK; v++) {
            json_t *m;
            lh_err read_err;
            if (lh_catalog_get(c, name, v, &m, &read_err) != LH_OK) {
                /* an unreadable version may reference anything: refuse to guess */
                rc = lh_err_set(err, LH_ECORRUPT, "purge stopped: %s", read_err.message);
                break;
            }
            size_t k;
            json_t *o;
            json_array_foreach(json_object_get(m, "objects"), k, o) {
                char *id = lh_xasprintf("%s\n%s", json_string_value(json_object_get(o, "bucket")),
                                        json_string_value(json_object_get(o, "key")));
                json_object_set_new(referenced, id, json_true());
                free(id);
            }
            json_decref(m);
        }
    }
    json_decref(all);
    json_t *removed = json_array();
    json_int_t bytes = 0;
    int64_t now = lh_time_now_ms();
    for (size_t b = 0; rc == LH_OK && b < lh_buckets_count(c->buckets); b++) {
        lh_store *bucket = lh_buckets_at(c->buckets, b);
        struct purge_scan p = {json_array()};
        rc = lh_store_list(bucket, "datasets/", collect_data, &p, err);
        json_t *cand;
        json_array_foreach(p.candidates, i, cand) {
            const char *key = json_string_value(json_object_get(cand, "key"));
            char *id = lh_xasprintf("%s\n%s", bucket->name, key);
            bool keep = json_object_get(referenced, id) != NULL;
            free(id);
            /* young files may belong to a write that has not committed yet */
            if (keep || now - json_integer_value(json_object_get(cand, "mtime_ms")) < PURGE_GRACE_MS) continue;
            if (!dry_run) {
                lh_err del_err;
                if (lh_store_delete(bucket, key, &del_err) != LH_OK) continue;
            }
            bytes += json_integer_value(json_object_get(cand, "size"));
            json_array_append_new(removed, json_pack("{s:s, s:s, s:O}", "bucket", bucket->name, "key",
                                                     key, "size", json_object_get(cand, "size")));
        }
        json_decref(p.candidates);
    }
    json_decref(referenced);
    if (rc) {
        json_decref(removed);
        return rc;
    }
    if (!dry_run && json_array_size(removed) && c->journal) {
        json_t *new = json_pack("{s:I, s:I}", "files", (json_int_t)json_array_size(removed), "bytes", bytes);
        journal(c, "purge", "*", NULL, new, who);
        json_decref(new);
    }
    *report = json_pack("{s:b, s:o, s:I}", "dry_run", dry_run, "removed", removed, "bytes", bytes);
    return LH_OK;
}

/* ---- open / close ---- */

lh_code lh_catalog_open(lh_buckets *buckets, lh_journal *journal_, lh_catalog **out, lh_err *err)
{
    lh_catalog *c = lh_xcalloc(1, sizeof *c);
    c->buckets = buckets;
    c->journal = journal_;
    pthread_rwlock_init(&c->lock, NULL);
    pthread_mutex_init(&c->corrupt_mu, NULL);
    c->corrupt = json_object();
    lh_code rc = load(c, false, NULL, err);
    if (rc) {
        lh_catalog_close(c);
        return rc;
    }
    *out = c;
    return LH_OK;
}

void lh_catalog_close(lh_catalog *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) dataset_free(c->ds[i]);
    free(c->ds);
    pthread_rwlock_destroy(&c->lock);
    pthread_mutex_destroy(&c->corrupt_mu);
    json_decref(c->corrupt);
    free(c);
}

bool lh_commit_mode_parse(const char *s, lh_commit_mode *out)
{
    if (!strcmp(s, "append")) *out = LH_COMMIT_APPEND;
    else if (!strcmp(s, "replace")) *out = LH_COMMIT_REPLACE;
    else return false;
    return true;
}
