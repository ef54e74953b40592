/*
 * profiles.c — profiles and their API keys as versioned objects in the
 * default bucket (lh_profile.h), the in-memory registry of them, and the
 * operations profiles.* and keys.*.
 *
 * The registry holds each profile's newest version as an immutable snapshot
 * (struct lh_profile). A change makes a new snapshot and keeps the old one
 * until the app closes, so a call holding a borrowed profile never sees it
 * freed under it (profiles change rarely; each snapshot is small).
 */
#include "internal.h"

#include "lakehouse/lh_json.h"
#include "lakehouse/lh_manifests.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_time.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const lh_profile_kinds[] = {"person", "agent", "model", NULL};
const char *const lh_profile_scopes_names[] = {"read", "ingest", "manage", "admin", NULL};

static const struct {
    const char *name;
    lh_scope scope;
} scope_names[] = {{"read", LH_SCOPE_READ}, {"ingest", LH_SCOPE_INGEST}, {"manage", LH_SCOPE_MANAGE},
                   {"admin", LH_SCOPE_ADMIN}, {"any", LH_SCOPE_ANY}};

lh_scope lh_scope_parse(const char *name)
{
    for (size_t i = 0; name && i < 4; i++)
        if (!strcmp(scope_names[i].name, name)) return scope_names[i].scope;
    return LH_SCOPE_UNSET;
}

const char *lh_scope_name(lh_scope s)
{
    for (size_t i = 0; i < sizeof scope_names / sizeof *scope_names; i++)
        if (scope_names[i].scope == s) return scope_names[i].name;
    return "unset";
}

lh_code lh_profile_id_check(const char *id, lh_err *err)
{
    size_t n = id ? strlen(id) : 0;
    bool ok = n >= 1 && n <= LH_PROFILE_ID_MAX && id[0] >= 'a' && id[0] <= 'z';
    for (size_t i = 1; ok && i < n; i++)
        ok = (id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9') || strchr("_.-", id[i]);
    if (!ok) return lh_err_set(err, LH_EINVAL, "\"id\" must match [a-z][a-z0-9_.-]{0,62}, not \"%.70s\"", id ? id : "");
    return LH_OK;
}

const char *lh_profile_id(const lh_profile *p)
{
    return p->id;
}

unsigned lh_profile_scopes(const lh_profile *p)
{
    return p->scopes;
}

bool lh_profile_binds(const lh_profile *p, lh_bind_kind kind, const char *name)
{
    if (!p || (p->scopes & LH_SCOPE_ADMIN)) return true;
    static const char *const member[] = {[LH_BIND_DATASET] = "datasets", [LH_BIND_VIEW] = "views",
                                         [LH_BIND_INDEX] = "indexes"};
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(p->doc, member[kind]), i, v) {
        const char *s = json_string_value(v);
        if (s && (!strcmp(s, "*") || (name && !strcmp(s, name)))) return true;
    }
    return false;
}

bool lh_profile_reads_dataset(const lh_profile *p, const char *name)
{
    return lh_profile_binds(p, LH_BIND_DATASET, name);
}

/* ---- snapshots ---- */

static lh_profile *snapshot(json_t *doc)
{
    lh_profile *p = lh_xcalloc(1, sizeof *p);
    p->doc = doc;
    p->id = lh_xstrdup(json_string_value(json_object_get(doc, "id")));
    p->version = json_integer_value(json_object_get(doc, "version"));
    p->deleted = json_is_true(json_object_get(doc, "deleted"));
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(doc, "scopes"), i, s) p->scopes |= lh_scope_parse(json_string_value(s));
    return p;
}

static void snapshot_free(lh_profile *p)
{
    if (!p) return;
    json_decref(p->doc);
    free(p->id);
    free(p);
}

/* Under reg->mu. */
static lh_profile **slot_of(struct lh_app_profiles *reg, const char *id)
{
    for (size_t i = 0; i < reg->n; i++)
        if (!strcmp(reg->items[i]->id, id)) return &reg->items[i];
    return NULL;
}

