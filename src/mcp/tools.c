/*
 * tools.c — the tools: each is an operation of the table (or two, composed),
 * its input schema generated from the operation's parameters, its result
 * capped and journaled.
 */
#include "internal.h"

#include "lakehouse/lh_journal.h"
#include "lakehouse/lh_json.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OBJ(props, req) "{\"type\":\"object\",\"properties\":{" props "}" req "}"
#define ARR "{\"type\":\"array\",\"items\":{\"type\":\"object\"}}"
#define LIST(member) OBJ("\"" member "\":" ARR ",\"next\":{\"type\":\"string\"}", ",\"required\":[\"" member "\"]")

typedef struct tool tool;
typedef json_t *(*compose_fn)(mcp_req *r, const tool *t, json_t *args, lh_err *err, lh_code *rc);

struct tool {
    const char *name, *title;
    const char *op;          /* the operation it runs (its parameters are the input schema) */
    const char *description; /* NULL: the operation's summary */
    const char *hide;        /* parameters not offered, comma-separated */
    const char *output;      /* outputSchema */
    bool read_only;
    compose_fn compose; /* NULL: the operation alone */
};

static json_t *describe_dataset(mcp_req *r, const tool *t, json_t *args, lh_err *err, lh_code *rc);

static const tool tools[] = {
    {"list_datasets", "List datasets", "catalog.list",
     "The datasets this caller may read, by name, with their current version and row count. Start here.", NULL,
     LIST("datasets"), true, NULL},
    {"describe_dataset", "Describe a dataset", "catalog.show",
     "A dataset's schema (column types, PII tags), lineage, row count and its recent versions (who, when, why). "
     "Give version for a past one.",
     NULL, OBJ("\"manifest\":{\"type\":\"object\"},\"versions\":" ARR ",\"versions_total\":{\"type\":\"integer\"}",
               ",\"required\":[\"manifest\",\"versions\"]"),
     true, describe_dataset},
    {"query_sql", "Run SQL", "sql",
     "Runs exactly one read-only SQL statement (DuckDB dialect) over the datasets and views this caller may read. "
     "Every dataset is a table by its name; a past version is lh_version('name', N). Rows and time are capped; "
     "'truncated' says when rows were cut. Prefer search for questions about text.",
     "format", OBJ("\"columns\":" ARR ",\"rows\":{\"type\":\"array\"},\"truncated\":{\"type\":\"boolean\"}",
                   ",\"required\":[\"columns\",\"rows\"]"),
     true, NULL},
    {"search", "Search a text index", "search",
     "Finds rows of a text index's dataset by meaning (vector), keywords (text) or both (hybrid, the default), "
     "with each hit's id, score and source row. filter is an SQL condition over the dataset's columns.",
     NULL, OBJ("\"hits\":" ARR ",\"index\":{\"type\":\"string\"},\"dataset\":{\"type\":\"string\"}", ",\"required\":[\"hits\"]"),
     true, NULL},
    {"ask", "Ask a question", "ask",
     "Answers a question from text indexes with numbered citations (id, dataset, version) and provenance. "
     "Cite the ids you use.",
     NULL, OBJ("\"answer\":{\"type\":\"string\"},\"citations\":" ARR, ",\"required\":[\"answer\",\"citations\"]"), true,
     NULL},
    {"embed_text", "Embed texts", "ai.embed", NULL, NULL,
     OBJ("\"vectors\":{\"type\":\"array\",\"items\":{\"type\":\"array\",\"items\":{\"type\":\"number\"}}},"
         "\"dim\":{\"type\":\"integer\"}",
         ",\"required\":[\"vectors\"]"),
     true, NULL},
    {"list_indexes", "List indexes", "index.list", NULL, NULL, LIST("indexes"), true, NULL},
    {"list_views", "List views", "views.list",
     "The AI-safe views this caller may read (a dataset's columns, filtered rows, redactions); query them by name "
     "in SQL like datasets.",
     NULL, LIST("views"), true, NULL},
    {"dataset_versions", "A dataset's versions", "catalog.versions", NULL, NULL, LIST("versions"), true, NULL},
    {"diff_versions", "Diff two versions", "catalog.diff", NULL, NULL,
     OBJ("\"rows_added\":{\"type\":\"integer\"},\"rows_removed\":{\"type\":\"integer\"},\"added\":" ARR
         ",\"removed\":" ARR ",\"schema\":{\"type\":\"object\"}",
         ""),
     true, NULL},
    {"journal_history", "An entity's history", "journal.history",
     "Every recorded change of one entity (a dataset, an index, a view...), newest first: who, when, what.", NULL,
     LIST("events"), true, NULL},
    {"recent_errors", "Recent failures", "errors.list",
     "Recorded failures (storage, ingest, providers), newest first: the first place to look when something did "
     "not work.",
     NULL, LIST("errors"), true, NULL},
    {"ingest_draft", "Stage data as a draft", "drafts.create",
     "Stages data (CSV, JSON, NDJSON or text, as a string) for a dataset as a draft that no other reader sees. "
     "Validate it with validate_draft, then publish_draft (a new version) or discard_draft.",
     NULL, OBJ("\"draft\":{\"type\":\"string\"}", ",\"required\":[\"draft\"]"), false, NULL},
    {"validate_draft", "Validate a draft", "drafts.validate", NULL, NULL, OBJ("", ""), true, NULL},
    {"publish_draft", "Publish a draft", "drafts.publish", NULL, NULL, OBJ("", ""), false, NULL},
    {"discard_draft", "Discard a draft", "drafts.discard", NULL, NULL, OBJ("", ""), false, NULL},
    {"list_drafts", "List drafts", "drafts.list", NULL, NULL, LIST("drafts"), true, NULL},
    {"dataset_facets", "A dataset's frequent values", "catalog.facets",
     "The most frequent values of a dataset's columns with their counts (suggested columns, or the ones named): "
     "what a column holds before you filter on it in SQL.",
     NULL, OBJ("\"facets\":" ARR, ",\"required\":[\"facets\"]"), true, NULL},
    {"list_trials", "List an index's trials", "trials.list",
     "Index configurations measured against an evaluation set (recall@10, p50/p99 ms, status), newest first; "
     "the same rows SQL reads from _trials.",
     NULL, LIST("trials"), true, NULL},
    {"run_trial", "Measure an index configuration", "trials.run",
     "Measures one configuration of an index (M, ef_construction, ef_search, quantization, seed) against an "
     "evaluation set and records it in _trials; with promote, it goes live only if the gate lets it.",
     NULL, OBJ("\"trials\":" ARR ",\"best\":{\"type\":\"object\"}", ",\"required\":[\"trials\",\"best\"]"), false,
     NULL},
    {"record_playbook", "Remember a completed operation", "playbook.record",
     "Records a completed operation as a playbook: its task (\"fill: welder x2 in Reno, NV\"), its context (the "
     "city), the ids it chose from a text index, and the outcome. Later searches with playbooks: true boost them.",
     NULL, OBJ("\"playbook\":{\"type\":\"object\"}", ",\"required\":[\"playbook\"]"), false, NULL},
    {"list_playbooks", "List playbooks", "playbook.list", NULL, NULL, LIST("playbooks"), true, NULL},
    {"add_pathway", "Remember a decision trace", "pathway.add",
     "Records that a path, for a task class, on a signal, produced an outcome; the same one again counts a replay.",
     NULL, OBJ("\"pathway\":{\"type\":\"object\"}", ",\"required\":[\"pathway\"]"), false, NULL},
    {"search_pathways", "Search decision traces", "pathway.search", NULL, NULL,
     OBJ("\"hits\":" ARR, ",\"required\":[\"hits\"]"), true, NULL},
};

