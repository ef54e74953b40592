/*
 * versions.c — the versions and promotions of named indexes in the object store
 * (see lh_vectors.h), shared by the operations on them (vectors.c, text.c).
 *
 * Per index, an entry caches what storage says (versions, promotions) and
 * serialises this process's writers (e->mu). Writers build a version in
 * memory, save it to tmp, upload its files, then claim v<N> with
 * put-if-absent; a lost race re-reads the head and claims N + 1 (the
 * protocol, key layout and retry policy: lh_manifests.h). Promotions are a
 * second log of the same kind, live/p<N>.json. Searches
 * never take e->mu: they read the live slot, and refresh it from storage
 * (try-lock, at most every LH_VECTORS_REFRESH_MS) so that promotions made by
 * other replicas arrive.
 */
#include "internal.h"

#include "lakehouse/lh_log.h"
#include "lakehouse/lh_manifests.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_sha256.h"
#include "lakehouse/lh_time.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* ---- keys, small helpers ---- */

/* Fills the logs of index name (the strings they borrow); logs_free frees them. */
static void logs_init(lh_vectors *v, const char *name, struct vec_logs *l)
{
    l->dir = lh_xasprintf("_catalog/indexes/%s", name);
    l->live_dir = lh_xasprintf("_catalog/indexes/%s/live", name);
    l->what = lh_xasprintf("index %s", name);
    l->versions = (lh_manifests){.buckets = v->cfg.buckets, .store = vec_home(v), .dir = l->dir, .stem = "v",
                                 .what = l->what, .max_attempts = VEC_COMMIT_ATTEMPTS};
    l->promotions = l->versions;
    l->promotions.dir = l->live_dir;
    l->promotions.stem = "p";
}

static void logs_free(struct vec_logs *l)
{
    free(l->dir);
    free(l->live_dir);
    free(l->what);
}

/* Whether key names version 1 of an index ("_catalog/indexes/<name>/v00000001.json"). */
bool vec_first_version_key(const char *key, char **name)
{
    static const lh_manifests versions = {.stem = "v"};
    const char *prefix = "_catalog/indexes/";
    if (strncmp(key, prefix, strlen(prefix)) != 0) return false;
    const char *rest = key + strlen(prefix), *slash = strchr(rest, '/');
    int64_t n;
    if (!slash || strchr(slash + 1, '/') || !lh_manifests_parse_name(&versions, slash + 1, &n) || n != 1)
        return false;
    *name = lh_xstrndup(rest, (size_t)(slash - rest));
    return true;
}

lh_store *vec_home(lh_vectors *v)
{
    return lh_buckets_default(v->cfg.buckets);
}

char *vec_tmp_path(lh_vectors *v, const char *ext)
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, 0) != sizeof r) r = (uint64_t)lh_time_now_ms() ^ (uint64_t)getpid();
    return lh_xasprintf("%s/vec-%016" PRIx64 "%s", v->tmp_dir, r, ext);
}

static void journal(lh_vectors *v, const char *name, const char *action, json_t *old, json_t *new,
                    const lh_who *who)
{
    if (!v->cfg.journal) return;
    lh_journal_event ev = {.entity_type = "vector_index", .entity_id = name, .action = action, .old_value = old,
                           .new_value = new, .actor = who ? who->actor : NULL, .source = who ? who->source : NULL};
    lh_journal_record(v->cfg.journal, &ev);
}

static lh_code promote_locked(lh_vectors *v, struct entry *e, int64_t version, const char *action,
                              const char *message, lh_vindex *ready, const lh_who *who, json_t **out, lh_err *err);

/* ---- manifests from storage are untrusted ---- */

static bool is_count(const json_t *o, const char *k)
{
    json_t *x = json_object_get(o, k);
    return json_is_integer(x) && json_integer_value(x) >= 0;
}

static bool object_ref_ok(const json_t *o)
{
    return json_is_object(o) && str(o, "bucket") && str(o, "key") && is_count(o, "size") && str(o, "sha256");
}