/* Makes doc (stolen) the current snapshot of its profile (under reg->mu). */
static lh_profile *install(struct lh_app_profiles *reg, json_t *doc)
{
    lh_profile *p = snapshot(doc), **slot = slot_of(reg, p->id);
    if (slot && (*slot)->version >= p->version) {
        snapshot_free(p);
        return *slot;
    }
    if (slot) {
        reg->old = lh_xrealloc(reg->old, (reg->n_old + 1) * sizeof *reg->old);
        reg->old[reg->n_old++] = *slot;
        *slot = p;
    } else {
        reg->items = lh_xrealloc(reg->items, (reg->n + 1) * sizeof *reg->items);
        reg->items[reg->n++] = p;
    }
    return p;
}

/* ---- storage ---- */

static lh_manifests profile_log(lh_app *app, const char *id, char *dir, size_t n)
{
    snprintf(dir, n, "_catalog/profiles/%s", id);
    return (lh_manifests){.buckets = app->buckets, .store = lh_buckets_default(app->buckets), .dir = dir,
                          .stem = "v", .what = "profile"};
}

/* Storage is untrusted: a manifest must be the profile it claims to be. */
static lh_code manifest_check(const json_t *m, const char *id, int64_t n, lh_err *err)
{
    const char *mid = json_string_value(json_object_get(m, "id"));
    if (!json_is_object(m) || !mid || strcmp(mid, id) || json_integer_value(json_object_get(m, "version")) != n ||
        !json_is_array(json_object_get(m, "scopes")) || !json_is_array(json_object_get(m, "keys")))
        return lh_err_set(err, LH_ECORRUPT, "profile %s version %lld is not a profile manifest", id, (long long)n);
    return LH_OK;
}

struct scan_last {
    const char *id;
    json_t *last;
};

static lh_code keep_last(void *ctx, int64_t n, json_t *m, lh_err *err)
{
    struct scan_last *s = ctx;
    lh_code rc = manifest_check(m, s->id, n, err);
    if (rc) {
        json_decref(m);
        return rc;
    }
    json_decref(s->last);
    s->last = m;
    return LH_OK;
}

/* Reads profile id's versions past what the registry holds; installs the newest. */
static lh_code refresh_profile(lh_app *app, const char *id, lh_err *err)
{
    struct lh_app_profiles *reg = &app->profiles;
    pthread_mutex_lock(&reg->mu);
    lh_profile **slot = slot_of(reg, id);
    int64_t after = slot ? (*slot)->version : 0;
    pthread_mutex_unlock(&reg->mu);
    char dir[128];
    lh_manifests log = profile_log(app, id, dir, sizeof dir);
    struct scan_last s = {id, NULL};
    int64_t head;
    lh_code rc = after ? lh_manifests_scan(&log, after, keep_last, &s, &head, err)
                       : lh_manifests_scan_newest(&log, keep_last, &s, &head, err);
    if (rc == LH_OK && s.last) {
        pthread_mutex_lock(&reg->mu);
        install(reg, s.last);
        pthread_mutex_unlock(&reg->mu);
    } else {
        json_decref(s.last);
    }
    if (rc == LH_OK && head == 0) return lh_err_set(err, LH_ENOTFOUND, "no profile \"%s\"", id);
    return rc;
}

static bool list_profile_dir(void *ctx, const lh_object_info *info)
{
    json_t *ids = ctx;
    const char *rest = info->key + strlen("_catalog/profiles/");
    const char *slash = strchr(rest, '/');
    if (slash) {
        char *id = lh_xstrndup(rest, (size_t)(slash - rest));
        json_object_set_new(ids, id, json_true());
        free(id);
    }
    return true;
}

lh_code lh_app_profiles_load(lh_app *app, lh_err *err)
{
    json_t *ids = json_object();
    lh_code rc = lh_store_list(lh_buckets_default(app->buckets), "_catalog/profiles/", list_profile_dir, ids, err);
    const char *id;
    json_t *v;
    json_object_foreach(ids, id, v) {
        if (rc == LH_OK && lh_profile_id_check(id, NULL) == LH_OK) rc = refresh_profile(app, id, err);
    }
    json_decref(ids);
    return rc;
}

void lh_app_profiles_free(lh_app *app)
{
    struct lh_app_profiles *reg = &app->profiles;
    for (size_t i = 0; i < reg->n; i++) snapshot_free(reg->items[i]);
    for (size_t i = 0; i < reg->n_old; i++) snapshot_free(reg->old[i]);
    free(reg->items);
    free(reg->old);
}

const lh_profile *lh_app_profile_find(lh_app *app, const char *id)
{
    pthread_mutex_lock(&app->profiles.mu);
    lh_profile **slot = slot_of(&app->profiles, id);
    const lh_profile *p = slot ? *slot : NULL;
    pthread_mutex_unlock(&app->profiles.mu);
    return p;
}

