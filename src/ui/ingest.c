/*
 * ingest.c — the Ingest page: a file (dropped, or chosen in a plain form
 * that works without JavaScript) becomes a new version of a new or existing
 * dataset, with its progress live over server-sent events (jobs.c), then
 * the result: the version made, its schema changes against the previous
 * version and the rows rejected when skip_bad_rows was chosen.
 *
 * POST /ui/ingest is an upload route like POST /v1/ingest (the body goes to
 * temp files, up to ingest.max_upload_bytes, 413 above); the handler checks
 * the fields against operation "ingest" (lh_op_check) and calls
 * lh_app_ingest, which authorizes and checks the dataset's name, as the HTTP
 * edge does. What the page shows after comes from catalog.show (the
 * previous version) and catalog.diff.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* The datasets the caller may ingest into (for the name field's choices). */
static json_t *ingestable(ui_req *u)
{
    json_t *args = json_pack("{s:i}", "limit", LH_OP_LIST_MAX), *out = NULL, *names = json_array();
    lh_err err;
    if (lh_app_call(u->ui->app, "catalog.list", args, &u->call, &out, &err) == LH_OK) {
        size_t i;
        json_t *d;
        json_array_foreach(json_object_get(out, "datasets"), i, d) {
            json_t *probe = json_pack("{s:O}", "dataset", json_object_get(d, "name"));
            if (lh_app_may("ingest", probe, &u->call.who)) json_array_append(names, json_object_get(d, "name"));
            json_decref(probe);
        }
    }
    json_decref(args);
    json_decref(out);
    return names;
}

static void ingest_form(ui_req *u, json_t *names, bool may_new)
{
    long long max = lh_app_max_upload_bytes(u->ui->app);
    lh_html_printf(&u->out,
                   "<form id=\"ingest-form\" class=\"ingest-form\" method=\"post\" action=\"/ui/ingest\" "
                   "enctype=\"multipart/form-data\" hx-post=\"/ui/ingest\" hx-encoding=\"multipart/form-data\" "
                   "hx-target=\"#ingest-result\" hx-swap=\"innerHTML\" data-job=\"#ingest-progress\" "
                   "data-max-bytes=\"%lld\">",
                   max);
    ui_csrf_field(u);
    lh_html_raw(&u->out, "<div class=\"field\"><label for=\"dataset\">Dataset</label>"
                         "<input id=\"dataset\" name=\"dataset\" list=\"ingest-datasets\" required autocomplete=\"off\" "
                         "spellcheck=\"false\" placeholder=\"");
    lh_html_raw(&u->out, may_new ? "a new or an existing dataset" : "one of your datasets");
    lh_html_raw(&u->out, "\"><datalist id=\"ingest-datasets\">");
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n) lh_html_printf(&u->out, "<option value=\"%s\">", json_string_value(n));
    lh_html_printf(&u->out,
                   "</datalist></div>"
                   "<div class=\"dropzone\" x-data=\"dropZone\" x-bind:class=\"zoneClass\" "
                   "x-on:dragover=\"over\" x-on:dragenter=\"over\" x-on:dragleave=\"leave\" x-on:drop=\"drop\">"
                   "<label for=\"file\">Drop a file here, or choose one</label>"
                   "<input id=\"file\" name=\"file\" type=\"file\" required x-on:change=\"picked\">"
                   "<span class=\"file-name\" x-text=\"fileName\"></span>"
                   "<small class=\"muted\">CSV, TSV, JSON, NDJSON, Parquet, text, Markdown or PDF; up to %lld %s</small>"
                   "</div>"
                   "<fieldset class=\"options\"><legend>Options</legend>"
                   "<label for=\"ingest-mode\">mode</label><select id=\"ingest-mode\" name=\"mode\">",
                   max >= (1 << 20) ? max >> 20 : max >> 10, max >= (1 << 20) ? "MiB" : "KiB");
    for (const char *const *m = lh_op_choices_commit_mode; *m; m++) lh_html_printf(&u->out, "<option>%s</option>", *m);
    lh_html_raw(&u->out, "</select><label><input type=\"checkbox\" name=\"skip_bad_rows\" value=\"true\"> "
                         "skip bad rows (and list them)</label>"
                         "<label for=\"ingest-message\">message</label><input id=\"ingest-message\" name=\"message\" "
                         "autocomplete=\"off\"></fieldset><button type=\"submit\">Ingest</button></form>"
                         "<div id=\"ingest-progress\" class=\"job-progress\" hidden><progress max=\"100\" value=\"0\">"
                         "</progress> <span class=\"job-status\" aria-live=\"polite\"></span></div>");
}

