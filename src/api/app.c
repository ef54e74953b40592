/*
 * app.c — opening and closing the modules of a server process, and its route table.
 */
#include "internal.h"

#include "lakehouse/lh_mem.h"

#include <stdlib.h>

lh_code lh_app_open(const lh_config *cfg, lh_app **out, lh_err *err)
{
    lh_app *app = lh_xcalloc(1, sizeof *app);
    app->data_dir = lh_xstrdup(cfg->storage_data_dir);
    app->query_timeout_ms = cfg->query_timeout_ms;
    app->query_max_rows = cfg->query_max_rows;
    app->started_at = time(NULL);
    lh_query_options qo = {.threads = (int)cfg->query_threads,
                           .memory_limit = cfg->query_memory_limit,
                           .connections = (int)cfg->query_connections};
    lh_code rc = lh_query_engine_open(&qo, &app->query, err);
    if (rc) {
        lh_app_close(app);
        return rc;
    }
    *out = app;
    return LH_OK;
}

void lh_app_close(lh_app *app)
{
    if (!app) return;
    lh_query_engine_close(app->query);
    free(app->data_dir);
    free(app);
}

lh_query_engine *lh_app_query_engine(lh_app *app)
{
    return app->query;
}

void lh_app_routes(lh_app *app, lh_router *r)
{
    lh_api_system_routes(app, r);
}