bool lh_app_keys_exist(lh_app *app)
{
    bool any = false;
    pthread_mutex_lock(&app->profiles.mu);
    for (size_t i = 0; i < app->profiles.n && !any; i++) {
        lh_profile *p = app->profiles.items[i];
        size_t k;
        json_t *key;
        json_array_foreach(json_object_get(p->doc, "keys"), k, key) {
            if (!p->deleted && json_is_null(json_object_get(key, "revoked_at"))) any = true;
        }
    }
    pthread_mutex_unlock(&app->profiles.mu);
    return any;
}

/* ---- commits ---- */

typedef json_t *(*change_fn)(const json_t *current, void *ctx, lh_err *err, lh_code *rc);

struct commit {
    lh_app *app;
    const char *id;
    lh_manifests *log;
    json_t *current; /* the head's manifest (NULL: none) */
    change_fn change;
    void *ctx;
    const lh_who *who;
};

static lh_code commit_refresh(void *ctx, int64_t *head, lh_err *err)
{
    struct commit *c = ctx;
    json_decref(c->current);
    c->current = NULL;
    struct scan_last s = {c->id, NULL};
    lh_code rc = lh_manifests_scan_newest(c->log, keep_last, &s, head, err);
    c->current = s.last;
    return rc;
}

static lh_code commit_build(void *ctx, int64_t next, json_t **out, lh_err *err)
{
    struct commit *c = ctx;
    lh_code rc = LH_OK;
    json_t *m = c->change(c->current, c->ctx, err, &rc);
    if (!m) return rc ? rc : LH_EINTERNAL;
    char ts[LH_TIME_ISO_LEN];
    lh_time_iso8601(lh_time_now_ms(), ts);
    json_object_set_new(m, "format", json_integer(1));
    json_object_set_new(m, "id", json_string(c->id));
    json_object_set_new(m, "version", json_integer(next));
    json_object_set_new(m, "updated_at", json_string(ts));
    json_object_set_new(m, "updated_by", json_string(c->who->actor ? c->who->actor : "anonymous"));
    if (!c->current) {
        json_object_set_new(m, "created_at", json_string(ts));
        json_object_set_new(m, "created_by", json_string(c->who->actor ? c->who->actor : "anonymous"));
    }
    if (!json_object_get(m, "keys")) json_object_set_new(m, "keys", json_array());
    *out = m;
    return LH_OK;
}

/* What a client may see of a profile: keys without their hashes, with the last use. */
static json_t *public_view(lh_app *app, const json_t *doc)
{
    json_t *v = json_deep_copy(doc);
    size_t i;
    json_t *k;
    json_array_foreach(json_object_get(v, "keys"), i, k) {
        json_object_del(k, "hash");
        int64_t used = lh_app_key_last_used(app, json_string_value(json_object_get(k, "id")));
        if (used > 0) {
            char ts[LH_TIME_ISO_LEN];
            lh_time_iso8601(used, ts);
            json_object_set_new(k, "last_used_at", json_string(ts));
        } else {
            json_object_set_new(k, "last_used_at", json_null());
        }
    }
    json_object_del(v, "format");
    return v;
}

/* Commits a change to profile id; journals it as action; *out: the new public view. */
static lh_code commit_change(lh_app *app, const char *id, const char *action, change_fn change, void *ctx,
                             const lh_who *who, json_t **out, lh_err *err)
{
    char dir[128];
    lh_manifests log = profile_log(app, id, dir, sizeof dir);
    struct commit c = {app, id, &log, NULL, change, ctx, who};
    lh_manifests_writer w = {commit_refresh, commit_build};
    json_t *m = NULL;
    int64_t n;
    pthread_mutex_lock(&app->profiles.write_mu);
    lh_code rc = lh_manifests_commit(&log, &w, &c, LH_MANIFESTS_ANY_HEAD, &m, &n, err);
    pthread_mutex_unlock(&app->profiles.write_mu);
    if (rc == LH_OK) {
        json_t *before = c.current ? public_view(app, c.current) : NULL, *after = public_view(app, m);
        lh_journal_event ev = {.entity_type = "profile", .entity_id = id, .action = action, .old_value = before,
                               .new_value = after, .actor = who->actor, .source = who->source};
        lh_journal_record(app->journal, &ev);
        json_decref(before);
        *out = after;
        pthread_mutex_lock(&app->profiles.mu);
        install(&app->profiles, m);
        pthread_mutex_unlock(&app->profiles.mu);
    } else {
        json_decref(m);
    }
    json_decref(c.current);
    return rc;
}

