/*
 * resources.c — resources (datasets with sample rows, the system's status,
 * the documents compiled in), resource templates, prompts and completion.
 */
#include "internal.h"

#include "lakehouse/lh_catalog.h"
#include "lakehouse/lh_json.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_version.h"
#include "lh_mcp_docs.h" /* scripts/embed-docs: lh_doc_architecture, lh_doc_mcp_instructions */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DATASETS "lakehouse://datasets/"
#define PAGE 50 /* items per page of every list */
#define SAMPLE_ROWS 5

const char *mcp_instructions(void)
{
    return (const char *)lh_doc_mcp_instructions;
}

static const struct fixed {
    const char *uri, *name, *title, *description, *mime;
} fixed[] = {
    {"lakehouse://system/status", "status", "System status",
     "health per module and bucket, the server's version and the calling profile", "application/json"},
    {"lakehouse://docs/instructions", "instructions", "How to use these tools",
     "how an agent should find, search, query, cite and write", "text/markdown"},
    {"lakehouse://docs/architecture", "architecture", "Architecture", "layers, invariants and source layout",
     "text/markdown"},
};

/* Maps a failed operation to a JSON-RPC error of this request. */
static json_t *op_fail(mcp_req *r, lh_code rc, const lh_err *err)
{
    int code = rc == LH_ENOTFOUND ? MCP_RESOURCE_NOT_FOUND : rc == LH_EINVAL ? MCP_INVALID_PARAMS : MCP_INTERNAL_ERROR;
    return mcp_fail(r, code, "%s: %s", lh_code_name(rc), err->message);
}

/* The names of the datasets the caller may read (a new array of strings). */
static json_t *dataset_names(mcp_req *r)
{
    json_t *args = json_pack("{s:i}", "limit", LH_OP_LIST_MAX), *out = NULL, *names = json_array();
    lh_err err;
    if (lh_app_call(r->app, "catalog.list", args, r->call, &out, &err) == LH_OK) {
        size_t i;
        json_t *d;
        json_array_foreach(json_object_get(out, "datasets"), i, d) json_array_append(names, json_object_get(d, "name"));
    }
    json_decref(args);
    json_decref(out);
    return names;
}

json_t *mcp_resources_list(mcp_req *r)
{
    json_t *all = json_array();
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        json_array_append_new(all, json_pack("{s:s, s:s, s:s, s:s, s:s}", "uri", fixed[i].uri, "name", fixed[i].name,
                                             "title", fixed[i].title, "description", fixed[i].description,
                                             "mimeType", fixed[i].mime));
    json_t *names = dataset_names(r);
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n) {
        char *uri = lh_xasprintf(DATASETS "%s", json_string_value(n));
        json_array_append_new(all, json_pack("{s:s, s:O, s:s, s:s}", "uri", uri, "name", n, "description",
                                             "the dataset's schema and sample rows (current version)", "mimeType",
                                             "application/json"));
        free(uri);
    }
    json_decref(names);
    json_t *page = mcp_page(r, all, "resources", PAGE);
    json_decref(all);
    return page;
}

json_t *mcp_resource_templates_list(mcp_req *r)
{
    json_t *all = json_pack("[{s:s, s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s, s:s}]", "uriTemplate", DATASETS "{name}",
                            "name", "dataset", "title", "A dataset", "description",
                            "a dataset's schema, PII tags, row count and sample rows at its current version", "mimeType",
                            "application/json", "uriTemplate", DATASETS "{name}@{version}", "name", "dataset_version",
                            "title", "A dataset at a version", "description",
                            "the same at a past version", "mimeType", "application/json");
    json_t *page = mcp_page(r, all, "resourceTemplates", PAGE);
    json_decref(all);
    return page;
}

