/*
 * system.c — the System page: health per module and bucket (lh_app_health),
 * the jobs started from pages (ui_jobs_list) and background refreshes,
 * the journal's newest events, filterable (journal.recent) and the error journal
 * (errors.list).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static void health_section(ui_req *u)
{
    bool ready;
    char *text = lh_app_health(u->ui->app, &ready);
    json_t *h = json_loads(text, 0, NULL);
    free(text);
    lh_html_printf(&u->out, "<section><h2>Health</h2><p>status <strong class=\"status-%s\">%s</strong>, %s, up %llds</p>",
                   json_string_value(json_object_get(h, "status")), json_string_value(json_object_get(h, "status")),
                   ready ? "ready" : "not ready", (long long)json_integer_value(json_object_get(h, "uptime_s")));
    lh_html_raw(&u->out, "<table class=\"data\"><thead><tr><th scope=\"col\">module</th><th scope=\"col\">status</th>"
                         "<th scope=\"col\">details</th></tr></thead><tbody>");
    const char *name;
    json_t *m;
    json_object_foreach(json_object_get(h, "modules"), name, m) {
        lh_html_printf(&u->out, "<tr><td>%s</td><td>%s</td><td>", name, json_string_value(json_object_get(m, "status")));
        const char *k;
        json_t *v;
        json_object_foreach(m, k, v) {
            if (!strcmp(k, "status") || !strcmp(k, "buckets")) continue;
            lh_html_printf(&u->out, "<span class=\"kv\">%s: ", k);
            ui_value(&u->out, v);
            lh_html_raw(&u->out, "</span> ");
        }
        lh_html_raw(&u->out, "</td></tr>");
    }
    lh_html_raw(&u->out, "</tbody></table>");
    json_t *buckets = json_object_get(json_object_get(json_object_get(h, "modules"), "storage"), "buckets");
    if (json_array_size(buckets)) {
        static const char *const cols[] = {"name", "backend", "status", "latency_ms", "default", "rescue", NULL};
        lh_html_raw(&u->out, "<h3>Buckets</h3>");
        ui_object_table(&u->out, buckets, cols);
    }
    lh_html_raw(&u->out, "</section>");
    json_decref(h);
}

/* The journal, filtered by the form's fields (journal.recent's filters). */
static void journal_section(ui_req *u)
{
    static const char *const fields[] = {"entity_type", "entity_id", "action", "actor"};
    static const char *const labels[] = {"type", "entity contains", "action", "actor"};
    static const char *const cols[] = {"ts", "entity_type", "entity_id", "action", "actor", "source", NULL};
    json_t *args = json_pack("{s:i}", "limit", 50), *out;
    for (size_t i = 0; i < 4; i++) {
        const char *v = ui_arg(u, fields[i]);
        if (v && *v) json_object_set_new(args, fields[i], json_string(v));
    }
    if (!u->fragment) {
        lh_html_raw(&u->out, "<section><h2>Journal</h2><form class=\"filter\" action=\"/ui/system/journal\" method=\"get\" "
                             "hx-get=\"/ui/system/journal\" hx-target=\"#journal\" hx-swap=\"outerHTML\" "
                             "hx-trigger=\"input changed delay:250ms, change, submit\" role=\"search\">");
        for (size_t i = 0; i < 4; i++) {
            const char *v = json_string_value(json_object_get(args, fields[i]));
            lh_html_printf(&u->out, "<label for=\"j-%s\">%s</label><input id=\"j-%s\" name=\"%s\" value=\"%s\" size=\"12\">",
                           fields[i], labels[i], fields[i], fields[i], v ? v : "");
        }
        lh_html_raw(&u->out, "<button type=\"submit\">Filter</button></form>");
    }
    lh_html_raw(&u->out, "<div id=\"journal\">");
    if (!ui_call(u, "journal.recent", args, &out)) {
        json_t *events = json_object_get(out, "events");
        if (json_array_size(events)) ui_object_table(&u->out, events, cols);
        else lh_html_raw(&u->out, "<p class=\"muted\">No events match.</p>");
        json_decref(out);
    }
    lh_html_raw(&u->out, "</div>");
    if (!u->fragment) lh_html_raw(&u->out, "</section>");
    json_decref(args);
}

