/*
 * test_config.c — the TOML subset, precedence (flags > env > file > defaults) and
 * every kind of configuration error (src/base/config.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lakehouse/lh_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static lh_code parse(lh_config *c, const char *text, lh_err *err)
{
    lh_config_init_defaults(c);
    return lh_config_parse_text(c, "test.toml", text, strlen(text), err);
}

/* Parsing must fail and the message must contain every fragment. */
static void expect_error(const char *text, const char *frag1, const char *frag2)
{
    lh_config c;
    lh_err err;
    lh_code rc = parse(&c, text, &err);
    if (rc != LH_EINVAL || !strstr(err.message, frag1) || (frag2 && !strstr(err.message, frag2)))
        fail_msg("for input:\n%s\nexpected an error with \"%s\" / \"%s\", got rc=%d \"%s\"", text,
                 frag1, frag2 ? frag2 : "", rc, rc ? err.message : "");
    lh_config_free(&c);
}

static void test_defaults(void **state)
{
    (void)state;
    lh_config c;
    lh_config_init_defaults(&c);
    assert_string_equal(c.server_listen, "127.0.0.1:3100");
    assert_string_equal(c.storage_data_dir, "./data");
    assert_int_equal(c.server_max_body_bytes, 16 << 20);
    assert_int_equal(c.source[0], LH_CONFIG_DEFAULT);
    lh_config_free(&c);
}

static void test_file_values(void **state)
{
    (void)state;
    lh_config c;
    lh_err err;
    const char *text = "# a comment\n"
                       "\n"
                       "[server]\n"
                       "listen = \"0.0.0.0:8080\"   # trailing comment\n"
                       "max_body_bytes = \"2MiB\"\n"
                       "idle_timeout_s = 1_0\n"
                       "  [ storage ]  \n"
                       "data_dir = '/tmp/with \\ backslash'\n"
                       "[log]\r\n"
                       "level = \"debug\"\r\n"
                       "format = \"j\\u0073on\"\n"
                       "[query]\n"
                       "max_body_bytes_is_not_here = 1\n";
    /* the last key is unknown: check values of a version without it first */
    const char *end = strstr(text, "max_body_bytes_is_not_here");
    assert_int_equal(lh_config_parse_text((lh_config_init_defaults(&c), &c), "t", text,
                                          (size_t)(end - text), &err),
                     LH_OK);
    assert_string_equal(c.server_listen, "0.0.0.0:8080");
    assert_int_equal(c.server_max_body_bytes, 2 << 20);
    assert_int_equal(c.server_idle_timeout_s, 10);
    assert_string_equal(c.storage_data_dir, "/tmp/with \\ backslash");
    assert_string_equal(c.log_level, "debug");
    assert_string_equal(c.log_format, "json");
    assert_int_equal(c.source[0], LH_CONFIG_FILE);
    lh_config_free(&c);
}

static void test_file_errors(void **state)
{
    (void)state;
    expect_error("[server]\nlistn = \"x\"\n", "test.toml:2:", "unknown key \"listn\" in [server]");
    expect_error("[server]\nlistn = \"x\"\n", "known: listen", NULL);
    expect_error("[nope]\nx = 1\n", "test.toml:2:", "no such section [nope]");
    expect_error("listen = \"x\"\n", "test.toml:1:", "outside any [section]");
    expect_error("[server]\nidle_timeout_s = \"ten\"\n", "test.toml:2:",
                 "server.idle_timeout_s: expected an integer, got a string");
    expect_error("[server]\nidle_timeout_s = 0\n", "test.toml:2:", "out of range");
    expect_error("[server]\nlisten = 80\n", "server.listen: expected a string", NULL);
    expect_error("[server]\nlisten = \"nocolon\"\n", "test.toml:2:", "HOST:PORT");
    expect_error("[server]\nlisten = \"h:99999\"\n", "HOST:PORT", NULL);
    expect_error("[server]\nlisten = \"unterminated\n", "test.toml:2:", "unterminated string");
    expect_error("[server]\nlisten = bare\n", "strings need quotes", NULL);
    expect_error("[server]\nlisten = \"a:1\" junk\n", "unexpected text", NULL);
    expect_error("[server]\nlisten = \"a:1\"\nlisten = \"b:2\"\n", "test.toml:3:",
                 "duplicate key \"server.listen\"");
    expect_error("[server\n", "malformed section header", NULL);
    expect_error("[server]\nlisten\n", "expected '='", NULL);
    expect_error("[server]\nlisten =\n", "missing value", NULL);
    expect_error("[log]\nlevel = \"loud\"\n", "log.level: expected one of", NULL);
    expect_error("[server]\nmax_body_bytes = \"12 parsecs\"\n", "expected a size", NULL);
    expect_error("[server]\nlisten = \"\\q\"\n", "unknown escape", NULL);
    expect_error("[server]\nlisten = \"\\u0000\"\n", "invalid code point", NULL);
    expect_error("\n\n= 3\n", "test.toml:3:", "expected a [section]");
    /* NUL bytes are reported with their line */
    lh_config c;
    lh_err err;
    lh_config_init_defaults(&c);
    assert_int_equal(lh_config_parse_text(&c, "t", "[log]\nlevel = \"in\0fo\"\n", 20, &err),
                     LH_EINVAL);
    assert_non_null(strstr(err.message, "t:2: NUL byte"));
    lh_config_free(&c);
}

