/*
 * text.c — text indexes: a dataset's rows embedded by a provider, refreshed
 * with only what is new, staleness, and on_append refreshes in the
 * background (see lh_vectors.h).
 */
#include "internal.h"

#include "lakehouse/lh_log.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_sha256.h"
#include "lakehouse/lh_time.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_RRF_K 60.0
#define DEFAULT_WEIGHT 0.1

/* ---- settings ---- */

/* The settings of a new text index: the request's, defaults filled in. */
static lh_code settings_of(lh_vectors *v, const json_t *req, json_t **out, lh_ai **ai, lh_err *err)
{
    if (!v->cfg.ai) return lh_err_set(err, LH_EUNSUPPORTED, "no embedding provider is configured");
    if (!json_is_object(req)) return lh_err_set(err, LH_EINVAL, "text index: the text settings must be an object");
    json_t *t = json_deep_copy(req);
    if (!str(t, "provider")) json_object_set_new(t, "provider", json_string(v->cfg.default_provider));
    if (!json_object_get(t, "refresh")) json_object_set_new(t, "refresh", json_string("manual"));
    if (!json_object_get(t, "fusion")) json_object_set_new(t, "fusion", json_string("weighted"));
    if (!json_object_get(t, "weight")) json_object_set_new(t, "weight", json_real(DEFAULT_WEIGHT));
    if (!json_object_get(t, "rrf_k")) json_object_set_new(t, "rrf_k", json_real(DEFAULT_RRF_K));
    lh_code rc = LH_OK;
    if (!str(t, "provider") || !(*ai = v->cfg.ai(v->cfg.ai_ctx, str(t, "provider"), str(t, "model"), err)))
        rc = str(t, "provider") ? err->code : lh_err_set(err, LH_EINVAL, "text index: no embedding provider");
    if (rc == LH_OK) json_object_set_new(t, "model", json_string(lh_ai_model(*ai)));
    if (rc == LH_OK) rc = vec_text_check(t, err);
    if (rc) {
        json_decref(t);
        return rc;
    }
    *out = t;
    return LH_OK;
}

static lh_ai *ai_of(lh_vectors *v, const json_t *t, lh_err *err)
{
    if (!v->cfg.ai) {
        lh_err_set(err, LH_EUNSUPPORTED, "no embedding provider is configured");
        return NULL;
    }
    return v->cfg.ai(v->cfg.ai_ctx, str(t, "provider"), str(t, "model"), err);
}

/* SELECT id, text FROM the dataset version dm, one row per dataset row. */
static lh_code rows_sql(lh_vectors *v, const json_t *dm, const json_t *origin, const json_t *t, bool strings,
                        lh_buf *sql, lh_err *err)
{
    lh_buf_puts(sql, "SELECT CAST(");
    lh_sql_quote_ident(sql, str(origin, "id_column"));
    lh_buf_puts(sql, strings ? " AS VARCHAR), " : " AS BIGINT), ");
    lh_code rc = vec_text_expr(dm, t, sql, err);
    lh_buf_puts(sql, " FROM (");
    if (rc == LH_OK) rc = lh_dataset_tables_sql(v->cfg.tables, dm, sql, err);
    lh_buf_puts(sql, ")");
    return rc;
}

/* ---- embedding, never the same text twice ---- */

typedef struct text_key {
    uint8_t h[16];
} text_key;

static text_key key_of(const char *s)
{
    uint8_t full[LH_SHA256_LEN];
    lh_sha256 c;
    lh_sha256_init(&c);
    lh_sha256_update(&c, s, strlen(s));
    lh_sha256_final(&c, full);
    text_key k;
    memcpy(k.h, full, sizeof k.h);
    return k;
}

/* Open addressing: text key -> a vector (borrowed). */
typedef struct vec_cache {
    text_key *keys;
    const float **vecs;
    size_t cap, n;
} vec_cache;

static const float **cache_slot(vec_cache *c, const text_key *k)
{
    uint64_t h;
    memcpy(&h, k->h, sizeof h);
    for (size_t i = (size_t)h & (c->cap - 1);; i = (i + 1) & (c->cap - 1))
        if (!c->vecs[i] || !memcmp(c->keys[i].h, k->h, sizeof k->h)) {
            c->keys[i] = *k;
            return &c->vecs[i];
        }
}

