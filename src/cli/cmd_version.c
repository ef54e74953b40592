/*
 * cmd_version.c — `lakehouse version`.
 */
#include "cli.h"

#include "lakehouse/lh_query.h"
#include "lakehouse/lh_version.h"

#include <stdio.h>
#include <string.h>

int cmd_version(int argc, char **argv)
{
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: lakehouse version [--json]\n\n"
                   "Prints the Lakehouse version, the git commit it was built from and the\n"
                   "DuckDB library version in use.\n");
            return 0;
        } else {
            return lh_cli_usage_error("version", "unexpected argument \"%s\"", argv[i]);
        }
    }
    if (json) { /* the operation needs no open system */
        json_t *out;
        lh_err err;
        if (lh_app_call(NULL, "system.version", NULL, NULL, &out, &err)) return lh_cli_fail("version", &err);
        lh_cli_print_json(out);
        json_decref(out);
    } else
        printf("lakehouse %s (commit %s, DuckDB %s)\n", lh_version(), lh_git_commit(),
               lh_query_duckdb_version());
    return 0;
}
