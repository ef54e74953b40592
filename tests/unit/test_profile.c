/*
 * test_profile.c — profiles, API keys and access (src/app/profiles.c,
 * src/app/auth.c): every operation declares a scope, profiles are versioned
 * and journaled, keys are stored only as argon2id hashes, the policy of
 * lh_app_authenticate (local operator, wrong / revoked / expired keys, the
 * verification cache, the per-address limit), and scoped reading through the
 * library: scopes, bindings, listings and SQL (tables, old versions,
 * information_schema, duckdb_*()).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define APP_FIXTURE_SETTINGS {"ai.provider", "hash", "test"}
#include "app_fixture.h"

#include "lakehouse/lh_buf.h"
#include "lakehouse/lh_time.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static json_t *call_as(struct fixture *f, const lh_who *who, const char *op, const char *json, lh_code want)
{
    json_t *args = json ? json_loads(json, 0, NULL) : NULL;
    lh_op_ctx call = {.who = *who};
    json_t *out = NULL;
    lh_err err;
    lh_code rc = lh_app_call(f->app, op, args, &call, &out, &err);
    if (rc != want) fail_msg("%s %s: want %d, got %d: %s", op, json ? json : "", want, rc, rc ? err.message : "ok");
    json_decref(args);
    return out;
}

static json_t *call_ok(struct fixture *f, const char *op, const char *json)
{
    return call_as(f, &tester, op, json, LH_OK);
}

/* The error message of a refused call. */
static const char *refused(struct fixture *f, const lh_who *who, const char *op, const char *json, lh_code want)
{
    static lh_err err;
    json_t *args = json ? json_loads(json, 0, NULL) : NULL;
    lh_op_ctx call = {.who = *who};
    json_t *out = NULL;
    lh_code rc = lh_app_call(f->app, op, args, &call, &out, &err);
    json_decref(args);
    json_decref(out);
    if (rc != want) fail_msg("%s: want %d, got %d (%s)", op, want, rc, rc ? err.message : "ok");
    return err.message;
}

static char *new_key(struct fixture *f, const char *profile)
{
    char args[128];
    snprintf(args, sizeof args, "{\"profile\":\"%s\"}", profile);
    json_t *k = call_ok(f, "keys.create", args);
    char *key = lh_xstrdup(json_string_value(json_object_get(k, "key")));
    json_decref(k);
    return key;
}

static lh_code authenticate(lh_app *app, const char *key, const char *peer, lh_who *who, lh_err *err)
{
    *who = (lh_who){.actor = "x", .source = "test"};
    if (!key) return lh_app_authenticate(app, NULL, peer, who, err);
    char *bearer = lh_xasprintf("Bearer %s", key);
    lh_code rc = lh_app_authenticate(app, bearer, peer, who, err);
    free(bearer);
    return rc;
}

/* Every file under dir, concatenated. */
static void slurp_tree(const char *dir, lh_buf *all)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *path = lh_xasprintf("%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) slurp_tree(path, all);
        else {
            FILE *fp = fopen(path, "rb");
            char buf[4096];
            size_t n;
            while (fp && (n = fread(buf, 1, sizeof buf, fp)) > 0) lh_buf_append(all, buf, n);
            if (fp) fclose(fp);
        }
        free(path);
    }
    if (d) closedir(d);
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* ---- the table ---- */

static void test_every_op_declares_a_scope(void **state)
{
    (void)state;
    size_t n;
    const lh_op *ops = lh_op_all(&n);
    for (size_t i = 0; i < n; i++) {
        if (ops[i].scope == LH_SCOPE_UNSET) fail_msg("%s declares no scope", ops[i].name);
        /* a mutation never needs only read, but for the caller's own things: ask's record, its workspaces */
        if (ops[i].mutates && ops[i].scope == LH_SCOPE_READ && strcmp(ops[i].name, "ask") != 0 &&
            strncmp(ops[i].name, "workspaces.", 11) != 0)
            fail_msg("%s mutates with scope read", ops[i].name);
        /* every parameter a binding names exists */
        if (!ops[i].binds) continue;
        char specs[128];
        snprintf(specs, sizeof specs, "%s", ops[i].binds);
        for (char *s1 = NULL, *spec = strtok_r(specs, ";", &s1); spec; spec = strtok_r(NULL, ";", &s1)) {
            char *colon = strchr(spec, ':');
            assert_non_null(colon);
            *colon = '\0';
            if (strcmp(spec, "dataset") && strcmp(spec, "view") && strcmp(spec, "index") && strcmp(spec, "entity"))
                fail_msg("%s binds an unknown kind %s", ops[i].name, spec);
            for (char *s2 = NULL, *p = strtok_r(colon + 1, ",", &s2); p; p = strtok_r(NULL, ",", &s2)) {
                if (p[strlen(p) - 1] == '?') p[strlen(p) - 1] = '\0'; /* optional */
                bool found = false;
                for (const lh_op_param *q = ops[i].params; q->name; q++) found |= !strcmp(q->name, p);
                if (!found) fail_msg("%s binds unknown parameter %s", ops[i].name, p);
            }
        }
    }
    assert_int_equal(lh_op_find("profiles.create")->scope, LH_SCOPE_ADMIN);
    assert_int_equal(lh_op_find("storage.get")->scope, LH_SCOPE_ADMIN);
    assert_int_equal(lh_op_find("sql")->scope, LH_SCOPE_READ);
    assert_int_equal(lh_scope_parse("manage"), LH_SCOPE_MANAGE);
    assert_int_equal(lh_scope_parse("root"), LH_SCOPE_UNSET);
}

