/*
 * drafts.c — write-audit-publish: data checked before any reader sees it.
 *
 * drafts.create runs the ingest pipeline with prepare_only (lh_ingest.h): the
 * data files are stored under datasets/<name>/data/ as by any ingest, and the
 * commit ingest would have made is recorded in a draft instead of a version:
 *
 *   {name: <id>, draft: <id>, dataset, status: open|published|discarded,
 *    owner: <profile id>|"local", base_version (0: no dataset yet), bucket,
 *    mode, message, rows, schema, schema_changes, rejects, sources, objects,
 *    lineage, content_hashes, published_version?, published_at?, published_by?,
 *    discard_reason?, discarded_at?, discarded_by?, version, created_at,
 *    created_by, updated_at, updated_by}
 *
 * A draft is a versioned object (objects.c: _catalog/drafts/<id>/v00000001.json,
 * written once each with put-if-absent, so every replica reads the same
 * state), journaled as entity type "draft". Readers resolve committed versions
 * only, so no SQL, search or index sees a draft's rows; purge keeps the files
 * of open drafts (lh_app_drafts_keep) and may remove a discarded one's.
 *
 * Who sees a draft: the profile that made it (owner) and admins; to anyone
 * else it does not exist (LH_ENOTFOUND). Every call on it also needs the
 * operation's scope (ingest) and a binding to the draft's dataset, as
 * drafts.create did (LH_EFORBIDDEN, journaled).
 */
#include "internal.h"

#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_time.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const lh_op_choices_draft_format[] = {"csv",  "tsv",      "json", "ndjson",
                                                  "text", "markdown", NULL};

#define DRAFT_ID_HEX 32

static const char *caller_id(const lh_who *who)
{
    return who->profile ? lh_profile_id(who->profile) : "local";
}

