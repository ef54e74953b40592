/*
 * auth.c — who a call is (lh_app_authenticate: the policy, API keys, the
 * verification cache, the per-address limit on failures) and what it may do
 * (lh_app_authorize: the operation's scope, then the objects its arguments
 * name). Scoped reading: while a profile's call runs, the SQL engine's
 * resolver and lister (set up in app.c) and vector_search see only the
 * objects the profile binds (a per-thread scope: DuckDB binds a statement on
 * the thread that prepares it).
 */
#include "internal.h"

#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_sha256.h"
#include "lakehouse/lh_time.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the per-thread scope ---- */

static _Thread_local const lh_profile *scope_now;

const lh_profile *lh_app_scope_swap(const lh_profile *p)
{
    const lh_profile *was = scope_now;
    scope_now = p;
    return was;
}

lh_code lh_app_scoped_resolve(void *ctx, const char *name, bool schema_only, lh_buf *sql, lh_err *err)
{
    lh_app *app = ctx;
    const lh_profile *p = scope_now;
    json_t *view = strchr(name, '@') ? NULL : lh_app_view_get(app, name);
    if (view) { /* a view: its redacted SELECT, for those bound to it */
        lh_code rc = !p || lh_profile_binds(p, LH_BIND_VIEW, name) ? lh_app_view_sql(app, view, schema_only, sql, err) : LH_OK;
        json_decref(view);
        return rc;
    }
    if (p) {
        char dataset[80];
        size_t n = strcspn(name, "@");
        if (n >= sizeof dataset) return LH_OK;
        memcpy(dataset, name, n);
        dataset[n] = '\0';
        if (!lh_profile_reads_dataset(p, dataset)) return LH_OK; /* as if it did not exist */
    }
    return lh_dataset_tables_resolve(app->tables, name, schema_only, sql, err);
}

lh_code lh_app_scoped_list(void *ctx, json_t **tables, lh_err *err)
{
    lh_app *app = ctx;
    lh_code rc = lh_dataset_tables_list(app->tables, tables, err);
    if (rc) return rc;
    const lh_profile *p = scope_now;
    json_t *kept = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(*tables, i, t) {
        if (lh_profile_reads_dataset(p, json_string_value(json_object_get(t, "name")))) json_array_append(kept, t);
    }
    json_decref(*tables);
    pthread_mutex_lock(&app->views.mu);
    const char *name;
    json_t *v;
    json_object_foreach(app->views.byname, name, v) {
        if (!json_is_true(json_object_get(v, "deleted")) && lh_profile_binds(p, LH_BIND_VIEW, name))
            json_array_append_new(kept, json_pack("{s:s, s:s}", "name", name, "table", name));
    }
    pthread_mutex_unlock(&app->views.mu);
    *tables = kept;
    return LH_OK;
}

bool lh_app_index_allowed(void *ctx, const char *index)
{
    (void)ctx;
    return lh_profile_binds(scope_now, LH_BIND_INDEX, index);
}

/* ---- the journal of failures and refusals (no key material) ---- */

static void journal_auth(lh_app *app, const char *action, const char *entity, const char *peer, const char *reason,
                         const char *source)
{
    json_t *v = json_pack("{s:s, s:s?}", "reason", reason, "address", peer);
    lh_journal_event ev = {.entity_type = "auth", .entity_id = entity, .action = action, .new_value = v,
                           .actor = entity, .source = source};
    lh_journal_record(app->journal, &ev);
    json_decref(v);
}

/* ---- failures per source address ---- */

#define FAIL_SLOTS 256

static struct lh_app_auth_fail *fail_slot(struct lh_app_auth *a, const char *peer, int64_t now)
{
    struct lh_app_auth_fail *oldest = &a->fails[0];
    for (size_t i = 0; i < FAIL_SLOTS; i++) {
        struct lh_app_auth_fail *f = &a->fails[i];
        if (f->addr[0] && !strcmp(f->addr, peer)) return f;
        if (f->window_ms < oldest->window_ms) oldest = f;
    }
    snprintf(oldest->addr, sizeof oldest->addr, "%s", peer);
    oldest->window_ms = now;
    oldest->count = 0;
    oldest->noted = false;
    return oldest;
}

