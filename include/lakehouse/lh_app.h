/*
 * lh_app.h — the composition root and the operations every edge offers.
 *
 * lh_app opens the whole system once (buckets, journals, catalog, SQL
 * engines, ingest, indexes, AI providers), below every edge: the HTTP API,
 * the CLI and later MCP and the web UI are thin adapters over it.
 *
 * An operation ("catalog.commit", "index.search", ...) is described once, in
 * a table: its name, summary, parameters (type, required, enum choices,
 * bounds, default) and the function that runs it. lh_app_call() checks the
 * arguments against that description — unknown fields, types, bounds and
 * choices are LH_EINVAL naming the field — and runs it. So the same operation
 * gives the same answer and the same error class through every edge; the HTTP
 * route table, /v1/openapi.json and the CLI's flags are generated from it.
 *
 * Lists page: an operation marked `list` takes `limit` and `cursor` and
 * answers {<items>: [...], next: "<opaque cursor>" | absent}.
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

/* The modules, borrowed. */
lh_query_engine *lh_app_query_engine(lh_app *app);
lh_catalog *lh_app_catalog(lh_app *app);
lh_ingester *lh_app_ingester(lh_app *app);
lh_buckets *lh_app_buckets(lh_app *app);
lh_journal *lh_app_journal(lh_app *app);
lh_errors *lh_app_errors(lh_app *app);
lh_vectors *lh_app_vectors(lh_app *app);
const char *lh_app_tmp_dir(lh_app *app);
long long lh_app_max_upload_bytes(lh_app *app);

/* ---- operations ---- */

typedef enum lh_param_type {
    LH_PARAM_STRING,
    LH_PARAM_INT,
    LH_PARAM_NUMBER,
    LH_PARAM_BOOL,
    LH_PARAM_STRINGS, /* an array of strings (CLI: comma-separated or repeated) */
    LH_PARAM_NUMBERS, /* an array of numbers */
    LH_PARAM_ARRAY,   /* any JSON array */
    LH_PARAM_OBJECT,  /* any JSON object */
    LH_PARAM_ANY,     /* any JSON value */
} lh_param_type;

typedef struct lh_param {
    const char *name;
    lh_param_type type;
    bool required;
    const char *const *choices; /* NULL-terminated allowed strings, or NULL */
    double min, max;            /* bounds for INT / NUMBER (and element count for arrays); max 0: none */
    const char *help;
} lh_param;

/* What a call carries besides its arguments. */
typedef struct lh_call {
    lh_who who;
    /* long operations (ingest, embedding) report the fraction done of `what`; may be NULL */
    void (*progress)(void *ctx, const char *what, double done);
    void *progress_ctx;
} lh_call;

typedef struct lh_op {
    const char *name;    /* "catalog.commit" */
    const char *summary; /* one line */
    const lh_param *params; /* terminated by an entry with name NULL */
    const char *list;    /* a paged list: the member holding the items ("datasets"), else NULL */
    const char *columns; /* for tables: the item (or result) fields to show, comma-separated */
    bool mutates;
    /* args: checked, borrowed. *out: a new reference. NULL for operations
     * whose body is not JSON (object bytes, uploads, streamed SQL): their
     * edges call the dedicated functions below after lh_op_check. */
    lh_code (*run)(lh_app *app, json_t *args, const lh_call *call, json_t **out, lh_err *err);
} lh_op;

/* Every operation, in a stable order. */
const lh_op *lh_ops(size_t *n);
/* The operation named name, or NULL. */
const lh_op *lh_op_find(const char *name);

/* Checks args (a JSON object, borrowed) against op's parameters: unknown
 * fields, missing required ones, types, bounds and choices. A list
 * operation's limit (1..LH_LIST_MAX, default LH_LIST_DEFAULT) and cursor
 * are checked too. */
lh_code lh_op_check(const lh_op *op, json_t *args, lh_err *err);

