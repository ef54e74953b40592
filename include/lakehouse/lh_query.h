/*
 * lh_query.h — the SQL engine: embedded DuckDB behind a connection pool.
 *
 * One in-process DuckDB database per engine; a fixed pool of connections,
 * each used by one query at a time. A query is a cursor: lh_query_open
 * prepares and starts it (errors surface here, before any byte is sent), then
 * lh_result_writer pulls result chunks (duckdb_fetch_chunk on a streaming
 * result) and renders them as table, JSON, NDJSON or CSV, piece by piece, so a
 * large result never sits in memory. A watchdog thread interrupts any query
 * that outlives its deadline (duckdb_interrupt); the cursor then fails with
 * LH_ETIMEOUT. DuckDB's own types stay behind this header; lh_query_duckdb.h
 * hands a connection to the few modules that drive DuckDB themselves.
 *
 * Every engine has DuckDB's extension auto-install and auto-load off (a
 * function of an extension not built in is an error, nothing is downloaded)
 * and spills only into its temp_dir, up to max_temp_bytes. DuckDB's
 * memory_limit bounds its buffers but not the strings one scalar call makes;
 * max_string_length (characters) bounds those that repeat, lpad and rpad make (SQL macros
 * over the built-ins, refusing with LH_EINVAL before they allocate), and a
 * query over DuckDB's memory_limit fails with LH_ETOOBIG.
 *
 * A sandboxed engine (allowed_dirs set) can read only files under those
 * folders, cannot ATTACH, INSTALL or LOAD, and its configuration is locked
 * (SET of any setting fails). Read-only cursors additionally refuse every
 * statement but SELECT and EXPLAIN (of a SELECT) before it runs, with
 * LH_EFORBIDDEN — also when the statement names a table DuckDB does not hold
 * ("DROP TABLE workers"). In a sandboxed engine, reading a file says that
 * files come in through ingest.
 *
 * Table names DuckDB does not know are offered to a resolver, which may answer
 * with SQL to run in their place (how datasets become tables; see
 * lh_dataset_tables below), and a lister names them for SHOW TABLES and kin.
 */
#ifndef LH_QUERY_H
#define LH_QUERY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lakehouse/lh_buckets.h"
#include "lakehouse/lh_buf.h"
#include "lakehouse/lh_catalog.h"
#include "lakehouse/lh_err.h"

typedef struct lh_query_engine lh_query_engine;
typedef struct lh_query_cursor lh_query_cursor;

/* Answers "what is table `name`?" with a SELECT in sql. LH_OK with sql left
 * empty when the name is not the resolver's (DuckDB then says no such table);
 * an error fails the query with its message and its code (a deleted dataset:
 * LH_ENOTFOUND). schema_only asks for the same columns and types over no
 * rows, reading no data (how introspection views are bound). */
typedef lh_code (*lh_query_resolver)(void *ctx, const char *name, bool schema_only, lh_buf *sql,
                                     lh_err *err);

/* Names the resolver's tables for introspection: *tables = [{name, table}],
 * where table is a name the resolver answers for that table's state now
 * (e.g. {"name":"workers","table":"workers@7"}). A statement that looks at
 * the catalog (SHOW, DESCRIBE, SUMMARIZE, information_schema, duckdb_*(),
 * pg_catalog, sqlite_master) sees each as a view by its name, pinned to that
 * state for the statement and dropped after it; other statements pay nothing. */
typedef lh_code (*lh_query_lister)(void *ctx, json_t **tables, lh_err *err);

