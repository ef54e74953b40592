/*
 * lh_vectors.h — named, versioned vector indexes over the object store (vectord).
 *
 * An index version is built from embeddings (an id and a float vector per
 * row) and stored next to them, in the default bucket:
 *
 *   _vectors/<index>/v<N>/embeddings-<sha>.parquet    (id, vector FLOAT[]) rows, label order
 *   _vectors/<index>/v<N>/index-<sha>.hnsw            the graph (lh_hnsw file)
 *   _catalog/indexes/<index>/v<N>.json                the version manifest (write-once)
 *   _catalog/indexes/<index>/live/p<S>.json           promotion S: which version is live
 *
 * A version's embeddings are the Parquet objects its manifest lists (an add
 * lists its parent's objects plus one new file), minus the ids it lists as
 * deleted; `rebuild` builds a fresh graph from exactly those, so an index can
 * always be rebuilt from Parquet. Manifests and promotions are written with
 * put-if-absent (data files first, content-named), so concurrent writers and
 * replicas never overwrite each other: the loser re-reads and retries.
 *
 * The live version is what searches see. Promote and rollback append a
 * promotion record (journaled) and swap the live pointer (lh_vindex.h); the
 * history of promotions is kept forever. Other replicas notice a promotion
 * the next time they look (at most LH_VECTORS_REFRESH_MS after it).
 *
 * Version manifest (format 1): {format, index, version, parent, operation
 * (create|add|delete|rebuild), created_at, author, source, message, dim,
 * metric (l2|cosine|ip), params:{M, ef_construction, ef_search, quantization
 * (none|sq8), seed}, id_type (integer|string), origin:{dataset, version,
 * id_column, vector_column}|null, objects:[{bucket, key, size, sha256, rows}],
 * deleted:[ids], count, labels, file:{bucket, key, size, sha256}}
 * Promotion record: {format, index, seq, version, previous, action
 * (promote|rollback), at, actor, source, message}
 */
#ifndef LH_VECTORS_H
#define LH_VECTORS_H

#include <jansson.h>
#include <stdbool.h>

#include "lakehouse/lh_ai.h"
#include "lakehouse/lh_buckets.h"
#include "lakehouse/lh_catalog.h"
#include "lakehouse/lh_hnsw.h"
#include "lakehouse/lh_journal.h"
#include "lakehouse/lh_query.h"
#include "lakehouse/lh_vindex.h"

#define LH_VECTORS_REFRESH_MS 1000
#define LH_VECTORS_MAX_CHANGE 100000 /* vectors added or ids removed in one call */
#define LH_ASK_MAX_INDEXES 16
#define LH_ASK_MAX_K 50

/* "hybrid" | "vector" | "text" -> *out; false on anything else. */
typedef enum lh_search_mode { LH_SEARCH_HYBRID, LH_SEARCH_VECTOR, LH_SEARCH_TEXT } lh_search_mode;
bool lh_search_mode_parse(const char *s, lh_search_mode *out);

typedef struct lh_vectors lh_vectors;

/* The embedding provider for (provider, model) — model NULL: its default —
 * borrowed, alive as long as the lh_vectors. */
typedef lh_ai *(*lh_vectors_ai_fn)(void *ctx, const char *provider, const char *model, lh_err *err);

typedef struct lh_vectors_config {
    lh_buckets *buckets;
    lh_catalog *catalog;
    lh_dataset_tables *tables;
    lh_query_engine *engine; /* unsandboxed: reads and writes embeddings Parquet */
    lh_journal *journal;     /* may be NULL */
    const char *tmp_dir;     /* builds write here before upload */
    const char *cache_dir;   /* index files of S3 buckets are mapped from here */
    unsigned build_threads;  /* 0: one per core */
    /* text indexes */
    lh_vectors_ai_fn ai;     /* NULL: no text indexes */
    void *ai_ctx;
    const char *default_provider; /* for text indexes that name none */
    lh_ai *chat;             /* answers for lh_vectors_ask (NULL: extractive answers) */
    /* the engine for search filters and row fetches (user SQL): sandboxed,
     * read-only, asked for when needed (NULL: no filters, no rows) */
    lh_query_engine *(*sandbox)(void *ctx, lh_err *err);
    void *sandbox_ctx;
    lh_errors *errors;       /* failed background refreshes (may be NULL) */
    /* SQL's vector_search asks it whether the caller may read the index (NULL: always) */
    bool (*index_allowed)(void *ctx, const char *index);
    void *index_allowed_ctx;
} lh_vectors_config;

