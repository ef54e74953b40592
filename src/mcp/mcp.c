/*
 * mcp.c — JSON-RPC framing and the protocol's lifecycle: one message in,
 * its reply out. Methods live in tools.c and resources.c.
 */
#include "internal.h"

#include "lakehouse/lh_json.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_version.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const lh_mcp_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", NULL};

bool lh_mcp_version_supported(const char *version)
{
    for (const char *const *v = lh_mcp_versions; version && *v; v++)
        if (!strcmp(*v, version)) return true;
    return false;
}

lh_mcp_limits lh_mcp_limits_of(const lh_config *cfg)
{
    return (lh_mcp_limits){.max_rows = cfg->mcp_max_rows,
                           .max_chars = cfg->mcp_max_chars,
                           .timeout_ms = cfg->mcp_timeout_ms,
                           .max_message_bytes = cfg->mcp_max_message_bytes};
}

/* host[:port] names loopback; n: its length. */
static bool loopback_authority(const char *s, size_t n)
{
    static const char *const names[] = {"localhost", "127.0.0.1", "[::1]"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        size_t k = strlen(names[i]);
        if (n < k || strncasecmp(s, names[i], k)) continue;
        if (n == k) return true;
        if (s[k] != ':' || n == k + 1 || n - k - 1 > 5) continue;
        bool digits = true;
        for (size_t j = k + 1; j < n; j++) digits = digits && s[j] >= '0' && s[j] <= '9';
        if (digits) return true;
    }
    return false;
}

bool lh_mcp_host_is_loopback(const char *host)
{
    return host && loopback_authority(host, strlen(host));
}

bool lh_mcp_origin_allowed(const char *origin, const char *allowed)
{
    if (!origin) return false;
    size_t n = strlen(origin);
    for (const char *p = allowed; p && *p;) {
        const char *end = strchr(p, ',');
        size_t k = end ? (size_t)(end - p) : strlen(p);
        while (k && p[k - 1] == ' ') k--;
        if (k == n && !strncmp(p, origin, n)) return true;
        if (!end) break;
        for (p = end + 1; *p == ' ';) p++;
    }
    const char *authority = !strncmp(origin, "http://", 7) ? origin + 7 : !strncmp(origin, "https://", 8) ? origin + 8 : NULL;
    return authority && loopback_authority(authority, strlen(authority));
}

json_t *mcp_fail(mcp_req *r, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
    r->error_code = code;
    return NULL;
}

const char *mcp_param_str(const mcp_req *r, const char *name)
{
    return json_string_value(json_object_get(r->params, name));
}

json_t *mcp_page(mcp_req *r, json_t *items, const char *member, size_t page_size)
{
    const char *cursor = mcp_param_str(r, "cursor");
    char *at = cursor ? lh_op_cursor_decode(cursor, "offset") : NULL;
    free(at);
    if (cursor && !at) return mcp_fail(r, MCP_INVALID_PARAMS, "cursor is not one this server gave out");
    json_t *args = json_pack("{s:I, s:s?}", "limit", (json_int_t)page_size, "cursor", cursor);
    json_t *page = lh_op_page(json_incref(items), member, args);
    json_decref(args);
    json_t *next = json_object_get(page, "next");
    if (next) json_object_set(page, "nextCursor", next), json_object_del(page, "next");
    return page;
}

/* ---- lifecycle and utilities ---- */

static json_t *initialize(mcp_req *r)
{
    const char *asked = mcp_param_str(r, "protocolVersion");
    if (!asked) return mcp_fail(r, MCP_INVALID_PARAMS, "initialize needs params.protocolVersion");
    const char *version = lh_mcp_version_supported(asked) ? asked : lh_mcp_versions[0];
    return json_pack("{s:s, s:{s:{s:b}, s:{s:b, s:b}, s:{s:b}, s:{}, s:{}}, s:{s:s, s:s, s:s}, s:s}",
                     "protocolVersion", version, "capabilities", "tools", "listChanged", 0, "resources",
                     "listChanged", 0, "subscribe", 0, "prompts", "listChanged", 0, "logging", "completions",
                     "serverInfo", "name", "lakehouse", "title", "Lakehouse", "version", lh_version(),
                     "instructions", mcp_instructions());
}

static json_t *ping(mcp_req *r)
{
    (void)r;
    return json_object();
}

/* Accepted and checked; a stateless server sends no log notifications. */
static json_t *set_level(mcp_req *r)
{
    static const char *const levels[] = {"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"};
    const char *level = mcp_param_str(r, "level");
    for (size_t i = 0; level && i < sizeof levels / sizeof *levels; i++)
        if (!strcmp(level, levels[i])) return json_object();
    return mcp_fail(r, MCP_INVALID_PARAMS, "level must be one of debug, info, notice, warning, error, critical, alert, emergency");
}

