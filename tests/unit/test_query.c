/*
 * test_query.c — the DuckDB engine: cursors, rendering of every type family,
 * formats, row limits, deadlines and pool exhaustion (src/query/).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lakehouse/lh_query.h"
#include "lakehouse/lh_query_duckdb.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

static lh_query_engine *engine;

static int setup(void **state)
{
    (void)state;
    lh_query_options o = {.threads = 2, .connections = 2};
    lh_err err;
    return lh_query_engine_open(&o, &engine, &err) == LH_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    lh_query_engine_close(engine);
    return 0;
}

/* Runs sql to completion in the given format; returns the output (caller frees) or NULL. */
static char *run(const char *sql, lh_result_format f, long long max_rows, long long timeout_ms,
                 lh_err *err)
{
    lh_query_cursor *c;
    lh_query_args args = {.sql = sql, .timeout_ms = timeout_ms};
    if (lh_query_open(engine, &args, &c, err)) return NULL;
    lh_result_writer *w = lh_result_writer_new(c, f, max_rows);
    lh_buf out = {0};
    bool done = false;
    lh_code rc = LH_OK;
    while (!done && rc == LH_OK) rc = lh_result_writer_next(w, &out, &done, err);
    lh_result_writer_free(w);
    lh_query_close(c);
    if (rc) {
        lh_buf_free(&out);
        return NULL;
    }
    return lh_buf_detach(&out);
}

static void expect_json(const char *sql, const char *expected_rows)
{
    lh_err err;
    char *out = run(sql, LH_FORMAT_JSON, 0, 10000, &err);
    if (!out) fail_msg("%s: %s", sql, err.message);
    const char *rows = strstr(out, "\"rows\":");
    assert_non_null(rows);
    if (strncmp(rows + 7, expected_rows, strlen(expected_rows)) != 0)
        fail_msg("%s\n  expected rows %s\n  got %s", sql, expected_rows, rows + 7);
    free(out);
}

/* The engine's own error for sql, and where lh_query_error_position puts it. */
static bool error_at(const char *sql, size_t *offset)
{
    lh_err err;
    char *out = run(sql, LH_FORMAT_JSON, 0, 10000, &err);
    assert_null(out);
    return lh_query_error_position(err.message, sql, offset);
}

static void test_error_position(void **state)
{
    (void)state;
    size_t at;
    const char *sql = "SELECT 1 FORM range(3)";
    assert_true(error_at(sql, &at));
    assert_int_equal(strncmp(sql + at, "range", 5), 0);
    sql = "SELECT 1,\n  2, no_such_fn(3)";
    assert_true(error_at(sql, &at));
    assert_int_equal(strncmp(sql + at, "no_such_fn", 10), 0);
    /* a long line: the engine shows a window of it, which is found again */
    lh_buf long_sql = {0};
    lh_buf_puts(&long_sql, "SELECT ");
    for (int i = 0; i < 60; i++) lh_buf_printf(&long_sql, "%d AS c%d, ", i, i);
    lh_buf_puts(&long_sql, "missing_column FROM range(1)");
    assert_true(error_at(long_sql.data, &at));
    assert_int_equal(strncmp(long_sql.data + at, "missing_column", 14), 0);
    lh_buf_free(&long_sql);
    /* no place marked, or one that is not in the statement */
    assert_false(lh_query_error_position("Catalog Error: no", "SELECT 1", &at));
    assert_false(lh_query_error_position("x\nLINE 9: SELECT 1\n        ^", "SELECT 1", &at));
    assert_false(lh_query_error_position("x\nLINE 1: SELECT 1\n                                 ^", "SELECT 1", &at));
    assert_false(lh_query_error_position("x\nLINE 1: ...zzz\n           ^", "SELECT 1", &at));
    assert_false(lh_query_error_position("LINE -1: a\n^", "a", &at));
    assert_false(lh_query_error_position(NULL, "a", &at));
}

/* lh_result_writer_skip: a page of a result, in every streamed format. */
static void test_writer_skip(void **state)
{
    (void)state;
    lh_err err;
    lh_query_cursor *c;
    static const lh_result_format formats[] = {LH_FORMAT_JSON, LH_FORMAT_CSV};
    static const char *const expected[] = {"\"rows\":[[2998],[2999],[3000]],\"row_count\":3,\"truncated\":true",
                                           "range\r\n2998\r\n2999\r\n3000\r\n"};
    for (size_t f = 0; f < 2; f++) {
        assert_int_equal(lh_query_open(engine, &(lh_query_args){.sql = "SELECT * FROM range(5000)"}, &c, &err), LH_OK);
        lh_result_writer *w = lh_result_writer_new(c, formats[f], 3);
        lh_result_writer_skip(w, 2998); /* past the first 2048-row chunk */
        lh_buf out = {0};
        bool done = false;
        while (!done) assert_int_equal(lh_result_writer_next(w, &out, &done, &err), LH_OK);
        if (!strstr(out.data, expected[f])) fail_msg("got %s", out.data);
        lh_result_writer_free(w);
        lh_query_close(c);
        lh_buf_free(&out);
    }
    /* past the end: no rows, not truncated */
    char *out = NULL;
    assert_int_equal(lh_query_open(engine, &(lh_query_args){.sql = "SELECT * FROM range(5)"}, &c, &err), LH_OK);
    lh_result_writer *w = lh_result_writer_new(c, LH_FORMAT_JSON, 3);
    lh_result_writer_skip(w, 10);
    lh_buf b = {0};
    bool done = false;
    while (!done) assert_int_equal(lh_result_writer_next(w, &b, &done, &err), LH_OK);
    out = lh_buf_detach(&b);
    assert_non_null(strstr(out, "\"rows\":[],\"row_count\":0,\"truncated\":false"));
    free(out);
    lh_result_writer_free(w);
    lh_query_close(c);
}