static void cache_init(vec_cache *c, size_t entries)
{
    c->cap = 16;
    while (c->cap < entries * 2) c->cap *= 2;
    c->keys = lh_xcalloc(c->cap, sizeof *c->keys);
    c->vecs = lh_xcalloc(c->cap, sizeof *c->vecs);
}

static void cache_free(vec_cache *c)
{
    free(c->keys);
    free(c->vecs);
}

typedef struct embed_job {
    const char *index;
    int64_t last_log_ms;
    lh_ai_progress_fn progress; /* the caller's, may be NULL */
    void *progress_ctx;
} embed_job;

static void embed_progress(void *ctx, size_t done, size_t total)
{
    embed_job *j = ctx;
    if (j->progress) j->progress(j->progress_ctx, done, total);
    int64_t now = lh_time_now_ms();
    if (done < total && now - j->last_log_ms < 2000) return;
    j->last_log_ms = now;
    lh_log(LH_LOG_INFO, "vectors.embed", LH_KV_STR("index", j->index), LH_KV_INT("done", (long long)done),
           LH_KV_INT("total", (long long)total));
}

static int by_length(const void *a, const void *b, void *texts)
{
    size_t la = strlen(((char **)texts)[*(const size_t *)a]), lb = strlen(((char **)texts)[*(const size_t *)b]);
    return la < lb ? -1 : la > lb;
}

/* Vectors for texts[n] (n x *dim into *out): from `known` (old vectors by
 * text) where possible, each distinct new text embedded once, shortest
 * first (batches of similar length run fastest). */
static lh_code embed_texts(lh_ai *ai, embed_job *job, char *const *texts, size_t n, vec_cache *known,
                           uint32_t want_dim, float **out, uint32_t *dim, size_t *embedded, size_t *reused,
                           lh_err *err)
{
    vec_cache fresh;
    cache_init(&fresh, n);
    size_t *todo = lh_xmalloc((n + 1) * sizeof *todo), m = 0;
    text_key *keys = lh_xmalloc((n + 1) * sizeof *keys);
    const float **from = lh_xcalloc(n + 1, sizeof *from);
    *reused = 0;
    for (size_t i = 0; i < n; i++) {
        keys[i] = key_of(texts[i]);
        const float **hit = known && known->cap ? cache_slot(known, &keys[i]) : NULL;
        if (hit && *hit) {
            from[i] = *hit;
            (*reused)++;
            continue;
        }
        const float **mine = cache_slot(&fresh, &keys[i]);
        if (!*mine) {
            *mine = (const float *)(uintptr_t)(m + 1); /* placeholder: todo position + 1 */
            todo[m++] = i;
        }
    }
    qsort_r(todo, m, sizeof *todo, by_length, (void *)texts);
    const char **batch = lh_xmalloc((m + 1) * sizeof *batch);
    for (size_t j = 0; j < m; j++) batch[j] = texts[todo[j]];
    /* positions moved in the sort: map each text's key to its new place */
    for (size_t j = 0; j < m; j++) *cache_slot(&fresh, &keys[todo[j]]) = (const float *)(uintptr_t)(j + 1);
    float *got = NULL;
    uint32_t d = 0;
    job->last_log_ms = lh_time_now_ms();
    lh_code rc = m ? lh_ai_embed(ai, batch, m, embed_progress, job, &got, &d, err) : LH_OK;
    if (rc == LH_OK && !m) d = want_dim;
    if (rc == LH_OK && want_dim && d != want_dim)
        rc = lh_err_set(err, LH_EUPSTREAM, "the embedding model answered %u dimensions; the index has %u", d,
                        want_dim);
    if (rc == LH_OK && d == 0) rc = lh_err_set(err, LH_EINVAL, "nothing to embed");
    float *vecs = NULL;
    if (rc == LH_OK) {
        vecs = lh_xmalloc((n + 1) * d * sizeof(float));
        for (size_t i = 0; i < n; i++) {
            const float *src = from[i];
            if (!src) src = got + ((size_t)(uintptr_t)*cache_slot(&fresh, &keys[i]) - 1) * d;
            memcpy(vecs + i * d, src, d * sizeof(float));
        }
        *out = vecs;
        *dim = d;
        *embedded = m;
    } else {
        lh_err_wrap(err, "embedding %zu texts for index %s", m, job->index);
    }
    free(got);
    free(batch);
    free(todo);
    free(keys);
    free(from);
    cache_free(&fresh);
    return rc;
}

