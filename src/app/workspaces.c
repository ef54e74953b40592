/*
 * workspaces.c — a reader's working set: a shortlist of datasets, views,
 * queries and searches, an activity feed from the journal, and a hand-off of
 * ownership to another profile that copies no data (items are references).
 *
 *   {name, description, owner: "<profile id>" | "local", items: [{id, kind:
 *    dataset|view|query|search|note, ref, sql, index, query, note, added_at,
 *    added_by}], handoffs: [{from, to, at, by}], version, ...}
 *
 * Versioned objects (objects.c: _catalog/workspaces/<name>/v00000001.json,
 * journaled as entity type "workspace"). Only the owner (or an admin, or the
 * local operator) sees or changes a workspace; an item names an object the
 * one adding it may read, and reading it later is decided by the reader's
 * own bindings, as everywhere.
 */
#include "internal.h"

#include "lakehouse/lh_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LH_WORKSPACE_MAX_ITEMS 1000

const char *const lh_op_choices_workspace_item[] = {"dataset", "view", "query", "search", "note", NULL};

static const char *caller_id(const lh_who *who)
{
    return who->profile ? lh_profile_id(who->profile) : "local";
}

/* Whether who may see and change workspace ws: its owner, an admin, the local operator. */
static bool may_touch(const lh_who *who, const json_t *ws)
{
    const lh_profile *p = who->profile;
    if (!p || (lh_profile_scopes(p) & LH_SCOPE_ADMIN)) return true;
    const char *owner = json_string_value(json_object_get(ws, "owner"));
    return owner && !strcmp(owner, lh_profile_id(p));
}

/* The live workspace `name` that who may touch (a new reference), else an error
 * (another's workspace reads as absent: its name says nothing). */
static lh_code open_workspace(lh_app *app, const char *name, const lh_who *who, json_t **ws, lh_err *err)
{
    lh_code rc = lh_app_objects_refresh(app, &app->workspaces, name, err);
    if (rc) return rc;
    *ws = lh_app_objects_get(&app->workspaces, name);
    if (!*ws || !may_touch(who, *ws)) {
        json_decref(*ws);
        *ws = NULL;
        return lh_err_set(err, LH_ENOTFOUND, "no workspace \"%.70s\"", name);
    }
    return LH_OK;
}

/* ---- changes ---- */

struct edit {
    json_t *args;
    const lh_who *who;
    const char *action; /* create, add, remove, handoff */
};

static lh_code check_item(lh_app *app, json_t *args, const lh_who *who, lh_err *err)
{
    const char *kind = lh_op_str(args, "kind"), *ref = lh_op_str(args, "ref");
    const lh_profile *p = who->profile;
    if (!strcmp(kind, "dataset") || !strcmp(kind, "view")) {
        if (!ref) return lh_err_set(err, LH_EINVAL, "\"ref\" is required for a %s", kind);
        bool view = !strcmp(kind, "view");
        if (!lh_profile_binds(p, view ? LH_BIND_VIEW : LH_BIND_DATASET, ref))
            return lh_err_set(err, LH_EFORBIDDEN, "profile %s may not use %s \"%.80s\"", lh_profile_id(p), kind, ref);
        json_t *m = view ? lh_app_view_get(app, ref) : NULL;
        lh_code rc = view ? (m ? LH_OK : lh_err_set(err, LH_ENOTFOUND, "no view \"%.70s\"", ref))
                          : lh_catalog_get(app->catalog, ref, 0, &m, err);
        json_decref(m);
        return rc;
    }
    if (!strcmp(kind, "query") && !lh_op_str(args, "sql")) return lh_err_set(err, LH_EINVAL, "\"sql\" is required for a query");
    if (!strcmp(kind, "search")) {
        const char *index = lh_op_str(args, "index");
        if (!index || !lh_op_str(args, "query"))
            return lh_err_set(err, LH_EINVAL, "\"index\" and \"query\" are required for a search");
        if (!lh_profile_binds(p, LH_BIND_INDEX, index))
            return lh_err_set(err, LH_EFORBIDDEN, "profile %s may not use index \"%.80s\"", lh_profile_id(p), index);
    }
    if (!strcmp(kind, "note") && !lh_op_str(args, "note")) return lh_err_set(err, LH_EINVAL, "\"note\" is required for a note");
    return LH_OK;
}

