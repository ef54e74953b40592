/*
 * ui.c — the web UI's routes, request lifecycle (session, sign-in, CSRF,
 * security headers), layout and the helpers every page uses.
 *
 * A page handler calls ui_begin, appends to u->out through lh_html only, and
 * ends with ui_finish; what it shows comes from lh_app_call for the caller's
 * identity, so access is decided where it is for every edge.
 */
#include "internal.h"

#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_utf8.h"
#include "lakehouse/lh_version.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define COOKIE "lh_ui"
#define CSP                                                                                                        \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "               \
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

/* ---- request lifecycle ---- */

static const char *cookie_value(lh_http_req *req, const char *name)
{
    const char *h = lh_http_header(req, "Cookie");
    size_t n = strlen(name);
    for (const char *p = h; p && *p;) {
        while (*p == ' ' || *p == ';') p++;
        size_t len = strcspn(p, ";");
        if (len > n && !strncmp(p, name, n) && p[n] == '=') return lh_arena_strndup(req->arena, p + n + 1, len - n - 1);
        p += len;
    }
    return NULL;
}

const char *ui_session_cookie(lh_http_req *req)
{
    return cookie_value(req, COOKIE);
}

static void set_cookie(ui_req *u)
{
    char c[160];
    snprintf(c, sizeof c, COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict", u->sid);
    lh_http_res_header(u->res, "Set-Cookie", c);
}

void ui_security_headers(lh_http_res *res)
{
    lh_http_res_header(res, "Content-Security-Policy", CSP);
    lh_http_res_header(res, "X-Content-Type-Options", "nosniff");
    lh_http_res_header(res, "X-Frame-Options", "DENY");
    lh_http_res_header(res, "Referrer-Policy", "same-origin");
    lh_http_res_header(res, "Cache-Control", "no-store");
}

static void send(ui_req *u, int status)
{
    ui_security_headers(u->res);
    size_t len = u->out.len;
    char *body = lh_buf_detach(&u->out);
    lh_http_res_bytes(u->res, status, "text/html; charset=utf-8", body, len);
    json_decref(u->form);
    json_decref(u->form_all);
    u->form = u->form_all = NULL;
}

static void parse_form(ui_req *u)
{
    u->form = json_object();
    u->form_all = json_object();
    const char *ct = lh_http_header(u->req, "Content-Type");
    if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33)) return;
    for (const char *p = u->req->body; p && *p;) {
        size_t len = strcspn(p, "&");
        const char *eq = memchr(p, '=', len);
        char *name, *value;
        if (eq && lh_url_decode(u->req->arena, p, (size_t)(eq - p), true, &name) &&
            lh_url_decode(u->req->arena, eq + 1, len - (size_t)(eq - p) - 1, true, &value)) {
            json_t *all = json_object_get(u->form_all, name), *v = json_string(value);
            if (!v || !lh_utf8_valid(name, strlen(name))) { /* not UTF-8: as if absent */
                json_decref(v);
                p += len + (p[len] == '&');
                continue;
            }
            if (!all) json_object_set_new(u->form_all, name, all = json_array());
            json_array_append(all, v);
            json_object_set_new(u->form, name, v);
        }
        p += len + (p[len] == '&');
    }
}

json_t *ui_arg_all(ui_req *u, const char *name)
{
    if (strcmp(u->req->method, "POST") != 0) return NULL;
    if (!u->form) parse_form(u);
    return json_object_get(u->form_all, name);
}

const char *ui_arg(ui_req *u, const char *name)
{
    if (!strcmp(u->req->method, "POST")) {
        if (!u->form) parse_form(u);
        const char *v = json_string_value(json_object_get(u->form, name));
        if (v) return v;
        if ((v = lh_http_form(u->req, name))) return v; /* a multipart upload's text field */
    }
    return lh_http_query(u->req, name);
}