static char **copy_chunks(char *const *chunks, size_t n, size_t extra)
{
    char **c = lh_xmalloc((n + extra + 1) * sizeof *c);
    for (size_t i = 0; i < n; i++) c[i] = lh_xstrdup(chunks[i]);
    return c;
}

/* ---- create ---- */

/* A new version of a text index: its rows, vectors, graph and manifest fields. */
typedef struct text_build {
    lh_vectors *v;
    const char *name;
    json_t *t;    /* settings */
    json_t *dm;   /* the dataset version embedded */
    lh_ai *ai;
    emb_rows r;   /* ids + texts of the rows */
    float *vecs;  /* by row */
    uint32_t dim;
    size_t embedded, reused;
} text_build;

static void text_build_free(text_build *b)
{
    json_decref(b->t);
    json_decref(b->dm);
    emb_rows_free(&b->r);
    free(b->vecs);
}

static char *source_of(const json_t *dm)
{
    return lh_xasprintf("%s@%" PRId64, str(dm, "dataset"), num(dm, "version"));
}

/* Reads the dataset's rows (ids of the type the index has, or learned from the schema). */
static lh_code read_rows(text_build *b, const json_t *origin, int strings, lh_err *err)
{
    if (strings < 0) {
        const char *type = vec_field_type(b->dm, str(origin, "id_column"));
        if (!type)
            return lh_err_set(err, LH_EINVAL, "dataset %s has no column \"%s\"", str(b->dm, "dataset"),
                              str(origin, "id_column"));
        strings = !vec_integer_type(type);
    }
    b->r.ids = lh_idtab_new(strings);
    lh_buf sql = {0};
    lh_code rc = rows_sql(b->v, b->dm, origin, b->t, strings, &sql, err);
    if (rc == LH_OK) rc = emb_read(b->v->cfg.engine, sql.data, EMB_TEXT, &b->r, err);
    lh_buf_free(&sql);
    return rc;
}

/* Writes the embeddings of b's rows and gives the draft its text side (chunks: every label's, taken over). */
static lh_code finish_draft(text_build *b, draft *d, const char *emb, char **chunks, size_t nchunks, lh_err *err)
{
    char *source = source_of(b->dm);
    lh_code rc = emb_write(b->v->cfg.engine, emb, b->r.ids, 0, b->vecs, b->r.ntexts, b->dim, b->r.texts, source, err);
    free(source);
    if (rc) {
        for (size_t i = 0; i < nchunks; i++) free(chunks[i]);
        free(chunks);
        return rc;
    }
    rc = vec_text_new(chunks, nchunks, d->ids, json_object_get(d->m, "deleted"), &d->text, err);
    if (rc) return rc;
    json_object_set(d->m, "text", b->t);
    json_object_set_new(d->m, "embedding", json_pack("{s:I, s:I}", "embedded", (json_int_t)b->embedded, "reused",
                                                     (json_int_t)b->reused));
    d->emb = emb;
    d->emb_rows = b->r.ntexts;
    return LH_OK;
}

