/*
 * sql.c — the SQL page: an editor (Ctrl+Enter runs it), the result as a
 * table paged by the sql operation's offset, the engine's error with the
 * place it points at marked (lh_query_error_position), CSV and Parquet
 * downloads of the whole result, a chart drawn by app.js from the columns'
 * types (the data travels in an escaped data-chart attribute), and the
 * caller's recent statements (sql.history).
 */
#include "internal.h"

#include "lakehouse/lh_api.h"
#include "lakehouse/lh_query.h"

#include <stdlib.h>
#include <string.h>

/* A small form that re-posts the statement: a page (offset) or a download. */
static void repost_form(ui_req *u, const char *sql, const char *action, bool htmx, const char *field, const char *value,
                        const char *label)
{
    lh_html_printf(&u->out, "<form method=\"post\" action=\"%s\" class=\"inline\"", action);
    if (htmx) lh_html_printf(&u->out, " hx-post=\"%s\" hx-target=\"#sql-result\" hx-swap=\"outerHTML\"", action);
    lh_html_raw(&u->out, ">");
    ui_csrf_field(u);
    lh_html_printf(&u->out,
                   "<input type=\"hidden\" name=\"sql\" value=\"%s\"><input type=\"hidden\" name=\"%s\" value=\"%s\">"
                   "<button type=\"submit\" class=\"secondary\">%s</button></form>",
                   sql, field, value, label);
}

/* The statement's line holding byte `at`, the token there marked. */
static void error_place(ui_req *u, const char *sql, size_t at)
{
    const char *line = sql + at;
    while (line > sql && line[-1] != '\n') line--;
    size_t before = (size_t)(sql + at - line), token = 0, rest;
    while (sql[at + token] && (sql[at + token] == '_' || (unsigned char)sql[at + token] >= 0x80 ||
                               (sql[at + token] >= '0' && sql[at + token] <= '9') ||
                               ((sql[at + token] | 0x20) >= 'a' && (sql[at + token] | 0x20) <= 'z')))
        token++;
    if (!token && sql[at] && sql[at] != '\n') token = 1;
    rest = strcspn(sql + at + token, "\n");
    int lineno = 1;
    for (const char *p = sql; p < line; p++) lineno += *p == '\n';
    lh_html_printf(&u->out, "<p class=\"muted\">at line %d, column %zu:</p><pre class=\"sql-at\"><code>", lineno, before + 1);
    lh_html_textn(&u->out, line, before);
    lh_html_raw(&u->out, "<mark>");
    lh_html_textn(&u->out, sql + at, token);
    lh_html_raw(&u->out, "</mark>");
    lh_html_textn(&u->out, sql + at + token, rest);
    lh_html_raw(&u->out, "</code></pre>");
}

/* The caller's recent statements; out-of-band too when a run refreshes them. */
static void history(ui_req *u, bool oob)
{
    json_t *args = json_pack("{s:i}", "limit", 20), *out = NULL;
    lh_err err;
    lh_code rc = lh_app_call(u->ui->app, "sql.history", args, &u->call, &out, &err);
    json_decref(args);
    lh_html_raw(&u->out, oob ? "<section id=\"sql-history\" hx-swap-oob=\"true\"><h2>Recent statements</h2>"
                             : "<section id=\"sql-history\"><h2>Recent statements</h2>");
    json_t *list = rc ? NULL : json_object_get(out, "statements");
    if (!json_array_size(list)) lh_html_raw(&u->out, "<p class=\"muted\">None yet.</p>");
    else lh_html_raw(&u->out, "<ol class=\"history\">");
    size_t i;
    json_t *s;
    json_array_foreach(list, i, s) {
        const char *sql = json_string_value(json_object_get(s, "sql"));
        lh_html_printf(&u->out, "<li><a href=\"/ui/sql?sql=%s\"><code>%s</code></a> <time class=\"muted\">%s</time></li>",
                       lh_html_url_encode(u->req->arena, sql), sql, json_string_value(json_object_get(s, "at")));
    }
    if (json_array_size(list)) lh_html_raw(&u->out, "</ol>");
    lh_html_raw(&u->out, "</section>");
    json_decref(out);
}

