/*
 * search.c — searching text indexes by meaning, by keywords or both (see
 * lh_vectors.h): the query embedded by the index's provider and searched in
 * the graph, BM25 over the same chunks, the two fused; filters are SQL
 * predicates that DuckDB turns into an allow-list; hits carry their source
 * rows. Also the SQL table function vector_search.
 */
#include "internal.h"

#include "lakehouse/lh_hash.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_text.h"
#include "lakehouse/lh_query_duckdb.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_QUERY_BYTES 65536
#define MAX_FILTER_BYTES 65536

/* One search's results: fused hits plus what each list said. */
typedef struct found {
    lh_fusion_hit *hits;
    size_t n;
    float *distance; /* per hit: NAN when the vector list did not have it */
    float *bm25;     /* per hit: NAN when the text list did not have it */
} found;

static void found_free(found *f)
{
    free(f->hits);
    free(f->distance);
    free(f->bm25);
}

static const char *mode_name(lh_search_mode m)
{
    return m == LH_SEARCH_VECTOR ? "vector" : m == LH_SEARCH_TEXT ? "text" : "hybrid";
}

/* ---- query embeddings: a direct-mapped cache, so a repeated query (paging,
 * another filter, another mode) does not wait for the provider again ---- */

static lh_code embed_query(lh_vectors *v, lh_ai *ai, const char *query, float **out, uint32_t *dim, lh_err *err)
{
    char *key = lh_xasprintf("%s\n%s\n%s", lh_ai_provider(ai), lh_ai_model(ai), query);
    struct qcache_entry *slot = &v->qcache[lh_hash_mix64(lh_hash_fnv1a(LH_FNV1A_BASIS, key, strlen(key))) % QCACHE_SLOTS];
    pthread_mutex_lock(&v->qcache_mu);
    bool hit = slot->key && !strcmp(slot->key, key);
    if (hit) {
        *dim = slot->dim;
        *out = lh_xmalloc(slot->dim * sizeof(float));
        memcpy(*out, slot->vec, slot->dim * sizeof(float));
    }
    pthread_mutex_unlock(&v->qcache_mu);
    if (hit) {
        free(key);
        return LH_OK;
    }
    const char *texts[1] = {query};
    lh_code rc = lh_ai_embed(ai, texts, 1, NULL, NULL, out, dim, err);
    if (rc == LH_OK) {
        float *copy = lh_xmalloc(*dim * sizeof(float));
        memcpy(copy, *out, *dim * sizeof(float));
        pthread_mutex_lock(&v->qcache_mu);
        free(slot->key);
        free(slot->vec);
        *slot = (struct qcache_entry){.key = key, .vec = copy, .dim = *dim};
        key = NULL;
        pthread_mutex_unlock(&v->qcache_mu);
    }
    free(key);
    return rc;
}

void vec_qcache_free(lh_vectors *v)
{
    for (size_t i = 0; i < QCACHE_SLOTS; i++) {
        free(v->qcache[i].key);
        free(v->qcache[i].vec);
    }
}

/* How deep each list goes before fusion: fusion needs more than k. */
static size_t depth_for(size_t k, lh_search_mode mode)
{
    size_t d = mode == LH_SEARCH_HYBRID ? 4 * k + 20 : k;
    return d > LH_VINDEX_MAX_K ? LH_VINDEX_MAX_K : d;
}