/* ---- profiles.* ---- */

static const char *const fields[] = {"kind", "description", "scopes", "datasets", "views", "indexes", "index_config", NULL};

static lh_code check_bindings(json_t *args, lh_err *err)
{
    static const char *const lists[] = {"datasets", "views", "indexes"};
    for (size_t i = 0; i < 3; i++) {
        size_t k;
        json_t *v;
        json_array_foreach(json_object_get(args, lists[i]), k, v) {
            const char *s = json_string_value(v);
            if (strcmp(s, "*") && lh_catalog_name_check(s, NULL) != LH_OK)
                return lh_err_set(err, LH_EINVAL, "\"%s\"[%zu] must be a name ([a-z][a-z0-9_]{0,62}) or \"*\", not \"%.70s\"",
                                  lists[i], k, s);
        }
    }
    return LH_OK;
}

struct edit {
    json_t *args;
    bool create;
};

static json_t *apply_edit(const json_t *current, void *ctx, lh_err *err, lh_code *rc)
{
    struct edit *e = ctx;
    const char *id = lh_op_str(e->args, "id");
    if (e->create && current) {
        *rc = lh_err_set(err, LH_EEXIST, "profile \"%s\" exists", id);
        return NULL;
    }
    if (!e->create && (!current || json_is_true(json_object_get(current, "deleted")))) {
        *rc = lh_err_set(err, LH_ENOTFOUND, "no profile \"%s\"", id);
        return NULL;
    }
    json_t *m = current ? json_deep_copy(current) : json_pack("{s:s, s:[], s:[], s:[], s:{}, s:b}", "description", "",
                                                              "datasets", "views", "indexes", "index_config", "deleted", 0);
    for (const char *const *f = fields; *f; f++) {
        json_t *v = json_object_get(e->args, *f);
        if (v && !json_is_null(v)) json_object_set(m, *f, v);
    }
    return m;
}

static lh_code check_profile_args(json_t *args, lh_err *err)
{
    lh_code rc = lh_profile_id_check(lh_op_str(args, "id"), err);
    if (rc == LH_OK) rc = check_bindings(args, err);
    return rc;
}

LH_OP_RUN(lh_app_run_profiles_create)
{
    lh_code rc = check_profile_args(args, err);
    struct edit e = {args, true};
    return rc ? rc : commit_change(app, lh_op_str(args, "id"), "create", apply_edit, &e, &call->who, out, err);
}

LH_OP_RUN(lh_app_run_profiles_update)
{
    lh_code rc = check_profile_args(args, err);
    struct edit e = {args, false};
    return rc ? rc : commit_change(app, lh_op_str(args, "id"), "update", apply_edit, &e, &call->who, out, err);
}

/* The arguments of a change that names its profile (delete, key revoke). */
struct named {
    const char *id;    /* the profile */
    const char *value; /* the reason, the key id */
};

static bool live(const json_t *current, const char *id, lh_err *err, lh_code *rc)
{
    if (current && !json_is_true(json_object_get(current, "deleted"))) return true;
    *rc = lh_err_set(err, LH_ENOTFOUND, "no profile \"%s\"", id);
    return false;
}

static json_t *apply_delete(const json_t *current, void *ctx, lh_err *err, lh_code *rc)
{
    const struct named *d = ctx;
    if (!live(current, d->id, err, rc)) return NULL;
    json_t *m = json_deep_copy(current);
    json_object_set_new(m, "deleted", json_true());
    json_object_set_new(m, "delete_reason", d->value ? json_string(d->value) : json_null());
    return m;
}

LH_OP_RUN(lh_app_run_profiles_delete)
{
    const char *id = lh_op_str(args, "id");
    lh_code rc = lh_profile_id_check(id, err);
    if (rc) return rc;
    struct named d = {id, lh_op_str(args, "reason")};
    return commit_change(app, id, "delete", apply_delete, &d, &call->who, out, err);
}

