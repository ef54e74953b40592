/*
 * storage.c — raw object bytes: GET and PUT /v1/storage/buckets/{bucket}/object?key=.
 * (Listing and deleting are plain operations; the managed-prefix guard,
 * the journal and the rescue mirror live in the library.)
 */
#include "internal.h"

#include <stdlib.h>

void lh_api_object_get(lh_http_req *req, lh_http_res *res, void *ctx)
{
    const lh_api_binding *b = ctx;
    lh_op_ctx call;
    if (!lh_api_call(req, res, b, &call)) return;
    json_t *args = lh_api_args(req, res, b, false);
    if (!args) return;
    lh_buf body = {0};
    bool rescued = false;
    lh_err err;
    if (!lh_api_failed(res, lh_app_object_get(b->app, args, &call, &body, &rescued, &err), &err)) {
        size_t len = body.len;
        lh_http_res_bytes(res, 200, "application/octet-stream", lh_buf_detach(&body), len);
        if (rescued) lh_http_res_header(res, "X-Lakehouse-Rescue-Used", "1");
    }
    lh_buf_free(&body);
    json_decref(args);
}

void lh_api_object_put(lh_http_req *req, lh_http_res *res, void *ctx)
{
    const lh_api_binding *b = ctx;
    lh_op_ctx call;
    if (!lh_api_call(req, res, b, &call)) return;
    json_t *args = lh_api_args(req, res, b, false), *out;
    if (!args) return;
    lh_err err;
    if (!lh_api_failed(res, lh_app_object_put(b->app, args, req->body, req->body_len, NULL, &call, &out, &err), &err))
        lh_http_res_json(res, b->route->status, out);
    json_decref(args);
}
