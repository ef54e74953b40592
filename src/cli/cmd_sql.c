/*
 * cmd_sql.c — `lakehouse sql`: run one statement in-process and stream the result.
 */
#include "cli.h"

#include "lakehouse/lh_query.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OPT_FORMAT = OPT_FIRST_PRIVATE, OPT_MAX_ROWS, OPT_TIMEOUT };

static void help(void)
{
    printf("usage: lakehouse sql [options] [SQL]\n\n"
           "Runs one read-only SQL statement (SELECT, EXPLAIN) over the datasets and prints\n"
           "the result. Every dataset is a table by its name at its current version; any\n"
           "version is lh_version('name', N). Files outside the data folder are not readable.\n"
           "The statement comes from the argument, or from standard input when the\n"
           "argument is absent or \"-\".\n\n"
           "options:\n"
           "  -f, --format FORMAT  table (default) | json | ndjson | csv\n"
           "  --max-rows N         stop after N rows (default: query.max_rows for table and\n"
           "                       json, unlimited for ndjson and csv)\n"
           "  --timeout-ms N       cancel the statement after N ms (default: query.timeout_ms)\n" LH_CLI_COMMON_HELP
           "\nexamples:\n"
           "  lakehouse sql \"SELECT 42 AS answer\"\n"
           "  echo \"SELECT * FROM range(5)\" | lakehouse sql --format csv\n");
}

static char *read_stdin(void)
{
    lh_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) lh_buf_append(&b, chunk, n);
    return lh_buf_detach(&b);
}

static bool write_out(lh_buf *b)
{
    bool ok = b->len == 0 || fwrite(b->data, 1, b->len, stdout) == b->len; /* an empty piece has no data */
    lh_buf_reset(b);
    return ok;
}

int cmd_sql(int argc, char **argv)
{
    static const struct option options[] = {
        LH_CLI_COMMON_OPTIONS,
        {"format", required_argument, NULL, 'f'},
        {"max-rows", required_argument, NULL, OPT_MAX_ROWS},
        {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
        {NULL, 0, NULL, 0}};
    lh_cli_common common = {.cmd = "sql"};
    lh_result_format format = LH_FORMAT_TABLE;
    long long max_rows = -1, timeout_ms = -1;
    int opt;
    while ((opt = getopt_long(argc, argv, "hf:", options, NULL)) != -1) {
        if (lh_cli_common_option(&common, opt, optarg)) continue;
        switch (opt) {
        case 'h': help(); return 0;
        case 'f':
            if (!lh_result_format_parse(optarg, &format))
                return lh_cli_usage_error("sql", "unknown format \"%s\" (table, json, ndjson, csv)",
                                          optarg);
            break;
        case OPT_MAX_ROWS:
            if (!lh_cli_parse_int(optarg, 0, &max_rows))
                return lh_cli_usage_error("sql", "--max-rows expects a count, got \"%s\"", optarg);
            break;
        case OPT_TIMEOUT:
            if (!lh_cli_parse_int(optarg, 1, &timeout_ms))
                return lh_cli_usage_error("sql", "--timeout-ms expects a positive number, got \"%s\"",
                                          optarg);
            break;
        default: return lh_cli_usage_error("sql", "unknown option");
        }
    }
    if (optind + 1 < argc)
        return lh_cli_usage_error("sql", "expected one SQL statement (quote it), got %d arguments",
                                  argc - optind);
    char *sql = NULL;
    if (optind < argc && strcmp(argv[optind], "-") != 0) {
        sql = lh_xstrdup(argv[optind]);
    } else if (isatty(0)) {
        lh_cli_common_free(&common);
        return lh_cli_usage_error("sql", "no SQL given (pass it as an argument or on stdin)");
    } else {
        sql = read_stdin();
    }

    lh_config cfg;
    lh_app *app;
    int status = lh_cli_open_app(&common, &cfg, &app);
    lh_cli_common_free(&common);
    if (status) {
        free(sql);
        return status;
    }
    if (timeout_ms < 0) timeout_ms = cfg.query_timeout_ms;
    if (max_rows < 0)
        max_rows = format == LH_FORMAT_TABLE || format == LH_FORMAT_JSON ? cfg.query_max_rows : 0;
    lh_err err;
    lh_query_cursor *cursor = NULL;
    lh_query_args args = {.sql = sql, .timeout_ms = timeout_ms, .read_only = true};
    lh_code rc = lh_query_open(lh_app_query_engine(app), &args, &cursor, &err);
    if (rc == LH_OK) {
        lh_result_writer *w = lh_result_writer_new(cursor, format, max_rows);
        lh_buf out = {0};
        bool done = false;
        while (rc == LH_OK && !done) {
            rc = lh_result_writer_next(w, &out, &done, &err);
            if (rc == LH_OK && !write_out(&out)) {
                rc = lh_err_errno(&err, LH_EIO, errno, "writing the result");
            }
        }
        lh_buf_free(&out);
        lh_result_writer_free(w);
    }
    fflush(stdout);
    status = rc ? lh_cli_fail("sql", &err) : 0;
    lh_query_close(cursor);
    lh_cli_close_app(&cfg, app);
    free(sql);
    return status;
}
