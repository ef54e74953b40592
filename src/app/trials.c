/*
 * trials.c — trials as data (lh_trials.h): trials.run, trials.list,
 * index.autotune and index.watch, over lh_vectors (graphs, versions,
 * promotion, the query log), lh_hnsw_evaluate (the measurement) and the
 * ingester (the rows of _trials).
 */
#include "internal.h"

#include "lakehouse/lh_hnsw.h"
#include "lakehouse/lh_ingest.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_log.h"
#include "lakehouse/lh_query.h"
#include "lakehouse/lh_time.h"
#include "lakehouse/lh_trials.h"
#include "lakehouse/lh_vectors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* One configuration: what needs a graph of its own, and the beam width. */
typedef struct config {
    uint32_t M, ef_construction, ef_search;
    lh_quant quantization;
    uint64_t seed;
} config;

static config config_of(const json_t *manifest)
{
    const json_t *p = json_object_get(manifest, "params");
    config c = {(uint32_t)json_integer_value(json_object_get(p, "M")),
                (uint32_t)json_integer_value(json_object_get(p, "ef_construction")),
                (uint32_t)json_integer_value(json_object_get(p, "ef_search")), LH_QUANT_NONE,
                (uint64_t)json_integer_value(json_object_get(p, "seed"))};
    const char *q = json_string_value(json_object_get(p, "quantization"));
    if (q) lh_quant_parse(q, &c.quantization);
    return c;
}

