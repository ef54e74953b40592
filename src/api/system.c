/*
 * system.c — GET /health: liveness and per-module readiness (503 when not ready).
 */
#include "internal.h"

void lh_api_health(lh_http_req *req, lh_http_res *res, void *ctx)
{
    (void)req;
    const lh_api_binding *b = ctx;
    bool ready;
    json_t *body = lh_app_health(b->app, &ready);
    lh_http_res_json(res, ready ? 200 : 503, body);
}
