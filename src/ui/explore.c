/*
 * explore.c — the Explore pages: datasets with a filter as you type, and a
 * dataset's page (schema with PII tags, versions, lineage, a paged preview,
 * the diff of two versions, rollback for profiles allowed to).
 *
 * Everything shown comes from catalog.list, catalog.show, catalog.versions,
 * catalog.diff, catalog.rollback and sql (the preview reads
 * lh_version('name', N) with LIMIT/OFFSET).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define UI_VERSIONS 100 /* a dataset's page shows the newest this many versions */

static const char *const dataset_columns[] = {"name", "version", "row_count", "updated_at", "bucket", NULL};

static void datasets_table(ui_req *u, json_t *list, const char *q)
{
    size_t i, shown = 0;
    json_t *d;
    lh_html_raw(&u->out, "<div id=\"datasets\"><table class=\"data\"><thead><tr>");
    for (const char *const *c = dataset_columns; *c; c++) lh_html_printf(&u->out, "<th scope=\"col\">%s</th>", *c);
    lh_html_raw(&u->out, "</tr></thead><tbody>");
    json_array_foreach(json_object_get(list, "datasets"), i, d) {
        const char *name = json_string_value(json_object_get(d, "name"));
        if (!name || (q && *q && !strstr(name, q))) continue;
        shown++;
        lh_html_printf(&u->out, "<tr><td><a href=\"/ui/datasets/%s\">%s</a></td>",
                       lh_html_url_encode(u->req->arena, name), name);
        for (const char *const *c = dataset_columns + 1; *c; c++) {
            lh_html_raw(&u->out, "<td>");
            ui_value(&u->out, json_object_get(d, *c));
            lh_html_raw(&u->out, "</td>");
        }
        lh_html_raw(&u->out, "</tr>");
    }
    lh_html_raw(&u->out, "</tbody></table>");
    if (!shown) lh_html_raw(&u->out, "<p class=\"muted\">No datasets match.</p>");
    lh_html_raw(&u->out, "</div>");
}

void ui_page_datasets(lh_http_req *req, lh_http_res *res, void *ctx)
{
    ui_req u;
    if (!ui_begin(&u, ctx, req, res, true)) return;
    const char *q = ui_arg(&u, "q");
    json_t *args = json_pack("{s:i}", "limit", LH_OP_LIST_MAX), *out;
    int status = ui_call(&u, "catalog.list", args, &out);
    json_decref(args);
    if (status) {
        ui_finish(&u, status, "Datasets", "explore");
        return;
    }
    if (u.fragment) {
        datasets_table(&u, out, q);
        json_decref(out);
        ui_finish_fragment(&u, 200);
        return;
    }
    lh_html_printf(&u.out,
                   "<h1>Datasets</h1><form class=\"filter\" action=\"/ui/datasets\" method=\"get\" role=\"search\">"
                   "<label for=\"q\">Filter</label><input id=\"q\" type=\"search\" name=\"q\" value=\"%s\" "
                   "placeholder=\"name contains…\" autocomplete=\"off\" hx-get=\"/ui/datasets\" "
                   "hx-trigger=\"input changed delay:200ms, search\" hx-target=\"#datasets\" hx-swap=\"outerHTML\">"
                   "<noscript><button type=\"submit\">Filter</button></noscript></form>",
                   q ? q : "");
    datasets_table(&u, out, q);
    json_decref(out);
    ui_finish(&u, 200, "Datasets", "explore");
}

/* ---- the dataset page ---- */

static void schema_section(ui_req *u, json_t *manifest)
{
    size_t i;
    json_t *f;
    lh_html_raw(&u->out, "<section><h2>Schema</h2><table class=\"data schema\"><thead><tr><th scope=\"col\">column"
                         "</th><th scope=\"col\">type</th><th scope=\"col\">PII</th></tr></thead><tbody>");
    json_array_foreach(json_object_get(json_object_get(manifest, "schema"), "fields"), i, f) {
        const char *pii = json_string_value(json_object_get(f, "pii"));
        lh_html_printf(&u->out, "<tr><td>%s</td><td><code>%s</code></td><td>", json_string_value(json_object_get(f, "name")),
                       json_string_value(json_object_get(f, "type")));
        if (pii) lh_html_printf(&u->out, "<span class=\"tag pii\">%s</span>", pii);
        lh_html_raw(&u->out, "</td></tr>");
    }
    lh_html_raw(&u->out, "</tbody></table></section>");
}

