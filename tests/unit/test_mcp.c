/*
 * test_mcp.c — the MCP library (src/mcp/) over a whole application: every
 * tool names an operation that exists and its input schema is the
 * operation's parameters; JSON-RPC framing (requests, notifications,
 * responses, batches, bad ids, oversize); results cut to mcp.max_chars say
 * so; a profile's confinement holds through tools; calls are journaled; the
 * Origin and Host checks of the HTTP transport.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define APP_FIXTURE_SETTINGS                                                                       \
    {"ai.provider", "hash", "test"}, {"mcp.max_chars", "2000", "test"}
#include "app_fixture.h"

#include "lakehouse/lh_mcp.h"

#include <string.h>

static const lh_op_ctx operator_call = {.who = {.actor = "tester", .source = "mcp"}};

/* One message in; the reply parsed (NULL when there is none). */
static json_t *send_as(struct fixture *f, const lh_op_ctx *call, const char *msg, lh_mcp_outcome want)
{
    lh_mcp_limits limits = lh_mcp_limits_of(&f->cfg);
    char *reply = NULL;
    lh_mcp_outcome got = lh_mcp_handle(f->app, &limits, msg, strlen(msg), call, &reply);
    if (got != want) fail_msg("%.200s: outcome %d, want %d: %s", msg, got, want, reply ? reply : "(none)");
    json_t *j = reply ? json_loads(reply, 0, NULL) : NULL;
    if (reply && !j) fail_msg("reply is not JSON: %s", reply);
    free(reply);
    return j;
}

static json_t *send(struct fixture *f, const char *msg, lh_mcp_outcome want)
{
    return send_as(f, &operator_call, msg, want);
}

static int error_code(json_t *reply)
{
    return (int)json_integer_value(json_object_get(json_object_get(reply, "error"), "code"));
}

/* tools/call name(args) as call; the result object (borrowed from *keep). */
static json_t *tool_as(struct fixture *f, const lh_op_ctx *call, const char *name, const char *args, json_t **keep)
{
    char *msg = lh_xasprintf("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\",\"arguments\":%s}}", name, args);
    *keep = send_as(f, call, msg, LH_MCP_REPLY);
    free(msg);
    json_t *result = json_object_get(*keep, "result");
    assert_non_null(result);
    return result;
}

static void load_workers(struct fixture *f)
{
    lh_buf csv = {0};
    lh_buf_puts(&csv, "id,name,email\n");
    for (int i = 0; i < 100; i++) lh_buf_printf(&csv, "%d,worker %d,w%d@example.com\n", i, i, i);
    app_ingest_csv(f, "workers", csv.data);
    lh_buf_free(&csv);
}

static void test_tools_name_operations(void **state)
{
    struct fixture *f = *state;
    size_t n;
    const lh_mcp_tool_info *tools = lh_mcp_tools(&n);
    assert_true(n >= 17);
    json_t *reply = send(f, "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"tools/list\"}", LH_MCP_REPLY);
    json_t *listed = json_object_get(json_object_get(reply, "result"), "tools");
    assert_int_equal(json_array_size(listed), n);
    for (size_t i = 0; i < n; i++) {
        const lh_op *op = lh_op_find(tools[i].op);
        if (!op) fail_msg("tool %s names no operation %s", tools[i].name, tools[i].op);
        json_t *t = json_array_get(listed, i), *props = json_object_get(json_object_get(t, "inputSchema"), "properties");
        assert_string_equal(json_string_value(json_object_get(t, "name")), tools[i].name);
        /* every parameter of the operation is offered, typed (query_sql hides format) */
        for (const lh_op_param *p = op->params; p->name; p++) {
            if (!strcmp(tools[i].name, "query_sql") && !strcmp(p->name, "format")) continue;
            if (!json_object_get(props, p->name)) fail_msg("%s lacks %s", tools[i].name, p->name);
        }
        if (op->list) assert_non_null(json_object_get(props, "cursor"));
        assert_true(json_is_object(json_object_get(t, "outputSchema")));
    }
    json_decref(reply);
}