static const struct method {
    const char *name;
    json_t *(*fn)(mcp_req *r);
} methods[] = {
    {"initialize", initialize},
    {"ping", ping},
    {"tools/list", mcp_tools_list},
    {"tools/call", mcp_tools_call},
    {"resources/list", mcp_resources_list},
    {"resources/templates/list", mcp_resource_templates_list},
    {"resources/read", mcp_resources_read},
    {"prompts/list", mcp_prompts_list},
    {"prompts/get", mcp_prompts_get},
    {"completion/complete", mcp_complete},
    {"logging/setLevel", set_level},
};

/* ---- framing ---- */

static char *error_reply(json_t *id, int code, const char *message)
{
    json_t *j = json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error", "code",
                          code, "message", message);
    char *text = lh_json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return text;
}

char *lh_mcp_error_reply(int code, const char *message)
{
    return error_reply(NULL, code ? code : MCP_INVALID_REQUEST, message);
}

static lh_mcp_outcome reject(json_t *id, int code, const char *message, char **reply)
{
    *reply = error_reply(id, code, message);
    return LH_MCP_REJECTED;
}

lh_mcp_outcome lh_mcp_handle(lh_app *app, const lh_mcp_limits *limits, const char *msg, size_t len,
                             const lh_op_ctx *call, char **reply)
{
    *reply = NULL;
    lh_err why; /* its message is valid UTF-8 even when it quotes input that is not, or is cut */
    if (limits->max_message_bytes > 0 && len > (size_t)limits->max_message_bytes) {
        lh_err_set(&why, LH_ETOOBIG, "the message is %zu bytes; the limit is %lld (mcp.max_message_bytes)", len,
                   limits->max_message_bytes);
        return reject(NULL, MCP_INVALID_REQUEST, why.message, reply);
    }
    json_error_t jerr;
    json_t *m = json_loadb(msg, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!m) {
        lh_err_set(&why, LH_EINVAL, "parse error at line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
        return reject(NULL, MCP_PARSE_ERROR, why.message, reply);
    }
    lh_mcp_outcome out = LH_MCP_REJECTED;
    json_t *id = json_object_get(m, "id"), *params = json_object_get(m, "params");
    const char *method = json_string_value(json_object_get(m, "method"));
    if (json_is_array(m)) {
        reject(NULL, MCP_INVALID_REQUEST, "batches are not supported (MCP removed JSON-RPC batching in 2025-06-18): send one message per request", reply);
    } else if (!json_is_object(m)) {
        reject(NULL, MCP_INVALID_REQUEST, "a message must be a JSON-RPC 2.0 object", reply);
    } else if (!json_is_string(json_object_get(m, "jsonrpc")) || strcmp(json_string_value(json_object_get(m, "jsonrpc")), "2.0")) {
        reject(json_is_string(id) || json_is_integer(id) ? id : NULL, MCP_INVALID_REQUEST, "\"jsonrpc\" must be \"2.0\"", reply);
    } else if (!method && id && (json_object_get(m, "result") || json_object_get(m, "error"))) {
        out = LH_MCP_ACCEPTED; /* a response to a request this server never sends: nothing to do */
    } else if (!method) {
        reject(json_is_string(id) || json_is_integer(id) ? id : NULL, MCP_INVALID_REQUEST, "a request needs a \"method\" string", reply);
    } else if (!id) {
        out = LH_MCP_ACCEPTED; /* notifications (initialized, cancelled, ...): nothing to answer */
    } else if (!json_is_string(id) && !json_is_integer(id)) {
        reject(NULL, MCP_INVALID_REQUEST, "\"id\" must be a string or an integer", reply);
    } else if (params && !json_is_object(params)) {
        out = LH_MCP_REPLY;
        *reply = error_reply(id, MCP_INVALID_PARAMS, "\"params\" must be an object");
    } else {
        out = LH_MCP_REPLY;
        const struct method *fn = NULL;
        for (size_t i = 0; i < sizeof methods / sizeof *methods && !fn; i++)
            if (!strcmp(methods[i].name, method)) fn = &methods[i];
        if (!fn) {
            lh_err_set(&why, LH_ENOTFOUND, "method not found: %.100s", method);
            *reply = error_reply(id, MCP_METHOD_NOT_FOUND, why.message);
        } else {
            json_t *none = params ? NULL : json_object();
            mcp_req r = {.app = app, .limits = limits, .call = call, .params = params ? params : none};
            json_t *result = fn->fn(&r);
            if (result) {
                json_t *j = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result);
                *reply = lh_json_dumps(j, JSON_COMPACT);
                json_decref(j);
            } else {
                *reply = error_reply(id, r.error_code ? r.error_code : MCP_INTERNAL_ERROR, r.error);
            }
            json_decref(none);
        }
    }
    json_decref(m);
    return out;
}
