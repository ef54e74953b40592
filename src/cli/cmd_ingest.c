/*
 * cmd_ingest.c — `lakehouse ingest FILE... --dataset NAME`: files to a new dataset version.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { OPT_DATASET = OPT_FIRST_PRIVATE, OPT_MODE, OPT_FORMAT, OPT_SKIP_BAD, OPT_BUCKET, OPT_MESSAGE,
       OPT_ACTOR, OPT_JSON, OPT_CHUNK, OPT_OVERLAP };

static void help(void)
{
    printf("usage: lakehouse ingest FILE... --dataset NAME [options]\n\n"
           "Turns files into one new version of a dataset (created if needed), without a schema:\n"
           "CSV/TSV, JSON arrays, NDJSON, Parquet, text/Markdown and PDF. Bytes the dataset\n"
           "already holds are skipped; if nothing is new, no version is made.\n\n"
           "options:\n"
           "  -d, --dataset NAME   the dataset ([a-z][a-z0-9_]*)\n"
           "  --mode MODE          append (default) or replace\n"
           "  --format FORMAT      csv tsv json ndjson parquet text markdown pdf (default: sniffed)\n"
           "  --skip-bad-rows      CSV: keep the good rows and report the bad ones\n"
           "                       (default: refuse a file with any unreadable row)\n"
           "  --bucket B           bucket for a new dataset (default: storage.default_bucket)\n"
           "  --message TEXT       the version's message\n"
           "  --chunk-chars N      documents: chunk size (default: ingest.chunk_chars)\n"
           "  --chunk-overlap N    documents: characters repeated between chunks\n"
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
        {NULL, 0, NULL, 0}};
    lh_cli_common common = {.cmd = "ingest"};
    lh_ingest_options o = {.mode = LH_COMMIT_APPEND};
    const char *actor = NULL;
    bool json = false;
    long long chunk = 0, overlap = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "hd:", options, NULL)) != -1) {
        if (lh_cli_common_option(&common, opt, optarg)) continue;
        switch (opt) {
        case 'h': help(); return 0;
        case 'd': o.dataset = optarg; break;
        case OPT_MODE:
            if (!strcmp(optarg, "append")) o.mode = LH_COMMIT_APPEND;
            else if (!strcmp(optarg, "replace")) o.mode = LH_COMMIT_REPLACE;
            else return lh_cli_usage_error("ingest", "--mode is append or replace, not \"%s\"", optarg);
            break;
        case OPT_FORMAT: o.format = optarg; break;
        case OPT_SKIP_BAD: o.skip_bad_rows = true; break;
        case OPT_BUCKET: o.bucket = optarg; break;
        case OPT_MESSAGE: o.message = optarg; break;
        case OPT_ACTOR: actor = optarg; break;
        case OPT_JSON: json = true; break;
        case OPT_CHUNK:
            if (!lh_cli_parse_int(optarg, 100, &chunk)) return lh_cli_usage_error("ingest", "--chunk-chars expects a number >= 100");
            break;
        case OPT_OVERLAP:
            if (!lh_cli_parse_int(optarg, 0, &overlap)) return lh_cli_usage_error("ingest", "--chunk-overlap expects a number");
            break;
        default: return lh_cli_usage_error("ingest", "unknown option");
        }
    }
    if (!o.dataset) return lh_cli_usage_error("ingest", "--dataset NAME is required");
    if (optind >= argc) return lh_cli_usage_error("ingest", "no file to ingest");
    o.chunk_chars = (size_t)chunk;
    o.chunk_overlap = (size_t)overlap;
    if (isatty(2)) o.progress = progress;

    lh_config cfg;
    lh_app *app;
    int status = lh_cli_open_app(&common, &cfg, &app);
    lh_cli_common_free(&common);
    if (status) return status;
    size_t n = (size_t)(argc - optind);
    lh_ingest_source *sources = lh_xcalloc(n, sizeof *sources);
    for (size_t i = 0; i < n; i++) {
        sources[i].path = argv[optind + (int)i];
        const char *slash = strrchr(sources[i].path, '/');
        sources[i].name = slash ? slash + 1 : sources[i].path;
    }
    lh_who who = lh_cli_who(actor);
    json_t *report = NULL;
    lh_err err;
    lh_code rc = lh_ingest(lh_app_ingester(app), sources, n, &o, &who, &report, &err);
    if (rc == LH_OK) {
        if (json) lh_cli_print_json(report);
        else summary(report);
    }
    json_decref(report);
    free(sources);
    status = rc ? lh_cli_fail("ingest", &err) : 0;
    lh_cli_close_app(&cfg, app);
    return status;
}
