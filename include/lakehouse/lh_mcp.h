/*
 * lh_mcp.h — the Model Context Protocol server (revision 2025-11-25): the
 * substrate as tools, resources and prompts for AI agents.
 *
 * Transport-independent and stateless: lh_mcp_handle() takes one JSON-RPC
 * message and gives its reply. `lakehouse mcp` carries messages over stdio
 * (one per line), `serve` over streamable HTTP at /mcp (src/api/mcp.c).
 * There is no session: initialize only negotiates the protocol version, so
 * any replica answers any message.
 *
 * Every tool runs operations of the table (lh_op.h) through lh_app_call with
 * the caller's identity: a profile sees through MCP exactly what it sees
 * through HTTP and the CLI, and the arguments are checked by the same code.
 * Results are capped (rows, characters, time: lh_mcp_limits) and say when
 * they were cut; every tool call is journaled (entity type "mcp", the tool's
 * name, the caller as actor, source "mcp").
 */
#ifndef LH_MCP_H
#define LH_MCP_H

#include <stdbool.h>
#include <stddef.h>

#include "lakehouse/lh_app.h"
#include "lakehouse/lh_config.h"

/* The protocol revisions spoken, newest first (NULL-terminated). */
extern const char *const lh_mcp_versions[];
bool lh_mcp_version_supported(const char *version);

/* What one call may take and give (the mcp.* settings). */
typedef struct lh_mcp_limits {
    long long max_rows;          /* rows of a query_sql result */
    long long max_chars;         /* characters of a tool's structured result */
    long long timeout_ms;        /* deadline of a query_sql */
    long long max_message_bytes; /* one JSON-RPC message */
} lh_mcp_limits;

/* The limits configured (mcp.* settings). */
lh_mcp_limits lh_mcp_limits_of(const lh_config *cfg);

/* Whether a browser Origin may call the HTTP transport: a loopback origin
 * (http://localhost, 127.0.0.1, [::1], any port) or one listed in allowed
 * (comma-separated, exact; mcp.allowed_origins). "null" and garbage: no. */
bool lh_mcp_origin_allowed(const char *origin, const char *allowed);

/* Whether a Host header names this machine's loopback (localhost,
 * 127.0.0.1, [::1], with or without a port): a server that lets callers in
 * without a key refuses other Hosts (DNS rebinding). */
bool lh_mcp_host_is_loopback(const char *host);

typedef enum lh_mcp_outcome {
    LH_MCP_REPLY,    /* *reply answers a request (HTTP 200) */
    LH_MCP_ACCEPTED, /* a notification or a response: nothing to answer (HTTP 202) */
    LH_MCP_REJECTED, /* *reply is the JSON-RPC error for a message that is not a request (HTTP 400) */
} lh_mcp_outcome;

/* Handles one JSON-RPC message (msg[0..len), untrusted) from the caller in
 * call (who: its identity; source "mcp"). *reply: the JSON text to send
 * (malloc'd), or NULL with LH_MCP_ACCEPTED. Batches are refused (the
 * protocol dropped them in 2025-06-18). */
lh_mcp_outcome lh_mcp_handle(lh_app *app, const lh_mcp_limits *limits, const char *msg, size_t len,
                             const lh_op_ctx *call, char **reply);

/* The JSON-RPC error reply for a message refused before it was read (too
 * large, a bad header): code -32600 unless given (malloc'd). */
char *lh_mcp_error_reply(int code, const char *message);

/* The tools, in tools/list order: each names the operation it runs. For
 * tests and docs; lh_mcp_handle serves them. */
typedef struct lh_mcp_tool_info {
    const char *name;
    const char *op;
} lh_mcp_tool_info;
const lh_mcp_tool_info *lh_mcp_tools(size_t *n);

#endif