static bool is_draft_id(const char *id)
{
    if (!id || id[0] != 'd' || strlen(id) != 1 + DRAFT_ID_HEX) return false;
    for (const char *p = id + 1; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
    return true;
}

/* Whether who may see draft d: its owner (while bound to its dataset) or an admin. */
static bool may_see(const lh_who *who, const json_t *d)
{
    const lh_profile *p = who->profile;
    if (!p || (lh_profile_scopes(p) & LH_SCOPE_ADMIN)) return true;
    const char *owner = json_string_value(json_object_get(d, "owner"));
    return owner && !strcmp(owner, lh_profile_id(p));
}

/* who may run op_name on the draft of `dataset`: its scope and a binding to the dataset. */
static lh_code authorize(lh_app *app, const char *op_name, const char *dataset, const lh_who *who,
                         lh_err *err)
{
    lh_op op = *lh_op_find(op_name);
    op.binds = "dataset:dataset";
    json_t *args = json_pack("{s:s}", "dataset", dataset);
    lh_code rc = lh_app_authorize(app, &op, args, who, err);
    json_decref(args);
    return rc;
}

/* The draft `id` as who may see it (a new reference), else LH_ENOTFOUND. */
static lh_code open_draft(lh_app *app, const char *id, const char *op_name, const lh_who *who,
                          json_t **d, lh_err *err)
{
    *d = NULL;
    if (is_draft_id(id)) {
        lh_code rc = lh_app_objects_refresh(app, &app->drafts, id, err);
        if (rc) return rc;
        *d = lh_app_objects_get(&app->drafts, id);
    }
    if (!*d || !may_see(who, *d)) {
        json_decref(*d);
        *d = NULL;
        return lh_err_set(err, LH_ENOTFOUND, "no draft \"%.70s\"", id);
    }
    lh_code rc =
        authorize(app, op_name, json_string_value(json_object_get(*d, "dataset")), who, err);
    if (rc) {
        json_decref(*d);
        *d = NULL;
    }
    return rc;
}

/* What a caller is shown of a draft (a new reference): the record without the commit's innards. */
static json_t *shown(const json_t *d)
{
    json_t *v = json_deep_copy(d);
    json_object_set_new(v, "files",
                        json_integer((json_int_t)json_array_size(json_object_get(d, "objects"))));
    static const char *const inner[] = {"name",           "objects", "lineage",
                                        "content_hashes", "deleted", "version"};
    for (size_t i = 0; i < sizeof inner / sizeof *inner; i++) json_object_del(v, inner[i]);
    return v;
}

/* ---- changes ---- */

struct change {
    const char *action; /* create, publish, discard */
    const lh_who *who;
    json_t
        *fields; /* create: the record's fields; publish: {published_version}; discard: {reason} */
};

static lh_code change_draft(lh_app *app, const json_t *live, json_t *m, void *ctx, lh_err *err)
{
    (void)app;
    struct change *c = ctx;
    char ts[LH_TIME_ISO_LEN];
    lh_time_iso8601(lh_time_now_ms(), ts);
    if (!strcmp(c->action, "create")) {
        if (live) return lh_err_set(err, LH_EEXIST, "draft id taken (try again)");
        json_object_update(m, c->fields);
        json_object_set_new(m, "status", json_string("open"));
        json_object_set_new(m, "owner", json_string(caller_id(c->who)));
        return LH_OK;
    }
    const char *status = json_string_value(json_object_get(live, "status"));
    if (!live || !status) return lh_err_set(err, LH_ENOTFOUND, "no such draft");
    if (strcmp(status, "open") != 0)
        return lh_err_set(err, LH_ECONFLICT, "draft %s is %s already",
                          json_string_value(json_object_get(live, "draft")), status);
    const char *by = c->who->actor ? c->who->actor : "anonymous";
    if (!strcmp(c->action, "publish")) {
        json_object_set_new(m, "status", json_string("published"));
        json_object_set(m, "published_version", json_object_get(c->fields, "published_version"));
        json_object_set_new(m, "published_at", json_string(ts));
        json_object_set_new(m, "published_by", json_string(by));
    } else {
        json_object_set_new(m, "status", json_string("discarded"));
        json_t *reason = json_object_get(c->fields, "reason");
        json_object_set(m, "discard_reason", reason ? reason : json_null());
        json_object_set_new(m, "discarded_at", json_string(ts));
        json_object_set_new(m, "discarded_by", json_string(by));
    }
    return LH_OK;
}

static lh_code commit_draft(lh_app *app, const char *id, struct change *c, json_t **out,
                            lh_err *err)
{
    return lh_app_objects_commit(app, &app->drafts, id, c->action, change_draft, c, c->who, out,
                                 err);
}

/* ---- create ---- */

static lh_code write_file(const char *path, const char *data, size_t len, lh_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return lh_err_errno(err, LH_EIO, errno,
                            "cannot create a temp file in the data folder's _tmp");
    for (size_t done = 0; done < len;) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            return lh_err_errno(err, LH_EIO, e, "writing a temp file in the data folder's _tmp");
        }
        done += (size_t)n;
    }
    if (close(fd) != 0)
        return lh_err_errno(err, LH_EIO, errno, "writing a temp file in the data folder's _tmp");
    return LH_OK;
}