static void test_version(void **state)
{
    (void)state;
    assert_string_equal(lh_query_duckdb_version(), "v1.4.4");
}

static void test_select_42(void **state)
{
    (void)state;
    lh_err err;
    char *out = run("SELECT 42 AS answer", LH_FORMAT_JSON, 0, 0, &err);
    assert_non_null(out);
    assert_string_equal(out, "{\"columns\":[{\"name\":\"answer\",\"type\":\"INTEGER\"}],"
                             "\"rows\":[[42]],\"row_count\":1,\"truncated\":false}\n");
    free(out);
}

static void test_scalar_types(void **state)
{
    (void)state;
    expect_json("SELECT true, -5::TINYINT, 300::SMALLINT, 255::UTINYINT, 18446744073709551615::UBIGINT",
                "[[true,-5,300,255,18446744073709551615]]");
    expect_json("SELECT (-170141183460469231731687303715884105727)::HUGEINT - 1, "
                "340282366920938463463374607431768211455::UHUGEINT",
                "[[-170141183460469231731687303715884105728,340282366920938463463374607431768211455]]");
    expect_json("SELECT 0.1::DOUBLE, 1.5::FLOAT, 'inf'::DOUBLE, 'nan'::DOUBLE, 1e300::DOUBLE",
                "[[0.1,1.5,null,null,1e+300]]");
    /* reals in shortest round-trip form; integral reals keep ".0" (lh_json.h) */
    expect_json("SELECT 0.1::DOUBLE * 3, 2::DOUBLE, 1e-7::DOUBLE, 5e-324::DOUBLE, 123456789.125::DOUBLE, "
                "0.1::FLOAT, 3::FLOAT",
                "[[0.30000000000000004,2.0,1e-07,5e-324,123456789.125,0.1,3.0]]");
    expect_json("SELECT 1.05::DECIMAL(4,2), -0.001::DECIMAL(9,3), 12345678901234.5678::DECIMAL(18,4), "
                "-1.5::DECIMAL(38,10), 7::DECIMAL(5,0)",
                "[[1.05,-0.001,12345678901234.5678,-1.5000000000,7]]");
    expect_json("SELECT 'é\"\\', NULL::VARCHAR, ''::VARCHAR, 'a longer string than twelve'",
                "[[\"é\\\"\\\\\",null,\"\",\"a longer string than twelve\"]]");
    expect_json("SELECT '\\x00\\xFFab'::BLOB", "[[\"\\\\x00\\\\xFFab\"]]");
}

static void test_temporal_types(void **state)
{
    (void)state;
    expect_json("SELECT DATE '2024-02-29', DATE '1970-01-01', DATE '0001-01-01', 'infinity'::DATE",
                "[[\"2024-02-29\",\"1970-01-01\",\"0001-01-01\",\"infinity\"]]");
    expect_json("SELECT TIMESTAMP '1969-12-31 23:59:59.5', TIMESTAMP '2024-01-02 03:04:05', "
                "'2024-01-02 03:04:05.123456789'::TIMESTAMP_NS, '2024-01-02 03:04:05'::TIMESTAMP_S, "
                "'2024-01-02 03:04:05.120'::TIMESTAMP_MS",
                "[[\"1969-12-31 23:59:59.5\",\"2024-01-02 03:04:05\",\"2024-01-02 03:04:05.123456789\","
                "\"2024-01-02 03:04:05\",\"2024-01-02 03:04:05.12\"]]");
    expect_json("SELECT TIME '23:59:59.000001', INTERVAL 0 SECOND, INTERVAL 25 MONTH, "
                "INTERVAL '-1 day', INTERVAL 90 MINUTE",
                "[[\"23:59:59.000001\",\"00:00:00\",\"2 years 1 month\",\"-1 day\",\"01:30:00\"]]");
    expect_json("SELECT TIMESTAMPTZ '2024-06-01 12:00:00+00', TIMETZ '10:00:00+02:30'",
                "[[\"2024-06-01 12:00:00+00\",\"10:00:00+02:30\"]]");
    expect_json("SELECT '00000000-0000-0000-0000-000000000001'::UUID, "
                "'ffffffff-ffff-ffff-ffff-ffffffffffff'::UUID",
                "[[\"00000000-0000-0000-0000-000000000001\",\"ffffffff-ffff-ffff-ffff-ffffffffffff\"]]");
}

static void test_nested_types(void **state)
{
    (void)state;
    expect_json("SELECT [1, NULL, 3], []::INT[], [[1],[2,3]], ['a','b']",
                "[[[1,null,3],[],[[1],[2,3]],[\"a\",\"b\"]]]");
    expect_json("SELECT {'a': 1, 'b': [true]}, MAP {'k': 1, 'l': 2}, MAP {1: 'x'}",
                "[[{\"a\":1,\"b\":[true]},{\"k\":1,\"l\":2},{\"1\":\"x\"}]]");
    expect_json("SELECT [1.5, 2]::FLOAT[2], union_value(s := 'x')::UNION(i INT, s VARCHAR), "
                "'b'::ENUM('a', 'b')",
                "[[[1.5,2.0],\"x\",\"b\"]]");
    /* lists spanning several chunks read their children by offset */
    expect_json("SELECT count(*) FROM (SELECT [i, i + 1] l FROM range(5000) t(i)) WHERE l[2] = l[1] + 1",
                "[[5000]]");
    lh_err err;
    char *out = run("SELECT [1, 2] l, {'a': 'x'} s, MAP {'k': 'v'} m", LH_FORMAT_CSV, 0, 0, &err);
    assert_non_null(out);
    assert_string_equal(out, "l,s,m\r\n\"[1, 2]\",{'a': 'x'},{'k'='v'}\r\n");
    free(out);
}

