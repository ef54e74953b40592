/*
 * internal.h — the application state shared by the HTTP resource files.
 */
#ifndef LH_API_INTERNAL_H
#define LH_API_INTERNAL_H

#include <time.h>

#include "lakehouse/lh_api.h"

struct lh_app {
    char *data_dir;
    long long query_timeout_ms;
    long long query_max_rows;
    lh_query_engine *query;
    time_t started_at;
};

/* One registration function per resource family (one file each). */
void lh_api_system_routes(lh_app *app, lh_router *r); /* /health, /v1/version */

#endif