LH_OP_RUN(lh_app_run_drafts_create)
{
    const char *dataset = lh_op_str(args, "dataset"), *format = lh_op_str(args, "format");
    json_t *data = json_object_get(args, "data");
    size_t len = json_string_length(data);
    long long cap = LH_DRAFT_MAX_BYTES;
    if (app->max_upload_bytes > 0 && app->max_upload_bytes < cap) cap = app->max_upload_bytes;
    if ((long long)len > cap)
        return lh_err_set(
            err, LH_ETOOBIG,
            "\"data\" holds %zu bytes; a draft takes at most %lld (send larger files to ingest)",
            len, cap);
    if (len == 0) return lh_err_set(err, LH_EINVAL, "\"data\" is empty");
    lh_code rc = lh_catalog_name_check(dataset, err);
    if (rc == LH_OK) rc = lh_app_name_not_a_view(app, dataset, err);
    if (rc) return rc;

    unsigned char bytes[DRAFT_ID_HEX / 2];
    randombytes_buf(bytes, sizeof bytes);
    char id[2 + DRAFT_ID_HEX];
    id[0] = 'd';
    for (size_t i = 0; i < sizeof bytes; i++) snprintf(id + 1 + 2 * i, 3, "%02x", bytes[i]);
    char *path = lh_xasprintf("%s/draft-%s", app->tmp_dir, id + 1);
    char *name = format ? lh_xasprintf("data.%s", !strcmp(format, "markdown") ? "md"
                                                  : !strcmp(format, "text")   ? "txt"
                                                                              : format)
                        : lh_xstrdup("data");
    rc = write_file(path, json_string_value(data), len, err);
    json_t *report = NULL;
    if (rc == LH_OK) {
        lh_ingest_source src = {.path = path, .name = name};
        lh_ingest_options o = {.dataset = dataset,
                               .format = format,
                               .message = lh_op_str(args, "message"),
                               .skip_bad_rows = lh_op_bool(args, "skip_bad_rows", false),
                               .timeout_ms = app->query_timeout_ms * 10,
                               .prepare_only = true,
                               .progress = call->progress,
                               .progress_ctx = call->progress_ctx};
        const char *mode = lh_op_str(args, "mode");
        if (mode && !lh_commit_mode_parse(mode, &o.mode))
            rc = lh_err_set(err, LH_EINTERNAL, "mode %s", mode);
        if (rc == LH_OK)
            rc = lh_app_error_scrub(
                app, lh_ingest(app->ingester, &src, 1, &o, &call->who, &report, err), err);
    }
    unlink(path);
    free(path);
    free(name);
    json_t *prepared = json_object_get(report, "prepared");
    if (rc == LH_OK && !prepared)
        rc = lh_err_set(err, LH_EEXIST,
                        "dataset %s already holds these bytes (version %lld): a draft of them "
                        "would change nothing",
                        dataset, (long long)json_integer_value(json_object_get(report, "version")));
    if (rc == LH_OK) {
        json_t *fields = json_deep_copy(prepared);
        json_object_set_new(fields, "draft", json_string(id));
        json_object_set_new(fields, "dataset", json_string(dataset));
        json_object_set(fields, "schema_changes", json_object_get(report, "schema_changes"));
        json_object_set(fields, "rejects", json_object_get(report, "rejects"));
        json_object_set(fields, "sources", json_object_get(report, "sources"));
        struct change c = {"create", &call->who, fields};
        json_t *d;
        rc = commit_draft(app, id, &c, &d, err);
        json_decref(fields);
        if (rc == LH_OK) {
            *out = shown(d);
            json_decref(d);
        }
    }
    json_decref(report);
    return rc;
}

/* ---- reads ---- */

lh_code lh_app_drafts_keep(void *ctx, json_t *keep, lh_err *err)
{
    lh_app *app = ctx;
    lh_code rc = lh_app_objects_load(app, &app->drafts, err);
    if (rc) return lh_err_wrap(err, "reading the drafts");
    json_t *all = lh_app_objects_list(&app->drafts);
    size_t i, k;
    json_t *d, *o;
    json_array_foreach(all, i, d)
    {
        if (strcmp(json_string_value(json_object_get(d, "status")) ?: "", "open") != 0) continue;
        json_array_foreach(json_object_get(d, "objects"), k, o)
        {
            char *key =
                lh_xasprintf("%s\n%s", json_string_value(json_object_get(o, "bucket")) ?: "",
                             json_string_value(json_object_get(o, "key")) ?: "");
            json_object_set_new(keep, key, json_true());
            free(key);
        }
    }
    json_decref(all);
    return LH_OK;
}

LH_OP_RUN(lh_app_run_drafts_list)
{
    lh_code rc = lh_app_objects_load(app, &app->drafts, err);
    if (rc) return rc;
    json_t *all = lh_app_objects_list(&app->drafts), *mine = json_array();
    const char *dataset = lh_op_str(args, "dataset");
    bool closed = lh_op_bool(args, "include_closed", false);
    size_t i;
    json_t *d;
    json_array_foreach(all, i, d)
    {
        const char *status = json_string_value(json_object_get(d, "status"));
        const char *of = json_string_value(json_object_get(d, "dataset"));
        if (!may_see(&call->who, d) || !status || !of || (!closed && strcmp(status, "open") != 0) ||
            (dataset && strcmp(dataset, of) != 0))
            continue;
        json_array_append_new(mine, shown(d));
    }
    json_decref(all);
    mine = lh_app_visible(&call->who, mine, "dataset", LH_BIND_DATASET);
    *out = lh_op_page(mine, "drafts", args);
    return LH_OK;
}

