/*
 * cmd_journal.c — `lakehouse journal ...` and `lakehouse errors`: reading the journals.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_LIMIT = OPT_FIRST_PRIVATE, OPT_SINCE };

static void help(void)
{
    printf("usage: lakehouse journal <action> [arguments] [options]\n\n"
           "actions:\n"
           "  recent                   the newest mutation events\n"
           "  history ENTITY_ID        every event of one entity (e.g. a dataset name)\n"
           "  stats                    counts by action and entity type\n"
           "  errors [--since MS]      recorded failures (storage, ingest, providers)\n\n"
           "options:\n"
           "  --limit N            at most N events (default 50)\n"
           "  --since MS           errors at or after this time, in ms since the epoch\n" LH_CLI_COMMON_HELP);
}

int cmd_journal(int argc, char **argv)
{
    static const struct option options[] = {LH_CLI_COMMON_OPTIONS,
                                            {"limit", required_argument, NULL, OPT_LIMIT},
                                            {"since", required_argument, NULL, OPT_SINCE},
                                            {NULL, 0, NULL, 0}};
    lh_cli_common common = {.cmd = "journal"};
    long long limit = 50, since = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (lh_cli_common_option(&common, opt, optarg)) continue;
        switch (opt) {
        case 'h': help(); return 0;
        case OPT_LIMIT:
            if (!lh_cli_parse_int(optarg, 1, &limit))
                return lh_cli_usage_error("journal", "--limit expects a positive count");
            break;
        case OPT_SINCE:
            if (!lh_cli_parse_int(optarg, 0, &since)) return lh_cli_usage_error("journal", "--since expects milliseconds");
            break;
        default: return lh_cli_usage_error("journal", "unknown option");
        }
    }
    if (optind >= argc) return lh_cli_usage_error("journal", "missing action (recent, history, stats, errors)");
    const char *action = argv[optind];
    int nargs = argc - optind - 1;
    bool ok_args = ((!strcmp(action, "recent") || !strcmp(action, "stats") || !strcmp(action, "errors")) &&
                    nargs == 0) ||
                   (!strcmp(action, "history") && nargs == 1);
    if (!ok_args) return lh_cli_usage_error("journal", "bad action or arguments: %s", action);
    lh_config cfg;
    lh_app *app;
    int status = lh_cli_open_app(&common, &cfg, &app);
    lh_cli_common_free(&common);
    if (status) return status;
    json_t *out = NULL;
    lh_err err;
    lh_code rc;
    if (!strcmp(action, "recent")) rc = lh_journal_recent(lh_app_journal(app), NULL, (size_t)limit, &out, &err);
    else if (!strcmp(action, "history"))
        rc = lh_journal_recent(lh_app_journal(app), argv[optind + 1], (size_t)limit, &out, &err);
    else if (!strcmp(action, "stats")) rc = lh_journal_stats(lh_app_journal(app), &out, &err);
    else rc = lh_errors_query(lh_app_errors(app), since, (size_t)limit, &out, &err);
    if (out) {
        lh_cli_print_json(out);
        json_decref(out);
    }
    status = rc ? lh_cli_fail("journal", &err) : 0;
    lh_cli_close_app(&cfg, app);
    return status;
}
