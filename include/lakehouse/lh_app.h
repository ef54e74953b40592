/*
 * lh_app.h — the composition root and the operations every edge offers.
 *
 * lh_app opens the whole system once (buckets, journals, catalog, SQL
 * engines, ingest, indexes, AI providers), below every edge: the HTTP API,
 * the CLI and later MCP and the web UI are thin adapters over it.
 *
 * Every operation an edge offers is one entry of the operation table
 * (lh_op.h); lh_app_call() checks a call's arguments against it and runs it,
 * so the same operation gives the same answer and the same error class
 * through every edge. A few operations carry bytes rather than JSON (object
 * get/put, uploads, streamed SQL): their functions are below, called by the
 * edges after lh_op_check.
 */
#ifndef LH_APP_H
#define LH_APP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lakehouse/lh_buckets.h"
#include "lakehouse/lh_catalog.h"
#include "lakehouse/lh_config.h"
#include "lakehouse/lh_err.h"
#include "lakehouse/lh_ingest.h"
#include "lakehouse/lh_journal.h"
#include "lakehouse/lh_op.h"
#include "lakehouse/lh_profile.h"
#include "lakehouse/lh_query.h"
#include "lakehouse/lh_vectors.h"

typedef struct lh_app lh_app;

/* ---- opening ---- */

/* Opens every module configured in cfg (the app copies what it needs). */
lh_code lh_app_open(const lh_config *cfg, lh_app **out, lh_err *err);
void lh_app_close(lh_app *app);

/* Journals the effective configuration when it differs from the last one
 * journaled (entity "lakehouse.config"), and each bucket added, changed or
 * removed since. `serve` calls it at start; secrets are masked. */
void lh_app_record_config(lh_app *app, const lh_config *cfg, const lh_who *who);

/* Starts the local embedding sidecar now when it is the configured provider
 * (`serve` does; other commands start it when they first embed). */
lh_code lh_app_start_sidecar(lh_app *app, lh_err *err);

/* The SQL engine (sandboxed, read-only), opened on first use: a command
 * that runs no SQL does not pay for a DuckDB instance. NULL (err set) when
 * it cannot open; `serve` opens it up front, so a bad setting stops it. */
lh_query_engine *lh_app_sql_engine(lh_app *app, lh_err *err);

/* The modules, borrowed. */
lh_catalog *lh_app_catalog(lh_app *app);
lh_ingester *lh_app_ingester(lh_app *app);
lh_buckets *lh_app_buckets(lh_app *app);
lh_journal *lh_app_journal(lh_app *app);
lh_errors *lh_app_errors(lh_app *app);
lh_vectors *lh_app_vectors(lh_app *app);
const char *lh_app_tmp_dir(lh_app *app);
long long lh_app_max_upload_bytes(lh_app *app);

/* ---- identity and access (lh_profile.h) ---- */

/* Who is calling, by the policy of lh_profile.h. authorization: the value of
 * an Authorization header ("Bearer <key>"; NULL or "": none); peer: the
 * source address (failures are limited and journaled per address). Sets
 * who->profile (NULL: the local operator) and, with a key, who->actor to the
 * profile id. LH_EUNAUTHORIZED when a key is needed and missing, or fails. */
lh_code lh_app_authenticate(lh_app *app, const char *authorization, const char *peer, lh_who *who, lh_err *err);

/* The local operator (a CLI on this machine, already admin) narrows itself
 * to a profile: who->profile and who->actor become it. LH_ENOTFOUND when
 * there is no such profile (or it is deleted). `lakehouse mcp --profile`. */
lh_code lh_app_act_as(lh_app *app, const char *profile_id, lh_who *who, lh_err *err);

/* `serve` says where it listens: beyond loopback every call needs a key, and
 * with no key yet it is LH_EFORBIDDEN with what to do (refuse to start). */
lh_code lh_app_listen_check(lh_app *app, const char *host, lh_err *err);

/* Whether a call without a key is refused now (auth.required, a non-loopback
 * listener, or a key exists). */
bool lh_app_auth_required(lh_app *app);

/* Whether who may run op with args (checked): the op's scope, then the
 * objects its arguments name (op->binds). LH_EFORBIDDEN naming the missing
 * scope or the bound objects; refusals are journaled. lh_app_call and the
 * byte functions below call it; no edge decides access. */
lh_code lh_app_authorize(lh_app *app, const lh_op *op, json_t *args, const lh_who *who, lh_err *err);

/* Whether who may run op `op_name` with args, asked ahead (the web UI shows
 * an action only to those it would let through): lh_app_authorize's answer,
 * not journaled. The call itself is still checked when it runs. */
bool lh_app_may(const char *op_name, json_t *args, const lh_who *who);

/* ---- operations (lh_op.h describes them) ---- */

/* ai.embed: texts per call and characters (code points) over all of them. */
#define LH_APP_EMBED_MAX_TEXTS 256
#define LH_APP_EMBED_MAX_CHARS 262144

