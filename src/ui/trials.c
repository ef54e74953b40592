/*
 * trials.c — an index's trials on its page: the recall-vs-latency plot of
 * every configuration measured (trials.list), the frontier (no other trial
 * is both faster and at least as good) as a series of its own, and the
 * table of trials, newest first. The plot is app.js's chartPanel: x is the
 * first column (p50 ms), each other numeric column a series.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

void ui_trials_section(ui_req *u, const char *index)
{
    lh_html_raw(&u->out, "<section id=\"trials\"><h2>Trials</h2>");
    json_t *args = json_pack("{s:s, s:i}", "index", index, "limit", 500), *out;
    if (ui_call(u, "trials.list", args, &out)) {
        json_decref(args);
        lh_html_raw(&u->out, "</section>");
        return;
    }
    json_decref(args);
    json_t *trials = json_object_get(out, "trials");
    size_t n = json_array_size(trials), i, j;
    if (!n) {
        lh_html_printf(&u->out,
                       "<p class=\"muted\">No trials yet: <code>lakehouse index autotune %s --target 0.99</code> "
                       "measures a grid of configurations.</p></section>",
                       index);
        json_decref(out);
        return;
    }
    json_t *rows = json_array(), *t, *o;
    json_array_foreach(trials, i, t) {
        double p50 = json_number_value(json_object_get(t, "p50_ms")), recall = json_number_value(json_object_get(t, "recall_at_10"));
        bool frontier = true;
        json_array_foreach(trials, j, o) {
            double op50 = json_number_value(json_object_get(o, "p50_ms")), orecall = json_number_value(json_object_get(o, "recall_at_10"));
            if (j != i && op50 <= p50 && orecall >= recall && (op50 < p50 || orecall > recall)) frontier = false;
        }
        json_array_append_new(rows, json_pack("[f, f, o]", p50, recall, frontier ? json_real(recall) : json_null()));
    }
    json_t *data = json_pack("{s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}], s:o}", "columns", "name", "p50_ms", "type",
                             "DOUBLE", "name", "recall@10", "type", "DOUBLE", "name", "frontier", "type", "DOUBLE",
                             "rows", rows);
    char *text = json_dumps(data, JSON_COMPACT);
    lh_html_printf(&u->out,
                   "<figure class=\"chart\" x-data=\"chartPanel\" data-chart=\"%s\" data-trials=\"%zu\">"
                   "<label for=\"trials-kind\">Recall@10 against p50 latency (ms)</label><select id=\"trials-kind\" "
                   "@change=\"draw\"><option value=\"scatter\">scatter</option></select>"
                   "<canvas role=\"img\" aria-label=\"recall against latency of the trials\"></canvas></figure>",
                   text, n);
    free(text);
    json_decref(data);
    static const char *const cols[] = {"created_at", "index_version", "m", "ef_construction", "ef_search",
                                       "quantization", "recall_at_10", "p50_ms", "p99_ms", "status", NULL};
    ui_object_table(&u->out, trials, cols);
    lh_html_raw(&u->out, "</section>");
    json_decref(out);
}
