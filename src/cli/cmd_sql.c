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

enum { OPT_FORMAT = OPT_FIRST_PRIVATE, OPT_MAX_ROWS, OPT_OFFSET, OPT_TIMEOUT, OPT_JSON };

static void help(void)
{
    printf("usage: lakehouse sql [options] [SQL]\n\n"
           "Runs one read-only SQL statement (SELECT, EXPLAIN) over the datasets and prints\n"
           "the result. Every dataset is a table by its name at its current version; any\n"
           "version is lh_version('name', N). Files outside the data folder are not readable.\n"
           "The statement comes from the argument, or from standard input when the\n"
           "argument is absent or \"-\".\n\n"
           "options:\n"
           "  -f, --format FORMAT  table (default) | json | ndjson | csv | parquet\n"
           "  --json               the same as --format json\n"
           "  --max-rows N         stop after N rows (default: query.max_rows for table and\n"
           "                       json, unlimited for ndjson and csv)\n"
           "  --offset N           skip the first N rows (a page; not with parquet)\n"
           "  --timeout-ms N       cancel the statement after N ms (default: query.timeout_ms,\n"
           "                       at most query.max_timeout_ms)\n" LH_CLI_COMMON_HELP
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

/* Copies a file to stdout (a parquet result). */
static lh_code cat_file(const char *path, lh_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return lh_err_errno(err, LH_EIO, errno, "reading the result");
    char chunk[65536];
    size_t n;
    lh_code rc = LH_OK;
    while (rc == LH_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (fwrite(chunk, 1, n, stdout) != n) rc = lh_err_errno(err, LH_EIO, errno, "writing the result");
    fclose(f);
    return rc;
}

int cmd_sql(int argc, char **argv)
{
    static const struct option options[] = {
        LH_CLI_COMMON_OPTIONS,
        {"format", required_argument, NULL, 'f'},
        {"json", no_argument, NULL, OPT_JSON},
        {"max-rows", required_argument, NULL, OPT_MAX_ROWS},
        {"offset", required_argument, NULL, OPT_OFFSET},
        {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
        {NULL, 0, NULL, 0}};
    lh_cli_common common = {.cmd = "sql"};
    const lh_op *op = lh_op_find("sql");
    json_t *args = json_object();
    bool table = true;
    lh_err err;
    lh_code rc = LH_OK;
    int opt;
    while (rc == LH_OK && (opt = getopt_long(argc, argv, "hf:", options, NULL)) != -1) {
        if (lh_cli_common_option(&common, opt, optarg)) continue;
        switch (opt) {
        case 'h': help(); json_decref(args); return 0;
        case 'f': {
            lh_cli_output o;
            table = lh_cli_output_parse(optarg, &o) && o == LH_CLI_TABLE;
            if (!table) rc = lh_op_set_text(op, args, "format", optarg, &err);
            break;
        }
        case OPT_JSON: table = false; rc = lh_op_set_text(op, args, "format", "json", &err); break;
        case OPT_MAX_ROWS: rc = lh_op_set_text(op, args, "max_rows", optarg, &err); break;
        case OPT_OFFSET: rc = lh_op_set_text(op, args, "offset", optarg, &err); break;
        case OPT_TIMEOUT: rc = lh_op_set_text(op, args, "timeout_ms", optarg, &err); break;
        default: json_decref(args); return lh_cli_usage_error("sql", "unknown option");
        }
    }
    if (rc == LH_OK && optind + 1 < argc)
        rc = lh_err_set(&err, LH_EINVAL, "expected one SQL statement (quote it), got %d arguments", argc - optind);
    if (rc == LH_OK && optind < argc && strcmp(argv[optind], "-") != 0) {
        rc = lh_op_set_text(op, args, "sql", argv[optind], &err);
    } else if (rc == LH_OK && isatty(0)) {
        rc = lh_err_set(&err, LH_EINVAL, "no SQL given (pass it as an argument or on stdin)");
    } else if (rc == LH_OK) {
        char *sql = read_stdin();
        rc = lh_op_set_text(op, args, "sql", sql, &err);
        free(sql);
    }
    if (rc == LH_OK) rc = lh_op_check(op, args, &err);
    if (rc) {
        json_decref(args);
        lh_cli_common_free(&common);
        return lh_cli_usage_error("sql", "%s", err.message);
    }

    lh_config cfg;
    lh_app *app;
    int status = lh_cli_open_app(&common, &cfg, &app);
    lh_cli_common_free(&common);
    if (status) {
        json_decref(args);
        return status;
    }
    lh_app_sql_run run;
    lh_who who = lh_cli_who(NULL);
    rc = lh_cli_identify(app, NULL, &who, &err);
    if (rc == LH_OK) rc = lh_app_sql_open(app, args, &who, &run, &err);
    json_decref(args);
    if (rc == LH_OK && run.parquet_path) {
        rc = cat_file(run.parquet_path, &err);
        unlink(run.parquet_path);
        free(run.parquet_path);
    } else if (rc == LH_OK) {
        lh_result_writer *w = lh_result_writer_new(run.cursor, table ? LH_FORMAT_TABLE : run.format, run.max_rows);
        lh_result_writer_skip(w, run.offset);
        lh_buf out = {0};
        bool done = false;
        while (rc == LH_OK && !done) {
            rc = lh_result_writer_next(w, &out, &done, &err);
            if (rc == LH_OK && !write_out(&out)) rc = lh_err_errno(&err, LH_EIO, errno, "writing the result");
        }
        lh_buf_free(&out);
        lh_result_writer_free(w);
        lh_query_close(run.cursor);
    }
    fflush(stdout);
    status = rc ? lh_cli_fail("sql", &err) : 0;
    lh_cli_close_app(&cfg, app);
    return status;
}