lh_code lh_vectors_manifest_check(const json_t *m, const char *name, int64_t version, lh_err *err)
{
    const char *why = NULL;
    json_t *params = json_object_get(m, "params"), *objects = json_object_get(m, "objects");
    lh_metric metric;
    if (!json_is_object(m)) why = "not an object";
    else if (num(m, "format") != 1) why = "unknown format";
    else if (!str(m, "index") || strcmp(str(m, "index"), name) != 0) why = "names another index";
    else if (num(m, "version") != version) why = "describes another version";
    else if (!is_count(m, "parent") || num(m, "parent") >= version) why = "bad parent";
    else if (!str(m, "operation")) why = "no operation";
    else if (num(m, "dim") < 1 || num(m, "dim") > LH_HNSW_MAX_DIM) why = "bad dimension";
    else if (!lh_metric_parse(str(m, "metric"), &metric)) why = "unknown metric";
    else if (!json_is_object(params) || !is_count(params, "M") || !is_count(params, "ef_construction") ||
             !is_count(params, "ef_search") || !str(params, "quantization"))
        why = "bad params";
    else if (!str(m, "id_type") || (strcmp(str(m, "id_type"), "integer") && strcmp(str(m, "id_type"), "string")))
        why = "bad id_type";
    else if (!json_is_array(objects)) why = "no objects";
    else if (!json_is_array(json_object_get(m, "deleted"))) why = "no deleted list";
    else if (!is_count(m, "count") || !is_count(m, "labels") || num(m, "count") > num(m, "labels"))
        why = "bad counts";
    else if (!object_ref_ok(json_object_get(m, "file"))) why = "bad file";
    else if (json_object_get(m, "text") && vec_text_check(json_object_get(m, "text"), NULL) != LH_OK)
        why = "bad text settings";
    if (!why) {
        size_t i;
        json_t *o;
        json_array_foreach(objects, i, o) if (!object_ref_ok(o) || !is_count(o, "rows")) why = "bad object";
    }
    if (why) return lh_err_set(err, LH_ECORRUPT, "manifest of index %s version %" PRId64 ": %s", name, version, why);
    return LH_OK;
}

lh_code lh_vectors_promotion_check(const json_t *r, const char *name, int64_t seq, lh_err *err)
{
    if (!json_is_object(r) || num(r, "format") != 1 || !str(r, "index") || strcmp(str(r, "index"), name) != 0 ||
        num(r, "seq") != seq || num(r, "version") < 1 || !is_count(r, "previous") || !str(r, "action"))
        return lh_err_set(err, LH_ECORRUPT, "promotion %" PRId64 " of index %s is malformed", seq, name);
    return LH_OK;
}

static json_t *summary_of(const json_t *m)
{
    return json_pack("{s:I, s:I, s:s, s:O, s:O, s:O, s:I}", "version", (json_int_t)num(m, "version"), "parent",
                     (json_int_t)num(m, "parent"), "operation", str(m, "operation"), "created_at",
                     json_object_get(m, "created_at"), "author", json_object_get(m, "author"), "message",
                     json_object_get(m, "message"), "count", (json_int_t)num(m, "count"));
}

/* ---- the entry table ---- */

static void entry_free(struct entry *e)
{
    if (!e) return;
    json_decref(e->manifests);
    json_decref(e->promotions);
    pthread_mutex_destroy(&e->mu);
    logs_free(&e->logs);
    free(e->name);
    free(e);
}

const json_t *vec_summary(lh_vectors *v, struct entry *e, int64_t n, lh_err *err)
{
    if (n < 1 || n > e->head) {
        lh_err_set(err, LH_ENOTFOUND, "index %s has no version %lld", e->name, (long long)n);
        return NULL;
    }
    json_t *s = json_array_get(e->manifests, (size_t)n - 1);
    if (!json_is_null(s)) return s;
    json_t *m;
    if (vec_read_manifest(v, e->name, n, &m, err) != LH_OK) return NULL;
    json_array_set_new(e->manifests, (size_t)n - 1, summary_of(m));
    json_decref(m);
    return json_array_get(e->manifests, (size_t)n - 1);
}

int64_t vec_live_of(const struct entry *e)
{
    size_t n = json_array_size(e->promotions);
    return n ? num(json_array_get(e->promotions, n - 1), "version") : 0;
}