/* ---- profiles ---- */

static void test_profiles_are_versioned_and_journaled(void **state)
{
    struct fixture *f = *state;
    json_t *p = call_ok(f, "profiles.create", "{\"id\":\"bot\",\"kind\":\"agent\",\"scopes\":[\"read\"],\"datasets\":[\"a\"]}");
    assert_int_equal(json_integer_value(json_object_get(p, "version")), 1);
    assert_string_equal(json_string_value(json_object_get(p, "created_by")), "tester");
    json_decref(p);
    call_as(f, &tester, "profiles.create", "{\"id\":\"bot\",\"kind\":\"agent\",\"scopes\":[\"read\"]}", LH_EEXIST);
    assert_string_equal(refused(f, &tester, "profiles.create", "{\"id\":\"Bot!\",\"kind\":\"agent\",\"scopes\":[]}", LH_EINVAL),
                        "\"id\" must match [a-z][a-z0-9_.-]{0,62}, not \"Bot!\"");
    assert_non_null(strstr(refused(f, &tester, "profiles.create",
                                   "{\"id\":\"b2\",\"kind\":\"agent\",\"scopes\":[],\"datasets\":[\"../x\"]}", LH_EINVAL),
                           "\"datasets\"[0]"));
    p = call_ok(f, "profiles.update", "{\"id\":\"bot\",\"description\":\"a bot\",\"indexes\":[\"docs\"]}");
    assert_int_equal(json_integer_value(json_object_get(p, "version")), 2);
    assert_string_equal(json_string_value(json_object_get(p, "description")), "a bot");
    assert_string_equal(json_string_value(json_array_get(json_object_get(p, "datasets"), 0)), "a"); /* kept */
    json_decref(p);
    json_t *list = call_ok(f, "profiles.list", NULL);
    assert_int_equal(json_array_size(json_object_get(list, "profiles")), 1);
    json_decref(list);
    /* the versions are objects in the store */
    char *v2 = lh_xasprintf("%s/data/local/_catalog/profiles/bot/v00000002.json", f->dir);
    struct stat st;
    assert_int_equal(stat(v2, &st), 0);
    free(v2);
    p = call_ok(f, "profiles.delete", "{\"id\":\"bot\",\"reason\":\"done\"}");
    json_decref(p);
    call_as(f, &tester, "profiles.get", "{\"id\":\"bot\"}", LH_ENOTFOUND);
    call_as(f, &tester, "profiles.update", "{\"id\":\"bot\",\"description\":\"x\"}", LH_ENOTFOUND);
    /* every change is an event of entity type profile */
    json_t *events;
    lh_err err;
    assert_int_equal(lh_journal_recent(lh_app_journal(f->app), "bot", 10, &events, &err), LH_OK);
    assert_int_equal(json_array_size(events), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(events, 0), "action")), "delete");
    assert_string_equal(json_string_value(json_object_get(json_array_get(events, 0), "entity_type")), "profile");
    json_decref(events);
}

/* ---- keys ---- */

static void test_keys_are_hashed_at_rest(void **state)
{
    struct fixture *f = *state;
    json_decref(call_ok(f, "profiles.create", "{\"id\":\"bot\",\"kind\":\"agent\",\"scopes\":[\"read\"]}"));
    json_t *k = call_ok(f, "keys.create", "{\"profile\":\"bot\",\"label\":\"ci\",\"expires_in_days\":30}");
    const char *key = json_string_value(json_object_get(k, "key"));
    assert_int_equal(strlen(key), LH_KEY_LEN);
    assert_non_null(json_string_value(json_object_get(k, "expires_at")));
    assert_null(json_object_get(k, "hash"));
    lh_buf all = {0};
    char *data = lh_xasprintf("%s/data", f->dir);
    assert_int_equal(lh_journal_flush(lh_app_journal(f->app), NULL), LH_OK);
    slurp_tree(data, &all);
    free(data);
    lh_buf_putc(&all, '\0');
    /* neither the key nor its secret anywhere in the data folder; an argon2id hash is */
    assert_null(strstr(all.data, key));
    assert_null(strstr(all.data, key + 3 + LH_KEY_ID_HEX + 1));
    assert_non_null(strstr(all.data, "$argon2id$"));
    lh_buf_free(&all);
    /* listings never show a hash */
    json_t *keys = call_ok(f, "keys.list", "{\"profile\":\"bot\"}");
    json_t *one = json_array_get(json_object_get(keys, "keys"), 0);
    assert_non_null(one);
    assert_null(json_object_get(one, "hash"));
    assert_string_equal(json_string_value(json_object_get(one, "label")), "ci");
    json_decref(keys);
    json_t *prof = call_ok(f, "profiles.get", "{\"id\":\"bot\"}");
    char *text = json_dumps(prof, 0);
    assert_null(strstr(text, "argon2"));
    free(text);
    json_decref(prof);
    json_decref(k);
}