/* What stands between draft d and a version, against the dataset's head now
 * (NULL: no dataset). problems block publishing; type changes only unless allowed. */
static json_t *problems_of(const json_t *d, const json_t *head, bool allow_type_changes,
                           json_t **schema_diff)
{
    json_t *problems = json_array();
    const char *status = json_string_value(json_object_get(d, "status"));
    const char *dataset = json_string_value(json_object_get(d, "dataset"));
    if (strcmp(status ? status : "", "open") != 0)
        json_array_append_new(problems, json_pack("{s:s, s:s}", "kind", "closed", "message",
                                                  status && !strcmp(status, "published")
                                                      ? "the draft is published already"
                                                      : "the draft is discarded"));
    int64_t base = json_integer_value(json_object_get(d, "base_version"));
    int64_t now = head ? json_integer_value(json_object_get(head, "version")) : 0;
    bool fresh = base == 0 &&
                 (!head || (now == 1 && json_array_size(json_object_get(head, "objects")) == 0));
    if (base != now && !fresh) {
        char msg[256];
        if (base == 0)
            snprintf(msg, sizeof msg,
                     "dataset %s was created and changed (version %lld) since the draft was made "
                     "before it existed: discard the draft and draft again",
                     dataset, (long long)now);
        else
            snprintf(msg, sizeof msg,
                     "dataset %s moved from version %lld (the draft's base) to %lld: discard the "
                     "draft and draft again on the current version",
                     dataset, (long long)base, (long long)now);
        json_array_append_new(problems, json_pack("{s:s, s:s, s:I, s:I}", "kind", "moved",
                                                  "message", msg, "base_version", (json_int_t)base,
                                                  "current_version", (json_int_t)now));
    }
    if (head && json_is_true(json_object_get(head, "deleted")))
        json_array_append_new(
            problems, json_pack("{s:s, s:s}", "kind", "deleted", "message",
                                "the dataset is deleted (roll it back to restore it first)"));
    json_t *after = json_pack("{s:{s:O}}", "schema", "fields", json_object_get(d, "schema"));
    json_t *diff = lh_app_schema_diff(head ? head : after, after);
    if (!head) json_array_extend(json_object_get(diff, "added"), json_object_get(d, "schema"));
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(diff, "changed"), i, c)
    {
        if (allow_type_changes) break;
        char msg[256];
        snprintf(msg, sizeof msg, "column %s would change type from %s to %s",
                 json_string_value(json_object_get(c, "name")),
                 json_string_value(json_object_get(c, "from")),
                 json_string_value(json_object_get(c, "to")));
        json_array_append_new(problems,
                              json_pack("{s:s, s:s, s:O}", "kind", "type_change", "message", msg,
                                        "column", json_object_get(c, "name")));
    }
    json_decref(after);
    if (schema_diff)
        *schema_diff = diff;
    else
        json_decref(diff);
    return problems;
}

/* The dataset's head now (NULL when there is none). */
static lh_code head_of(lh_app *app, const char *dataset, json_t **head, lh_err *err)
{
    lh_err miss;
    lh_code rc = lh_catalog_get(app->catalog, dataset, 0, head, &miss);
    if (rc == LH_ENOTFOUND) {
        *head = NULL;
        return LH_OK;
    }
    if (rc && err) *err = miss;
    return rc;
}