/* versions: the newest of the history, from version first on (null where
 * one does not read). */
static void versions_section(ui_req *u, const char *name, json_t *versions, long long first, long long current)
{
    json_t *probe = json_pack("{s:s, s:i}", "name", name, "version", 1);
    bool may_rollback = lh_app_may("catalog.rollback", probe, &u->call.who);
    json_decref(probe);
    const char *enc = lh_html_url_encode(u->req->arena, name);
    size_t i;
    json_t *v;
    lh_html_raw(&u->out, "<section><h2>Versions</h2><ol class=\"timeline\" reversed>");
    size_t n = json_array_size(versions);
    for (i = n; i-- > 0;) {
        v = json_array_get(versions, i);
        long long version = first + (long long)i;
        if (json_is_null(v)) {
            lh_html_printf(&u->out,
                           "<li><strong>v%lld</strong> <span class=\"error\">does not read: damaged in storage "
                           "(see <a href=\"/health\">/health</a>)</span></li>",
                           version);
            continue;
        }
        lh_html_printf(&u->out,
                       "<li><a href=\"/ui/datasets/%s?version=%lld\"><strong>v%lld</strong></a> "
                       "<span class=\"op\">%s</span> by <span class=\"author\">%s</span> at <time>%s</time> · "
                       "<span class=\"rows\">%lld rows</span>",
                       enc, version, version, json_string_value(json_object_get(v, "operation")),
                       json_string_value(json_object_get(v, "author")),
                       json_string_value(json_object_get(v, "created_at")),
                       (long long)json_integer_value(json_object_get(v, "row_count")));
        const char *message = json_string_value(json_object_get(v, "message"));
        if (message) lh_html_printf(&u->out, "<div class=\"message\">%s</div>", message);
        if (version == current) lh_html_raw(&u->out, " <span class=\"tag\">current</span>");
        else if (may_rollback) {
            lh_html_printf(&u->out, "<form method=\"post\" action=\"/ui/datasets/%s/rollback\" class=\"inline\">", enc);
            ui_csrf_field(u);
            lh_html_printf(&u->out,
                           "<input type=\"hidden\" name=\"version\" value=\"%lld\">"
                           "<button type=\"submit\" class=\"danger\">Roll back to v%lld</button></form>",
                           version, version);
        }
        lh_html_raw(&u->out, "</li>");
    }
    lh_html_raw(&u->out, "</ol>");
    if (first > 1)
        lh_html_printf(&u->out,
                       "<p class=\"muted older\">%lld older versions: <code>lakehouse catalog versions %s</code> "
                       "or <code>GET /v1/catalog/datasets/%s/versions</code></p>",
                       first - 1, name, enc);
    lh_html_raw(&u->out, "</section>");
}

static void lineage_section(ui_req *u, json_t *manifest)
{
    json_t *lineage = json_object_get(manifest, "lineage");
    lh_html_raw(&u->out, "<section><h2>Lineage</h2>");
    if (!json_is_object(lineage)) {
        lh_html_raw(&u->out, "<p class=\"muted\">No lineage recorded for this version.</p></section>");
        return;
    }
    lh_html_printf(&u->out, "<p>Ingested by <strong>%s</strong> via %s at <time>%s</time>.</p>",
                   json_string_value(json_object_get(lineage, "actor")), json_string_value(json_object_get(lineage, "via")),
                   json_string_value(json_object_get(lineage, "ingested_at")));
    static const char *const cols[] = {"source", "format", "rows", "rejected_rows", "bytes", "content_hash", NULL};
    json_t *sources = json_object_get(lineage, "sources");
    if (json_array_size(sources)) ui_object_table(&u->out, sources, cols);
    json_t *changes = json_object_get(lineage, "schema_changes");
    if (json_array_size(changes)) {
        lh_html_raw(&u->out, "<h3>Schema changes</h3>");
        ui_object_table(&u->out, changes, NULL);
    }
    lh_html_raw(&u->out, "</section>");
}

