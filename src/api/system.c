/*
 * system.c — GET /health: liveness and per-module readiness (503 when not ready).
 */
#include "internal.h"

#include <string.h>

void lh_api_health(lh_http_req *req, lh_http_res *res, void *ctx)
{
    (void)req;
    const lh_api_binding *b = ctx;
    bool ready;
    char *body = lh_app_health(b->app, &ready);
    lh_http_res_bytes(res, ready ? 200 : 503, "application/json", body, strlen(body));
}
