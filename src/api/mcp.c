/*
 * mcp.c — MCP's streamable HTTP transport at /mcp (lh_mcp.h does the rest).
 *
 * POST carries one JSON-RPC message: a request is answered with one JSON
 * body (or one SSE event when the client accepts only text/event-stream), a
 * notification with 202. There is no server-initiated stream (GET is 405:
 * the router answers it) and no session, so no worker ever waits on a
 * client and any replica answers. Before the message is read: a foreign
 * Origin is 403, a foreign Host is 403 when callers need no key (DNS
 * rebinding), an unknown MCP-Protocol-Version is 400, the caller's key is
 * checked as on every route (401).
 */
#include "internal.h"

#include "lakehouse/lh_mcp.h"
#include "lakehouse/lh_mem.h"

#include <string.h>

static void reply_error(lh_http_res *res, int status, int code, const char *message)
{
    char *body = lh_mcp_error_reply(code, message);
    lh_http_res_bytes(res, status, "application/json", body, strlen(body));
}

static bool accepts(const char *accept, const char *type)
{
    return !accept || strstr(accept, type) || strstr(accept, "*/*");
}

void lh_api_mcp(lh_http_req *req, lh_http_res *res, void *ctx)
{
    const lh_api_binding *b = ctx;
    const lh_api_mcp_edge *edge = b->edge;
    const char *origin = lh_http_header(req, "Origin");
    const char *version = lh_http_header(req, "MCP-Protocol-Version");
    const char *type = lh_http_header(req, "Content-Type");
    const char *accept = lh_http_header(req, "Accept");
    if (origin && !lh_mcp_origin_allowed(origin, edge->allowed_origins))
        return reply_error(res, 403, -32600, "this Origin may not call /mcp (mcp.allowed_origins)");
    if (!lh_app_auth_required(b->app) && !lh_mcp_host_is_loopback(lh_http_header(req, "Host")))
        return reply_error(res, 403, -32600, "a server that needs no key answers only Host localhost, 127.0.0.1 or [::1]");
    if (version && !lh_mcp_version_supported(version))
        return reply_error(res, 400, -32600, "unsupported MCP-Protocol-Version (this server speaks 2025-11-25, 2025-06-18, 2025-03-26)");
    if (!type || strncasecmp(type, "application/json", 16))
        return reply_error(res, 415, -32600, "a message is Content-Type: application/json");
    bool json = accepts(accept, "application/json");
    if (!json && !accepts(accept, "text/event-stream"))
        return reply_error(res, 406, -32600, "Accept must allow application/json or text/event-stream");

    lh_op_ctx call;
    if (!lh_api_call(req, res, b, &call)) return;
    call.who.source = "mcp";
    char *reply = NULL;
    lh_mcp_outcome out = lh_mcp_handle(b->app, &edge->limits, req->body, req->body_len, &call, &reply);
    if (out == LH_MCP_ACCEPTED) return lh_http_res_bytes(res, 202, "application/json", lh_xstrdup(""), 0);
    int status = out == LH_MCP_REPLY ? 200 : 400;
    if (json) return lh_http_res_bytes(res, status, "application/json", reply, strlen(reply));
    char *event = lh_xasprintf("event: message\ndata: %s\n\n", reply);
    free(reply);
    lh_http_res_header(res, "Cache-Control", "no-cache");
    lh_http_res_bytes(res, status, "text/event-stream", event, strlen(event));
}
