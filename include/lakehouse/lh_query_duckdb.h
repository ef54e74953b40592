/*
 * lh_query_duckdb.h — a leased engine connection as DuckDB itself, for the
 * few modules that must drive DuckDB directly.
 *
 * lh_query.h keeps DuckDB out of every other module: SQL text goes in,
 * rendered rows come out. Three modules need the engine underneath and
 * include this header instead of opening databases of their own:
 *   - ingest: converts CSV / JSON / text to Parquet (COPY), appends document
 *     rows with an appender, reads back schemas;
 *   - vectors' embeddings I/O: reads LIST(FLOAT) vectors straight from result
 *     chunks and writes them with COPY;
 *   - the vector_search SQL table function, registered on the engine's
 *     database through a leased connection.
 * They lease a pooled connection (lh_query_lease_acquire), so the pool bound
 * and the deadline watchdog cover their work too.
 */
#ifndef LH_QUERY_DUCKDB_H
#define LH_QUERY_DUCKDB_H

#include <duckdb.h>

#include "lakehouse/lh_query.h"

/* The leased connection; valid until lh_query_lease_release. */
duckdb_connection lh_query_lease_connection(lh_query_lease *l);

/* Runs sql (any number of statements) on a leased connection, discarding
 * results: LH_ETIMEOUT when the lease's deadline cancelled it, LH_EIO for
 * DuckDB I/O errors, LH_EINVAL otherwise. lease may be NULL. */
lh_code lh_query_exec(duckdb_connection conn, lh_query_lease *lease, const char *sql, lh_err *err);

#endif