lh_code vec_text_create(lh_vectors *v, const char *name, const lh_vectors_spec *spec, const lh_who *who,
                        json_t **out, lh_err *err)
{
    if (!spec->dataset || !spec->id_column)
        return lh_err_set(err, LH_EINVAL, "creating a text index needs a dataset and an id column");
    text_build b = {.v = v, .name = name};
    lh_code rc = settings_of(v, spec->text, &b.t, &b.ai, err);
    if (rc) return rc;
    struct entry *e;
    rc = vec_entry(v, name, true, &e, err);
    if (rc) {
        json_decref(b.t);
        return rc;
    }
    pthread_mutex_lock(&e->mu);
    rc = vec_refresh(v, e, err);
    if (rc == LH_OK && e->head > 0) rc = lh_err_set(err, LH_EEXIST, "index %s exists (version %" PRId64 ")", name, e->head);
    if (rc == LH_OK) rc = lh_catalog_get(v->cfg.catalog, spec->dataset, spec->dataset_version, &b.dm, err);
    json_t *origin = json_pack("{s:s, s:I, s:s, s:n}", "dataset", spec->dataset, "version",
                               (json_int_t)num(b.dm, "version"), "id_column", spec->id_column, "vector_column");
    if (rc == LH_OK) rc = read_rows(&b, origin, -1, err);
    if (rc == LH_OK && b.r.ntexts == 0)
        rc = lh_err_set(err, LH_EINVAL, "dataset %s has no row with text to embed", spec->dataset);
    embed_job job = {.index = name, .progress = spec->progress, .progress_ctx = spec->progress_ctx};
    if (rc == LH_OK)
        rc = embed_texts(b.ai, &job, b.r.texts, b.r.ntexts, NULL, 0, &b.vecs, &b.dim, &b.embedded, &b.reused, err);
    draft d = {0};
    if (rc == LH_OK) {
        lh_hnsw_params p = spec->params;
        p.dim = b.dim;
        if (!spec->params_set_metric) p.metric = LH_METRIC_COSINE;
        uint64_t *labels = vec_sequence(b.r.ntexts);
        rc = vec_build(v, &p, labels, b.vecs, b.r.ntexts, &d.hnsw, err);
        free(labels);
    }
    char *emb = vec_tmp_path(v, ".parquet");
    if (rc == LH_OK) {
        json_object_set_new(origin, "skipped_rows", json_integer((json_int_t)b.r.skipped));
        d.m = vec_draft_manifest(name, "create", 0, d.hnsw, lh_idtab_strings(b.r.ids), json_incref(origin),
                                 json_array(), json_array(), b.r.ntexts, spec->message, who);
        d.ids = lh_idtab_clone(b.r.ids);
        rc = finish_draft(&b, &d, emb, copy_chunks(b.r.texts, b.r.ntexts, 0), b.r.ntexts, err);
    }
    if (rc == LH_OK) {
        rc = vec_commit(v, e, &d, !spec->no_promote, who, out, err);
    } else {
        lh_hnsw_free(d.hnsw);
        lh_idtab_free(d.ids);
        json_decref(d.m);
        if (b.dm) lh_err_wrap(err, "index %s from dataset %s", name, spec->dataset);
    }
    unlink(emb);
    free(emb);
    json_decref(origin);
    text_build_free(&b);
    pthread_mutex_unlock(&e->mu);
    return rc;
}

/* ---- refresh ---- */

