/*
 * cmd_ingest.c — `lakehouse ingest FILE... --dataset NAME`: files to a new dataset version.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { OPT_DATASET = OPT_FIRST_PRIVATE, OPT_MODE, OPT_FORMAT, OPT_SKIP_BAD, OPT_BUCKET, OPT_MESSAGE,
       OPT_ACTOR, OPT_JSON, OPT_CHUNK, OPT_OVERLAP, OPT_INDEX, OPT_DELIMITER, OPT_HEADER, OPT_DECIMAL,
       OPT_ENCODING };

static void help(void)
{
    printf("usage: lakehouse ingest FILE... --dataset NAME [options]\n\n"
           "Turns files into one new version of a dataset (created if needed), without a schema:\n"
           "CSV/TSV, JSON arrays, NDJSON, Parquet, text/Markdown, PDF and spreadsheets\n"
           "(.xlsx, .ods: every sheet, with a sheet column). Bytes the dataset\n"
           "already holds are skipped; if nothing is new, no version is made.\n\n"
           "options:\n"
           "  -d, --dataset NAME   the dataset ([a-z][a-z0-9_]*)\n"
           "  --mode MODE          append (default) or replace\n"
           "  --format FORMAT      csv tsv json ndjson parquet text markdown pdf xlsx ods (default: sniffed)\n"
           "  --skip-bad-rows      CSV: keep the good rows and report the bad ones\n"
           "                       (default: refuse a file with any unreadable row)\n"
           "  --bucket B           bucket for a new dataset (default: storage.default_bucket)\n"
           "  --message TEXT       the version's message\n"
           "  --chunk-chars N      documents: chunk size (default: ingest.chunk_chars)\n"
           "  --chunk-overlap N    documents: characters repeated between chunks\n"
           "  --delimiter D        CSV: the field separator: one character, '\\t' or whitespace\n"
           "                       (runs of spaces and tabs); default: sniffed\n"
           "  --header yes|no      CSV: whether the first row names the columns (default: sniffed)\n"
           "  --decimal . | ,      CSV: the decimal separator (default: sniffed; ',' needs another delimiter)\n"
           "  --encoding E         utf-8, latin-1 or utf-16 for the whole file (default: UTF-8\n"
           "                       lines kept, the others read as Windows-1252)\n"
           "  --index              documents: also create (or refresh) the text index named after\n"
           "                       the dataset (chunk_id, text), ready for search and ask\n"
           "  --actor NAME         who is ingesting (default: $USER)\n"
           "  --json               print the full report as JSON\n" LH_CLI_COMMON_HELP);
}

static void progress(void *ctx, const char *source, double done)
{
    (void)ctx;
    lh_cli_progress_bar(source, done);
}

static void summary(json_t *report)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(report, "sources"), i, s) {
        const char *status = json_string_value(json_object_get(s, "status"));
        if (!strcmp(status, "already_ingested"))
            printf("%s: already in version %lld, skipped\n", json_string_value(json_object_get(s, "name")),
                   (long long)json_integer_value(json_object_get(s, "version")));
        else
            printf("%s: %lld rows (%s)%s\n", json_string_value(json_object_get(s, "name")),
                   (long long)json_integer_value(json_object_get(s, "rows")),
                   json_string_value(json_object_get(s, "format")),
                   json_integer_value(json_object_get(s, "rejected_rows")) ? ", some rows skipped" : "");
        if (json_integer_value(json_object_get(s, "lines_repaired")))
            printf("%s: %lld line(s) not UTF-8, read as %s (encoding %s; --encoding overrides)\n",
                   json_string_value(json_object_get(s, "name")),
                   (long long)json_integer_value(json_object_get(s, "lines_repaired")),
                   json_string_value(json_object_get(s, "repaired_as")),
                   json_string_value(json_object_get(s, "encoding")));
    }
    json_array_foreach(json_object_get(report, "schema_changes"), i, s) {
        printf("schema: column %s %s\n", json_string_value(json_object_get(s, "column")),
               json_string_value(json_object_get(s, "change")));
    }
    json_array_foreach(json_object_get(report, "rejects"), i, s) {
        printf("skipped: %s line %lld: %s\n", json_string_value(json_object_get(s, "source")),
               (long long)json_integer_value(json_object_get(s, "line")),
               json_string_value(json_object_get(s, "error")));
    }
    json_t *pii = json_array();
    json_array_foreach(json_object_get(report, "schema"), i, s) {
        if (json_object_get(s, "pii")) json_array_append(pii, json_object_get(s, "name"));
    }
    if (json_array_size(pii)) {
        printf("pii columns:");
        json_array_foreach(pii, i, s) printf(" %s", json_string_value(s));
        printf("\n");
    }
    json_decref(pii);
    if (json_is_true(json_object_get(report, "new_version")))
        printf("%s: version %lld, %lld rows\n", json_string_value(json_object_get(report, "dataset")),
               (long long)json_integer_value(json_object_get(report, "version")),
               (long long)json_integer_value(json_object_get(report, "row_count")));
    else
        printf("%s: nothing new, still version %lld\n", json_string_value(json_object_get(report, "dataset")),
               (long long)json_integer_value(json_object_get(report, "version")));
    json_t *index = json_object_get(report, "index");
    if (index)
        printf("index %s: %s, version %lld\n", json_string_value(json_object_get(index, "name")),
               json_string_value(json_object_get(index, "action")),
               (long long)json_integer_value(json_object_get(index, "version")));
}

int cmd_ingest(int argc, char **argv)
{
    static const struct option options[] = {
        LH_CLI_COMMON_OPTIONS,
        {"dataset", required_argument, NULL, 'd'},
        {"mode", required_argument, NULL, OPT_MODE},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"skip-bad-rows", no_argument, NULL, OPT_SKIP_BAD},
        {"bucket", required_argument, NULL, OPT_BUCKET},
        {"message", required_argument, NULL, OPT_MESSAGE},
        {"actor", required_argument, NULL, OPT_ACTOR},
        {"json", no_argument, NULL, OPT_JSON},
        {"chunk-chars", required_argument, NULL, OPT_CHUNK},
        {"chunk-overlap", required_argument, NULL, OPT_OVERLAP},
        {"index", no_argument, NULL, OPT_INDEX},
        {"delimiter", required_argument, NULL, OPT_DELIMITER},
        {"header", required_argument, NULL, OPT_HEADER},
        {"decimal", required_argument, NULL, OPT_DECIMAL},
        {"encoding", required_argument, NULL, OPT_ENCODING},
        {NULL, 0, NULL, 0}};
    lh_cli_common common = {.cmd = "ingest"};
    const lh_op *op = lh_op_find("ingest");
    json_t *args = json_object();
    const char *actor = NULL;
    bool json = false;
    lh_err err;
    lh_code rc = LH_OK;
    int opt;
    while (rc == LH_OK && (opt = getopt_long(argc, argv, "hd:", options, NULL)) != -1) {
        if (lh_cli_common_option(&common, opt, optarg)) continue;
        switch (opt) {
        case 'h': help(); json_decref(args); return 0;
        case 'd': rc = lh_op_set_text(op, args, "dataset", optarg, &err); break;
        case OPT_MODE: rc = lh_op_set_text(op, args, "mode", optarg, &err); break;
        case OPT_FORMAT: rc = lh_op_set_text(op, args, "format", optarg, &err); break;
        case OPT_SKIP_BAD: rc = lh_op_set_text(op, args, "skip_bad_rows", "true", &err); break;
        case OPT_BUCKET: rc = lh_op_set_text(op, args, "bucket", optarg, &err); break;
        case OPT_MESSAGE: rc = lh_op_set_text(op, args, "message", optarg, &err); break;
        case OPT_ACTOR: actor = optarg; break;
        case OPT_JSON: json = true; break;
        case OPT_CHUNK: rc = lh_op_set_text(op, args, "chunk_chars", optarg, &err); break;
        case OPT_OVERLAP: rc = lh_op_set_text(op, args, "chunk_overlap", optarg, &err); break;
        case OPT_INDEX: rc = lh_op_set_text(op, args, "index", "true", &err); break;
        case OPT_DELIMITER: rc = lh_op_set_text(op, args, "delimiter", optarg, &err); break;
        case OPT_HEADER: rc = lh_op_set_text(op, args, "header", optarg, &err); break;
        case OPT_DECIMAL: rc = lh_op_set_text(op, args, "decimal", optarg, &err); break;
        case OPT_ENCODING: rc = lh_op_set_text(op, args, "encoding", optarg, &err); break;
        default: json_decref(args); return lh_cli_usage_error("ingest", "unknown option");
        }
    }
    if (rc == LH_OK) rc = lh_op_check(op, args, &err);
    if (rc == LH_OK && optind >= argc) rc = lh_err_set(&err, LH_EINVAL, "no file to ingest");
    if (rc) {
        json_decref(args);
        lh_cli_common_free(&common);
        return lh_cli_usage_error("ingest", "%s", err.message);
    }

    lh_config cfg;
    lh_app *app;
    int status = lh_cli_open_app(&common, &cfg, &app);
    lh_cli_common_free(&common);
    if (status) {
        json_decref(args);
        return status;
    }
    size_t n = (size_t)(argc - optind);
    lh_ingest_source *sources = lh_xcalloc(n, sizeof *sources);
    for (size_t i = 0; i < n; i++) {
        sources[i].path = argv[optind + (int)i];
        const char *slash = strrchr(sources[i].path, '/');
        sources[i].name = slash ? slash + 1 : sources[i].path;
    }
    lh_op_ctx call = {.who = lh_cli_who(actor)};
    if (isatty(2)) call.progress = progress;
    json_t *report = NULL;
    rc = lh_cli_identify(app, NULL, &call.who, &err);
    if (rc == LH_OK) rc = lh_app_ingest(app, args, sources, n, &call, &report, &err);
    if (rc == LH_OK) {
        if (json) lh_cli_print_json(report);
        else summary(report);
    }
    json_decref(report);
    json_decref(args);
    free(sources);
    status = rc ? lh_cli_fail("ingest", &err) : 0;
    lh_cli_close_app(&cfg, app);
    return status;
}