/* What a preview shows: a version, a page, optionally only the rows whose
 * `facet` column equals `value` (is null when `value` is NULL). row_count:
 * the rows readers see, or -1 to count them (tombstones hide some). */
typedef struct preview {
    const char *name;
    long long version, offset, row_count;
    const char *facet, *value;
    bool facet_text; /* the facet column is VARCHAR: compared as is, not cast */
} preview;

/* "version=V&amp;offset=O[&amp;facet=C&amp;value=X|&amp;null=1]", escaped for an attribute. */
static const char *preview_query(ui_req *u, const preview *p, long long offset)
{
    lh_buf q = {0};
    lh_html_printf(&q, "version=%lld&amp;offset=%lld", p->version, offset);
    if (p->facet) {
        lh_html_printf(&q, "&amp;facet=%s", lh_html_url_encode(u->req->arena, p->facet));
        if (p->value) lh_html_printf(&q, "&amp;value=%s", lh_html_url_encode(u->req->arena, p->value));
        else lh_html_raw(&q, "&amp;null=1");
    }
    char *s = lh_arena_strdup(u->req->arena, q.data ? q.data : "");
    lh_buf_free(&q);
    return s;
}

static void pager_link(ui_req *u, const preview *p, long long offset, const char *label)
{
    const char *enc = lh_html_url_encode(u->req->arena, p->name), *q = preview_query(u, p, offset);
    lh_html_printf(&u->out, "<a href=\"/ui/datasets/%s?", enc);
    lh_html_raw(&u->out, q);
    lh_html_printf(&u->out, "#preview\" hx-get=\"/ui/datasets/%s/preview?", enc);
    lh_html_raw(&u->out, q);
    lh_html_printf(&u->out, "\" hx-target=\"#preview\" hx-swap=\"outerHTML\">%s</a>", label);
}

/* The rows of the preview: LIMIT/OFFSET over lh_version, filtered by the facet. */
static void preview_section(ui_req *u, const preview *p)
{
    lh_html_raw(&u->out, "<section id=\"preview\"><h2>Preview</h2>");
    /* dataset names are [a-z][a-z0-9_]: a quote cannot occur, and the op checks the name again */
    if (strchr(p->name, '\'')) {
        lh_html_raw(&u->out, "<p class=\"error\">not a dataset name</p></section>");
        return;
    }
    lh_buf from = {0};
    lh_buf_printf(&from, "FROM lh_version('%s', %lld)", p->name, p->version);
    json_t *params = json_array();
    long long total = p->row_count;
    if (p->facet) {
        lh_buf_puts(&from, " WHERE ");
        lh_sql_quote_ident(&from, p->facet);
        if (p->value) {
            lh_buf_puts(&from, p->facet_text ? " = $1" : "::VARCHAR = $1");
            json_array_append_new(params, json_string(p->value));
        } else lh_buf_puts(&from, " IS NULL");
    }
    if (p->facet || total < 0) {
        char *count_sql = lh_arena_printf(u->req->arena, "SELECT count(*) %s", from.data);
        json_t *args = json_pack("{s:s, s:O}", "sql", count_sql, "params", params), *out;
        int status = ui_call(u, "sql", args, &out);
        json_decref(args);
        if (status) goto done;
        total = json_integer_value(json_array_get(json_array_get(json_object_get(out, "rows"), 0), 0));
        json_decref(out);
    }
    char *sql = lh_arena_printf(u->req->arena, "SELECT * %s LIMIT %d OFFSET %lld", from.data, LH_UI_PREVIEW_ROWS, p->offset);
    json_t *args = json_pack("{s:s, s:O}", "sql", sql, "params", params), *out;
    int status = ui_call(u, "sql", args, &out);
    json_decref(args);
    if (status) goto done;
    long long shown = (long long)json_array_size(json_object_get(out, "rows"));
    lh_html_printf(&u->out, "<p class=\"muted\">rows %lld–%lld of %lld (v%lld)", shown ? p->offset + 1 : 0,
                   p->offset + shown, total, p->version);
    if (p->facet) {
        lh_html_printf(&u->out, " where <code>%s</code> %s <strong class=\"facet-value\">%s</strong> · ", p->facet,
                       p->value ? "=" : "is", p->value ? p->value : "null");
        preview no_filter = {p->name, p->version, 0, p->row_count, NULL, NULL, false};
        pager_link(u, &no_filter, 0, "all rows");
    }
    lh_html_raw(&u->out, "</p>");
    ui_result_table(&u->out, json_object_get(out, "columns"), json_object_get(out, "rows"));
    json_decref(out);
    lh_html_raw(&u->out, "<nav class=\"pager\" aria-label=\"preview pages\">");
    if (p->offset > 0) pager_link(u, p, p->offset > LH_UI_PREVIEW_ROWS ? p->offset - LH_UI_PREVIEW_ROWS : 0, "← previous");
    if (p->offset + shown < total) pager_link(u, p, p->offset + LH_UI_PREVIEW_ROWS, "next →");
    lh_html_raw(&u->out, "</nav>");
done:
    lh_buf_free(&from);
    json_decref(params);
    lh_html_raw(&u->out, "</section>");
}