static bool same_graph(const config *a, const config *b)
{
    return a->M == b->M && a->ef_construction == b->ef_construction && a->quantization == b->quantization &&
           a->seed == b->seed;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* A version of index with c's graph and c.ef_search as its own beam width:
 * `have` when it matches, else a new version built from have's embeddings
 * (not promoted). *build_ms: the build's time (0 when none). */
static lh_code version_for(lh_app *app, const char *index, const lh_vindex *have, const config *c, bool exact_ef,
                           const lh_who *who, lh_vindex **out, double *build_ms, lh_err *err)
{
    config h = config_of(have->manifest);
    *build_ms = 0;
    if (same_graph(&h, c) && (!exact_ef || h.ef_search == c->ef_search)) {
        *out = lh_vindex_ref((lh_vindex *)have); /* a new reference: the count is atomic */
        return LH_OK;
    }
    char message[160];
    snprintf(message, sizeof message, "trial: M=%u ef_construction=%u ef_search=%u quantization=%s seed=%llu", c->M,
             c->ef_construction, c->ef_search, c->quantization == LH_QUANT_SQ8 ? "sq8" : "none",
             (unsigned long long)c->seed);
    lh_vectors_spec s = {.version = have->version, .no_promote = true, .message = message,
                         .params = {.M = c->M, .ef_construction = c->ef_construction, .ef_search = c->ef_search,
                                    .seed = c->seed, .quantization = c->quantization},
                         .params_set_quantization = true};
    json_t *m;
    double t0 = now_ms();
    lh_code rc = lh_vectors_rebuild(app->vectors, index, &s, who, &m, err);
    if (rc) return lh_err_wrap(err, "building the graph of %s", message);
    *build_ms = now_ms() - t0;
    rc = lh_vectors_acquire_version(app->vectors, index, json_integer_value(json_object_get(m, "version")), out, err);
    json_decref(m);
    return rc;
}

/* The evaluation queries of a version: n labels drawn by seed. */
static size_t eval_queries(const lh_vindex *x, size_t n, uint64_t seed, uint64_t *labels)
{
    return lh_hnsw_sample_labels(x->hnsw, lh_idtab_count(x->ids), n, seed, labels);
}

/* ---- evaluation sets ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}


/* What a configuration is measured on:
 *   auto:SEED:N      stored vectors as queries, the exact nearest as truth (recall of the graph);
 *   held_out:SEED:N  text indexes: a chunk's longest sentence, every second word dropped, as the
 *                    query, that chunk as the answer (the index holds the sentence: an easy set);
 *   dataset:NAME@V   labelled: each row a `query` (text) or `vector`, and `expected` ids.
 * The last two are measured through search (text indexes: in `mode`, with
 * the fusion asked), as readers search, with recall@10 and MRR. */
typedef struct evalset {
    char name[160];
    bool labelled;
    size_t n;
    uint64_t *labels; /* auto */
    char **texts;     /* text queries */
    float *vecs;      /* vector queries, n * dim */
    uint32_t dim;
    json_t *expected; /* labelled: per query, the ids (as text) that answer it */
    lh_search_mode mode;
    const char *fusion; /* NULL: the index's */
    double weight, rrf_k; /* < 0: the index's */
} evalset;

static void evalset_free(evalset *e)
{
    for (size_t i = 0; e->texts && i < e->n; i++) free(e->texts[i]);
    free(e->texts);
    free(e->labels);
    free(e->vecs);
    json_decref(e->expected);
}

/* An id as text ("17", "doc-3"): labelled answers compare by it, whatever their JSON type. */
static json_t *id_text(const json_t *id)
{
    if (json_is_string(id)) return json_string(json_string_value(id));
    char *s = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
    json_t *t = s ? json_string(s) : NULL;
    free(s);
    return t;
}

/* A query for a chunk: its longest sentence of 4+ words (else its first 200
 * bytes), every second word dropped; malloc'd. */
static char *held_out_sentence(const char *chunk)
{
    const char *best = NULL;
    size_t best_len = 0;
    for (const char *p = chunk; *p;) {
        while (*p == ' ' || *p == '\n' || *p == '\t') p++;
        const char *start = p;
        while (*p && !strchr(".!?\n", *p)) p++;
        size_t len = (size_t)(p - start), words = 0;
        for (const char *w = start; w < p; w++) words += (w == start || w[-1] == ' ') && *w != ' ';
        if (words >= 4 && len > best_len) {
            best = start;
            best_len = len;
        }
        if (*p) p++;
    }
    if (!best) {
        best = chunk;
        best_len = strnlen(chunk, 200);
    }
    if (best_len > 1000) best_len = 1000;
    /* every second word dropped: the query asks for the chunk without being its text verbatim */
    char *s = lh_xcalloc(best_len + 1, 1);
    size_t out = 0, word = 0;
    for (size_t i = 0; i < best_len;) {
        size_t len = strcspn(best + i, " ");
        if (len > best_len - i) len = best_len - i;
        if (len && word++ % 2 == 0) {
            if (out) s[out++] = ' ';
            memcpy(s + out, best + i, len);
            out += len;
        }
        i += len;
        while (i < best_len && best[i] == ' ') i++;
    }
    return s;
}

/* A labelled set from a dataset: rows with `query` or `vector`, and `expected`. */
static lh_code dataset_set(lh_app *app, const char *name, size_t max, evalset *e, lh_err *err)
{
    json_t *m;
    lh_code rc = lh_catalog_get(app->catalog, name, 0, &m, err);
    if (rc) return lh_err_wrap(err, "the evaluation set");
    long long version = (long long)json_integer_value(json_object_get(m, "version"));
    snprintf(e->name, sizeof e->name, "dataset:%s@%lld", name, version);
    json_decref(m);
    lh_buf sql = {0};
    lh_buf_puts(&sql, "SELECT * FROM dataset_version(");
    lh_sql_quote_literal(&sql, name);
    lh_buf_printf(&sql, ", %lld)", version);
    json_t *rows;
    rc = lh_app_query_rows(app, sql.data, true, (long long)max, &rows, NULL, err);
    lh_buf_free(&sql);
    if (rc) return rc;
    size_t n = json_array_size(rows), i;
    json_t *r;
    e->labelled = true;
    e->expected = json_array();
    e->texts = lh_xcalloc(n ? n : 1, sizeof *e->texts);
    json_array_foreach(rows, i, r) {
        json_t *q = json_object_get(r, "query"), *v = json_object_get(r, "vector"), *x = json_object_get(r, "expected");
        json_t *ids = json_array();
        if (json_is_array(x)) {
            size_t j;
            json_t *id;
            json_array_foreach(x, j, id) json_array_append_new(ids, id_text(id));
        } else if (x && !json_is_null(x)) {
            json_array_append_new(ids, id_text(x));
        }
        if (!json_array_size(ids) || (!json_is_string(q) && !json_is_array(v))) {
            json_decref(ids);
            rc = lh_err_set(err, LH_EINVAL,
                            "evaluation set %s, row %zu: each row needs a query (text) or a vector, and expected ids",
                            name, i + 1);
            break;
        }
        if (json_is_string(q)) e->texts[e->n] = lh_xstrdup(json_string_value(q));
        else {
            uint32_t dim = (uint32_t)json_array_size(v);
            if (!e->dim) e->dim = dim;
            if (dim != e->dim || !dim) {
                json_decref(ids);
                rc = lh_err_set(err, LH_EINVAL, "evaluation set %s, row %zu: vectors of %u and %u numbers", name, i + 1,
                                e->dim, dim);
                break;
            }
            if (!e->vecs) e->vecs = lh_xcalloc(n * dim, sizeof *e->vecs);
            for (uint32_t d = 0; d < dim; d++) e->vecs[e->n * dim + d] = (float)json_number_value(json_array_get(v, d));
        }
        json_array_append_new(e->expected, ids);
        e->n++;
    }
    json_decref(rows);
    if (rc == LH_OK && !e->n) rc = lh_err_set(err, LH_EINVAL, "evaluation set %s has no rows", name);
    return rc;
}

/* The evaluation set a trial asked for (kind auto | held_out, or a dataset), drawn from version x. */
static lh_code evalset_build(lh_app *app, const lh_vindex *x, const char *kind, const char *dataset, uint64_t seed,
                             size_t n, evalset *e, lh_err *err)
{
    memset(e, 0, sizeof *e);
    e->weight = e->rrf_k = -1;
    if (dataset) return dataset_set(app, dataset, n, e, err);
    e->labels = lh_xcalloc(n ? n : 1, sizeof *e->labels);
    size_t got = lh_hnsw_sample_labels(x->hnsw, lh_idtab_count(x->ids), n, seed, e->labels);
    if (!got) return lh_err_set(err, LH_EINVAL, "index %s has no vectors to evaluate", x->name);
    if (!kind || !strcmp(kind, "auto")) {
        e->n = got;
        snprintf(e->name, sizeof e->name, "auto:%llu:%zu", (unsigned long long)seed, got);
        return LH_OK;
    }
    if (!x->text)
        return lh_err_set(err, LH_EINVAL, "held_out evaluation needs a text index (%s holds vectors): use auto or a dataset",
                          x->name);
    e->labelled = true;
    e->expected = json_array();
    e->texts = lh_xcalloc(got, sizeof *e->texts);
    for (size_t i = 0; i < got; i++) {
        uint64_t label = e->labels[i];
        e->texts[e->n] = held_out_sentence(label < x->text->n ? x->text->chunks[label] : "");
        json_t *id = lh_idtab_json(x->ids, label);
        json_array_append_new(e->expected, json_pack("[o]", id_text(id)));
        json_decref(id);
        e->n++;
    }
    snprintf(e->name, sizeof e->name, "held_out:%llu:%zu", (unsigned long long)seed, got);
    return LH_OK;
}

/* Measures version x on set e at each beam width of efs (out[i] for efs[i]). */
static lh_code measure(lh_app *app, const lh_vindex *x, const evalset *e, const size_t *efs, size_t n_efs,
                       lh_hnsw_eval *out, double *mrr, lh_err *err)
{
    if (!e->labelled) return lh_hnsw_evaluate(x->hnsw, e->labels, e->n, LH_TRIALS_K, efs, n_efs, out, err);
    lh_hnsw_info info;
    lh_hnsw_get_info(x->hnsw, &info);
    if (e->vecs && e->dim != info.params.dim)
        return lh_err_set(err, LH_EINVAL, "the evaluation set's vectors have %u numbers; index %s has %u", e->dim,
                          x->name, info.params.dim);
    if (!e->vecs && !x->text)
        return lh_err_set(err, LH_EINVAL, "index %s holds vectors: its evaluation set needs a vector column", x->name);
    double *lat = lh_xcalloc(e->n, sizeof *lat);
    uint64_t labels[LH_TRIALS_K];
    lh_hnsw_hit hits[LH_TRIALS_K];
    lh_code rc = LH_OK;
    for (size_t k = 0; k < n_efs && rc == LH_OK; k++) {
        double found = 0, wanted = 0, rr = 0, top1 = 0, sum = 0;
        for (size_t i = 0; i < e->n && rc == LH_OK; i++) {
            size_t got = 0;
            double t0 = now_ms();
            if (e->vecs) {
                got = lh_hnsw_search(x->hnsw, e->vecs + i * e->dim, LH_TRIALS_K, efs[k], NULL, hits);
                for (size_t h = 0; h < got; h++) labels[h] = hits[h].label;
            } else {
                lh_search_request q = {.index = x->name, .query = e->texts[i], .k = LH_TRIALS_K, .mode = e->mode,
                                       .fusion = e->fusion, .weight = e->weight, .rrf_k = e->rrf_k, .ef = efs[k],
                                       .unlogged = true};
                rc = lh_vectors_query_version(app->vectors, x, &q, labels, &got, err);
            }
            lat[i] = now_ms() - t0;
            sum += lat[i];
            json_t *want = json_array_get(e->expected, i);
            size_t n_want = json_array_size(want), first = 0, hit = 0;
            for (size_t h = 0; h < got; h++) {
                json_t *id = lh_idtab_json(x->ids, labels[h]), *text = id_text(id);
                bool match = false;
                size_t w;
                json_t *x2;
                json_array_foreach(want, w, x2) match = match || json_equal(x2, text);
                json_decref(text);
                json_decref(id);
                if (match) {
                    hit++;
                    if (!first) first = h + 1;
                }
            }
            found += (double)hit;
            wanted += (double)(n_want < LH_TRIALS_K ? n_want : LH_TRIALS_K);
            rr += first ? 1.0 / (double)first : 0;
            top1 += first == 1;
        }
        qsort(lat, e->n, sizeof *lat, cmp_double);
        out[k] = (lh_hnsw_eval){.ef = efs[k] ? efs[k] : info.params.ef_search, .queries = e->n,
                                .recall = wanted > 0 ? found / wanted : 0, .top1 = top1 / (double)e->n,
                                .p50_us = lat[e->n / 2] * 1e3, .p99_us = lat[(e->n * 99) / 100] * 1e3,
                                .mean_us = sum / (double)e->n * 1e3};
        mrr[k] = rr / (double)e->n;
    }
    free(lat);
    return rc;
}

static char *machine(void)
{
    struct utsname u;
    char model[128] = "";
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            snprintf(model, sizeof model, "%s", strchr(line, ':') + 2);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    if (f) fclose(f);
    if (uname(&u) != 0) snprintf(u.machine, sizeof u.machine, "?");
    return lh_xasprintf("%s, %ld cores, %s", u.machine, sysconf(_SC_NPROCESSORS_ONLN), model);
}

/* What a trial measured, as its row of _trials. */
typedef struct trial {
    config c;
    const lh_vindex *x;    /* the graph measured */
    lh_hnsw_eval eval;
    double mrr;            /* labelled sets only */
    double build_ms;
    const char *status;    /* measured | promoted | refused | rejected (under the floor) */
    int64_t promoted_version;
} trial;

static json_t *trial_row(const char *index, const trial *t, const char *run, const evalset *set, uint64_t eval_seed,
                         double target, const lh_who *who)
{
    lh_hnsw_info info;
    lh_hnsw_get_info(t->x->hnsw, &info);
    const char *quant = t->c.quantization == LH_QUANT_SQ8 ? "sq8" : "none";
    json_t *settings = json_pack("{s:i, s:i, s:i, s:s, s:I}", "M", t->c.M, "ef_construction", t->c.ef_construction,
                               "ef_search", (int)t->eval.ef, "quantization", quant, "seed", (json_int_t)t->c.seed);
    char *config_text = json_dumps(settings, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(settings);
    char *id_hex = lh_app_hex_id();
    char at[LH_TIME_ISO_LEN];
    lh_time_iso8601(lh_time_now_ms(), at);
    char *where = machine();
    const json_t *origin = json_object_get(t->x->manifest, "origin");
    json_t *row = json_pack(
        "{s:s, s:s, s:s, s:I, s:s?, s:I, s:s, s:i, s:i, s:i, s:s, s:I, s:s, s:I, s:i, s:i, s:f, s:f, s:f, s:f, "
        "s:f, s:I, s:f, s:s, s:I, s:s, s:s, s:s}",
        "trial_id", id_hex, "run_id", run, "index_name", index, "index_version", (json_int_t)t->x->version, "dataset",
        json_string_value(json_object_get(origin, "dataset")), "dataset_version",
        (json_int_t)json_integer_value(json_object_get(origin, "version")), "config", config_text, "m", t->c.M,
        "ef_construction", t->c.ef_construction, "ef_search", (int)t->eval.ef, "quantization", quant, "seed",
        (json_int_t)t->c.seed, "eval_set", set->name, "eval_seed", (json_int_t)eval_seed, "queries", (int)t->eval.queries,
        "k", LH_TRIALS_K, "recall_at_10", t->eval.recall, "top1", t->eval.top1, "p50_ms", t->eval.p50_us / 1e3,
        "p99_ms", t->eval.p99_us / 1e3, "build_ms", t->build_ms, "memory_bytes", (json_int_t)info.total_bytes,
        "target", target, "status", t->status, "promoted_version", (json_int_t)t->promoted_version, "machine", where,
        "created_at", at, "actor", who && who->actor ? who->actor : "system");
    if (set->labelled) { /* columns only labelled trials have (a later schema version adds them) */
        json_object_set_new(row, "mrr", json_real(t->mrr));
        if (set->texts && t->x->text) {
            const json_t *tx = json_object_get(t->x->manifest, "text");
            static const char *const modes[] = {"hybrid", "vector", "text"};
            json_object_set_new(row, "mode", json_string(modes[set->mode]));
            json_object_set_new(row, "fusion", json_string(set->fusion ? set->fusion : json_string_value(json_object_get(tx, "fusion"))));
            json_object_set_new(row, "weight", json_real(set->weight >= 0 ? set->weight : json_number_value(json_object_get(tx, "weight"))));
            json_object_set_new(row, "rrf_k", json_real(set->rrf_k >= 0 ? set->rrf_k : json_number_value(json_object_get(tx, "rrf_k"))));
        }
    }
    free(config_text);
    free(where);
    free(id_hex);
    return row;
}

/* Appends rows to _trials as one new version (the system writes it: no caller's check). */
static lh_code record(lh_app *app, json_t *rows, const lh_who *who, lh_err *err)
{
    char message[96];
    snprintf(message, sizeof message, "%zu trial%s of %s", json_array_size(rows), json_array_size(rows) == 1 ? "" : "s",
             json_string_value(json_object_get(json_array_get(rows, 0), "index_name")));
    lh_code rc = lh_app_system_append(app, LH_TRIALS_DATASET, rows, message, who, err);
    return rc ? lh_err_wrap(err, "recording the trials in %s", LH_TRIALS_DATASET) : LH_OK;
}

/* Rows of _trials (newest first) matching `where` (SQL over its columns, or NULL), read as the
 * system (a caller may not bind _trials itself; trials.list filters by index). */
static lh_code trial_rows(lh_app *app, const char *where, long long max, json_t **rows, lh_err *err)
{
    char *sql = lh_xasprintf("SELECT * FROM " LH_TRIALS_DATASET "%s%s ORDER BY created_at DESC, trial_id", where ? " WHERE " : "",
                             where ? where : "");
    lh_code rc = lh_app_system_query(app, LH_TRIALS_DATASET, sql, max, rows, err);
    free(sql);
    return rc;
}

/* ---- the gate ---- */

static bool same_id(const lh_vindex *a, uint64_t la, const lh_vindex *b, uint64_t lb)
{
    lh_id x = lh_idtab_get(a->ids, la), y = lh_idtab_get(b->ids, lb);
    if (lh_idtab_strings(a->ids) != lh_idtab_strings(b->ids)) return false;
    return lh_idtab_strings(a->ids) ? x.len == y.len && !memcmp(x.s, y.s, x.len) : x.i == y.i;
}

/* Shadow queries on the live and candidate versions: {queries, from_log,
 * overlap_at_10, live_p50_ms, candidate_p50_ms, live_recall, candidate_recall,
 * passed, reasons}. */
static json_t *gate(lh_app *app, const char *index, const lh_vindex *live, const lh_vindex *cand, double live_recall,
                    double cand_recall, uint64_t eval_seed)
{
    lh_hnsw_info info;
    lh_hnsw_get_info(live->hnsw, &info);
    uint32_t dim = info.params.dim;
    float *qs = lh_xcalloc((size_t)LH_TRIALS_GATE_QUERIES * dim, sizeof *qs);
    size_t n = lh_vectors_recent_queries(app->vectors, index, dim, LH_TRIALS_GATE_QUERIES, qs), from_log = n;
    if (n < LH_TRIALS_GATE_QUERIES / 2) { /* few real queries yet: evaluation queries fill in */
        uint64_t labels[LH_TRIALS_GATE_QUERIES];
        size_t extra = eval_queries(live, LH_TRIALS_GATE_QUERIES - n, eval_seed ^ 0x5eed, labels);
        for (size_t i = 0; i < extra; i++) memcpy(qs + (n + i) * dim, lh_hnsw_vector(live->hnsw, labels[i]), dim * sizeof *qs);
        n += extra;
    }
    lh_hnsw_hit a[LH_TRIALS_K], b[LH_TRIALS_K];
    double overlap = 0, *ta = lh_xcalloc(n ? n : 1, sizeof *ta), *tb = lh_xcalloc(n ? n : 1, sizeof *tb);
    for (size_t i = 0; i < n; i++) {
        double t0 = now_ms();
        size_t na = lh_hnsw_search(live->hnsw, qs + i * dim, LH_TRIALS_K, 0, NULL, a);
        double t1 = now_ms();
        size_t nb = lh_hnsw_search(cand->hnsw, qs + i * dim, LH_TRIALS_K, 0, NULL, b);
        tb[i] = now_ms() - t1;
        ta[i] = t1 - t0;
        size_t same = 0;
        for (size_t x = 0; x < na; x++)
            for (size_t y = 0; y < nb; y++)
                if (same_id(live, a[x].label, cand, b[y].label)) {
                    same++;
                    break;
                }
        overlap += na ? (double)same / (double)na : 1;
    }
    overlap = n ? overlap / (double)n : 1;
    qsort(ta, n, sizeof *ta, cmp_double);
    qsort(tb, n, sizeof *tb, cmp_double);
    double pa = n ? ta[n / 2] : 0, pb = n ? tb[n / 2] : 0;
    json_t *reasons = json_array();
    char why[200];
    if (cand_recall < LH_TRIALS_FLOOR) {
        snprintf(why, sizeof why, "recall@10 %.3f is under the floor %.2f: not promotable", cand_recall, LH_TRIALS_FLOOR);
        json_array_append_new(reasons, json_string(why));
    }
    if (overlap < LH_TRIALS_GATE_OVERLAP && cand_recall <= live_recall) {
        snprintf(why, sizeof why, "overlap@10 with the live answers %.3f < %.2f, and its recall %.3f is not higher",
                 overlap, LH_TRIALS_GATE_OVERLAP, cand_recall);
        json_array_append_new(reasons, json_string(why));
    }
    if (cand_recall < live_recall - LH_TRIALS_GATE_RECALL) {
        snprintf(why, sizeof why, "recall@10 %.3f < the live version's %.3f - %.2f", cand_recall, live_recall,
                 LH_TRIALS_GATE_RECALL);
        json_array_append_new(reasons, json_string(why));
    }
    if (pb > LH_TRIALS_GATE_SLOWER * pa + 0.05 && cand_recall <= live_recall + LH_TRIALS_GATE_RECALL) {
        snprintf(why, sizeof why, "p50 %.3f ms > %.1f x the live version's %.3f ms, for no better recall", pb,
                 LH_TRIALS_GATE_SLOWER, pa);
        json_array_append_new(reasons, json_string(why));
    }
    json_t *out = json_pack("{s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:b, s:o}", "live_version",
                            (json_int_t)live->version, "candidate_version", (json_int_t)cand->version, "queries",
                            (json_int_t)n, "from_log", (json_int_t)from_log, "overlap_at_10", overlap, "live_p50_ms", pa,
                            "candidate_p50_ms", pb, "live_recall", live_recall, "candidate_recall", cand_recall, "passed",
                            json_array_size(reasons) == 0, "reasons", reasons);
    free(ta);
    free(tb);
    free(qs);
    return out;
}

/* ---- the watch ---- */

bool lh_trials_regressed(int64_t version, double recall, double p50_ms, double target, bool have_trial,
                         double trial_recall, double trial_p50_ms, char *why, size_t n)
{
    char measured[64] = "";
    if (have_trial) snprintf(measured, sizeof measured, ", its trial measured %.3f", trial_recall);
    if (recall < target) {
        snprintf(why, n, "recall@10 %.3f of version %lld is under the index's target (target %.3f%s)", recall,
                 (long long)version, target, measured);
        return true;
    }
    if (have_trial && recall < trial_recall - LH_TRIALS_WATCH_DROP) {
        snprintf(why, n, "recall@10 %.3f of version %lld is under its trial's %.3f by more than %.2f", recall,
                 (long long)version, trial_recall, LH_TRIALS_WATCH_DROP);
        return true;
    }
    if (have_trial && p50_ms > LH_TRIALS_WATCH_SLOWER * trial_p50_ms && p50_ms - trial_p50_ms > LH_TRIALS_WATCH_SLOWER_MS) {
        snprintf(why, n, "p50 %.3f ms of version %lld is over %.1f x its trial's %.3f ms", p50_ms, (long long)version,
                 LH_TRIALS_WATCH_SLOWER, trial_p50_ms);
        return true;
    }
    return false;
}

/* The evaluation set a recorded trial used (its eval_set, queries, seed and search settings). */
static lh_code evalset_of_row(lh_app *app, const lh_vindex *x, const json_t *row, evalset *e, lh_err *err)
{
    const char *name = json_string_value(json_object_get(row, "eval_set"));
    uint64_t seed = (uint64_t)json_integer_value(json_object_get(row, "eval_seed"));
    size_t n = (size_t)json_integer_value(json_object_get(row, "queries"));
    char dataset[80] = "";
    if (name && !strncmp(name, "dataset:", 8)) snprintf(dataset, sizeof dataset, "%.*s", (int)strcspn(name + 8, "@"), name + 8);
    lh_code rc = evalset_build(app, x, name && !strncmp(name, "held_out:", 9) ? "held_out" : "auto",
                               *dataset ? dataset : NULL, seed, n ? n : LH_TRIALS_QUERIES, e, err);
    const char *mode = json_string_value(json_object_get(row, "mode"));
    if (mode) lh_search_mode_parse(mode, &e->mode);
    e->fusion = json_string_value(json_object_get(row, "fusion")); /* borrowed from row */
    if (json_is_number(json_object_get(row, "weight"))) e->weight = json_number_value(json_object_get(row, "weight"));
    if (json_is_number(json_object_get(row, "rrf_k"))) e->rrf_k = json_number_value(json_object_get(row, "rrf_k"));
    return rc;
}

/* Measures the live version of index again; rolls back when it regressed.
 * *out: {index, version, action: none|ok|rolled_back, recall, target, expected?, ...}. */
static lh_code watch(lh_app *app, const char *index, const lh_who *who, json_t **out, lh_err *err)
{
    char *lit = lh_app_sql_literal(index);
    /* the target the live configuration was chosen for: the newest promotion's, else the newest trial's */
    char *where = lh_xasprintf("index_name = %s AND status = 'promoted'", lit);
    json_t *rows;
    lh_code rc = trial_rows(app, where, 1, &rows, err);
    free(where);
    if (rc == LH_OK && !json_array_size(rows)) {
        json_decref(rows);
        where = lh_xasprintf("index_name = %s", lit);
        rc = trial_rows(app, where, 1, &rows, err);
        free(where);
    }
    if (rc) {
        free(lit);
        return rc;
    }
    json_t *newest = json_array_get(rows, 0);
    if (!newest) {
        free(lit);
        json_decref(rows);
        *out = json_pack("{s:s, s:s, s:s}", "index", index, "action", "none", "reason", "the index has no trials");
        return LH_OK;
    }
    lh_vindex *live;
    rc = lh_vectors_acquire(app->vectors, index, &live, err);
    if (rc) {
        free(lit);
        json_decref(rows);
        return rc;
    }
    double target = json_number_value(json_object_get(newest, "target"));
    /* what the live version's own trial (at its beam width, on the same set) measured, if any */
    config lc = config_of(live->manifest);
    char *set_lit = lh_app_sql_literal(json_string_value(json_object_get(newest, "eval_set")));
    where = lh_xasprintf("index_name = %s AND (index_version = %lld OR promoted_version = %lld) AND ef_search = %u "
                         "AND eval_set = %s",
                         lit, (long long)live->version, (long long)live->version, lc.ef_search, set_lit);
    json_t *own = NULL;
    rc = trial_rows(app, where, 1, &own, err);
    free(where);
    free(set_lit);
    free(lit);
    json_t *mine = json_array_get(own, 0);
    evalset set = {0};
    size_t ef = 0, n = 0;
    lh_hnsw_eval e = {0};
    double mrr = 0;
    if (rc == LH_OK) rc = evalset_of_row(app, live, newest, &set, err);
    if (rc == LH_OK) rc = measure(app, live, &set, &ef, 1, &e, &mrr, err);
    n = set.n;
    evalset_free(&set);
    if (rc == LH_OK) {
        double expected = mine ? json_number_value(json_object_get(mine, "recall_at_10")) : -1;
        double expected_p50 = mine ? json_number_value(json_object_get(mine, "p50_ms")) : 0;
        char why[200];
        bool regressed = lh_trials_regressed(live->version, e.recall, e.p50_us / 1e3, target, mine != NULL, expected,
                                             expected_p50, why, sizeof why);
        *out = json_pack("{s:s, s:I, s:s, s:f, s:f, s:f, s:I}", "index", index, "version", (json_int_t)live->version,
                         "action", regressed ? "rolled_back" : "ok", "recall", e.recall, "target", target, "p50_ms",
                         e.p50_us / 1e3, "queries", (json_int_t)n);
        if (mine) json_object_set_new(*out, "expected", json_real(expected));
        if (mine) json_object_set_new(*out, "expected_p50_ms", json_real(expected_p50));
        if (regressed) {
            char message[256];
            snprintf(message, sizeof message, "watch: %s; rolled back automatically", why);
            json_t *record = NULL;
            lh_who system = {.actor = "watch", .source = who && who->source ? who->source : "system"};
            rc = lh_vectors_rollback(app->vectors, index, 0, message, &system, &record, err);
            if (rc == LH_OK) {
                json_object_set_new(*out, "rolled_back_to", json_integer(json_integer_value(json_object_get(record, "version"))));
                json_object_set_new(*out, "message", json_string(message));
                lh_log(LH_LOG_WARN, "trials.rollback", LH_KV_STR("index", index),
                       LH_KV_INT("version", live->version), LH_KV_STR("message", message));
            }
            json_decref(record);
            if (rc) {
                json_decref(*out);
                *out = NULL;
            }
        }
    }
    lh_vindex_unref(live);
    json_decref(own);
    json_decref(rows);
    return rc;
}

/* ---- operations ---- */

/* The configuration asked for in args, the rest taken from base. */
static config config_args(json_t *args, const config *base)
{
    config c = *base;
    c.M = (uint32_t)lh_op_int(args, "M", c.M);
    c.ef_construction = (uint32_t)lh_op_int(args, "ef_construction", c.ef_construction);
    c.ef_search = (uint32_t)lh_op_int(args, "ef_search", c.ef_search);
    c.seed = (uint64_t)lh_op_int(args, "seed", (long long)c.seed);
    const char *q = lh_op_str(args, "quantization");
    if (q) lh_quant_parse(q, &c.quantization);
    return c;
}

/* Measures configurations (graph `grids[g]` at beam widths efs) and, with
 * promote, sends the best through the gate. The autotune and trials.run
 * share it: trials.run is a grid of one. */
/* What the evaluation is, from an operation's arguments. */
typedef struct evalspec {
    const char *kind, *dataset; /* auto | held_out; or a labelled dataset */
    uint64_t seed;
    size_t queries;
    lh_search_mode mode;
    const char *fusion;
    double weight, rrf_k;
} evalspec;

static evalspec evalspec_args(json_t *args)
{
    evalspec s = {lh_op_str(args, "eval"), lh_op_str(args, "eval_dataset"), (uint64_t)lh_op_int(args, "eval_seed", 1),
                  (size_t)lh_op_int(args, "queries", LH_TRIALS_QUERIES), LH_SEARCH_HYBRID, lh_op_str(args, "fusion"),
                  lh_op_num(args, "weight", -1), lh_op_num(args, "rrf_k", -1)};
    const char *mode = lh_op_str(args, "mode");
    if (mode) lh_search_mode_parse(mode, &s.mode);
    return s;
}

static lh_code tune(lh_app *app, const char *index, const config *graphs, size_t n_graphs, const size_t *efs,
                    size_t n_efs, double target, const evalspec *spec, bool promote, const lh_op_ctx *call,
                    json_t **out, lh_err *err)
{
    lh_vindex *live;
    lh_code rc = lh_vectors_acquire(app->vectors, index, &live, err);
    if (rc) return rc;
    char *run = lh_app_hex_id();
    size_t n_trials = n_graphs * n_efs;
    trial *t = lh_xcalloc(n_trials, sizeof *t);
    lh_vindex **x = lh_xcalloc(n_graphs, sizeof *x);
    lh_hnsw_eval *e = lh_xcalloc(n_efs, sizeof *e), live_eval = {0};
    double *mrr = lh_xcalloc(n_efs, sizeof *mrr), live_mrr = 0;
    size_t zero = 0;
    uint64_t eval_seed = spec->seed;
    evalset set;
    rc = evalset_build(app, live, spec->kind, spec->dataset, spec->seed, spec->queries, &set, err);
    set.mode = spec->mode;
    set.fusion = spec->fusion;
    set.weight = spec->weight;
    set.rrf_k = spec->rrf_k;
    if (rc == LH_OK) rc = measure(app, live, &set, &zero, 1, &live_eval, &live_mrr, err);
    for (size_t g = 0; g < n_graphs && rc == LH_OK; g++) {
        double build_ms;
        rc = version_for(app, index, live, &graphs[g], false, &call->who, &x[g], &build_ms, err);
        if (rc == LH_OK) rc = measure(app, x[g], &set, efs, n_efs, e, mrr, err);
        for (size_t k = 0; k < n_efs && rc == LH_OK; k++) {
            config c = graphs[g];
            c.ef_search = (uint32_t)e[k].ef;
            t[g * n_efs + k] = (trial){c, x[g], e[k], mrr[k], k == 0 ? build_ms : 0, "measured", 0};
        }
    }
    /* the best: the fastest reaching the target, else the highest recall */
    trial *best = NULL;
    for (size_t i = 0; i < n_trials && rc == LH_OK; i++) {
        trial *c = &t[i];
        if (c->eval.recall < LH_TRIALS_FLOOR) c->status = "rejected";
        bool meets = c->eval.recall >= target;
        if (!best) best = c;
        else {
            bool best_meets = best->eval.recall >= target;
            if (meets && (!best_meets || c->eval.p50_us < best->eval.p50_us)) best = c;
            else if (!meets && !best_meets &&
                     (c->eval.recall > best->eval.recall ||
                      (c->eval.recall == best->eval.recall && c->eval.p50_us < best->eval.p50_us)))
                best = c;
        }
    }
    json_t *gate_figures = NULL, *promotion = NULL;
    lh_vindex *chosen = NULL;
    double build_ms;
    if (rc == LH_OK && promote) rc = version_for(app, index, best->x, &best->c, true, &call->who, &chosen, &build_ms, err);
    if (rc == LH_OK && promote) {
        gate_figures = gate(app, index, live, chosen, live_eval.recall, best->eval.recall, eval_seed);
        if (!json_is_true(json_object_get(gate_figures, "passed"))) {
            best->status = "refused";
        } else if (chosen->version == live->version) {
            best->status = "promoted"; /* already live */
            best->promoted_version = live->version;
        } else {
            char message[160];
            snprintf(message, sizeof message, "autotune: recall@10 %.3f at ef_search %u (target %.3f)", best->eval.recall,
                     best->c.ef_search, target);
            rc = lh_vectors_promote(app->vectors, index, chosen->version, message, &call->who, &promotion, err);
            if (rc == LH_OK) {
                best->status = "promoted";
                best->promoted_version = chosen->version;
            }
        }
    }
    json_t *rows = json_array();
    for (size_t i = 0; i < n_trials && rc == LH_OK; i++)
        json_array_append_new(rows, trial_row(index, &t[i], run, &set, eval_seed, target, &call->who));
    if (rc == LH_OK && json_array_size(rows)) rc = record(app, rows, &call->who, err);
    /* watched after its promotion, as every promotion of an index with trials is */
    if (rc == LH_OK && promotion) rc = lh_app_trials_after_promotion(app, index, &call->who, promotion, err);
    if (rc == LH_OK) {
        json_t *b = json_array_get(rows, (size_t)(best - t));
        *out = json_pack("{s:s, s:s, s:s, s:f, s:{s:I, s:f, s:f}, s:O, s:O, s:O?, s:O?}", "index", index, "run_id",
                         run, "eval_set", set.name, "target", target, "live", "version", (json_int_t)live->version,
                         "recall_at_10", live_eval.recall, "p50_ms", live_eval.p50_us / 1e3, "trials", rows, "best", b,
                         "gate", gate_figures, "promotion", promotion);
        if (set.labelled) json_object_set_new(json_object_get(*out, "live"), "mrr", json_real(live_mrr));
        if (gate_figures && !json_is_true(json_object_get(gate_figures, "passed"))) {
            /* refused: an error carrying the figures */
            char *figures = json_dumps(gate_figures, JSON_COMPACT);
            rc = lh_err_set(err, LH_ECONFLICT, "the gate refused version %lld of index %s: %s",
                            (long long)chosen->version, index, figures);
            free(figures);
            json_decref(*out);
            *out = NULL;
        }
    }
    json_decref(rows);
    json_decref(gate_figures);
    json_decref(promotion);
    lh_vindex_unref(chosen);
    for (size_t g = 0; g < n_graphs; g++) lh_vindex_unref(x[g]);
    free(x);
    free(t);
    free(e);
    free(mrr);
    evalset_free(&set);
    free(run);
    lh_vindex_unref(live);
    return rc;
}

LH_OP_RUN(lh_app_run_trials_run)
{
    const char *index = lh_op_str(args, "index");
    lh_vindex *live;
    lh_code rc = lh_vectors_acquire(app->vectors, index, &live, err);
    if (rc) return rc;
    config base = config_of(live->manifest);
    lh_vindex_unref(live);
    config c = config_args(args, &base);
    size_t ef = c.ef_search;
    evalspec spec = evalspec_args(args);
    return tune(app, index, &c, 1, &ef, 1, lh_op_num(args, "target", LH_TRIALS_FLOOR), &spec,
                lh_op_bool(args, "promote", false), call, out, err);
}

/* An argument that is a list of whole numbers in lo..hi (at most max of them). */
static lh_code int_list(json_t *args, const char *name, long long lo, long long hi, size_t max, size_t *out, size_t *n,
                        lh_err *err)
{
    json_t *v;
    size_t i;
    *n = 0;
    json_array_foreach(json_object_get(args, name), i, v) {
        double x = json_number_value(v);
        if (x != (double)(long long)x || x < (double)lo || x > (double)hi || *n == max)
            return lh_err_set(err, LH_EINVAL, "%s: whole numbers in %lld..%lld, at most %zu", name, lo, hi, max);
        out[(*n)++] = (size_t)x;
    }
    return LH_OK;
}

LH_OP_RUN(lh_app_run_index_autotune)
{
    const char *index = lh_op_str(args, "index");
    size_t efs[LH_TRIALS_MAX_GRID], ms[LH_TRIALS_MAX_GRID], n_efs, n_ms;
    lh_code rc = int_list(args, "ef", 1, LH_HNSW_MAX_EF, LH_TRIALS_MAX_GRID, efs, &n_efs, err);
    if (rc == LH_OK) rc = int_list(args, "M", LH_HNSW_MIN_M, LH_HNSW_MAX_M, LH_TRIALS_MAX_GRID, ms, &n_ms, err);
    if (rc) return rc;
    static const size_t default_efs[] = {16, 32, 64, 128, 256, 512};
    if (!n_efs) {
        n_efs = sizeof default_efs / sizeof *default_efs;
        memcpy(efs, default_efs, sizeof default_efs);
    }
    if (n_efs * (n_ms ? n_ms : 1) > LH_TRIALS_MAX_GRID)
        return lh_err_set(err, LH_EINVAL, "the grid has %zu configurations; at most %d", n_efs * (n_ms ? n_ms : 1),
                          LH_TRIALS_MAX_GRID);
    lh_vindex *live;
    rc = lh_vectors_acquire(app->vectors, index, &live, err);
    if (rc) return rc;
    config base = config_of(live->manifest), graphs[LH_TRIALS_MAX_GRID];
    lh_vindex_unref(live);
    size_t n_graphs = n_ms ? n_ms : 1;
    for (size_t g = 0; g < n_graphs; g++) {
        graphs[g] = base;
        if (n_ms) graphs[g].M = (uint32_t)ms[g];
        if (graphs[g].ef_construction < graphs[g].M) graphs[g].ef_construction = graphs[g].M; /* the build needs M..: */
    }
    evalspec spec = evalspec_args(args);
    return tune(app, index, graphs, n_graphs, efs, n_efs, lh_op_num(args, "target", LH_TRIALS_FLOOR), &spec,
                lh_op_bool(args, "promote", false), call, out, err);
}

LH_OP_RUN(lh_app_run_trials_list)
{
    const char *index = lh_op_str(args, "index");
    char *lit = index ? lh_app_sql_literal(index) : NULL;
    char *where = lit ? lh_xasprintf("index_name = %s", lit) : NULL;
    json_t *rows;
    lh_code rc = trial_rows(app, where, LH_OP_LIST_MAX, &rows, err);
    free(where);
    free(lit);
    if (rc) return rc;
    *out = lh_op_page(lh_app_visible(&call->who, rows, "index_name", LH_BIND_INDEX), "trials", args);
    return LH_OK;
}

LH_OP_RUN(lh_app_run_index_watch)
{
    return watch(app, lh_op_str(args, "index"), &call->who, out, err);
}

lh_code lh_app_trials_after_promotion(lh_app *app, const char *index, const lh_who *who, json_t *promotion, lh_err *err)
{
    json_t *w = NULL;
    lh_err werr;
    if (watch(app, index, who, &w, &werr) != LH_OK) { /* the promotion stands; the watch's failure is logged */
        lh_log(LH_LOG_WARN, "trials.watch_failed", LH_KV_STR("index", index), LH_KV_STR("error", werr.message));
        return LH_OK;
    }
    lh_code rc = LH_OK;
    if (!strcmp(json_string_value(json_object_get(w, "action")), "rolled_back"))
        rc = lh_err_set(err, LH_ECONFLICT, "index %s: version %lld was promoted, then %s", index,
                        (long long)json_integer_value(json_object_get(promotion, "version")),
                        json_string_value(json_object_get(w, "message")));
    else if (strcmp(json_string_value(json_object_get(w, "action")), "none") != 0)
        json_object_set(promotion, "watch", w);
    json_decref(w);
    return rc;
}