#define N_TOOLS (sizeof tools / sizeof *tools)

const lh_mcp_tool_info *lh_mcp_tools(size_t *n)
{
    static lh_mcp_tool_info info[N_TOOLS];
    for (size_t i = 0; i < N_TOOLS; i++) info[i] = (lh_mcp_tool_info){tools[i].name, tools[i].op};
    *n = N_TOOLS;
    return info;
}

static bool hidden(const tool *t, const char *param)
{
    size_t n = strlen(param);
    for (const char *p = t->hide; p && *p;) {
        const char *end = strchr(p, ',');
        size_t k = end ? (size_t)(end - p) : strlen(p);
        if (k == n && !memcmp(p, param, n)) return true;
        p = end ? end + 1 : p + k;
    }
    return false;
}

/* ---- schemas from the operation table ---- */

static json_t *param_schema(const lh_op_param *p)
{
    static const char *const types[] = {[LH_OP_STRING] = "string", [LH_OP_INT] = "integer", [LH_OP_NUMBER] = "number",
                                        [LH_OP_BOOL] = "boolean", [LH_OP_STRINGS] = "array", [LH_OP_NUMBERS] = "array",
                                        [LH_OP_ARRAY] = "array", [LH_OP_OBJECT] = "object"};
    json_t *s = json_object();
    if (p->type != LH_OP_ANY) json_object_set_new(s, "type", json_string(types[p->type]));
    if (p->help) json_object_set_new(s, "description", json_string(p->help));
    json_t *choices = NULL;
    if (p->choices) {
        choices = json_array();
        for (const char *const *c = p->choices; *c; c++) json_array_append_new(choices, json_string(*c));
    }
    bool bounded = p->max > 0 && p->max < 9e15;
    if (p->type == LH_OP_INT || p->type == LH_OP_NUMBER) {
        json_object_set_new(s, "minimum", p->type == LH_OP_INT ? json_integer((json_int_t)p->min) : json_real(p->min));
        if (bounded) json_object_set_new(s, "maximum", p->type == LH_OP_INT ? json_integer((json_int_t)p->max) : json_real(p->max));
    } else if (p->type == LH_OP_STRINGS || p->type == LH_OP_NUMBERS || p->type == LH_OP_ARRAY) {
        json_t *items = json_object();
        if (p->type != LH_OP_ARRAY) json_object_set_new(items, "type", json_string(p->type == LH_OP_STRINGS ? "string" : "number"));
        if (choices && p->type == LH_OP_STRINGS) json_object_set(items, "enum", choices);
        json_object_set_new(s, "items", items);
        if (p->min > 0) json_object_set_new(s, "minItems", json_integer((json_int_t)p->min));
        if (bounded) json_object_set_new(s, "maxItems", json_integer((json_int_t)p->max));
    } else if (choices) {
        json_object_set(s, "enum", choices);
    }
    json_decref(choices);
    return s;
}