/* The heading and the form, or a note for a profile that may not ingest
 * (asked ahead with lh_app_may: an existing dataset, or a new name, which
 * only a profile bound to every dataset may use). */
static void page_top(ui_req *u)
{
    json_t *names = ingestable(u);
    json_t *probe = json_pack("{s:s}", "dataset", "a_new_dataset");
    bool may_new = lh_app_may("ingest", probe, &u->call.who);
    json_decref(probe);
    lh_html_raw(&u->out, "<h1>Ingest</h1>");
    if (may_new || json_array_size(names)) {
        ingest_form(u, names, may_new);
    } else {
        lh_html_printf(&u->out, "<p class=\"note\">Profile <strong>%s</strong> may not ingest into any dataset.</p>",
                       u->call.who.profile ? lh_profile_id(u->call.who.profile) : u->call.who.actor);
    }
    json_decref(names);
}

void ui_page_ingest(lh_http_req *req, lh_http_res *res, void *ctx)
{
    ui_req u;
    if (!ui_begin(&u, ctx, req, res, true)) return;
    page_top(&u);
    lh_html_raw(&u.out, "<div id=\"ingest-result\"></div>");
    ui_finish(&u, 200, "Ingest", "ingest");
}

bool ui_ingest_admit(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_ui *ui = ctx;
    if (!lh_app_auth_required(ui->app)) return true;
    char *key = NULL;
    const char *sid = ui_session_cookie(req);
    bool signed_in = sid && ui_session_get(ui, sid, &key) && key;
    free(key);
    if (!signed_in) lh_http_res_errorf(res, LH_EUNAUTHORIZED, "sign in at /ui/signin first");
    return signed_in;
}

/* ---- the result ---- */

static void schema_changes(ui_req *u, json_t *diff)
{
    static const char *const kinds[] = {"added", "removed", "changed"};
    json_t *schema = json_object_get(diff, "schema");
    size_t total = 0;
    for (size_t k = 0; k < 3; k++) total += json_array_size(json_object_get(schema, kinds[k]));
    lh_html_printf(&u->out,
                   "<h3>Changes from v%lld</h3><p><span class=\"added\" data-diff=\"rows_added\">+%lld rows</span> "
                   "<span class=\"removed\" data-diff=\"rows_removed\">−%lld rows</span></p>",
                   (long long)json_integer_value(json_object_get(diff, "from")),
                   (long long)json_integer_value(json_object_get(diff, "rows_added")),
                   (long long)json_integer_value(json_object_get(diff, "rows_removed")));
    if (!total) {
        lh_html_raw(&u->out, "<p class=\"muted schema-changes\">No schema changes.</p>");
        return;
    }
    lh_html_raw(&u->out, "<table class=\"data schema-changes\"><thead><tr><th scope=\"col\">change</th>"
                         "<th scope=\"col\">column</th><th scope=\"col\">type</th></tr></thead><tbody>");
    for (size_t k = 0; k < 3; k++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(schema, kinds[k]), i, c) {
            json_t *type = json_object_get(c, "type");
            lh_html_printf(&u->out, "<tr class=\"%s\"><td>%s</td><td>%s</td><td><code>", kinds[k], kinds[k],
                           json_string_value(json_object_get(c, "name")));
            if (json_is_string(type)) ui_value(&u->out, type);
            else { /* changed: from -> to */
                ui_value(&u->out, json_object_get(c, "from"));
                lh_html_raw(&u->out, " → ");
                ui_value(&u->out, json_object_get(c, "to"));
            }
            lh_html_raw(&u->out, "</code></td></tr>");
        }
    }
    lh_html_raw(&u->out, "</tbody></table>");
}

