/*
 * objects.c — named, versioned JSON objects in the default bucket: the
 * catalog objects that are neither datasets nor indexes (views, workspaces).
 *
 *   <prefix>/<name>/v00000001.json, v00000002.json, ...   one write-once log each (lh_manifests.h)
 *
 * Each version is the whole object ({name, version, deleted, created_at,
 * created_by, updated_at, updated_by, ...}); a change is a commit built on
 * the newest version, journaled with entity type `kind`. The registry keeps
 * the newest version of each name, loaded at open and refreshed from storage
 * when a caller asks for one by name or lists them.
 */
#include "internal.h"

#include "lakehouse/lh_json.h"
#include "lakehouse/lh_manifests.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lh_app_objects_init(lh_app_objects *o, const char *kind, const char *prefix)
{
    o->kind = kind;
    o->prefix = prefix;
    pthread_mutex_init(&o->mu, NULL);
    pthread_mutex_init(&o->write_mu, NULL);
    o->byname = json_object();
}

void lh_app_objects_free(lh_app_objects *o)
{
    if (!o->byname) return;
    json_decref(o->byname);
    pthread_mutex_destroy(&o->mu);
    pthread_mutex_destroy(&o->write_mu);
}

static lh_manifests log_of(lh_app *app, const lh_app_objects *o, const char *name, char *dir, size_t n)
{
    snprintf(dir, n, "%s/%s", o->prefix, name);
    return (lh_manifests){.buckets = app->buckets, .store = lh_buckets_default(app->buckets), .dir = dir,
                          .stem = "v", .what = o->kind};
}

struct last {
    const lh_app_objects *o;
    const char *name;
    json_t *m;
};

/* Storage is untrusted: a version must be the object it claims to be. */
static lh_code keep_last(void *ctx, int64_t n, json_t *m, lh_err *err)
{
    struct last *l = ctx;
    const char *name = json_string_value(json_object_get(m, "name"));
    if (!name || strcmp(name, l->name) || json_integer_value(json_object_get(m, "version")) != n) {
        json_decref(m);
        return lh_err_set(err, LH_ECORRUPT, "%s %s version %lld is not one", l->o->kind, l->name, (long long)n);
    }
    json_decref(l->m);
    l->m = m;
    return LH_OK;
}

lh_code lh_app_objects_refresh(lh_app *app, lh_app_objects *o, const char *name, lh_err *err)
{
    if (lh_catalog_name_check(name, NULL) != LH_OK) return LH_OK; /* never one of ours */
    pthread_mutex_lock(&o->mu);
    int64_t after = json_integer_value(json_object_get(json_object_get(o->byname, name), "version"));
    pthread_mutex_unlock(&o->mu);
    char dir[160];
    lh_manifests log = log_of(app, o, name, dir, sizeof dir);
    struct last l = {o, name, NULL};
    int64_t head;
    lh_code rc = after ? lh_manifests_scan(&log, after, keep_last, &l, &head, err)
                       : lh_manifests_scan_newest(&log, keep_last, &l, &head, err);
    if (rc == LH_OK && l.m) {
        pthread_mutex_lock(&o->mu);
        json_object_set_new(o->byname, name, l.m);
        pthread_mutex_unlock(&o->mu);
    } else {
        json_decref(l.m);
    }
    return rc;
}

struct names {
    size_t skip;
    json_t *set;
};

static bool add_name(void *ctx, const lh_object_info *info)
{
    struct names *n = ctx;
    const char *rest = info->key + n->skip, *slash = strchr(rest, '/');
    if (slash) {
        char *name = lh_xstrndup(rest, (size_t)(slash - rest));
        json_object_set_new(n->set, name, json_true());
        free(name);
    }
    return true;
}

lh_code lh_app_objects_load(lh_app *app, lh_app_objects *o, lh_err *err)
{
    char *prefix = lh_xasprintf("%s/", o->prefix);
    struct names n = {strlen(prefix), json_object()};
    lh_code rc = lh_store_list(lh_buckets_default(app->buckets), prefix, add_name, &n, err);
    const char *name;
    json_t *v;
    json_object_foreach(n.set, name, v) {
        if (rc == LH_OK) rc = lh_app_objects_refresh(app, o, name, err);
    }
    json_decref(n.set);
    free(prefix);
    return rc;
}

