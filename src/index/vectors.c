/*
 * vectors.c — indexes over a dataset's vector column: create, add, delete,
 * rebuild (each a new version, written by versions.c), and reading them:
 * the live version, search, history, the list of indexes (see lh_vectors.h).
 */
#include "internal.h"

#include "lakehouse/lh_log.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_sha256.h"
#include "lakehouse/lh_time.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

lh_code vec_vectors_create(lh_vectors *v, const char *name, const lh_vectors_spec *spec, const lh_who *who,
                           json_t **out, lh_err *err)
{
    if (!spec->dataset || !spec->id_column || !spec->vector_column)
        return lh_err_set(err, LH_EINVAL,
                          "creating an index needs a dataset, an id column and a vector column (or text settings)");
    struct entry *e;
    lh_code rc = vec_entry(v, name, true, &e, err);
    if (rc) return rc;
    pthread_mutex_lock(&e->mu);
    rc = vec_refresh(v, e, err);
    if (rc == LH_OK && e->head > 0) rc = lh_err_set(err, LH_EEXIST, "index %s exists (version %" PRId64 ")", name, e->head);
    json_t *dm = NULL;
    if (rc == LH_OK) rc = lh_catalog_get(v->cfg.catalog, spec->dataset, spec->dataset_version, &dm, err);
    const char *id_type = NULL, *vec_type = NULL;
    if (rc == LH_OK) {
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(json_object_get(dm, "schema"), "fields"), i, f) {
            if (!strcmp(str(f, "name"), spec->id_column)) id_type = str(f, "type");
            if (!strcmp(str(f, "name"), spec->vector_column)) vec_type = str(f, "type");
        }
        if (!id_type || !vec_type)
            rc = lh_err_set(err, LH_EINVAL, "dataset %s has no column \"%s\"", spec->dataset,
                            !id_type ? spec->id_column : spec->vector_column);
        else if (!strchr(vec_type, '['))
            rc = lh_err_set(err, LH_EINVAL, "column \"%s\" of dataset %s is %s, not a list of numbers",
                            spec->vector_column, spec->dataset, vec_type);
    }
    emb_rows r = {0};
    lh_buf sql = {0};
    if (rc == LH_OK) {
        bool strings = !vec_integer_type(id_type);
        r.ids = lh_idtab_new(strings);
        lh_buf_puts(&sql, "SELECT CAST(");
        lh_sql_quote_ident(&sql, spec->id_column);
        lh_buf_puts(&sql, strings ? " AS VARCHAR), CAST(" : " AS BIGINT), CAST(");
        lh_sql_quote_ident(&sql, spec->vector_column);
        lh_buf_puts(&sql, " AS FLOAT[]) FROM (");
        rc = lh_dataset_tables_sql(v->cfg.tables, dm, &sql, err);
        lh_buf_puts(&sql, ")");
    }
    if (rc == LH_OK) rc = emb_read(v->cfg.engine, sql.data, EMB_VECTORS, &r, err);
    lh_buf_free(&sql);
    if (rc == LH_OK && r.n == 0)
        rc = lh_err_set(err, LH_EINVAL, "dataset %s has no row with a vector in \"%s\"", spec->dataset,
                        spec->vector_column);
    if (rc) {
        if (dm) lh_err_wrap(err, "index %s from dataset %s", name, spec->dataset);
        json_decref(dm);
        emb_rows_free(&r);
        pthread_mutex_unlock(&e->mu);
        return rc;
    }
    lh_hnsw_params p = spec->params;
    p.dim = r.dim;
    uint64_t *labels = vec_sequence(r.n);
    draft d = {0};
    rc = vec_build(v, &p, labels, r.vecs, r.n, &d.hnsw, err);
    free(labels);
    char *emb = vec_tmp_path(v, ".parquet");
    if (rc == LH_OK) rc = emb_write(v->cfg.engine, emb, r.ids, 0, r.vecs, r.n, r.dim, NULL, NULL, err);
    if (rc == LH_OK) {
        json_t *origin = json_pack("{s:s, s:O, s:s, s:s, s:I}", "dataset", spec->dataset, "version",
                                   json_object_get(dm, "version"), "id_column", spec->id_column, "vector_column",
                                   spec->vector_column, "skipped_rows", (json_int_t)r.skipped);
        d.m = vec_draft_manifest(name, "create", 0, d.hnsw, lh_idtab_strings(r.ids), origin, json_array(), json_array(),
                             r.n, spec->message, who);
        d.ids = r.ids;
        r.ids = NULL;
        d.emb = emb;
        d.emb_rows = r.n;
        rc = vec_commit(v, e, &d, !spec->no_promote, who, out, err);
    } else {
        lh_hnsw_free(d.hnsw);
    }
    unlink(emb);
    free(emb);
    emb_rows_free(&r);
    json_decref(dm);
    pthread_mutex_unlock(&e->mu);
    return rc;
}