static void result_section(ui_req *u, const char *dataset, json_t *report, bool skip_bad_rows)
{
    long long version = json_integer_value(json_object_get(report, "version"));
    const char *enc = lh_html_url_encode(u->req->arena, dataset);
    lh_html_printf(&u->out,
                   "<section class=\"ingest-result\" data-version=\"%lld\"><h2>%s <a href=\"/ui/datasets/%s?version=%lld\">"
                   "v%lld</a></h2><dl class=\"facts\"><dt>rows</dt><dd data-fact=\"row_count\">%lld</dd></dl>",
                   version, dataset, enc, version, version,
                   (long long)json_integer_value(json_object_get(report, "row_count")));
    if (!json_is_true(json_object_get(report, "new_version")))
        lh_html_raw(&u->out, "<p class=\"note\">Nothing new: these bytes were ingested before, so no version was made.</p>");
    static const char *const cols[] = {"name", "format", "bytes", "rows", "rejected_rows", "status", NULL};
    ui_object_table(&u->out, json_object_get(report, "sources"), cols);
    if (json_is_true(json_object_get(report, "new_version")) && version > 1) {
        json_t *args = json_pack("{s:s, s:I, s:I, s:i}", "name", dataset, "from", (json_int_t)(version - 1), "to",
                                 (json_int_t)version, "limit", 1),
               *diff;
        if (ui_call(u, "catalog.diff", args, &diff) == 0) schema_changes(u, diff);
        json_decref(args);
        json_decref(diff);
    }
    json_t *rejects = json_object_get(report, "rejects");
    if (skip_bad_rows || json_array_size(rejects)) {
        lh_html_printf(&u->out, "<h3>Rejected rows</h3>");
        if (!json_array_size(rejects)) {
            lh_html_raw(&u->out, "<p class=\"muted rejects\">None: every row was read.</p>");
        } else {
            static const char *const rcols[] = {"source", "line", "kind", "error", NULL};
            lh_html_raw(&u->out, "<div class=\"rejects\">");
            ui_object_table(&u->out, rejects, rcols);
            lh_html_raw(&u->out, "</div>");
        }
    }
    lh_html_raw(&u->out, "</section>");
}

/* The fields of the form as arguments of operation "ingest" (empty ones left out). */
static json_t *ingest_args(ui_req *u, bool *skip_bad_rows)
{
    json_t *args = json_object();
    const char *dataset = ui_arg(u, "dataset"), *mode = ui_arg(u, "mode"), *message = ui_arg(u, "message");
    const char *skip = ui_arg(u, "skip_bad_rows");
    if (dataset) json_object_set_new(args, "dataset", json_string(dataset));
    if (mode && *mode) json_object_set_new(args, "mode", json_string(mode));
    if (message && *message) json_object_set_new(args, "message", json_string(message));
    *skip_bad_rows = skip && (!strcmp(skip, "true") || !strcmp(skip, "on"));
    if (*skip_bad_rows) json_object_set_new(args, "skip_bad_rows", json_true());
    return args;
}

void ui_post_ingest(lh_http_req *req, lh_http_res *res, void *ctx)
{
    ui_req u;
    if (!ui_begin(&u, ctx, req, res, true)) return;
    bool skip_bad_rows;
    json_t *args = ingest_args(&u, &skip_bad_rows), *report = NULL;
    /* a form without a chosen file still sends an empty, unnamed part */
    lh_ingest_source src[LH_HTTP_MAX_UPLOADS];
    size_t n = 0;
    long long bytes = 0;
    for (size_t i = 0; i < req->n_uploads; i++) {
        if (!req->uploads[i].filename || (!*req->uploads[i].filename && !req->uploads[i].size)) continue;
        src[n++] = (lh_ingest_source){.path = req->uploads[i].path, .name = req->uploads[i].filename};
        bytes += (long long)req->uploads[i].size;
    }
    lh_err err;
    const lh_op *op = lh_op_find("ingest");
    lh_code rc = lh_op_check(op, args, &err);
    if (rc == LH_OK && !n) rc = lh_err_set(&err, LH_EINVAL, "no file: choose or drop a file to ingest");
    const char *dataset = lh_op_str(args, "dataset");
    ui_job *job = NULL;
    if (rc == LH_OK) {
        job = ui_job_start(u.ui, u.sid, ui_arg(&u, "job"), "ingest", dataset, u.call.who.actor, bytes);
        u.call.progress = job ? ui_job_progress : NULL;
        u.call.progress_ctx = job;
        rc = lh_app_ingest(u.ui->app, args, src, n, &u.call, &report, &err);
        u.call.progress = NULL;
        u.call.progress_ctx = NULL;
    }
    long long version = rc ? 0 : json_integer_value(json_object_get(report, "version"));
    ui_job_finish(job, rc == LH_OK, rc ? err.message : NULL, version);
    if (!u.fragment) {
        page_top(&u);
        lh_html_raw(&u.out, "<div id=\"ingest-result\">");
    }
    int status;
    if (rc) {
        ui_error_box(&u, &err);
        status = lh_code_http_status(rc);
    } else {
        result_section(&u, dataset, report, skip_bad_rows);
        status = json_is_true(json_object_get(report, "new_version")) ? 201 : 200;
    }
    if (!u.fragment) lh_html_raw(&u.out, "</div>");
    json_decref(report);
    json_decref(args);
    ui_finish(&u, status, "Ingest", "ingest");
}
