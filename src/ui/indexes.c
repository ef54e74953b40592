/*
 * indexes.c — the Indexes pages: the indexes with their staleness (the
 * dataset version embedded against the dataset's current one), and an
 * index's page: facts, a search playground that runs one query in the
 * hybrid, vector and text modes side by side with scores, refresh with live
 * progress (a job, jobs.c), and the promote/rollback history with the live
 * version marked and a rollback action for profiles allowed to.
 *
 * Everything shown comes from index.list, index.show, index.history,
 * index.stale, search, index.refresh and index.rollback (lh_app_call);
 * whether an action shows is asked of lh_app_may, and checked again when
 * it runs.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define UI_PLAYGROUND_K 5     /* hits per mode in the playground */
#define UI_PLAYGROUND_TEXT 240 /* characters of a hit's passage shown */

static const char *const modes[] = {"hybrid", "vector", "text"};

/* index.stale's entry for index `name`, borrowed from stale, or NULL. */
static json_t *stale_entry(json_t *stale, const char *name)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(stale, "stale"), i, s) {
        if (!strcmp(json_string_value(json_object_get(s, "index")), name)) return s;
    }
    return NULL;
}

static void staleness(ui_req *u, json_t *origin, json_t *entry)
{
    if (entry) {
        lh_html_printf(&u->out,
                       "<span class=\"tag stale\" data-stale=\"true\">behind: v%lld of v%lld</span>",
                       (long long)json_integer_value(json_object_get(entry, "embedded_version")),
                       (long long)json_integer_value(json_object_get(entry, "dataset_version")));
        const char *since = json_string_value(json_object_get(entry, "stale_since"));
        if (since) lh_html_printf(&u->out, " <small class=\"muted\">since <time>%s</time></small>", since);
    } else if (json_is_object(origin)) {
        lh_html_raw(&u->out, "<span class=\"tag current\" data-stale=\"false\">current</span>");
    }
}

void ui_page_indexes(lh_http_req *req, lh_http_res *res, void *ctx)
{
    ui_req u;
    if (!ui_begin(&u, ctx, req, res, true)) return;
    json_t *list = NULL, *stale = NULL;
    int status = ui_call(&u, "index.list", NULL, &list);
    if (!status) status = ui_call(&u, "index.stale", NULL, &stale);
    if (status) {
        json_decref(list);
        ui_finish(&u, status, "Indexes", "indexes");
        return;
    }
    lh_html_raw(&u.out, "<h1>Indexes</h1><div class=\"table-wrap\"><table class=\"data indexes\"><thead><tr>"
                        "<th scope=\"col\">name</th><th scope=\"col\">kind</th><th scope=\"col\">live</th>"
                        "<th scope=\"col\">versions</th><th scope=\"col\">vectors</th><th scope=\"col\">dataset</th>"
                        "<th scope=\"col\">embedded</th><th scope=\"col\">staleness</th></tr></thead><tbody>");
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(list, "indexes"), i, it) {
        const char *name = json_string_value(json_object_get(it, "name"));
        json_t *args = json_pack("{s:s}", "name", name), *show = NULL;
        lh_err err;
        lh_app_call(u.ui->app, "index.show", args, &u.call, &show, &err); /* a failure leaves the cells empty */
        json_decref(args);
        json_t *m = json_object_get(show, "manifest"), *origin = json_object_get(m, "origin");
        lh_html_printf(&u.out,
                       "<tr data-index=\"%s\"><td><a href=\"/ui/indexes/%s\">%s</a></td><td>%s</td><td>v%lld</td>"
                       "<td>%lld</td><td class=\"num\">%lld</td><td>",
                       name, lh_html_url_encode(req->arena, name), name,
                       json_is_object(json_object_get(m, "text")) ? "text" : "vector",
                       (long long)json_integer_value(json_object_get(it, "live")),
                       (long long)json_integer_value(json_object_get(it, "versions")),
                       (long long)json_integer_value(json_object_get(it, "count")));
        const char *dataset = json_string_value(json_object_get(origin, "dataset"));
        if (dataset)
            lh_html_printf(&u.out, "<a href=\"/ui/datasets/%s\">%s</a></td><td>v%lld</td><td>",
                           lh_html_url_encode(req->arena, dataset), dataset,
                           (long long)json_integer_value(json_object_get(origin, "version")));
        else lh_html_raw(&u.out, "</td><td></td><td>");
        staleness(&u, origin, stale_entry(stale, name));
        lh_html_raw(&u.out, "</td></tr>");
        json_decref(show);
    }
    lh_html_raw(&u.out, "</tbody></table></div>");
    if (!json_array_size(json_object_get(list, "indexes"))) lh_html_raw(&u.out, "<p class=\"muted\">No indexes.</p>");
    json_decref(list);
    json_decref(stale);
    ui_finish(&u, 200, "Indexes", "indexes");
}