/* lakehouse://datasets/NAME[@VERSION]: the manifest's essentials and sample rows. */
static json_t *read_dataset(mcp_req *r, const char *uri)
{
    const char *spec = uri + strlen(DATASETS);
    const char *at = strchr(spec, '@');
    char *name = at ? lh_xstrndup(spec, (size_t)(at - spec)) : lh_xstrdup(spec);
    long long version = 0;
    if (at) {
        char *end;
        version = strtoll(at + 1, &end, 10);
        if (version < 1 || *end || end == at + 1) {
            free(name);
            return mcp_fail(r, MCP_INVALID_PARAMS, "a version in %s must be a positive integer", uri);
        }
    }
    lh_err err;
    json_t *args = json_pack("{s:s}", "name", name), *manifest = NULL, *rows = NULL;
    if (version) json_object_set_new(args, "version", json_integer(version));
    lh_code rc = lh_app_call(r->app, "catalog.show", args, r->call, &manifest, &err);
    json_decref(args);
    if (rc == LH_OK) {
        int64_t v = json_integer_value(json_object_get(manifest, "version"));
        char *sql = lh_xasprintf("SELECT * FROM lh_version('%s', %lld) LIMIT %d", name, (long long)v, SAMPLE_ROWS);
        args = json_pack("{s:s, s:s}", "sql", sql, "format", "json");
        rc = lh_app_call(r->app, "sql", args, r->call, &rows, &err);
        json_decref(args);
        free(sql);
    }
    free(name);
    if (rc) {
        json_decref(manifest);
        return op_fail(r, rc, &err);
    }
    json_t *doc = json_object();
    static const char *const keep[] = {"dataset", "version", "description", "row_count", "schema", "lineage",
                                       "created_at", "author", "message", "bucket"};
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
        json_t *x = json_object_get(manifest, keep[i]);
        if (x) json_object_set(doc, keep[i], x);
    }
    json_object_set(doc, "sample_rows", json_object_get(rows, "rows"));
    json_decref(manifest);
    json_decref(rows);
    return doc;
}

json_t *mcp_resources_read(mcp_req *r)
{
    const char *uri = mcp_param_str(r, "uri");
    if (!uri) return mcp_fail(r, MCP_INVALID_PARAMS, "resources/read needs params.uri");
    const char *mime = "application/json";
    char *text = NULL;
    if (!strncmp(uri, DATASETS, strlen(DATASETS))) {
        json_t *doc = read_dataset(r, uri);
        if (!doc) return NULL;
        text = lh_json_dumps(doc, JSON_INDENT(2));
        json_decref(doc);
    } else if (!strcmp(uri, "lakehouse://system/status")) {
        bool ready;
        char *health = lh_app_health(r->app, &ready);
        json_t *me = NULL;
        lh_err err;
        lh_app_call(r->app, "profiles.me", NULL, r->call, &me, &err);
        json_t *doc = json_pack("{s:s, s:o?, s:o?}", "version", lh_version(), "health",
                                json_loads(health, 0, NULL), "caller", me);
        free(health);
        text = lh_json_dumps(doc, JSON_INDENT(2));
        json_decref(doc);
    } else if (!strcmp(uri, "lakehouse://docs/architecture")) {
        mime = "text/markdown";
        text = lh_xstrdup((const char *)lh_doc_architecture);
    } else if (!strcmp(uri, "lakehouse://docs/instructions")) {
        mime = "text/markdown";
        text = lh_xstrdup(mcp_instructions());
    } else {
        return mcp_fail(r, MCP_RESOURCE_NOT_FOUND, "no resource %.200s (resources/list and resources/templates/list name them)", uri);
    }
    json_t *out = json_pack("{s:[{s:s, s:s, s:s}]}", "contents", "uri", uri, "mimeType", mime, "text", text);
    free(text);
    return out;
}

/* ---- prompts ---- */

static const struct prompt {
    const char *name, *title, *description;
    const char *args[3][3]; /* {name, description, "required"|NULL} */
    const char *text;       /* {arg} is replaced by the argument */
} prompts[] = {
    {"find_candidates", "Find candidates for a job order",
     "staffing: shortlist workers for a role in a city, with evidence",
     {{"role", "the role to fill, e.g. \"forklift operator\"", "required"},
      {"city", "where, e.g. \"Austin\"", "required"},
      {"count", "how many workers are needed (default 5)", NULL}},
     "Find {count} candidates for a \"{role}\" job order in {city}.\n"
     "1. Call list_indexes and pick the text index over workers (or their profiles).\n"
     "2. Call search with query \"{role}\" and filter \"city = '{city}'\"; then search again with related skills.\n"
     "3. Check availability and reliability with query_sql over the workers dataset (aggregate, do not dump rows).\n"
     "4. Answer with a ranked shortlist: for each worker the id, why they fit, and the dataset and version each fact "
     "came from. Say plainly if fewer than {count} fit."},
    {"explain_dataset", "Explain a dataset", "what a dataset holds, where it came from and how to query it",
     {{"dataset", "the dataset's name", "required"}},
     "Explain the dataset \"{dataset}\" to a new analyst.\n"
     "1. Call describe_dataset with name \"{dataset}\": columns, types, PII tags, lineage, recent versions.\n"
     "2. Read the resource lakehouse://datasets/{dataset} for sample rows.\n"
     "3. Use query_sql for a few aggregates (row count, distinct values of the main categorical columns, ranges).\n"
     "4. Explain what one row is, what each column means, which columns are personal data, how the data changed "
     "across versions, and give two example queries."},
};