static void result(ui_req *u, const char *sql, long long offset)
{
    json_t *args = json_pack("{s:s, s:i, s:I}", "sql", sql, "max_rows", LH_UI_SQL_ROWS, "offset", (json_int_t)offset), *out;
    lh_err err;
    lh_code rc = lh_app_call(u->ui->app, "sql", args, &u->call, &out, &err);
    json_decref(args);
    size_t at;
    if (rc) {
        bool placed = lh_query_error_position(err.message, sql, &at);
        if (placed) lh_html_printf(&u->out, "<div id=\"sql-result\" data-error-offset=\"%zu\">", at);
        else lh_html_raw(&u->out, "<div id=\"sql-result\">");
        ui_error_box(u, &err);
        if (placed) error_place(u, sql, at);
        lh_html_raw(&u->out, "</div>");
        return;
    }
    lh_html_raw(&u->out, "<div id=\"sql-result\">");
    json_t *columns = json_object_get(out, "columns"), *rows = json_object_get(out, "rows");
    long long n = (long long)json_array_size(rows);
    bool more = json_is_true(json_object_get(out, "truncated"));
    lh_html_printf(&u->out, "<p class=\"muted\">rows <span data-first>%lld</span>–<span data-last>%lld</span>%s in %g ms</p>",
                   n ? offset + 1 : 0, offset + n, more ? " (more follow)" : "",
                   json_number_value(json_object_get(out, "elapsed_ms")));
    lh_html_raw(&u->out, "<div class=\"exports\">");
    repost_form(u, sql, "/ui/sql/export", false, "format", "csv", "Download CSV");
    repost_form(u, sql, "/ui/sql/export", false, "format", "parquet", "Download Parquet");
    lh_html_raw(&u->out, "</div>");
    if (json_array_size(columns) >= 2 && n) {
        json_t *data = json_pack("{s:O, s:O}", "columns", columns, "rows", rows);
        char *text = json_dumps(data, JSON_COMPACT);
        lh_html_printf(&u->out,
                       "<figure class=\"chart\" x-data=\"chartPanel\" data-chart=\"%s\">"
                       "<label for=\"chart-kind\">Chart</label><select id=\"chart-kind\" "
                       "@change=\"draw\"><option value=\"auto\">auto</option><option value=\"bar\">bar</option>"
                       "<option value=\"line\">line</option><option value=\"scatter\">scatter</option></select>"
                       "<canvas role=\"img\" aria-label=\"chart of the result\"></canvas></figure>",
                       text);
        free(text);
        json_decref(data);
    }
    ui_result_table(&u->out, columns, rows);
    json_decref(out);
    lh_html_raw(&u->out, "<nav class=\"pager\" aria-label=\"result pages\">");
    char page[32];
    if (offset > 0) {
        snprintf(page, sizeof page, "%lld", offset > LH_UI_SQL_ROWS ? offset - LH_UI_SQL_ROWS : 0);
        repost_form(u, sql, "/ui/sql", true, "offset", page, "← previous");
    }
    if (more) {
        snprintf(page, sizeof page, "%lld", offset + n);
        repost_form(u, sql, "/ui/sql", true, "offset", page, "next →");
    }
    lh_html_raw(&u->out, "</nav></div>");
}

void ui_page_sql(lh_http_req *req, lh_http_res *res, void *ctx)
{
    ui_req u;
    if (!ui_begin(&u, ctx, req, res, true)) return;
    const char *sql = ui_arg(&u, "sql"), *off = ui_arg(&u, "offset");
    long long offset = off ? strtoll(off, NULL, 10) : 0;
    if (offset < 0) offset = 0;
    bool run = !strcmp(req->method, "POST") && sql && *sql;
    if (u.fragment && run) {
        result(&u, sql, offset);
        history(&u, true);
        ui_finish_fragment(&u, 200); /* the error is the content: htmx swaps it in */
        return;
    }
    lh_html_raw(&u.out, "<h1>SQL</h1><form id=\"sql-form\" method=\"post\" action=\"/ui/sql\" hx-post=\"/ui/sql\" "
                        "hx-target=\"#sql-result\" hx-swap=\"outerHTML\">");
    ui_csrf_field(&u);
    lh_html_printf(&u.out,
                   "<label for=\"sql\">Statement <small>(Ctrl+Enter runs it; datasets are tables, "
                   "<code>lh_version('name', N)</code> reads a version)</small></label>"
                   "<textarea id=\"sql\" name=\"sql\" rows=\"6\" spellcheck=\"false\" required>%s</textarea>"
                   "<button type=\"submit\">Run</button></form>",
                   sql ? sql : "");
    if (run) result(&u, sql, offset);
    else lh_html_raw(&u.out, "<div id=\"sql-result\"></div>");
    history(&u, false);
    ui_finish(&u, 200, "SQL", "sql");
}

/* POST /ui/sql/export {sql, format}: the whole result as a download, in any
 * format POST /v1/sql answers (the page offers csv and parquet). */
void ui_post_sql_export(lh_http_req *req, lh_http_res *res, void *ctx)
{
    ui_req u;
    if (!ui_begin(&u, ctx, req, res, true)) return;
    const char *sql = ui_arg(&u, "sql"), *format = ui_arg(&u, "format");
    json_t *args = json_pack("{s:s?, s:s?}", "sql", sql, "format", format);
    lh_err err;
    lh_code rc = lh_op_check(lh_op_find("sql"), args, &err);
    lh_app_sql_run run;
    if (rc == LH_OK) rc = lh_app_sql_open(u.ui->app, args, &u.call.who, &run, &err);
    json_decref(args);
    if (rc) {
        ui_error_box(&u, &err);
        ui_finish(&u, lh_code_http_status(rc), "Download refused", "sql");
        return;
    }
    ui_security_headers(res);
    lh_http_res_header(res, "Content-Disposition",
                       lh_arena_printf(req->arena, "attachment; filename=\"result.%s\"", format ? format : "json"));
    ui_end(&u);
    lh_api_sql_send(u.ui->app, &run, res);
}