static json_t *input_schema(const tool *t, const lh_op *op)
{
    static const lh_op_param list_params[] = {
        {"limit", LH_OP_INT, false, NULL, 1, LH_OP_LIST_MAX, "items per page (default 100)"},
        {"cursor", LH_OP_STRING, false, NULL, 0, 0, "the previous page's next"},
        {NULL, 0, false, NULL, 0, 0, NULL}};
    json_t *props = json_object(), *required = json_array();
    for (int pass = 0; pass < 2; pass++) {
        const lh_op_param *ps = pass ? (op->list ? list_params : NULL) : op->params;
        for (const lh_op_param *p = ps; p && p->name; p++) {
            if (hidden(t, p->name)) continue;
            json_object_set_new(props, p->name, param_schema(p));
            if (p->required) json_array_append_new(required, json_string(p->name));
        }
    }
    json_t *s = json_pack("{s:s, s:o, s:b}", "type", "object", "properties", props, "additionalProperties", 0);
    if (json_array_size(required)) json_object_set(s, "required", required);
    json_decref(required);
    return s;
}

json_t *mcp_tools_list(mcp_req *r)
{
    json_t *all = json_array();
    for (size_t i = 0; i < N_TOOLS; i++) {
        const tool *t = &tools[i];
        const lh_op *op = lh_op_find(t->op);
        if (!op) continue; /* test_mcp checks every tool's operation exists */
        json_error_t jerr;
        json_t *output = json_loads(t->output, 0, &jerr);
        json_t *j = json_pack("{s:s, s:s, s:s, s:o, s:o, s:{s:s, s:b, s:b, s:b}}", "name", t->name, "title", t->title,
                              "description", t->description ? t->description : op->summary, "inputSchema",
                              input_schema(t, op), "outputSchema", output ? output : json_object(), "annotations",
                              "title", t->title, "readOnlyHint", t->read_only, "idempotentHint", t->read_only,
                              "openWorldHint", 0);
        json_array_append_new(all, j);
    }
    json_t *page = mcp_page(r, all, "tools", 50);
    json_decref(all);
    return page;
}

/* ---- calls ---- */

