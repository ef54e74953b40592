/*
 * embeddings.h — embeddings Parquet in and out (internal to src/index/).
 */
#ifndef LH_VECTOR_EMBEDDINGS_H
#define LH_VECTOR_EMBEDDINGS_H

#include "lakehouse/lh_query.h"
#include "lakehouse/lh_vindex.h"

/* Rows read so far: ids in label order, and the vectors (and texts) of the
 * rows that had one. */
typedef struct emb_rows {
    lh_idtab *ids;  /* the caller creates it (integer or string ids) */
    float *vecs;
    size_t n, cap;  /* vectors */
    uint32_t dim;   /* 0 until the first vector */
    char **texts;   /* EMB_TEXT: texts[label], NUL-terminated */
    size_t ntexts, tcap;
    size_t skipped; /* rows whose vector (or, without vectors, text) is NULL or empty */
} emb_rows;

enum { EMB_VECTORS = 1, EMB_TEXT = 2 };

void emb_rows_free(emb_rows *r);

/* Runs sql (columns: id BIGINT|VARCHAR [, vector FLOAT[]] [, text VARCHAR],
 * as `what` says: EMB_VECTORS, EMB_TEXT or both) on a pooled connection and
 * appends its rows to r. Ids must be unique and non-null; vectors all of one
 * length (1..LH_HNSW_MAX_DIM), finite, without NULL elements. Errors name
 * the row and its id. */
lh_code emb_read(lh_query_engine *engine, const char *sql, int what, emb_rows *r, lh_err *err);

/* Writes ids [first, first + n) with vecs (n x dim) to path as zstd Parquet:
 * (id, vector FLOAT[]), plus (chunk_text, source) when texts (indexed like
 * vecs) is not NULL. */
lh_code emb_write(lh_query_engine *engine, const char *path, const lh_idtab *ids, size_t first, const float *vecs,
                  size_t n, uint32_t dim, char *const *texts, const char *source, lh_err *err);

#endif