static void test_authentication_policy(void **state)
{
    struct fixture *f = *state;
    lh_who who;
    lh_err err;
    /* no key anywhere: the local operator */
    assert_int_equal(authenticate(f->app, NULL, "127.0.0.1", &who, &err), LH_OK);
    assert_null(who.profile);
    json_decref(call_ok(f, "profiles.create", "{\"id\":\"bot\",\"kind\":\"agent\",\"scopes\":[\"read\"]}"));
    char *key = new_key(f, "bot");
    /* once a key exists, a call without one is refused */
    assert_int_equal(authenticate(f->app, NULL, "127.0.0.1", &who, &err), LH_EUNAUTHORIZED);
    assert_int_equal(authenticate(f->app, key, "127.0.0.1", &who, &err), LH_OK);
    assert_non_null(who.profile);
    assert_string_equal(lh_profile_id(who.profile), "bot");
    assert_string_equal(who.actor, "bot");
    /* wrong secret, wrong shape, unknown id */
    char *wrong = lh_xstrdup(key);
    wrong[LH_KEY_LEN - 1] = wrong[LH_KEY_LEN - 1] == '0' ? '1' : '0';
    assert_int_equal(authenticate(f->app, wrong, "10.9.0.1", &who, &err), LH_EUNAUTHORIZED);
    assert_string_equal(err.message, "wrong API key");
    assert_int_equal(authenticate(f->app, "lh_nope", "10.9.0.2", &who, &err), LH_EUNAUTHORIZED);
    assert_string_equal(err.message, "not a Lakehouse API key");
    assert_int_equal(lh_app_authenticate(f->app, "Basic abc", "10.9.0.3", &who, &err), LH_EUNAUTHORIZED);
    /* the verification is cached: a thousand checks cost far less than one argon2id hash */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 1000; i++) assert_int_equal(authenticate(f->app, key, "127.0.0.1", &who, &err), LH_OK);
    double per_call = ms_since(&t0) / 1000;
    assert_true(per_call < 0.2);
    /* revocation is immediate, cache or not */
    char rev[160];
    snprintf(rev, sizeof rev, "{\"profile\":\"bot\",\"id\":\"%.16s\"}", key + 3);
    json_decref(call_ok(f, "keys.revoke", rev));
    assert_int_equal(authenticate(f->app, key, "127.0.0.1", &who, &err), LH_EUNAUTHORIZED);
    assert_string_equal(err.message, "the key is revoked");
    call_as(f, &tester, "keys.revoke", rev, LH_ENOTFOUND); /* already */
    /* a deleted profile's keys stop working */
    char *key2 = new_key(f, "bot");
    assert_int_equal(authenticate(f->app, key2, "127.0.0.1", &who, &err), LH_OK);
    json_decref(call_ok(f, "profiles.delete", "{\"id\":\"bot\"}"));
    assert_int_equal(authenticate(f->app, key2, "127.0.0.1", &who, &err), LH_EUNAUTHORIZED);
    /* failures are journaled without key material */
    json_t *events;
    assert_int_equal(lh_journal_recent(lh_app_journal(f->app), NULL, 100, &events, &err), LH_OK);
    char *text = json_dumps(events, 0);
    assert_non_null(strstr(text, "\"entity_type\": \"auth\""));
    assert_non_null(strstr(text, "wrong API key"));
    assert_null(strstr(text, key + 3 + LH_KEY_ID_HEX + 1));
    assert_null(strstr(text, wrong + 3 + LH_KEY_ID_HEX + 1));
    free(text);
    json_decref(events);
    free(wrong);
    free(key);
    free(key2);
}

static void test_expired_key_seen_by_another_replica(void **state)
{
    struct fixture *f = *state;
    json_decref(call_ok(f, "profiles.create", "{\"id\":\"bot\",\"kind\":\"agent\",\"scopes\":[\"read\"]}"));
    char *key = new_key(f, "bot");
    /* version 3 written by "another replica": the key expired yesterday */
    char *v2 = lh_xasprintf("%s/data/local/_catalog/profiles/bot/v00000002.json", f->dir);
    char *v3 = lh_xasprintf("%s/data/local/_catalog/profiles/bot/v00000003.json", f->dir);
    json_t *m = json_load_file(v2, 0, NULL);
    assert_non_null(m);
    char yesterday[LH_TIME_ISO_LEN];
    lh_time_iso8601(lh_time_now_ms() - 86400000LL, yesterday);
    json_object_set_new(json_array_get(json_object_get(m, "keys"), 0), "expires_at", json_string(yesterday));
    json_object_set_new(m, "version", json_integer(3));
    assert_int_equal(json_dump_file(m, v3, JSON_COMPACT), 0);
    json_decref(m);
    lh_who who;
    lh_err err;
    assert_int_equal(authenticate(f->app, key, "127.0.0.1", &who, &err), LH_OK); /* verified and cached */
    /* the cached key is re-read from storage within LH_PROFILES_RECHECK_MS */
    struct timespec nap = {LH_PROFILES_RECHECK_MS / 1000, (LH_PROFILES_RECHECK_MS % 1000) * 1000000L + 100000000L};
    nanosleep(&nap, NULL);
    lh_code rc = authenticate(f->app, key, "127.0.0.1", &who, &err);
    assert_int_equal(rc, LH_EUNAUTHORIZED);
    assert_string_equal(err.message, "the key has expired");
    free(v2);
    free(v3);
    free(key);
}