/* Starts a change on top of the live version: the entry locked, the live
 * version referenced. On error nothing is held. */
static lh_code begin_on_live(lh_vectors *v, const char *name, const json_t *batch, const char *what,
                             struct entry **e, lh_vindex **live, lh_err *err)
{
    if (!json_is_array(batch) || json_array_size(batch) == 0 || json_array_size(batch) > LH_VECTORS_MAX_CHANGE)
        return lh_err_set(err, LH_EINVAL, "%s must be an array of 1..%d %s", what, LH_VECTORS_MAX_CHANGE,
                          strcmp(what, "ids") ? "{id, vector} objects" : "ids");
    lh_code rc = vec_entry(v, name, false, e, err);
    if (rc) return rc;
    pthread_mutex_lock(&(*e)->mu);
    rc = vec_refresh(v, *e, err);
    if (rc == LH_OK) rc = vec_sync_live(v, *e, err);
    if (rc == LH_OK && !(*live = lh_vslots_acquire(v->slots, name)))
        rc = lh_err_set(err, LH_ENOTFOUND, "index %s has no live version (promote one first)", name);
    if (rc) pthread_mutex_unlock(&(*e)->mu);
    return rc;
}

static void end_on_live(struct entry *e, lh_vindex *live)
{
    lh_vindex_unref(live);
    pthread_mutex_unlock(&e->mu);
}