static json_t *describe_dataset(mcp_req *r, const tool *t, json_t *args, lh_err *err, lh_code *rc)
{
    (void)t;
    json_t *manifest = NULL, *versions = NULL;
    *rc = lh_app_call(r->app, "catalog.show", args, r->call, &manifest, err);
    if (*rc) return NULL;
    json_t *q = json_pack("{s:O, s:i}", "name", json_object_get(args, "name"), "limit", LH_OP_LIST_MAX);
    *rc = lh_app_call(r->app, "catalog.versions", q, r->call, &versions, err);
    json_decref(q);
    if (*rc) {
        json_decref(manifest);
        return NULL;
    }
    /* the newest ten, newest first */
    json_t *all = json_object_get(versions, "versions"), *recent = json_array();
    size_t n = json_array_size(all);
    for (size_t i = n; i > 0 && json_array_size(recent) < 10; i--) json_array_append(recent, json_array_get(all, i - 1));
    json_t *out = json_pack("{s:o, s:o, s:I}", "manifest", manifest, "versions", recent, "versions_total", (json_int_t)n);
    json_decref(versions);
    return out;
}

/* The array member with the most items, the one to cut (rows, hits, events...). */
static const char *longest_array(json_t *out)
{
    const char *best = NULL, *key;
    size_t most = 0;
    json_t *v;
    json_object_foreach(out, key, v) {
        if (json_is_array(v) && json_array_size(v) > most) most = json_array_size(v), best = key;
    }
    return best;
}

static size_t dumped_size(const json_t *j)
{
    return json_dumpb(j, NULL, 0, JSON_COMPACT);
}

/* x cut to keep bytes (at a character boundary) and an ellipsis, or NULL when it is short enough. */
static json_t *cut_string(const json_t *x, size_t keep)
{
    if (!json_is_string(x) || json_string_length(x) <= keep) return NULL;
    const char *s = json_string_value(x);
    while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80) keep--;
    char *cut = lh_xasprintf("%.*s…", (int)keep, s);
    json_t *j = json_string(cut);
    free(cut);
    return j;
}

/* Cuts long strings to keep bytes, everywhere in v. */
static void cut_strings(json_t *v, size_t keep)
{
    const char *key;
    json_t *x, *cut;
    size_t i;
    json_object_foreach(v, key, x) {
        if ((cut = cut_string(x, keep))) json_object_set_new(v, key, cut);
        else cut_strings(x, keep);
    }
    json_array_foreach(v, i, x) {
        if ((cut = cut_string(x, keep))) json_array_set_new(v, i, cut);
        else cut_strings(x, keep);
    }
}

/* Holds out to max characters: first the longest list loses items from its
 * end, then long strings are cut. Says what was cut; false when even that
 * is too big. */
static bool cap_result(json_t *out, long long max)
{
    size_t limit = (size_t)max;
    if (dumped_size(out) <= limit) return true;
    json_object_set_new(out, "truncated", json_true());
    const char *member = longest_array(out);
    json_t *list = member ? json_object_get(out, member) : NULL;
    size_t total = json_array_size(list);
    if (dumped_size(out) > limit && list) {
        json_incref(list);
        size_t lo = 0, hi = total; /* the most items that fit */
        while (lo < hi) {
            size_t mid = (lo + hi + 1) / 2;
            json_t *part = json_array();
            for (size_t i = 0; i < mid; i++) json_array_append(part, json_array_get(list, i));
            json_object_set_new(out, member, part);
            if (dumped_size(out) + 200 <= limit) lo = mid;
            else hi = mid - 1;
        }
        json_t *part = json_array();
        for (size_t i = 0; i < lo; i++) json_array_append(part, json_array_get(list, i));
        json_object_set_new(out, member, part);
        json_decref(list);
        if (lo < total) {
            char note[200];
            snprintf(note, sizeof note, "%s: %zu of %zu shown; the result is capped at %lld characters (mcp.max_chars)",
                     member, lo, total, max);
            json_object_set_new(out, "truncation", json_string(note));
        }
    }
    for (size_t keep = 4096; dumped_size(out) > limit && keep >= 64; keep /= 4) {
        cut_strings(out, keep);
        char note[200];
        snprintf(note, sizeof note, "long values cut to %zu bytes; the result is capped at %lld characters (mcp.max_chars)", keep, max);
        json_object_set_new(out, "truncation", json_string(note));
    }
    return dumped_size(out) <= limit;
}

static json_t *text_result(const char *text, bool is_error)
{
    return json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", text, "isError", is_error);
}

static json_t *error_result(lh_code rc, const lh_err *err)
{
    char *text = lh_xasprintf("%s: %s", lh_code_name(rc), err->message);
    json_t *j = text_result(text, true);
    free(text);
    return j;
}

