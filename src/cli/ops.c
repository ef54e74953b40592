/*
 * ops.c — the commands that are operations of lh_app.h: `lakehouse catalog`,
 * `index`, `journal` and `storage`. One table maps each action to its
 * operation, its positional arguments and its flag aliases; every other flag
 * is the operation's parameter (--key-column for key_column), parsed and
 * checked by the library exactly as HTTP's arguments are. So a command can
 * never accept what HTTP refuses, and its help is generated from the same
 * table as /v1/openapi.json.
 */
#include "cli.h"

#include "lakehouse/lh_mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct action {
    const char *name;       /* "show" */
    const char *op;         /* "catalog.show" */
    const char *positional; /* "name,version?" ; "values..." takes the rest; '?' optional */
    const char *aliases;    /* "column=key_column,all=include_deleted,no-promote=promote:false" */
    const char *from_file;  /* a parameter whose value "@PATH" is read from that file ("-": stdin), or NULL */
} action;

typedef struct command {
    const char *name, *summary;
    const action *actions;
    size_t n;
} command;

static const action catalog_actions[] = {
    {"list", "catalog.list", "", "all=include_deleted"},
    {"show", "catalog.show", "name", ""},
    {"versions", "catalog.versions", "name", ""},
    {"create", "catalog.create", "name", ""},
    {"commit", "catalog.commit", "name", ""},
    {"rollback", "catalog.rollback", "name,version", ""},
    {"tombstones", "catalog.tombstones", "name", ""},
    {"tombstone", "catalog.tombstone", "name,values...", "column=key_column"},
    {"delete", "catalog.delete", "name", ""},
    {"purge", "catalog.purge", "", ""},
    {"rebuild", "catalog.rebuild", "", ""},
    {"diff", "catalog.diff", "name", ""},
    {"facets", "catalog.facets", "name", ""},
};

static const action draft_actions[] = {
    {"create", "drafts.create", "dataset,data", "", "data"},
    {"list", "drafts.list", "", "all=include_closed"},
    {"validate", "drafts.validate", "id", ""},
    {"publish", "drafts.publish", "id", ""},
    {"discard", "drafts.discard", "id", ""},
};

/* `lakehouse embed TEXT...`: a command that is one operation (no action word) */
static const action embed_actions[] = {
    {"", "ai.embed", "texts...", ""},
};

static const action index_actions[] = {
    {"list", "index.list", "", ""},
    {"show", "index.show", "name", ""},
    {"create", "index.create", "name",
     "id=id_column,vector=vector_column,text=text_columns,m=M,no-promote=promote:false"},
    {"search", "index.search", "name,vector...", ""},
    {"add", "index.add", "name", "no-promote=promote:false"},
    {"remove", "index.remove", "name,ids...", "no-promote=promote:false"},
    {"rebuild", "index.rebuild", "name", "m=M,no-promote=promote:false"},
    {"promote", "index.promote", "name,version", ""},
    {"rollback", "index.rollback", "name,version?", ""},
    {"history", "index.history", "name", ""},
    {"refresh", "index.refresh", "dataset?", ""},
    {"stale", "index.stale", "", ""},
    {"autotune", "index.autotune", "index", "m=M"},
    {"watch", "index.watch", "index", ""},
};

static const action trial_actions[] = {
    {"run", "trials.run", "index", "m=M"},
    {"list", "trials.list", "index?", ""},
};

static const action playbook_actions[] = {
    {"record", "playbook.record", "index,task", ""},
    {"list", "playbook.list", "", ""},
    {"show", "playbook.show", "id", ""},
    {"retire", "playbook.retire", "id", ""},
};

static const action pathway_actions[] = {
    {"add", "pathway.add", "task_class,path,signal_class", ""},
    {"revise", "pathway.revise", "id", ""},
    {"retire", "pathway.retire", "id", ""},
    {"history", "pathway.history", "id", ""},
    {"list", "pathway.list", "", ""},
    {"search", "pathway.search", "query", ""},
};

static const action journal_actions[] = {
    {"recent", "journal.recent", "", ""},
    {"history", "journal.history", "entity_id", ""},
    {"stats", "journal.stats", "", ""},
    {"flush", "journal.flush", "", ""},
    {"errors", "errors.list", "", ""},
    {"flush-errors", "errors.flush", "", ""},
};