lh_code vec_read_manifest(lh_vectors *v, const char *name, int64_t version, json_t **out, lh_err *err)
{
    struct vec_logs l;
    logs_init(v, name, &l);
    lh_code rc = lh_manifests_read(&l.versions, version, out, err);
    logs_free(&l);
    if (rc == LH_OK && (rc = lh_vectors_manifest_check(*out, name, version, err)) != LH_OK) json_decref(*out);
    return rc;
}

static lh_code take_version(void *ctx, int64_t n, json_t *m, lh_err *err)
{
    struct entry *e = ctx;
    lh_code rc = lh_vectors_manifest_check(m, e->name, n, err);
    if (rc == LH_OK) {
        json_array_append_new(e->manifests, summary_of(m));
        e->head = n;
    }
    json_decref(m);
    return rc;
}

static lh_code take_promotion(void *ctx, int64_t n, json_t *r, lh_err *err)
{
    struct entry *e = ctx;
    lh_code rc = lh_vectors_promotion_check(r, e->name, n, err);
    if (rc) {
        json_decref(r);
        return rc;
    }
    json_array_append_new(e->promotions, r);
    return LH_OK;
}

/* Reads a log past what arr holds (one element per number, null where not
 * read yet); the first time (arr empty), from the newest a listing shows,
 * the ones before it left null. A log whose newest does not read is left
 * empty. */
static lh_code read_on(const lh_manifests *log, json_t *arr, lh_manifests_each_fn take, struct entry *e,
                       lh_err *err)
{
    lh_code rc = LH_OK;
    if (json_array_size(arr) == 0) {
        int64_t last;
        rc = lh_manifests_last(log, &last, err);
        while (rc == LH_OK && (int64_t)json_array_size(arr) < last - 1) json_array_append_new(arr, json_null());
    }
    if (rc == LH_OK) rc = lh_manifests_scan(log, (int64_t)json_array_size(arr), take, e, NULL, err);
    size_t n = json_array_size(arr);
    if (n && json_is_null(json_array_get(arr, n - 1))) json_array_clear(arr);
    return rc;
}

/* Reads versions and promotions past the known ones: the first time, only
 * the newest of each (vec_summary and vec_promotions read the rest when
 * asked for). Caller holds e->mu. */
lh_code vec_refresh(lh_vectors *v, struct entry *e, lh_err *err)
{
    (void)v;
    lh_code rc = read_on(&e->logs.versions, e->manifests, take_version, e, err);
    if (json_array_size(e->manifests) == 0) e->head = 0;
    if (rc == LH_OK) rc = read_on(&e->logs.promotions, e->promotions, take_promotion, e, err);
    if (rc) return rc;
    atomic_store(&e->checked_ms, lh_time_now_ms());
    return LH_OK;
}

lh_code vec_promotions(struct entry *e, lh_err *err)
{
    for (size_t i = 0; i < json_array_size(e->promotions); i++) {
        if (!json_is_null(json_array_get(e->promotions, i))) continue;
        json_t *r;
        lh_code rc = lh_manifests_read(&e->logs.promotions, (int64_t)i + 1, &r, err);
        if (rc == LH_OK && (rc = lh_vectors_promotion_check(r, e->name, (int64_t)i + 1, err)) != LH_OK) json_decref(r);
        if (rc) return rc;
        json_array_set_new(e->promotions, i, r);
    }
    return LH_OK;
}

void vec_entries_free(lh_vectors *v)
{
    for (size_t i = 0; i < v->n; i++) entry_free(v->e[i]);
    free(v->e);
    v->e = NULL;
    v->n = v->cap = 0;
}

struct entry *vec_find_entry(lh_vectors *v, const char *name)
{
    pthread_mutex_lock(&v->mu);
    struct entry *e = NULL;
    for (size_t i = 0; i < v->n && !e; i++)
        if (strcmp(v->e[i]->name, name) == 0) e = v->e[i];
    pthread_mutex_unlock(&v->mu);
    return e;
}

/* The entry of name, read from storage the first time. Unless `creating`, an
 * index that storage does not know is LH_ENOTFOUND (and leaves no entry). */