/* ---- the search playground ---- */

static void hits_column(ui_req *u, const char *name, const char *query, const char *mode)
{
    json_t *args = json_pack("{s:s, s:s, s:s, s:i, s:b}", "index", name, "query", query, "mode", mode, "k",
                             UI_PLAYGROUND_K, "rows", 0),
           *out;
    lh_html_printf(&u->out, "<section class=\"mode\" data-mode=\"%s\"><h3>%s</h3>", mode, mode);
    int status = ui_call(u, "search", args, &out);
    json_decref(args);
    if (status) {
        lh_html_raw(&u->out, "</section>");
        return;
    }
    json_t *hits = json_object_get(out, "hits");
    if (!json_array_size(hits)) lh_html_raw(&u->out, "<p class=\"muted\">No hits.</p>");
    else lh_html_raw(&u->out, "<ol class=\"hits\">");
    size_t i;
    json_t *h;
    json_array_foreach(hits, i, h) {
        lh_html_printf(&u->out, "<li><span class=\"score\" title=\"score\">%.4f</span> <small class=\"muted\">id</small> <span class=\"id\">",
                       json_number_value(json_object_get(h, "score")));
        ui_value(&u->out, json_object_get(h, "id"));
        lh_html_raw(&u->out, "</span>");
        json_t *distance = json_object_get(h, "distance"), *bm25 = json_object_get(h, "bm25");
        if (distance) lh_html_printf(&u->out, " <small class=\"muted\">distance %.4f</small>", json_number_value(distance));
        if (bm25) lh_html_printf(&u->out, " <small class=\"muted\">bm25 %.3f</small>", json_number_value(bm25));
        const char *text = json_string_value(json_object_get(h, "chunk_text"));
        if (text) {
            size_t len = strlen(text), cut = len > UI_PLAYGROUND_TEXT ? UI_PLAYGROUND_TEXT : len;
            while (cut < len && ((unsigned char)text[cut] & 0xC0) == 0x80) cut--; /* not inside a character */
            lh_html_raw(&u->out, "<div class=\"passage\">");
            lh_html_textn(&u->out, text, cut);
            if (cut < len) lh_html_raw(&u->out, "…");
            lh_html_raw(&u->out, "</div>");
        }
        lh_html_raw(&u->out, "</li>");
    }
    if (json_array_size(hits)) lh_html_raw(&u->out, "</ol>");
    lh_html_raw(&u->out, "</section>");
    json_decref(out);
}

static void playground_results(ui_req *u, const char *name, const char *query)
{
    lh_html_raw(&u->out, "<div id=\"playground\" class=\"playground\">");
    if (query && *query)
        for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) hits_column(u, name, query, modes[m]);
    lh_html_raw(&u->out, "</div>");
}

static void playground(ui_req *u, const char *name, const char *query)
{
    const char *enc = lh_html_url_encode(u->req->arena, name);
    lh_html_printf(&u->out,
                   "<section><h2>Search playground</h2><form class=\"playground-form\" method=\"get\" "
                   "action=\"/ui/indexes/%s\" hx-get=\"/ui/indexes/%s/search\" hx-target=\"#playground\" "
                   "hx-swap=\"outerHTML\" role=\"search\"><label for=\"query\">Query</label>"
                   "<input id=\"query\" name=\"query\" type=\"search\" value=\"%s\" required autocomplete=\"off\">"
                   "<button type=\"submit\">Search</button></form>",
                   enc, enc, query ? query : "");
    playground_results(u, name, query);
    lh_html_raw(&u->out, "</section>");
}