/* Regression (found by fuzz_config): an error excerpt read past the end of an
 * input that is not NUL-terminated. Exact-size heap copy so ASan sees overreads. */
static void test_unterminated_input(void **state)
{
    (void)state;
    const char *texts[] = {"[server]\nlisten = \"a:1\" junk", "[log]\nlevel = \"info\"x",
                           "[server]\nidle_timeout_s = 1 2"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        size_t n = strlen(texts[i]);
        char *exact = malloc(n);
        memcpy(exact, texts[i], n);
        lh_config c;
        lh_err err;
        lh_config_init_defaults(&c);
        assert_int_equal(lh_config_parse_text(&c, "t", exact, n, &err), LH_EINVAL);
        assert_non_null(strstr(err.message, "unexpected text"));
        lh_config_free(&c);
        free(exact);
    }
}

static void test_sizes_and_listen(void **state)
{
    (void)state;
    long long v;
    assert_true(lh_parse_size("1024", &v) && v == 1024);
    assert_true(lh_parse_size("16MiB", &v) && v == 16 << 20);
    assert_true(lh_parse_size("1 GB", &v) && v == 1000000000LL);
    assert_true(lh_parse_size("2k", &v) && v == 2048);
    assert_false(lh_parse_size("-1", &v));
    assert_false(lh_parse_size("1XB", &v));
    assert_false(lh_parse_size("99999999999999999999", &v));
    assert_false(lh_parse_size("9223372036854775807GiB", &v));
    char host[64];
    int port;
    assert_true(lh_parse_listen("127.0.0.1:3100", host, sizeof host, &port));
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 3100);
    assert_true(lh_parse_listen("[::1]:0", host, sizeof host, &port));
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    assert_false(lh_parse_listen(":80", host, sizeof host, &port));
    assert_false(lh_parse_listen("h:", host, sizeof host, &port));
    assert_false(lh_parse_listen("h:-1", host, sizeof host, &port));
    assert_false(lh_parse_listen("h:65536", host, sizeof host, &port));
}

static void test_precedence(void **state)
{
    (void)state;
    char path[] = "/tmp/lh-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "[server]\nlisten = \"10.0.0.1:1\"\nidle_timeout_s = 11\n"
                       "[log]\nlevel = \"warn\"\n[query]\ntimeout_ms = 111\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);

    char *env[] = {"LAKEHOUSE_SERVER_LISTEN=10.0.0.2:2", "LAKEHOUSE_SERVER_IDLE_TIMEOUT_S=22",
                   "UNRELATED=1", NULL};
    lh_config_override flags[] = {{"server.listen", "10.0.0.3:3", "--listen"}};
    lh_config c;
    lh_err err;
    assert_int_equal(lh_config_load(&c, path, env, flags, 1, &err), LH_OK);
    assert_string_equal(c.server_listen, "10.0.0.3:3"); /* flag beats env and file */
    assert_int_equal(c.server_idle_timeout_s, 22);      /* env beats file */
    assert_string_equal(c.log_level, "warn");           /* file beats default */
    assert_int_equal(c.query_timeout_ms, 111);
    assert_int_equal(c.query_max_rows, 100000); /* default */
    assert_string_equal(c.file, path);

    lh_buf dump = {0};
    lh_config_dump(&c, true, &dump);
    assert_non_null(strstr(dump.data, "\"server.listen\":{\"value\":\"10.0.0.3:3\",\"source\":\"flag\"}"));
    assert_non_null(strstr(dump.data, "\"server.idle_timeout_s\":{\"value\":22,\"source\":\"env\"}"));
    assert_non_null(strstr(dump.data, "\"log.level\":{\"value\":\"warn\",\"source\":\"file\"}"));
    lh_buf_reset(&dump);
    lh_config_dump(&c, false, &dump);
    assert_non_null(strstr(dump.data, "[server]\nlisten = \"10.0.0.3:3\"  # flag\n"));
    lh_buf_free(&dump);
    lh_config_free(&c);

    /* LAKEHOUSE_CONFIG names the file when no flag does */
    char var[128];
    snprintf(var, sizeof var, "LAKEHOUSE_CONFIG=%s", path);
    char *env2[] = {var, NULL};
    assert_int_equal(lh_config_load(&c, NULL, env2, NULL, 0, &err), LH_OK);
    assert_string_equal(c.server_listen, "10.0.0.1:1");
    lh_config_free(&c);
    unlink(path);
}