static void test_formats(void **state)
{
    (void)state;
    lh_err err;
    char *out = run("SELECT i, 'x,\"' || i AS s, NULL::INT n FROM range(2) t(i)", LH_FORMAT_CSV, 0, 0,
                    &err);
    assert_string_equal(out, "i,s,n\r\n0,\"x,\"\"0\",\r\n1,\"x,\"\"1\",\r\n");
    free(out);
    out = run("SELECT i, NULL::INT n FROM range(2) t(i)", LH_FORMAT_NDJSON, 0, 0, &err);
    assert_string_equal(out, "{\"i\":0,\"n\":null}\n{\"i\":1,\"n\":null}\n");
    free(out);
    out = run("SELECT 42 AS answer, 'hi' AS s", LH_FORMAT_TABLE, 0, 0, &err);
    assert_non_null(strstr(out, "│ answer  │ s       │"));
    assert_non_null(strstr(out, "│ INTEGER │ VARCHAR │"));
    assert_non_null(strstr(out, "│      42 │ hi      │"));
    assert_non_null(strstr(out, "1 row\n"));
    free(out);
    /* long cells are clipped with an ellipsis */
    out = run("SELECT repeat('x', 100) AS long", LH_FORMAT_TABLE, 0, 0, &err);
    assert_non_null(strstr(out, "xxx…"));
    assert_null(strstr(out, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
    free(out);

    lh_result_format f;
    assert_true(lh_result_format_parse("ndjson", &f) && f == LH_FORMAT_NDJSON);
    assert_false(lh_result_format_parse("xml", &f));
}

static void test_max_rows(void **state)
{
    (void)state;
    lh_err err;
    char *out = run("SELECT * FROM range(10000)", LH_FORMAT_JSON, 3, 0, &err);
    assert_non_null(strstr(out, "\"rows\":[[0],[1],[2]],\"row_count\":3,\"truncated\":true}"));
    free(out);
    out = run("SELECT * FROM range(3)", LH_FORMAT_JSON, 3, 0, &err);
    assert_non_null(strstr(out, "\"row_count\":3,\"truncated\":false}"));
    free(out);
    /* a big result streams chunk by chunk: each piece is bounded */
    lh_query_cursor *c;
    assert_int_equal(lh_query_open(engine, &(lh_query_args){.sql = "SELECT * FROM range(1000000)", .timeout_ms = 0}, &c, &err), LH_OK);
    lh_result_writer *w = lh_result_writer_new(c, LH_FORMAT_NDJSON, 0);
    lh_buf piece = {0};
    bool done = false;
    size_t biggest = 0, total = 0;
    while (!done) {
        assert_int_equal(lh_result_writer_next(w, &piece, &done, &err), LH_OK);
        if (piece.len > biggest) biggest = piece.len;
        total += piece.len;
        lh_buf_reset(&piece);
    }
    assert_int_equal(lh_result_writer_rows(w), 1000000);
    assert_true(biggest < 64 * 1024);
    assert_true(total > 10 * 1000000);
    lh_buf_free(&piece);
    lh_result_writer_free(w);
    lh_query_close(c);
}

static void test_errors(void **state)
{
    (void)state;
    lh_err err;
    lh_query_cursor *c;
    assert_int_equal(lh_query_open(engine, &(lh_query_args){.sql = "SELEC 1", .timeout_ms = 0}, &c, &err), LH_EINVAL);
    assert_non_null(strstr(err.message, "syntax error at or near \"SELEC\""));
    /* the LINE context appears once, not twice */
    const char *first = strstr(err.message, "LINE 1");
    assert_non_null(first);
    assert_null(strstr(first + 1, "LINE 1"));
    assert_int_equal(lh_query_open(engine, &(lh_query_args){.sql = "SELECT * FROM no_such_table", .timeout_ms = 0}, &c, &err), LH_EINVAL);
    assert_non_null(strstr(err.message, "no_such_table"));
    /* without a hint at a system view ("Did you mean "pg_class"?") */
    assert_null(strstr(err.message, "Did you mean"));
    assert_non_null(strstr(err.message, "LINE 1: SELECT * FROM no_such_table"));
    assert_int_equal(lh_query_open(engine, &(lh_query_args){.sql = "SELECT 1/0::INT, error('boom')", .timeout_ms = 0}, &c, &err), LH_EINVAL);
    assert_non_null(strstr(err.message, "boom"));
    assert_int_equal(lh_query_open(engine, &(lh_query_args){.sql = "SELECT 1; SELECT 2", .timeout_ms = 0}, &c, &err), LH_EINVAL);
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void test_timeout(void **state)
{
    (void)state;
    lh_err err;
    double t0 = now_ms();
    char *out = run("SELECT count(*) FROM range(1000000000000)", LH_FORMAT_JSON, 0, 200, &err);
    double elapsed = now_ms() - t0;
    assert_null(out);
    assert_int_equal(err.code, LH_ETIMEOUT);
    assert_non_null(strstr(err.message, "timeout of 200 ms"));
    assert_true(elapsed < 5000);
    /* the connection is healthy afterwards (the interrupt hit only that query) */
    out = run("SELECT 1", LH_FORMAT_CSV, 0, 1000, &err);
    assert_string_equal(out, "1\r\n1\r\n");
    free(out);
}

/* A deadline that passes between two statements of a lease still stops the
 * next one: DuckDB forgets an interrupt when a statement starts, so the
 * watchdog repeats it (before, the statement below ran unbounded). */
static void test_deadline_between_statements(void **state)
{
    (void)state;
    lh_query_lease *lease;
    lh_err err;
    assert_int_equal(lh_query_lease_acquire(engine, 100, &lease, &err), LH_OK);
    usleep(300 * 1000); /* the deadline passes while the lease is idle */
    double t0 = now_ms();
    lh_code rc = lh_query_exec(lh_query_lease_connection(lease), lease, "SELECT count(*) FROM range(1000000000000)", &err);
    double elapsed = now_ms() - t0;
    lh_query_lease_release(lease);
    assert_int_equal(rc, LH_ETIMEOUT);
    assert_true(elapsed < 5000);
    char *out = run("SELECT 1", LH_FORMAT_CSV, 0, 1000, &err);
    assert_non_null(out);
    free(out);
}

static void test_pool_exhaustion(void **state)
{
    (void)state;
    lh_err err;
    lh_query_cursor *a, *b, *c;
    assert_int_equal(lh_query_open(engine, &(lh_query_args){.sql = "SELECT 1", .timeout_ms = 0}, &a, &err), LH_OK);
    assert_int_equal(lh_query_open(engine, &(lh_query_args){.sql = "SELECT 2", .timeout_ms = 0}, &b, &err), LH_OK);
    assert_int_equal(lh_query_open(engine, &(lh_query_args){.sql = "SELECT 3", .timeout_ms = 100}, &c, &err), LH_EUNAVAILABLE);
    assert_non_null(strstr(err.message, "busy"));
    lh_query_close(a);
    assert_int_equal(lh_query_open(engine, &(lh_query_args){.sql = "SELECT 3", .timeout_ms = 100}, &c, &err), LH_OK);
    lh_query_close(b);
    lh_query_close(c);
}

struct worker {
    int ok;
};

static void *hammer(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 50; i++) {
        lh_err err;
        char *out = run("SELECT sum(i) FROM range(1000) t(i)", LH_FORMAT_CSV, 0, 5000, &err);
        if (out && strcmp(out, "sum(i)\r\n499500\r\n") == 0) w->ok++;
        free(out);
    }
    return NULL;
}

static void test_concurrent_queries(void **state)
{
    (void)state;
    pthread_t t[4];
    struct worker w[4] = {{0}};
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, hammer, &w[i]);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++) assert_int_equal(w[i].ok, 50);
}