static const action storage_actions[] = {
    {"buckets", "storage.buckets", "", ""},
    {"ls", "storage.objects", "bucket,prefix?", ""},
    {"get", "storage.get", "bucket,key,file?", ""},
    {"put", "storage.put", "bucket,key,file", ""},
    {"rm", "storage.delete", "bucket,key", ""},
};

static const action profile_actions[] = {
    {"list", "profiles.list", "", ""},
    {"show", "profiles.get", "id", ""},
    {"create", "profiles.create", "id", ""},
    {"update", "profiles.update", "id", ""},
    {"delete", "profiles.delete", "id", ""},
    {"me", "profiles.me", "", ""},
    {"search", "profiles.search", "id,query", ""},
    {"keys", "keys.list", "profile", ""},
    {"key-create", "keys.create", "profile", ""},
    {"key-revoke", "keys.revoke", "profile,id", ""},
};

static const action view_actions[] = {
    {"list", "views.list", "", ""},
    {"show", "views.get", "name", ""},
    {"create", "views.create", "name", "base=base_dataset,filter=row_filter,redact=column_redactions"},
    {"update", "views.update", "name", "base=base_dataset,filter=row_filter,redact=column_redactions"},
    {"delete", "views.delete", "name", ""},
    {"suggest", "views.suggest", "dataset", ""},
};

static const action workspace_actions[] = {
    {"list", "workspaces.list", "", ""},
    {"show", "workspaces.get", "name", ""},
    {"create", "workspaces.create", "name", ""},
    {"add", "workspaces.add", "name,kind,ref?", ""},
    {"remove", "workspaces.remove", "name,item", ""},
    {"activity", "workspaces.activity", "name", ""},
    {"handoff", "workspaces.handoff", "name,to", ""},
};

#define N(a) (sizeof a / sizeof *a)
static const command commands[] = {
    {"catalog", "datasets and versions", catalog_actions, N(catalog_actions)},
    {"index", "vector and text indexes, their versions and live pointer", index_actions, N(index_actions)},
    {"journal", "the mutation journal and the error journal", journal_actions, N(journal_actions)},
    {"storage", "buckets and raw objects", storage_actions, N(storage_actions)},
    {"profile", "profiles (who a caller is, what it may use) and their API keys", profile_actions, N(profile_actions)},
    {"view", "AI-safe views: a dataset's columns, a row filter and redactions", view_actions, N(view_actions)},
    {"workspace", "workspaces: a shortlist, its activity, and hand-off to another profile", workspace_actions, N(workspace_actions)},
    {"draft", "drafts: data ingested, checked, then published as a version (or discarded)", draft_actions, N(draft_actions)},
    {"embed", "embeddings of texts by the configured provider", embed_actions, N(embed_actions)},
    {"trial", "trials: index configurations measured, as rows of _trials", trial_actions, N(trial_actions)},
    {"playbook", "playbooks: completed operations remembered, boosting later searches (rows of _playbooks)", playbook_actions, N(playbook_actions)},
    {"pathway", "pathways: decision traces remembered, versioned and searchable (rows of _pathways)", pathway_actions, N(pathway_actions)},
};

/* ---- help ---- */

static void flag_name(const action *a, const char *param, char *out, size_t n)
{
    /* an alias names the flag when there is one */
    const char *al = a->aliases;
    while (al && *al) {
        const char *eq = strchr(al, '='), *end = strchr(al, ',');
        if (!end) end = al + strlen(al);
        size_t plen = strlen(param);
        if (eq && eq < end && (size_t)(end - eq - 1) == plen && !strncmp(eq + 1, param, plen)) {
            snprintf(out, n, "%.*s", (int)(eq - al), al);
            return;
        }
        al = *end ? end + 1 : end;
    }
    snprintf(out, n, "%s", param);
    for (char *p = out; *p; p++)
        if (*p == '_') *p = '-';
}

static bool is_positional(const action *a, const char *param)
{
    size_t n = strlen(param);
    for (const char *p = a->positional; *p;) {
        size_t len = strcspn(p, ",?.");
        if (len == n && !strncmp(p, param, n)) return true;
        p += strcspn(p, ",");
        if (*p) p++;
    }
    return false;
}