json_t *mcp_prompts_list(mcp_req *r)
{
    json_t *all = json_array();
    for (size_t i = 0; i < sizeof prompts / sizeof *prompts; i++) {
        const struct prompt *p = &prompts[i];
        json_t *args = json_array();
        for (size_t a = 0; a < 3 && p->args[a][0]; a++)
            json_array_append_new(args, json_pack("{s:s, s:s, s:b}", "name", p->args[a][0], "description",
                                                  p->args[a][1], "required", p->args[a][2] != NULL));
        json_array_append_new(all, json_pack("{s:s, s:s, s:s, s:o}", "name", p->name, "title", p->title,
                                             "description", p->description, "arguments", args));
    }
    json_t *page = mcp_page(r, all, "prompts", PAGE);
    json_decref(all);
    return page;
}

json_t *mcp_prompts_get(mcp_req *r)
{
    const char *name = mcp_param_str(r, "name");
    json_t *given = json_object_get(r->params, "arguments");
    if (!name) return mcp_fail(r, MCP_INVALID_PARAMS, "prompts/get needs params.name");
    if (given && !json_is_object(given)) return mcp_fail(r, MCP_INVALID_PARAMS, "params.arguments must be an object");
    const struct prompt *p = NULL;
    for (size_t i = 0; i < sizeof prompts / sizeof *prompts && !p; i++)
        if (!strcmp(prompts[i].name, name)) p = &prompts[i];
    if (!p) return mcp_fail(r, MCP_INVALID_PARAMS, "unknown prompt \"%.100s\" (prompts/list names them)", name);
    const char *key;
    json_t *v;
    json_object_foreach(given, key, v) {
        bool known = false;
        for (size_t a = 0; a < 3 && p->args[a][0] && !known; a++) known = !strcmp(p->args[a][0], key);
        if (!known) return mcp_fail(r, MCP_INVALID_PARAMS, "prompt %s takes no argument \"%.60s\"", p->name, key);
        if (!json_is_string(v)) return mcp_fail(r, MCP_INVALID_PARAMS, "argument \"%.60s\" must be a string", key);
    }
    for (size_t a = 0; a < 3 && p->args[a][0]; a++)
        if (p->args[a][2] && !json_object_get(given, p->args[a][0]))
            return mcp_fail(r, MCP_INVALID_PARAMS, "prompt %s needs the argument \"%s\"", p->name, p->args[a][0]);
    lh_buf text = {0};
    for (const char *s = p->text; *s;) {
        const char *open = strchr(s, '{'), *close = open ? strchr(open, '}') : NULL;
        if (!close) {
            lh_buf_puts(&text, s);
            break;
        }
        lh_buf_append(&text, s, (size_t)(open - s));
        char *arg = lh_xstrndup(open + 1, (size_t)(close - open - 1));
        const char *value = json_string_value(json_object_get(given, arg));
        lh_buf_puts(&text, value ? value : !strcmp(arg, "count") ? "5" : "");
        free(arg);
        s = close + 1;
    }
    json_t *out = json_pack("{s:s, s:[{s:s, s:{s:s, s:s}}]}", "description", p->description, "messages", "role",
                            "user", "content", "type", "text", "text", text.data ? text.data : "");
    lh_buf_free(&text);
    return out;
}

/* ---- completion: dataset names for prompt and template arguments ---- */

json_t *mcp_complete(mcp_req *r)
{
    json_t *ref = json_object_get(r->params, "ref"), *argument = json_object_get(r->params, "argument");
    if (!json_is_object(ref) || !json_is_object(argument))
        return mcp_fail(r, MCP_INVALID_PARAMS, "completion/complete needs params.ref and params.argument");
    const char *type = json_string_value(json_object_get(ref, "type"));
    const char *arg = json_string_value(json_object_get(argument, "name"));
    const char *prefix = json_string_value(json_object_get(argument, "value"));
    if (!type || !arg) return mcp_fail(r, MCP_INVALID_PARAMS, "ref.type and argument.name are required");
    bool datasets = (!strcmp(type, "ref/prompt") && !strcmp(arg, "dataset")) ||
                    (!strcmp(type, "ref/resource") && !strcmp(arg, "name"));
    json_t *values = json_array();
    size_t total = 0;
    if (datasets) {
        json_t *names = dataset_names(r);
        size_t i;
        json_t *n;
        json_array_foreach(names, i, n) {
            if (prefix && strncmp(json_string_value(n), prefix, strlen(prefix))) continue;
            if (++total <= 100) json_array_append(values, n);
        }
        json_decref(names);
    }
    return json_pack("{s:{s:o, s:I, s:b}}", "completion", "values", values, "total", (json_int_t)total, "hasMore",
                     total > 100);
}
