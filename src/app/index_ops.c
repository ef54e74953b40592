/*
 * index_ops.c — vector and text indexes, search and ask, over checked arguments.
 */
#include "internal.h"

#include "lakehouse/lh_mem.h"

#include <stdlib.h>
#include <string.h>

static void embed_progress(void *ctx, size_t done, size_t total)
{
    const lh_op_ctx *call = ctx;
    call->progress(call->progress_ctx, "embedding", total ? (double)done / (double)total : 1.0);
}

/* Build parameters shared by create and rebuild. */
static lh_code build_spec(json_t *args, const lh_op_ctx *call, lh_vectors_spec *s, lh_err *err)
{
    s->params.M = (uint32_t)lh_op_int(args, "M", 0);
    s->params.ef_construction = (uint32_t)lh_op_int(args, "ef_construction", 0);
    s->params.ef_search = (uint32_t)lh_op_int(args, "ef_search", 0);
    s->params.seed = (uint64_t)lh_op_int(args, "seed", 0);
    s->params.metric = LH_METRIC_COSINE;
    const char *metric = lh_op_str(args, "metric"), *quant = lh_op_str(args, "quantization");
    s->params_set_metric = metric != NULL;
    if (metric && !lh_metric_parse(metric, &s->params.metric)) return lh_err_set(err, LH_EINTERNAL, "metric %s", metric);
    s->params_set_quantization = quant != NULL;
    if (quant && !lh_quant_parse(quant, &s->params.quantization))
        return lh_err_set(err, LH_EINTERNAL, "quantization %s", quant);
    s->no_promote = !lh_op_bool(args, "promote", true);
    s->message = lh_op_str(args, "message");
    if (call->progress) {
        s->progress = embed_progress;
        s->progress_ctx = (void *)call;
    }
    return LH_OK;
}

LH_OP_RUN(lh_app_run_index_list)
{
    json_t *list;
    lh_code rc = lh_vectors_list(app->vectors, &list, err);
    if (rc == LH_OK) *out = lh_op_page(lh_app_visible(&call->who, list, "name", LH_BIND_INDEX), "indexes", args);
    return rc;
}

/* A documents dataset (text, Markdown, PDF: chunk_id, section and text
 * columns) needs no id or text column named: they default to chunk_id, and
 * the section's heading path with the text. */
static lh_code document_defaults(lh_app *app, json_t *args, lh_err *err)
{
    if (lh_op_str(args, "id_column") || lh_op_str(args, "vector_column") || json_object_get(args, "text_columns") ||
        lh_op_str(args, "template"))
        return lh_op_str(args, "id_column") ? LH_OK : lh_err_set(err, LH_EINVAL, "\"id_column\" is required");
    json_t *m = NULL;
    lh_code rc = lh_catalog_get(app->catalog, lh_op_str(args, "dataset"), lh_op_int(args, "dataset_version", 0), &m, err);
    if (rc) return rc;
    bool id = false, text = false, section = false;
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(json_object_get(m, "schema"), "fields"), i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        id = id || (name && !strcmp(name, "chunk_id"));
        text = text || (name && !strcmp(name, "text"));
        section = section || (name && !strcmp(name, "section"));
    }
    json_decref(m);
    if (!id || !text)
        return lh_err_set(err, LH_EINVAL,
                          "\"id_column\" and \"text_columns\" (or \"vector_column\") are required: only a documents "
                          "dataset (text, Markdown or PDF ingest: chunk_id, text) has defaults");
    json_object_set_new(args, "id_column", json_string("chunk_id"));
    /* the section's headings are embedded and indexed with the chunk: a chunk about "set logscale" says so */
    json_object_set_new(args, "text_columns", section ? json_pack("[s, s]", "section", "text") : json_pack("[s]", "text"));
    return LH_OK;
}