/* A statement busy for 5 ms gets the helper (threads 2: one), and its
 * result is the same as computed alone. */
static void test_parallel_on_demand(void **state)
{
    (void)state;
    uint64_t before = lh_query_helped(engine);
    expect_json("SELECT count(DISTINCT i % 1000003) AS n, sum(i % 7) AS s FROM range(20000000) t(i)",
                "[[1000003,59999997]]");
    assert_true(lh_query_helped(engine) > before);
}

/* A statement that turns long while the last episode's helpers are still
 * leaving gets helpers too, once they are out (not at its next event). */
static void test_parallel_back_to_back(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        uint64_t before = lh_query_helped(engine);
        expect_json("SELECT count(DISTINCT i % 1000003) AS n FROM range(10000000) t(i)", "[[1000003]]");
        expect_json("SELECT count(DISTINCT i % 1000033) AS n FROM range(10000000) t(i)", "[[1000033]]");
        assert_true(lh_query_helped(engine) >= before + 2);
    }
}

static lh_code open_ro(lh_query_engine *e, const char *sql, lh_err *err)
{
    lh_query_cursor *c;
    lh_query_args args = {.sql = sql, .timeout_ms = 10000, .read_only = true};
    lh_code rc = lh_query_open(e, &args, &c, err);
    if (rc == LH_OK) lh_query_close(c);
    return rc;
}

static void test_read_only(void **state)
{
    (void)state;
    lh_err err;
    /* statements on tables that do not exist fail to bind; still they are refused as what they are */
    const char *refused[] = {"DROP TABLE workers", "INSERT INTO workers VALUES (1)", "DELETE FROM workers",
                             "UPDATE workers SET a = 1", "  -- note\n drop table workers",
                             "WITH a AS (SELECT 1) DELETE FROM workers", "CREATE TABLE t AS SELECT 1",
                             "ALTER TABLE workers ADD COLUMN b INT", "COPY workers TO 'x.csv'",
                             "EXPLAIN ANALYZE CREATE TABLE t AS SELECT 1", "EXPLAIN (ANALYZE) INSERT INTO workers VALUES (1)",
                             "EXPLAIN ANALYZE DROP TABLE workers",
                             "EXPLAIN (ANALYZE, FORMAT ') SELECT 1 --') CREATE TABLE t AS SELECT 1",
                             "EXPLAIN ANALYZE /* ( */ -- (\n CREATE TABLE t AS SELECT 1", "PRAGMA table_info('workers')", "CALL pragma_version()"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        if (open_ro(engine, refused[i], &err) != LH_EFORBIDDEN) fail_msg("%s: %s", refused[i], err.message);
        assert_non_null(strstr(err.message, "read-only"));
        assert_int_equal(lh_query_check(engine, refused[i], &err), LH_EFORBIDDEN);
    }
    assert_int_equal(open_ro(engine, "DROP TABLE workers", &err), LH_EFORBIDDEN);
    assert_string_equal(err.message, "DROP statements are not allowed: SQL here is read-only (SELECT, EXPLAIN)");
    /* EXPLAIN ANALYZE ran nothing */
    assert_int_equal(open_ro(engine, "SELECT * FROM t", &err), LH_EINVAL);
    /* queries with mistakes keep DuckDB's message */
    const char *mistakes[] = {"SELECT * FROM workers", "EXPLAIN SELECT * FROM workers", "SELEC 1", "SELECT 1; SELECT 2",
                              "DESCRIBE workers"};
    for (size_t i = 0; i < sizeof mistakes / sizeof mistakes[0]; i++) {
        if (open_ro(engine, mistakes[i], &err) != LH_EINVAL) fail_msg("%s: %s", mistakes[i], err.message);
        assert_null(strstr(err.message, "read-only"));
    }
    const char *allowed[] = {"SELECT 1", "EXPLAIN SELECT 1", "EXPLAIN (FORMAT json) SELECT 1", "EXPLAIN (SELECT 1)",
                             "EXPLAIN ANALYZE SELECT 1", "FROM range(3)", "DESCRIBE SELECT 1", "SHOW TABLES"};
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (open_ro(engine, allowed[i], &err) != LH_OK) fail_msg("%s: %s", allowed[i], err.message);
}