lh_code lh_vectors_add(lh_vectors *v, const char *name, const json_t *rows_in, const lh_vectors_spec *spec,
                       const lh_who *who, json_t **out, lh_err *err)
{
    struct entry *e;
    lh_vindex *live = NULL;
    lh_code rc = begin_on_live(v, name, rows_in, "vectors", &e, &live, err);
    if (rc) return rc;
    if (live->text) {
        end_on_live(e, live);
        return lh_err_set(err, LH_ECONFLICT,
                          "index %s embeds the text of dataset %s: add rows there and refresh it (POST "
                          "/v1/vectors/refresh/%s)",
                          name, str(json_object_get(live->manifest, "origin"), "dataset"),
                          str(json_object_get(live->manifest, "origin"), "dataset"));
    }
    lh_hnsw_info info;
    lh_hnsw_get_info(live->hnsw, &info);
    size_t n = json_array_size(rows_in), base = lh_idtab_count(live->ids);
    float *vecs = lh_xmalloc(n * info.params.dim * sizeof(float));
    lh_idtab *ids = lh_idtab_clone(live->ids);
    for (size_t i = 0; rc == LH_OK && i < n; i++) {
        json_t *row = json_array_get(rows_in, i), *vec = json_object_get(row, "vector");
        lh_id id;
        uint64_t label;
        if (!json_is_object(row)) rc = lh_err_set(err, LH_EINVAL, "not an {id, vector} object");
        if (rc == LH_OK) rc = lh_idtab_parse(ids, json_object_get(row, "id"), &id, err);
        if (rc == LH_OK && json_array_size(vec) != info.params.dim)
            rc = lh_err_set(err, LH_EINVAL, "\"vector\" must be an array of %u numbers", info.params.dim);
        for (size_t j = 0; rc == LH_OK && j < info.params.dim; j++) {
            json_t *x = json_array_get(vec, j);
            double d = json_number_value(x);
            if (!json_is_number(x) || !isfinite(d) || fabs(d) > 3.0e38)
                rc = lh_err_set(err, LH_EINVAL, "\"vector\"[%zu] is not a finite float", j);
            vecs[i * info.params.dim + j] = (float)d;
        }
        if (rc == LH_OK) rc = lh_idtab_add(ids, id, &label, err);
        if (rc) lh_err_wrap(err, "vectors[%zu]", i);
    }
    draft d = {0};
    if (rc == LH_OK) rc = lh_hnsw_clone(live->hnsw, &d.hnsw, err);
    if (rc == LH_OK) {
        uint64_t *labels = vec_sequence(base + n);
        rc = lh_hnsw_add_batch(d.hnsw, labels + base, vecs, n, v->cfg.build_threads, err);
        free(labels);
    }
    char *emb = vec_tmp_path(v, ".parquet");
    if (rc == LH_OK) rc = emb_write(v->cfg.engine, emb, ids, base, vecs, n, info.params.dim, NULL, NULL, err);
    if (rc == LH_OK) {
        const json_t *lm = live->manifest;
        d.m = vec_draft_manifest(name, "add", live->version, d.hnsw, lh_idtab_strings(ids),
                             json_incref(json_object_get(lm, "origin")),
                             json_deep_copy(json_object_get(lm, "objects")),
                             json_deep_copy(json_object_get(lm, "deleted")), base + n, spec ? spec->message : NULL,
                             who);
        d.ids = ids;
        ids = NULL;
        d.emb = emb;
        d.emb_rows = n;
        rc = vec_commit(v, e, &d, !(spec && spec->no_promote), who, out, err);
    } else {
        lh_hnsw_free(d.hnsw);
    }
    unlink(emb);
    free(emb);
    free(vecs);
    lh_idtab_free(ids);
    end_on_live(e, live);
    return rc;
}

lh_code lh_vectors_delete(lh_vectors *v, const char *name, const json_t *ids_in, const lh_vectors_spec *spec,
                          const lh_who *who, json_t **out, lh_err *err)
{
    struct entry *e;
    lh_vindex *live = NULL;
    lh_code rc = begin_on_live(v, name, ids_in, "ids", &e, &live, err);
    if (rc) return rc;
    draft d = {0};
    rc = lh_hnsw_clone(live->hnsw, &d.hnsw, err);
    json_t *deleted = json_deep_copy(json_object_get(live->manifest, "deleted"));
    size_t i;
    json_t *x;
    json_array_foreach(ids_in, i, x) {
        if (rc) break;
        lh_id id;
        uint64_t label;
        rc = lh_idtab_parse(live->ids, x, &id, err);
        if (rc == LH_OK && !lh_idtab_find(live->ids, id, &label))
            rc = lh_err_set(err, LH_ENOTFOUND, "no such id in index %s", name);
        const float *vec = rc == LH_OK ? lh_hnsw_vector(d.hnsw, label) : NULL;
        if (rc == LH_OK && !vec) rc = lh_err_set(err, LH_ENOTFOUND, "no such id in index %s", name);
        if (rc == LH_OK) {
            lh_hnsw_info before, after;
            lh_hnsw_get_info(d.hnsw, &before);
            rc = lh_hnsw_delete(d.hnsw, label, err);
            lh_hnsw_get_info(d.hnsw, &after);
            if (rc == LH_OK && after.deleted > before.deleted) json_array_append(deleted, x);
        }
        if (rc) lh_err_wrap(err, "ids[%zu]", i);
    }
    if (rc == LH_OK) {
        d.m = vec_draft_manifest(name, "delete", live->version, d.hnsw, lh_idtab_strings(live->ids),
                             json_incref(json_object_get(live->manifest, "origin")),
                             json_deep_copy(json_object_get(live->manifest, "objects")), deleted,
                             lh_idtab_count(live->ids), spec ? spec->message : NULL, who);
        deleted = NULL;
        d.ids = lh_idtab_clone(live->ids);
        if (live->text) {
            json_object_set(d.m, "text", json_object_get(live->manifest, "text"));
            char **chunks = lh_xmalloc((live->text->n + 1) * sizeof *chunks);
            for (size_t l = 0; l < live->text->n; l++) chunks[l] = lh_xstrdup(live->text->chunks[l]);
            rc = vec_text_new(chunks, live->text->n, d.ids, json_object_get(d.m, "deleted"), &d.text, err);
        }
    }
    if (rc == LH_OK) {
        rc = vec_commit(v, e, &d, !(spec && spec->no_promote), who, out, err);
    } else {
        lh_hnsw_free(d.hnsw);
        json_decref(d.m);
        lh_idtab_free(d.ids);
    }
    json_decref(deleted);
    end_on_live(e, live);
    return rc;
}