lh_code lh_vectors_open(const lh_vectors_config *cfg, lh_vectors **out, lh_err *err);
void lh_vectors_close(lh_vectors *v);

/* How to build: from a dataset (create), or parameters to change (rebuild). */
typedef struct lh_vectors_spec {
    const char *dataset;       /* create: the dataset holding the embeddings */
    int64_t dataset_version;   /* 0: its current version */
    const char *id_column;     /* create: unique, non-null ids (integers or strings) */
    const char *vector_column; /* create: a list of numbers, the same length on every row */
    lh_hnsw_params params;     /* dim is learned; zeros take defaults (create) or the source's (rebuild) */
    bool params_set_metric, params_set_quantization; /* rebuild: whether metric / quantization change */
    int64_t version;           /* rebuild: which version (0: the live one) */
    bool no_promote;           /* leave the live version as it is */
    const char *message;
    /* create a text index instead (no vector_column): {columns:[names] |
     * template:"{col} ...", provider, model, refresh: manual|on_append,
     * fusion: rrf|weighted, weight (of the vector list, 0..1), rrf_k} */
    const json_t *text;
    lh_ai_progress_fn progress; /* text indexes: texts embedded so far (may be NULL) */
    void *progress_ctx;
} lh_vectors_spec;

/* Each returns the new version's manifest (a new reference). */
lh_code lh_vectors_create(lh_vectors *v, const char *name, const lh_vectors_spec *spec, const lh_who *who,
                          json_t **out, lh_err *err);
lh_code lh_vectors_rebuild(lh_vectors *v, const char *name, const lh_vectors_spec *spec, const lh_who *who,
                           json_t **out, lh_err *err);
/* Adds rows [{id, vector}] on top of the live version. */
lh_code lh_vectors_add(lh_vectors *v, const char *name, const json_t *rows, const lh_vectors_spec *spec,
                       const lh_who *who, json_t **out, lh_err *err);
/* Tombstones ids (a JSON array) on top of the live version. */
lh_code lh_vectors_delete(lh_vectors *v, const char *name, const json_t *ids, const lh_vectors_spec *spec,
                          const lh_who *who, json_t **out, lh_err *err);

/* Makes version live (promote), or goes back: to version `to`, or with 0 to
 * the version live before the current one (rollback). *out: the record. */
lh_code lh_vectors_promote(lh_vectors *v, const char *name, int64_t version, const char *message,
                           const lh_who *who, json_t **out, lh_err *err);
lh_code lh_vectors_rollback(lh_vectors *v, const char *name, int64_t to, const char *message,
                            const lh_who *who, json_t **out, lh_err *err);

/* {index, live, promotions:[records, oldest first], versions:[{version, parent,
 * operation, created_at, author, message, count}]} */
lh_code lh_vectors_history(lh_vectors *v, const char *name, json_t **out, lh_err *err);
/* [{name, live, versions, dim, metric, count}] */
lh_code lh_vectors_list(lh_vectors *v, json_t **out, lh_err *err);
/* {index, live, manifest (of the live version), memory:{graph_bytes, ...}} */
lh_code lh_vectors_get(lh_vectors *v, const char *name, json_t **out, lh_err *err);

/* A reference to the live version (release with lh_vindex_unref). */
lh_code lh_vectors_acquire(lh_vectors *v, const char *name, lh_vindex **out, lh_err *err);
/* A reference to any version (loaded from its files unless it is live). */
lh_code lh_vectors_acquire_version(lh_vectors *v, const char *name, int64_t version, lh_vindex **out, lh_err *err);

/* The newest query vectors searched on index (searches and the vector side
 * of hybrid searches, this process, of dimension dim): copies up to max into
 * out (max * dim floats), newest first; returns how many. Trials replay them
 * as shadow queries. */
#define LH_VECTORS_QUERY_LOG 1024 /* vectors kept, all indexes together */
size_t lh_vectors_recent_queries(lh_vectors *v, const char *name, uint32_t dim, size_t max, float *out);

/* Searches the live version: {index, version, hits:[{id, distance}]}. */
lh_code lh_vectors_search(lh_vectors *v, const char *name, const float *query, size_t dim, size_t k, size_t ef,
                          const json_t *filter_ids, json_t **out, lh_err *err);