/* Failures are counted per source address (for the journal) and per
 * address and key id (for verification): only a key whose id exists costs an
 * argon2id hash, so past LH_AUTH_FAIL_BURST wrong secrets for one key from
 * one address, that key is refused from there unverified for the rest of the
 * window. Other keys and other addresses are not slowed. */
static void counter_name(char *out, size_t n, const char *peer, const char *key_id)
{
    snprintf(out, n, "%s%s%s", peer, key_id ? "|" : "", key_id ? key_id : "");
}

static bool throttled(lh_app *app, const char *peer, const char *key_id, int64_t now, bool *note)
{
    struct lh_app_auth *a = &app->auth;
    char name[64];
    counter_name(name, sizeof name, peer, key_id);
    pthread_mutex_lock(&a->mu);
    struct lh_app_auth_fail *f = fail_slot(a, name, now);
    if (now - f->window_ms >= LH_AUTH_FAIL_WINDOW_MS) {
        f->window_ms = now;
        f->count = 0;
        f->noted = false;
    }
    bool over = f->count >= LH_AUTH_FAIL_BURST;
    *note = over && !f->noted;
    if (over) f->noted = true;
    pthread_mutex_unlock(&a->mu);
    return over;
}

/* A failed attempt: counted, and journaled while the address is within its burst. */
static lh_code fail(lh_app *app, const char *peer, const char *key_id, bool costly, const char *reason,
                    const char *source, lh_err *err)
{
    struct lh_app_auth *a = &app->auth;
    int64_t now = lh_time_now_ms();
    char name[64];
    pthread_mutex_lock(&a->mu);
    if (costly) {
        counter_name(name, sizeof name, peer, key_id);
        fail_slot(a, name, now)->count++;
    }
    struct lh_app_auth_fail *f = fail_slot(a, peer, now);
    if (now - f->window_ms >= LH_AUTH_FAIL_WINDOW_MS) {
        f->window_ms = now;
        f->count = 0;
    }
    int count = ++f->count;
    pthread_mutex_unlock(&a->mu);
    if (count <= LH_AUTH_FAIL_BURST) journal_auth(app, "fail", key_id ? key_id : "anonymous", peer, reason, source);
    else if (count == LH_AUTH_FAIL_BURST + 1)
        journal_auth(app, "throttle", "anonymous", peer, "more failures from this address in this window go unjournaled", source);
    return lh_err_set(err, LH_EUNAUTHORIZED, "%s", reason);
}

/* ---- the verification cache: SHA-256 of a verified key -> its key id ---- */

static size_t slot_index(const uint8_t digest[32])
{
    uint64_t h;
    memcpy(&h, digest, sizeof h);
    return (size_t)(h % LH_AUTH_CACHE_SLOTS);
}

#define PROBES 8

static bool cache_lookup(lh_app *app, const uint8_t digest[32], char key_id[LH_KEY_ID_HEX + 1])
{
    struct lh_app_auth *a = &app->auth;
    bool hit = false;
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0, s = slot_index(digest); i < PROBES && !hit; i++, s = (s + 1) % LH_AUTH_CACHE_SLOTS) {
        struct lh_app_auth_slot *e = &a->slots[s];
        if (e->used && sodium_memcmp(e->digest, digest, 32) == 0) {
            memcpy(key_id, e->key_id, LH_KEY_ID_HEX + 1);
            e->last_used_ms = lh_time_now_ms();
            hit = true;
        }
    }
    pthread_mutex_unlock(&a->mu);
    return hit;
}

static void cache_insert(lh_app *app, const uint8_t digest[32], const char *key_id)
{
    struct lh_app_auth *a = &app->auth;
    pthread_mutex_lock(&a->mu);
    size_t s = slot_index(digest), pick = s;
    for (size_t i = 0; i < PROBES; i++, s = (s + 1) % LH_AUTH_CACHE_SLOTS)
        if (!a->slots[s].used) {
            pick = s;
            break;
        }
    struct lh_app_auth_slot *e = &a->slots[pick];
    memcpy(e->digest, digest, 32);
    snprintf(e->key_id, sizeof e->key_id, "%s", key_id);
    e->last_used_ms = lh_time_now_ms();
    e->used = true;
    pthread_mutex_unlock(&a->mu);
}