lh_code lh_vectors_rebuild(lh_vectors *v, const char *name, const lh_vectors_spec *spec, const lh_who *who,
                           json_t **out, lh_err *err)
{
    struct entry *e;
    lh_code rc = vec_entry(v, name, false, &e, err);
    if (rc) return rc;
    pthread_mutex_lock(&e->mu);
    rc = vec_refresh(v, e, err);
    int64_t from = spec && spec->version ? spec->version : vec_live_of(e);
    if (rc == LH_OK && !from) from = e->head;
    if (rc == LH_OK && (from < 1 || from > e->head))
        rc = lh_err_set(err, LH_ENOTFOUND, "index %s has no version %" PRId64, name, from);
    json_t *m = NULL;
    emb_rows r = {0};
    if (rc == LH_OK) rc = vec_read_manifest(v, name, from, &m, err);
    if (rc == LH_OK) rc = vec_read_embeddings(v, m, EMB_VECTORS | (json_object_get(m, "text") ? EMB_TEXT : 0), &r, err);
    /* every label but the deleted ones, in embedding order */
    uint64_t *labels = NULL;
    float *vecs = NULL;
    size_t keep = 0;
    if (rc == LH_OK) {
        bool *gone = lh_xcalloc(r.n + 1, sizeof *gone);
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(m, "deleted"), i, x) {
            lh_id id;
            uint64_t label;
            if (lh_idtab_parse(r.ids, x, &id, err) == LH_OK && lh_idtab_find(r.ids, id, &label)) gone[label] = true;
        }
        labels = lh_xmalloc((r.n + 1) * sizeof *labels);
        vecs = lh_xmalloc((r.n + 1) * r.dim * sizeof(float));
        for (size_t l = 0; l < r.n; l++) {
            if (gone[l]) continue;
            labels[keep] = l;
            memcpy(vecs + keep * r.dim, r.vecs + l * r.dim, r.dim * sizeof(float));
            keep++;
        }
        free(gone);
    }
    draft d = {0};
    if (rc == LH_OK) {
        const json_t *mp = json_object_get(m, "params");
        lh_hnsw_params p = {.dim = r.dim, .M = (uint32_t)num(mp, "M"),
                            .ef_construction = (uint32_t)num(mp, "ef_construction"),
                            .ef_search = (uint32_t)num(mp, "ef_search"), .seed = (uint64_t)num(mp, "seed"),
                            .quantization = strcmp(str(mp, "quantization"), "sq8") == 0 ? LH_QUANT_SQ8 : LH_QUANT_NONE};
        lh_metric_parse(str(m, "metric"), &p.metric);
        if (spec) {
            if (spec->params.M) p.M = spec->params.M;
            if (spec->params.ef_construction) p.ef_construction = spec->params.ef_construction;
            if (spec->params.ef_search) p.ef_search = spec->params.ef_search;
            if (spec->params_set_quantization) p.quantization = spec->params.quantization;
        }
        rc = vec_build(v, &p, labels, vecs, keep, &d.hnsw, err);
    }
    if (rc == LH_OK) {
        d.m = vec_draft_manifest(name, "rebuild", from, d.hnsw, lh_idtab_strings(r.ids),
                             json_incref(json_object_get(m, "origin")), json_deep_copy(json_object_get(m, "objects")),
                             json_deep_copy(json_object_get(m, "deleted")), r.n, spec ? spec->message : NULL, who);
        json_object_set_new(d.m, "rebuilt_from", json_integer(from));
        if (json_object_get(m, "text")) {
            json_object_set(d.m, "text", json_object_get(m, "text"));
            rc = vec_text_new(r.texts, r.ntexts, r.ids, json_object_get(m, "deleted"), &d.text, err);
            r.texts = NULL;
            r.ntexts = 0;
        }
    }
    if (rc == LH_OK) {
        d.ids = r.ids;
        r.ids = NULL;
        rc = vec_commit(v, e, &d, !(spec && spec->no_promote), who, out, err);
    } else {
        lh_hnsw_free(d.hnsw);
        json_decref(d.m);
    }
    free(labels);
    free(vecs);
    emb_rows_free(&r);
    json_decref(m);
    pthread_mutex_unlock(&e->mu);
    return rc;
}