/* catalog.facets: the most frequent values of a version's columns (as
 * Datasette's facets). Without `columns`, up to LH_FACETS_SUGGEST columns are
 * chosen: strings, booleans, integers and dates with 2..LH_FACETS_SUGGEST_DISTINCT
 * distinct values, and at most half as many as rows, in the first
 * LH_FACETS_SAMPLE_ROWS rows (approximately counted), in schema order. A
 * facet's `distinct` is exact: the number of groups. */
#define LH_FACETS_MAX_COLUMNS 16
#define LH_FACETS_MAX_VALUES 100
#define LH_FACETS_SUGGEST 4
#define LH_FACETS_SUGGEST_DISTINCT 50
#define LH_FACETS_SAMPLE_ROWS 10000

/* journal.recent with a filter looks at this many of the newest events. */
#define LH_JOURNAL_FILTER_SCAN 10000

/* sql.history: the newest statements each caller opened, in this process
 * (slots shared by all callers; per caller at most PER_CALLER, newest run of
 * each text; longer statements are not kept). */
#define LH_SQL_HISTORY_SLOTS 2048
#define LH_SQL_HISTORY_PER_CALLER 100
#define LH_SQL_HISTORY_MAX_BYTES 65536

/* Drafts (write-audit-publish; docs/ingest.md): ingest that stops before the
 * commit. drafts.create stores the data files and records the commit it
 * would make in a draft (_catalog/drafts/<id>/v00000001.json, a versioned
 * object journaled as entity type "draft"); no reader sees its rows — SQL,
 * search and indexes resolve committed versions only. drafts.validate checks
 * it against the dataset as it is now and previews its rows; drafts.publish
 * commits it as a version whose parent must be the draft's base version
 * (LH_ECONFLICT when the dataset moved); drafts.discard closes it, and purge
 * may then remove its files (open drafts' files are kept). A draft is seen
 * only by the profile that made it and by admins (others: LH_ENOTFOUND),
 * and only while that profile is bound to its dataset. Ids: "d" + 32 hex digits
 * (128 random bits). */
#define LH_DRAFT_MAX_BYTES (8 << 20) /* drafts.create's data (capped by ingest.max_upload_bytes too) */
#define LH_DRAFT_PREVIEW_ROWS 20

/* Checks and runs op `name` (LH_ENOTFOUND if there is none). args NULL: none.
 * app may be NULL for operations that need no open system (system.version). */
lh_code lh_app_call(lh_app *app, const char *name, json_t *args, const lh_op_ctx *call, json_t **out, lh_err *err);

/* ---- operations whose payload is not JSON (checked args first) ---- */

/* storage.get: an object's bytes; *rescued when the rescue bucket answered. */
lh_code lh_app_object_get(lh_app *app, json_t *args, const lh_op_ctx *call, lh_buf *out, bool *rescued,
                          lh_err *err);
/* storage.put: writes an object from memory (data) or a file (path), journaled;
 * refused (LH_EFORBIDDEN) under the prefixes Lakehouse manages. *out: {bucket, key, size}. */
lh_code lh_app_object_put(lh_app *app, json_t *args, const char *data, size_t len, const char *path,
                          const lh_op_ctx *call, json_t **out, lh_err *err);

/* sql: opens the statement with the server's policy applied (deadline capped
 * at 10× query.timeout_ms, JSON results capped at query.max_rows).
 * parquet results are written to a temp file (*parquet_path, caller unlinks and frees). */
typedef struct lh_app_sql_run {
    lh_query_cursor *cursor;   /* json, ndjson, csv */
    lh_result_format format;   /* LH_FORMAT_* ; parquet sets parquet_path instead */
    long long max_rows;
    long long offset;          /* rows to skip first (json, ndjson, csv) */
    char *parquet_path;
} lh_app_sql_run;
/* who->actor is the client for the engine's fair admission (NULL: none). */
lh_code lh_app_sql_open(lh_app *app, json_t *args, const lh_who *who, lh_app_sql_run *run, lh_err *err);
/* A whole JSON result ({columns, rows, truncated, ...}) with elapsed_ms added,
 * into out: at most max_rows rows after the first `offset`. */
lh_code lh_app_sql_json(lh_query_cursor *cur, long long offset, long long max_rows, lh_buf *out, lh_err *err);

/* ingest: files to one version, options from checked args of op "ingest". */
lh_code lh_app_ingest(lh_app *app, json_t *args, const lh_ingest_source *src, size_t n, const lh_op_ctx *call,
                      json_t **out, lh_err *err);

/* What a client may see of a failure: server paths become bucket/key (or
 * relative to the data folder), and a damaged data file becomes LH_ECORRUPT
 * (noted for /health). Returns the (possibly new) code. lh_app_call and
 * lh_app_sql_open apply it; an edge that runs a cursor itself applies it too. */
lh_code lh_app_error_scrub(lh_app *app, lh_code rc, lh_err *err);

/* GET /health's JSON body (owned, newline-terminated), from a probe at most
 * a second old; *ready when SQL and the default bucket answered it; status
 * "degraded" while any stored data fails its checks (lh_catalog_corrupt). */
char *lh_app_health(lh_app *app, bool *ready);

#endif
