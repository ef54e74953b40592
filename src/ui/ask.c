/*
 * ask.c — the Ask page: a question over one or more chosen text indexes
 * (the ask operation); the answer with numbered citations that expand to the cited
 * source row (sql over lh_version(dataset, version) of the provenance) and
 * link to the dataset version it came from.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* The provenance entry of index `index` in the answer. */
static json_t *provenance_of(json_t *answer, const char *index)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(answer, "provenance"), i, p) {
        const char *n = json_string_value(json_object_get(p, "index"));
        if (n && !strcmp(n, index)) return p;
    }
    return NULL;
}

/* The cited row: the index's id column in its dataset's version. */
static void source_row(ui_req *u, const char *index, json_t *id, json_t *prov)
{
    const char *dataset = json_string_value(json_object_get(prov, "dataset"));
    long long version = json_integer_value(json_object_get(prov, "dataset_version"));
    if (!dataset || strchr(dataset, '\'')) return;
    json_t *args = json_pack("{s:s}", "name", index), *shown;
    if (ui_call(u, "index.show", args, &shown)) {
        json_decref(args);
        return;
    }
    json_decref(args);
    const char *id_column =
        json_string_value(json_object_get(json_object_get(json_object_get(shown, "manifest"), "origin"), "id_column"));
    if (id_column && !strchr(id_column, '"')) {
        char *sql = lh_arena_printf(u->req->arena, "SELECT * FROM lh_version('%s', %lld) WHERE \"%s\" = $1 LIMIT 5",
                                    dataset, version, id_column);
        json_t *out;
        args = json_pack("{s:s, s:[O]}", "sql", sql, "params", id);
        if (!ui_call(u, "sql", args, &out)) {
            ui_result_table(&u->out, json_object_get(out, "columns"), json_object_get(out, "rows"));
            json_decref(out);
        }
        json_decref(args);
    }
    json_decref(shown);
}

static void answer(ui_req *u, const char *question, json_t *indexes)
{
    lh_html_raw(&u->out, "<div id=\"answer\">");
    json_t *args = json_pack("{s:s}", "question", question), *out;
    if (json_array_size(indexes)) json_object_set(args, "indexes", indexes);
    int status = ui_call(u, "ask", args, &out);
    json_decref(args);
    if (status) {
        lh_html_raw(&u->out, "</div>");
        return;
    }
    lh_html_printf(&u->out, "<section class=\"answer\"><h2>Answer</h2><p class=\"muted\">mode: %s</p><div class=\"text\">%s</div>",
                   json_string_value(json_object_get(out, "mode")), json_string_value(json_object_get(out, "answer")));
    lh_html_raw(&u->out, "<h3>Citations</h3><ol class=\"citations\">");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(out, "citations"), i, c) {
        const char *idx = json_string_value(json_object_get(c, "index"));
        json_t *id = json_object_get(c, "id");
        json_t *prov = idx ? provenance_of(out, idx) : NULL;
        lh_html_printf(&u->out, "<li class=\"citation\"><details><summary><span class=\"n\">[%zu]</span> %s id ", i + 1, idx ? idx : "");
        ui_value(&u->out, id);
        lh_html_printf(&u->out, " · score %.4f</summary><blockquote>%s</blockquote>",
                       json_number_value(json_object_get(c, "score")), json_string_value(json_object_get(c, "chunk_text")));
        if (prov) {
            const char *dataset = json_string_value(json_object_get(prov, "dataset"));
            long long version = json_integer_value(json_object_get(prov, "dataset_version"));
            lh_html_printf(&u->out, "<p>from <a href=\"/ui/datasets/%s?version=%lld\">%s v%lld</a></p>",
                           lh_html_url_encode(u->req->arena, dataset), version, dataset, version);
            source_row(u, idx, id, prov);
        }
        lh_html_raw(&u->out, "</details></li>");
    }
    lh_html_raw(&u->out, "</ol></section></div>");
    json_decref(out);
}

void ui_page_ask(lh_http_req *req, lh_http_res *res, void *ctx)
{
    ui_req u;
    if (!ui_begin(&u, ctx, req, res, true)) return;
    const char *question = ui_arg(&u, "question");
    json_t *chosen = ui_arg_all(&u, "indexes"); /* borrowed */
    bool run = !strcmp(req->method, "POST") && question && *question;
    if (u.fragment && run) {
        answer(&u, question, chosen);
        ui_finish_fragment(&u, 200);
        return;
    }
    json_t *args = json_object(), *indexes = NULL;
    int status = ui_call(&u, "index.list", args, &indexes);
    json_decref(args);
    if (status) {
        ui_finish(&u, status, "Ask", "ask");
        return;
    }
    lh_html_raw(&u.out, "<h1>Ask</h1><form id=\"ask-form\" method=\"post\" action=\"/ui/ask\" hx-post=\"/ui/ask\" "
                        "hx-target=\"#answer\" hx-swap=\"outerHTML\">");
    ui_csrf_field(&u);
    lh_html_raw(&u.out, "<fieldset class=\"indexes\"><legend>Indexes</legend>");
    size_t i, j;
    json_t *x, *c;
    json_array_foreach(json_object_get(indexes, "indexes"), i, x) {
        const char *name = json_string_value(json_object_get(x, "name"));
        bool on = !chosen && i == 0;
        json_array_foreach(chosen, j, c) on = on || (name && !strcmp(json_string_value(c), name));
        lh_html_printf(&u.out, "<label><input type=\"checkbox\" name=\"indexes\" value=\"%s\"", name);
        lh_html_raw(&u.out, on ? " checked>" : ">");
        lh_html_printf(&u.out, " %s</label>", name);
    }
    if (!json_array_size(json_object_get(indexes, "indexes")))
        lh_html_raw(&u.out, "<span class=\"muted\">No index yet: create one from a dataset (lakehouse index create).</span>");
    lh_html_printf(&u.out,
                   "</fieldset><label for=\"question\">Question</label><input id=\"question\" name=\"question\" "
                   "value=\"%s\" required><button type=\"submit\">Ask</button></form>",
                   question ? question : "");
    json_decref(indexes);
    if (run) answer(&u, question, chosen);
    else lh_html_raw(&u.out, "<div id=\"answer\"></div>");
    ui_finish(&u, 200, "Ask", "ask");
}