void ui_page_index_search(lh_http_req *req, lh_http_res *res, void *ctx)
{
    ui_req u;
    if (!ui_begin(&u, ctx, req, res, true)) return;
    const char *name = lh_http_param(req, "name");
    if (!u.fragment) { /* without htmx: the index's page with the results */
        const char *query = ui_arg(&u, "query");
        ui_redirect(&u, lh_arena_printf(req->arena, "/ui/indexes/%s?query=%s", lh_html_url_encode(req->arena, name),
                                        lh_html_url_encode(req->arena, query ? query : "")));
        return;
    }
    playground_results(&u, name, ui_arg(&u, "query"));
    ui_finish_fragment(&u, 200);
}

/* ---- the index's page ---- */

static void history_section(ui_req *u, const char *name, json_t *history)
{
    long long live = json_integer_value(json_object_get(history, "live"));
    const char *enc = lh_html_url_encode(u->req->arena, name);
    json_t *versions = json_object_get(history, "versions");
    lh_html_raw(&u->out, "<section><h2>Versions</h2><ol class=\"timeline index-versions\" reversed>");
    for (size_t i = json_array_size(versions); i-- > 0;) {
        json_t *v = json_array_get(versions, i);
        long long version = json_integer_value(json_object_get(v, "version"));
        lh_html_printf(&u->out,
                       "<li data-version=\"%lld\"><strong>v%lld</strong> <span class=\"op\">%s</span> by "
                       "<span class=\"author\">%s</span> at <time>%s</time> · <span class=\"count\">%lld vectors</span>",
                       version, version, json_string_value(json_object_get(v, "operation")),
                       json_string_value(json_object_get(v, "author")),
                       json_string_value(json_object_get(v, "created_at")),
                       (long long)json_integer_value(json_object_get(v, "count")));
        const char *message = json_string_value(json_object_get(v, "message"));
        if (message) lh_html_printf(&u->out, "<div class=\"message\">%s</div>", message);
        json_t *probe = json_pack("{s:s, s:I}", "name", name, "version", (json_int_t)version);
        bool may = lh_app_may("index.rollback", probe, &u->call.who);
        json_decref(probe);
        if (version == live) {
            lh_html_raw(&u->out, " <span class=\"tag live\">live</span>");
        } else if (may) {
            lh_html_printf(&u->out, "<form method=\"post\" action=\"/ui/indexes/%s/rollback\" class=\"inline\">", enc);
            ui_csrf_field(u);
            lh_html_printf(&u->out,
                           "<input type=\"hidden\" name=\"version\" value=\"%lld\">"
                           "<button type=\"submit\" class=\"danger\">Make v%lld live</button></form>",
                           version, version);
        }
        lh_html_raw(&u->out, "</li>");
    }
    lh_html_raw(&u->out, "</ol><h3>Promotions</h3><div class=\"promotions\">");
    static const char *const cols[] = {"seq", "action", "version", "previous", "actor", "at", "message", NULL};
    ui_object_table(&u->out, json_object_get(history, "promotions"), cols);
    lh_html_raw(&u->out, "</div></section>");
}

static void refresh_section(ui_req *u, const char *name, const char *dataset)
{
    json_t *probe = json_pack("{s:s}", "dataset", dataset);
    bool may = lh_app_may("index.refresh", probe, &u->call.who);
    json_decref(probe);
    if (!may) return;
    const char *enc = lh_html_url_encode(u->req->arena, name);
    lh_html_printf(&u->out,
                   "<section><h2>Refresh</h2><p class=\"muted\">Embeds the rows of <strong>%s</strong> this index has "
                   "not seen (every text index over it is refreshed).</p>"
                   "<form id=\"refresh-form\" method=\"post\" action=\"/ui/indexes/%s/refresh\" "
                   "hx-post=\"/ui/indexes/%s/refresh\" hx-target=\"#refresh-result\" hx-swap=\"innerHTML\" "
                   "data-job=\"#refresh-progress\">",
                   dataset, enc, enc);
    ui_csrf_field(u);
    lh_html_raw(&u->out, "<button type=\"submit\">Refresh now</button></form>"
                         "<div id=\"refresh-progress\" class=\"job-progress\" hidden><progress max=\"100\" value=\"0\">"
                         "</progress> <span class=\"job-status\" aria-live=\"polite\"></span></div>"
                         "<div id=\"refresh-result\"></div></section>");
}