void lh_app_auth_forget(lh_app *app, const char *key_id)
{
    struct lh_app_auth *a = &app->auth;
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < LH_AUTH_CACHE_SLOTS; i++)
        if (a->slots[i].used && !strcmp(a->slots[i].key_id, key_id)) a->slots[i].used = false;
    pthread_mutex_unlock(&a->mu);
}

int64_t lh_app_key_last_used(lh_app *app, const char *key_id)
{
    struct lh_app_auth *a = &app->auth;
    int64_t last = 0;
    if (!key_id || !a->slots) return 0;
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < LH_AUTH_CACHE_SLOTS; i++)
        if (a->slots[i].used && !strcmp(a->slots[i].key_id, key_id) && a->slots[i].last_used_ms > last)
            last = a->slots[i].last_used_ms;
    pthread_mutex_unlock(&a->mu);
    return last;
}

/* ---- authentication ---- */

void lh_app_auth_init(lh_app *app, bool required)
{
    pthread_mutex_init(&app->auth.mu, NULL);
    app->auth.slots = lh_xcalloc(LH_AUTH_CACHE_SLOTS, sizeof *app->auth.slots);
    app->auth.fails = lh_xcalloc(FAIL_SLOTS, sizeof *app->auth.fails);
    app->auth.required = required;
}

void lh_app_auth_free(lh_app *app)
{
    if (!app->auth.slots) return;
    free(app->auth.slots);
    free(app->auth.fails);
    pthread_mutex_destroy(&app->auth.mu);
}