bool ui_begin(ui_req *u, lh_ui *ui, lh_http_req *req, lh_http_res *res, bool needs_key)
{
    *u = (ui_req){.ui = ui, .req = req, .res = res};
    u->call.who = (lh_who){.actor = "anonymous", .source = "ui"};
    const char *hx = lh_http_header(req, "HX-Request");
    u->fragment = hx && !strcmp(hx, "true") && !lh_http_header(req, "HX-Boosted");
    const char *sid = cookie_value(req, COOKIE);
    char *key = NULL;
    if (sid && ui_session_get(ui, sid, &key)) {
        snprintf(u->sid, sizeof u->sid, "%s", sid);
    } else {
        ui_session_new(ui, NULL, u->sid);
        set_cookie(u);
    }
    lh_ui_csrf_token(ui->secret, u->sid, u->csrf);
    if (!strcmp(req->method, "POST")) {
        const char *token = lh_http_header(req, "X-CSRF-Token");
        if (!token) token = ui_arg(u, "csrf");
        if (!lh_ui_csrf_check(ui->secret, sid, token)) {
            free(key);
            lh_html_raw(&u->out, "<p class=\"error\" role=\"alert\">This form has expired or did not come from this "
                                 "site (no valid CSRF token). Reload the page and try again.</p>");
            ui_finish(u, 403, "Refused", NULL);
            return false;
        }
    }
    if (!needs_key) {
        free(key);
        return true;
    }
    if (!key && lh_app_auth_required(ui->app)) {
        ui_redirect(u, "/ui/signin");
        return false;
    }
    char peer[64];
    lh_err err;
    char *authorization = key ? lh_arena_printf(req->arena, "Bearer %s", key) : NULL;
    if (key) sodium_memzero(key, strlen(key));
    free(key);
    lh_code rc = lh_app_authenticate(ui->app, authorization, lh_http_client_addr(req, peer, sizeof peer), &u->call.who, &err);
    if (authorization) sodium_memzero(authorization, strlen(authorization));
    if (rc == LH_EUNAUTHORIZED) { /* a revoked key: sign in again */
        ui_session_end(ui, u->sid);
        ui_redirect(u, "/ui/signin");
        return false;
    }
    if (rc) {
        ui_error_box(u, &err);
        ui_finish(u, lh_code_http_status(rc), "Error", NULL);
        return false;
    }
    u->call.who.source = "ui";
    u->signed_in = u->call.who.profile != NULL;
    return true;
}

void ui_end(ui_req *u)
{
    json_decref(u->form);
    json_decref(u->form_all);
    u->form = u->form_all = NULL;
    lh_buf_free(&u->out);
}

void ui_redirect(ui_req *u, const char *location)
{
    if (u->fragment) { /* htmx follows this instead of swapping the answer in */
        lh_http_res_header(u->res, "HX-Redirect", location);
        send(u, 200);
        return;
    }
    lh_http_res_header(u->res, "Location", location);
    send(u, 303);
}

void ui_finish_fragment(ui_req *u, int status)
{
    send(u, status);
}

static const char *const nav_items[][2] = {
    {"explore", "/"}, {"sql", "/ui/sql"}, {"ask", "/ui/ask"}, {"system", "/ui/system"},
    {"ingest", "/ui/ingest"}, {"indexes", "/ui/indexes"}};
static const char *const nav_labels[] = {"Explore", "SQL", "Ask", "System", "Ingest", "Indexes"};