lh_code vec_entry(lh_vectors *v, const char *name, bool creating, struct entry **out, lh_err *err)
{
    lh_code rc = lh_catalog_name_check(name, err);
    if (rc) return lh_err_wrap(err, "index name");
    struct entry *e = vec_find_entry(v, name);
    if (e) {
        *out = e;
        return LH_OK;
    }
    e = lh_xcalloc(1, sizeof *e);
    e->name = lh_xstrdup(name);
    e->manifests = json_array();
    e->promotions = json_array();
    logs_init(v, name, &e->logs);
    pthread_mutex_init(&e->mu, NULL);
    rc = vec_refresh(v, e, err);
    if (rc == LH_OK && !creating && e->head == 0) rc = lh_err_set(err, LH_ENOTFOUND, "no index named %s", name);
    if (rc) {
        entry_free(e);
        return rc;
    }
    pthread_mutex_lock(&v->mu);
    struct entry *have = NULL;
    for (size_t i = 0; i < v->n && !have; i++)
        if (strcmp(v->e[i]->name, name) == 0) have = v->e[i]; /* another thread got there first */
    if (have) {
        entry_free(e);
        e = have;
    } else {
        if (v->n == v->cap) {
            v->cap = v->cap ? v->cap * 2 : 16;
            v->e = lh_xrealloc(v->e, v->cap * sizeof *v->e);
        }
        v->e[v->n++] = e;
    }
    pthread_mutex_unlock(&v->mu);
    *out = e;
    return LH_OK;
}

/* Every row of a manifest's embeddings objects, in order (vectors too when with_vectors). */
lh_code vec_read_embeddings(lh_vectors *v, const json_t *m, int what, emb_rows *r, lh_err *err)
{
    r->ids = lh_idtab_new(strcmp(str(m, "id_type"), "string") == 0);
    json_t *objects = json_object_get(m, "objects");
    if (json_array_size(objects) == 0) return LH_OK;
    lh_buf sql = {0};
    lh_buf_printf(&sql, "SELECT id%s%s FROM read_parquet([", what & EMB_VECTORS ? ", vector" : "",
                  what & EMB_TEXT ? ", chunk_text" : "");
    lh_code rc = LH_OK;
    size_t i;
    json_t *o;
    json_array_foreach(objects, i, o) {
        char path[4096];
        rc = lh_buckets_local_file(v->cfg.buckets, v->cache_dir, str(o, "bucket"), str(o, "key"),
                                   (uint64_t)num(o, "size"), path, sizeof path, err);
        if (rc) {
            lh_err_wrap(err, "embeddings of the index");
            break;
        }
        if (i) lh_buf_puts(&sql, ", ");
        lh_sql_quote_literal(&sql, path);
    }
    lh_buf_puts(&sql, "])");
    if (rc == LH_OK) rc = emb_read(v->cfg.engine, sql.data, what, r, err);
    lh_buf_free(&sql);
    if (rc == LH_OK && lh_idtab_count(r->ids) != (size_t)num(m, "labels"))
        rc = lh_err_set(err, LH_ECORRUPT, "the embeddings hold %zu rows; the manifest says %" PRId64,
                        lh_idtab_count(r->ids), num(m, "labels"));
    if (rc == LH_OK && (what & EMB_VECTORS) && (r->skipped || (r->n && r->dim != (uint32_t)num(m, "dim"))))
        rc = lh_err_set(err, LH_ECORRUPT, "the embeddings do not match the manifest (dimension or missing vectors)");
    return rc;
}

/* ---- building, saving, loading ---- */

lh_code vec_build(lh_vectors *v, const lh_hnsw_params *p, const uint64_t *labels, const float *vecs, size_t n,
                     lh_hnsw **out, lh_err *err)
{
    lh_code rc = lh_hnsw_new(p, n ? n : 1, out, err);
    if (rc == LH_OK && n) {
        int64_t t0 = lh_time_now_ms();
        rc = lh_hnsw_add_batch(*out, labels, vecs, n, v->cfg.build_threads, err);
        lh_log(LH_LOG_INFO, "vectors.build", LH_KV_INT("vectors", (long long)n), LH_KV_INT("dim", p->dim),
               LH_KV_INT("ms", lh_time_now_ms() - t0));
    }
    if (rc) {
        lh_hnsw_free(*out);
        *out = NULL;
    }
    return rc;
}