static lh_code run(lh_vectors *v, const lh_vindex *x, const lh_search_request *q, const lh_bitmap *allow,
                   found *f, lh_err *err)
{
    const json_t *t = json_object_get(x->manifest, "text");
    lh_fusion fusion;
    if (!lh_fusion_parse(q->fusion ? q->fusion : str(t, "fusion"), &fusion))
        return lh_err_set(err, LH_EINVAL, "fusion must be \"rrf\" or \"weighted\"");
    double w = q->weight >= 0 ? q->weight : json_number_value(json_object_get(t, "weight"));
    double rrf_k = q->rrf_k >= 0 ? q->rrf_k : json_number_value(json_object_get(t, "rrf_k"));
    if (w > 1) return lh_err_set(err, LH_EINVAL, "weight must be in 0..1");
    size_t depth = depth_for(q->k, q->mode), na = 0, nb = 0;
    lh_fusion_item *a = lh_xmalloc(depth * sizeof *a), *b = lh_xmalloc(depth * sizeof *b);
    lh_code rc = LH_OK;
    if (q->mode != LH_SEARCH_TEXT) {
        lh_ai *ai = v->cfg.ai ? v->cfg.ai(v->cfg.ai_ctx, str(t, "provider"), str(t, "model"), err) : NULL;
        float *qv = NULL;
        uint32_t dim = 0;
        if (!ai) rc = v->cfg.ai ? err->code : lh_err_set(err, LH_EUNSUPPORTED, "no embedding provider is configured");
        if (rc == LH_OK) rc = embed_query(v, ai, q->query, &qv, &dim, err);
        lh_hnsw_info info;
        lh_hnsw_get_info(x->hnsw, &info);
        if (rc == LH_OK && dim != info.params.dim)
            rc = lh_err_set(err, LH_EUPSTREAM, "the embedding model answered %u dimensions; index %s has %u", dim,
                            x->name, info.params.dim);
        if (rc == LH_OK) {
            lh_hnsw_hit *h = lh_xmalloc(depth * sizeof *h);
            na = lh_hnsw_search(x->hnsw, qv, depth, q->ef, allow, h);
            if (!q->unlogged) vec_qlog_note(v, x->name, qv, dim);
            for (size_t i = 0; i < na; i++) a[i] = (lh_fusion_item){.label = (uint32_t)h[i].label, .score = -h[i].distance};
            free(h);
        }
        free(qv);
        if (rc) lh_err_wrap(err, "embedding the query");
    }
    if (rc == LH_OK && q->mode != LH_SEARCH_VECTOR) {
        lh_bm25_hit *h = lh_xmalloc(depth * sizeof *h);
        nb = lh_bm25_search(x->text->bm25, q->query, strlen(q->query), depth, allow, h);
        for (size_t i = 0; i < nb; i++) b[i] = (lh_fusion_item){.label = h[i].label, .score = h[i].score};
        free(h);
    }
    if (rc == LH_OK) {
        f->hits = lh_xmalloc((q->k + 1) * sizeof *f->hits);
        if (q->mode == LH_SEARCH_HYBRID) f->n = lh_fusion_fuse(fusion, w, rrf_k, a, na, b, nb, q->k, f->hits);
        else f->n = q->mode == LH_SEARCH_VECTOR ? lh_fusion_fuse(fusion, 1.0, rrf_k, a, na, NULL, 0, q->k, f->hits)
                                                : lh_fusion_fuse(fusion, 0.0, rrf_k, NULL, 0, b, nb, q->k, f->hits);
        f->distance = lh_xmalloc((f->n + 1) * sizeof(float));
        f->bm25 = lh_xmalloc((f->n + 1) * sizeof(float));
        for (size_t i = 0; i < f->n; i++) {
            f->distance[i] = f->hits[i].rank_a ? -a[f->hits[i].rank_a - 1].score : NAN;
            f->bm25[i] = f->hits[i].rank_b ? b[f->hits[i].rank_b - 1].score : NAN;
            /* single lists keep their own score: similarity or BM25 */
            if (q->mode == LH_SEARCH_VECTOR) f->hits[i].score = 1.0 - f->distance[i];
            if (q->mode == LH_SEARCH_TEXT) f->hits[i].score = f->bm25[i];
        }
    }
    free(a);
    free(b);
    return rc;
}

/* ---- filters: an SQL predicate over the source dataset -> allow-list ---- */

static void source_table(lh_buf *sql, const json_t *origin)
{
    char *table = lh_xasprintf("%s@%" PRId64, str(origin, "dataset"), num(origin, "version"));
    lh_sql_quote_ident(sql, table);
    free(table);
}

