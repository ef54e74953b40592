/*
 * app_cli.c — what data-touching commands share: opening the application the
 * way `serve` does, the caller's identity, and printing JSON.
 */
#include "cli.h"

#include "lakehouse/lh_json.h"
#include "lakehouse/lh_log.h"
#include "lakehouse/lh_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lh_cli_open_app(lh_cli_common *common, lh_config *cfg, lh_app **app)
{
    int status = lh_cli_load_config(common, cfg);
    if (status) return status;
    lh_err err;
    if (lh_app_open(cfg, app, &err)) {
        status = lh_cli_fail(common->cmd, &err);
        lh_config_free(cfg);
        return status;
    }
    return 0;
}

void lh_cli_close_app(lh_config *cfg, lh_app *app)
{
    lh_app_close(app);
    lh_config_free(cfg);
}

lh_who lh_cli_who(const char *actor)
{
    if (!actor || !*actor) actor = getenv("USER");
    return (lh_who){.actor = actor && *actor ? actor : "cli", .source = "cli"};
}

lh_code lh_cli_identify(lh_app *app, const char *api_key, lh_who *who, lh_err *err)
{
    if (!api_key || !*api_key) api_key = getenv("LAKEHOUSE_API_KEY");
    if (!api_key || !*api_key) return LH_OK; /* the local operator */
    char *bearer = lh_xasprintf("Bearer %s", api_key);
    lh_code rc = lh_app_authenticate(app, bearer, "cli", who, err);
    free(bearer);
    return rc;
}

void lh_cli_print_json(const json_t *j)
{
    char *text = lh_json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (text) {
        fputs(text, stdout);
        fputc('\n', stdout);
    }
    free(text);
}
