/*
 * lh_profile.h — who a caller is: profiles, API keys and the access policy.
 *
 * Every reader gets its own profile (invariant 8):
 *
 *   {id, kind: person|agent|model, description, scopes: [read|ingest|manage|admin],
 *    datasets: [...], views: [...], indexes: [...], index_config: {...},
 *    created_at, created_by, updated_at, updated_by, version, deleted}
 *
 * A profile is a versioned object in the default bucket, one write-once log
 * each (lh_manifests.h), every change journaled (entity type "profile"):
 *
 *   _catalog/profiles/<id>/v00000001.json   the whole profile per version, its keys' hashes included
 *   _catalog/keys/<key id>.json             {profile}: the log that holds a key (written once)
 *
 * Deleting is a version with deleted: true (its keys stop working; history stays).
 *
 * Scopes (lh_scope in lh_op.h): read (SQL, search, ask and listings over the
 * bound objects), ingest (new data into bound datasets), manage (catalog
 * changes, rollback, tombstones, index create/promote/rollback over bound
 * objects), admin (everything: profiles, keys, buckets, raw storage; no
 * binding applies). A binding "*" binds every object of its kind.
 *
 * API keys: "lh_<key id>_<secret>" (16 + 48 hex digits), created per profile
 * and shown once; only an argon2id hash of the whole key is stored
 * (crypto_pwhash_str), with the key id for lookup, an optional expiry, a
 * revocation time and (in memory, per process) the last use. A verified key
 * is cached by its SHA-256, so the slow hash runs once per key and process;
 * expiry, revocation and deletion are checked on every call.
 *
 * Policy (lh_app_authenticate): a call with a key is its profile's; a wrong,
 * expired or revoked key is 401. A call without a key is the local operator
 * (admin) only while the server listens on loopback, auth.required is false
 * and no key exists; otherwise 401. `serve` on a non-loopback address with no
 * key refuses to start (lh_app_listen_check). Failures are journaled (entity
 * type "auth", never key material) and limited per source address and key.
 *
 * What a profile reads is decided below every edge: lh_app_authorize checks
 * an operation's scope and the objects its arguments name (lh_op.scope,
 * lh_op.binds); listings drop what is not bound; the SQL engine's resolver
 * and lister see only bound datasets and views. Views (AI-safe, redacted in
 * the engine: views.*) and workspaces (workspaces.*) are catalog objects of
 * src/app/; docs/access.md is the user's guide.
 */
#ifndef LH_PROFILE_H
#define LH_PROFILE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "lakehouse/lh_err.h"
#include "lakehouse/lh_op.h"

typedef struct lh_profile lh_profile;

#define LH_PROFILE_ID_MAX 63          /* ids: [a-z][a-z0-9_.-]{0,62} */
#define LH_PROFILE_MAX_BINDINGS 1000  /* per kind (datasets, views, indexes) */
#define LH_KEY_PREFIX "lh_"
#define LH_KEY_ID_HEX 16              /* 8 random bytes */
#define LH_KEY_SECRET_HEX 48          /* 24 random bytes */
#define LH_KEY_LEN (3 + LH_KEY_ID_HEX + 1 + LH_KEY_SECRET_HEX)
#define LH_AUTH_CACHE_SLOTS 4096      /* verified keys remembered per process */
#define LH_AUTH_FAIL_BURST 10         /* failed attempts one address may make ... */
#define LH_AUTH_FAIL_WINDOW_MS 10000  /* ... per this window; more are refused unverified */
#define LH_PROFILES_RECHECK_MS 2000   /* a profile in use is re-read from storage this often (other replicas' revocations) */

typedef enum lh_bind_kind { LH_BIND_DATASET, LH_BIND_VIEW, LH_BIND_INDEX } lh_bind_kind;

/* The allowed values (the op table's choices use them). */
extern const char *const lh_profile_kinds[];  /* person, agent, model */
extern const char *const lh_profile_scopes_names[]; /* read, ingest, manage, admin */

/* "read" -> LH_SCOPE_READ ...; 0 for anything else. */
lh_scope lh_scope_parse(const char *name);
/* LH_SCOPE_READ -> "read" ... ("any" for LH_SCOPE_ANY). */
const char *lh_scope_name(lh_scope s);

/* Profile ids: [a-z][a-z0-9_.-]{0,62}; LH_EINVAL naming the field otherwise. */
lh_code lh_profile_id_check(const char *id, lh_err *err);

/* A profile as resolved for a call (borrowed from the app, valid while it is open). */
const char *lh_profile_id(const lh_profile *p);
unsigned lh_profile_scopes(const lh_profile *p); /* a set of lh_scope bits */
/* Whether p may use the object `name` of this kind (admin: always). */
bool lh_profile_binds(const lh_profile *p, lh_bind_kind kind, const char *name);
/* Whether p may read dataset `name`: bound as a dataset (views join in with issue 12's views). */
bool lh_profile_reads_dataset(const lh_profile *p, const char *name);

#endif
