/*
 * embeddings.h — embeddings Parquet in and out (internal to src/vector/).
 */
#ifndef LH_VECTOR_EMBEDDINGS_H
#define LH_VECTOR_EMBEDDINGS_H

#include "lakehouse/lh_query.h"
#include "lakehouse/lh_vindex.h"

/* Rows read so far: ids in label order, and the vectors of the rows that had one. */
typedef struct emb_rows {
    lh_idtab *ids;  /* the caller creates it (integer or string ids) */
    float *vecs;
    size_t n, cap;  /* vectors */
    uint32_t dim;   /* 0 until the first vector */
    size_t skipped; /* rows whose vector is NULL */
} emb_rows;

void emb_rows_free(emb_rows *r);

/* Runs sql (columns: id BIGINT|VARCHAR [, vector FLOAT[]]) on a pooled
 * connection and appends its rows to r. Ids must be unique and non-null;
 * vectors all of one length (1..LH_HNSW_MAX_DIM), finite, without NULL
 * elements. Errors name the row and its id. */
lh_code emb_read(lh_query_engine *engine, const char *sql, bool with_vectors, emb_rows *r, lh_err *err);

/* Writes ids [first, first + n) with vecs (n x dim) to path as zstd Parquet (id, vector FLOAT[]). */
lh_code emb_write(lh_query_engine *engine, const char *path, const lh_idtab *ids, size_t first, const float *vecs,
                  size_t n, uint32_t dim, lh_err *err);

#endif
