/*
 * internal.h — what the files of src/mcp/ share: one request being answered.
 */
#ifndef LH_MCP_INTERNAL_H
#define LH_MCP_INTERNAL_H

#include <jansson.h>

#include "lakehouse/lh_mcp.h"

/* JSON-RPC error codes (and MCP's resource-not-found). */
enum {
    MCP_PARSE_ERROR = -32700,
    MCP_INVALID_REQUEST = -32600,
    MCP_METHOD_NOT_FOUND = -32601,
    MCP_INVALID_PARAMS = -32602,
    MCP_INTERNAL_ERROR = -32603,
    MCP_RESOURCE_NOT_FOUND = -32002,
};

typedef struct mcp_req {
    lh_app *app;
    const lh_mcp_limits *limits;
    const lh_op_ctx *call;
    json_t *params; /* the request's params object (never NULL) */
    /* a failed method sets these and returns NULL */
    int error_code;
    char error[512];
} mcp_req;

/* Sets the request's error; returns NULL for `return mcp_fail(...)`. */
json_t *mcp_fail(mcp_req *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A method's params member as a string, or NULL. */
const char *mcp_param_str(const mcp_req *r, const char *name);

/* tools.c */
json_t *mcp_tools_list(mcp_req *r);
json_t *mcp_tools_call(mcp_req *r);

/* resources.c: resources, templates, prompts, completion */
json_t *mcp_resources_list(mcp_req *r);
json_t *mcp_resource_templates_list(mcp_req *r);
json_t *mcp_resources_read(mcp_req *r);
json_t *mcp_prompts_list(mcp_req *r);
json_t *mcp_prompts_get(mcp_req *r);
json_t *mcp_complete(mcp_req *r);
/* The instructions initialize gives (docs/mcp.md's agent section). */
const char *mcp_instructions(void);

/* Pages a static array (borrowed) by an opaque cursor: {member: page, nextCursor?}. */
json_t *mcp_page(mcp_req *r, json_t *items, const char *member, size_t page_size);

#endif