LH_OP_RUN(lh_app_run_drafts_validate)
{
    json_t *d, *head = NULL;
    lh_code rc = open_draft(app, lh_op_str(args, "id"), "drafts.validate", &call->who, &d, err);
    if (rc == LH_OK)
        rc = head_of(app, json_string_value(json_object_get(d, "dataset")), &head, err);
    if (rc) {
        json_decref(d);
        return rc;
    }
    json_t *diff, *problems = problems_of(d, head, false, &diff);
    /* the draft's files, as SQL will read them once published (the same SELECT as a
     * version's); a discarded draft's may be purged already: none are read */
    bool discarded = !strcmp(json_string_value(json_object_get(d, "status")) ?: "", "discarded");
    json_t *fake = json_pack(
        "{s:O, s:i, s:{s:O}, s:o, s:[]}", "dataset", json_object_get(d, "dataset"), "version", 0,
        "schema", "fields", json_object_get(d, "schema"), "objects",
        discarded ? json_array() : json_incref(json_object_get(d, "objects")), "tombstones");
    lh_buf select = {0}, sql = {0};
    rc = lh_dataset_tables_sql(app->tables, fake, &select, err);
    json_decref(fake);
    json_t *nulls = json_object(), *preview = NULL, *counts = NULL;
    long long rows = 0;
    if (rc == LH_OK) {
        lh_buf_puts(&sql, "SELECT count(*) AS \"rows\"");
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(d, "schema"), i, f)
        {
            lh_buf_printf(&sql, ", count(*) - count(");
            lh_sql_quote_ident(&sql, json_string_value(json_object_get(f, "name")));
            lh_buf_printf(&sql, ") AS \"c%zu\"", i);
        }
        lh_buf_printf(&sql, " FROM (%s)", select.data);
        rc = lh_app_query_rows(app, sql.data, false, 1, &counts, NULL, err);
    }
    if (rc == LH_OK) {
        json_t *r = json_array_get(counts, 0);
        rows = json_integer_value(json_object_get(r, "rows"));
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(d, "schema"), i, f)
        {
            char col[32];
            snprintf(col, sizeof col, "c%zu", i);
            json_object_set(nulls, json_string_value(json_object_get(f, "name")),
                            json_object_get(r, col));
        }
        lh_buf_reset(&sql);
        lh_buf_printf(&sql, "SELECT * FROM (%s) LIMIT %d", select.data, LH_DRAFT_PREVIEW_ROWS);
        rc = lh_app_query_rows(app, sql.data, false, LH_DRAFT_PREVIEW_ROWS, &preview, NULL, err);
    }
    if (rc == LH_OK) {
        *out = shown(d);
        json_object_set_new(*out, "current_version",
                            head
                                ? json_integer(json_integer_value(json_object_get(head, "version")))
                                : json_null());
        json_object_set_new(*out, "schema_diff", diff);
        json_object_set_new(*out, "row_count",
                            discarded ? json_incref(json_object_get(d, "rows"))
                                      : json_integer(rows));
        json_object_set_new(*out, "null_counts", nulls);
        json_object_set_new(*out, "rules", json_array());
        json_object_set_new(
            *out, "rules_note",
            json_string("the dataset has no validation rules (the data model has none yet)"));
        json_object_set_new(*out, "preview", preview);
        json_object_set_new(*out, "publishable", json_boolean(json_array_size(problems) == 0));
        json_object_set_new(*out, "problems", problems);
        diff = nulls = preview = problems = NULL;
    }
    json_decref(diff);
    json_decref(nulls);
    json_decref(preview);
    json_decref(problems);
    json_decref(counts);
    lh_buf_free(&select);
    lh_buf_free(&sql);
    json_decref(head);
    json_decref(d);
    return rc;
}

/* ---- publish, discard ---- */