static void journal_call(mcp_req *r, const tool *t, lh_code rc, int64_t started_ms, bool truncated)
{
    lh_journal *j = r->app ? lh_app_journal(r->app) : NULL;
    if (!j) return;
    json_t *what = json_pack("{s:s, s:s, s:I, s:b}", "tool", t->name, "outcome", rc ? lh_code_name(rc) : "ok", "ms",
                             (json_int_t)(lh_time_now_ms() - started_ms), "truncated", truncated);
    lh_journal_event ev = {.entity_type = "mcp", .entity_id = t->name, .action = rc ? "call_failed" : "call",
                           .new_value = what, .actor = r->call->who.actor, .source = "mcp", .relaxed = true};
    lh_journal_record(j, &ev);
    json_decref(what);
}

/* query_sql: rows and time within the agent's limits; says so when it lowers a request. */
static void sql_limits(mcp_req *r, json_t *args)
{
    long long rows = lh_op_int(args, "max_rows", r->limits->max_rows);
    long long ms = lh_op_int(args, "timeout_ms", r->limits->timeout_ms);
    json_object_set_new(args, "max_rows", json_integer(rows < r->limits->max_rows ? rows : r->limits->max_rows));
    json_object_set_new(args, "timeout_ms", json_integer(ms < r->limits->timeout_ms ? ms : r->limits->timeout_ms));
    json_object_set_new(args, "format", json_string("json"));
}

json_t *mcp_tools_call(mcp_req *r)
{
    const char *name = mcp_param_str(r, "name");
    json_t *given = json_object_get(r->params, "arguments");
    if (!name) return mcp_fail(r, MCP_INVALID_PARAMS, "tools/call needs params.name");
    if (given && !json_is_object(given) && !json_is_null(given))
        return mcp_fail(r, MCP_INVALID_PARAMS, "params.arguments must be an object");
    const tool *t = NULL;
    for (size_t i = 0; i < N_TOOLS && !t; i++)
        if (!strcmp(tools[i].name, name) && lh_op_find(tools[i].op)) t = &tools[i];
    if (!t) return mcp_fail(r, MCP_INVALID_PARAMS, "unknown tool \"%.100s\" (tools/list names them)", name);

    int64_t started = lh_time_now_ms();
    json_t *args = json_is_object(given) ? json_deep_copy(given) : json_object(), *out = NULL;
    lh_err err = {0};
    lh_code rc = LH_OK;
    const char *key;
    json_t *v;
    json_object_foreach(args, key, v) {
        if (hidden(t, key)) {
            rc = lh_err_set(&err, LH_EINVAL, "unknown field \"%s\" (%s does not take it)", key, t->name);
            break;
        }
    }
    if (rc == LH_OK && !strcmp(t->op, "sql")) sql_limits(r, args);
    if (rc == LH_OK) {
        if (t->compose) out = t->compose(r, t, args, &err, &rc);
        else rc = lh_app_call(r->app, t->op, args, r->call, &out, &err);
    }
    json_t *result;
    bool truncated = false;
    if (rc) {
        result = error_result(rc, &err);
    } else {
        if (!json_is_object(out)) {
            json_t *wrapped = json_pack("{s:o}", "result", out ? out : json_null());
            out = wrapped;
        }
        if (!strcmp(t->op, "sql") && json_is_true(json_object_get(out, "truncated"))) {
            char note[160];
            snprintf(note, sizeof note, "rows capped at %lld (max_rows, at most mcp.max_rows %lld): add a LIMIT or aggregate",
                     lh_op_int(args, "max_rows", 0), r->limits->max_rows);
            json_object_set_new(out, "truncation", json_string(note));
        }
        char *text = lh_json_dumps(out, JSON_COMPACT);
        bool fits = strlen(text) <= (size_t)r->limits->max_chars;
        if (!fits && cap_result(out, r->limits->max_chars)) {
            free(text);
            text = lh_json_dumps(out, JSON_COMPACT);
            fits = true;
        }
        if (!fits) {
            free(text);
            char msg[200];
            snprintf(msg, sizeof msg, "the result is over %lld characters even when cut (mcp.max_chars): ask for less "
                     "(fewer columns, a LIMIT, a smaller k)", r->limits->max_chars);
            json_decref(out);
            rc = lh_err_set(&err, LH_ETOOBIG, "%s", msg);
            result = error_result(rc, &err);
        } else {
            truncated = json_is_true(json_object_get(out, "truncated"));
            result = text_result(text, false);
            free(text);
            json_object_set_new(result, "structuredContent", out);
        }
    }
    json_decref(args);
    journal_call(r, t, rc, started, truncated);
    return result;
}