static void test_failures_are_limited_per_address(void **state)
{
    struct fixture *f = *state;
    json_decref(call_ok(f, "profiles.create", "{\"id\":\"bot\",\"kind\":\"agent\",\"scopes\":[\"read\"]}"));
    char *key = new_key(f, "bot");
    lh_who who;
    lh_err err;
    assert_int_equal(authenticate(f->app, key, "127.0.0.1", &who, &err), LH_OK);
    char *wrong = lh_xstrdup(key);
    wrong[LH_KEY_LEN - 1] = wrong[LH_KEY_LEN - 1] == '0' ? '1' : '0';
    /* past the burst, a known key id with a wrong secret is refused without the slow hash */
    for (int i = 0; i < LH_AUTH_FAIL_BURST; i++)
        assert_int_equal(authenticate(f->app, wrong, "192.0.2.7", &who, &err), LH_EUNAUTHORIZED);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(authenticate(f->app, wrong, "192.0.2.7", &who, &err), LH_EUNAUTHORIZED);
        assert_string_equal(err.message, "too many failed attempts for this key from this address; wait 10 s");
    }
    assert_true(ms_since(&t0) < 500); /* 1,000 refusals: no argon2id among them */
    /* other keys from that address, and the same key from other addresses, are not slowed */
    char *other = new_key(f, "bot");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(authenticate(f->app, other, "192.0.2.7", &who, &err), LH_OK); /* one argon2id */
    assert_int_equal(authenticate(f->app, key, "192.0.2.8", &who, &err), LH_OK);   /* cached */
    assert_int_equal(authenticate(f->app, key, "192.0.2.7", &who, &err), LH_OK);   /* cached: verified before */
    /* missing keys cost nothing and are not limited; their journal is */
    for (int i = 0; i < 1000; i++)
        assert_int_equal(lh_app_authenticate(f->app, "Bearer lh_x", "192.0.2.9", &who, &err), LH_EUNAUTHORIZED);
    json_t *events;
    assert_int_equal(lh_journal_recent(lh_app_journal(f->app), NULL, 5000, &events, &err), LH_OK);
    size_t from9 = 0;
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e) {
        json_t *v = json_object_get(e, "new");
        if (v && json_string_value(json_object_get(v, "address")) && !strcmp(json_string_value(json_object_get(v, "address")), "192.0.2.9"))
            from9++;
    }
    assert_int_equal(from9, LH_AUTH_FAIL_BURST + 1); /* the burst, then one "throttle" */
    json_decref(events);
    free(other);
    free(wrong);
    free(key);
}

static void test_listen_check(void **state)
{
    struct fixture *f = *state;
    lh_err err;
    assert_int_equal(lh_app_listen_check(f->app, "127.0.0.1", &err), LH_OK);
    assert_int_equal(lh_app_listen_check(f->app, "::1", &err), LH_OK);
    assert_false(lh_app_auth_required(f->app));
    assert_int_equal(lh_app_listen_check(f->app, "0.0.0.0", &err), LH_EFORBIDDEN);
    assert_non_null(strstr(err.message, "refusing to listen on 0.0.0.0 with no API key"));
    assert_true(lh_app_auth_required(f->app));
}

/* ---- access ---- */

static void test_scopes_and_bindings(void **state)
{
    struct fixture *f = *state;
    app_ingest_csv(f, "open", "id,v\n1,public\n");
    app_ingest_csv(f, "secret", "id,v\n1,classified\n");
    json_decref(call_ok(f, "profiles.create",
                        "{\"id\":\"reader\",\"kind\":\"model\",\"scopes\":[\"read\"],\"datasets\":[\"open\"]}"));
    json_decref(call_ok(f, "profiles.create",
                        "{\"id\":\"ops\",\"kind\":\"person\",\"scopes\":[\"manage\",\"read\"],\"datasets\":[\"*\"]}"));
    char *rkey = new_key(f, "reader"), *okey = new_key(f, "ops");
    lh_who reader, ops;
    lh_err err;
    assert_int_equal(authenticate(f->app, rkey, "127.0.0.1", &reader, &err), LH_OK);
    assert_int_equal(authenticate(f->app, okey, "127.0.0.1", &ops, &err), LH_OK);
    /* scope */
    assert_string_equal(refused(f, &reader, "catalog.create", "{\"name\":\"open2\"}", LH_EFORBIDDEN),
                        "profile reader lacks scope \"manage\", which catalog.create needs");
    refused(f, &reader, "profiles.list", NULL, LH_EFORBIDDEN);
    refused(f, &reader, "storage.objects", "{\"bucket\":\"local\"}", LH_EFORBIDDEN);
    refused(f, &ops, "keys.create", "{\"profile\":\"ops\"}", LH_EFORBIDDEN);
    /* bindings: the allowed objects are named */
    assert_string_equal(refused(f, &reader, "catalog.show", "{\"name\":\"secret\"}", LH_EFORBIDDEN),
                        "profile reader may not use dataset \"secret\" (bound datasets: open)");
    json_decref(call_as(f, &reader, "catalog.show", "{\"name\":\"open\"}", LH_OK));
    refused(f, &reader, "journal.history", "{\"entity_id\":\"secret\"}", LH_EFORBIDDEN);
    refused(f, &reader, "search", "{\"index\":\"x\",\"query\":\"q\"}", LH_EFORBIDDEN);
    refused(f, &reader, "ask", "{\"question\":\"q\"}", LH_EFORBIDDEN); /* every index: admin only */
    json_decref(call_as(f, &ops, "catalog.show", "{\"name\":\"secret\"}", LH_OK)); /* "*" */
    /* an index over an unbound dataset would be a way round: both must be bound */
    json_decref(call_ok(f, "profiles.create",
                        "{\"id\":\"builder\",\"kind\":\"agent\",\"scopes\":[\"manage\",\"read\"],\"datasets\":[\"open\"],"
                        "\"indexes\":[\"*\"]}"));
    char *bkey = new_key(f, "builder");
    lh_who builder;
    assert_int_equal(authenticate(f->app, bkey, "127.0.0.1", &builder, &err), LH_OK);
    assert_string_equal(refused(f, &builder, "index.create",
                                "{\"name\":\"steal\",\"dataset\":\"secret\",\"id_column\":\"id\",\"text_columns\":[\"v\"]}",
                                LH_EFORBIDDEN),
                        "profile builder may not use dataset \"secret\" (bound datasets: open)");
    free(bkey);
    /* listings */
    json_t *list = call_as(f, &reader, "catalog.list", NULL, LH_OK);
    assert_int_equal(json_array_size(json_object_get(list, "datasets")), 1);
    json_decref(list);
    json_t *events = call_as(f, &reader, "journal.recent", NULL, LH_OK);
    char *text = json_dumps(events, 0);
    assert_null(strstr(text, "secret"));
    assert_non_null(strstr(text, "open"));
    free(text);
    json_decref(events);
    json_decref(call_as(f, &reader, "profiles.me", NULL, LH_OK));
    /* the refusals are journaled */
    json_t *all;
    assert_int_equal(lh_journal_recent(lh_app_journal(f->app), "reader", 50, &all, &err), LH_OK);
    assert_true(json_array_size(all) >= 3);
    json_decref(all);
    free(rkey);
    free(okey);
}