json_t *lh_app_objects_get(lh_app_objects *o, const char *name)
{
    pthread_mutex_lock(&o->mu);
    json_t *m = json_object_get(o->byname, name);
    if (m && json_is_true(json_object_get(m, "deleted"))) m = NULL;
    json_incref(m);
    pthread_mutex_unlock(&o->mu);
    return m;
}

json_t *lh_app_objects_list(lh_app_objects *o)
{
    json_t *list = json_array();
    pthread_mutex_lock(&o->mu);
    const char *name;
    json_t *m;
    json_object_foreach(o->byname, name, m) {
        if (!json_is_true(json_object_get(m, "deleted"))) json_array_append_new(list, json_deep_copy(m));
    }
    pthread_mutex_unlock(&o->mu);
    lh_json_sort_by(list, "name");
    return list;
}

/* ---- commits ---- */

struct commit {
    lh_app *app;
    lh_app_objects *o;
    const char *name;
    lh_manifests *log;
    json_t *current;
    lh_app_object_change change;
    void *ctx;
    const lh_who *who;
};

static lh_code commit_refresh(void *ctx, int64_t *head, lh_err *err)
{
    struct commit *c = ctx;
    json_decref(c->current);
    struct last l = {c->o, c->name, NULL};
    lh_code rc = lh_manifests_scan_newest(c->log, keep_last, &l, head, err);
    c->current = l.m;
    return rc;
}

static lh_code commit_build(void *ctx, int64_t next, json_t **out, lh_err *err)
{
    struct commit *c = ctx;
    const json_t *live = c->current && !json_is_true(json_object_get(c->current, "deleted")) ? c->current : NULL;
    json_t *m = live ? json_deep_copy(live) : json_object();
    if (c->current && !live) { /* a name used before: its history goes on */
        json_object_set(m, "created_at", json_object_get(c->current, "created_at"));
        json_object_set(m, "created_by", json_object_get(c->current, "created_by"));
    }
    lh_code rc = c->change(c->app, live, m, c->ctx, err);
    if (rc) {
        json_decref(m);
        return rc;
    }
    char ts[LH_TIME_ISO_LEN];
    lh_time_iso8601(lh_time_now_ms(), ts);
    const char *actor = c->who->actor ? c->who->actor : "anonymous";
    json_object_set_new(m, "name", json_string(c->name));
    json_object_set_new(m, "version", json_integer(next));
    if (!json_object_get(m, "deleted")) json_object_set_new(m, "deleted", json_false());
    json_object_set_new(m, "updated_at", json_string(ts));
    json_object_set_new(m, "updated_by", json_string(actor));
    if (!json_object_get(m, "created_at")) {
        json_object_set_new(m, "created_at", json_string(ts));
        json_object_set_new(m, "created_by", json_string(actor));
    }
    *out = m;
    return LH_OK;
}

lh_code lh_app_objects_commit(lh_app *app, lh_app_objects *o, const char *name, const char *action,
                              lh_app_object_change change, void *ctx, const lh_who *who, json_t **out, lh_err *err)
{
    if (lh_catalog_name_check(name, NULL) != LH_OK)
        return lh_err_set(err, LH_EINVAL, "\"name\" must match [a-z][a-z0-9_]{0,62}, not \"%.70s\"", name ? name : "");
    char dir[160];
    lh_manifests log = log_of(app, o, name, dir, sizeof dir);
    struct commit c = {app, o, name, &log, NULL, change, ctx, who};
    lh_manifests_writer w = {commit_refresh, commit_build};
    json_t *m = NULL;
    int64_t n;
    pthread_mutex_lock(&o->write_mu);
    lh_code rc = lh_manifests_commit(&log, &w, &c, LH_MANIFESTS_ANY_HEAD, &m, &n, err);
    pthread_mutex_unlock(&o->write_mu);
    if (rc == LH_OK) {
        lh_journal_event ev = {.entity_type = o->kind, .entity_id = name, .action = action, .old_value = c.current,
                               .new_value = m, .actor = who->actor, .source = who->source};
        lh_journal_record(app->journal, &ev);
        pthread_mutex_lock(&o->mu);
        json_object_set_new(o->byname, name, json_deep_copy(m)); /* *out is the caller's to change */
        pthread_mutex_unlock(&o->mu);
        *out = m;
    } else {
        json_decref(m);
    }
    json_decref(c.current);
    return rc;
}