static void usage_line(const command *c, const action *a, FILE *out)
{
    fprintf(out, *a->name ? "  %s %s" : " %s%s", c->name, a->name);
    for (const char *p = a->positional; *p;) {
        size_t len = strcspn(p, ",");
        char word[64];
        snprintf(word, sizeof word, "%.*s", (int)len, p);
        bool opt = strchr(word, '?') != NULL, many = strstr(word, "...") != NULL;
        word[strcspn(word, "?.")] = '\0';
        for (char *w = word; *w; w++) *w = (char)(*w >= 'a' && *w <= 'z' ? *w - 32 : *w);
        fprintf(out, " %s%s%s%s", opt ? "[" : "", word, many ? "..." : "", opt ? "]" : "");
        p += len;
        if (*p) p++;
    }
    fputc('\n', out);
}

static void command_help(const command *c)
{
    printf("usage: lakehouse %s <action> [arguments] [options]\n\nactions (%s):\n", c->name, c->summary);
    for (size_t i = 0; i < c->n; i++) {
        usage_line(c, &c->actions[i], stdout);
        printf("      %s\n", lh_op_find(c->actions[i].op)->summary);
    }
    printf("\nRun 'lakehouse %s <action> --help' for an action's options.\n\n"
           "options of every action:\n"
           "  --json               the answer as JSON (default: a table)\n"
           "  --format F           table, json, ndjson or csv (ndjson and csv: lists)\n"
           "  --body FILE          arguments from a JSON object (\"-\" = stdin), as the HTTP body\n"
           "  --actor NAME         who is making the change (default: $USER)\n"
           "  --api-key KEY        act as that key's profile, confined as over HTTP (or $LAKEHOUSE_API_KEY)\n" LH_CLI_COMMON_HELP,
           c->name);
}

static void action_help(const command *c, const action *a, const lh_op *op)
{
    if (*a->name) { /* a command that is one operation: its usage on one line */
        printf("usage:\n");
        usage_line(c, a, stdout);
    } else {
        printf("usage: lakehouse");
        usage_line(c, a, stdout);
    }
    printf("\n%s (operation %s).\n\noptions:\n", op->summary, op->name);
    for (const lh_op_param *p = op->params; p->name; p++) {
        if (is_positional(a, p->name)) continue;
        char flag[64];
        flag_name(a, p->name, flag, sizeof flag);
        char choices[160] = "";
        if (p->choices) {
            size_t used = 0;
            for (const char *const *ch = p->choices; *ch; ch++)
                used += (size_t)snprintf(choices + used, sizeof choices - used, "%s%s", used ? "|" : " ", *ch);
        }
        printf("  --%-22s %s%s%s\n", flag, p->help ? p->help : "", choices, p->required ? " (required)" : "");
    }
    if (op->list) printf("  --%-22s %s\n  --%-22s %s\n", "limit N", "items per page (default 100)", "cursor C",
                         "the page after the one that printed this cursor");
    printf("  --json, --format F, --body FILE, --actor NAME, --api-key KEY, and:\n" LH_CLI_COMMON_HELP);
}

/* ---- arguments ---- */

/* The parameter a flag names, through the action's aliases; *value set for
 * aliases that carry one ("no-promote=promote:false"). */
static const char *alias_of(const action *a, const char *flag, const char **value, char *buf, size_t n)
{
    *value = NULL;
    size_t flen = strlen(flag);
    for (const char *al = a->aliases; *al;) {
        size_t len = strcspn(al, ",");
        const char *eq = memchr(al, '=', len);
        if (eq && (size_t)(eq - al) == flen && !strncmp(al, flag, flen)) {
            snprintf(buf, n, "%.*s", (int)(al + len - eq - 1), eq + 1);
            char *colon = strchr(buf, ':');
            if (colon) {
                *colon = '\0';
                *value = colon + 1;
            }
            return buf;
        }
        al += len;
        if (*al) al++;
    }
    snprintf(buf, n, "%s", flag);
    for (char *p = buf; *p; p++)
        if (*p == '-') *p = '_';
    return buf;
}