/* The live profile id (refreshed from storage), or LH_ENOTFOUND. *doc: a new reference to its public view. */
static lh_code get_live(lh_app *app, const char *id, json_t **doc, lh_err *err)
{
    lh_code rc = lh_profile_id_check(id, err);
    if (rc == LH_OK) rc = refresh_profile(app, id, err);
    if (rc) return rc;
    pthread_mutex_lock(&app->profiles.mu);
    lh_profile **slot = slot_of(&app->profiles, id);
    json_t *m = slot && !(*slot)->deleted ? json_incref((*slot)->doc) : NULL;
    pthread_mutex_unlock(&app->profiles.mu);
    if (!m) return lh_err_set(err, LH_ENOTFOUND, "no profile \"%s\"", id);
    *doc = public_view(app, m);
    json_decref(m);
    return LH_OK;
}

LH_OP_RUN(lh_app_run_profiles_get)
{
    (void)call;
    return get_live(app, lh_op_str(args, "id"), out, err);
}

LH_OP_RUN(lh_app_run_profiles_list)
{
    (void)call;
    lh_code rc = lh_app_profiles_load(app, err);
    if (rc) return rc;
    json_t *list = json_array();
    pthread_mutex_lock(&app->profiles.mu);
    json_t *docs = json_array();
    for (size_t i = 0; i < app->profiles.n; i++)
        if (!app->profiles.items[i]->deleted) json_array_append(docs, app->profiles.items[i]->doc);
    pthread_mutex_unlock(&app->profiles.mu);
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d) json_array_append_new(list, public_view(app, d));
    json_decref(docs);
    lh_json_sort_by(list, "id");
    *out = lh_op_page(list, "profiles", args);
    return LH_OK;
}

LH_OP_RUN(lh_app_run_profiles_me)
{
    (void)app, (void)args, (void)err;
    const lh_profile *p = call->who.profile;
    if (!p) { /* the local operator */
        *out = json_pack("{s:s, s:s, s:s, s:[s], s:[s], s:[s], s:[s], s:b}", "id", "local", "kind", "person",
                         "description", "the local operator (no key)", "scopes", "admin", "datasets", "*", "views",
                         "*", "indexes", "*", "local", 1);
        return LH_OK;
    }
    *out = json_pack("{s:s, s:O, s:O, s:O, s:O, s:O, s:O, s:b}", "id", p->id, "kind", json_object_get(p->doc, "kind"),
                     "description", json_object_get(p->doc, "description"), "scopes", json_object_get(p->doc, "scopes"),
                     "datasets", json_object_get(p->doc, "datasets"), "views", json_object_get(p->doc, "views"),
                     "indexes", json_object_get(p->doc, "indexes"), "local", 0);
    return LH_OK;
}

/* ---- keys.* ---- */

struct new_key {
    json_t *args;
    char key_id[LH_KEY_ID_HEX + 1];
    char hash[crypto_pwhash_STRBYTES];
};

static json_t *apply_key_create(const json_t *current, void *ctx, lh_err *err, lh_code *rc)
{
    struct new_key *k = ctx;
    if (!live(current, lh_op_str(k->args, "profile"), err, rc)) return NULL;
    json_t *m = json_deep_copy(current);
    char ts[LH_TIME_ISO_LEN], exp[LH_TIME_ISO_LEN];
    int64_t now = lh_time_now_ms();
    lh_time_iso8601(now, ts);
    long long days = lh_op_int(k->args, "expires_in_days", 0);
    if (days) lh_time_iso8601(now + days * 86400000LL, exp);
    json_array_append_new(json_object_get(m, "keys"),
                          json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:n}", "id", k->key_id, "hash", k->hash, "created_at", ts,
                                    "expires_at", days ? exp : NULL, "label", lh_op_str(k->args, "label"), "revoked_at"));
    return m;
}