typedef struct lh_query_options {
    int threads;              /* 0: DuckDB's default (one per core) */
    const char *memory_limit; /* NULL or "": DuckDB's default */
    int connections;          /* pool size, >= 1 */
    const char *const *allowed_dirs; /* non-NULL: sandboxed, files readable only under these */
    size_t n_allowed_dirs;
    lh_query_resolver resolver; /* may be NULL */
    lh_query_lister lister;     /* may be NULL; called with resolver_ctx */
    void *resolver_ctx;
    const char *init_sql; /* run once after open, before the sandbox locks (macros) */
    const char *temp_dir; /* DuckDB spill folder (created and emptied at open); NULL: DuckDB's */
    long long max_temp_bytes;   /* > 0: DuckDB max_temp_directory_size */
    long long max_string_length; /* > 0: repeat, lpad and rpad refuse to make a longer string */
    int max_per_client;          /* > 0: connections one client (lh_query_args.client) may hold */
    long long short_timeout_ms;  /* > 0: one connection is kept for statements with timeout_ms <= this */
    /* non-NULL (NULL-terminated, borrowed): read-only statements may call only
     * these table functions and may not name a table by a path; checked on
     * the parse tree before binding, refused with LH_EFORBIDDEN */
    const char *const *table_functions;
} lh_query_options;

/* "v1.4.4": the DuckDB library actually loaded. */
const char *lh_query_duckdb_version(void);

/* DuckDB runs a statement on its caller's thread; one busy for 5 ms gets the
 * engine's helpers (threads - 1) until no statement is that long (engine.c). */
lh_code lh_query_engine_open(const lh_query_options *opt, lh_query_engine **out, lh_err *err);
void lh_query_engine_close(lh_query_engine *e);
/* How many statements have run long with the helpers on. */
uint64_t lh_query_helped(lh_query_engine *e);

typedef struct lh_query_args {
    const char *sql;      /* exactly one statement */
    json_t *params;       /* NULL, or an array bound to $1, $2, ... (null, bool, number, string) */
    long long timeout_ms; /* <= 0: no deadline */
    bool read_only;       /* refuse all but SELECT / EXPLAIN SELECT with LH_EFORBIDDEN */
    long long max_result_bytes; /* > 0: a rendered result passing this fails with LH_ETOOBIG */
    const char *client;         /* who asks (an actor, an address), for admission; NULL: the server */
} lh_query_args;

/* Runs one SQL statement. The cursor holds a pooled connection until
 * lh_query_close. Admission is fair: a statement of a named client with a
 * long deadline runs only while that client holds fewer than
 * max_per_client connections and one connection stays free; short
 * statements (timeout_ms <= short_timeout_ms) and the server's own (no
 * client) take any free one — long queries never make a short one wait.
 * A statement not admitted waits within its timeout (the wait counts
 * against it), then fails with LH_EUNAVAILABLE saying why. Bad SQL is LH_EINVAL with DuckDB's message
 * (which carries the LINE and a caret at the position). */
lh_code lh_query_open(lh_query_engine *e, const lh_query_args *args, lh_query_cursor **out,
                      lh_err *err);
void lh_query_close(lh_query_cursor *c);

size_t lh_query_column_count(const lh_query_cursor *c);
const char *lh_query_column_name(const lh_query_cursor *c, size_t i);
const char *lh_query_column_type(const lh_query_cursor *c, size_t i); /* "INTEGER", "VARCHAR[]" */

/* Prepares sql without running it: LH_OK if it is one read-only statement
 * (SELECT / EXPLAIN), else the error lh_query_open would give. */
lh_code lh_query_check(lh_query_engine *e, const char *sql, lh_err *err);

/* Milliseconds since the cursor's statement started. */
double lh_query_elapsed_ms(const lh_query_cursor *c);

/* A pooled connection for modules that drive DuckDB directly (ingest,
 * vectors; see lh_query_duckdb.h for the connection itself), under the same
 * deadline watchdog. lh_query_progress reads its progress (0..100, -1
 * unknown) from any thread. */
typedef struct lh_query_lease lh_query_lease;
lh_code lh_query_lease_acquire(lh_query_engine *e, long long timeout_ms, lh_query_lease **out,
                               lh_err *err);
double lh_query_progress(lh_query_lease *l);
bool lh_query_lease_timed_out(lh_query_lease *l);
void lh_query_lease_release(lh_query_lease *l);

/* Appends s as a quoted SQL identifier ("a""b") or string literal ('it''s'). */
void lh_sql_quote_ident(lh_buf *b, const char *s);
void lh_sql_quote_literal(lh_buf *b, const char *s);