static lh_code positional(const action *a, const lh_op *op, json_t *args, char **words, int n, lh_err *err)
{
    int used = 0;
    for (const char *p = a->positional; *p;) {
        size_t len = strcspn(p, ",");
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)len, p);
        bool opt = strchr(name, '?') != NULL, many = strstr(name, "...") != NULL;
        name[strcspn(name, "?.")] = '\0';
        if (!strcmp(name, "file")) { /* storage get/put: a local file, not an argument */
            used += used < n;
        } else if (used >= n && !opt) {
            char upper[64];
            snprintf(upper, sizeof upper, "%s", name);
            for (char *w = upper; *w; w++) *w = (char)(*w >= 'a' && *w <= 'z' ? *w - 32 : *w);
            return lh_err_set(err, LH_EINVAL, "%s is required", upper);
        } else {
            const lh_op_param *param = NULL;
            for (const lh_op_param *q = op->params; q->name; q++)
                if (!strcmp(q->name, name)) param = q;
            if (many && param && param->type == LH_OP_ARRAY) { /* each word a JSON value, else a string */
                json_t *list = json_array();
                for (; used < n; used++) {
                    json_t *x = json_loads(words[used], JSON_DECODE_ANY, NULL);
                    json_array_append_new(list, x ? x : json_string(words[used]));
                }
                json_object_set_new(args, name, list);
            }
            if (many && param && param->type == LH_OP_STRINGS) { /* each word one string, commas and all */
                json_t *list = json_array();
                for (; used < n; used++) {
                    json_t *x = json_string(words[used]);
                    if (!x) {
                        json_decref(list);
                        return lh_err_set(err, LH_EINVAL, "\"%s\" must hold valid UTF-8 text", name);
                    }
                    json_array_append_new(list, x);
                }
                if (json_array_size(list) && json_object_get(args, name))
                    json_array_extend(list, json_object_get(args, name));
                if (json_array_size(list)) json_object_set(args, name, list);
                json_decref(list);
            }
            do {
                if (used < n) {
                    lh_code rc = lh_op_set_text(op, args, name, words[used++], err);
                    if (rc) return rc;
                }
            } while (many && used < n);
        }
        p += len;
        if (*p) p++;
    }
    if (used < n) return lh_err_set(err, LH_EINVAL, "unexpected argument \"%s\"", words[used]);
    return LH_OK;
}

static json_t *read_body(const char *path, lh_err *err)
{
    json_error_t jerr;
    json_t *j = strcmp(path, "-") == 0 ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &jerr)
                                       : json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) lh_err_set(err, LH_EINVAL, "%s: %s (line %d)", path, jerr.text, jerr.line);
    else if (!json_is_object(j)) {
        lh_err_set(err, LH_EINVAL, "%s: expected a JSON object", path);
        json_decref(j);
        j = NULL;
    }
    return j;
}

static bool has_param(const lh_op *op, const char *name)
{
    for (const lh_op_param *q = op->params; q->name; q++)
        if (!strcmp(q->name, name)) return true;
    return false;
}

/* Replaces the value "@PATH" of args' `name` by the content of that file ("@-": stdin). */
static lh_code read_from_file(json_t *args, const char *name, lh_err *err)
{
    const char *v = json_string_value(json_object_get(args, name));
    if (!v || v[0] != '@') return LH_OK;
    FILE *f = strcmp(v + 1, "-") ? fopen(v + 1, "rb") : stdin;
    if (!f) return lh_err_errno(err, LH_EINVAL, errno, "cannot read %s", v + 1);
    lh_buf data = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) lh_buf_append(&data, chunk, n);
    bool failed = ferror(f);
    if (f != stdin) fclose(f);
    json_t *text = failed ? NULL : json_stringn(data.data ? data.data : "", data.len);
    lh_code rc = failed ? lh_err_set(err, LH_EINVAL, "cannot read %s", v + 1)
                 : !text ? lh_err_set(err, LH_EINVAL, "%s is not UTF-8 text", v + 1)
                         : LH_OK;
    if (text) json_object_set_new(args, name, text);
    lh_buf_free(&data);
    return rc;
}

/* The local file of storage get/put (the positional after the key). */
static const char *file_word(const action *a, char **words, int n)
{
    if (!strstr(a->positional, "file")) return NULL;
    return n >= 3 ? words[2] : NULL;
}

static void progress(void *ctx, const char *what, double done)
{
    (void)ctx;
    lh_cli_progress_bar(what, done);
}