static lh_code filter_bitmap(lh_vectors *v, const lh_vindex *x, const char *filter, uint64_t **words, lh_err *err)
{
    if (!v->cfg.sandbox) return lh_err_set(err, LH_EUNSUPPORTED, "filters need the SQL engine");
    lh_query_engine *sandbox = v->cfg.sandbox(v->cfg.sandbox_ctx, err);
    if (!sandbox) return err->code;
    if (strlen(filter) > MAX_FILTER_BYTES)
        return lh_err_set(err, LH_ETOOBIG, "the filter is longer than %d bytes", MAX_FILTER_BYTES);
    const json_t *origin = json_object_get(x->manifest, "origin");
    bool strings = lh_idtab_strings(x->ids);
    lh_buf sql = {0};
    lh_buf_puts(&sql, "SELECT DISTINCT CAST(");
    lh_sql_quote_ident(&sql, str(origin, "id_column"));
    lh_buf_puts(&sql, strings ? " AS VARCHAR) FROM " : " AS BIGINT) FROM ");
    source_table(&sql, origin);
    lh_buf_printf(&sql, " WHERE (%s\n)", filter);
    lh_code rc = lh_query_check(sandbox, sql.data, err);
    emb_rows r = {.ids = lh_idtab_new(strings)};
    if (rc == LH_OK) rc = emb_read(sandbox, sql.data, 0, &r, err);
    lh_buf_free(&sql);
    if (rc == LH_OK) {
        size_t n = lh_idtab_count(x->ids);
        *words = lh_xcalloc(n / 64 + 1, sizeof **words);
        for (size_t i = 0; i < lh_idtab_count(r.ids); i++) {
            uint64_t label;
            if (lh_idtab_find(x->ids, lh_idtab_get(r.ids, i), &label)) (*words)[label >> 6] |= 1ULL << (label & 63);
        }
    }
    emb_rows_free(&r);
    return rc ? lh_err_wrap(err, "filter") : LH_OK;
}

/* ---- source rows: a direct-mapped cache in front of one SQL query for
 * the rows not in it ---- */

static struct rcache_entry *rcache_set(lh_vectors *v, const char *key)
{
    return v->rcache[lh_hash_mix64(lh_hash_fnv1a(LH_FNV1A_BASIS, key, strlen(key))) % RCACHE_SETS];
}

/* The cached row of key (a new reference), or NULL. */
static json_t *rcache_get(lh_vectors *v, const char *key)
{
    struct rcache_entry *set = rcache_set(v, key);
    json_t *row = NULL;
    pthread_mutex_lock(&v->rcache_mu);
    for (int w = 0; w < RCACHE_WAYS && !row; w++)
        if (set[w].key && !strcmp(set[w].key, key)) {
            row = json_incref(set[w].row);
            set[w].used = ++v->rcache_clock;
        }
    pthread_mutex_unlock(&v->rcache_mu);
    return row;
}

/* Caches row under key in place of its set's least recently used entry. */
static void rcache_put(lh_vectors *v, const char *key, json_t *row)
{
    struct rcache_entry *set = rcache_set(v, key), *e = &set[0];
    char *copy = lh_xstrdup(key);
    pthread_mutex_lock(&v->rcache_mu);
    for (int w = 1; w < RCACHE_WAYS; w++)
        if (set[w].used < e->used) e = &set[w];
    char *old_key = e->key;
    json_t *old_row = e->row;
    *e = (struct rcache_entry){.key = copy, .row = json_incref(row), .used = ++v->rcache_clock};
    pthread_mutex_unlock(&v->rcache_mu);
    free(old_key);
    json_decref(old_row);
}

void vec_rcache_free(lh_vectors *v)
{
    for (size_t i = 0; i < RCACHE_SETS; i++)
        for (int w = 0; w < RCACHE_WAYS; w++) {
            free(v->rcache[i][w].key);
            json_decref(v->rcache[i][w].row);
        }
}

/* The key of an id in a row map: a string as it is, else its JSON text. */
static char *id_key(const json_t *id)
{
    return json_is_string(id) ? lh_xstrdup(json_string_value(id)) : json_dumps(id, JSON_ENCODE_ANY);
}

/* {id key: row object} for the hits, from the dataset version embedded.
 * Rows not cached come from one statement whose text is the same for every
 * search of the index (the ids are its parameter, a JSON array),
 * so its plan is kept (engine.c) and no search prepares one. */