/* Where the engine's error `message` about statement `sql` points (its
 * "LINE n:" and caret): *offset, a byte offset into sql. False when the
 * message marks no place or the place cannot be found in sql. */
bool lh_query_error_position(const char *message, const char *sql, size_t *offset);

/* ---- datasets as tables ---------------------------------------------------
 *
 * Every dataset is a table by its name at its current version:
 *     SELECT city, count(*) FROM workers GROUP BY 1
 * and every version is reachable with the table function dataset_version:
 *     SELECT * FROM dataset_version('workers', 3)
 * (older spellings, kept: lh_version('workers', 3) and the quoted table name
 * "workers@3"). Each resolves to read_parquet over that version's data
 * objects (union_by_name, so files written before a schema change line up by
 * column name), every column cast to the version's schema type, with its
 * tombstoned keys filtered out. SHOW TABLES, DESCRIBE and information_schema
 * list the datasets that are not deleted (see lh_query_lister). Objects in
 * local-folder buckets are read in place; objects in S3 buckets through a
 * local cache (<data_dir>/_cache/<bucket>/<key>, downloaded on first use;
 * deleting it loses nothing).
 */
typedef struct lh_dataset_tables lh_dataset_tables;

/* Deepest column type (STRUCT / LIST / MAP levels) a dataset version may have
 * to be read by SQL; a deeper one fails its query with LH_EINVAL at once. */
#define LH_DATASET_MAX_TYPE_DEPTH 128

lh_code lh_dataset_tables_new(lh_catalog *catalog, lh_buckets *buckets, const char *cache_dir,
                              lh_dataset_tables **out, lh_err *err);
void lh_dataset_tables_free(lh_dataset_tables *t);

/* An lh_query_resolver and an lh_query_lister (ctx: the lh_dataset_tables). */
lh_code lh_dataset_tables_resolve(void *ctx, const char *name, bool schema_only, lh_buf *sql,
                                  lh_err *err);
lh_code lh_dataset_tables_list(void *ctx, json_t **tables, lh_err *err);

/* The folders a sandboxed engine must allow: fs bucket roots and the cache. */
size_t lh_dataset_tables_dirs(const lh_dataset_tables *t, const char *const **dirs);

/* init_sql for the engine: defines the table macros dataset_version and lh_version. */
extern const char LH_DATASET_TABLES_INIT_SQL[];

/* The SELECT that reads one manifest's data (exposed for tests and tools). */
lh_code lh_dataset_tables_sql(lh_dataset_tables *t, const json_t *manifest, lh_buf *sql,
                              lh_err *err);

/* ---- rendering --------------------------------------------------------- */

typedef enum lh_result_format {
    LH_FORMAT_TABLE,  /* aligned text box for terminals */
    LH_FORMAT_JSON,   /* {"columns":[{name,type}],"rows":[[…]],"row_count":n,"truncated":b} */
    LH_FORMAT_NDJSON, /* one JSON object per row */
    LH_FORMAT_CSV     /* RFC 4180 with a header line */
} lh_result_format;

bool lh_result_format_parse(const char *s, lh_result_format *out);
const char *lh_result_format_content_type(lh_result_format f);

typedef struct lh_result_writer lh_result_writer;

/* max_rows <= 0 means unlimited; beyond it rows are dropped and the result is
 * marked truncated (JSON and table say so; NDJSON and CSV just stop). */
lh_result_writer *lh_result_writer_new(lh_query_cursor *c, lh_result_format f, long long max_rows);
/* The first `rows` rows are read and not written (a page's offset; max_rows
 * then counts from there). Before the first lh_result_writer_next. */
void lh_result_writer_skip(lh_result_writer *w, long long rows);
void lh_result_writer_free(lh_result_writer *w);

/* Appends the next piece of output to out. Sets *done after the last piece.
 * On error (e.g. the deadline passed mid-stream) returns the code; what was
 * already produced stays valid output up to the last complete row. */
lh_code lh_result_writer_next(lh_result_writer *w, lh_buf *out, bool *done, lh_err *err);

long long lh_result_writer_rows(const lh_result_writer *w);
bool lh_result_writer_truncated(const lh_result_writer *w);

#endif