/* Refreshes one text index to its dataset's current version. Caller holds e->mu. */
static lh_code refresh_one(lh_vectors *v, struct entry *e, lh_vindex *live, const lh_who *who, lh_ai_progress_fn progress,
                           void *progress_ctx, json_t **report, lh_err *err)
{
    const json_t *lm = live->manifest, *origin = json_object_get(lm, "origin");
    text_build b = {.v = v, .name = e->name, .t = json_incref(json_object_get(lm, "text"))};
    lh_code rc = lh_catalog_get(v->cfg.catalog, str(origin, "dataset"), 0, &b.dm, err);
    if (rc == LH_OK && num(b.dm, "version") == num(origin, "version")) {
        *report = json_pack("{s:s, s:I, s:I, s:I, s:i, s:i, s:i, s:i, s:i, s:s}", "index", e->name, "from_version",
                            (json_int_t)live->version, "version", (json_int_t)live->version, "dataset_version",
                            (json_int_t)num(b.dm, "version"), "added", 0, "changed", 0, "removed", 0, "embedded", 0,
                            "reused", 0, "status", "up_to_date");
        text_build_free(&b);
        return LH_OK;
    }
    if (rc == LH_OK && !(b.ai = ai_of(v, b.t, err))) rc = err->code;
    if (rc == LH_OK) rc = read_rows(&b, origin, lh_idtab_strings(live->ids), err);
    lh_hnsw_info info;
    lh_hnsw_get_info(live->hnsw, &info);
    /* what changed: rows kept as they were, new ids, and the rest */
    size_t base = lh_idtab_count(live->ids), kept = 0, fresh = 0, changed = 0, alive = info.count - info.deleted;
    bool appended = true;
    for (size_t i = 0; rc == LH_OK && i < b.r.ntexts; i++) {
        uint64_t label;
        if (!lh_idtab_find(live->ids, lh_idtab_get(b.r.ids, i), &label)) {
            fresh++;
        } else if (lh_hnsw_vector(live->hnsw, label) && !strcmp(live->text->chunks[label], b.r.texts[i])) {
            kept++;
        } else {
            appended = false; /* changed text, or a deleted id back */
            changed += lh_hnsw_vector(live->hnsw, label) != NULL;
        }
    }
    if (kept != alive) appended = false; /* rows removed */
    /* the vectors we have, by text */
    vec_cache known = {0};
    if (rc == LH_OK) {
        cache_init(&known, base);
        for (size_t l = 0; l < base; l++) {
            const float *x = lh_hnsw_vector(live->hnsw, l);
            text_key k = key_of(live->text->chunks[l]);
            if (x) *cache_slot(&known, &k) = x;
        }
    }
    emb_rows add = {0}; /* appended: just the new rows, in order */
    text_build *src = &b;
    text_build nb = {0};
    if (rc == LH_OK && appended) {
        add.ids = lh_idtab_new(lh_idtab_strings(live->ids));
        for (size_t i = 0; i < b.r.ntexts; i++) {
            uint64_t label;
            if (lh_idtab_find(live->ids, lh_idtab_get(b.r.ids, i), &label)) continue;
            lh_idtab_add(add.ids, lh_idtab_get(b.r.ids, i), &label, NULL);
            if (add.ntexts == add.tcap) {
                add.tcap = add.tcap ? add.tcap * 2 : 256;
                add.texts = lh_xrealloc(add.texts, add.tcap * sizeof *add.texts);
            }
            add.texts[add.ntexts++] = lh_xstrdup(b.r.texts[i]);
        }
        nb = (text_build){.v = v, .name = e->name, .t = json_incref(b.t), .dm = json_incref(b.dm), .ai = b.ai, .r = add};
        src = &nb;
    }
    embed_job job = {.index = e->name, .progress = progress, .progress_ctx = progress_ctx};
    if (rc == LH_OK)
        rc = embed_texts(src->ai, &job, src->r.texts, src->r.ntexts, &known, info.params.dim, &src->vecs, &src->dim,
                         &src->embedded, &src->reused, err);
    cache_free(&known);
    draft d = {0};
    char *emb = vec_tmp_path(v, ".parquet");
    size_t labels_total = 0;
    if (rc == LH_OK && appended) {
        /* the live graph plus the new rows */
        d.ids = lh_idtab_clone(live->ids);
        for (size_t i = 0; i < nb.r.ntexts; i++) {
            uint64_t label;
            lh_idtab_add(d.ids, lh_idtab_get(nb.r.ids, i), &label, NULL);
        }
        rc = lh_hnsw_clone(live->hnsw, &d.hnsw, err);
        uint64_t *labels = vec_sequence(base + nb.r.ntexts);
        if (rc == LH_OK && nb.r.ntexts)
            rc = lh_hnsw_add_batch(d.hnsw, labels + base, nb.vecs, nb.r.ntexts, v->cfg.build_threads, err);
        free(labels);
        labels_total = base + nb.r.ntexts;
        if (rc == LH_OK) {
            d.m = vec_draft_manifest(e->name, "refresh", live->version, d.hnsw, lh_idtab_strings(d.ids), NULL,
                                     json_deep_copy(json_object_get(lm, "objects")),
                                     json_deep_copy(json_object_get(lm, "deleted")), labels_total, NULL, who);
            /* the embeddings file holds just the new rows; labels follow the objects' order */
            char **chunks = copy_chunks(live->text->chunks, base, nb.r.ntexts);
            for (size_t i = 0; i < nb.r.ntexts; i++) chunks[base + i] = lh_xstrdup(nb.r.texts[i]);
            rc = finish_draft(&nb, &d, emb, chunks, base + nb.r.ntexts, err);
        }
    } else if (rc == LH_OK) {
        /* a fresh graph over every row */
        lh_hnsw_params p = info.params;
        uint64_t *labels = vec_sequence(b.r.ntexts);
        rc = vec_build(v, &p, labels, b.vecs, b.r.ntexts, &d.hnsw, err);
        free(labels);
        labels_total = b.r.ntexts;
        if (rc == LH_OK) {
            d.ids = lh_idtab_clone(b.r.ids);
            d.m = vec_draft_manifest(e->name, "refresh", live->version, d.hnsw, lh_idtab_strings(d.ids), NULL,
                                     json_array(), json_array(), labels_total, NULL, who);
            rc = finish_draft(&b, &d, emb, copy_chunks(b.r.texts, b.r.ntexts, 0), b.r.ntexts, err);
        }
    }
    if (rc == LH_OK) {
        json_t *o = json_deep_copy(origin);
        json_object_set_new(o, "version", json_integer((json_int_t)num(b.dm, "version")));
        json_object_set_new(o, "skipped_rows", json_integer((json_int_t)b.r.skipped));
        json_object_set_new(d.m, "origin", o);
        json_object_set_new(d.m, "message",
                            json_string(appended ? "refresh: new rows added" : "refresh: rebuilt over every row"));
        json_t *m = NULL;
        rc = vec_commit(v, e, &d, true, who, &m, err);
        if (rc == LH_OK) {
            *report = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "index", e->name,
                                "from_version", (json_int_t)live->version, "version", (json_int_t)num(m, "version"),
                                "dataset_version", (json_int_t)num(b.dm, "version"), "added", (json_int_t)fresh,
                                "changed", (json_int_t)changed, "removed", (json_int_t)(alive - kept - changed),
                                "embedded", (json_int_t)src->embedded, "reused", (json_int_t)src->reused, "status",
                                "refreshed");
            json_decref(m);
        }
    } else {
        lh_hnsw_free(d.hnsw);
        lh_idtab_free(d.ids);
        json_decref(d.m);
    }
    unlink(emb);
    free(emb);
    if (appended) text_build_free(&nb);
    text_build_free(&b);
    if (rc) lh_err_wrap(err, "refreshing index %s", e->name);
    return rc;
}