static void test_env_and_flag_errors(void **state)
{
    (void)state;
    lh_config c;
    lh_err err;
    char *env[] = {"LAKEHOUSE_QUERY_TIMEOUT_MS=soon", NULL};
    assert_int_equal(lh_config_load(&c, NULL, env, NULL, 0, &err), LH_EINVAL);
    assert_non_null(strstr(err.message, "environment LAKEHOUSE_QUERY_TIMEOUT_MS: query.timeout_ms: "
                                        "expected an integer, got \"soon\""));
    lh_config_free(&c);

    lh_config_override bad[] = {{"server.lissten", "x", "--set"}};
    assert_int_equal(lh_config_load(&c, NULL, NULL, bad, 1, &err), LH_EINVAL);
    assert_non_null(strstr(err.message, "--set: unknown setting \"server.lissten\""));
    lh_config_free(&c);

    lh_config_override range[] = {{"query.connections", "0", "--set"}};
    assert_int_equal(lh_config_load(&c, NULL, NULL, range, 1, &err), LH_EINVAL);
    assert_non_null(strstr(err.message, "out of range"));
    lh_config_free(&c);

    assert_int_equal(lh_config_load(&c, "/nonexistent/lakehouse.toml", NULL, NULL, 0, &err),
                     LH_EINVAL);
    assert_non_null(strstr(err.message, "cannot read configuration file /nonexistent/lakehouse.toml"));
    lh_config_free(&c);

    /* unknown LAKEHOUSE_* variables are ignored with a warning, not fatal */
    char *env2[] = {"LAKEHOUSE_NOT_A_SETTING=1", NULL};
    assert_int_equal(lh_config_load(&c, NULL, env2, NULL, 0, &err), LH_OK);
    lh_config_free(&c);
}

static void test_key_table(void **state)
{
    (void)state;
    size_t n;
    const lh_config_key_info *keys = lh_config_keys(&n);
    assert_true(n > 10);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(strchr(keys[i].key, '.'));
        assert_true(strlen(keys[i].help) > 5);
    }
}

static void test_ai_section(void **state)
{
    (void)state;
    lh_config c;
    lh_err err;
    lh_config_init_defaults(&c);
    assert_string_equal(c.ai_provider, "local");
    assert_string_equal(c.ai_chat_provider, "none");
    assert_string_equal(c.ai_sidecar_node, "node");
    assert_int_equal(c.ai_timeout_ms, 30000);
    assert_int_equal(c.ai_retries, 3);
    assert_int_equal(c.ai_batch_size, 32);
    assert_int_equal(c.ai_sidecar_port, 0);
    lh_config_free(&c);

    /* environment names follow the table; the sidecar's own variables are not settings */
    char *env[] = {"LAKEHOUSE_AI_PROVIDER=openai", "LAKEHOUSE_AI_API_KEY=sk-secret-123",
                   "LAKEHOUSE_SIDECAR=/x/server.mjs", "LAKEHOUSE_SIDECAR_DEBUG=1", NULL};
    assert_int_equal(lh_config_load(&c, NULL, env, NULL, 0, &err), LH_OK);
    assert_string_equal(c.ai_provider, "openai");
    assert_string_equal(c.ai_api_key, "sk-secret-123");
    lh_buf dump = {0};
    lh_config_dump(&c, true, &dump);
    assert_null(strstr(dump.data, "sk-secret-123")); /* the key is masked */
    assert_non_null(strstr(dump.data, "\"ai.api_key\":{\"value\":\"(set)\",\"source\":\"env\"}"));
    lh_buf_reset(&dump);
    lh_config_dump(&c, false, &dump);
    assert_null(strstr(dump.data, "sk-secret-123"));
    assert_non_null(strstr(dump.data, "[ai]\nprovider = \"openai\"  # env\n"));
    lh_buf_free(&dump);
    lh_config_free(&c);

    expect_error("[ai]\nprovider = \"bert\"\n", "ai.provider: expected one of local | local-node | hash | ollama | openai",
                 "\"bert\"");
    expect_error("[ai]\nchat_provider = \"local\"\n", "ai.chat_provider", "none | ollama | openai");
    expect_error("[ai]\nbatch_size = 0\n", "ai.batch_size", "out of range");
    expect_error("[ai]\nsidecar_port = 70000\n", "ai.sidecar_port", "out of range");
    expect_error("[ai]\nsidecar_node = \"\"\n", "ai.sidecar_node", "non-empty");
    expect_error("[ai]\nmodle = \"x\"\n", "unknown key \"modle\" in [ai]", "chat_model");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),     cmocka_unit_test(test_file_values),
        cmocka_unit_test(test_file_errors),  cmocka_unit_test(test_unterminated_input),
        cmocka_unit_test(test_sizes_and_listen),
        cmocka_unit_test(test_precedence),   cmocka_unit_test(test_env_and_flag_errors),
        cmocka_unit_test(test_key_table),    cmocka_unit_test(test_ai_section),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