/* Jobs started from pages (ingests, refreshes): an admin sees everyone's,
 * others their own; refreshed every 2 s while one runs. */
static void jobs_section(ui_req *u)
{
    json_t *jobs = ui_jobs_list(u->ui), *mine = json_array(), *j;
    bool all = lh_app_may("profiles.list", NULL, &u->call.who), running = false;
    size_t i;
    json_array_foreach(jobs, i, j) {
        const char *actor = json_string_value(json_object_get(j, "actor"));
        if (!all && (!actor || !u->call.who.actor || strcmp(actor, u->call.who.actor) != 0)) continue;
        running = running || !strcmp(json_string_value(json_object_get(j, "state")), "running");
        json_array_append(mine, j);
    }
    json_decref(jobs);
    lh_html_raw(&u->out, running ? "<section id=\"jobs\" hx-get=\"/ui/system/jobs\" hx-trigger=\"every 2s\" "
                                   "hx-swap=\"outerHTML\"><h2>Jobs</h2>"
                                 : "<section id=\"jobs\"><h2>Jobs</h2>");
    static const char *const cols[] = {"started_at", "kind", "target", "actor", "state", "done", "what", "version",
                                       "message", NULL};
    if (json_array_size(mine)) ui_object_table(&u->out, mine, cols);
    else lh_html_raw(&u->out, "<p class=\"muted\">No ingest or refresh started from these pages is running or recent.</p>");
    json_t *args = json_object(), *stale;
    if (!ui_call(u, "index.stale", args, &stale)) {
        lh_html_printf(&u->out, "<p>Background index refreshes: <strong data-refreshing>%s</strong>; %zu index%s behind its dataset.</p>",
                       json_is_true(json_object_get(stale, "refreshing")) ? "running" : "idle",
                       json_array_size(json_object_get(stale, "stale")),
                       json_array_size(json_object_get(stale, "stale")) == 1 ? "" : "es");
        json_decref(stale);
    }
    json_decref(args);
    lh_html_raw(&u->out, "</section>");
    json_decref(mine);
}

void ui_page_jobs(lh_http_req *req, lh_http_res *res, void *ctx)
{
    ui_req u;
    if (!ui_begin(&u, ctx, req, res, true)) return;
    jobs_section(&u);
    ui_finish(&u, 200, "Jobs", "system");
}

void ui_page_journal(lh_http_req *req, lh_http_res *res, void *ctx)
{
    ui_req u;
    if (!ui_begin(&u, ctx, req, res, true)) return;
    if (!u.fragment) lh_html_raw(&u.out, "<h1>Journal</h1>");
    journal_section(&u);
    ui_finish(&u, 200, "Journal", "system");
}

void ui_page_system(lh_http_req *req, lh_http_res *res, void *ctx)
{
    ui_req u;
    if (!ui_begin(&u, ctx, req, res, true)) return;
    lh_html_raw(&u.out, "<h1>System</h1>");
    health_section(&u);
    jobs_section(&u);
    journal_section(&u);
    static const char *const error_cols[] = {"ts", "operation", "code", "bucket", "key", "error", NULL};
    json_t *args = json_pack("{s:i}", "limit", 50), *out;
    lh_html_raw(&u.out, "<section><h2>Errors</h2>");
    if (!ui_call(&u, "errors.list", args, &out)) {
        json_t *errors = json_object_get(out, "errors");
        if (json_array_size(errors)) ui_object_table(&u.out, errors, error_cols);
        else lh_html_raw(&u.out, "<p class=\"muted\">No recorded failures.</p>");
        json_decref(out);
    }
    lh_html_raw(&u.out, "</section>");
    json_decref(args);
    ui_finish(&u, 200, "System", "system");
}