/* Calls fn for the live version of every index (over `dataset`, if given). */
typedef lh_code (*each_fn)(lh_vectors *v, struct entry *e, lh_vindex *live, void *ctx, lh_err *err);

static lh_code each_index(lh_vectors *v, const char *dataset, bool lock, each_fn fn, void *ctx, lh_err *err)
{
    json_t *list;
    lh_code rc = lh_vectors_list(v, &list, err);
    if (rc) return rc;
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it) {
        struct entry *e;
        if (vec_entry(v, str(it, "name"), false, &e, err) != LH_OK) continue;
        if (lock) pthread_mutex_lock(&e->mu);
        lh_vindex *live = NULL;
        if (lock) {
            rc = vec_refresh(v, e, err);
            if (rc == LH_OK) rc = vec_sync_live(v, e, err);
            if (rc == LH_OK) live = lh_vslots_acquire(v->slots, e->name);
        } else if (lh_vectors_acquire(v, e->name, &live, err) != LH_OK) {
            live = NULL;
        }
        const json_t *origin = live ? json_object_get(live->manifest, "origin") : NULL;
        if (rc == LH_OK && live && json_is_object(origin) && (!dataset || !strcmp(str(origin, "dataset"), dataset)))
            rc = fn(v, e, live, ctx, err);
        lh_vindex_unref(live);
        if (lock) pthread_mutex_unlock(&e->mu);
        if (rc) break;
    }
    json_decref(list);
    return rc;
}

typedef struct refresh_ctx {
    const lh_who *who;
    json_t *reports;
    bool on_append_only;
    lh_ai_progress_fn progress;
    void *progress_ctx;
} refresh_ctx;

static lh_code refresh_each(lh_vectors *v, struct entry *e, lh_vindex *live, void *ctx, lh_err *err)
{
    refresh_ctx *c = ctx;
    if (!live->text) return LH_OK;
    if (c->on_append_only && strcmp(str(json_object_get(live->manifest, "text"), "refresh"), "on_append")) return LH_OK;
    json_t *report = NULL;
    lh_code rc = refresh_one(v, e, live, c->who, c->progress, c->progress_ctx, &report, err);
    if (rc == LH_OK) json_array_append_new(c->reports, report);
    return rc;
}

lh_code lh_vectors_refresh(lh_vectors *v, const char *dataset, const lh_who *who, lh_ai_progress_fn progress,
                           void *progress_ctx, json_t **out, lh_err *err)
{
    if (dataset) {
        json_t *dm;
        lh_code rc = lh_catalog_get(v->cfg.catalog, dataset, 0, &dm, err);
        if (rc) return rc;
        json_decref(dm);
    }
    refresh_ctx c = {.who = who, .reports = json_array(), .progress = progress, .progress_ctx = progress_ctx};
    lh_code rc = each_index(v, dataset, true, refresh_each, &c, err);
    if (rc) {
        json_decref(c.reports);
        return rc;
    }
    *out = json_pack("{s:s?, s:o}", "dataset", dataset, "indexes", c.reports);
    return LH_OK;
}

/* ---- staleness ---- */