/* The facets: catalog.facets's top values, each a link that filters the preview. */
static void facets_section(ui_req *u, const char *name, long long version)
{
    const char *enc = lh_html_url_encode(u->req->arena, name);
    lh_html_raw(&u->out, "<section id=\"facets\"><h2>Facets</h2>");
    json_t *args = json_pack("{s:s, s:I}", "name", name, "version", (json_int_t)version), *out;
    if (ui_call(u, "catalog.facets", args, &out)) {
        json_decref(args);
        lh_html_raw(&u->out, "</section>");
        return;
    }
    json_decref(args);
    json_t *facets = json_object_get(out, "facets");
    if (!json_array_size(facets)) lh_html_raw(&u->out, "<p class=\"muted\">No column repeats few enough values to facet.</p>");
    lh_html_raw(&u->out, "<div class=\"facets\">");
    size_t i, j;
    json_t *f, *v;
    json_array_foreach(facets, i, f) {
        const char *column = json_string_value(json_object_get(f, "column"));
        lh_html_printf(&u->out, "<div class=\"facet\" data-facet=\"%s\"><h3>%s <small>%lld distinct</small></h3><ul>", column,
                       column, (long long)json_integer_value(json_object_get(f, "distinct")));
        json_array_foreach(json_object_get(f, "values"), j, v) {
            json_t *value = json_object_get(v, "value");
            lh_buf text = {0};
            ui_value(&text, value); /* escaped once here: the link takes it as markup */
            lh_buf raw = {0};
            if (json_is_string(value)) lh_buf_puts(&raw, json_string_value(value));
            else if (!json_is_null(value)) {
                char *dump = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
                lh_buf_puts(&raw, dump);
                free(dump);
            }
            preview p = {name, version, 0, 0, column, json_is_null(value) ? NULL : (raw.data ? raw.data : ""), false};
            const char *q = preview_query(u, &p, 0);
            lh_html_printf(&u->out, "<li><a href=\"/ui/datasets/%s?", enc);
            lh_html_raw(&u->out, q);
            lh_html_printf(&u->out, "#preview\" hx-get=\"/ui/datasets/%s/preview?", enc);
            lh_html_raw(&u->out, q);
            lh_html_raw(&u->out, "\" hx-target=\"#preview\" hx-swap=\"outerHTML\">");
            lh_html_raw(&u->out, json_is_null(value) ? "<em>null</em>" : text.data ? text.data : "");
            lh_html_printf(&u->out, "</a> <span class=\"count\">%lld</span></li>",
                           (long long)json_integer_value(json_object_get(v, "count")));
            lh_buf_free(&text);
            lh_buf_free(&raw);
        }
        lh_html_raw(&u->out, "</ul></div>");
    }
    lh_html_raw(&u->out, "</div></section>");
    json_decref(out);
}