void ui_finish(ui_req *u, int status, const char *title, const char *nav)
{
    if (u->fragment) {
        send(u, status);
        return;
    }
    lh_buf page = {0};
    lh_html_printf(&page,
                   "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                   "<title>%s · Lakehouse</title>"
                   "<meta name=\"csrf-token\" content=\"%s\">"
                   "<meta name=\"htmx-config\" content=\"{&quot;includeIndicatorStyles&quot;:false,"
                   "&quot;allowEval&quot;:false,&quot;allowScriptTags&quot;:false}\">"
                   "<link rel=\"icon\" href=\"%s\" type=\"image/svg+xml\"><link rel=\"stylesheet\" href=\"%s\">"
                   "<script src=\"%s\" defer></script><script src=\"%s\" defer></script>"
                   "<script src=\"%s\" defer></script><script src=\"%s\" defer></script>"
                   "<script src=\"%s\" defer></script>"
                   "</head><body><a class=\"skip\" href=\"#main\">Skip to content</a>"
                   "<header><nav aria-label=\"main\"><a class=\"brand\" href=\"/\">Lakehouse</a><ul>",
                   title, u->csrf, ui_asset_url("favicon.svg"), ui_asset_url("ui.css"), ui_asset_url("htmx.js"), ui_asset_url("chart.js"),
                   ui_asset_url("app.js"), ui_asset_url("ops.js"), ui_asset_url("alpine.js"));
    for (size_t i = 0; i < sizeof nav_labels / sizeof *nav_labels; i++) {
        if (nav && !strcmp(nav, nav_items[i][0]))
            lh_html_printf(&page, "<li><a href=\"%s\" aria-current=\"page\">%s</a></li>", nav_items[i][1], nav_labels[i]);
        else lh_html_printf(&page, "<li><a href=\"%s\">%s</a></li>", nav_items[i][1], nav_labels[i]);
    }
    lh_html_raw(&page, "</ul><div class=\"who\">");
    if (u->signed_in) {
        lh_html_printf(&page,
                       "<span>signed in as <strong>%s</strong></span>"
                       "<form method=\"post\" action=\"/ui/signout\"><input type=\"hidden\" name=\"csrf\" "
                       "value=\"%s\"><button type=\"submit\">Sign out</button></form>",
                       lh_profile_id(u->call.who.profile), u->csrf);
    } else if (!lh_app_auth_required(u->ui->app)) {
        lh_html_raw(&page, "<span>local operator</span>");
    }
    lh_html_raw(&page, "</div></nav></header><main id=\"main\">");
    lh_buf_append(&page, u->out.data ? u->out.data : "", u->out.len);
    lh_html_printf(&page, "</main><footer>Lakehouse %s · <a href=\"/v1\">HTTP API</a></footer></body></html>\n",
                   lh_version());
    lh_buf_free(&u->out);
    u->out = page;
    send(u, status);
}

/* ---- helpers ---- */

