/*
 * internal.h — what engine.c (cursors) and render.c (value formatting) share.
 */
#ifndef LH_QUERY_INTERNAL_H
#define LH_QUERY_INTERNAL_H

#include <duckdb.h>

#include "lakehouse/lh_buf.h"
#include "lakehouse/lh_query.h"
#include "lakehouse/lh_query_duckdb.h"

/* A column's type, resolved once per result so rendering a value is a walk
 * over this tree and the vectors, with no DuckDB type calls per value. */
typedef struct lh_type_node {
    duckdb_type id;
    duckdb_type internal;      /* DECIMAL / ENUM storage type */
    uint8_t scale;             /* DECIMAL */
    idx_t array_size;          /* ARRAY */
    duckdb_logical_type ltype; /* owned; ENUM dictionary lookups */
    size_t n_children;
    struct lh_type_node *children; /* LIST/ARRAY: 1, MAP: the STRUCT entry, STRUCT/UNION: n */
    char **child_names;
    char *name; /* "DECIMAL(18,3)", "VARCHAR[]", "STRUCT(a INTEGER)" */
} lh_type_node;

void lh_type_node_build(lh_type_node *n, duckdb_logical_type t); /* takes ownership of t */
void lh_type_node_free(lh_type_node *n);

typedef enum { LH_RENDER_JSON, LH_RENDER_TEXT } lh_render_mode;

/* Appends the value at row of vec. JSON: a JSON value (null, numbers bare,
 * strings quoted). TEXT: DuckDB's display form; NULL renders as null_text. */
void lh_render_value(lh_buf *out, const lh_type_node *t, duckdb_vector vec, idx_t row,
                     lh_render_mode mode, const char *null_text);

/* The next chunk of the cursor's result (caller destroys), NULL at the end. */
lh_code lh_query_cursor_fetch(lh_query_cursor *c, duckdb_data_chunk *chunk, lh_err *err);
const lh_type_node *lh_query_cursor_types(const lh_query_cursor *c);
long long lh_query_cursor_max_bytes(const lh_query_cursor *c); /* <= 0: unlimited */

#endif