/* ---- text indexes ------------------------------------------------------
 *
 * A text index embeds one text per row of its dataset (the named columns
 * joined by newlines, or a template "{title}: {body}") with an embedding
 * provider, and keeps, per version, the embeddings Parquet (id, vector,
 * chunk_text, source "dataset@version"), the HNSW graph and, in memory, a
 * BM25 index over the same chunks. The version manifest carries the settings
 * ("text") and the dataset version embedded (origin.version).
 *
 * Refresh embeds only what is new: texts already embedded (same SHA-256) are
 * reused, never sent to the provider again. Rows only appended: the new
 * version is the old graph plus the new rows; rows changed or removed: a
 * fresh graph over every row (vectors still reused). Nothing is visible
 * until the new version commits, so a failed refresh leaves the index as it
 * was and a retry completes it.
 */

/* Refreshes every text index over dataset (all indexes when NULL):
 * {dataset, indexes:[{index, from_version, version, dataset_version, added,
 *  changed, removed (rows), embedded, reused (texts), status:
 *  refreshed|up_to_date}]}. progress (may be NULL): the texts embedded so
 * far of each index refreshed. */
lh_code lh_vectors_refresh(lh_vectors *v, const char *dataset, const lh_who *who, lh_ai_progress_fn progress,
                           void *progress_ctx, json_t **out, lh_err *err);

/* Indexes whose dataset has versions they have not embedded:
 * [{index, dataset, embedded_version, dataset_version, stale_since, refresh}] */
lh_code lh_vectors_stale(lh_vectors *v, json_t **out, lh_err *err);

/* A catalog observer (ctx: the lh_vectors): queues the dataset's on_append
 * indexes for a background refresh. */
void lh_vectors_dataset_changed(void *ctx, const char *dataset, int64_t version);
/* True while background refreshes are queued or running. */
bool lh_vectors_refreshing(lh_vectors *v);

/* ---- search and ask ------------------------------------------------------ */

typedef struct lh_search_request {
    const char *index;
    const char *query;
    size_t k;             /* 1..LH_VINDEX_MAX_K */
    lh_search_mode mode;
    const char *filter;   /* NULL, or an SQL predicate over the index's dataset */
    const char *fusion;   /* NULL: the index's */
    double weight;        /* < 0: the index's */
    double rrf_k;         /* < 0: the index's */
    size_t ef;            /* 0: the index's */
    bool with_rows;       /* attach each hit's source row */
    bool unlogged;        /* not a reader's query: kept out of the query log (trials) */
} lh_search_request;

/* {index, version, dataset, dataset_version, mode, fusion, hits:[{id, score,
 *  rank, vector_rank, text_rank, distance, bm25, chunk_text, row}]} */
lh_code lh_vectors_query(lh_vectors *v, const lh_search_request *q, json_t **out, lh_err *err);
/* The same search on a given version x of a text index (q->index is not
 * looked up; no filter, no rows): the labels of up to q->k hits, best first,
 * into labels; *n how many. For trials. */
lh_code lh_vectors_query_version(lh_vectors *v, const lh_vindex *x, const lh_search_request *q, uint64_t *labels,
                                 size_t *n, lh_err *err);

typedef struct lh_ask_request {
    const char *question;
    const char *const *indexes;
    size_t n_indexes;
    size_t k; /* passages retrieved per index (0: 5) */
} lh_ask_request;

/* Retrieves (hybrid) and answers: generated with citations [id] when a chat
 * provider is configured, else extractive (the best passages). Journaled
 * (entity "ask") with the versions and ids used. {answer, mode:
 * generated|extractive, citations:[{index, id, chunk_text, score}],
 * provenance:{indexes:[{index, version, dataset, dataset_version}]}} */
lh_code lh_vectors_ask(lh_vectors *v, const lh_ask_request *q, const lh_who *who, json_t **out, lh_err *err);

/* Registers the SQL table function vector_search(index, query, k) ->
 * (id, score, rank, chunk_text) on an engine (hybrid search, no filter). */
lh_code lh_vectors_register_sql(lh_vectors *v, lh_query_engine *e, lh_err *err);

/* Checks a version manifest / promotion record read from storage (untrusted):
 * LH_ECORRUPT with the reason when it is not one of `name` at version / seq. */
lh_code lh_vectors_manifest_check(const json_t *m, const char *name, int64_t version, lh_err *err);
lh_code lh_vectors_promotion_check(const json_t *r, const char *name, int64_t seq, lh_err *err);

#endif