static void diff_form(ui_req *u, const char *name, json_t *versions, long long from, long long to)
{
    const char *enc = lh_html_url_encode(u->req->arena, name);
    lh_html_printf(&u->out,
                   "<section><h2>Compare versions</h2><form class=\"diff-form\" method=\"get\" "
                   "action=\"/ui/datasets/%s/diff\" hx-get=\"/ui/datasets/%s/diff\" hx-target=\"#diff\" "
                   "hx-swap=\"outerHTML\">",
                   enc, enc);
    for (int side = 0; side < 2; side++) {
        lh_html_printf(&u->out, "<label for=\"diff-%s\">%s</label><select id=\"diff-%s\" name=\"%s\">",
                       side ? "to" : "from", side ? "to" : "from", side ? "to" : "from", side ? "to" : "from");
        size_t i;
        json_t *v;
        json_array_foreach(versions, i, v) {
            if (json_is_null(v)) continue; /* does not read */
            long long n = json_integer_value(json_object_get(v, "version"));
            lh_html_printf(&u->out, "<option value=\"%lld\"%s>v%lld</option>", n,
                           n == (side ? to : from) ? " selected" : "", n);
        }
        lh_html_raw(&u->out, "</select>");
    }
    lh_html_raw(&u->out, "<button type=\"submit\">Diff</button></form><div id=\"diff\"></div></section>");
}

static long long query_int(ui_req *u, const char *name, long long def)
{
    const char *s = ui_arg(u, name);
    if (!s || !*s) return def;
    char *end;
    long long v = strtoll(s, &end, 10);
    return *end || v < 0 ? -1 : v;
}

/* The rows readers see of a version: its row_count, or -1 (count them) when tombstones hide some. */
static long long visible_rows(json_t *manifest)
{
    if (json_array_size(json_object_get(manifest, "tombstones"))) return -1;
    return json_integer_value(json_object_get(manifest, "row_count"));
}

/* The preview's facet filter from the query (?facet=C&value=X or &null=1);
 * false (with the error box written) if C is not a column of the manifest. */
static bool facet_args(ui_req *u, json_t *manifest, preview *p)
{
    p->facet = ui_arg(u, "facet");
    p->value = ui_arg(u, "value");
    if (!p->facet || !*p->facet) {
        p->facet = p->value = NULL;
        return true;
    }
    if (!p->value && !ui_arg(u, "null")) p->value = "";
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(json_object_get(manifest, "schema"), "fields"), i, f) {
        const char *col = json_string_value(json_object_get(f, "name"));
        if (col && !strcmp(col, p->facet)) {
            const char *type = json_string_value(json_object_get(f, "type"));
            p->facet_text = type && !strcmp(type, "VARCHAR");
            return true;
        }
    }
    lh_html_printf(&u->out, "<div class=\"error\" role=\"alert\">%s has no column %s</div>", p->name, p->facet);
    return false;
}

/* Hidden rows (catalog.tombstones) and, for profiles allowed to, the form that hides more. */
static void tombstones_section(ui_req *u, const char *name, json_t *manifest)
{
    const char *enc = lh_html_url_encode(u->req->arena, name);
    json_t *args = json_pack("{s:s, s:i}", "name", name, "limit", 100), *out;
    lh_html_raw(&u->out, "<section id=\"tombstones\"><h2>Hidden rows</h2>");
    if (!ui_call(u, "catalog.tombstones", args, &out)) {
        static const char *const cols[] = {"key_column", "key_value", "deleted_at", "actor", "reason", NULL};
        json_t *list = json_object_get(out, "tombstones");
        if (json_array_size(list)) ui_object_table(&u->out, list, cols);
        else lh_html_raw(&u->out, "<p class=\"muted\">No rows are hidden in the current version.</p>");
        json_decref(out);
    }
    json_decref(args);
    json_t *probe = json_pack("{s:s, s:s, s:[s]}", "name", name, "key_column", "k", "values", "v");
    bool may = lh_app_may("catalog.tombstone", probe, &u->call.who);
    json_decref(probe);
    if (may) {
        lh_html_printf(&u->out, "<form class=\"tombstone-form\" method=\"post\" action=\"/ui/datasets/%s/tombstone\">", enc);
        ui_csrf_field(u);
        lh_html_raw(&u->out, "<label for=\"ts-column\">Hide rows where</label><select id=\"ts-column\" name=\"key_column\">");
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(json_object_get(manifest, "schema"), "fields"), i, f)
            lh_html_printf(&u->out, "<option>%s</option>", json_string_value(json_object_get(f, "name")));
        lh_html_raw(&u->out, "</select><label for=\"ts-values\">equals (one value per line)</label>"
                             "<textarea id=\"ts-values\" name=\"values\" rows=\"2\" required></textarea>"
                             "<label for=\"ts-reason\">reason</label><input id=\"ts-reason\" name=\"reason\">"
                             "<button type=\"submit\" class=\"danger\">Hide rows</button></form>"
                             "<p class=\"muted\">A new version; the rows stay in the files and in earlier versions.</p>");
    }
    lh_html_raw(&u->out, "</section>");
}