static lh_code stale_each(lh_vectors *v, struct entry *e, lh_vindex *live, void *ctx, lh_err *err)
{
    (void)err;
    const json_t *origin = json_object_get(live->manifest, "origin");
    json_t *dm, *next;
    lh_err ignored;
    if (lh_catalog_get(v->cfg.catalog, str(origin, "dataset"), 0, &dm, &ignored) != LH_OK) return LH_OK;
    int64_t have = num(origin, "version"), now = num(dm, "version");
    if (now > have) {
        const char *since = NULL;
        if (lh_catalog_get(v->cfg.catalog, str(origin, "dataset"), have + 1, &next, &ignored) == LH_OK) {
            since = str(next, "created_at");
            json_decref(next);
        } else {
            next = NULL;
        }
        json_t *t = json_object_get(live->manifest, "text");
        json_array_append_new(ctx, json_pack("{s:s, s:I, s:s, s:I, s:I, s:s?, s:s}", "index", e->name, "version",
                                             (json_int_t)live->version, "dataset", str(origin, "dataset"),
                                             "embedded_version", (json_int_t)have, "dataset_version",
                                             (json_int_t)now, "stale_since", since, "refresh",
                                             t ? str(t, "refresh") : "rebuild"));
    }
    json_decref(dm);
    return LH_OK;
}

lh_code lh_vectors_stale(lh_vectors *v, json_t **out, lh_err *err)
{
    json_t *list = json_array();
    lh_code rc = each_index(v, NULL, false, stale_each, list, err);
    if (rc) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return LH_OK;
}

/* ---- on_append: a background worker ---- */

static void *worker_main(void *arg)
{
    lh_vectors *v = arg;
    pthread_mutex_lock(&v->qmu);
    for (;;) {
        while (!v->stopping && json_array_size(v->queue) == 0) pthread_cond_wait(&v->qcv, &v->qmu);
        if (json_array_size(v->queue) == 0) break; /* stopping, and nothing left to refresh */
        char *dataset = lh_xstrdup(json_string_value(json_array_get(v->queue, 0)));
        json_array_remove(v->queue, 0);
        v->busy = true;
        pthread_mutex_unlock(&v->qmu);
        lh_who who = {.actor = "system", .source = "on_append"};
        refresh_ctx c = {.who = &who, .reports = json_array(), .on_append_only = true};
        lh_err err;
        if (each_index(v, dataset, true, refresh_each, &c, &err) != LH_OK) {
            lh_log(LH_LOG_WARN, "vectors.on_append_failed", LH_KV_STR("dataset", dataset),
                   LH_KV_STR("error", err.message));
            if (v->cfg.errors) lh_errors_record(v->cfg.errors, "vectors.refresh", NULL, dataset, &err);
        }
        json_decref(c.reports);
        free(dataset);
        pthread_mutex_lock(&v->qmu);
        v->busy = false;
        pthread_cond_broadcast(&v->qcv);
    }
    pthread_mutex_unlock(&v->qmu);
    return NULL;
}

void lh_vectors_dataset_changed(void *ctx, const char *dataset, int64_t version)
{
    (void)version;
    lh_vectors *v = ctx;
    if (!v->cfg.ai) return;
    pthread_mutex_lock(&v->qmu);
    bool queued = false;
    for (size_t i = 0; i < json_array_size(v->queue); i++)
        if (!strcmp(json_string_value(json_array_get(v->queue, i)), dataset)) queued = true;
    if (!queued && !v->stopping) json_array_append_new(v->queue, json_string(dataset));
    if (!v->worker_started && !v->stopping)
        v->worker_started = pthread_create(&v->worker, NULL, worker_main, v) == 0;
    pthread_cond_broadcast(&v->qcv);
    pthread_mutex_unlock(&v->qmu);
}

bool lh_vectors_refreshing(lh_vectors *v)
{
    pthread_mutex_lock(&v->qmu);
    bool r = v->busy || json_array_size(v->queue) > 0;
    pthread_mutex_unlock(&v->qmu);
    return r;
}

void vec_worker_stop(lh_vectors *v)
{
    pthread_mutex_lock(&v->qmu);
    v->stopping = true;
    pthread_cond_broadcast(&v->qcv);
    bool started = v->worker_started;
    pthread_mutex_unlock(&v->qmu);
    if (started) pthread_join(v->worker, NULL);
}