/* SQL through the library as a profile: rows of an unbound dataset never come back. */
static void test_scoped_sql(void **state)
{
    struct fixture *f = *state;
    app_ingest_csv(f, "open", "id,v\n1,public\n");
    app_ingest_csv(f, "secret", "id,v\n1,classified\n");
    json_decref(call_ok(f, "profiles.create",
                        "{\"id\":\"reader\",\"kind\":\"agent\",\"scopes\":[\"read\"],\"datasets\":[\"open\"]}"));
    char *key = new_key(f, "reader");
    lh_who reader;
    lh_err err;
    assert_int_equal(authenticate(f->app, key, "127.0.0.1", &reader, &err), LH_OK);
    json_t *ok = call_as(f, &reader, "sql", "{\"sql\":\"SELECT v FROM open\"}", LH_OK);
    assert_string_equal(json_string_value(json_array_get(json_array_get(json_object_get(ok, "rows"), 0), 0)), "public");
    json_decref(ok);
    static const char *const tricks[] = {
        "SELECT v FROM secret",
        "SELECT v FROM \"secret\"",
        "SELECT v FROM \"secret@1\"",
        "SELECT v FROM dataset_version('secret', 1)",
        "SELECT v FROM lh_version('secret', 1)",
        "SELECT * FROM query_table('secret')",
        "SELECT o.v FROM open o JOIN secret s USING (id)",
        "SELECT v FROM open UNION ALL SELECT v FROM secret",
        "WITH x AS (SELECT * FROM secret) SELECT v FROM x",
        "SELECT (SELECT max(v) FROM secret)",
    };
    for (size_t i = 0; i < sizeof tricks / sizeof *tricks; i++) {
        json_t *args = json_pack("{s:s}", "sql", tricks[i]), *out = NULL;
        lh_op_ctx call = {.who = reader};
        lh_code rc = lh_app_call(f->app, "sql", args, &call, &out, &err);
        char *text = out ? json_dumps(out, 0) : NULL;
        if (rc == LH_OK || strstr(err.message, "classified") || (text && strstr(text, "classified")))
            fail_msg("%s: answered (%s)", tricks[i], rc == LH_OK ? text : err.message);
        free(text);
        json_decref(out);
        json_decref(args);
    }
    /* introspection lists only the bound dataset */
    static const char *const looks[] = {
        "SELECT string_agg(table_name, ',') FROM information_schema.tables",
        "SELECT string_agg(table_name, ',') FROM duckdb_tables() UNION ALL SELECT string_agg(view_name, ',') FROM duckdb_views()",
        "SELECT string_agg(table_name, ',') FROM information_schema.columns",
    };
    for (size_t i = 0; i < sizeof looks / sizeof *looks; i++) {
        json_t *args = json_pack("{s:s}", "sql", looks[i]), *out = NULL;
        lh_op_ctx call = {.who = reader};
        lh_code rc = lh_app_call(f->app, "sql", args, &call, &out, &err);
        char *text = out ? json_dumps(out, 0) : lh_xstrdup(err.message);
        if (strstr(text, "secret")) fail_msg("%s: %s", looks[i], text);
        if (i == 0 && (rc || !strstr(text, "open"))) fail_msg("%s: %s", looks[i], text);
        free(text);
        json_decref(out);
        json_decref(args);
    }
    /* the local operator still sees everything */
    json_t *all = call_ok(f, "sql", "{\"sql\":\"SELECT v FROM secret\"}");
    json_decref(all);
    free(key);
}

