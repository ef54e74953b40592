/*
 * internal.h — the application state shared by the HTTP resource files.
 */
#ifndef LH_API_INTERNAL_H
#define LH_API_INTERNAL_H

#include <pthread.h>
#include <time.h>

#include "lakehouse/lh_api.h"
#include "lakehouse/lh_buckets.h"
#include "lakehouse/lh_catalog.h"
#include "lakehouse/lh_ingest.h"
#include "lakehouse/lh_journal.h"
#include "lakehouse/lh_vectors.h"

struct lh_app {
    char *data_dir;
    char replica[16];
    long long query_timeout_ms;
    long long query_max_rows;
    lh_buckets *buckets;
    lh_errors *errors;
    lh_journal *journal;
    lh_catalog *catalog;
    lh_dataset_tables *tables;
    lh_query_engine *query;       /* sandboxed, read-only SQL over datasets */
    lh_query_engine *ingest_engine; /* unsandboxed: reads input files */
    lh_ingester *ingester;
    lh_vectors *vectors;
    char *tmp_dir;
    long long max_upload_bytes;
    time_t started_at;
    /* embedding and chat providers (ai.c) */
    pthread_mutex_t ai_mu;
    char *ai_provider, *ai_url, *ai_model, *ai_api_key, *sidecar_node, *sidecar_script;
    long long ai_timeout_ms;
    int ai_retries, sidecar_port;
    size_t ai_batch_size;
    struct lh_app_ai {
        char *key; /* provider "\n" model */
        lh_ai *ai;
    } *ais;
    size_t n_ais;
    lh_ai *chat;
    lh_sidecar *sidecar;
    bool ai_ready;
};

/* ai.c: providers by name (an lh_vectors_ai_fn; ctx: the app). */
void lh_app_ai_init(lh_app *app, const lh_config *cfg);
void lh_app_ai_close(lh_app *app);
lh_ai *lh_app_ai(void *ctx, const char *provider, const char *model, lh_err *err);
json_t *lh_app_sidecar_status(lh_app *app); /* NULL when not started */

/* Who is calling: X-Lakehouse-Actor (until profiles and auth exist), source "http". */
lh_who lh_api_who(const lh_http_req *req);

/* Responds with err and returns true when rc is an error. */
bool lh_api_failed(lh_http_res *res, lh_code rc, const lh_err *err);

/* The request body as a JSON object (a new reference), or NULL after answering 400. */
json_t *lh_api_body_object(lh_http_req *req, lh_http_res *res);

/* Optional body fields: NULL / def when absent or null; a field of the
 * wrong type (or out of [min, max]) answers 400 and sets *bad. */
const char *lh_api_opt_string(json_t *body, const char *field, lh_http_res *res, bool *bad);
long long lh_api_opt_int(json_t *body, const char *field, long long def, long long min, long long max,
                         lh_http_res *res, bool *bad);
bool lh_api_opt_bool(json_t *body, const char *field, bool def, lh_http_res *res, bool *bad);

/* One registration function per resource family (one file each). */
void lh_api_system_routes(lh_app *app, lh_router *r);  /* /health, /v1/version */
void lh_api_storage_routes(lh_app *app, lh_router *r); /* /v1/storage/..., /v1/errors */
void lh_api_catalog_routes(lh_app *app, lh_router *r); /* /v1/catalog/... */
void lh_api_journal_routes(lh_app *app, lh_router *r); /* /v1/journal/... */
void lh_api_sql_routes(lh_app *app, lh_router *r);     /* /v1/sql */
void lh_api_ingest_routes(lh_app *app, lh_router *r);  /* /v1/ingest */
void lh_api_vectors_routes(lh_app *app, lh_router *r); /* /v1/vectors/... */
void lh_api_search_routes(lh_app *app, lh_router *r);  /* /v1/search, /v1/ask */

#endif