LH_OP_RUN(lh_app_run_index_create)
{
    lh_code drc = document_defaults(app, args, err);
    if (drc) return drc;
    lh_vectors_spec s = {.dataset = lh_op_str(args, "dataset"),
                         .dataset_version = lh_op_int(args, "dataset_version", 0),
                         .id_column = lh_op_str(args, "id_column"),
                         .vector_column = lh_op_str(args, "vector_column")};
    lh_code rc = build_spec(args, call, &s, err);
    if (rc) return rc;
    /* without a vector column: a text index, embedded here */
    static const char *const fields[][2] = {{"text_columns", "columns"}, {"template", "template"},
                                            {"provider", "provider"},    {"model", "model"},
                                            {"refresh", "refresh"},      {"fusion", "fusion"},
                                            {"weight", "weight"},        {"rrf_k", "rrf_k"}};
    json_t *text = json_object();
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        json_t *x = json_object_get(args, fields[i][0]);
        if (x && !json_is_null(x)) json_object_set(text, fields[i][1], x);
    }
    if (s.vector_column && json_object_size(text))
        rc = lh_err_set(err, LH_EINVAL, "give either \"vector_column\" or the text settings (%s), not both",
                        "text_columns, template, provider, model, refresh, fusion, weight, rrf_k");
    else if (!s.vector_column && !json_object_get(text, "columns") && !json_object_get(text, "template"))
        rc = lh_err_set(err, LH_EINVAL, "\"vector_column\", \"text_columns\" or \"template\" is required");
    if (!s.vector_column) s.text = text;
    if (rc == LH_OK) rc = lh_vectors_create(app->vectors, lh_op_str(args, "name"), &s, &call->who, out, err);
    json_decref(text);
    return rc;
}

LH_OP_RUN(lh_app_run_index_show)
{
    (void)call;
    return lh_vectors_get(app->vectors, lh_op_str(args, "name"), out, err);
}

LH_OP_RUN(lh_app_run_index_history)
{
    (void)call;
    return lh_vectors_history(app->vectors, lh_op_str(args, "name"), out, err);
}

LH_OP_RUN(lh_app_run_index_search)
{
    (void)call;
    json_t *vec = json_object_get(args, "vector"), *filter = json_object_get(args, "filter_ids");
    size_t dim = json_array_size(vec);
    float *q = lh_xmalloc(dim * sizeof *q);
    for (size_t i = 0; i < dim; i++) q[i] = (float)json_number_value(json_array_get(vec, i));
    lh_code rc = lh_vectors_search(app->vectors, lh_op_str(args, "name"), q, dim, (size_t)lh_op_int(args, "k", 10),
                                   (size_t)lh_op_int(args, "ef", 0), json_is_array(filter) ? filter : NULL, out, err);
    free(q);
    return rc;
}

static lh_vectors_spec change_spec(json_t *args)
{
    return (lh_vectors_spec){.no_promote = !lh_op_bool(args, "promote", true), .message = lh_op_str(args, "message")};
}

LH_OP_RUN(lh_app_run_index_add)
{
    lh_vectors_spec s = change_spec(args);
    return lh_vectors_add(app->vectors, lh_op_str(args, "name"), json_object_get(args, "vectors"), &s, &call->who,
                          out, err);
}

LH_OP_RUN(lh_app_run_index_remove)
{
    lh_vectors_spec s = change_spec(args);
    return lh_vectors_delete(app->vectors, lh_op_str(args, "name"), json_object_get(args, "ids"), &s, &call->who,
                             out, err);
}

LH_OP_RUN(lh_app_run_index_rebuild)
{
    lh_vectors_spec s = {.version = lh_op_int(args, "version", 0)};
    lh_code rc = build_spec(args, call, &s, err);
    return rc ? rc : lh_vectors_rebuild(app->vectors, lh_op_str(args, "name"), &s, &call->who, out, err);
}

