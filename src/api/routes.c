/*
 * routes.c — the route table, the generic JSON handler, argument gathering
 * and the OpenAPI document generated from the table.
 */
#include "internal.h"

#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_version.h"

#include <stdlib.h>
#include <string.h>

#define J "application/json"

static const lh_api_route routes[] = {
    {"GET", "/v1", NULL, 200, "what this server offers (links; the web UI is at /)", NULL, J, lh_api_index, false},
    {"GET", "/health", NULL, 200, "liveness and per-module readiness (503 when not ready)", NULL, J, lh_api_health, false},
    {"GET", "/v1/openapi.json", NULL, 200, "this description", NULL, J, lh_api_openapi_doc, false},
    {"GET", "/v1/version", "system.version", 200, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/storage/buckets", "storage.buckets", 200, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/storage/buckets/{bucket}/objects", "storage.objects", 200, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/storage/buckets/{bucket}/object", "storage.get", 200, NULL, NULL, "application/octet-stream", lh_api_object_get, false},
    {"PUT", "/v1/storage/buckets/{bucket}/object", "storage.put", 201, NULL, "application/octet-stream", J, lh_api_object_put, false},
    {"DELETE", "/v1/storage/buckets/{bucket}/object", "storage.delete", 200, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/errors", "errors.list", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/errors/flush", "errors.flush", 200, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/journal/recent", "journal.recent", 200, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/journal/history/{entity_id}", "journal.history", 200, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/journal/stats", "journal.stats", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/journal/flush", "journal.flush", 200, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/sql/history", "sql.history", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/sql", "sql", 200, NULL, J, "application/json, application/x-ndjson, text/csv, application/vnd.apache.parquet", lh_api_sql, false},
    {"POST", "/v1/ingest", "ingest", 201, NULL, "multipart/form-data", J, lh_api_ingest, true},
    {"GET", "/v1/catalog/datasets", "catalog.list", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/catalog/datasets", "catalog.create", 201, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/catalog/datasets/{name}", "catalog.show", 200, NULL, NULL, NULL, NULL, false},
    {"DELETE", "/v1/catalog/datasets/{name}", "catalog.delete", 200, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/catalog/datasets/{name}/versions", "catalog.versions", 200, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/catalog/datasets/{name}/versions/{version}", "catalog.show", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/catalog/datasets/{name}/commits", "catalog.commit", 201, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/catalog/datasets/{name}/rollback", "catalog.rollback", 201, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/catalog/datasets/{name}/tombstones", "catalog.tombstones", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/catalog/datasets/{name}/tombstones", "catalog.tombstone", 201, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/catalog/datasets/{name}/diff", "catalog.diff", 200, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/catalog/datasets/{name}/facets", "catalog.facets", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/catalog/rebuild", "catalog.rebuild", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/catalog/purge", "catalog.purge", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/vectors/refresh", "index.refresh", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/vectors/refresh/{dataset}", "index.refresh", 200, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/vectors/stale", "index.stale", 200, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/vectors/indexes", "index.list", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/vectors/indexes", "index.create", 201, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/vectors/indexes/{name}", "index.show", 200, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/vectors/indexes/{name}/history", "index.history", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/vectors/indexes/{name}/search", "index.search", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/vectors/indexes/{name}/vectors", "index.add", 201, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/vectors/indexes/{name}/vectors/delete", "index.remove", 201, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/vectors/indexes/{name}/rebuild", "index.rebuild", 201, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/vectors/indexes/{name}/promote", "index.promote", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/vectors/indexes/{name}/rollback", "index.rollback", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/vectors/indexes/{index}/autotune", "index.autotune", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/vectors/indexes/{index}/watch", "index.watch", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/trials", "trials.run", 201, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/trials", "trials.list", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/playbooks", "playbook.record", 201, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/playbooks", "playbook.list", 200, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/playbooks/{id}", "playbook.show", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/playbooks/{id}/retire", "playbook.retire", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/pathways", "pathway.add", 201, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/pathways", "pathway.list", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/pathways/search", "pathway.search", 200, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/pathways/{id}/history", "pathway.history", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/pathways/{id}/revise", "pathway.revise", 201, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/pathways/{id}/retire", "pathway.retire", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/search", "search", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/ask", "ask", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/embed", "ai.embed", 200, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/drafts", "drafts.list", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/drafts", "drafts.create", 201, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/drafts/{id}", "drafts.validate", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/drafts/{id}/publish", "drafts.publish", 201, NULL, NULL, NULL, NULL, false},
    {"DELETE", "/v1/drafts/{id}", "drafts.discard", 200, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/views", "views.list", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/views", "views.create", 201, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/views/{name}", "views.get", 200, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/catalog/datasets/{dataset}/suggested-view", "views.suggest", 200, NULL, NULL, NULL, NULL, false},
    {"PATCH", "/v1/views/{name}", "views.update", 200, NULL, NULL, NULL, NULL, false},
    {"DELETE", "/v1/views/{name}", "views.delete", 200, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/workspaces", "workspaces.list", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/workspaces", "workspaces.create", 201, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/workspaces/{name}", "workspaces.get", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/workspaces/{name}/items", "workspaces.add", 201, NULL, NULL, NULL, NULL, false},
    {"DELETE", "/v1/workspaces/{name}/items/{item}", "workspaces.remove", 200, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/workspaces/{name}/activity", "workspaces.activity", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/workspaces/{name}/handoff", "workspaces.handoff", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/mcp", NULL, 200, "the MCP server (streamable HTTP, one JSON-RPC message per POST; docs/mcp.md)", J, J, lh_api_mcp, false},
    {"GET", "/v1/profiles", "profiles.list", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/profiles", "profiles.create", 201, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/profiles/me", "profiles.me", 200, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/profiles/{id}", "profiles.get", 200, NULL, NULL, NULL, NULL, false},
    {"PATCH", "/v1/profiles/{id}", "profiles.update", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/profiles/{id}/search", "profiles.search", 200, NULL, NULL, NULL, NULL, false},
    {"DELETE", "/v1/profiles/{id}", "profiles.delete", 200, NULL, NULL, NULL, NULL, false},
    {"GET", "/v1/profiles/{profile}/keys", "keys.list", 200, NULL, NULL, NULL, NULL, false},
    {"POST", "/v1/profiles/{profile}/keys", "keys.create", 201, NULL, NULL, NULL, NULL, false},
    {"DELETE", "/v1/profiles/{profile}/keys/{id}", "keys.revoke", 200, NULL, NULL, NULL, NULL, false},
};

const lh_api_route *lh_api_routes(size_t *n)
{
    *n = sizeof routes / sizeof *routes;
    return routes;
}

bool lh_api_call(lh_http_req *req, lh_http_res *res, const lh_api_binding *b, lh_op_ctx *call)
{
    const char *actor = lh_http_header(req, "X-Lakehouse-Actor");
    *call = (lh_op_ctx){.who = {.actor = actor && *actor ? actor : "anonymous", .source = "http"}};
    char peer[64];
    lh_err err;
    lh_code rc = lh_app_authenticate(b->app, lh_http_header(req, "Authorization"), lh_http_client_addr(req, peer, sizeof peer),
                                     &call->who, &err);
    if (rc == LH_EUNAUTHORIZED) lh_http_res_header(res, "WWW-Authenticate", "Bearer realm=\"lakehouse\"");
    return !lh_api_failed(res, rc, &err);
}

/* An upload's headers, before its body: a caller without credentials where
 * they are required is refused now (401), not after filling a temp file.
 * Presented keys are checked with the request, on a worker (hashing). */
static bool admit_upload(lh_http_req *req, lh_http_res *res, void *ctx)
{
    const lh_api_binding *b = ctx;
    const char *key = lh_http_header(req, "Authorization");
    if (key && *key) return true;
    lh_op_ctx call;
    return lh_api_call(req, res, b, &call);
}

bool lh_api_failed(lh_http_res *res, lh_code rc, const lh_err *err)
{
    if (rc == LH_OK) return false;
    if (rc == LH_EUNAVAILABLE) lh_http_res_header(res, "Retry-After", "1");
    lh_http_res_error(res, err);
    return true;
}

struct gather {
    const lh_op *op;
    json_t *args;
    lh_err *err;
    lh_code rc;
};

static bool gather_query(void *ctx, const char *name, const char *value)
{
    struct gather *g = ctx;
    g->rc = lh_op_set_text(g->op, g->args, name, value, g->err);
    return g->rc == LH_OK;
}

json_t *lh_api_args(lh_http_req *req, lh_http_res *res, const lh_api_binding *b, bool with_body)
{
    lh_err err;
    json_t *args = NULL;
    lh_code rc = LH_OK;
    if (with_body && req->body_len) {
        rc = lh_http_body_json(req, &args, &err);
        if (rc == LH_OK && !json_is_object(args)) rc = lh_err_set(&err, LH_EINVAL, "the body must be a JSON object");
    }
    if (!args) args = json_object();
    struct gather g = {b->op, args, &err, LH_OK};
    if (rc == LH_OK) rc = lh_http_query_each(req, gather_query, &g, &err);
    if (rc == LH_OK) rc = g.rc;
    const json_t *form = lh_http_form_fields(req);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)form, key, v) {
        if (rc == LH_OK) rc = lh_op_set_text(b->op, args, key, json_string_value(v), &err);
    }
    for (size_t i = 0; rc == LH_OK && i < req->n_params; i++) {
        if (json_object_get(args, req->params[i].name))
            rc = lh_err_set(&err, LH_EINVAL, "\"%s\" is in the path; do not give it again", req->params[i].name);
        else rc = lh_op_set_text(b->op, args, req->params[i].name, req->params[i].value, &err);
    }
    if (rc == LH_OK) rc = lh_op_check(b->op, args, &err);
    if (rc) {
        lh_http_res_error(res, &err);
        json_decref(args);
        return NULL;
    }
    return args;
}

/* Every operation that answers JSON. */
static void generic(lh_http_req *req, lh_http_res *res, void *ctx)
{
    const lh_api_binding *b = ctx;
    lh_op_ctx call;
    if (!lh_api_call(req, res, b, &call)) return;
    json_t *args = lh_api_args(req, res, b, true), *out;
    if (!args) return;
    lh_err err;
    if (!lh_api_failed(res, lh_app_call(b->app, b->op->name, args, &call, &out, &err), &err))
        lh_http_res_json(res, b->route->status, out);
    json_decref(args);
}

/* Routes whose handlers never wait on I/O or a query (health answers from its
 * cache): they run on the event loop, the rest on the worker pool. */
static bool runs_inline(const lh_api_route *rt)
{
    static const char *const cheap[] = {"/health", "/v1/version", "/v1"};
    for (size_t i = 0; i < sizeof cheap / sizeof *cheap; i++)
        if (!strcmp(rt->method, "GET") && !strcmp(rt->path, cheap[i])) return true;
    return false;
}

void lh_api_register(lh_app *app, const lh_config *cfg, lh_router *r)
{
    lh_api_mcp_edge *mcp = lh_xcalloc(1, sizeof *mcp);
    mcp->limits = lh_mcp_limits_of(cfg);
    mcp->allowed_origins = lh_xstrdup(cfg->mcp_allowed_origins ? cfg->mcp_allowed_origins : "");
    lh_router_keep(r, mcp->allowed_origins);
    lh_router_keep(r, mcp);
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        lh_api_binding *b = lh_xcalloc(1, sizeof *b);
        *b = (lh_api_binding){app, &routes[i], routes[i].op ? lh_op_find(routes[i].op) : NULL,
                              routes[i].handler == lh_api_mcp ? mcp : NULL};
        if (routes[i].op && !b->op) {
            fprintf(stderr, "lh_api_register: no operation %s\n", routes[i].op);
            abort();
        }
        lh_router_keep(r, b);
        lh_http_handler fn = routes[i].handler ? routes[i].handler : generic;
        if (routes[i].upload) {
            lh_upload_options up = {.tmp_dir = lh_app_tmp_dir(app), .max_bytes = (size_t)lh_app_max_upload_bytes(app),
                                    .admit = admit_upload};
            lh_router_add_upload(r, routes[i].method, routes[i].path, fn, b, &up);
        } else {
            lh_router_add(r, routes[i].method, routes[i].path, fn, b);
        }
        if (runs_inline(&routes[i])) lh_router_mark_inline(r);
        if (!strcmp(routes[i].path, "/health")) lh_router_mark_quiet(r); /* polled by load balancers */
    }
}

/* ---- OpenAPI ---- */

static json_t *param_schema(const lh_op_param *p)
{
    static const char *const types[] = {[LH_OP_STRING] = "string", [LH_OP_INT] = "integer",
                                        [LH_OP_NUMBER] = "number", [LH_OP_BOOL] = "boolean",
                                        [LH_OP_STRINGS] = "array",  [LH_OP_NUMBERS] = "array",
                                        [LH_OP_ARRAY] = "array",    [LH_OP_OBJECT] = "object"};
    json_t *s = json_object();
    if (p->type != LH_OP_ANY) json_object_set_new(s, "type", json_string(types[p->type]));
    if (p->type == LH_OP_STRINGS) json_object_set_new(s, "items", json_pack("{s:s}", "type", "string"));
    if (p->type == LH_OP_NUMBERS) json_object_set_new(s, "items", json_pack("{s:s}", "type", "number"));
    bool counted = p->type == LH_OP_STRINGS || p->type == LH_OP_NUMBERS || p->type == LH_OP_ARRAY;
    if ((p->type == LH_OP_INT || p->type == LH_OP_NUMBER) && (p->min != 0 || p->max > 0)) {
        json_object_set_new(s, "minimum", p->type == LH_OP_INT ? json_integer((json_int_t)p->min) : json_real(p->min));
        if (p->max > 0 && p->max < 9e18)
            json_object_set_new(s, "maximum", p->type == LH_OP_INT ? json_integer((json_int_t)p->max) : json_real(p->max));
    }
    if (counted && p->min > 0) json_object_set_new(s, "minItems", json_integer((json_int_t)p->min));
    if (counted && p->max > 0) json_object_set_new(s, "maxItems", json_integer((json_int_t)p->max));
    if (p->choices) {
        json_t *e = json_array();
        for (const char *const *c = p->choices; *c; c++) json_array_append_new(e, json_string(*c));
        json_object_set_new(s, "enum", e);
    }
    if (p->help) json_object_set_new(s, "description", json_string(p->help));
    return s;
}

static bool in_path(const char *path, const char *name)
{
    char brace[80];
    snprintf(brace, sizeof brace, "{%s}", name);
    return strstr(path, brace) != NULL;
}

static json_t *error_response(const char *what)
{
    return json_pack("{s:s, s:{s:{s:{s:s}}}}", "description", what, "content", J, "schema", "$ref",
                     "#/components/schemas/Error");
}

static json_t *operation(const lh_api_route *rt, json_t *used_ids)
{
    const lh_op *op = rt->op ? lh_op_find(rt->op) : NULL;
    json_t *o = json_object(), *params = json_array(), *body_props = json_object(), *required = json_array();
    json_object_set_new(o, "summary", json_string(op ? op->summary : rt->summary));
    if (op) { /* unique: the operation's name, numbered when a second route offers it */
        char id[96];
        snprintf(id, sizeof id, "%s", op->name);
        for (int k = 2; json_object_get(used_ids, id); k++) snprintf(id, sizeof id, "%s.%d", op->name, k);
        json_object_set_new(used_ids, id, json_true());
        json_object_set_new(o, "operationId", json_string(id));
    }
    bool json_body = (!strcmp(rt->method, "POST") || !strcmp(rt->method, "PUT") || !strcmp(rt->method, "PATCH")) &&
                     (!rt->request_type || !strcmp(rt->request_type, J));
    static const lh_op_param list_params[] = {
        {"limit", LH_OP_INT, false, NULL, 1, LH_OP_LIST_MAX, "items per page (default 100)"},
        {"cursor", LH_OP_STRING, false, NULL, 0, 0, "the previous page's next"},
        {NULL, 0, false, NULL, 0, 0, NULL}};
    for (int pass = 0; op && pass < 2; pass++) {
        const lh_op_param *ps = pass == 0 ? op->params : op->list ? list_params : NULL;
        for (const lh_op_param *p = ps; p && p->name; p++) {
            bool path = in_path(rt->path, p->name);
            if (!path && json_body) {
                json_object_set_new(body_props, p->name, param_schema(p));
                if (p->required) json_array_append_new(required, json_string(p->name));
                continue;
            }
            json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:o}", "name", p->name, "in",
                                                    path ? "path" : "query", "required", path || p->required,
                                                    "schema", param_schema(p)));
        }
    }
    if (json_array_size(params)) json_object_set(o, "parameters", params);
    if (json_object_size(body_props)) {
        json_t *schema = json_pack("{s:s, s:O, s:b}", "type", "object", "properties", body_props,
                                   "additionalProperties", 0);
        if (json_array_size(required)) json_object_set(schema, "required", required);
        json_object_set_new(o, "requestBody", json_pack("{s:b, s:{s:{s:o}}}", "required", json_array_size(required) > 0,
                                                        "content", J, "schema", schema));
    } else if (rt->request_type && strcmp(rt->request_type, J)) {
        json_object_set_new(o, "requestBody", json_pack("{s:b, s:{s:{s:{s:s, s:s}}}}", "required", 1, "content",
                                                        rt->request_type, "schema", "type", "string", "format", "binary"));
    }
    char status[8];
    snprintf(status, sizeof status, "%d", rt->status);
    json_t *responses = json_object();
    const char *type = rt->response_type ? rt->response_type : J;
    json_object_set_new(responses, status, json_pack("{s:s, s:{s:{}}}", "description", "success", "content", type));
    json_object_set_new(responses, "400", error_response("bad_request: a bad or unknown argument"));
    if (strchr(rt->path, '{')) json_object_set_new(responses, "404", error_response("not_found"));
    if (op && op->mutates) json_object_set_new(responses, "409", error_response("conflict or already_exists"));
    json_object_set_new(responses, "default", error_response("any other error (see the code)"));
    json_object_set_new(o, "responses", responses);
    json_decref(params);
    json_decref(body_props);
    json_decref(required);
    return o;
}