static bool loopback(const char *host)
{
    struct in_addr v4;
    struct in6_addr v6;
    if (!strcmp(host, "localhost")) return true;
    if (inet_pton(AF_INET, host, &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
    return false;
}

lh_code lh_app_listen_check(lh_app *app, const char *host, lh_err *err)
{
    if (loopback(host)) return LH_OK;
    app->auth.required = true;
    if (lh_app_keys_exist(app)) return LH_OK;
    return lh_err_set(err, LH_EFORBIDDEN,
                      "refusing to listen on %s with no API key: every request from the network needs one. "
                      "Create a profile and a key first (lakehouse profile create ID --kind person --scopes admin; "
                      "lakehouse profile key-create ID), or listen on 127.0.0.1",
                      host);
}

bool lh_app_auth_required(lh_app *app)
{
    if (app->auth.required || lh_app_keys_exist(app)) return true;
    /* a key made by another process (the CLI, a replica) closes this server too:
     * look for new profiles in storage now and then */
    int64_t now = lh_time_now_ms(), last = __atomic_load_n(&app->auth.scanned_ms, __ATOMIC_RELAXED);
    if (now - last < LH_PROFILES_RECHECK_MS ||
        !__atomic_compare_exchange_n(&app->auth.scanned_ms, &last, now, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        return false;
    lh_err err;
    lh_app_profiles_load(app, &err);
    return lh_app_keys_exist(app);
}

/* Whether key (a JSON key record) works now; else the reason. */
static const char *key_unusable(const lh_profile *p, const json_t *key)
{
    if (p->deleted) return "the key's profile is deleted";
    if (!json_is_null(json_object_get(key, "revoked_at"))) return "the key is revoked";
    const char *exp = json_string_value(json_object_get(key, "expires_at"));
    int64_t at;
    if (exp && lh_time_parse_iso8601(exp, &at) && at <= lh_time_now_ms()) return "the key has expired";
    return NULL;
}

static bool key_shape(const char *key, char key_id[LH_KEY_ID_HEX + 1])
{
    if (strlen(key) != LH_KEY_LEN || strncmp(key, LH_KEY_PREFIX, 3) || key[3 + LH_KEY_ID_HEX] != '_') return false;
    for (size_t i = 3; i < LH_KEY_LEN; i++)
        if (i != 3 + LH_KEY_ID_HEX && !((key[i] >= '0' && key[i] <= '9') || (key[i] >= 'a' && key[i] <= 'f')))
            return false;
    memcpy(key_id, key + 3, LH_KEY_ID_HEX);
    key_id[LH_KEY_ID_HEX] = '\0';
    return true;
}

lh_code lh_app_act_as(lh_app *app, const char *profile_id, lh_who *who, lh_err *err)
{
    const lh_profile *p = profile_id ? lh_app_profile_find(app, profile_id) : NULL;
    if (!p || p->deleted) return lh_err_set(err, LH_ENOTFOUND, "no profile \"%.64s\"", profile_id ? profile_id : "");
    who->profile = p;
    who->actor = lh_profile_id(p);
    return LH_OK;
}

lh_code lh_app_authenticate(lh_app *app, const char *authorization, const char *peer, lh_who *who, lh_err *err)
{
    const char *source = who->source ? who->source : "library";
    if (!peer || !*peer) peer = "local";
    who->profile = NULL;
    const char *key = NULL;
    if (authorization && *authorization) {
        if (strncasecmp(authorization, "Bearer ", 7) != 0)
            return fail(app, peer, NULL, false, "Authorization must be \"Bearer <key>\"", source, err);
        key = authorization + 7;
        while (*key == ' ') key++;
    }
    if (!key || !*key) {
        if (!lh_app_auth_required(app)) return LH_OK; /* the local operator */
        return fail(app, peer, NULL, false, "this server needs an API key: send Authorization: Bearer <key>", source, err);
    }
    uint8_t digest[32];
    lh_sha256 h;
    lh_sha256_init(&h);
    lh_sha256_update(&h, key, strlen(key));
    lh_sha256_final(&h, digest);
    char key_id[LH_KEY_ID_HEX + 1];
    bool cached = cache_lookup(app, digest, key_id);
    int64_t now = lh_time_now_ms();
    if (cached) { /* another replica may have revoked it: re-read the profile now and then */
        int64_t last = __atomic_load_n(&app->auth.rechecked_ms, __ATOMIC_RELAXED);
        if (now - last >= LH_PROFILES_RECHECK_MS &&
            __atomic_compare_exchange_n(&app->auth.rechecked_ms, &last, now, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
            const lh_profile *p0;
            json_t *k0;
            lh_err ignore;
            if (lh_app_profile_of_key(app, key_id, &p0, &k0, &ignore) == LH_OK) {
                lh_app_profile_recheck(app, lh_profile_id(p0));
                json_decref(k0);
            }
        }
    } else if (!key_shape(key, key_id)) {
        return fail(app, peer, NULL, false, "not a Lakehouse API key", source, err);
    }
    const lh_profile *p;
    json_t *rec;
    lh_err lookup;
    if (lh_app_profile_of_key(app, key_id, &p, &rec, &lookup) != LH_OK)
        return fail(app, peer, key_id, false, "unknown API key", source, err);
    if (!cached) {
        bool note;
        if (throttled(app, peer, key_id, now, &note)) {
            json_decref(rec);
            if (note) journal_auth(app, "throttle", key_id, peer, "too many wrong secrets for this key", source);
            return lh_err_set(err, LH_EUNAUTHORIZED, "too many failed attempts for this key from this address; wait %d s",
                              LH_AUTH_FAIL_WINDOW_MS / 1000);
        }
        const char *hash = json_string_value(json_object_get(rec, "hash"));
        if (!hash || crypto_pwhash_str_verify(hash, key, strlen(key)) != 0) {
            json_decref(rec);
            return fail(app, peer, key_id, true, "wrong API key", source, err);
        }
    }
    const char *why = key_unusable(p, rec);
    json_decref(rec);
    if (why) {
        if (cached) lh_app_auth_forget(app, key_id);
        return fail(app, peer, key_id, false, why, source, err);
    }
    if (!cached) cache_insert(app, digest, key_id);
    who->profile = p;
    who->actor = lh_profile_id(p);
    return LH_OK;
}

/* ---- authorisation ---- */

static void bound_list(const lh_profile *p, const char *member, char *out, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(p->doc, member), i, v) {
        if (used + 2 >= n) break;
        used += (size_t)snprintf(out + used, n - used, "%s%s", used ? ", " : "", json_string_value(v));
    }
    if (!used) snprintf(out, n, "none");
}

/* A refusal (err already set): journaled under the profile, with the reason. */
static lh_code refuse(lh_app *app, const lh_who *who, lh_err *err)
{
    if (app) /* NULL: a question (lh_app_may), not a call */
        journal_auth(app, "refuse", lh_profile_id(who->profile), NULL, err->message, who->source);
    return LH_EFORBIDDEN;
}

/* Whether p may touch `name` of this spec kind ("dataset", "view", "index", "entity"). */
static bool allowed(const lh_profile *p, const char *kind, const char *name)
{
    if (!strcmp(kind, "dataset")) return lh_profile_binds(p, LH_BIND_DATASET, name);
    if (!strcmp(kind, "view")) return lh_profile_binds(p, LH_BIND_VIEW, name);
    if (!strcmp(kind, "index")) return lh_profile_binds(p, LH_BIND_INDEX, name);
    /* an entity of the journal: a dataset or an index the profile binds */
    return lh_profile_binds(p, LH_BIND_DATASET, name) || lh_profile_binds(p, LH_BIND_INDEX, name);
}

/* One binding spec, "kind:param,param", against the profile's bindings. */
static lh_code check_binding(lh_app *app, const lh_op *op, const char *spec, json_t *args, const lh_who *who, lh_err *err)
{
    const lh_profile *p = who->profile;
    char kind[16];
    const char *colon = strchr(spec, ':');
    if (!colon) return lh_err_set(err, LH_EINTERNAL, "%s: bad binding spec", op->name);
    snprintf(kind, sizeof kind, "%.*s", (int)(colon - spec), spec);
    const char *member = !strcmp(kind, "index") ? "indexes" : !strcmp(kind, "view") ? "views" : "datasets";
    char names[400];
    bool named = false, optional = false;
    for (const char *q = colon + 1; *q;) {
        char param[64];
        size_t len = strcspn(q, ",");
        snprintf(param, sizeof param, "%.*s", (int)len, q);
        q += len + (q[len] == ',');
        size_t plen = strlen(param);
        if (plen && param[plen - 1] == '?') { /* checked when given */
            param[plen - 1] = '\0';
            optional = true;
        }
        json_t *v = json_object_get(args, param);
        size_t n = json_is_array(v) ? json_array_size(v) : json_is_string(v) ? 1 : 0;
        for (size_t i = 0; i < n; i++) {
            const char *name = json_string_value(json_is_array(v) ? json_array_get(v, i) : v);
            named = true;
            if (name && allowed(p, kind, name)) continue;
            bound_list(p, member, names, sizeof names);
            lh_err_set(err, LH_EFORBIDDEN, "profile %s may not use %s \"%.80s\" (bound %s: %s)", lh_profile_id(p),
                       kind, name ? name : "", member, names);
            return refuse(app, who, err);
        }
    }
    if (!named && !optional) { /* an operation over every object of a kind: only for admin */
        bound_list(p, member, names, sizeof names);
        lh_err_set(err, LH_EFORBIDDEN, "profile %s must name the %s %s works on (bound %s: %s)", lh_profile_id(p), kind,
                   op->name, member, names);
        return refuse(app, who, err);
    }
    return LH_OK;
}

/* A system dataset (_trials) named by a mutating operation's dataset argument, or NULL. */
static const char *system_dataset(const lh_op *op, json_t *args)
{
    if (!op->mutates || !op->binds) return NULL;
    for (const char *spec = strstr(op->binds, "dataset:"); spec; spec = strstr(spec + 1, "dataset:")) {
        const char *params = spec + 8;
        size_t len = strcspn(params, ";");
        for (size_t at = 0; at < len;) {
            size_t n = strcspn(params + at, ",;?");
            char param[64];
            snprintf(param, sizeof param, "%.*s", (int)(n < sizeof param ? n : sizeof param - 1), params + at);
            const char *value = json_string_value(json_object_get(args, param));
            if (value && value[0] == LH_DATASET_SYSTEM_PREFIX) return value;
            at += n;
            at += strspn(params + at, ",?");
        }
    }
    return NULL;
}

lh_code lh_app_authorize(lh_app *app, const lh_op *op, json_t *args, const lh_who *who, lh_err *err)
{
    const char *system = system_dataset(op, args);
    if (system)
        return lh_err_set(err, LH_EFORBIDDEN, "dataset %s is written by Lakehouse itself (%s is refused); read it with SQL",
                          system, op->name);
    const lh_profile *p = who ? who->profile : NULL;
    if (!p || op->scope == LH_SCOPE_ANY) return LH_OK;
    unsigned have = lh_profile_scopes(p);
    if (have & LH_SCOPE_ADMIN) return LH_OK;
    if (!(have & op->scope)) {
        lh_err_set(err, LH_EFORBIDDEN, "profile %s lacks scope \"%s\", which %s needs", lh_profile_id(p),
                   lh_scope_name(op->scope), op->name);
        return refuse(app, who, err);
    }
    /* "kind:param,param;kind:param": each kind's named objects must be bound */
    for (const char *spec = op->binds; spec && *spec;) {
        size_t len = strcspn(spec, ";");
        char one[128];
        snprintf(one, sizeof one, "%.*s", (int)len, spec);
        spec += len + (spec[len] == ';');
        lh_code rc = check_binding(app, op, one, args, who, err);
        if (rc) return rc;
    }
    return LH_OK;
}

bool lh_app_may(const char *op_name, json_t *args, const lh_who *who)
{
    const lh_op *op = lh_op_find(op_name);
    lh_err err;
    return op && lh_app_authorize(NULL, op, args, who, &err) == LH_OK;
}

/* ---- listings ---- */

json_t *lh_app_visible(const lh_who *who, json_t *items, const char *field, lh_bind_kind kind)
{
    const lh_profile *p = who ? who->profile : NULL;
    if (!p || (lh_profile_scopes(p) & LH_SCOPE_ADMIN)) return items;
    json_t *kept = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(items, i, x) {
        const char *name = json_string_value(json_object_get(x, field));
        if (name && lh_profile_binds(p, kind, name)) json_array_append(kept, x);
    }
    json_decref(items);
    return kept;
}

json_t *lh_app_visible_events(const lh_who *who, json_t *events)
{
    const lh_profile *p = who ? who->profile : NULL;
    if (!p || (lh_profile_scopes(p) & LH_SCOPE_ADMIN)) return events;
    json_t *kept = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e) {
        const char *type = json_string_value(json_object_get(e, "entity_type"));
        const char *id = json_string_value(json_object_get(e, "entity_id"));
        bool ok = type && id &&
                  ((!strcmp(type, "dataset") && lh_profile_binds(p, LH_BIND_DATASET, id)) ||
                   (!strcmp(type, "index") && lh_profile_binds(p, LH_BIND_INDEX, id)));
        if (ok) json_array_append(kept, e);
    }
    json_decref(events);
    return kept;
}

json_t *lh_app_visible_errors(const lh_who *who, json_t *errors)
{
    const lh_profile *p = who ? who->profile : NULL;
    if (!p || (lh_profile_scopes(p) & LH_SCOPE_ADMIN)) return errors;
    json_t *kept = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e) {
        /* a failure is the profile's when its key lies under a bound dataset's folders */
        const char *key = json_string_value(json_object_get(e, "key"));
        char name[80];
        bool ok = key && (sscanf(key, "datasets/%79[^/]/", name) == 1 ||
                          sscanf(key, "_catalog/datasets/%79[^/]/", name) == 1) &&
                  lh_profile_binds(p, LH_BIND_DATASET, name);
        if (ok) json_array_append(kept, e);
    }
    json_decref(errors);
    return kept;
}