static lh_code source_rows(lh_vectors *v, const lh_vindex *x, const found *f, json_t **out, lh_err *err)
{
    const json_t *origin = json_object_get(x->manifest, "origin");
    char *table = lh_xasprintf("%s@%" PRId64, str(origin, "dataset"), num(origin, "version"));
    json_t *by_id = json_object();
    lh_buf sql = {0};
    lh_buf_puts(&sql, "SELECT * FROM ");
    lh_sql_quote_ident(&sql, table);
    lh_buf_puts(&sql, " WHERE CAST(");
    lh_sql_quote_ident(&sql, str(origin, "id_column"));
    lh_buf_puts(&sql, lh_idtab_strings(x->ids) ? " AS VARCHAR) IN (SELECT unnest(from_json($1, '[\"VARCHAR\"]')))"
                                               : " AS BIGINT) IN (SELECT unnest(from_json($1, '[\"BIGINT\"]')))");
    json_t *wanted = json_array();
    size_t misses = 0;
    for (size_t i = 0; i < f->n; i++) {
        json_t *idv = lh_idtab_json(x->ids, f->hits[i].label);
        char *key = id_key(idv), *ck = lh_xasprintf("%s\x1f%s", table, key);
        json_t *row = rcache_get(v, ck);
        if (row) {
            json_object_set_new(by_id, key, row);
        } else {
            misses++;
            json_array_append(wanted, idv);
        }
        free(ck);
        free(key);
        json_decref(idv);
    }
    lh_code rc = LH_OK;
    json_t *res = NULL;
    if (misses) {
        char *list = json_dumps(wanted, JSON_COMPACT | JSON_ENCODE_ANY);
        json_t *params = json_pack("[s]", list);
        free(list);
        lh_query_args qa = {.sql = sql.data, .params = params, .timeout_ms = 30000, .read_only = true};
        lh_query_cursor *c;
        lh_query_engine *sandbox = NULL;
        if (!v->cfg.sandbox) rc = lh_err_set(err, LH_EUNSUPPORTED, "rows need the SQL engine");
        else if (!(sandbox = v->cfg.sandbox(v->cfg.sandbox_ctx, err))) rc = err->code;
        else rc = lh_query_open(sandbox, &qa, &c, err);
        lh_buf body = {0};
        if (rc == LH_OK) {
            lh_result_writer *w = lh_result_writer_new(c, LH_FORMAT_JSON, (long long)misses + 1);
            bool done = false;
            while (rc == LH_OK && !done) rc = lh_result_writer_next(w, &body, &done, err);
            lh_result_writer_free(w);
            lh_query_close(c);
        }
        res = rc == LH_OK ? json_loadb(body.data, body.len, 0, NULL) : NULL;
        lh_buf_free(&body);
        if (rc == LH_OK && !res) rc = lh_err_set(err, LH_EINTERNAL, "cannot read the source rows");
        json_decref(params);
    }
    json_decref(wanted);
    lh_buf_free(&sql);
    json_t *cols = json_object_get(res, "columns");
    size_t idcol = 0, i, j;
    json_t *col, *row;
    json_array_foreach(cols, i, col) if (!strcmp(str(col, "name"), str(origin, "id_column"))) idcol = i;
    json_array_foreach(json_object_get(res, "rows"), i, row) {
        json_t *o = json_object();
        json_array_foreach(cols, j, col) json_object_set(o, str(col, "name"), json_array_get(row, j));
        char *key = id_key(json_array_get(row, idcol)), *ck = lh_xasprintf("%s\x1f%s", table, key);
        rcache_put(v, ck, o);
        json_object_set_new(by_id, key, o);
        free(ck);
        free(key);
    }
    json_decref(res);
    free(table);
    if (rc) {
        json_decref(by_id);
        return rc;
    }
    *out = by_id;
    return LH_OK;
}

static json_t *hit_json(const lh_vindex *x, const found *f, size_t i, json_t *rows)
{
    json_t *id = lh_idtab_json(x->ids, f->hits[i].label);
    json_t *h = json_pack("{s:O, s:f, s:I}", "id", id, "score", f->hits[i].score, "rank", (json_int_t)(i + 1));
    if (f->hits[i].rank_a) {
        json_object_set_new(h, "vector_rank", json_integer(f->hits[i].rank_a));
        json_object_set_new(h, "distance", json_real(f->distance[i]));
    }
    if (f->hits[i].rank_b) {
        json_object_set_new(h, "text_rank", json_integer(f->hits[i].rank_b));
        json_object_set_new(h, "bm25", json_real(f->bm25[i]));
    }
    json_object_set_new(h, "chunk_text", json_string(x->text->chunks[f->hits[i].label]));
    if (rows) {
        char *key = id_key(id);
        json_t *row = json_object_get(rows, key);
        json_object_set(h, "row", row ? row : json_null());
        free(key);
    }
    json_decref(id);
    return h;
}