/* ---- views ---- */

static json_t *sql_as(struct fixture *f, const lh_who *who, const char *sql, lh_code want, lh_err *err)
{
    json_t *args = json_pack("{s:s}", "sql", sql), *out = NULL;
    lh_op_ctx call = {.who = *who};
    lh_code rc = lh_app_call(f->app, "sql", args, &call, &out, err);
    json_decref(args);
    if (rc != want) fail_msg("%s: want %d, got %d (%s)", sql, want, rc, rc ? err->message : "ok");
    return out;
}

static void test_views_redact_in_the_engine(void **state)
{
    struct fixture *f = *state;
    app_ingest_csv(f, "people", "id,name,phone,email,city\n1,Alice Smith,555-0101-1234,alice@x.org,Austin\n"
                            "2,Bob Jones,555-0199-9876,bob@y.org,Hidden\n3,Carol,12,c@z.org,Austin\n");
    json_t *v = call_ok(f, "views.create",
                        "{\"name\":\"people_safe\",\"base_dataset\":\"people\",\"columns\":[\"id\",\"name\",\"phone\",\"city\"],"
                        "\"row_filter\":\"city <> 'Hidden'\",\"column_redactions\":{\"name\":\"hash\","
                        "\"phone\":{\"mask\":{\"keep_prefix\":0,\"keep_suffix\":4}},\"city\":null}}");
    assert_int_equal(json_integer_value(json_object_get(v, "version")), 1);
    json_decref(v);
    /* bad definitions name what is wrong */
    lh_err err;
    assert_non_null(strstr(refused(f, &tester, "views.create",
                                   "{\"name\":\"v2\",\"base_dataset\":\"people\",\"columns\":[\"nope\"]}", LH_EINVAL),
                           "people has no column \"nope\""));
    assert_non_null(strstr(refused(f, &tester, "views.create",
                                   "{\"name\":\"v2\",\"base_dataset\":\"people\",\"column_redactions\":{\"name\":\"rot13\"}}",
                                   LH_EINVAL),
                           "must be null, \"hash\" or"));
    refused(f, &tester, "views.create", "{\"name\":\"people\",\"base_dataset\":\"people\"}", LH_EEXIST);
    assert_string_equal(refused(f, &tester, "catalog.create", "{\"name\":\"people_safe\"}", LH_EEXIST),
                        "\"people_safe\" is a view; a dataset needs a name of its own");
    refused(f, &tester, "views.create",
            "{\"name\":\"v3\",\"base_dataset\":\"people\",\"row_filter\":\"true) UNION ALL SELECT * FROM read_csv('/etc/passwd') WHERE (true\"}",
            LH_EFORBIDDEN);
    json_decref(call_ok(f, "profiles.create",
                        "{\"id\":\"ai\",\"kind\":\"model\",\"scopes\":[\"read\"],\"views\":[\"people_safe\"]}"));
    char *key = new_key(f, "ai");
    lh_who ai;
    assert_int_equal(authenticate(f->app, key, "127.0.0.1", &ai, &err), LH_OK);
    json_t *out = sql_as(f, &ai, "SELECT id, name, phone, city FROM people_safe ORDER BY id", LH_OK, &err);
    json_t *rows = json_object_get(out, "rows");
    assert_int_equal(json_array_size(rows), 2); /* the filter hid Bob */
    char *text = json_dumps(out, 0);
    assert_null(strstr(text, "Alice"));
    assert_null(strstr(text, "Bob"));
    assert_null(strstr(text, "Austin"));
    assert_null(strstr(text, "0101"));
    assert_null(strstr(text, "email"));
    free(text);
    json_t *r1 = json_array_get(rows, 0);
    assert_int_equal(strlen(json_string_value(json_array_get(r1, 1))), 64); /* sha256 hex */
    assert_string_equal(json_string_value(json_array_get(r1, 2)), "*********1234");
    assert_true(json_is_null(json_array_get(r1, 3)));
    assert_string_equal(json_string_value(json_array_get(json_array_get(rows, 1), 2)), "**"); /* shorter than prefix + suffix */
    json_decref(out);
    /* no way round: the base, its versions, predicates on the raw values */
    json_decref(sql_as(f, &ai, "SELECT * FROM people", LH_EINVAL, &err));
    json_decref(sql_as(f, &ai, "SELECT * FROM dataset_version('people', 1)", LH_EINVAL, &err));
    json_decref(sql_as(f, &ai, "SELECT * FROM \"people_safe@1\"", LH_EINVAL, &err));
    out = sql_as(f, &ai, "SELECT count(*) FROM people_safe WHERE name = 'Alice Smith' OR phone LIKE '%0101%'", LH_OK, &err);
    assert_int_equal(json_integer_value(json_array_get(json_array_get(json_object_get(out, "rows"), 0), 0)), 0);
    json_decref(out);
    out = sql_as(f, &ai, "SELECT string_agg(table_name, ',') FROM information_schema.tables", LH_OK, &err);
    text = json_dumps(out, 0);
    assert_non_null(strstr(text, "people_safe"));
    assert_null(strstr(text, "people\""));
    assert_null(strstr(text, "people,"));
    free(text);
    json_decref(out);
    /* listings: the bound view only; the admin sees the same redacted rows */
    json_decref(call_ok(f, "views.create", "{\"name\":\"other_view\",\"base_dataset\":\"people\"}"));
    json_t *list = call_as(f, &ai, "views.list", NULL, LH_OK);
    assert_int_equal(json_array_size(json_object_get(list, "views")), 1);
    json_decref(list);
    refused(f, &ai, "views.get", "{\"name\":\"other_view\"}", LH_EFORBIDDEN);
    refused(f, &ai, "views.create", "{\"name\":\"mine\",\"base_dataset\":\"people\"}", LH_EFORBIDDEN);
    out = call_ok(f, "sql", "{\"sql\":\"SELECT name FROM people_safe ORDER BY id\"}");
    text = json_dumps(out, 0);
    assert_null(strstr(text, "Alice"));
    free(text);
    json_decref(out);
    /* versions: an update is version 2, a delete version 3, and the view is gone */
    json_decref(call_ok(f, "views.update", "{\"name\":\"people_safe\",\"row_filter\":\"id = 1\"}"));
    out = sql_as(f, &ai, "SELECT count(*) FROM people_safe", LH_OK, &err);
    assert_int_equal(json_integer_value(json_array_get(json_array_get(json_object_get(out, "rows"), 0), 0)), 1);
    json_decref(out);
    json_decref(call_ok(f, "views.delete", "{\"name\":\"people_safe\"}"));
    json_decref(sql_as(f, &ai, "SELECT * FROM people_safe", LH_EINVAL, &err));
    free(key);
}

