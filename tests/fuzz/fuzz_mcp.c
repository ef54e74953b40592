/*
 * fuzz_mcp.c — libFuzzer target for MCP's JSON-RPC framing and dispatch
 * (lh_mcp_handle) over a real application in a temporary data folder: any
 * bytes give a request's reply, a rejection, or nothing (a notification) —
 * and every reply is one valid JSON-RPC object.
 *
 * Leak checking between inputs is off (LLVMFuzzerInitialize adds
 * -detect_leaks=0): the application stays open across inputs, and DuckDB
 * keeps objects referenced only from its own mmap'd buffers, which
 * LeakSanitizer cannot scan and reports as leaked. The application is
 * closed at exit, before the exit-time leak check, which still runs.
 */
#include "lakehouse/lh_mcp.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lh_app *app;
static lh_config cfg;

static void close_app(void)
{
    lh_app_close(app);
    lh_config_free(&cfg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static char *args[64];
    static char no_leaks[] = "-detect_leaks=0";
    int n = *argc < 62 ? *argc : 62;
    for (int i = 0; i < n; i++) args[i] = (*argv)[i];
    args[n++] = no_leaks;
    args[n] = NULL;
    *argc = n;
    *argv = args;
    char tmpl[] = "/tmp/lh-fuzz-mcp-XXXXXX";
    char *dir = mkdtemp(tmpl);
    static char data[256];
    snprintf(data, sizeof data, "%s/data", dir ? dir : "/tmp");
    lh_config_override o[] = {{"storage.data_dir", data, "fuzz"}, {"ai.provider", "hash", "fuzz"},
                              {"mcp.max_message_bytes", "65536", "fuzz"}, {"log.level", "error", "fuzz"}};
    lh_err err;
    if (lh_config_load(&cfg, NULL, NULL, o, sizeof o / sizeof *o, &err) || lh_app_open(&cfg, &app, &err)) {
        fprintf(stderr, "fuzz_mcp: %s\n", err.message);
        abort();
    }
    atexit(close_app);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lh_mcp_limits limits = lh_mcp_limits_of(&cfg);
    lh_op_ctx call = {.who = {.actor = "fuzz", .source = "mcp"}};
    char *reply = NULL;
    lh_mcp_outcome out = lh_mcp_handle(app, &limits, (const char *)data, size, &call, &reply);
    if ((out == LH_MCP_ACCEPTED) != (reply == NULL)) abort();
    if (reply) {
        json_t *j = json_loads(reply, 0, NULL);
        if (!j || strcmp(json_string_value(json_object_get(j, "jsonrpc")), "2.0") ||
            !json_object_get(j, "id") || (!json_object_get(j, "result") == !json_object_get(j, "error")))
            abort();
        json_decref(j);
    }
    free(reply);
    return 0;
}