static int run_action(const command *c, const action *a, int argc, char **argv)
{
    const lh_op *op = lh_op_find(a->op);
    lh_cli_common common = {.cmd = c->name};
    json_t *args = json_object();
    char **words = lh_xcalloc((size_t)argc + 1, sizeof *words);
    int n_words = 0, status = 0;
    const char *actor = NULL, *body_path = NULL, *api_key = NULL;
    lh_cli_output output = LH_CLI_TABLE;
    lh_err err;
    lh_code rc = LH_OK;
    bool only_words = false;
    for (int i = 0; i < argc && rc == LH_OK && !status; i++) {
        const char *w = argv[i];
        if (only_words || w[0] != '-' || !w[1] || (w[1] != '-' && w[1] != 'h')) {
            words[n_words++] = argv[i];
            continue;
        }
        if (!strcmp(w, "--")) {
            only_words = true;
            continue;
        }
        if (!strcmp(w, "-h") || !strcmp(w, "--help")) {
            action_help(c, a, op);
            status = -1;
            break;
        }
        char flag[128];
        const char *eq = strchr(w, '=');
        snprintf(flag, sizeof flag, "%.*s", (int)(eq ? (size_t)(eq - w - 2) : strlen(w + 2)), w + 2);
        const char *value = eq ? eq + 1 : NULL;
        int common_opt = lh_cli_common_flag(flag);
        if (!strcmp(flag, "json")) {
            output = LH_CLI_JSON;
            continue;
        }
        /* --format is the output's, unless the operation has a format of its own (drafts.create) */
        bool output_format = !strcmp(flag, "format") && !has_param(op, "format");
        bool takes_value = common_opt || output_format || !strcmp(flag, "actor") || !strcmp(flag, "body") ||
                           !strcmp(flag, "api-key");
        char pbuf[128];
        const char *fixed = NULL, *param = takes_value ? NULL : alias_of(a, flag, &fixed, pbuf, sizeof pbuf);
        const lh_op_param *p = NULL;
        for (const lh_op_param *q = op->params; param && q->name; q++)
            if (!strcmp(q->name, param)) p = q;
        bool is_bool = p && p->type == LH_OP_BOOL;
        bool is_list = param && op->list && (!strcmp(param, "limit") || !strcmp(param, "cursor"));
        if (!takes_value && !p && !is_list) { /* never take the next word as the value of an unknown flag */
            const char *near = lh_cli_suggest_flag(a, op, flag);
            rc = near ? lh_err_set(&err, LH_EINVAL, "unknown option --%s; did you mean --%s?", flag, near)
                      : lh_err_set(&err, LH_EINVAL, "unknown option --%s", flag);
            break;
        }
        if (!value && fixed) value = fixed;
        if (!value && is_bool) value = "true";
        if (!value && (takes_value || param)) {
            if (i + 1 >= argc) {
                status = lh_cli_usage_error(c->name, "--%s needs a value", flag);
                break;
            }
            value = argv[++i];
        }
        if (common_opt) lh_cli_common_option(&common, common_opt, value);
        else if (output_format) {
            if (!lh_cli_output_parse(value, &output)) status = lh_cli_usage_error(c->name, "--format is table, json, ndjson or csv");
        } else if (!strcmp(flag, "actor")) actor = value;
        else if (!strcmp(flag, "api-key")) api_key = value;
        else if (!strcmp(flag, "body")) body_path = value;
        else {
            rc = lh_op_set_text(op, args, param, value, &err);
        }
    }
    if (rc == LH_OK && !status) rc = positional(a, op, args, words, n_words, &err);
    if (rc == LH_OK && !status && body_path) {
        json_t *body = read_body(body_path, &err);
        if (!body) rc = LH_EINVAL;
        const char *key;
        json_t *v;
        json_object_foreach(body, key, v) {
            if (!json_object_get(args, key)) json_object_set(args, key, v);
        }
        json_decref(body);
    }
    if (rc == LH_OK && !status && a->from_file) rc = read_from_file(args, a->from_file, &err);
    if (rc == LH_OK && !status) rc = lh_op_check(op, args, &err);
    if (status || rc) {
        json_decref(args);
        free(words);
        lh_cli_common_free(&common);
        if (status == -1) return 0;
        if (status) return status;
        fprintf(stderr, "lakehouse %s %s: ", c->name, a->name);
        lh_cli_put_message(stderr, err.message);
        fprintf(stderr, "\n(see lakehouse %s %s --help)\n", c->name, a->name);
        return lh_code_exit_status(err.code);
    }

    lh_config cfg;
    lh_app *app;
    status = lh_cli_open_app(&common, &cfg, &app);
    lh_cli_common_free(&common);
    if (status) {
        json_decref(args);
        free(words);
        return status;
    }
    lh_op_ctx call = {.who = lh_cli_who(actor)};
    if (isatty(2)) call.progress = progress;
    json_t *out = NULL;
    const char *file = file_word(a, words, n_words);
    rc = lh_cli_identify(app, api_key, &call.who, &err);
    if (rc) {
    } else if (!strcmp(op->name, "storage.get")) {
        lh_buf data = {0};
        bool rescued = false;
        rc = lh_app_object_get(app, args, &call, &data, &rescued, &err);
        if (rc == LH_OK) {
            FILE *f = file ? fopen(file, "wb") : stdout;
            if (!f || fwrite(data.data ? data.data : "", 1, data.len, f) != data.len)
                rc = lh_err_set(&err, LH_EIO, "writing %s failed", file ? file : "stdout");
            if (f && f != stdout) fclose(f);
        }
        if (rescued) fprintf(stderr, "lakehouse storage: served by the rescue bucket\n");
        lh_buf_free(&data);
    } else if (!strcmp(op->name, "storage.put")) {
        rc = lh_app_object_put(app, args, NULL, 0, file, &call, &out, &err);
    } else {
        rc = lh_app_call(app, op->name, args, &call, &out, &err);
    }
    if (rc == LH_OK && out) rc = lh_cli_render(op, out, output, &err);
    status = rc ? lh_cli_fail(c->name, &err) : 0;
    json_decref(out);
    json_decref(args);
    free(words);
    lh_cli_close_app(&cfg, app);
    return status;
}