/* A resolver over one table "t" whose current version the test changes. */
static struct {
    int version;        /* t's current version: 1 has a BIGINT, 2 a VARCHAR */
    bool listed;        /* the lister names t */
    int data_reads;     /* resolutions that read "data" */
    int schema_reads;   /* schema-only resolutions */
    bool deleted;       /* t is deleted */
} fake;

static lh_code fake_resolve(void *ctx, const char *name, bool schema_only, lh_buf *sql, lh_err *err)
{
    (void)ctx;
    int v;
    if (!strcmp(name, "t") && fake.deleted) return lh_err_set(err, LH_ENOTFOUND, "dataset t is deleted");
    if (!strcmp(name, "t")) v = fake.version;
    else if (!strcmp(name, "t@1")) v = 1;
    else if (!strcmp(name, "t@2")) v = 2;
    else if (!strcmp(name, "gone")) return lh_err_set(err, LH_ENOTFOUND, "dataset gone is deleted");
    else return LH_OK; /* not ours */
    const char *type = v == 1 ? "BIGINT" : "VARCHAR";
    if (schema_only) {
        fake.schema_reads++;
        lh_buf_printf(sql, "SELECT CAST(NULL AS %s) AS a WHERE false", type);
    } else {
        fake.data_reads++;
        lh_buf_printf(sql, "SELECT CAST(i AS %s) AS a FROM range(%d) r(i)", type, v * 10);
    }
    return LH_OK;
}

static lh_code fake_list(void *ctx, json_t **tables, lh_err *err)
{
    (void)ctx;
    (void)err;
    *tables = json_array();
    if (fake.listed) {
        char pinned[16];
        snprintf(pinned, sizeof pinned, "t@%d", fake.version);
        json_array_append_new(*tables, json_pack("{s:s, s:s}", "name", "t", "table", pinned));
    }
    return LH_OK;
}

static char *run_on(lh_query_engine *e, const char *sql, lh_err *err)
{
    lh_query_cursor *c;
    lh_query_args args = {.sql = sql, .timeout_ms = 10000, .read_only = true};
    if (lh_query_open(e, &args, &c, err)) return NULL;
    lh_result_writer *w = lh_result_writer_new(c, LH_FORMAT_CSV, 0);
    lh_buf out = {0};
    bool done = false;
    lh_code rc = LH_OK;
    while (!done && rc == LH_OK) rc = lh_result_writer_next(w, &out, &done, err);
    lh_result_writer_free(w);
    lh_query_close(c);
    if (rc) {
        lh_buf_free(&out);
        return NULL;
    }
    return lh_buf_detach(&out);
}

static void expect_csv(lh_query_engine *e, const char *sql, const char *want)
{
    lh_err err;
    char *out = run_on(e, sql, &err);
    if (!out) fail_msg("%s: %s", sql, err.message);
    if (strcmp(out, want) != 0) fail_msg("%s\n  want %s\n  got  %s", sql, want, out);
    free(out);
}

static void test_catalog_views(void **state)
{
    (void)state;
    const char *dirs[] = {"/nonexistent-lakehouse-dir"};
    lh_query_options o = {.threads = 1, .connections = 1, .allowed_dirs = dirs, .n_allowed_dirs = 1,
                          .resolver = fake_resolve, .lister = fake_list};
    lh_query_engine *e;
    lh_err err;
    if (lh_query_engine_open(&o, &e, &err)) fail_msg("%s", err.message);
    fake.version = 1;
    fake.listed = true;
    fake.data_reads = fake.schema_reads = 0;
    expect_csv(e, "SHOW TABLES", "name\r\nt\r\n");
    expect_csv(e, "SELECT table_name, table_type FROM information_schema.tables",
               "table_name,table_type\r\nt,VIEW\r\n");
    expect_csv(e, "SELECT column_name, data_type FROM information_schema.columns",
               "column_name,data_type\r\na,BIGINT\r\n");
    assert_int_equal(fake.data_reads, 0); /* listing resolved no data */
    expect_csv(e, "DESCRIBE t", "column_name,column_type,null,key,default,extra\r\na,BIGINT,YES,,,\r\n");
    /* the same statement can read the data through the view */
    expect_csv(e, "SELECT count(*) AS n FROM t, information_schema.tables", "n\r\n10\r\n");
    /* a new version with another type: no stale view is in the way */
    fake.version = 2;
    expect_csv(e, "SELECT count(*) AS n, max(typeof(a)) AS ty FROM t", "n,ty\r\n20,VARCHAR\r\n");
    expect_csv(e, "SELECT data_type FROM information_schema.columns", "data_type\r\nVARCHAR\r\n");
    /* gone from the catalog: gone from the listing */
    fake.listed = false;
    expect_csv(e, "SHOW TABLES", "name\r\n");
    assert_true(fake.schema_reads >= 4);
    /* the resolver's refusal keeps its code; names it does not know are DuckDB's to refuse */
    assert_null(run_on(e, "SELECT * FROM gone", &err));
    assert_int_equal(err.code, LH_ENOTFOUND);
    assert_non_null(strstr(err.message, "dataset gone is deleted"));
    assert_null(run_on(e, "SELECT * FROM other", &err));
    assert_int_equal(err.code, LH_EINVAL);
    assert_non_null(strstr(err.message, "Table with name other does not exist"));
    /* sandboxed: files are for ingest */
    assert_null(run_on(e, "SELECT * FROM 'people.csv'", &err));
    assert_int_equal(err.code, LH_EFORBIDDEN);
    assert_non_null(strstr(err.message, "lakehouse ingest"));
    assert_null(run_on(e, "SELECT * FROM read_parquet('/etc/x.parquet')", &err));
    assert_int_equal(err.code, LH_EFORBIDDEN);
    assert_non_null(strstr(err.message, "POST /v1/ingest"));
    lh_query_engine_close(e);
}