/* Sets argument `name` of op from text (a query string, a CLI flag): typed
 * by the parameter (integers, numbers, true/false/1/0 — "" is true for a
 * bare flag —, comma-separated or repeated lists, JSON for arrays and
 * objects). LH_EINVAL for an unknown name, a bad value, or a scalar given twice. */
lh_code lh_args_set_text(const lh_op *op, json_t *args, const char *name, const char *text, lh_err *err);

/* Checks and runs op `name` (LH_ENOTFOUND if there is none). args NULL: none.
 * app may be NULL for operations that need no open system (system.version). */
lh_code lh_app_call(lh_app *app, const char *name, json_t *args, const lh_call *call, json_t **out, lh_err *err);

/* The allowed values of the enum parameters (NULL-terminated); each module's
 * parser accepts exactly these (test_app checks it). */
extern const char *const lh_choices_commit_mode[], *const lh_choices_metric[], *const lh_choices_quantization[],
    *const lh_choices_search_mode[], *const lh_choices_fusion[], *const lh_choices_refresh[],
    *const lh_choices_sql_format[], *const lh_choices_ingest_format[];

#define LH_LIST_DEFAULT 100
#define LH_LIST_MAX 10000

/* Typed views of checked arguments (absent or null -> def / NULL). */
const char *lh_args_str(json_t *args, const char *name);
long long lh_args_int(json_t *args, const char *name, long long def);
double lh_args_num(json_t *args, const char *name, double def);
bool lh_args_bool(json_t *args, const char *name, bool def);

/* Opaque list cursors: base64url of "<kind>:<value>" (malloc'd). */
char *lh_cursor_encode(const char *kind, const char *value);
/* The value of a cursor of this kind (malloc'd), or NULL when it is not one (untrusted input). */
char *lh_cursor_decode(const char *cursor, const char *kind);

/* Pages an array of items (stolen) into {list: items[offset..offset+limit),
 * next?} by the args' limit and cursor (an opaque offset). */
json_t *lh_page(json_t *items, const char *list, json_t *args);

/* ---- operations whose payload is not JSON (checked args first) ---- */

/* storage.get: an object's bytes; *rescued when the rescue bucket answered. */
lh_code lh_app_object_get(lh_app *app, json_t *args, lh_buf *out, bool *rescued, lh_err *err);
/* storage.put: writes an object from memory (data) or a file (path), journaled;
 * refused (LH_EFORBIDDEN) under the prefixes Lakehouse manages. *out: {bucket, key, size}. */
lh_code lh_app_object_put(lh_app *app, json_t *args, const char *data, size_t len, const char *path,
                          const lh_call *call, json_t **out, lh_err *err);

/* sql: opens the statement with the server's policy applied (deadline capped
 * at 10× query.timeout_ms, JSON results capped at query.max_rows).
 * parquet results are written to a temp file (*parquet_path, caller unlinks and frees). */
typedef struct lh_sql_run {
    lh_query_cursor *cursor;   /* json, ndjson, csv */
    lh_result_format format;   /* LH_FORMAT_* ; parquet sets parquet_path instead */
    long long max_rows;
    char *parquet_path;
} lh_sql_run;
lh_code lh_app_sql_open(lh_app *app, json_t *args, lh_sql_run *run, lh_err *err);
/* A whole JSON result ({columns, rows, truncated, ...}) with elapsed_ms added, into out. */
lh_code lh_app_sql_json(lh_query_cursor *cur, long long max_rows, lh_buf *out, lh_err *err);

/* ingest: files to one version, options from checked args of op "ingest". */
lh_code lh_app_ingest(lh_app *app, json_t *args, const lh_ingest_source *src, size_t n, const lh_call *call,
                      json_t **out, lh_err *err);

/* GET /health's body; *ready when SQL and the default bucket answer. */
json_t *lh_app_health(lh_app *app, bool *ready);

#endif