void ui_page_index(lh_http_req *req, lh_http_res *res, void *ctx)
{
    ui_req u;
    if (!ui_begin(&u, ctx, req, res, true)) return;
    const char *name = lh_http_param(req, "name");
    json_t *args = json_pack("{s:s}", "name", name), *show = NULL, *history = NULL, *stale = NULL;
    int status = ui_call(&u, "index.show", args, &show);
    if (!status) status = ui_call(&u, "index.history", args, &history);
    if (!status) status = ui_call(&u, "index.stale", NULL, &stale);
    json_decref(args);
    if (status) {
        json_decref(show);
        json_decref(history);
        ui_finish(&u, status, name, "indexes");
        return;
    }
    json_t *m = json_object_get(show, "manifest"), *origin = json_object_get(m, "origin"), *text = json_object_get(m, "text");
    const char *dataset = json_string_value(json_object_get(origin, "dataset"));
    lh_html_printf(&u.out,
                   "<p class=\"crumbs\"><a href=\"/ui/indexes\">Indexes</a> /</p><h1>%s</h1>"
                   "<dl class=\"facts\"><dt>live</dt><dd data-fact=\"live\">%lld</dd><dt>versions</dt><dd>%lld</dd>"
                   "<dt>vectors</dt><dd data-fact=\"count\">%lld</dd><dt>kind</dt><dd>%s</dd>"
                   "<dt>dimensions</dt><dd>%lld (%s)</dd>",
                   name, (long long)json_integer_value(json_object_get(show, "live")),
                   (long long)json_integer_value(json_object_get(show, "versions")),
                   (long long)json_integer_value(json_object_get(m, "count")), json_is_object(text) ? "text" : "vector",
                   (long long)json_integer_value(json_object_get(m, "dim")),
                   json_string_value(json_object_get(m, "metric")));
    if (dataset)
        lh_html_printf(&u.out, "<dt>dataset</dt><dd><a href=\"/ui/datasets/%s?version=%lld\">%s v%lld</a> ",
                       lh_html_url_encode(req->arena, dataset), (long long)json_integer_value(json_object_get(origin, "version")),
                       dataset, (long long)json_integer_value(json_object_get(origin, "version")));
    if (dataset) {
        staleness(&u, origin, stale_entry(stale, name));
        lh_html_raw(&u.out, "</dd>");
    }
    if (json_is_object(text))
        lh_html_printf(&u.out, "<dt>embedding</dt><dd>%s / %s, fusion %s</dd>",
                       json_string_value(json_object_get(text, "provider")), json_string_value(json_object_get(text, "model")),
                       json_string_value(json_object_get(text, "fusion")));
    lh_html_raw(&u.out, "</dl>");
    if (json_is_object(text)) {
        playground(&u, name, ui_arg(&u, "query"));
        if (dataset) refresh_section(&u, name, dataset);
    } else {
        lh_html_raw(&u.out, "<p class=\"muted\">A vector index is searched with a vector (operation index.search); "
                            "the playground needs a text index.</p>");
    }
    history_section(&u, name, history);
    ui_trials_section(&u, name);
    json_decref(show);
    json_decref(history);
    json_decref(stale);
    ui_finish(&u, 200, name, "indexes");
}

/* ---- actions ---- */