static lh_code check_request(const lh_search_request *q, lh_err *err)
{
    if (!q->index) return lh_err_set(err, LH_EINVAL, "\"index\" is required");
    if (!q->query || !*q->query) return lh_err_set(err, LH_EINVAL, "\"query\" is required");
    if (strlen(q->query) > MAX_QUERY_BYTES)
        return lh_err_set(err, LH_ETOOBIG, "the query is longer than %d bytes", MAX_QUERY_BYTES);
    if (q->k < 1 || q->k > LH_VINDEX_MAX_K) return lh_err_set(err, LH_EINVAL, "k must be 1..%d", LH_VINDEX_MAX_K);
    if (q->ef > 10000) return lh_err_set(err, LH_EINVAL, "ef must be at most 10000");
    return LH_OK;
}

/* The live version of a text index. */
static lh_code acquire_text(lh_vectors *v, const char *name, lh_vindex **out, lh_err *err)
{
    lh_code rc = lh_vectors_acquire(v, name, out, err);
    if (rc == LH_OK && !(*out)->text) {
        lh_vindex_unref(*out);
        return lh_err_set(err, LH_EINVAL,
                          "index %s holds vectors, not text: search it with a vector (POST "
                          "/v1/vectors/indexes/%s/search)",
                          name, name);
    }
    return rc;
}

lh_code lh_vectors_query(lh_vectors *v, const lh_search_request *q, json_t **out, lh_err *err)
{
    lh_code rc = check_request(q, err);
    lh_vindex *x = NULL;
    if (rc == LH_OK) rc = acquire_text(v, q->index, &x, err);
    if (rc) return rc;
    uint64_t *words = NULL;
    lh_bitmap allow = {0};
    if (q->filter && *q->filter) {
        rc = filter_bitmap(v, x, q->filter, &words, err);
        allow = (lh_bitmap){.words = words, .nbits = lh_idtab_count(x->ids)};
    }
    found f = {0};
    if (rc == LH_OK) rc = run(v, x, q, words ? &allow : NULL, &f, err);
    json_t *rows = NULL;
    if (rc == LH_OK && q->with_rows && f.n) rc = source_rows(v, x, &f, &rows, err);
    if (rc == LH_OK) {
        const json_t *t = json_object_get(x->manifest, "text"), *origin = json_object_get(x->manifest, "origin");
        json_t *hits = json_array();
        for (size_t i = 0; i < f.n; i++) json_array_append_new(hits, hit_json(x, &f, i, rows));
        *out = json_pack("{s:s, s:I, s:s, s:I, s:s, s:s, s:o}", "index", q->index, "version",
                         (json_int_t)x->version, "dataset", str(origin, "dataset"), "dataset_version",
                         (json_int_t)num(origin, "version"), "mode", mode_name(q->mode), "fusion",
                         q->fusion ? q->fusion : str(t, "fusion"), "hits", hits);
    }
    json_decref(rows);
    found_free(&f);
    free(words);
    lh_vindex_unref(x);
    return rc;
}

lh_code lh_vectors_query_version(lh_vectors *v, const lh_vindex *x, const lh_search_request *q, uint64_t *labels,
                                 size_t *n, lh_err *err)
{
    *n = 0;
    lh_code rc = check_request(q, err);
    if (rc == LH_OK && !x->text) rc = lh_err_set(err, LH_EINVAL, "index %s holds vectors, not text", x->name);
    found f = {0};
    if (rc == LH_OK) rc = run(v, x, q, NULL, &f, err);
    for (size_t i = 0; rc == LH_OK && i < f.n; i++) labels[(*n)++] = f.hits[i].label;
    found_free(&f);
    return rc;
}

/* ---- ask ---- */

#define ASK_CONTEXT_CHARS 12000
#define ASK_EXTRACT_CHARS 1500 /* an extractive answer's quotes, shared by the passages */

