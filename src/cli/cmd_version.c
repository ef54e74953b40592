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
    if (json)
        printf("{\"version\":\"%s\",\"git_commit\":\"%s\",\"duckdb_version\":\"%s\"}\n",
               lh_version(), lh_git_commit(), lh_query_duckdb_version());
    else
        printf("lakehouse %s (commit %s, DuckDB %s)\n", lh_version(), lh_git_commit(),
               lh_query_duckdb_version());
    return 0;
}