static lh_code load_version(lh_vectors *v, const char *name, int64_t version, lh_vindex **out, lh_err *err);

static lh_code has_version(const struct entry *e, int64_t version, lh_err *err)
{
    if (version >= 1 && version <= e->head) return LH_OK;
    return lh_err_set(err, LH_ENOTFOUND, "index %s has no version %" PRId64 " (versions 1..%" PRId64 ")", e->name,
                      version, e->head);
}

/* Brings e up to date and checks that it has `version`. Caller holds e->mu. */
static lh_code refresh_and_check(lh_vectors *v, struct entry *e, int64_t version, lh_err *err)
{
    lh_code rc = vec_refresh(v, e, err);
    return rc ? rc : has_version(e, version, err);
}

lh_code lh_vectors_acquire_version(lh_vectors *v, const char *name, int64_t version, lh_vindex **out, lh_err *err)
{
    lh_vindex *live = lh_vslots_acquire(v->slots, name);
    if (live && live->version == version) {
        *out = live;
        return LH_OK;
    }
    lh_vindex_unref(live);
    struct entry *e;
    lh_code rc = vec_entry(v, name, false, &e, err);
    if (rc) return rc;
    pthread_mutex_lock(&e->mu);
    rc = refresh_and_check(v, e, version, err);
    pthread_mutex_unlock(&e->mu);
    return rc ? rc : load_version(v, name, version, out, err);
}

static lh_code load_version(lh_vectors *v, const char *name, int64_t version, lh_vindex **out, lh_err *err)
{
    json_t *m;
    lh_code rc = vec_read_manifest(v, name, version, &m, err);
    if (rc) return rc;
    json_t *file = json_object_get(m, "file");
    char path[4096];
    lh_hnsw *h = NULL;
    rc = lh_buckets_local_file(v->cfg.buckets, v->cache_dir, str(file, "bucket"), str(file, "key"),
                               (uint64_t)num(file, "size"), path, sizeof path, err);
    if (rc == LH_OK) rc = lh_hnsw_load(path, &h, err);
    if (rc == LH_OK) {
        lh_hnsw_info info;
        lh_hnsw_get_info(h, &info);
        lh_metric metric;
        lh_metric_parse(str(m, "metric"), &metric);
        if (info.params.dim != (uint32_t)num(m, "dim") || info.params.metric != metric ||
            info.count - info.deleted != (size_t)num(m, "count"))
            rc = lh_err_set(err, LH_ECORRUPT, "the index file does not match its manifest");
    }
    emb_rows r = {0};
    json_t *text = json_object_get(m, "text");
    if (rc == LH_OK) rc = vec_read_embeddings(v, m, text ? EMB_TEXT : 0, &r, err);
    lh_vtext *vt = NULL;
    if (rc == LH_OK && text) {
        rc = vec_text_new(r.texts, r.ntexts, r.ids, json_object_get(m, "deleted"), &vt, err);
        r.texts = NULL;
        r.ntexts = 0;
    }
    if (rc) {
        lh_hnsw_free(h);
        emb_rows_free(&r);
        json_decref(m);
        return lh_err_wrap(err, "loading index %s version %" PRId64 " (lakehouse index rebuild %s --version %" PRId64
                                " builds it again from its embeddings)",
                           name, version, name, version);
    }
    *out = lh_vindex_new(name, version, h, r.ids, m);
    (*out)->text = vt;
    lh_log(LH_LOG_INFO, "vectors.load", LH_KV_STR("index", name), LH_KV_INT("version", version));
    return LH_OK;
}

/* Makes the live slot match the newest promotion. Caller holds e->mu. */
lh_code vec_sync_live(lh_vectors *v, struct entry *e, lh_err *err)
{
    int64_t want = vec_live_of(e);
    lh_vindex *cur = lh_vslots_acquire(v->slots, e->name);
    int64_t have = cur ? cur->version : 0;
    lh_vindex_unref(cur);
    if (want == have) return LH_OK;
    lh_vindex *next = NULL;
    if (want) {
        lh_code rc = load_version(v, e->name, want, &next, err);
        if (rc) return rc;
    }
    lh_vslots_publish(v->slots, e->name, next);
    return LH_OK;
}

