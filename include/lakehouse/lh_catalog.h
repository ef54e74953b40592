/*
 * lh_catalog.h — datasets and their immutable, numbered versions.
 *
 * The catalog is the only metadata authority, and it keeps no data: a
 * version's manifest points at data objects (bucket, key, size, sha256, rows)
 * and describes them (schema and fingerprint, row count, lineage, author,
 * message, parent version, tombstones). Manifests are JSON objects in the
 * dataset's bucket:
 *
 *   _catalog/names/<name>                    name claim, in the default bucket (unique names)
 *   _catalog/datasets/<name>/dataset.json    descriptor: bucket, created_at, created_by
 *   _catalog/datasets/<name>/v00000001.json  version 1, 2, ... written once, never changed
 *
 * A commit writes v<N+1> with put-if-absent: concurrent committers (threads
 * or processes over one store) can never both create version N+1; the loser
 * re-reads the new head and retries on top of it, so no commit is lost and
 * numbering stays contiguous. Rollback, tombstones and deletion are new
 * versions too: nothing is ever removed except by an explicit purge of files
 * that no version references. The in-memory catalog is a cache, rebuilt from
 * the store at open (lh_catalog_rebuild).
 *
 * Manifest JSON (format 1):
 *   {format, dataset, version, parent, operation, created_at, author, source,
 *    message, bucket, schema:{fields:[{name,type}], fingerprint}, objects:[{bucket,
 *    key, size, sha256, rows}], row_count, lineage, tombstones:[{key_column,
 *    key_value, deleted_at, actor, reason}], deleted, rollback_of, extra:{}}
 */
#ifndef LH_CATALOG_H
#define LH_CATALOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "lakehouse/lh_buckets.h"
#include "lakehouse/lh_err.h"
#include "lakehouse/lh_journal.h"

typedef struct lh_catalog lh_catalog;

/* Who is making a change, for manifests and the journal. */
struct lh_profile;
typedef struct lh_who {
    const char *actor;  /* a person, an agent, "system" */
    const char *source; /* "http", "cli", "mcp", "system" */
    /* the caller's resolved profile (lh_profile.h), borrowed; NULL: the local
     * operator (the CLI on this machine, a loopback server with no keys): admin */
    const struct lh_profile *profile;
} lh_who;

/* The version whose commit ingested the input with this content hash, if
 * the manifest's state still holds it (0 if not). Content hashes are
 * "blake3:<hex>"; versions written before 2026-12-04 hold bare SHA-256 hex. */
int64_t lh_manifest_content_version(const json_t *manifest, const char *hash);
/* Whether the manifest holds any of those SHA-256 content hashes. */
bool lh_manifest_legacy_hashes(const json_t *manifest);

/* Dataset names are SQL-friendly identifiers: [a-z][a-z0-9_]{0,62}; a name
 * starting with "_" (then [a-z]) is one the system writes itself (_trials):
 * readers query it like any other, callers cannot write it (lh_app_authorize). */
#define LH_DATASET_SYSTEM_PREFIX '_'
lh_code lh_catalog_name_check(const char *name, lh_err *err);

/* Checks that a manifest read from storage is well-formed (an untrusted parser). */
lh_code lh_manifest_validate(const json_t *m, lh_err *err);

/* Opens the catalog over the buckets and rebuilds it from storage. The journal may be NULL. */
lh_code lh_catalog_open(lh_buckets *buckets, lh_journal *journal, lh_catalog **out, lh_err *err);
void lh_catalog_close(lh_catalog *c);

/* Called after each version this process commits (any operation), outside
 * the catalog's locks; at most one observer, set before concurrent use. */
typedef void (*lh_catalog_observer)(void *ctx, const char *dataset, int64_t version);
void lh_catalog_observe(lh_catalog *c, lh_catalog_observer fn, void *ctx);

/* Forgets the cache and re-reads every bucket. *report (may be NULL):
 * {datasets, versions, skipped:[{key, error}]} */
lh_code lh_catalog_rebuild(lh_catalog *c, json_t **report, lh_err *err);

/* Stored data that failed its checks since open: a manifest (noted by the
 * catalog) or a data object (noted by whoever read it), where = "bucket/key".
 * A corrupt version fails reads of the newest version with LH_ECORRUPT; the
 * intact versions before it stay readable. */
void lh_catalog_note_corrupt(lh_catalog *c, const char *dataset, const char *where, const char *message);

/* [{dataset, where, error}] (a new reference); empty when all is well. */
json_t *lh_catalog_corrupt(lh_catalog *c);
/* How many things failed their checks so far (cheap: for caches of the above). */
size_t lh_catalog_corrupt_count(lh_catalog *c);