/* Resources: strings that one scalar call would make are refused before they
 * are allocated, memory over memory_limit and results over max_result_bytes
 * are LH_ETOOBIG, extensions are not fetched, spill goes to a folder emptied
 * at open. */
static void test_resource_limits(void **state)
{
    (void)state;
    char spill[64], planted[96];
    snprintf(spill, sizeof spill, "/tmp/lh-test-spill-%d", (int)getpid());
    snprintf(planted, sizeof planted, "%s/planted", spill);
    mkdir(spill, 0700);
    if (symlink("/etc/hostname", planted) != 0) fail_msg("cannot plant %s", planted);
    const char *dirs[] = {"/nonexistent-lakehouse-dir"};
    lh_query_options o = {.threads = 1, .connections = 1, .memory_limit = "200MB", .allowed_dirs = dirs,
                          .n_allowed_dirs = 1, .temp_dir = spill, .max_temp_bytes = 1 << 20,
                          .max_string_length = 1000};
    lh_query_engine *e;
    lh_err err;
    if (lh_query_engine_open(&o, &e, &err)) fail_msg("%s", err.message);
    struct stat st;
    assert_int_not_equal(lstat(planted, &st), 0); /* emptied at open */
    expect_csv(e, "SELECT repeat('ab', 3) AS r, lpad('a', 3, '-') AS l, rpad('a', 3, '-') AS p, repeat([1], 2) AS li",
               "r,l,p,li\r\nababab,--a,a--,\"[1, 1]\"\r\n");
    const char *huge[] = {"SELECT repeat('x', 2000000000)", "SELECT length(repeat('x', 2000000000))",
                          "SELECT lpad('x', 2000000000, 'y')", "SELECT rpad(s, 1001, 'y') FROM (SELECT 'x' AS s)",
                          "SELECT repeat(s, n) FROM (VALUES ('x', 10), ('ab', 501)) t(s, n)",
                          "SELECT printf('%1000000d', 1)", "SELECT printf('%*d', 9, 1)",
                          "SELECT format('{:>1000000}', 'x')", "SELECT format('{:{}}', 'x', 9)"};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        if (run_on(e, huge[i], &err)) fail_msg("%s: accepted", huge[i]);
        assert_int_equal(err.code, LH_EINVAL);
        if (!strstr(err.message, "query.max_string_length (1000)") && !strstr(err.message, "widths of 100000"))
            fail_msg("%s: %s", huge[i], err.message);
    }
    expect_csv(e, "SELECT printf('%3d|%s', 7, 'a') AS p, format('{}-{:>2}', 1, 'b') AS f, printf('100%%') AS q",
               "p,f,q\r\n\"  7|a\",1- b,100%\r\n");
    assert_null(run_on(e, "SELECT length(string_agg(s, ',')) FROM (SELECT repeat('y', 1000) || i AS s "
                          "FROM range(3000000) r(i))", &err));
    assert_int_equal(err.code, LH_ETOOBIG);
    assert_non_null(strstr(err.message, "query.memory_limit"));
    assert_null(run_on(e, "SELECT * FROM read_xlsx('x.xlsx')", &err));
    assert_non_null(strstr(err.message, "not in the catalog"));
    expect_csv(e, "SELECT current_setting('autoinstall_known_extensions') AS i, "
                  "current_setting('autoload_known_extensions') AS l",
               "i,l\r\nfalse,false\r\n");
    /* a rendered result over max_result_bytes: refused, what was rendered ends at a row */
    lh_query_cursor *c;
    lh_query_args args = {.sql = "SELECT range AS n FROM range(100000)", .timeout_ms = 10000,
                          .max_result_bytes = 1000};
    if (lh_query_open(e, &args, &c, &err)) fail_msg("%s", err.message);
    lh_result_writer *w = lh_result_writer_new(c, LH_FORMAT_JSON, 0);
    lh_buf out = {0};
    bool done = false;
    lh_code rc = LH_OK;
    while (!done && rc == LH_OK) rc = lh_result_writer_next(w, &out, &done, &err);
    assert_int_equal(rc, LH_ETOOBIG);
    assert_non_null(strstr(err.message, "query.max_result_bytes (1000 bytes)"));
    assert_true(out.len < 1200 && out.data[out.len - 1] == ']'); /* rows are counted, not the header */
    lh_buf_free(&out);
    lh_result_writer_free(w);
    lh_query_close(c);
    lh_query_engine_close(e);
    rmdir(spill);
}

/* table_functions: a statement may call only those, and may not name a
 * table by a path — checked before binding, wherever the call sits. */