void ui_csrf_field(ui_req *u)
{
    lh_html_printf(&u->out, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", u->csrf);
}

void ui_error_box(ui_req *u, const lh_err *err)
{
    lh_html_printf(&u->out, "<div class=\"error\" role=\"alert\"><strong>%s</strong><pre>%s</pre></div>",
                   lh_code_name(err->code), err->message);
}

int ui_call(ui_req *u, const char *name, json_t *args, json_t **out)
{
    lh_err err;
    *out = NULL;
    lh_code rc = lh_app_call(u->ui->app, name, args, &u->call, out, &err);
    if (rc == LH_OK) return 0;
    ui_error_box(u, &err);
    return lh_code_http_status(rc);
}

void ui_value(lh_buf *b, json_t *v)
{
    if (!v || json_is_null(v)) return;
    if (json_is_string(v)) {
        lh_html_textn(b, json_string_value(v), json_string_length(v));
        return;
    }
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    lh_html_text(b, s);
    free(s);
}

void ui_result_table(lh_buf *b, json_t *columns, json_t *rows)
{
    size_t i, j;
    json_t *c, *row, *v;
    lh_html_raw(b, "<div class=\"table-wrap\"><table class=\"data\"><thead><tr>");
    json_array_foreach(columns, i, c) {
        lh_html_printf(b, "<th scope=\"col\">%s<small>%s</small></th>", json_string_value(json_object_get(c, "name")),
                       json_string_value(json_object_get(c, "type")));
    }
    lh_html_raw(b, "</tr></thead><tbody>");
    json_array_foreach(rows, i, row) {
        lh_html_raw(b, "<tr>");
        json_array_foreach(row, j, v) {
            lh_html_raw(b, json_is_number(v) ? "<td class=\"num\">" : "<td>");
            ui_value(b, v);
            lh_html_raw(b, "</td>");
        }
        lh_html_raw(b, "</tr>");
    }
    lh_html_raw(b, "</tbody></table></div>");
}

void ui_object_table(lh_buf *b, json_t *items, const char *const *columns)
{
    size_t i;
    json_t *item;
    const char *key;
    json_t *v;
    lh_html_raw(b, "<div class=\"table-wrap\"><table class=\"data\"><thead><tr>");
    if (columns) {
        for (const char *const *c = columns; *c; c++) lh_html_printf(b, "<th scope=\"col\">%s</th>", *c);
    } else {
        json_object_foreach(json_array_get(items, 0), key, v) lh_html_printf(b, "<th scope=\"col\">%s</th>", key);
    }
    lh_html_raw(b, "</tr></thead><tbody>");
    json_array_foreach(items, i, item) {
        lh_html_raw(b, "<tr>");
        if (columns) {
            for (const char *const *c = columns; *c; c++) {
                lh_html_raw(b, "<td>");
                ui_value(b, json_object_get(item, *c));
                lh_html_raw(b, "</td>");
            }
        } else {
            json_object_foreach(item, key, v) {
                lh_html_raw(b, "<td>");
                ui_value(b, v);
                lh_html_raw(b, "</td>");
            }
        }
        lh_html_raw(b, "</tr>");
    }
    lh_html_raw(b, "</tbody></table></div>");
}

/* ---- sign-in ---- */

static void signin_form(ui_req *u, const char *error)
{
    lh_html_raw(&u->out, "<h1>Sign in</h1><p>This server needs an API key "
                         "(<code>lakehouse profile key-create PROFILE</code> makes one).</p>");
    if (error) lh_html_printf(&u->out, "<div class=\"error\" role=\"alert\">%s</div>", error);
    lh_html_raw(&u->out, "<form method=\"post\" action=\"/ui/signin\" class=\"signin\">");
    ui_csrf_field(u);
    lh_html_raw(&u->out, "<label for=\"key\">API key</label><input id=\"key\" name=\"key\" type=\"password\" "
                         "autocomplete=\"current-password\" required autofocus>"
                         "<button type=\"submit\">Sign in</button></form>");
}

static void page_signin(lh_http_req *req, lh_http_res *res, void *ctx)
{
    ui_req u;
    if (!ui_begin(&u, ctx, req, res, false)) return;
    signin_form(&u, NULL);
    ui_finish(&u, 200, "Sign in", NULL);
}

static void post_signin(lh_http_req *req, lh_http_res *res, void *ctx)
{
    ui_req u;
    if (!ui_begin(&u, ctx, req, res, false)) return;
    const char *key = ui_arg(&u, "key");
    char peer[64];
    lh_err err;
    lh_who who = {.actor = "anonymous", .source = "ui"};
    char *authorization = lh_arena_printf(req->arena, "Bearer %s", key ? key : "");
    lh_code rc = key && *key ? lh_app_authenticate(u.ui->app, authorization, lh_http_client_addr(req, peer, sizeof peer),
                                                   &who, &err)
                             : lh_err_set(&err, LH_EUNAUTHORIZED, "an API key is required");
    if (rc == LH_OK && !who.profile) rc = lh_err_set(&err, LH_EUNAUTHORIZED, "that is not an API key");
    if (rc) {
        signin_form(&u, err.message);
        ui_finish(&u, lh_code_http_status(rc), "Sign in", NULL);
        return;
    }
    ui_session_end(u.ui, u.sid); /* a new id at sign-in: no fixation */
    ui_session_new(u.ui, key, u.sid);
    set_cookie(&u);
    ui_redirect(&u, "/");
}

static void post_signout(lh_http_req *req, lh_http_res *res, void *ctx)
{
    ui_req u;
    if (!ui_begin(&u, ctx, req, res, false)) return;
    ui_session_end(u.ui, u.sid);
    ui_session_new(u.ui, NULL, u.sid);
    set_cookie(&u);
    ui_redirect(&u, lh_app_auth_required(u.ui->app) ? "/ui/signin" : "/");
}

/* ---- assets ---- */

static void get_asset(lh_http_req *req, lh_http_res *res, void *ctx)
{
    (void)ctx;
    const ui_asset *a = ui_asset_find_hashed(lh_http_param(req, "file"));
    if (!a) {
        lh_http_res_errorf(res, LH_ENOTFOUND, "no such asset");
        return;
    }
    char *copy = lh_xmalloc(a->len ? a->len : 1);
    memcpy(copy, a->data, a->len);
    lh_http_res_header(res, "Cache-Control", "public, max-age=31536000, immutable");
    lh_http_res_header(res, "X-Content-Type-Options", "nosniff");
    lh_http_res_bytes(res, 200, a->type, copy, a->len);
}

/* ---- registration ---- */

static void ui_free(void *p)
{
    lh_ui *ui = p;
    while (ui->n_sessions) ui_session_end(ui, ui->sessions[0].id);
    free(ui->sessions);
    pthread_mutex_destroy(&ui->mu);
    sodium_memzero(ui->secret, sizeof ui->secret);
    free(ui);
}

void lh_ui_register(lh_app *app, const lh_config *cfg, lh_router *r)
{
    (void)cfg;
    lh_ui *ui = lh_xcalloc(1, sizeof *ui);
    ui->app = app;
    randombytes_buf(ui->secret, sizeof ui->secret);
    pthread_mutex_init(&ui->mu, NULL);
    ui->sessions = lh_xcalloc(LH_UI_MAX_SESSIONS, sizeof *ui->sessions);
    lh_router_keep_fn(r, ui, ui_free); /* with the router: sessions (their keys wiped), the secret */
    lh_router_add(r, "GET", "/ui/assets/{file}", get_asset, ui);
    lh_router_mark_inline(r);
    lh_router_add(r, "GET", "/ui/signin", page_signin, ui);
    lh_router_add(r, "POST", "/ui/signin", post_signin, ui);
    lh_router_add(r, "POST", "/ui/signout", post_signout, ui);
    lh_router_add(r, "GET", "/", ui_page_datasets, ui);
    lh_router_add(r, "GET", "/ui/datasets", ui_page_datasets, ui);
    lh_router_add(r, "GET", "/ui/datasets/{name}", ui_page_dataset, ui);
    lh_router_add(r, "GET", "/ui/datasets/{name}/preview", ui_page_preview, ui);
    lh_router_add(r, "GET", "/ui/datasets/{name}/diff", ui_page_diff, ui);
    lh_router_add(r, "POST", "/ui/datasets/{name}/rollback", ui_post_rollback, ui);
    lh_router_add(r, "GET", "/ui/datasets/{name}/facets", ui_page_facets, ui);
    lh_router_add(r, "POST", "/ui/datasets/{name}/tombstone", ui_post_tombstone, ui);
    lh_router_add(r, "GET", "/ui/sql", ui_page_sql, ui);
    lh_router_add(r, "POST", "/ui/sql", ui_page_sql, ui);
    lh_router_add(r, "POST", "/ui/sql/export", ui_post_sql_export, ui);
    lh_router_add(r, "GET", "/ui/ask", ui_page_ask, ui);
    lh_router_add(r, "POST", "/ui/ask", ui_page_ask, ui);
    lh_router_add(r, "GET", "/ui/system", ui_page_system, ui);
    lh_router_add(r, "GET", "/ui/system/journal", ui_page_journal, ui);
    lh_router_add(r, "GET", "/ui/system/jobs", ui_page_jobs, ui);
    /* Ingest and Indexes (ingest.c, indexes.c) and the jobs they run (jobs.c) */
    ui->jobs = ui_jobs_new();
    lh_router_keep(r, ui->jobs);
    lh_upload_options up = {.tmp_dir = lh_app_tmp_dir(app), .max_bytes = (size_t)lh_app_max_upload_bytes(app),
                            .admit = ui_ingest_admit};
    lh_router_add(r, "GET", "/ui/ingest", ui_page_ingest, ui);
    lh_router_add_upload(r, "POST", "/ui/ingest", ui_post_ingest, ui, &up);
    lh_router_add(r, "GET", "/ui/jobs/{id}/events", ui_page_job_events, ui);
    lh_router_add(r, "GET", "/ui/indexes", ui_page_indexes, ui);
    lh_router_add(r, "GET", "/ui/indexes/{name}", ui_page_index, ui);
    lh_router_add(r, "GET", "/ui/indexes/{name}/search", ui_page_index_search, ui);
    lh_router_add(r, "POST", "/ui/indexes/{name}/refresh", ui_post_index_refresh, ui);
    lh_router_add(r, "POST", "/ui/indexes/{name}/rollback", ui_post_index_rollback, ui);
}