void ui_page_dataset(lh_http_req *req, lh_http_res *res, void *ctx)
{
    ui_req u;
    if (!ui_begin(&u, ctx, req, res, true)) return;
    const char *name = lh_http_param(req, "name");
    long long version = query_int(&u, "version", 0), offset = query_int(&u, "offset", 0);
    if (version < 0 || offset < 0) {
        lh_html_raw(&u.out, "<div class=\"error\" role=\"alert\">version and offset must be whole numbers</div>");
        ui_finish(&u, 400, "Bad request", "explore");
        return;
    }
    json_t *args = json_pack("{s:s}", "name", name), *manifest = NULL, *versions = NULL, *current = NULL;
    if (version) json_object_set_new(args, "version", json_integer(version));
    int status = ui_call(&u, "catalog.show", args, &manifest);
    json_decref(args);
    if (!status && version) {
        args = json_pack("{s:s}", "name", name);
        status = ui_call(&u, "catalog.show", args, &current);
        json_decref(args);
    }
    /* the newest UI_VERSIONS of the history: each is read once per process, and a long one is large */
    long long latest = json_integer_value(json_object_get(current ? current : manifest, "version"));
    long long first = latest > UI_VERSIONS ? latest - UI_VERSIONS + 1 : 1;
    if (!status) {
        char at[32];
        snprintf(at, sizeof at, "%lld", first - 1);
        char *cursor = lh_op_cursor_encode("offset", at);
        args = json_pack("{s:s, s:i, s:s}", "name", name, "limit", UI_VERSIONS, "cursor", cursor);
        free(cursor);
        status = ui_call(&u, "catalog.versions", args, &versions);
        json_decref(args);
    }
    if (status) {
        json_decref(manifest);
        json_decref(versions);
        ui_finish(&u, status, name, "explore");
        return;
    }
    long long shown = json_integer_value(json_object_get(manifest, "version"));
    long long rows = json_integer_value(json_object_get(manifest, "row_count"));
    lh_html_printf(&u.out,
                   "<p class=\"crumbs\"><a href=\"/\">Datasets</a> /</p><h1>%s</h1>"
                   "<dl class=\"facts\"><dt>version</dt><dd data-fact=\"version\">%lld</dd>"
                   "<dt>rows</dt><dd data-fact=\"row_count\">%lld</dd><dt>bucket</dt><dd>%s</dd>"
                   "<dt>created</dt><dd><time>%s</time> by %s</dd></dl>",
                   name, shown, rows, json_string_value(json_object_get(manifest, "bucket")),
                   json_string_value(json_object_get(manifest, "created_at")),
                   json_string_value(json_object_get(manifest, "author")));
    if (shown != latest)
        lh_html_printf(&u.out, "<p class=\"note\">An earlier version; the current one is <a href=\"/ui/datasets/%s\">v%lld</a>.</p>",
                       lh_html_url_encode(req->arena, name), latest);
    const char *message = json_string_value(json_object_get(manifest, "message"));
    if (message) lh_html_printf(&u.out, "<p class=\"message\">%s</p>", message);
    schema_section(&u, manifest);
    preview p = {name, shown, offset, visible_rows(manifest), NULL, NULL, false};
    if (!facet_args(&u, manifest, &p)) {
        json_decref(manifest);
        json_decref(versions);
        json_decref(current);
        ui_finish(&u, 400, name, "explore");
        return;
    }
    lh_html_printf(&u.out,
                   "<section id=\"facets\" hx-get=\"/ui/datasets/%s/facets?version=%lld\" hx-trigger=\"load\" "
                   "hx-swap=\"outerHTML\"><h2>Facets</h2><p><a href=\"/ui/datasets/%s/facets?version=%lld\">"
                   "Most frequent values per column</a></p></section>",
                   lh_html_url_encode(req->arena, name), shown, lh_html_url_encode(req->arena, name), shown);
    preview_section(&u, &p);
    json_t *list = json_object_get(versions, "versions");
    diff_form(&u, name, list, shown > 1 ? shown - 1 : shown, shown);
    versions_section(&u, name, list, first, latest);
    if (shown == latest) tombstones_section(&u, name, manifest);
    lineage_section(&u, manifest);
    json_decref(manifest);
    json_decref(versions);
    json_decref(current);
    ui_finish(&u, 200, name, "explore");
}