/* ---- reading ---- */

lh_code lh_vectors_acquire(lh_vectors *v, const char *name, lh_vindex **out, lh_err *err)
{
    lh_vindex *x = lh_vslots_acquire(v->slots, name);
    struct entry *e = x ? vec_find_entry(v, name) : NULL;
    bool stale = !e || lh_time_now_ms() - atomic_load(&e->checked_ms) > LH_VECTORS_REFRESH_MS;
    if (x && !stale) {
        *out = x;
        return LH_OK;
    }
    lh_code rc = LH_OK;
    if (!x || !e) { /* first use: wait for the load */
        lh_vindex_unref(x);
        x = NULL;
        rc = vec_entry(v, name, false, &e, err);
        if (rc) return rc;
        pthread_mutex_lock(&e->mu);
        rc = vec_refresh(v, e, err);
        if (rc == LH_OK) rc = vec_sync_live(v, e, err);
        pthread_mutex_unlock(&e->mu);
    } else if (pthread_mutex_trylock(&e->mu) == 0) { /* a check is due; one searcher makes it, the others go on */
        lh_err ignored;
        if (vec_refresh(v, e, &ignored) == LH_OK && vec_sync_live(v, e, &ignored) == LH_OK) {
            lh_vindex_unref(x);
            x = NULL;
        } else {
            lh_log(LH_LOG_WARN, "vectors.refresh_failed", LH_KV_STR("index", name), LH_KV_STR("error", ignored.message));
            atomic_store(&e->checked_ms, lh_time_now_ms()); /* keep serving; try again later */
        }
        pthread_mutex_unlock(&e->mu);
    }
    if (rc) return rc;
    if (!x) x = lh_vslots_acquire(v->slots, name);
    if (!x) return lh_err_set(err, LH_ENOTFOUND, "index %s has no live version (promote one first)", name);
    *out = x;
    return LH_OK;
}

lh_code lh_vectors_search(lh_vectors *v, const char *name, const float *query, size_t dim, size_t k, size_t ef,
                          const json_t *filter_ids, json_t **out, lh_err *err)
{
    lh_vindex *x;
    lh_code rc = lh_vectors_acquire(v, name, &x, err);
    if (rc) return rc;
    json_t *hits;
    rc = lh_vindex_search(x, query, dim, k, ef, filter_ids, &hits, err);
    if (rc == LH_OK) vec_qlog_note(v, name, query, (uint32_t)dim);
    if (rc == LH_OK)
        *out = json_pack("{s:s, s:I, s:o}", "index", name, "version", (json_int_t)x->version, "hits", hits);
    lh_vindex_unref(x);
    return rc;
}