LH_OP_RUN(lh_app_run_keys_create)
{
    const char *profile = lh_op_str(args, "profile");
    json_t *exists = NULL;
    lh_code rc = get_live(app, profile, &exists, err); /* no lookup record for a profile that is not there */
    json_decref(exists);
    if (rc) return rc;
    uint8_t id_bytes[LH_KEY_ID_HEX / 2], secret[LH_KEY_SECRET_HEX / 2];
    randombytes_buf(id_bytes, sizeof id_bytes);
    randombytes_buf(secret, sizeof secret);
    struct new_key k = {.args = args};
    char key[LH_KEY_LEN + 1];
    sodium_bin2hex(k.key_id, sizeof k.key_id, id_bytes, sizeof id_bytes);
    char secret_hex[LH_KEY_SECRET_HEX + 1];
    sodium_bin2hex(secret_hex, sizeof secret_hex, secret, sizeof secret);
    snprintf(key, sizeof key, LH_KEY_PREFIX "%s_%s", k.key_id, secret_hex);
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(secret_hex, sizeof secret_hex);
    if (crypto_pwhash_str(k.hash, key, strlen(key), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        sodium_memzero(key, sizeof key);
        return lh_err_set(err, LH_ENOMEM, "hashing the key failed (out of memory)");
    }
    /* the lookup record first: a key whose profile version is lost is only an orphan record */
    char *rec_key = lh_xasprintf("_catalog/keys/%s.json", k.key_id);
    json_t *rec = json_pack("{s:s, s:s}", "profile", profile, "key_id", k.key_id);
    char *text = lh_json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
    rc = lh_store_put(lh_buckets_default(app->buckets), rec_key, text, strlen(text), LH_PUT_IF_ABSENT, err);
    free(text);
    free(rec_key);
    json_decref(rec);
    json_t *view = NULL;
    if (rc == LH_OK) rc = commit_change(app, profile, "key_create", apply_key_create, &k, &call->who, &view, err);
    if (rc == LH_OK) {
        json_t *made = NULL;
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(view, "keys"), i, x) {
            if (!strcmp(json_string_value(json_object_get(x, "id")), k.key_id)) made = json_deep_copy(x);
        }
        json_object_set_new(made, "profile", json_string(profile));
        json_object_set_new(made, "key", json_string(key));
        json_object_set_new(made, "note", json_string("shown once: only a hash is stored"));
        *out = made;
    }
    json_decref(view);
    sodium_memzero(key, sizeof key);
    return rc;
}

LH_OP_RUN(lh_app_run_keys_list)
{
    (void)call;
    json_t *doc;
    lh_code rc = get_live(app, lh_op_str(args, "profile"), &doc, err);
    if (rc) return rc;
    json_t *keys = json_incref(json_object_get(doc, "keys"));
    json_decref(doc);
    *out = lh_op_page(keys, "keys", args);
    json_object_set_new(*out, "profile", json_string(lh_op_str(args, "profile")));
    return LH_OK;
}

static json_t *apply_key_revoke(const json_t *current, void *ctx, lh_err *err, lh_code *rc)
{
    const struct named *r = ctx;
    const char *key_id = r->value;
    if (!live(current, r->id, err, rc)) return NULL;
    json_t *m = json_deep_copy(current);
    size_t i;
    json_t *k;
    json_array_foreach(json_object_get(m, "keys"), i, k) {
        if (strcmp(json_string_value(json_object_get(k, "id")), key_id)) continue;
        if (!json_is_null(json_object_get(k, "revoked_at"))) break;
        char ts[LH_TIME_ISO_LEN];
        lh_time_iso8601(lh_time_now_ms(), ts);
        json_object_set_new(k, "revoked_at", json_string(ts));
        return m;
    }
    json_decref(m);
    *rc = lh_err_set(err, LH_ENOTFOUND, "profile \"%s\" has no live key \"%.40s\"", r->id, key_id);
    return NULL;
}

LH_OP_RUN(lh_app_run_keys_revoke)
{
    const char *profile = lh_op_str(args, "profile");
    lh_code rc = lh_profile_id_check(profile, err);
    if (rc) return rc;
    json_t *view = NULL;
    struct named r = {profile, lh_op_str(args, "id")};
    rc = commit_change(app, profile, "key_revoke", apply_key_revoke, &r, &call->who, &view, err);
    if (rc == LH_OK) {
        *out = json_pack("{s:s, s:s, s:b}", "profile", profile, "id", lh_op_str(args, "id"), "revoked", 1);
        lh_app_auth_forget(app, lh_op_str(args, "id"));
    }
    json_decref(view);
    return rc;
}

/* ---- lookups for authentication (auth.c) ---- */

