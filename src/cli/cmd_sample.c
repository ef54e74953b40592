/*
 * cmd_sample.c — `lakehouse sample`: the staffing reference data, generated and (optionally) ingested.
 */
#include "cli.h"

#include "lakehouse/lh_sample.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_ROWS = OPT_FIRST_PRIVATE, OPT_SEED, OPT_OUT, OPT_INGEST };

static void help(void)
{
    printf("usage: lakehouse sample [--rows N] [--seed S] [--out DIR] [--ingest] [options]\n\n"
           "Generates the staffing reference data (workers, clients, job_orders, placements,\n"
           "calls, permits) from a seed: the same seed and size give the same files.\n\n"
           "options:\n"
           "  --rows N             number of workers (default 2000); other tables scale with it\n"
           "  --seed S             the seed (default 42)\n"
           "  --out DIR            where to write the files (default: <data>/_sample)\n"
           "  --ingest             also ingest each file as the dataset of the same name\n" LH_CLI_COMMON_HELP);
}

int cmd_sample(int argc, char **argv)
{
    static const struct option options[] = {LH_CLI_COMMON_OPTIONS,
                                            {"rows", required_argument, NULL, OPT_ROWS},
                                            {"seed", required_argument, NULL, OPT_SEED},
                                            {"out", required_argument, NULL, OPT_OUT},
                                            {"ingest", no_argument, NULL, OPT_INGEST},
                                            {NULL, 0, NULL, 0}};
    lh_cli_common common = {.cmd = "sample"};
    long long rows = 2000, seed = 42;
    const char *out = NULL;
    bool ingest = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (lh_cli_common_option(&common, opt, optarg)) continue;
        switch (opt) {
        case 'h': help(); return 0;
        case OPT_ROWS:
            if (!lh_cli_parse_int(optarg, 20, &rows)) return lh_cli_usage_error("sample", "--rows expects a number >= 20");
            break;
        case OPT_SEED:
            if (!lh_cli_parse_int(optarg, 0, &seed)) return lh_cli_usage_error("sample", "--seed expects a number");
            break;
        case OPT_OUT: out = optarg; break;
        case OPT_INGEST: ingest = true; break;
        default: return lh_cli_usage_error("sample", "unknown option");
        }
    }
    if (optind < argc) return lh_cli_usage_error("sample", "unexpected argument \"%s\"", argv[optind]);
    lh_config cfg;
    lh_app *app = NULL;
    int status = ingest ? lh_cli_open_app(&common, &cfg, &app) : lh_cli_load_config(&common, &cfg);
    lh_cli_common_free(&common);
    if (status) return status;
    char *dir = out ? lh_xstrdup(out) : lh_xasprintf("%s/_sample", cfg.storage_data_dir);
    lh_err err;
    lh_code rc = lh_sample_generate(dir, (long)rows, (uint64_t)seed, &err);
    if (rc == LH_OK) printf("generated %lld workers in %s\n", rows, dir);
    lh_who who = lh_cli_who("sample");
    for (int i = 0; rc == LH_OK && ingest && i < LH_SAMPLE_FILES; i++) {
        char *path = lh_xasprintf("%s/%s", dir, lh_sample_files[i]);
        char dataset[64];
        snprintf(dataset, sizeof dataset, "%s", lh_sample_files[i]);
        *strchr(dataset, '.') = '\0';
        lh_ingest_source src = {.path = path, .name = lh_sample_files[i]};
        lh_ingest_options o = {.dataset = dataset, .message = "sample data"};
        json_t *report;
        rc = lh_ingest(lh_app_ingester(app), &src, 1, &o, &who, &report, &err);
        if (rc == LH_OK) {
            printf("%-12s version %lld, %lld rows\n", dataset,
                   (long long)json_integer_value(json_object_get(report, "version")),
                   (long long)json_integer_value(json_object_get(report, "row_count")));
            json_decref(report);
        }
        free(path);
    }
    if (rc == LH_OK && ingest) {
        /* what AI readers see: workers_safe (proposed from the PII tags) and an agent bound to it */
        lh_op_ctx call = {.who = who};
        json_t *view = NULL, *made = NULL;
        json_t *ask = json_pack("{s:s}", "dataset", "workers");
        rc = lh_app_call(app, "views.suggest", ask, &call, &view, &err);
        if (rc == LH_OK) rc = lh_app_call(app, "views.create", view, &call, &made, &err);
        if (rc == LH_EEXIST) rc = LH_OK;
        json_decref(made);
        made = NULL;
        json_t *agent = json_pack("{s:s, s:s, s:s, s:[s], s:[s]}", "id", "agent", "kind", "agent", "description",
                                  "an AI reader of the sample: workers through workers_safe only", "scopes", "read",
                                  "views", "workers_safe");
        if (rc == LH_OK) rc = lh_app_call(app, "profiles.create", agent, &call, &made, &err);
        if (rc == LH_EEXIST) rc = LH_OK;
        if (rc == LH_OK) printf("workers_safe  a view of workers (names hashed, phones and emails masked), for profile agent\n");
        json_decref(made);
        json_decref(agent);
        json_decref(view);
        json_decref(ask);
    }
    status = rc ? lh_cli_fail("sample", &err) : 0;
    free(dir);
    if (app) lh_cli_close_app(&cfg, app);
    else lh_config_free(&cfg);
    return status;
}
