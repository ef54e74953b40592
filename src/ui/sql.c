/*
 * sql.c — the SQL page: an editor (Ctrl+Enter runs it), the result as a
 * table, the engine's error, and a chart of the result drawn by app.js from
 * the columns' types (the data travels in an escaped data-chart attribute).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static void result(ui_req *u, const char *sql)
{
    lh_html_raw(&u->out, "<div id=\"sql-result\">");
    json_t *args = json_pack("{s:s, s:i}", "sql", sql, "max_rows", LH_UI_SQL_ROWS), *out;
    int status = ui_call(u, "sql", args, &out);
    json_decref(args);
    if (status) {
        lh_html_raw(&u->out, "</div>");
        return;
    }
    json_t *columns = json_object_get(out, "columns"), *rows = json_object_get(out, "rows");
    lh_html_printf(&u->out, "<p class=\"muted\"><span data-rows>%zu</span> rows%s in %g ms</p>", json_array_size(rows),
                   json_is_true(json_object_get(out, "truncated")) ? " (truncated)" : "",
                   json_number_value(json_object_get(out, "elapsed_ms")));
    if (json_array_size(columns) >= 2 && json_array_size(rows)) {
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
    lh_html_raw(&u->out, "</div>");
}

void ui_page_sql(lh_http_req *req, lh_http_res *res, void *ctx)
{
    ui_req u;
    if (!ui_begin(&u, ctx, req, res, true)) return;
    const char *sql = ui_arg(&u, "sql");
    bool run = !strcmp(req->method, "POST") && sql && *sql;
    if (u.fragment && run) {
        result(&u, sql);
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
    if (run) result(&u, sql);
    else lh_html_raw(&u.out, "<div id=\"sql-result\"></div>");
    ui_finish(&u, 200, "SQL", "sql");
}