lh_code lh_app_profile_of_key(lh_app *app, const char *key_id, const lh_profile **p, json_t **key, lh_err *err)
{
    *p = NULL;
    *key = NULL;
    char profile[LH_PROFILE_ID_MAX + 1] = "";
    pthread_mutex_lock(&app->profiles.mu);
    for (size_t i = 0; i < app->profiles.n && !*p; i++) {
        size_t k;
        json_t *x;
        json_array_foreach(json_object_get(app->profiles.items[i]->doc, "keys"), k, x) {
            if (!strcmp(json_string_value(json_object_get(x, "id")), key_id)) {
                *p = app->profiles.items[i];
                *key = json_incref(x);
                break;
            }
        }
    }
    pthread_mutex_unlock(&app->profiles.mu);
    if (*p) return LH_OK;
    /* made by another process: the lookup record names the profile */
    char *rec_key = lh_xasprintf("_catalog/keys/%s.json", key_id);
    lh_buf b = {0};
    lh_code rc = lh_store_get(lh_buckets_default(app->buckets), rec_key, &b, err);
    free(rec_key);
    if (rc == LH_OK) {
        json_t *rec = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
        const char *named = json_string_value(json_object_get(rec, "profile"));
        snprintf(profile, sizeof profile, "%s", named ? named : "");
        json_decref(rec);
    }
    lh_buf_free(&b);
    if (rc) return rc;
    rc = refresh_profile(app, profile, err);
    if (rc) return rc;
    pthread_mutex_lock(&app->profiles.mu);
    lh_profile **slot = slot_of(&app->profiles, profile);
    size_t k;
    json_t *x;
    json_array_foreach(slot ? json_object_get((*slot)->doc, "keys") : NULL, k, x) {
        if (!strcmp(json_string_value(json_object_get(x, "id")), key_id)) {
            *p = *slot;
            *key = json_incref(x);
        }
    }
    pthread_mutex_unlock(&app->profiles.mu);
    return *p ? LH_OK : lh_err_set(err, LH_ENOTFOUND, "no key");
}

void lh_app_profile_recheck(lh_app *app, const char *id)
{
    lh_err err;
    refresh_profile(app, id, &err);
}

/* ---- searching as a profile ---- */

LH_OP_RUN(lh_app_run_profiles_search)
{
    const char *id = lh_op_str(args, "id"), *index = lh_op_str(args, "index");
    const lh_profile *me = call->who.profile;
    if (me && !(me->scopes & LH_SCOPE_ADMIN) && strcmp(me->id, id) != 0)
        return lh_err_set(err, LH_EFORBIDDEN, "profile %s may not search as profile %s", me->id, id);
    json_t *doc;
    lh_code rc = get_live(app, id, &doc, err);
    if (rc) return rc;
    json_decref(doc);
    const lh_profile *p = lh_app_profile_find(app, id);
    json_t *bound = json_object_get(p->doc, "indexes");
    if (!index) { /* the profile's first bound index */
        size_t i;
        json_t *v;
        json_array_foreach(bound, i, v) {
            if (strcmp(json_string_value(v), "*") != 0) {
                index = json_string_value(v);
                break;
            }
        }
        if (!index) return lh_err_set(err, LH_EINVAL, "profile %s binds no index by name: give \"index\"", id);
    }
    if (!(p->scopes & LH_SCOPE_ADMIN) && !lh_profile_binds(p, LH_BIND_INDEX, index)) {
        lh_buf names = {0};
        size_t i;
        json_t *v;
        json_array_foreach(bound, i, v) lh_buf_printf(&names, "%s%s", i ? ", " : "", json_string_value(v));
        lh_err_set(err, LH_EFORBIDDEN, "profile %s may not use index \"%.80s\" (bound indexes: %s)", id, index,
                   names.len ? names.data : "none");
        lh_buf_free(&names);
        return LH_EFORBIDDEN;
    }
    json_t *q = json_pack("{s:s, s:s, s:I}", "index", index, "query", lh_op_str(args, "query"), "k",
                          (json_int_t)lh_op_int(args, "k", 10));
    if (lh_op_str(args, "mode")) json_object_set_new(q, "mode", json_string(lh_op_str(args, "mode")));
    /* the profile's index preferences */
    json_t *ef = json_object_get(json_object_get(p->doc, "index_config"), "ef_search");
    if (json_is_integer(ef) && json_integer_value(ef) > 0) json_object_set(q, "ef", ef);
    /* searched with the profile's own scope, whoever asks */
    lh_op_ctx as = *call;
    as.who.profile = p;
    rc = lh_app_call(app, "search", q, &as, out, err);
    json_decref(q);
    if (rc == LH_OK) json_object_set_new(*out, "profile", json_string(id));
    return rc;
}