typedef struct passage {
    const char *index;
    json_t *id;
    const char *text;
    double score;
} passage;

static int by_score(const void *a, const void *b)
{
    double x = ((const passage *)a)->score, y = ((const passage *)b)->score;
    return x < y ? 1 : x > y ? -1 : 0;
}

lh_code lh_vectors_ask(lh_vectors *v, const lh_ask_request *q, const lh_who *who, json_t **out, lh_err *err)
{
    if (!q->question || !*q->question) return lh_err_set(err, LH_EINVAL, "\"question\" is required");
    if (strlen(q->question) > MAX_QUERY_BYTES)
        return lh_err_set(err, LH_ETOOBIG, "the question is longer than %d bytes", MAX_QUERY_BYTES);
    if (q->n_indexes < 1 || q->n_indexes > LH_ASK_MAX_INDEXES)
        return lh_err_set(err, LH_EINVAL, "name 1..%d indexes to answer from", LH_ASK_MAX_INDEXES);
    size_t k = q->k ? q->k : 5;
    if (k > LH_ASK_MAX_K) return lh_err_set(err, LH_EINVAL, "k must be 1..%d", LH_ASK_MAX_K);
    lh_vindex *xs[LH_ASK_MAX_INDEXES] = {0};
    found fs[LH_ASK_MAX_INDEXES] = {0};
    passage *ps = lh_xmalloc(q->n_indexes * k * sizeof *ps);
    size_t np = 0;
    lh_code rc = LH_OK;
    json_t *provenance = json_array();
    for (size_t i = 0; rc == LH_OK && i < q->n_indexes; i++) {
        lh_search_request sq = {.index = q->indexes[i], .query = q->question, .k = k, .mode = LH_SEARCH_HYBRID,
                                .weight = -1, .rrf_k = -1};
        rc = acquire_text(v, q->indexes[i], &xs[i], err);
        if (rc == LH_OK) rc = run(v, xs[i], &sq, NULL, &fs[i], err);
        if (rc) break;
        const json_t *origin = json_object_get(xs[i]->manifest, "origin");
        json_array_append_new(provenance, json_pack("{s:s, s:I, s:s, s:I}", "index", q->indexes[i], "version",
                                                    (json_int_t)xs[i]->version, "dataset", str(origin, "dataset"),
                                                    "dataset_version", (json_int_t)num(origin, "version")));
        for (size_t j = 0; j < fs[i].n; j++) /* rank-based, so scores of different indexes compare */
            ps[np++] = (passage){.index = q->indexes[i], .id = lh_idtab_json(xs[i]->ids, fs[i].hits[j].label),
                                 .text = xs[i]->text->chunks[fs[i].hits[j].label], .score = 1.0 / (60.0 + j + 1)};
    }
    qsort(ps, np, sizeof *ps, by_score);
    if (np > k) {
        for (size_t j = k; j < np; j++) json_decref(ps[j].id);
        np = k;
    }
    json_t *citations = json_array();
    for (size_t j = 0; j < np; j++)
        json_array_append_new(citations, json_pack("{s:s, s:O, s:s, s:f}", "index", ps[j].index, "id", ps[j].id,
                                                   "chunk_text", ps[j].text, "score", ps[j].score));
    char *answer = NULL;
    const char *mode = "extractive";
    if (rc == LH_OK && np == 0) {
        answer = lh_xstrdup("No passage in the index matches the question.");
    } else if (rc == LH_OK && v->cfg.chat && lh_ai_can_chat(v->cfg.chat)) {
        lh_buf ctx = {0};
        lh_buf_puts(&ctx, "Answer the question using only the passages below. Cite every passage you use by its id "
                          "in square brackets, like [id]. If the passages do not contain the answer, say so.\n\n");
        for (size_t j = 0; j < np && ctx.len < ASK_CONTEXT_CHARS; j++) {
            char *id = json_dumps(ps[j].id, JSON_ENCODE_ANY);
            lh_buf_printf(&ctx, "[%s] %.*s\n\n", json_is_string(ps[j].id) ? json_string_value(ps[j].id) : id, 2000,
                          ps[j].text);
            free(id);
        }
        lh_ai_message msgs[2] = {{.role = "system", .content = ctx.data}, {.role = "user", .content = q->question}};
        rc = lh_ai_chat(v->cfg.chat, msgs, 2, &answer, err);
        lh_buf_free(&ctx);
        if (rc) lh_err_wrap(err, "generating the answer");
        mode = "generated";
    } else if (rc == LH_OK) {
        /* every cited passage, best first: its sentences that answer the question, whole */
        lh_buf a = {0};
        size_t share = ASK_EXTRACT_CHARS / np > 200 ? ASK_EXTRACT_CHARS / np : 200;
        for (size_t j = 0; j < np; j++) {
            char *id = json_dumps(ps[j].id, JSON_ENCODE_ANY);
            char *quote = lh_text_quote(q->question, ps[j].text, strlen(ps[j].text), share);
            lh_buf_printf(&a, "%s%s [%s]", j ? "\n\n" : "", quote,
                          json_is_string(ps[j].id) ? json_string_value(ps[j].id) : id);
            free(quote);
            free(id);
        }
        answer = lh_buf_detach(&a);
    }
    if (rc == LH_OK) {
        *out = json_pack("{s:s, s:s, s:s, s:O, s:O}", "question", q->question, "answer", answer, "mode", mode,
                         "citations", citations, "provenance", provenance);
        if (v->cfg.journal) {
            json_t *cited = json_array();
            for (size_t j = 0; j < np; j++)
                json_array_append_new(cited, json_pack("{s:s, s:O}", "index", ps[j].index, "id", ps[j].id));
            json_t *rec = json_pack("{s:s, s:s, s:o, s:O}", "question", q->question, "mode", mode, "cited", cited,
                                    "provenance", provenance);
            lh_journal_event ev = {.entity_type = "ask", .entity_id = q->indexes[0], .action = "answer",
                                   .new_value = rec, .actor = who ? who->actor : NULL,
                                   .source = who ? who->source : NULL};
            lh_journal_record(v->cfg.journal, &ev);
            json_decref(rec);
        }
    }
    free(answer);
    json_decref(citations);
    json_decref(provenance);
    for (size_t j = 0; j < np; j++) json_decref(ps[j].id);
    free(ps);
    for (size_t i = 0; i < q->n_indexes; i++) {
        found_free(&fs[i]);
        lh_vindex_unref(xs[i]);
    }
    return rc;
}