/* ---- searching as a profile ---- */

static void test_search_as_a_profile(void **state)
{
    struct fixture *f = *state;
    app_ingest_csv(f, "docs", "id,text,owner\n1,forklift operator,ZEDOWNER\n2,night shift welder,ZEDOWNER\n");
    app_ingest_csv(f, "memos", "id,text\n1,classified memo\n");
    json_decref(call_ok(f, "index.create", "{\"name\":\"docs_idx\",\"dataset\":\"docs\",\"id_column\":\"id\",\"text_columns\":[\"text\"]}"));
    json_decref(call_ok(f, "index.create", "{\"name\":\"memos_idx\",\"dataset\":\"memos\",\"id_column\":\"id\",\"text_columns\":[\"text\"]}"));
    json_decref(call_ok(f, "profiles.create",
                        "{\"id\":\"finder\",\"kind\":\"model\",\"scopes\":[\"read\"],\"datasets\":[\"docs\"],"
                        "\"indexes\":[\"docs_idx\"],\"index_config\":{\"ef_search\":32}}"));
    json_decref(call_ok(f, "profiles.create", "{\"id\":\"other\",\"kind\":\"agent\",\"scopes\":[\"read\"]}"));
    /* the default index is the first bound one */
    json_t *out = call_ok(f, "profiles.search", "{\"id\":\"finder\",\"query\":\"welder\",\"k\":1}");
    assert_string_equal(json_string_value(json_object_get(out, "profile")), "finder");
    char *text = json_dumps(out, 0);
    assert_non_null(strstr(text, "welder"));
    assert_non_null(strstr(text, "ZEDOWNER")); /* it reads the dataset: the source rows come along */
    free(text);
    json_decref(out);
    /* bound to the index and not its dataset: the passages, never the source rows */
    json_decref(call_ok(f, "profiles.create",
                        "{\"id\":\"passages\",\"kind\":\"model\",\"scopes\":[\"read\"],\"indexes\":[\"docs_idx\"]}"));
    out = call_ok(f, "profiles.search", "{\"id\":\"passages\",\"query\":\"welder\",\"k\":2}");
    text = json_dumps(out, 0);
    assert_non_null(strstr(text, "welder"));
    assert_null(strstr(text, "ZEDOWNER"));
    free(text);
    json_decref(out);
    /* out of its scope: 403 with the allowed list */
    assert_string_equal(refused(f, &tester, "profiles.search", "{\"id\":\"finder\",\"query\":\"memo\",\"index\":\"memos_idx\"}",
                                LH_EFORBIDDEN),
                        "profile finder may not use index \"memos_idx\" (bound indexes: docs_idx)");
    /* a profile searches as itself only */
    char *key = new_key(f, "other");
    lh_who other;
    lh_err err;
    assert_int_equal(authenticate(f->app, key, "127.0.0.1", &other, &err), LH_OK);
    assert_string_equal(refused(f, &other, "profiles.search", "{\"id\":\"finder\",\"query\":\"welder\"}", LH_EFORBIDDEN),
                        "profile other may not search as profile finder");
    free(key);
}

/* ---- workspaces ---- */

