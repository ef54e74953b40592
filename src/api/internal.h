/*
 * internal.h — what the HTTP route files share.
 */
#ifndef LH_API_INTERNAL_H
#define LH_API_INTERNAL_H

#include "lakehouse/lh_api.h"
#include "lakehouse/lh_mcp.h"

/* What /mcp needs besides the app (copied from the configuration). */
typedef struct lh_api_mcp_edge {
    lh_mcp_limits limits;
    char *allowed_origins;
} lh_api_mcp_edge;

/* A route bound to the application: the router's handler context. */
typedef struct lh_api_binding {
    lh_app *app;
    const lh_api_route *route;
    const lh_op *op;
    const lh_api_mcp_edge *edge; /* /mcp only */
} lh_api_binding;

/* Who is calling (lh_app_authenticate: Authorization: Bearer <key>, the
 * client's address); source "http". X-Lakehouse-Actor names the actor only
 * for the local operator (no key). False after answering 401. */
bool lh_api_call(lh_http_req *req, lh_http_res *res, const lh_api_binding *b, lh_op_ctx *call);

/* The operation's arguments from the path, the query string, the multipart
 * form fields and (with_body) a JSON object body, checked; NULL after
 * answering 400. A new reference. */
json_t *lh_api_args(lh_http_req *req, lh_http_res *res, const lh_api_binding *b, bool with_body);

/* Responds with err and returns true when rc is an error. */
bool lh_api_failed(lh_http_res *res, lh_code rc, const lh_err *err);

/* The handlers of the routes that do not answer plain JSON. */
void lh_api_health(lh_http_req *req, lh_http_res *res, void *ctx);
void lh_api_index(lh_http_req *req, lh_http_res *res, void *ctx);
void lh_api_openapi_doc(lh_http_req *req, lh_http_res *res, void *ctx);
void lh_api_sql(lh_http_req *req, lh_http_res *res, void *ctx);
void lh_api_ingest(lh_http_req *req, lh_http_res *res, void *ctx);
void lh_api_object_get(lh_http_req *req, lh_http_res *res, void *ctx);
void lh_api_object_put(lh_http_req *req, lh_http_res *res, void *ctx);
void lh_api_mcp(lh_http_req *req, lh_http_res *res, void *ctx);

#endif