LH_OP_RUN(lh_app_run_drafts_publish)
{
    const char *id = lh_op_str(args, "id");
    json_t *d, *head = NULL, *manifest = NULL;
    lh_code rc = open_draft(app, id, "drafts.publish", &call->who, &d, err);
    if (rc) return rc;
    const char *dataset = json_string_value(json_object_get(d, "dataset"));
    rc = head_of(app, dataset, &head, err);
    /* committed by an earlier call that failed to mark the draft: mark it now, commit nothing */
    const char *status = json_string_value(json_object_get(d, "status"));
    json_t *by = json_object_get(json_object_get(head, "extra"), "draft");
    bool repair = rc == LH_OK && status && !strcmp(status, "open") && json_is_string(by) &&
                  !strcmp(json_string_value(by), id);
    if (repair) manifest = json_incref(head);
    json_t *problems =
        rc || repair ? NULL
                     : problems_of(d, head, lh_op_bool(args, "allow_type_changes", false), NULL);
    if (rc == LH_OK && json_array_size(problems)) {
        json_t *first = json_array_get(problems, 0);
        const char *kind = json_string_value(json_object_get(first, "kind"));
        rc = lh_err_set(err, LH_ECONFLICT, "draft %s cannot be published: %s%s", id,
                        json_string_value(json_object_get(first, "message")),
                        !strcmp(kind, "type_change") ? " (allow_type_changes publishes it anyway)"
                                                     : "");
    }
    int64_t base = json_integer_value(json_object_get(d, "base_version"));
    if (rc == LH_OK && !repair &&
        !head) { /* drafted before the dataset existed: it comes into being now */
        lh_create_options co = {.bucket = json_string_value(json_object_get(d, "bucket"))};
        json_t *created;
        rc = lh_catalog_create(app->catalog, dataset, &co, &call->who, &created, err);
        if (rc == LH_EEXIST)
            rc = LH_OK;
        else if (rc == LH_OK)
            json_decref(created);
    }
    if (rc == LH_OK && !repair) {
        lh_commit c = {.objects = json_object_get(d, "objects"),
                       .schema = json_object_get(d, "schema"),
                       .lineage = json_object_get(d, "lineage"),
                       .content_hashes = json_object_get(d, "content_hashes"),
                       .message = lh_op_str(args, "message")
                                      ? lh_op_str(args, "message")
                                      : json_string_value(json_object_get(d, "message")),
                       .expected_parent = base ? base : 1};
        json_t *extra = json_pack("{s:s}", "draft", id);
        c.extra = extra;
        const char *mode = json_string_value(json_object_get(d, "mode"));
        if (mode && !lh_commit_mode_parse(mode, &c.mode))
            rc = lh_err_set(err, LH_ECORRUPT, "draft %s: mode %s", id, mode);
        if (rc == LH_OK)
            rc = lh_catalog_commit(app->catalog, dataset, &c, &call->who, &manifest, err);
        json_decref(extra);
        if (rc == LH_ECONFLICT)
            lh_err_set(err, LH_ECONFLICT,
                       "dataset %s moved past version %lld (the draft's base) while publishing: "
                       "discard the draft and draft again on the current version",
                       dataset, (long long)(base ? base : 1));
    }
    json_t *done = NULL;
    if (rc == LH_OK) {
        json_t *fields =
            json_pack("{s:O}", "published_version", json_object_get(manifest, "version"));
        struct change ch = {"publish", &call->who, fields};
        rc = commit_draft(app, id, &ch, &done, err);
        json_decref(fields);
        if (rc)
            lh_err_wrap(err,
                        "dataset %s version %lld holds the draft's rows, but marking the draft "
                        "published failed",
                        dataset,
                        (long long)json_integer_value(json_object_get(manifest, "version")));
    }
    if (rc == LH_OK) {
        *out = shown(done);
        json_object_set_new(*out, "committed",
                            json_pack("{s:O, s:O, s:O}", "version",
                                      json_object_get(manifest, "version"), "row_count",
                                      json_object_get(manifest, "row_count"), "parent",
                                      json_object_get(manifest, "parent")));
    }
    json_decref(done);
    json_decref(problems);
    json_decref(manifest);
    json_decref(head);
    json_decref(d);
    return rc;
}

LH_OP_RUN(lh_app_run_drafts_discard)
{
    const char *id = lh_op_str(args, "id");
    json_t *d, *done = NULL;
    lh_code rc = open_draft(app, id, "drafts.discard", &call->who, &d, err);
    json_decref(d);
    if (rc) return rc;
    json_t *fields = json_object();
    if (lh_op_str(args, "reason"))
        json_object_set(fields, "reason", json_object_get(args, "reason"));
    struct change c = {"discard", &call->who, fields};
    rc = commit_draft(app, id, &c, &done, err);
    json_decref(fields);
    if (rc == LH_OK) *out = shown(done);
    json_decref(done);
    return rc;
}