void ui_post_index_refresh(lh_http_req *req, lh_http_res *res, void *ctx)
{
    ui_req u;
    if (!ui_begin(&u, ctx, req, res, true)) return;
    const char *name = lh_http_param(req, "name");
    const char *enc = lh_html_url_encode(req->arena, name);
    json_t *args = json_pack("{s:s}", "name", name), *show = NULL, *out = NULL;
    int status = ui_call(&u, "index.show", args, &show);
    json_decref(args);
    const char *dataset = json_string_value(json_object_get(json_object_get(json_object_get(show, "manifest"), "origin"), "dataset"));
    if (!status && !dataset) {
        lh_html_raw(&u.out, "<div class=\"error\" role=\"alert\">this index has no dataset to refresh from</div>");
        status = 400;
    }
    ui_job *job = NULL;
    if (!status) {
        job = ui_job_start(u.ui, u.sid, ui_arg(&u, "job"), "refresh", name, u.call.who.actor, 0);
        u.call.progress = job ? ui_job_progress : NULL;
        u.call.progress_ctx = job;
        args = json_pack("{s:s}", "dataset", dataset);
        lh_err err;
        lh_code rc = lh_app_call(u.ui->app, "index.refresh", args, &u.call, &out, &err);
        json_decref(args);
        u.call.progress = NULL;
        u.call.progress_ctx = NULL;
        if (rc) {
            ui_error_box(&u, &err);
            status = lh_code_http_status(rc);
            ui_job_finish(job, false, err.message, 0);
            job = NULL;
        }
    }
    json_t *mine = NULL;
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(out, "indexes"), i, r) {
        if (!strcmp(json_string_value(json_object_get(r, "index")), name)) mine = r;
    }
    long long version = json_integer_value(json_object_get(mine, "version"));
    ui_job_finish(job, !status, NULL, version);
    if (!status && !u.fragment) { /* without htmx: back to the index's page */
        json_decref(show);
        json_decref(out);
        ui_redirect(&u, lh_arena_printf(req->arena, "/ui/indexes/%s", enc));
        return;
    }
    if (!status) {
        lh_html_printf(&u.out,
                       "<div class=\"refresh-result\" data-version=\"%lld\" data-status=\"%s\"><p><strong>%s</strong>: "
                       "v%lld → <a href=\"/ui/indexes/%s\">v%lld</a> (dataset v%lld) · %lld added, %lld changed, %lld "
                       "removed · %lld texts embedded, %lld reused</p></div>",
                       version, json_string_value(json_object_get(mine, "status")),
                       json_string_value(json_object_get(mine, "status")),
                       (long long)json_integer_value(json_object_get(mine, "from_version")), enc, version,
                       (long long)json_integer_value(json_object_get(mine, "dataset_version")),
                       (long long)json_integer_value(json_object_get(mine, "added")),
                       (long long)json_integer_value(json_object_get(mine, "changed")),
                       (long long)json_integer_value(json_object_get(mine, "removed")),
                       (long long)json_integer_value(json_object_get(mine, "embedded")),
                       (long long)json_integer_value(json_object_get(mine, "reused")));
    } else {
        lh_html_printf(&u.out, "<p><a href=\"/ui/indexes/%s\">back to %s</a></p>", enc, name);
    }
    json_decref(show);
    json_decref(out);
    ui_finish(&u, status ? status : 200, "Refresh", "indexes");
}

void ui_post_index_rollback(lh_http_req *req, lh_http_res *res, void *ctx)
{
    ui_req u;
    if (!ui_begin(&u, ctx, req, res, true)) return;
    const char *name = lh_http_param(req, "name");
    const char *enc = lh_html_url_encode(req->arena, name);
    const char *v = ui_arg(&u, "version");
    char *end = NULL;
    long long version = v ? strtoll(v, &end, 10) : 0;
    if (!v || !*v || *end || version < 1) {
        lh_html_raw(&u.out, "<div class=\"error\" role=\"alert\">which version?</div>");
        ui_finish(&u, 400, "Rollback", "indexes");
        return;
    }
    json_t *args = json_pack("{s:s, s:I, s:s}", "name", name, "version", (json_int_t)version, "message",
                             "rollback from the web UI"),
           *out;
    int status = ui_call(&u, "index.rollback", args, &out);
    json_decref(args);
    if (status) {
        lh_html_printf(&u.out, "<p><a href=\"/ui/indexes/%s\">back to %s</a></p>", enc, name);
        ui_finish(&u, status, "Rollback refused", "indexes");
        return;
    }
    json_decref(out);
    ui_redirect(&u, lh_arena_printf(req->arena, "/ui/indexes/%s", enc));
}