lh_code lh_vectors_history(lh_vectors *v, const char *name, json_t **out, lh_err *err)
{
    struct entry *e;
    lh_code rc = vec_entry(v, name, false, &e, err);
    if (rc) return rc;
    pthread_mutex_lock(&e->mu);
    rc = vec_refresh(v, e, err);
    for (int64_t n = 1; rc == LH_OK && n <= e->head; n++)
        if (!vec_summary(v, e, n, err)) rc = err->code;
    if (rc == LH_OK) rc = vec_promotions(e, err);
    if (rc == LH_OK)
        *out = json_pack("{s:s, s:I, s:O, s:O}", "index", name, "live", (json_int_t)vec_live_of(e), "promotions",
                         e->promotions, "versions", e->manifests);
    pthread_mutex_unlock(&e->mu);
    return rc;
}

lh_code lh_vectors_get(lh_vectors *v, const char *name, json_t **out, lh_err *err)
{
    struct entry *e;
    lh_code rc = vec_entry(v, name, false, &e, err);
    if (rc) return rc;
    pthread_mutex_lock(&e->mu);
    rc = vec_refresh(v, e, err);
    if (rc == LH_OK) rc = vec_sync_live(v, e, err);
    int64_t live = vec_live_of(e), head = e->head;
    pthread_mutex_unlock(&e->mu);
    if (rc) return rc;
    json_t *m = NULL, *memory = json_null();
    lh_vindex *x = live ? lh_vslots_acquire(v->slots, name) : NULL;
    if (x) {
        lh_hnsw_info info;
        lh_hnsw_get_info(x->hnsw, &info);
        m = json_incref(x->manifest);
        memory = json_pack("{s:I, s:I, s:I, s:b}", "graph_bytes", (json_int_t)info.graph_bytes, "vector_bytes",
                           (json_int_t)info.vector_bytes, "total_bytes", (json_int_t)info.total_bytes, "mapped",
                           info.mapped);
        lh_vindex_unref(x);
    } else {
        rc = vec_read_manifest(v, name, head, &m, err);
        if (rc) {
            json_decref(memory);
            return rc;
        }
    }
    *out = json_pack("{s:s, s:I, s:I, s:o, s:o}", "index", name, "live", (json_int_t)live, "versions",
                     (json_int_t)head, "manifest", m, "memory", memory);
    return LH_OK;
}

static bool collect_index_names(void *ctx, const lh_object_info *info)
{
    char *name; /* version 1 marks an index */
    if (vec_first_version_key(info->key, &name)) {
        json_array_append_new(ctx, json_string(name));
        free(name);
    }
    return true;
}

lh_code lh_vectors_list(lh_vectors *v, json_t **out, lh_err *err)
{
    json_t *names = json_array();
    lh_code rc = lh_store_list(vec_home(v), "_catalog/indexes/", collect_index_names, names, err);
    json_t *list = json_array();
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n) {
        if (rc) break;
        struct entry *e;
        lh_err one;
        if (vec_entry(v, json_string_value(n), false, &e, &one) != LH_OK) continue;
        pthread_mutex_lock(&e->mu);
        if (vec_refresh(v, e, &one) == LH_OK && e->head > 0) {
            int64_t live = vec_live_of(e);
            const json_t *shown = vec_summary(v, e, live ? live : e->head, &one);
            json_array_append_new(list, json_pack("{s:s, s:I, s:I, s:O}", "name", e->name, "live", (json_int_t)live,
                                                  "versions", (json_int_t)e->head, "count",
                                                  json_object_get(shown, "count")));
        }
        pthread_mutex_unlock(&e->mu);
    }
    json_decref(names);
    if (rc) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return LH_OK;
}