const char *lh_cli_suggest_flag(const void *act, const lh_op *op, const char *flag)
{
    const action *a = act;
    const char *names[128];
    static char bufs[128][64];
    size_t n = 0;
    for (const lh_op_param *p = op->params; p->name && n < 120; p++) {
        if (is_positional(a, p->name)) continue;
        flag_name(a, p->name, bufs[n], sizeof bufs[n]);
        names[n] = bufs[n];
        n++;
    }
    static const char *const common[] = {"json", "format", "body", "actor", "api-key", "config", "data", "set", "log-level", "help"};
    for (size_t i = 0; i < sizeof common / sizeof *common; i++) names[n++] = common[i];
    if (op->list) names[n++] = "limit", names[n++] = "cursor";
    return lh_cli_nearest(flag, names, n);
}

static int run_command(const command *c, int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        if (argc < 2) {
            lh_cli_usage_error(c->name, "missing action");
            return 2;
        }
        command_help(c);
        return 0;
    }
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->actions[i].name, argv[1])) return run_action(c, &c->actions[i], argc - 2, argv + 2);
    const char *names[32];
    for (size_t i = 0; i < c->n; i++) names[i] = c->actions[i].name;
    const char *best = lh_cli_nearest(argv[1], names, c->n);
    if (best) return lh_cli_usage_error(c->name, "unknown action \"%s\"; did you mean \"%s\"?", argv[1], best);
    return lh_cli_usage_error(c->name, "unknown action \"%s\"", argv[1]);
}

int cmd_catalog(int argc, char **argv)
{
    return run_command(&commands[0], argc, argv);
}

int cmd_index(int argc, char **argv)
{
    return run_command(&commands[1], argc, argv);
}

int cmd_journal(int argc, char **argv)
{
    return run_command(&commands[2], argc, argv);
}

int cmd_storage(int argc, char **argv)
{
    return run_command(&commands[3], argc, argv);
}

int cmd_profile(int argc, char **argv)
{
    return run_command(&commands[4], argc, argv);
}

int cmd_view(int argc, char **argv)
{
    return run_command(&commands[5], argc, argv);
}

int cmd_workspace(int argc, char **argv)
{
    return run_command(&commands[6], argc, argv);
}

int cmd_draft(int argc, char **argv)
{
    return run_command(&commands[7], argc, argv);
}

int cmd_embed(int argc, char **argv)
{
    return run_action(&commands[8], &commands[8].actions[0], argc - 1, argv + 1);
}

int cmd_trial(int argc, char **argv)
{
    return run_command(&commands[9], argc, argv);
}

int cmd_playbook(int argc, char **argv)
{
    return run_command(&commands[10], argc, argv);
}

int cmd_pathway(int argc, char **argv)
{
    return run_command(&commands[11], argc, argv);
}