static void test_datasets_only(void **state)
{
    (void)state;
    static const char *const allowed[] = {"range", NULL};
    lh_query_options o = {.threads = 1, .connections = 1, .table_functions = allowed,
                          .resolver = fake_resolve, .lister = fake_list};
    lh_query_engine *e;
    lh_err err;
    if (lh_query_engine_open(&o, &e, &err)) fail_msg("%s", err.message);
    fake.version = 1;
    fake.listed = true;
    expect_csv(e, "SELECT count(*) AS n FROM t, range(2)", "n\r\n20\r\n");
    expect_csv(e, "SHOW TABLES", "name\r\nt\r\n");
    const char *refused[] = {
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT (SELECT count(*) FROM read_blob('/etc/hostname'))",
        "SELECT * FROM range(1) WHERE EXISTS (SELECT 1 FROM glob('/etc/*'))",
        "WITH x AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM x",
        "SELECT * FROM system.main.read_text('/etc/hostname')",
        "SELECT * FROM '/etc/hostname.csv'",
        "SELECT * FROM \"data.parquet\"",
        "EXPLAIN ANALYZE SELECT * FROM read_text('/etc/hostname')",
        "DESCRIBE SELECT * FROM read_text('/etc/hostname')",
        "SELECT 1; SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM query('SELECT 1')",
    };
    for (size_t i = 0; i < 2 * sizeof refused / sizeof refused[0]; i++) { /* twice: refusals are not remembered */
        const char *sql = refused[i % (sizeof refused / sizeof refused[0])];
        if (run_on(e, sql, &err)) fail_msg("%s: accepted", sql);
        if (err.code != LH_EFORBIDDEN || !strstr(err.message, "reads datasets, not files"))
            fail_msg("%s: %d %s", sql, err.code, err.message);
    }
    /* syntax errors keep DuckDB's message; non-SELECTs the read-only one */
    assert_null(run_on(e, "SELEC 1", &err));
    assert_int_equal(err.code, LH_EINVAL);
    assert_null(run_on(e, "DROP TABLE t", &err));
    assert_int_equal(err.code, LH_EFORBIDDEN);
    assert_non_null(strstr(err.message, "read-only"));
    assert_int_equal(lh_query_check(e, "SELECT * FROM read_text('x')", &err), LH_EFORBIDDEN);
    assert_int_equal(lh_query_check(e, "SELECT * FROM t", &err), LH_OK);
    lh_query_engine_close(e);
}

/* Kept plans: a statement run again reuses its connection's plan only while
 * the resolver answers as before — a new version, a deletion or new
 * parameters are never answered from the old plan. */
static void test_kept_plans(void **state)
{
    (void)state;
    lh_query_options o = {.threads = 1, .connections = 1, .resolver = fake_resolve, .lister = fake_list};
    lh_query_engine *e;
    lh_err err;
    if (lh_query_engine_open(&o, &e, &err)) fail_msg("%s", err.message);
    fake.version = 1;
    fake.deleted = false;
    const char *sql = "SELECT count(*) AS n, max(typeof(a)) AS ty FROM t";
    for (int i = 0; i < 3; i++) expect_csv(e, sql, "n,ty\r\n10,BIGINT\r\n");
    fake.version = 2;
    expect_csv(e, sql, "n,ty\r\n20,VARCHAR\r\n");
    expect_csv(e, sql, "n,ty\r\n20,VARCHAR\r\n");
    fake.deleted = true;
    assert_null(run_on(e, sql, &err));
    assert_int_equal(err.code, LH_ENOTFOUND);
    fake.deleted = false;
    fake.version = 1;
    expect_csv(e, sql, "n,ty\r\n10,BIGINT\r\n");
    /* more statements than a connection keeps: each still answers its own */
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 40; i++) {
            char q[64], want[32];
            snprintf(q, sizeof q, "SELECT %d + count(*) AS n FROM t", i);
            snprintf(want, sizeof want, "n\r\n%d\r\n", i + 10);
            expect_csv(e, q, want);
        }
    /* a kept plan takes new parameters */
    for (int i = 0; i < 3; i++) {
        lh_query_cursor *c;
        json_t *params = json_pack("[i]", i);
        lh_query_args args = {.sql = "SELECT CAST($1 AS INTEGER) * 2 AS d", .timeout_ms = 10000,
                              .read_only = true, .params = params};
        if (lh_query_open(e, &args, &c, &err)) fail_msg("%s", err.message);
        lh_result_writer *w = lh_result_writer_new(c, LH_FORMAT_CSV, 0);
        lh_buf out = {0};
        bool done = false;
        while (!done) assert_int_equal(lh_result_writer_next(w, &out, &done, &err), LH_OK);
        char want[32];
        snprintf(want, sizeof want, "d\r\n%d\r\n", 2 * i);
        assert_string_equal(out.data, want);
        lh_buf_free(&out);
        lh_result_writer_free(w);
        lh_query_close(c);
        json_decref(params);
    }
    lh_query_engine_close(e);
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
    if (f) fclose(f);
    return kb;
}

/* A statement run again and again keeps memory flat: DuckDB grows a prepared
 * statement with each run (~2 KB), so kept plans are replanned now and then. */
static void test_kept_plans_stay_small(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    skip(); /* the sanitizers' allocators hold freed memory back */
#endif
    lh_err err;
    for (int i = 0; i < 2000; i++) free(run("SELECT 1", LH_FORMAT_CSV, 0, 1000, &err));
    long before = rss_kb();
    for (int i = 0; i < 30000; i++) {
        char *out = run("SELECT 1", LH_FORMAT_CSV, 0, 1000, &err);
        assert_non_null(out);
        free(out);
    }
    long grown = rss_kb() - before;
    fprintf(stderr, "30,000 runs of one statement: RSS %+ld kB\n", grown);
    assert_true(grown < 12 * 1024); /* kept without replanning: ~60 MB */
}

static lh_code open_as(lh_query_engine *e, const char *client, long long timeout_ms, lh_query_cursor **c, lh_err *err)
{
    lh_query_args args = {.sql = "SELECT 1", .timeout_ms = timeout_ms, .read_only = true, .client = client};
    return lh_query_open(e, &args, c, err);
}

static long long ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Admission: a client's long statements hold at most max_per_client
 * connections and leave one free; short statements and the server's own
 * take any free one at once. */