/* ---- writing versions ---- */

static lh_code upload(lh_vectors *v, const char *local, const char *key, json_t **ref, lh_err *err)
{
    char sha[LH_SHA256_HEX_LEN + 1];
    lh_code rc = lh_sha256_file_hex(local, sha, err);
    if (rc) return rc;
    lh_object_info info;
    /* content-named: an existing object of this name holds these bytes */
    rc = lh_store_put_file(vec_home(v), key, local, LH_PUT_IF_ABSENT, err);
    if (rc == LH_EEXIST) rc = LH_OK;
    if (rc == LH_OK) rc = lh_store_head(vec_home(v), key, &info, err);
    if (rc) return rc;
    *ref = json_pack("{s:s, s:s, s:I, s:s}", "bucket", vec_home(v)->name, "key", key, "size", (json_int_t)info.size,
                     "sha256", sha);
    return LH_OK;
}


static char *sha_name(const char *local, const char *prefix, const char *ext, lh_err *err)
{
    char sha[LH_SHA256_HEX_LEN + 1];
    if (lh_sha256_file_hex(local, sha, err) != LH_OK) return NULL;
    return lh_xasprintf("%s-%.16s%s", prefix, sha, ext);
}

/* ---- the commit protocol's callbacks (lh_manifests.h) ---- */

struct claim {
    lh_vectors *v;
    struct entry *e;
    /* a version */
    draft *d;
    const char *index_tmp, *index_name, *emb_name;
    /* a promotion */
    int64_t version;
    const char *action, *message;
    const lh_who *who;
};

static lh_code claim_refresh_versions(void *ctx, int64_t *head, lh_err *err)
{
    struct claim *c = ctx;
    lh_code rc = vec_refresh(c->v, c->e, err);
    *head = c->e->head;
    return rc;
}

/* Version `version`: uploads the files under _vectors/<name>/v<N>/, then its manifest. */
static lh_code claim_build_version(void *ctx, int64_t version, json_t **out, lh_err *err)
{
    struct claim *c = ctx;
    lh_vectors *v = c->v;
    struct entry *e = c->e;
    draft *d = c->d;
    json_t *file = NULL, *emb = NULL;
    char *key = lh_xasprintf("_vectors/%s/v%08" PRId64 "/%s", e->name, version, c->index_name);
    lh_code rc = upload(v, c->index_tmp, key, &file, err);
    free(key);
    if (rc == LH_OK && d->emb) {
        key = lh_xasprintf("_vectors/%s/v%08" PRId64 "/%s", e->name, version, c->emb_name);
        rc = upload(v, d->emb, key, &emb, err);
        free(key);
        if (rc == LH_OK) json_object_set_new(emb, "rows", json_integer((json_int_t)d->emb_rows));
    }
    if (rc) {
        json_decref(file);
        json_decref(emb);
        return rc;
    }
    char stamp[LH_TIME_ISO_LEN];
    lh_time_iso8601(lh_time_now_ms(), stamp);
    json_t *m = json_deep_copy(d->m);
    json_object_set_new(m, "version", json_integer(version));
    json_object_set_new(m, "created_at", json_string(stamp));
    json_object_set_new(m, "file", file);
    if (emb) json_array_append_new(json_object_get(m, "objects"), emb);
    rc = lh_vectors_manifest_check(m, e->name, version, err);
    if (rc) {
        json_decref(m);
        lh_err_wrap(err, "refusing to write an invalid manifest");
        if (err) err->code = LH_EINTERNAL;
        return LH_EINTERNAL;
    }
    *out = m;
    return LH_OK;
}

static lh_code claim_refresh_promotions(void *ctx, int64_t *head, lh_err *err)
{
    struct claim *c = ctx;
    lh_code rc = vec_refresh(c->v, c->e, err);
    *head = (int64_t)json_array_size(c->e->promotions);
    return rc;
}