void ui_page_preview(lh_http_req *req, lh_http_res *res, void *ctx)
{
    ui_req u;
    if (!ui_begin(&u, ctx, req, res, true)) return;
    const char *name = lh_http_param(req, "name");
    long long version = query_int(&u, "version", 0), offset = query_int(&u, "offset", 0);
    json_t *args = json_pack("{s:s}", "name", name), *manifest = NULL;
    if (version > 0) json_object_set_new(args, "version", json_integer(version));
    int status = version < 0 || offset < 0 ? 400 : ui_call(&u, "catalog.show", args, &manifest);
    json_decref(args);
    if (status == 400 && !manifest) lh_html_raw(&u.out, "<div class=\"error\">version and offset must be whole numbers</div>");
    preview p = {name, json_integer_value(json_object_get(manifest, "version")), offset, visible_rows(manifest), NULL,
                 NULL, false};
    if (!status && !facet_args(&u, manifest, &p)) status = 400;
    if (!status) preview_section(&u, &p);
    json_decref(manifest);
    ui_finish(&u, status ? status : 200, name, "explore");
}

/* The facets section: a fragment for htmx, a page without JavaScript. */
void ui_page_facets(lh_http_req *req, lh_http_res *res, void *ctx)
{
    ui_req u;
    if (!ui_begin(&u, ctx, req, res, true)) return;
    const char *name = lh_http_param(req, "name");
    long long version = query_int(&u, "version", 0);
    if (version < 0) {
        lh_html_raw(&u.out, "<div class=\"error\" role=\"alert\">version must be a whole number</div>");
        ui_finish(&u, 400, name, "explore");
        return;
    }
    if (!u.fragment)
        lh_html_printf(&u.out, "<p class=\"crumbs\"><a href=\"/\">Datasets</a> / <a href=\"/ui/datasets/%s\">%s</a> /</p>",
                       lh_html_url_encode(req->arena, name), name);
    facets_section(&u, name, version);
    ui_finish(&u, 200, name, "explore");
}

/* Hides rows by key: catalog.tombstone with the form's values, one per line. */
void ui_post_tombstone(lh_http_req *req, lh_http_res *res, void *ctx)
{
    ui_req u;
    if (!ui_begin(&u, ctx, req, res, true)) return;
    const char *name = lh_http_param(req, "name"), *column = ui_arg(&u, "key_column"), *text = ui_arg(&u, "values"),
               *reason = ui_arg(&u, "reason");
    json_t *values = json_array();
    for (const char *line = text ? text : ""; *line;) {
        size_t n = strcspn(line, "\r\n");
        if (n) json_array_append_new(values, json_stringn(line, n));
        line += n;
        line += strspn(line, "\r\n");
    }
    json_t *args = json_pack("{s:s, s:s?, s:o}", "name", name, "key_column", column, "values", values), *out;
    if (reason && *reason) json_object_set_new(args, "reason", json_string(reason));
    int status = ui_call(&u, "catalog.tombstone", args, &out);
    json_decref(args);
    if (status) {
        lh_html_printf(&u.out, "<p><a href=\"/ui/datasets/%s\">back to %s</a></p>", lh_html_url_encode(req->arena, name),
                       name);
        ui_finish(&u, status, "Hiding rows refused", "explore");
        return;
    }
    json_decref(out);
    ui_redirect(&u, lh_arena_printf(req->arena, "/ui/datasets/%s#tombstones", lh_html_url_encode(req->arena, name)));
}

static void row_objects_table(ui_req *u, json_t *rows)
{
    if (!json_array_size(rows)) {
        lh_html_raw(&u->out, "<p class=\"muted\">none</p>");
        return;
    }
    ui_object_table(&u->out, rows, NULL);
}