LH_OP_RUN(lh_app_run_index_promote)
{
    lh_code rc = lh_vectors_promote(app->vectors, lh_op_str(args, "name"), lh_op_int(args, "version", 0),
                                    lh_op_str(args, "message"), &call->who, out, err);
    if (rc == LH_OK) rc = lh_app_trials_after_promotion(app, lh_op_str(args, "name"), &call->who, *out, err);
    if (rc) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

LH_OP_RUN(lh_app_run_index_rollback)
{
    return lh_vectors_rollback(app->vectors, lh_op_str(args, "name"), lh_op_int(args, "version", 0),
                               lh_op_str(args, "message"), &call->who, out, err);
}

LH_OP_RUN(lh_app_run_index_refresh)
{
    return lh_vectors_refresh(app->vectors, lh_op_str(args, "dataset"), &call->who,
                              call->progress ? embed_progress : NULL, (void *)call, out, err);
}

LH_OP_RUN(lh_app_run_index_stale)
{
    json_t *list;
    lh_code rc = lh_vectors_stale(app->vectors, &list, err);
    if (rc) return rc;
    *out = lh_op_page(lh_app_visible(&call->who, list, "index", LH_BIND_INDEX), "stale", args);
    json_object_set_new(*out, "refreshing", json_boolean(lh_vectors_refreshing(app->vectors)));
    return LH_OK;
}

LH_OP_RUN(lh_app_run_search)
{
    lh_search_request q = {.index = lh_op_str(args, "index"),
                           .query = lh_op_str(args, "query"),
                           .k = (size_t)lh_op_int(args, "k", 10),
                           .filter = lh_op_str(args, "filter"),
                           .fusion = lh_op_str(args, "fusion"),
                           .weight = lh_op_num(args, "weight", -1),
                           .rrf_k = lh_op_num(args, "rrf_k", -1),
                           .ef = (size_t)lh_op_int(args, "ef", 0),
                           .with_rows = lh_op_bool(args, "rows", true)};
    const char *mode = lh_op_str(args, "mode");
    if (mode && !lh_search_mode_parse(mode, &q.mode)) return lh_err_set(err, LH_EINTERNAL, "mode %s", mode);
    /* a bound index serves its passages; its source rows only to who reads its dataset */
    const lh_profile *p = call->who.profile;
    if (q.with_rows && p && !(lh_profile_scopes(p) & LH_SCOPE_ADMIN)) {
        json_t *info = NULL;
        lh_err ignore;
        const char *dataset = NULL;
        if (lh_vectors_get(app->vectors, q.index, &info, &ignore) == LH_OK)
            dataset = json_string_value(json_object_get(json_object_get(json_object_get(info, "manifest"), "origin"), "dataset"));
        q.with_rows = dataset && lh_profile_reads_dataset(p, dataset);
        json_decref(info);
    }
    if (lh_op_str(args, "context") && !lh_op_bool(args, "playbooks", false))
        return lh_err_set(err, LH_EINVAL, "\"context\" chooses the playbooks of a search with \"playbooks\": true");
    lh_code rc = lh_vectors_query(app->vectors, &q, out, err);
    if (rc == LH_OK && lh_op_bool(args, "playbooks", false)) { /* playbook memory (playbooks.c) */
        rc = lh_app_playbooks_boost(app, q.index, q.query, lh_op_str(args, "context"), q.filter, q.k, q.with_rows, *out, err);
        if (rc) {
            json_decref(*out);
            *out = NULL;
        }
    }
    return rc;
}

LH_OP_RUN(lh_app_run_ask)
{
    const char *names[LH_ASK_MAX_INDEXES + 1];
    size_t n = 0;
    if (lh_op_str(args, "index")) names[n++] = lh_op_str(args, "index");
    json_t *list = json_object_get(args, "indexes");
    if (json_array_size(list) + n > LH_ASK_MAX_INDEXES)
        return lh_err_set(err, LH_EINVAL, "name at most %d indexes to answer from", LH_ASK_MAX_INDEXES);
    for (size_t i = 0; i < json_array_size(list); i++) names[n++] = json_string_value(json_array_get(list, i));
    lh_ask_request q = {.question = lh_op_str(args, "question"), .indexes = names, .n_indexes = n,
                        .k = (size_t)lh_op_int(args, "k", 5)};
    return lh_vectors_ask(app->vectors, &q, &call->who, out, err);
}