static lh_code edit(lh_app *app, const json_t *live, json_t *m, void *ctx, lh_err *err)
{
    struct edit *e = ctx;
    const char *name = lh_op_str(e->args, "name");
    char ts[LH_TIME_ISO_LEN];
    lh_time_iso8601(lh_time_now_ms(), ts);
    if (!strcmp(e->action, "create")) {
        if (live) return lh_err_set(err, LH_EEXIST, "workspace \"%s\" exists", name);
        const char *owner = lh_op_str(e->args, "owner");
        if (owner && e->who->profile && !(lh_profile_scopes(e->who->profile) & LH_SCOPE_ADMIN) &&
            strcmp(owner, caller_id(e->who)))
            return lh_err_set(err, LH_EFORBIDDEN, "profile %s may create workspaces for itself only", caller_id(e->who));
        if (owner && strcmp(owner, "local") && !lh_app_profile_find(app, owner))
            return lh_err_set(err, LH_ENOTFOUND, "no profile \"%.70s\"", owner);
        json_object_set_new(m, "owner", json_string(owner ? owner : caller_id(e->who)));
        json_object_set_new(m, "description", json_string(lh_op_str(e->args, "description") ? lh_op_str(e->args, "description") : ""));
        json_object_set_new(m, "items", json_array());
        json_object_set_new(m, "handoffs", json_array());
        json_object_set_new(m, "next_item", json_integer(1));
        return LH_OK;
    }
    if (!live || !may_touch(e->who, live)) return lh_err_set(err, LH_ENOTFOUND, "no workspace \"%.70s\"", name);
    json_t *items = json_object_get(m, "items");
    if (!strcmp(e->action, "add")) {
        if (json_array_size(items) >= LH_WORKSPACE_MAX_ITEMS)
            return lh_err_set(err, LH_ETOOBIG, "a workspace holds at most %d items", LH_WORKSPACE_MAX_ITEMS);
        lh_code rc = check_item(app, e->args, e->who, err);
        if (rc) return rc;
        json_int_t id = json_integer_value(json_object_get(m, "next_item"));
        json_t *item = json_pack("{s:I, s:s, s:s, s:s}", "id", id, "kind", lh_op_str(e->args, "kind"), "added_at", ts,
                                 "added_by", caller_id(e->who));
        static const char *const fields[] = {"ref", "sql", "index", "query", "note"};
        for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
            if (lh_op_str(e->args, fields[i])) json_object_set_new(item, fields[i], json_string(lh_op_str(e->args, fields[i])));
        json_array_append_new(items, item);
        json_object_set_new(m, "next_item", json_integer(id + 1));
        return LH_OK;
    }
    if (!strcmp(e->action, "remove")) {
        long long want = lh_op_int(e->args, "item", 0);
        size_t i;
        json_t *x;
        json_array_foreach(items, i, x) {
            if (json_integer_value(json_object_get(x, "id")) == want) {
                json_array_remove(items, i);
                return LH_OK;
            }
        }
        return lh_err_set(err, LH_ENOTFOUND, "workspace %s has no item %lld", name, want);
    }
    /* handoff: the owner changes; the items are references, nothing is copied */
    const char *to = lh_op_str(e->args, "to");
    const lh_profile *target = strcmp(to, "local") ? lh_app_profile_find(app, to) : NULL;
    if (strcmp(to, "local") && (!target || target->deleted))
        return lh_err_set(err, LH_ENOTFOUND, "no profile \"%.70s\"", to);
    json_t *from = json_object_get(m, "owner");
    json_array_append_new(json_object_get(m, "handoffs"),
                          json_pack("{s:O, s:s, s:s, s:s}", "from", from, "to", to, "at", ts, "by", caller_id(e->who)));
    json_object_set_new(m, "owner", json_string(to));
    return LH_OK;
}

static lh_code change(lh_app *app, json_t *args, const char *action, const lh_op_ctx *call, json_t **out, lh_err *err)
{
    struct edit e = {args, &call->who, action};
    return lh_app_objects_commit(app, &app->workspaces, lh_op_str(args, "name"), action, edit, &e, &call->who, out, err);
}

LH_OP_RUN(lh_app_run_workspaces_create)
{
    const char *owner = lh_op_str(args, "owner");
    if (owner && lh_profile_id_check(owner, NULL) == LH_OK) lh_app_profile_recheck(app, owner); /* made elsewhere? */
    return change(app, args, "create", call, out, err);
}

LH_OP_RUN(lh_app_run_workspaces_add)
{
    return change(app, args, "add", call, out, err);
}

LH_OP_RUN(lh_app_run_workspaces_remove)
{
    return change(app, args, "remove", call, out, err);
}

LH_OP_RUN(lh_app_run_workspaces_handoff)
{
    const char *to = lh_op_str(args, "to");
    if (lh_profile_id_check(to, NULL) == LH_OK) lh_app_profile_recheck(app, to); /* made elsewhere? */
    return change(app, args, "handoff", call, out, err);
}

/* ---- reads ---- */

LH_OP_RUN(lh_app_run_workspaces_get)
{
    json_t *ws;
    lh_code rc = open_workspace(app, lh_op_str(args, "name"), &call->who, &ws, err);
    if (rc == LH_OK) *out = json_deep_copy(ws); /* the caller's to change */
    json_decref(ws);
    return rc;
}

/* Whether text occurs in the workspace's name, description or items. */
static bool mentions(const json_t *ws, const char *text)
{
    char *all = json_dumps(ws, JSON_COMPACT);
    bool found = all && strcasestr(all, text) != NULL;
    free(all);
    return found;
}

LH_OP_RUN(lh_app_run_workspaces_list)
{
    lh_code rc = lh_app_objects_load(app, &app->workspaces, err);
    if (rc) return rc;
    json_t *all = lh_app_objects_list(&app->workspaces), *mine = json_array();
    const char *q = lh_op_str(args, "q");
    size_t i;
    json_t *ws;
    json_array_foreach(all, i, ws) {
        if (may_touch(&call->who, ws) && (!q || mentions(ws, q))) json_array_append(mine, ws);
    }
    json_decref(all);
    *out = lh_op_page(mine, "workspaces", args);
    return LH_OK;
}

LH_OP_RUN(lh_app_run_workspaces_activity)
{
    json_t *ws, *events;
    const char *name = lh_op_str(args, "name");
    lh_code rc = open_workspace(app, name, &call->who, &ws, err);
    json_decref(ws);
    if (rc == LH_OK) rc = lh_journal_recent(app->journal, name, LH_OP_LIST_MAX, &events, err);
    if (rc) return rc;
    json_t *feed = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e) {
        const char *type = json_string_value(json_object_get(e, "entity_type"));
        if (type && !strcmp(type, "workspace")) json_array_append(feed, e);
    }
    json_decref(events);
    *out = lh_op_page(feed, "events", args);
    json_object_set_new(*out, "workspace", json_string(name));
    return LH_OK;
}
