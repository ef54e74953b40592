/*
 * cli.h — the subcommands of the `lakehouse` binary and what they share.
 *
 * One file per subcommand, each with a cmd_<name>(argc, argv) entry (argv[0]
 * is the subcommand's name). Commands only parse arguments and print; the
 * work is done by the library.
 */
#ifndef LH_CLI_H
#define LH_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "lakehouse/lh_app.h"
#include "lakehouse/lh_config.h"
#include "lakehouse/lh_mem.h"

int cmd_serve(int argc, char **argv);
int cmd_sql(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_catalog(int argc, char **argv);
int cmd_ingest(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_storage(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_view(int argc, char **argv);
int cmd_workspace(int argc, char **argv);
int cmd_journal(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_ask(int argc, char **argv);
int cmd_mcp(int argc, char **argv);
int cmd_draft(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_trial(int argc, char **argv);
int cmd_playbook(int argc, char **argv);
int cmd_pathway(int argc, char **argv);

/* Options shared by every command that reads configuration or data. */
enum { OPT_CONFIG = 1000, OPT_DATA, OPT_SET, OPT_LOG_LEVEL, OPT_FIRST_PRIVATE = 1100 };

#define LH_CLI_COMMON_OPTIONS                                                                      \
    {"config", required_argument, NULL, OPT_CONFIG}, {"data", required_argument, NULL, OPT_DATA}, \
        {"set", required_argument, NULL, OPT_SET},                                                 \
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL}, {"help", no_argument, NULL, 'h'}

#define LH_CLI_COMMON_HELP                                                                         \
    "  --config FILE        configuration file (default: $LAKEHOUSE_CONFIG or ./lakehouse.toml)\n" \
    "  --data DIR           data folder (storage.data_dir)\n"                                      \
    "  --set KEY=VALUE      override any setting, e.g. --set query.timeout_ms=5000\n"             \
    "  --log-level LEVEL    debug | info | warn | error (log.level)\n"                             \
    "  -h, --help           show this help\n"

#define LH_CLI_MAX_OVERRIDES 32

typedef struct lh_cli_common {
    const char *cmd; /* for messages: "serve" */
    const char *config_file;
    lh_config_override overrides[LH_CLI_MAX_OVERRIDES];
    size_t n_overrides;
    char *owned[LH_CLI_MAX_OVERRIDES]; /* strings split out of --set */
    size_t n_owned;
} lh_cli_common;

/* Records a flag that maps to a setting (e.g. --listen -> server.listen). */
void lh_cli_override(lh_cli_common *c, const char *key, const char *value, const char *origin);

/* Handles one of LH_CLI_COMMON_OPTIONS; false if opt is not one of them.
 * Exits with status 2 on a malformed --set. */
bool lh_cli_common_option(lh_cli_common *c, int opt, const char *arg);

/* Loads configuration with the recorded flags on top and configures logging.
 * Returns 0, or prints the error and returns the exit status to use. */
int lh_cli_load_config(lh_cli_common *c, lh_config *cfg);

void lh_cli_common_free(lh_cli_common *c);

/* Loads configuration and opens every module as `serve` does. Returns 0, or
 * prints the error and returns the exit status. */
int lh_cli_open_app(lh_cli_common *common, lh_config *cfg, lh_app **app);
void lh_cli_close_app(lh_config *cfg, lh_app *app);

/* The caller for manifests and the journal: --actor, else $USER; source "cli". */
lh_who lh_cli_who(const char *actor);
/* Acts as the profile of api_key (else $LAKEHOUSE_API_KEY) on the local data
 * folder, confined as over HTTP; neither: the local operator (admin). */
lh_code lh_cli_identify(lh_app *app, const char *api_key, lh_who *who, lh_err *err);

void lh_cli_print_json(const json_t *j); /* indented, to stdout */

/* Prints "lakehouse <cmd>: <message>" and returns the exit status for err. */
int lh_cli_fail(const char *cmd, const lh_err *err);
/* Writes a message to f with its control characters but newline and tab shown
 * as \xNN: messages quote input, and a terminal must not take it as commands. */
void lh_cli_put_message(FILE *f, const char *message);

/* A whole decimal number >= min; false on anything else. */
bool lh_cli_parse_int(const char *s, long long min, long long *out);

/* The OPT_* of a common flag's name ("data" -> OPT_DATA), or 0. */
int lh_cli_common_flag(const char *name);

/* How answers print: a table (the default), JSON, or a list as NDJSON / CSV. */
typedef enum lh_cli_output { LH_CLI_TABLE, LH_CLI_JSON, LH_CLI_NDJSON, LH_CLI_CSV } lh_cli_output;
bool lh_cli_output_parse(const char *s, lh_cli_output *out);
/* Prints op's answer (a list op: its items) in the format; a note on stderr when there is a next page. */
lh_code lh_cli_render(const lh_op *op, json_t *out, lh_cli_output format, lh_err *err);

/* The name in names nearest to word (a typo's suggestion), or NULL when none is close. */
const char *lh_cli_nearest(const char *word, const char *const *names, size_t n);
/* The flag of an action nearest to an unknown one, or NULL (ops.c; a static buffer). */
const char *lh_cli_suggest_flag(const void *action, const lh_op *op, const char *flag);

/* Draws a progress bar on stderr ("\r" redraws; a newline when done >= 1). */
void lh_cli_progress_bar(const char *label, double done);

/* Prints "lakehouse <cmd>: <message>" for a usage error and returns 2. */
int lh_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
