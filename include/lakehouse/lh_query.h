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
 * LH_ETIMEOUT.
 */
#ifndef LH_QUERY_H
#define LH_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include "lakehouse/lh_buf.h"
#include "lakehouse/lh_err.h"

typedef struct lh_query_engine lh_query_engine;
typedef struct lh_query_cursor lh_query_cursor;

typedef struct lh_query_options {
    int threads;              /* 0: DuckDB's default (one per core) */
    const char *memory_limit; /* NULL or "": DuckDB's default */
    int connections;          /* pool size, >= 1 */
} lh_query_options;

/* "v1.4.4": the DuckDB library actually loaded. */
const char *lh_query_duckdb_version(void);

lh_code lh_query_engine_open(const lh_query_options *opt, lh_query_engine **out, lh_err *err);
void lh_query_engine_close(lh_query_engine *e);

/* Runs one SQL statement. timeout_ms <= 0 means no deadline. The cursor
 * holds a pooled connection until lh_query_close; when every connection is
 * busy, waits up to the timeout, then fails with LH_EUNAVAILABLE. */
lh_code lh_query_open(lh_query_engine *e, const char *sql, long long timeout_ms,
                      lh_query_cursor **out, lh_err *err);
void lh_query_close(lh_query_cursor *c);

size_t lh_query_column_count(const lh_query_cursor *c);
const char *lh_query_column_name(const lh_query_cursor *c, size_t i);
const char *lh_query_column_type(const lh_query_cursor *c, size_t i); /* "INTEGER", "VARCHAR[]" */

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
void lh_result_writer_free(lh_result_writer *w);

/* Appends the next piece of output to out. Sets *done after the last piece.
 * On error (e.g. the deadline passed mid-stream) returns the code; what was
 * already produced stays valid output up to the last complete row. */
lh_code lh_result_writer_next(lh_result_writer *w, lh_buf *out, bool *done, lh_err *err);

long long lh_result_writer_rows(const lh_result_writer *w);
bool lh_result_writer_truncated(const lh_result_writer *w);

#endif