/* ---- SQL: vector_search(index, query, k) ---- */

typedef struct tf_state {
    lh_vindex *x;
    found f;
    size_t next;
} tf_state;

static void tf_state_free(void *p)
{
    tf_state *b = p;
    found_free(&b->f);
    lh_vindex_unref(b->x);
    free(b);
}

static void tf_bind(duckdb_bind_info info)
{
    lh_vectors *v = duckdb_bind_get_extra_info(info);
    duckdb_value pv[3];
    for (idx_t i = 0; i < 3; i++) pv[i] = duckdb_bind_get_parameter(info, i);
    char *index = duckdb_is_null_value(pv[0]) ? NULL : duckdb_get_varchar(pv[0]);
    char *query = duckdb_is_null_value(pv[1]) ? NULL : duckdb_get_varchar(pv[1]);
    int64_t k = duckdb_is_null_value(pv[2]) ? 10 : duckdb_get_int64(pv[2]);
    for (idx_t i = 0; i < 3; i++) duckdb_destroy_value(&pv[i]);
    lh_search_request q = {.index = index, .query = query, .k = k > 0 ? (size_t)k : 0, .mode = LH_SEARCH_HYBRID,
                           .weight = -1, .rrf_k = -1};
    tf_state *b = lh_xcalloc(1, sizeof *b);
    lh_err err;
    lh_code rc = check_request(&q, &err);
    /* a caller who may not read the index is told what one that does not exist is told */
    if (rc == LH_OK && v->cfg.index_allowed && !v->cfg.index_allowed(v->cfg.index_allowed_ctx, index ? index : ""))
        rc = lh_err_set(&err, LH_ENOTFOUND, "no index named %s", index ? index : "");
    if (rc == LH_OK) rc = acquire_text(v, index, &b->x, &err);
    if (rc == LH_OK) rc = run(v, b->x, &q, NULL, &b->f, &err);
    duckdb_free(index);
    duckdb_free(query);
    if (rc) {
        duckdb_bind_set_error(info, err.message);
        tf_state_free(b);
        return;
    }
    duckdb_logical_type id = duckdb_create_logical_type(lh_idtab_strings(b->x->ids) ? DUCKDB_TYPE_VARCHAR
                                                                                      : DUCKDB_TYPE_BIGINT);
    duckdb_logical_type dbl = duckdb_create_logical_type(DUCKDB_TYPE_DOUBLE);
    duckdb_logical_type big = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
    duckdb_logical_type txt = duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR);
    duckdb_bind_add_result_column(info, str(json_object_get(b->x->manifest, "origin"), "id_column"), id);
    duckdb_bind_add_result_column(info, "score", dbl);
    duckdb_bind_add_result_column(info, "rank", big);
    duckdb_bind_add_result_column(info, "chunk_text", txt);
    duckdb_destroy_logical_type(&id);
    duckdb_destroy_logical_type(&dbl);
    duckdb_destroy_logical_type(&big);
    duckdb_destroy_logical_type(&txt);
    duckdb_bind_set_cardinality(info, b->f.n, true);
    duckdb_bind_set_bind_data(info, b, tf_state_free);
}