json_t *lh_api_openapi(void)
{
    json_t *paths = json_object(), *used_ids = json_object();
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        json_t *item = json_object_get(paths, routes[i].path);
        if (!item) {
            item = json_object();
            json_object_set_new(paths, routes[i].path, item);
        }
        char method[8];
        size_t n = strlen(routes[i].method);
        for (size_t k = 0; k < n && k + 1 < sizeof method; k++) method[k] = (char)(routes[i].method[k] | 0x20);
        method[n < sizeof method ? n : sizeof method - 1] = '\0';
        json_object_set_new(item, method, operation(&routes[i], used_ids));
    }
    json_decref(used_ids);
    json_t *error = json_pack(
        "{s:s, s:[s], s:{s:{s:s, s:[s, s], s:{s:{s:s}, s:{s:s}, s:{s:s}}}}}", "type", "object", "required", "error",
        "properties", "error", "type", "object", "required", "code", "message", "properties", "code", "type", "string",
        "message", "type", "string", "request_id", "type", "string");
    return json_pack("{s:s, s:{s:s, s:s, s:s}, s:o, s:{s:{s:o}}}", "openapi", "3.1.0", "info", "title", "Lakehouse",
                     "version", lh_version(), "description",
                     "A versioned knowledge substrate: datasets, SQL, vector and text search.", "paths", paths,
                     "components", "schemas", "Error", error);
}

void lh_api_openapi_doc(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_api_binding b = *(const lh_api_binding *)ctx;
    static const lh_op_param no_params[] = {{NULL, 0, false, NULL, 0, 0, NULL}};
    static const lh_op none = {"openapi", "", no_params, NULL, NULL, false, NULL, LH_SCOPE_ANY, NULL};
    b.op = &none;
    json_t *args = lh_api_args(req, res, &b, false);
    if (!args) return;
    json_decref(args);
    lh_http_res_json(res, 200, lh_api_openapi());
}

void lh_api_index(lh_http_req *req, lh_http_res *res, void *ctx)
{
    (void)ctx;
    (void)req;
    json_t *links = json_object();
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        if (strcmp(routes[i].method, "GET") || strchr(routes[i].path, '{') || !strcmp(routes[i].path, "/v1")) continue;
        const lh_op *op = routes[i].op ? lh_op_find(routes[i].op) : NULL;
        json_object_set_new(links, routes[i].path, json_string(op ? op->summary : routes[i].summary));
    }
    lh_http_res_json(res, 200, json_pack("{s:s, s:s, s:s, s:s, s:o}", "name", "lakehouse", "version", lh_version(),
                                         "openapi", "/v1/openapi.json", "ui", "/", "links", links));
}