static void test_framing(void **state)
{
    struct fixture *f = *state;
    json_t *r = send(f, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\"}}", LH_MCP_REPLY);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "result"), "protocolVersion")), "2025-06-18");
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 7);
    json_decref(r);
    r = send(f, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"1.0\"}}", LH_MCP_REPLY);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "result"), "protocolVersion")), lh_mcp_versions[0]);
    json_decref(r);
    assert_null(send(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", LH_MCP_ACCEPTED));
    assert_null(send(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}", LH_MCP_ACCEPTED));
    static const struct {
        const char *msg;
        lh_mcp_outcome outcome;
        int code;
    } bad[] = {
        {"{", LH_MCP_REJECTED, -32700},
        {"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", LH_MCP_REJECTED, -32600},
        {"42", LH_MCP_REJECTED, -32600},
        {"{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}", LH_MCP_REJECTED, -32600},
        {"{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", LH_MCP_REJECTED, -32600},
        {"{\"id\":1,\"method\":\"ping\"}", LH_MCP_REJECTED, -32600},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}", LH_MCP_REJECTED, -32600},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"nope\"}", LH_MCP_REPLY, -32601},
        /* a long unknown method is quoted cut at 100 bytes: here inside a character (no reply before) */
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\"}", LH_MCP_REPLY, -32601},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":[]}", LH_MCP_REPLY, -32602},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"nope\"}}", LH_MCP_REPLY, -32602},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\",\"params\":{\"uri\":\"lakehouse://x\"}}", LH_MCP_REPLY, -32002},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"prompts/get\",\"params\":{\"name\":\"explain_dataset\"}}", LH_MCP_REPLY, -32602},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"prompts/get\",\"params\":{\"name\":\"explain_dataset\",\"arguments\":{\"dataset\":1}}}", LH_MCP_REPLY, -32602},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"completion/complete\",\"params\":{}}", LH_MCP_REPLY, -32602},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        r = send(f, bad[i].msg, bad[i].outcome);
        if (error_code(r) != bad[i].code) fail_msg("%s: code %d, want %d", bad[i].msg, error_code(r), bad[i].code);
        json_decref(r);
    }
    /* over mcp.max_message_bytes: refused unread */
    lh_mcp_limits limits = lh_mcp_limits_of(&f->cfg);
    limits.max_message_bytes = 1024;
    char big[2048];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char *reply = NULL;
    assert_int_equal(lh_mcp_handle(f->app, &limits, big, strlen(big), &operator_call, &reply), LH_MCP_REJECTED);
    assert_non_null(strstr(reply, "mcp.max_message_bytes"));
    free(reply);
}

static void test_results_capped_and_journaled(void **state)
{
    struct fixture *f = *state;
    load_workers(f);
    json_t *keep;
    json_t *res = tool_as(f, &operator_call, "query_sql", "{\"sql\":\"SELECT * FROM workers ORDER BY id\"}", &keep);
    assert_false(json_is_true(json_object_get(res, "isError")));
    json_t *sc = json_object_get(res, "structuredContent");
    char *dumped = json_dumps(sc, JSON_COMPACT);
    assert_true(strlen(dumped) <= 2000);
    free(dumped);
    assert_true(json_is_true(json_object_get(sc, "truncated")));
    size_t rows = json_array_size(json_object_get(sc, "rows"));
    assert_true(rows > 0 && rows < 100);
    assert_non_null(strstr(json_string_value(json_object_get(sc, "truncation")), "mcp.max_chars"));
    /* the text content is the same JSON */
    json_t *text = json_loads(json_string_value(json_object_get(json_array_get(json_object_get(res, "content"), 0), "text")), 0, NULL);
    assert_true(json_equal(text, sc));
    json_decref(text);
    json_decref(keep);

    /* a failed call: isError with the code and the operation's message */
    res = tool_as(f, &operator_call, "describe_dataset", "{\"name\":\"nope\"}", &keep);
    assert_true(json_is_true(json_object_get(res, "isError")));
    assert_null(json_object_get(res, "structuredContent"));
    assert_memory_equal(json_string_value(json_object_get(json_array_get(json_object_get(res, "content"), 0), "text")), "not_found: ", 11);
    json_decref(keep);

    /* both calls journaled with the caller and the outcome */
    json_t *args = json_pack("{s:s}", "entity_id", "query_sql"), *out = NULL;
    lh_op_ctx call = {.who = tester};
    lh_err err;
    assert_int_equal(lh_app_call(f->app, "journal.history", args, &call, &out, &err), LH_OK);
    json_t *ev = json_array_get(json_object_get(out, "events"), 0);
    assert_string_equal(json_string_value(json_object_get(ev, "entity_type")), "mcp");
    assert_string_equal(json_string_value(json_object_get(ev, "actor")), "tester");
    assert_string_equal(json_string_value(json_object_get(ev, "source")), "mcp");
    assert_true(json_is_true(json_object_get(json_object_get(ev, "new"), "truncated")));
    json_decref(args);
    json_decref(out);

    /* an empty argument name (found by fuzz_mcp: it once looped forever) is an unknown field */
    json_t *bad = tool_as(f, &operator_call, "query_sql", "{\"\":1,\"sql\":\"SELECT 1\"}", &keep);
    assert_true(json_is_true(json_object_get(bad, "isError")));
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(json_object_get(bad, "content"), 0), "text")), "unknown field \"\""));
    json_decref(keep);
}