static void test_fair_admission(void **state)
{
    (void)state;
    lh_query_options o = {.threads = 1, .connections = 3, .max_per_client = 2, .short_timeout_ms = 500};
    lh_query_engine *e;
    lh_err err;
    if (lh_query_engine_open(&o, &e, &err)) fail_msg("%s", err.message);
    lh_query_cursor *a1, *a2, *x, *s1, *s2;
    struct timespec t0;
    assert_int_equal(open_as(e, "a", 10000, &a1, &err), LH_OK);
    assert_int_equal(open_as(e, "a", 10000, &a2, &err), LH_OK);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(open_as(e, "a", 600, &x, &err), LH_EUNAVAILABLE); /* its cap, after waiting its deadline */
    assert_true(ms_since(&t0) >= 550);
    assert_non_null(strstr(err.message, "a already runs 2 queries"));
    assert_non_null(strstr(err.message, "query.max_per_client"));
    assert_int_equal(open_as(e, "b", 600, &x, &err), LH_EUNAVAILABLE); /* the last connection is kept */
    assert_non_null(strstr(err.message, "kept for short statements (timeout_ms <= 500"));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(open_as(e, "a", 500, &s1, &err), LH_OK); /* short: at once, even over a's cap */
    assert_true(ms_since(&t0) < 100);
    lh_query_close(s1);
    assert_int_equal(open_as(e, "b", 200, &s1, &err), LH_OK);
    assert_int_equal(open_as(e, NULL, 200, &s2, &err), LH_EUNAVAILABLE); /* none free at all */
    lh_query_close(s1);
    assert_int_equal(open_as(e, NULL, 200, &s2, &err), LH_OK); /* the server's own work */
    lh_query_close(s2);
    lh_query_close(a1);
    assert_int_equal(open_as(e, "b", 10000, &x, &err), LH_OK); /* a long one again: two free */
    lh_query_close(x);
    lh_query_close(a2);
    lh_query_engine_close(e);
}

/* A version's SELECT casts every column to its manifest type; a type that is
 * not only a type (it would smuggle SQL in) makes the manifest corrupt. */
static void test_manifest_types(void **state)
{
    (void)state;
    json_t *m = json_pack("{s:s, s:i, s:[], s:{s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}]}}", "dataset", "d",
                          "version", 3, "objects", "schema", "fields", "name", "id", "type", "BIGINT", "name", "s",
                          "type", "STRUCT(\"my field\" BIGINT, café VARCHAR[])", "name", "ts", "type",
                          "TIMESTAMP WITH TIME ZONE", "name", "e", "type", "ENUM('a', 'it''s')");
    lh_buf sql = {0};
    lh_err err;
    /* no objects: nothing is read, so no tables object is needed */
    if (lh_dataset_tables_sql(NULL, m, &sql, &err)) fail_msg("%s", err.message);
    lh_buf q = {0};
    lh_buf_printf(&q, "SELECT typeof(id) || '|' || typeof(s) || '|' || typeof(ts) || '|' || typeof(e) AS t "
                      "FROM (%s UNION ALL SELECT NULL, NULL, NULL, NULL)", sql.data);
    char *out = run(q.data, LH_FORMAT_CSV, 0, 10000, &err);
    if (!out) fail_msg("%s: %s", q.data, err.message);
    assert_string_equal(out, "t\r\n\"BIGINT|STRUCT(\"\"my field\"\" BIGINT, \"\"café\"\" VARCHAR[])|"
                             "TIMESTAMP WITH TIME ZONE|ENUM('a', 'it''s')\"\r\n");
    free(out);
    lh_buf_free(&q);
    /* nested deeper than SQL reads in time: refused at once, saying so */
    lh_buf deep = {0};
    for (int i = 0; i < LH_DATASET_MAX_TYPE_DEPTH + 1; i++) lh_buf_puts(&deep, "STRUCT(a ");
    lh_buf_puts(&deep, "BIGINT");
    for (int i = 0; i < LH_DATASET_MAX_TYPE_DEPTH + 1; i++) lh_buf_putc(&deep, ')');
    json_object_set_new(json_array_get(json_object_get(json_object_get(m, "schema"), "fields"), 1), "type",
                        json_string(deep.data));
    lh_buf_reset(&sql);
    assert_int_equal(lh_dataset_tables_sql(NULL, m, &sql, &err), LH_EINVAL);
    assert_non_null(strstr(err.message, "column s is nested 129 levels deep; SQL reads at most 128"));
    lh_buf_free(&deep);
    const char *bad[] = {"INTEGER) AS x, (SELECT 1", "INTEGER -- x", "VARCHAR; DROP TABLE t", "INTEGER /* x */",
                         "DECIMAL(18,3", "STRUCT(\"a BIGINT)", "", "ENUM('a)"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_object_set_new(json_array_get(json_object_get(json_object_get(m, "schema"), "fields"), 0), "type",
                            json_string(bad[i]));
        lh_buf_reset(&sql);
        if (lh_dataset_tables_sql(NULL, m, &sql, &err) != LH_ECORRUPT) fail_msg("accepted type %s", bad[i]);
    }
    lh_buf_free(&sql);
    json_decref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),         cmocka_unit_test(test_select_42),
        cmocka_unit_test(test_scalar_types),    cmocka_unit_test(test_temporal_types),
        cmocka_unit_test(test_nested_types),    cmocka_unit_test(test_formats),
        cmocka_unit_test(test_max_rows),        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_timeout),         cmocka_unit_test(test_deadline_between_statements),         cmocka_unit_test(test_pool_exhaustion),
        cmocka_unit_test(test_concurrent_queries), cmocka_unit_test(test_parallel_on_demand),
        cmocka_unit_test(test_parallel_back_to_back),
        cmocka_unit_test(test_read_only),
        cmocka_unit_test(test_catalog_views),      cmocka_unit_test(test_manifest_types),
        cmocka_unit_test(test_resource_limits),    cmocka_unit_test(test_fair_admission),
        cmocka_unit_test(test_datasets_only),      cmocka_unit_test(test_kept_plans),       cmocka_unit_test(test_kept_plans_stay_small),
        cmocka_unit_test(test_error_position),     cmocka_unit_test(test_writer_skip),
    };
    return cmocka_run_group_tests_name("query", tests, setup, teardown);
}