/* ---- changes (each returns the new version's manifest in *out, a new reference) ---- */

typedef struct lh_create_options {
    const char *bucket;      /* NULL: the default bucket */
    const char *description; /* may be NULL */
} lh_create_options;

/* Creates an empty dataset: version 1, no objects. LH_EEXIST if the name is taken. */
lh_code lh_catalog_create(lh_catalog *c, const char *name, const lh_create_options *opt,
                          const lh_who *who, json_t **out, lh_err *err);

typedef enum lh_commit_mode { LH_COMMIT_APPEND, LH_COMMIT_REPLACE } lh_commit_mode;

/* "append" | "replace" -> *out; false on anything else. */
bool lh_commit_mode_parse(const char *s, lh_commit_mode *out);

typedef struct lh_commit {
    lh_commit_mode mode;
    json_t *objects;  /* borrowed array of {bucket, key, size, sha256, rows} added by this commit */
    json_t *schema;   /* borrowed array of {name, type}: the schema after it (NULL: unchanged) */
    json_t *lineage;  /* borrowed, any JSON (NULL: none) */
    json_t *extra;    /* borrowed object merged into the manifest's extra (NULL: none) */
    json_t *content_hashes; /* borrowed array of the content hashes of the inputs this commit holds:
                             * recorded as extra.content_hashes{hash: version} (idempotent ingest) */
    const char *message;
    int64_t expected_parent; /* 0: commit on whatever is the head; else LH_ECONFLICT if not */
} lh_commit;

/* Objects up to this size have their sha256 checked by a commit (larger: size). */
#define LH_COMMIT_HASH_MAX (16ULL << 20)

/* A new version with req's objects. LH_EINVAL unless every object is in the
 * dataset's bucket under datasets/<name>/, exists, and has the size (and, up to
 * LH_COMMIT_HASH_MAX bytes, the sha256) it claims. */
lh_code lh_catalog_commit(lh_catalog *c, const char *name, const lh_commit *req,
                          const lh_who *who, json_t **out, lh_err *err);

/* New version with the state (objects, schema, tombstones) of version `to`. */
lh_code lh_catalog_rollback(lh_catalog *c, const char *name, int64_t to, const char *message,
                            const lh_who *who, json_t **out, lh_err *err);

/* Hides rows whose key_column equals one of values (array of strings); rows stay in the files. */
lh_code lh_catalog_tombstone(lh_catalog *c, const char *name, const char *key_column,
                             json_t *values, const char *reason, const lh_who *who, json_t **out,
                             lh_err *err);

/* Marks the dataset deleted (a new version); it disappears from lists, its
 * history stays, and rolling back to an earlier version restores it. */
lh_code lh_catalog_delete(lh_catalog *c, const char *name, const char *reason, const lh_who *who,
                          json_t **out, lh_err *err);

/* What a purge must keep besides what versions reference (drafts not yet
 * committed, lh_app.h): the keeper sets "<bucket>\n<key>" members of keep
 * (to true); an error stops the purge. At most one, set before concurrent use. */
typedef lh_code (*lh_catalog_purge_keeper)(void *ctx, json_t *keep, lh_err *err);
void lh_catalog_keep(lh_catalog *c, lh_catalog_purge_keeper fn, void *ctx);

/* Removes data files under datasets/<name>/ that no version of any dataset
 * references (left by failed writes, discarded drafts) nor the keeper keeps.
 * dry_run only reports.
 * *report: {dry_run, removed:[{bucket, key, size}], bytes} */
lh_code lh_catalog_purge(lh_catalog *c, bool dry_run, const lh_who *who, json_t **report,
                         lh_err *err);

/* ---- reads (new references) ---- */

/* [{name, bucket, version, row_count, created_at, updated_at, deleted}], sorted by name. */
lh_code lh_catalog_list(lh_catalog *c, bool include_deleted, json_t **out, lh_err *err);
/* The manifest of version (0: the current head, refreshed from storage). */
lh_code lh_catalog_get(lh_catalog *c, const char *name, int64_t version, json_t **out, lh_err *err);
/* The summaries of versions from .. from + limit - 1 (limit 0: to the newest),
 * oldest first: [{version, parent, operation, created_at, author, message,
 * row_count, deleted, objects, tombstones}], null for a version that does not
 * read. Each version is read once per process, when first asked for. *head:
 * the newest version (may be NULL). */
lh_code lh_catalog_versions(lh_catalog *c, const char *name, int64_t from, int64_t limit, json_t **out,
                            int64_t *head, lh_err *err);

#endif