static void test_workspaces(void **state)
{
    struct fixture *f = *state;
    app_ingest_csv(f, "open", "id,v\n1,public\n");
    app_ingest_csv(f, "secret", "id,v\n1,classified\n");
    json_decref(call_ok(f, "profiles.create", "{\"id\":\"ana\",\"kind\":\"person\",\"scopes\":[\"read\"],\"datasets\":[\"open\"]}"));
    json_decref(call_ok(f, "profiles.create", "{\"id\":\"bob\",\"kind\":\"agent\",\"scopes\":[\"read\"]}"));
    char *akey = new_key(f, "ana"), *bkey = new_key(f, "bob");
    lh_who ana, bob;
    lh_err err;
    assert_int_equal(authenticate(f->app, akey, "127.0.0.1", &ana, &err), LH_OK);
    assert_int_equal(authenticate(f->app, bkey, "127.0.0.1", &bob, &err), LH_OK);
    json_t *before = call_ok(f, "catalog.versions", "{\"name\":\"open\"}");
    size_t n_versions = json_array_size(json_object_get(before, "versions"));
    json_decref(before);
    json_t *ws = call_as(f, &ana, "workspaces.create", "{\"name\":\"hunt\",\"description\":\"night welders\"}", LH_OK);
    assert_string_equal(json_string_value(json_object_get(ws, "owner")), "ana");
    json_decref(ws);
    refused(f, &ana, "workspaces.create", "{\"name\":\"theirs\",\"owner\":\"bob\"}", LH_EFORBIDDEN);
    /* the shortlist holds what its owner may read */
    json_decref(call_as(f, &ana, "workspaces.add", "{\"name\":\"hunt\",\"kind\":\"dataset\",\"ref\":\"open\"}", LH_OK));
    assert_string_equal(refused(f, &ana, "workspaces.add", "{\"name\":\"hunt\",\"kind\":\"dataset\",\"ref\":\"secret\"}", LH_EFORBIDDEN),
                        "profile ana may not use dataset \"secret\"");
    json_decref(call_as(f, &ana, "workspaces.add", "{\"name\":\"hunt\",\"kind\":\"query\",\"sql\":\"SELECT * FROM open\"}", LH_OK));
    json_decref(call_as(f, &ana, "workspaces.add", "{\"name\":\"hunt\",\"kind\":\"note\",\"note\":\"call Monday\"}", LH_OK));
    refused(f, &ana, "workspaces.add", "{\"name\":\"hunt\",\"kind\":\"query\"}", LH_EINVAL);
    ws = call_as(f, &ana, "workspaces.remove", "{\"name\":\"hunt\",\"item\":2}", LH_OK);
    assert_int_equal(json_array_size(json_object_get(ws, "items")), 2);
    assert_int_equal(json_integer_value(json_object_get(ws, "version")), 5);
    json_decref(ws);
    /* another profile does not see it, by list, name or activity */
    json_t *list = call_as(f, &bob, "workspaces.list", NULL, LH_OK);
    assert_int_equal(json_array_size(json_object_get(list, "workspaces")), 0);
    json_decref(list);
    refused(f, &bob, "workspaces.get", "{\"name\":\"hunt\"}", LH_ENOTFOUND);
    refused(f, &bob, "workspaces.activity", "{\"name\":\"hunt\"}", LH_ENOTFOUND);
    refused(f, &bob, "workspaces.add", "{\"name\":\"hunt\",\"kind\":\"note\",\"note\":\"x\"}", LH_ENOTFOUND);
    list = call_as(f, &ana, "workspaces.list", "{\"q\":\"WELDERS\"}", LH_OK);
    assert_int_equal(json_array_size(json_object_get(list, "workspaces")), 1);
    json_decref(list);
    list = call_as(f, &ana, "workspaces.list", "{\"q\":\"plumbers\"}", LH_OK);
    assert_int_equal(json_array_size(json_object_get(list, "workspaces")), 0);
    json_decref(list);
    /* the activity feed comes from the journal */
    json_t *feed = call_as(f, &ana, "workspaces.activity", "{\"name\":\"hunt\"}", LH_OK);
    assert_int_equal(json_array_size(json_object_get(feed, "events")), 5);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(feed, "events"), 0), "action")), "remove");
    json_decref(feed);
    /* hand-off: the owner changes, nothing is copied */
    refused(f, &ana, "workspaces.handoff", "{\"name\":\"hunt\",\"to\":\"nobody\"}", LH_ENOTFOUND);
    ws = call_as(f, &ana, "workspaces.handoff", "{\"name\":\"hunt\",\"to\":\"bob\"}", LH_OK);
    assert_string_equal(json_string_value(json_object_get(ws, "owner")), "bob");
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(ws, "handoffs"), 0), "from")), "ana");
    json_decref(ws);
    ws = call_as(f, &bob, "workspaces.get", "{\"name\":\"hunt\"}", LH_OK);
    assert_int_equal(json_array_size(json_object_get(ws, "items")), 2);
    json_decref(ws);
    refused(f, &ana, "workspaces.get", "{\"name\":\"hunt\"}", LH_ENOTFOUND);
    json_t *versions = call_ok(f, "catalog.versions", "{\"name\":\"open\"}");
    assert_int_equal(json_array_size(json_object_get(versions, "versions")), n_versions); /* no copy of the data */
    json_decref(versions);
    /* bob reads what his own bindings allow, not ana's: the dataset item stays a name */
    json_decref(sql_as(f, &bob, "SELECT * FROM open", LH_EINVAL, &err));
    free(akey);
    free(bkey);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_op_declares_a_scope),
        cmocka_unit_test_setup_teardown(test_profiles_are_versioned_and_journaled, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_keys_are_hashed_at_rest, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_authentication_policy, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_expired_key_seen_by_another_replica, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_failures_are_limited_per_address, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_listen_check, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_scopes_and_bindings, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_scoped_sql, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_views_redact_in_the_engine, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_search_as_a_profile, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_workspaces, app_setup, app_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
