/*
 * ingest.c — POST /v1/ingest: uploads (multipart/form-data file parts, or a
 * raw body named by ?filename=) become one new version of ?dataset=.
 * Options come as query parameters or form fields: dataset, mode, format,
 * skip_bad_rows, bucket, message. 201 when a version was made, 200 when
 * every input was already ingested.
 */
#include "internal.h"

#include "lakehouse/lh_mem.h"

#include <stdlib.h>
#include <string.h>

static const char *option(lh_http_req *req, const char *name)
{
    const char *v = lh_http_query(req, name);
    return v ? v : lh_http_form(req, name);
}

static bool truthy(const char *v)
{
    return v && (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes"));
}

static void post_ingest(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_app *app = ctx;
    lh_ingest_options o = {.dataset = option(req, "dataset"),
                           .format = option(req, "format"),
                           .bucket = option(req, "bucket"),
                           .message = option(req, "message"),
                           .skip_bad_rows = truthy(option(req, "skip_bad_rows")),
                           .timeout_ms = app->query_timeout_ms * 10};
    const char *mode = option(req, "mode");
    if (!o.dataset) {
        lh_http_res_errorf(res, LH_EINVAL, "?dataset=NAME is required");
        return;
    }
    if (mode && strcmp(mode, "append") != 0 && strcmp(mode, "replace") != 0) {
        lh_http_res_errorf(res, LH_EINVAL, "mode is append or replace, not \"%.20s\"", mode);
        return;
    }
    o.mode = mode && !strcmp(mode, "replace") ? LH_COMMIT_REPLACE : LH_COMMIT_APPEND;
    if (req->n_uploads == 0) {
        lh_http_res_errorf(res, LH_EINVAL,
                           "no file: send multipart/form-data with file parts, or the file as the body with ?filename=");
        return;
    }
    lh_ingest_source src[LH_HTTP_MAX_UPLOADS];
    for (size_t i = 0; i < req->n_uploads; i++)
        src[i] = (lh_ingest_source){.path = req->uploads[i].path, .name = req->uploads[i].filename};
    lh_who who = lh_api_who(req);
    json_t *report;
    lh_err err;
    if (lh_api_failed(res, lh_ingest(app->ingester, src, req->n_uploads, &o, &who, &report, &err), &err))
        return;
    lh_http_res_json(res, json_is_true(json_object_get(report, "new_version")) ? 201 : 200, report);
}

void lh_api_ingest_routes(lh_app *app, lh_router *r)
{
    lh_upload_options up = {.tmp_dir = app->tmp_dir, .max_bytes = (size_t)app->max_upload_bytes};
    lh_router_add_upload(r, "POST", "/v1/ingest", post_ingest, app, &up);
}