static lh_code claim_build_promotion(void *ctx, int64_t seq, json_t **out, lh_err *err)
{
    (void)err;
    struct claim *c = ctx;
    char stamp[LH_TIME_ISO_LEN];
    lh_time_iso8601(lh_time_now_ms(), stamp);
    *out = json_pack("{s:i, s:s, s:I, s:I, s:I, s:s, s:s, s:s?, s:s?, s:s?}", "format", 1, "index", c->e->name, "seq",
                     (json_int_t)seq, "version", (json_int_t)c->version, "previous", (json_int_t)vec_live_of(c->e),
                     "action", c->action, "at", stamp, "actor", c->who ? c->who->actor : NULL, "source",
                     c->who ? c->who->source : NULL, "message", c->message);
    return LH_OK;
}

/* Claims the next version for a draft and, unless told not to, makes it
 * live. Caller holds e->mu. *out: the manifest. */
lh_code vec_commit(lh_vectors *v, struct entry *e, draft *d, bool promote, const lh_who *who, json_t **out,
                   lh_err *err)
{
    static const lh_manifests_writer writer = {claim_refresh_versions, claim_build_version};
    char *index_tmp = vec_tmp_path(v, ".hnsw");
    lh_code rc = lh_hnsw_save(d->hnsw, index_tmp, err);
    char *index_name = rc == LH_OK ? sha_name(index_tmp, "index", ".hnsw", err) : NULL;
    char *emb_name = rc == LH_OK && index_name && d->emb ? sha_name(d->emb, "embeddings", ".parquet", err) : NULL;
    if (rc == LH_OK && (!index_name || (d->emb && !emb_name))) rc = err->code;
    if (rc == LH_OK) {
        struct claim c = {.v = v, .e = e, .d = d, .index_tmp = index_tmp, .index_name = index_name,
                          .emb_name = emb_name};
        json_t *m = NULL;
        int64_t version = 0;
        rc = lh_manifests_commit(&e->logs.versions, &writer, &c, LH_MANIFESTS_ANY_HEAD, &m, &version, err);
        if (rc == LH_OK) {
            json_array_append_new(e->manifests, summary_of(m));
            e->head = version;
            json_t *old = json_pack("{s:I}", "version", (json_int_t)num(m, "parent"));
            json_t *new = summary_of(m);
            journal(v, e->name, str(m, "operation"), old, new, who);
            json_decref(old);
            json_decref(new);
            *out = m;
        }
    }
    unlink(index_tmp);
    free(index_tmp);
    free(index_name);
    free(emb_name);
    json_decref(d->m);
    d->m = NULL;
    if (rc) {
        lh_hnsw_free(d->hnsw);
        lh_idtab_free(d->ids);
        lh_vtext_free(d->text);
        return rc;
    }
    lh_vindex *built = lh_vindex_new(e->name, e->head, d->hnsw, d->ids, json_incref(*out));
    built->text = d->text;
    if (promote) {
        json_t *record = NULL;
        rc = promote_locked(v, e, e->head, "promote", "made live when built", built, who, &record, err);
        json_decref(record);
        if (rc) {
            json_decref(*out);
            *out = NULL;
        }
    } else {
        lh_vindex_unref(built);
    }
    return rc;
}

/* ---- promotions ---- */

/* Writes promotion record N + 1 making `version` live, then swaps it in.
 * ready: the version already in memory (taken over), or NULL to load it. */
static lh_code promote_locked(lh_vectors *v, struct entry *e, int64_t version, const char *action,
                              const char *message, lh_vindex *ready, const lh_who *who, json_t **out, lh_err *err)
{
    static const lh_manifests_writer writer = {claim_refresh_promotions, claim_build_promotion};
    lh_vindex *next = ready;
    lh_code rc = LH_OK;
    if (!next) rc = load_version(v, e->name, version, &next, err);
    if (rc == LH_OK) {
        struct claim c = {.v = v, .e = e, .version = version, .action = action, .message = message, .who = who};
        json_t *r = NULL;
        int64_t seq = 0;
        rc = lh_manifests_commit(&e->logs.promotions, &writer, &c, LH_MANIFESTS_ANY_HEAD, &r, &seq, err);
        if (rc == LH_OK) {
            json_array_append(e->promotions, r);
            json_t *old = json_pack("{s:I}", "version", (json_int_t)num(r, "previous"));
            json_t *new = json_pack("{s:I, s:I, s:s?}", "version", (json_int_t)version, "seq", (json_int_t)seq,
                                    "message", message);
            journal(v, e->name, action, old, new, who);
            json_decref(old);
            json_decref(new);
            lh_vslots_publish(v->slots, e->name, next);
            next = NULL;
            *out = r;
        }
    }
    lh_vindex_unref(next);
    return rc;
}