static void tf_init(duckdb_init_info info)
{
    duckdb_init_set_max_threads(info, 1);
}

static void tf_next(duckdb_function_info info, duckdb_data_chunk out)
{
    tf_state *b = duckdb_function_get_bind_data(info);
    size_t cap = (size_t)duckdb_vector_size(), m = 0;
    duckdb_vector idv = duckdb_data_chunk_get_vector(out, 0), sv = duckdb_data_chunk_get_vector(out, 1),
                  rv = duckdb_data_chunk_get_vector(out, 2), tv = duckdb_data_chunk_get_vector(out, 3);
    for (; b->next < b->f.n && m < cap; b->next++, m++) {
        uint32_t label = b->f.hits[b->next].label;
        lh_id id = lh_idtab_get(b->x->ids, label);
        if (lh_idtab_strings(b->x->ids)) duckdb_vector_assign_string_element_len(idv, m, id.s, id.len);
        else ((int64_t *)duckdb_vector_get_data(idv))[m] = id.i;
        ((double *)duckdb_vector_get_data(sv))[m] = b->f.hits[b->next].score;
        ((int64_t *)duckdb_vector_get_data(rv))[m] = (int64_t)b->next + 1;
        duckdb_vector_assign_string_element(tv, m, b->x->text->chunks[label]);
    }
    duckdb_data_chunk_set_size(out, m);
}

lh_code lh_vectors_register_sql(lh_vectors *v, lh_query_engine *e, lh_err *err)
{
    lh_query_lease *lease;
    lh_code rc = lh_query_lease_acquire(e, 0, &lease, err);
    if (rc) return rc;
    duckdb_table_function tf = duckdb_create_table_function();
    duckdb_table_function_set_name(tf, "vector_search");
    duckdb_logical_type vc = duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR);
    duckdb_logical_type bi = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
    duckdb_table_function_add_parameter(tf, vc);
    duckdb_table_function_add_parameter(tf, vc);
    duckdb_table_function_add_parameter(tf, bi);
    duckdb_destroy_logical_type(&vc);
    duckdb_destroy_logical_type(&bi);
    duckdb_table_function_set_extra_info(tf, v, NULL);
    duckdb_table_function_set_bind(tf, tf_bind);
    duckdb_table_function_set_init(tf, tf_init);
    duckdb_table_function_set_function(tf, tf_next);
    if (duckdb_register_table_function(lh_query_lease_connection(lease), tf) == DuckDBError)
        rc = lh_err_set(err, LH_EINTERNAL, "cannot register the SQL function vector_search");
    duckdb_destroy_table_function(&tf);
    lh_query_lease_release(lease);
    return rc;
}

bool lh_search_mode_parse(const char *s, lh_search_mode *out)
{
    if (!strcmp(s, "hybrid")) *out = LH_SEARCH_HYBRID;
    else if (!strcmp(s, "vector")) *out = LH_SEARCH_VECTOR;
    else if (!strcmp(s, "text")) *out = LH_SEARCH_TEXT;
    else return false;
    return true;
}
