/*
 * lh_api.h — the HTTP edge: the application's operations as routes.
 *
 * One route table maps METHOD /path to an operation of lh_app.h; path
 * parameters, query arguments and a JSON body's fields become the
 * operation's arguments (an unknown one is a 400 naming it), and the answer
 * is its JSON. A few routes carry bytes instead (object get/put, uploads,
 * streamed SQL) and have handlers of their own, still checked against their
 * operation's parameters. /v1/openapi.json is generated from the same table.
 */
#ifndef LH_API_H
#define LH_API_H

#include "lakehouse/lh_app.h"
#include "lakehouse/lh_http.h"

typedef struct lh_api_route {
    const char *method;
    const char *path;    /* "/v1/catalog/datasets/{name}": {x} is argument x */
    const char *op;      /* the operation, or NULL for HTTP-only routes (/health, /, openapi) */
    int status;          /* on success */
    const char *summary; /* for routes without an operation */
    const char *request_type;  /* a body other than JSON: "multipart/form-data", ... */
    const char *response_type; /* an answer other than JSON */
    lh_http_handler handler;   /* NULL: the generic JSON handler (ctx: the route's binding) */
    bool upload;               /* the body streams to temp files (ingest) */
} lh_api_route;

/* The route table. */
const lh_api_route *lh_api_routes(size_t *n);

/* Registers every route on r, bound to app; cfg gives what edges keep
 * besides the app (MCP's limits and origins). */
void lh_api_register(lh_app *app, const lh_config *cfg, lh_router *r);

/* Answers an opened statement (lh_app_sql_open) on res and takes run's
 * cursor or file: json whole, ndjson and csv streamed, parquet from its file.
 * Extra headers (a download's name) are set on res before. */
void lh_api_sql_send(lh_app *app, lh_app_sql_run *run, lh_http_res *res);

/* The OpenAPI 3.1 description of the route table (a new reference). */
json_t *lh_api_openapi(void);

#endif