void ui_page_diff(lh_http_req *req, lh_http_res *res, void *ctx)
{
    ui_req u;
    if (!ui_begin(&u, ctx, req, res, true)) return;
    const char *name = lh_http_param(req, "name");
    long long from = query_int(&u, "from", 0), to = query_int(&u, "to", 0);
    lh_html_raw(&u.out, "<div id=\"diff\" class=\"diff\">");
    if (from <= 0 || to < 0) {
        lh_html_raw(&u.out, "<div class=\"error\" role=\"alert\">choose the versions to compare</div></div>");
        ui_finish(&u, 400, "Diff", "explore");
        return;
    }
    json_t *args = json_pack("{s:s, s:I, s:i}", "name", name, "from", (json_int_t)from, "limit", 50), *out;
    if (to) json_object_set_new(args, "to", json_integer(to));
    int status = ui_call(&u, "catalog.diff", args, &out);
    json_decref(args);
    if (status) {
        lh_html_raw(&u.out, "</div>");
        ui_finish(&u, status, "Diff", "explore");
        return;
    }
    json_t *schema = json_object_get(out, "schema");
    lh_html_printf(&u.out,
                   "<h3>v%lld → v%lld</h3><p><span class=\"added\" data-diff=\"rows_added\">+%lld rows</span> "
                   "<span class=\"removed\" data-diff=\"rows_removed\">−%lld rows</span></p>",
                   (long long)json_integer_value(json_object_get(out, "from")),
                   (long long)json_integer_value(json_object_get(out, "to")),
                   (long long)json_integer_value(json_object_get(out, "rows_added")),
                   (long long)json_integer_value(json_object_get(out, "rows_removed")));
    static const char *const parts[] = {"added", "removed", "changed"};
    lh_html_raw(&u.out, "<h4>Schema changes</h4><ul class=\"schema-changes\">");
    bool any = false;
    for (size_t p = 0; p < 3; p++) {
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(schema, parts[p]), i, f) {
            any = true;
            lh_html_printf(&u.out, "<li class=\"%s\">%s <code>%s</code> ", parts[p], parts[p],
                           json_string_value(json_object_get(f, "name")));
            ui_value(&u.out, json_object_get(f, "type"));
            if (json_object_get(f, "from")) {
                lh_html_raw(&u.out, " (was ");
                ui_value(&u.out, json_object_get(f, "from"));
                lh_html_raw(&u.out, ")");
            }
            lh_html_raw(&u.out, "</li>");
        }
    }
    if (!any) lh_html_raw(&u.out, "<li class=\"muted\">none</li>");
    lh_html_raw(&u.out, "</ul><h4>Rows added</h4>");
    row_objects_table(&u, json_object_get(out, "added"));
    lh_html_raw(&u.out, "<h4>Rows removed</h4>");
    row_objects_table(&u, json_object_get(out, "removed"));
    lh_html_raw(&u.out, "</div>");
    json_decref(out);
    ui_finish(&u, 200, "Diff", "explore");
}

void ui_post_rollback(lh_http_req *req, lh_http_res *res, void *ctx)
{
    ui_req u;
    if (!ui_begin(&u, ctx, req, res, true)) return;
    const char *name = lh_http_param(req, "name");
    long long version = query_int(&u, "version", 0);
    if (version <= 0) {
        lh_html_raw(&u.out, "<div class=\"error\" role=\"alert\">which version?</div>");
        ui_finish(&u, 400, "Rollback", "explore");
        return;
    }
    json_t *args = json_pack("{s:s, s:I, s:s}", "name", name, "version", (json_int_t)version, "message",
                             "rollback from the web UI"),
           *out;
    int status = ui_call(&u, "catalog.rollback", args, &out);
    json_decref(args);
    if (status) {
        lh_html_printf(&u.out, "<p><a href=\"/ui/datasets/%s\">back to %s</a></p>", lh_html_url_encode(req->arena, name),
                       name);
        ui_finish(&u, status, "Rollback refused", "explore");
        return;
    }
    json_decref(out);
    ui_redirect(&u, lh_arena_printf(req->arena, "/ui/datasets/%s", lh_html_url_encode(req->arena, name)));
}