lh_code lh_vectors_promote(lh_vectors *v, const char *name, int64_t version, const char *message,
                           const lh_who *who, json_t **out, lh_err *err)
{
    struct entry *e;
    lh_code rc = vec_entry(v, name, false, &e, err);
    if (rc) return rc;
    pthread_mutex_lock(&e->mu);
    rc = refresh_and_check(v, e, version, err);
    if (rc == LH_OK && version == vec_live_of(e)) {
        *out = json_incref(json_array_get(e->promotions, json_array_size(e->promotions) - 1));
        rc = vec_sync_live(v, e, err);
    } else if (rc == LH_OK) {
        rc = promote_locked(v, e, version, "promote", message, NULL, who, out, err);
    }
    pthread_mutex_unlock(&e->mu);
    return rc;
}

lh_code lh_vectors_rollback(lh_vectors *v, const char *name, int64_t to, const char *message, const lh_who *who,
                            json_t **out, lh_err *err)
{
    struct entry *e;
    lh_code rc = vec_entry(v, name, false, &e, err);
    if (rc) return rc;
    pthread_mutex_lock(&e->mu);
    rc = vec_refresh(v, e, err);
    size_t n = json_array_size(e->promotions);
    if (rc == LH_OK && to == 0) {
        to = n ? num(json_array_get(e->promotions, n - 1), "previous") : 0;
        if (!to) rc = lh_err_set(err, LH_ENOTFOUND, "index %s has no earlier live version to roll back to", name);
    }
    if (rc == LH_OK) rc = has_version(e, to, err);
    if (rc == LH_OK && to == vec_live_of(e))
        rc = lh_err_set(err, LH_ECONFLICT, "version %" PRId64 " of index %s is already live", to, name);
    if (rc == LH_OK) rc = promote_locked(v, e, to, "rollback", message, NULL, who, out, err);
    pthread_mutex_unlock(&e->mu);
    return rc;
}

/* ---- building versions ---- */

bool vec_integer_type(const char *t)
{
    static const char *const ints[] = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT",
                                       "UINTEGER"};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
        if (!strcmp(t, ints[i])) return true;
    return false;
}

static const char *quant_name(lh_quant q)
{
    return q == LH_QUANT_SQ8 ? "sq8" : "none";
}

/* The manifest fields every version of a graph shares. */
json_t *vec_draft_manifest(const char *name, const char *operation, int64_t parent, const lh_hnsw *h,
                              bool strings, json_t *origin, json_t *objects, json_t *deleted, size_t labels,
                              const char *message, const lh_who *who)
{
    lh_hnsw_info info;
    lh_hnsw_get_info(h, &info);
    return json_pack("{s:i, s:s, s:I, s:s, s:s?, s:s?, s:s?, s:I, s:s, s:{s:I, s:I, s:I, s:s, s:I}, s:s, s:o, s:o, "
                     "s:o, s:I, s:I}",
                     "format", 1, "index", name, "parent", (json_int_t)parent, "operation", operation, "author",
                     who ? who->actor : NULL, "source", who ? who->source : NULL, "message", message, "dim",
                     (json_int_t)info.params.dim, "metric", lh_metric_name(info.params.metric), "params", "M",
                     (json_int_t)info.params.M, "ef_construction", (json_int_t)info.params.ef_construction,
                     "ef_search", (json_int_t)info.params.ef_search, "quantization",
                     quant_name(info.params.quantization), "seed", (json_int_t)info.params.seed, "id_type",
                     strings ? "string" : "integer", "origin", origin ? origin : json_null(), "objects", objects,
                     "deleted", deleted, "count", (json_int_t)(info.count - info.deleted), "labels",
                     (json_int_t)labels);
}

uint64_t *vec_sequence(size_t n)
{
    uint64_t *labels = lh_xmalloc((n ? n : 1) * sizeof *labels);
    for (size_t i = 0; i < n; i++) labels[i] = i;
    return labels;
}
