/*
 * ingest.c — POST /v1/ingest: uploads (multipart/form-data file parts, or a
 * raw body named by ?filename=) become one new version of ?dataset=. The
 * options of operation "ingest" come as query parameters or form fields.
 * 201 when a version was made, 200 when every input was already ingested.
 */
#include "internal.h"

void lh_api_ingest(lh_http_req *req, lh_http_res *res, void *ctx)
{
    const lh_api_binding *b = ctx;
    lh_op_ctx call;
    if (!lh_api_call(req, res, b, &call)) return;
    json_t *args = lh_api_args(req, res, b, false), *report;
    if (!args) return;
    lh_ingest_source src[LH_HTTP_MAX_UPLOADS];
    for (size_t i = 0; i < req->n_uploads; i++)
        src[i] = (lh_ingest_source){.path = req->uploads[i].path, .name = req->uploads[i].filename};
    lh_err err;
    lh_code rc = lh_app_ingest(b->app, args, src, req->n_uploads, &call, &report, &err);
    if (rc == LH_EINVAL && req->n_uploads == 0)
        lh_err_set(&err, LH_EINVAL, "no file: send multipart/form-data with file parts, or the file as the body with ?filename=");
    if (!lh_api_failed(res, rc, &err))
        lh_http_res_json(res, json_is_true(json_object_get(report, "new_version")) ? 201 : 200, report);
    json_decref(args);
}