static void test_profile_confined(void **state)
{
    struct fixture *f = *state;
    load_workers(f);
    lh_op_ctx call = {.who = tester};
    json_t *out = NULL;
    lh_err err;
    json_t *args = json_pack("{s:s, s:s, s:[s]}", "id", "reader", "kind", "agent", "scopes", "read");
    assert_int_equal(lh_app_call(f->app, "profiles.create", args, &call, &out, &err), LH_OK);
    json_decref(args);
    json_decref(out);
    lh_op_ctx agent = {.who = {.actor = "reader", .source = "mcp"}};
    assert_int_equal(lh_app_act_as(f->app, "reader", &agent.who, &err), LH_OK);
    assert_string_equal(agent.who.actor, "reader");
    json_t *keep;
    json_t *res = tool_as(f, &agent, "query_sql", "{\"sql\":\"SELECT email FROM workers\"}", &keep);
    assert_true(json_is_true(json_object_get(res, "isError")));
    const char *text = json_string_value(json_object_get(json_array_get(json_object_get(res, "content"), 0), "text"));
    assert_null(strstr(text, "@example.com"));
    json_decref(keep);
    res = tool_as(f, &agent, "list_datasets", "{}", &keep);
    assert_int_equal(json_array_size(json_object_get(json_object_get(res, "structuredContent"), "datasets")), 0);
    json_decref(keep);
    json_t *r = send_as(f, &agent, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\",\"params\":{\"uri\":\"lakehouse://datasets/workers\"}}", LH_MCP_REPLY);
    assert_non_null(json_object_get(r, "error"));
    json_decref(r);
    assert_int_equal(lh_app_act_as(f->app, "nobody", &agent.who, &err), LH_ENOTFOUND);
}

/* resources/list pages by nextCursor: 3 fixed resources and 60 datasets */
static void test_resources_page(void **state)
{
    struct fixture *f = *state;
    lh_op_ctx call = {.who = tester};
    lh_err err;
    for (int i = 0; i < 60; i++) {
        char name[32];
        snprintf(name, sizeof name, "d%02d", i);
        json_t *args = json_pack("{s:s}", "name", name), *out = NULL;
        assert_int_equal(lh_app_call(f->app, "catalog.create", args, &call, &out, &err), LH_OK);
        json_decref(args);
        json_decref(out);
    }
    size_t total = 0, pages = 0;
    char *cursor = NULL;
    do {
        char *msg = cursor ? lh_xasprintf("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/list\",\"params\":{\"cursor\":\"%s\"}}", cursor)
                           : lh_xstrdup("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/list\"}");
        json_t *r = send(f, msg, LH_MCP_REPLY), *result = json_object_get(r, "result");
        free(msg);
        free(cursor);
        total += json_array_size(json_object_get(result, "resources"));
        const char *next = json_string_value(json_object_get(result, "nextCursor"));
        cursor = next ? lh_xstrdup(next) : NULL;
        pages++;
        json_decref(r);
    } while (cursor);
    assert_int_equal(total, 63);
    assert_int_equal(pages, 2);
}

static void test_origin_and_host(void **state)
{
    (void)state;
    static const char *const loopback[] = {"http://localhost", "http://localhost:3000", "http://127.0.0.1:1",
                                           "https://[::1]:8443"};
    for (size_t i = 0; i < sizeof loopback / sizeof *loopback; i++)
        if (!lh_mcp_origin_allowed(loopback[i], "")) fail_msg("%s refused", loopback[i]);
    static const char *const foreign[] = {"null", "", "http://evil.com", "http://localhost.evil.com", "http://localhost:",
                                          "http://localhost:123456", "http://127.0.0.1@evil.com", "file://", "localhost"};
    for (size_t i = 0; i < sizeof foreign / sizeof *foreign; i++)
        if (lh_mcp_origin_allowed(foreign[i], "")) fail_msg("%s allowed", foreign[i]);
    assert_true(lh_mcp_origin_allowed("https://app.example.com", "https://a.example.com, https://app.example.com"));
    assert_false(lh_mcp_origin_allowed("https://app.example.com.evil", "https://app.example.com"));
    assert_false(lh_mcp_origin_allowed("https://app.example", "https://app.example.com"));
    assert_true(lh_mcp_host_is_loopback("localhost:3100"));
    assert_true(lh_mcp_host_is_loopback("127.0.0.1"));
    assert_true(lh_mcp_host_is_loopback("[::1]:80"));
    assert_false(lh_mcp_host_is_loopback(NULL));
    assert_false(lh_mcp_host_is_loopback("evil.example.com"));
    assert_false(lh_mcp_host_is_loopback("localhost.evil.com"));
    assert_false(lh_mcp_host_is_loopback("127.0.0.1:80x"));
    assert_true(lh_mcp_version_supported("2025-11-25"));
    assert_false(lh_mcp_version_supported("2024-11-05"));
    assert_false(lh_mcp_version_supported(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tools_name_operations, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_framing, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_results_capped_and_journaled, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_profile_confined, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_resources_page, app_setup, app_teardown),
        cmocka_unit_test(test_origin_and_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
