/*
 * lh_hnsw.h — a hierarchical navigable small-world graph index (Malkov &
 * Yashunin), in C, for float32 vectors of any dimension.
 *
 *   - metrics: L2 (squared), cosine (vectors normalised on insert), inner product
 *   - deterministic build for a given seed with one thread; parallel build
 *     with any number; searches from any number of threads at once, also
 *     while vectors are being added
 *   - deletes are tombstones (never returned, still traversed); compaction
 *     rebuilds without them
 *   - filtered search with an allow-list bitmap over labels: exactly k
 *     results whenever at least k allowed, live vectors exist (exact search
 *     when the filter is selective, a widened graph search otherwise)
 *   - SQ8: one byte per dimension in the graph walk, top candidates re-scored
 *     with the float vectors
 *   - persistence: one file, loaded with mmap and no per-node parsing
 *     (format in src/ann/hnsw_io.c); a truncated or corrupted file is an
 *     error, never a crash — every neighbour id read from a file is bounds
 *     checked where it is used
 *
 * Labels are the caller's ids (row ids, typically); a label appears at most once.
 */
#ifndef LH_HNSW_H
#define LH_HNSW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lakehouse/lh_bitmap.h"
#include "lakehouse/lh_distance.h"
#include "lakehouse/lh_err.h"

typedef enum lh_quant { LH_QUANT_NONE = 0, LH_QUANT_SQ8 = 1 } lh_quant;

#define LH_HNSW_MAX_DIM 16384
#define LH_HNSW_MIN_M 2
#define LH_HNSW_MAX_M 128
#define LH_HNSW_MAX_EF_CONSTRUCTION 10000
#define LH_HNSW_MAX_EF 10000 /* ef_search and a query's ef */

/* "none" | "sq8" -> *out; false on anything else. */
bool lh_quant_parse(const char *s, lh_quant *out);


typedef struct lh_hnsw_params {
    uint32_t dim;
    lh_metric metric;
    uint32_t M;               /* links per node above layer 0, 2M on layer 0 (0: 16) */
    uint32_t ef_construction; /* (0: 200) */
    uint32_t ef_search;       /* default ef of searches (0: 64) */
    uint64_t seed;            /* level draws; same seed + one thread = same graph */
    lh_quant quantization;
    uint32_t rescore;         /* SQ8: candidates re-scored per result (0: 4) */
} lh_hnsw_params;

typedef struct lh_hnsw lh_hnsw;

typedef struct lh_hnsw_hit {
    uint64_t label;
    float distance;
} lh_hnsw_hit;

/* An empty index with room for capacity vectors (it grows when needed). */
lh_code lh_hnsw_new(const lh_hnsw_params *p, size_t capacity, lh_hnsw **out, lh_err *err);
void lh_hnsw_free(lh_hnsw *h);

/* Adds one vector (thread-safe with searches and other adds). LH_EEXIST if
 * the label is present; LH_EUNSUPPORTED on a loaded (read-only) index. */
lh_code lh_hnsw_add(lh_hnsw *h, uint64_t label, const float *vec, lh_err *err);

/* Adds n vectors with `threads` workers (0: one per core). SQ8 indexes learn
 * their per-dimension ranges from the first batch. */
lh_code lh_hnsw_add_batch(lh_hnsw *h, const uint64_t *labels, const float *vecs, size_t n,
                          unsigned threads, lh_err *err);

/* Tombstones a label (works on loaded indexes too). */
lh_code lh_hnsw_delete(lh_hnsw *h, uint64_t label, lh_err *err);

/* Up to k nearest live vectors, nearest first; returns how many. ef 0 uses
 * the index's ef_search. allow may be NULL. Thread-safe. */
size_t lh_hnsw_search(const lh_hnsw *h, const float *query, size_t k, size_t ef,
                      const lh_bitmap *allow, lh_hnsw_hit *out);

/* The same by exhaustive scan (ground truth, and very selective filters). */
size_t lh_hnsw_exact(const lh_hnsw *h, const float *query, size_t k, const lh_bitmap *allow,
                     lh_hnsw_hit *out);

/* A writable in-memory copy (the same graph, tombstones included): how a
 * loaded index grows into its next version without a rebuild. */
lh_code lh_hnsw_clone(const lh_hnsw *h, lh_hnsw **out, lh_err *err);

/* A new index holding the live vectors only. */
lh_code lh_hnsw_compact(const lh_hnsw *h, unsigned threads, lh_hnsw **out, lh_err *err);

lh_code lh_hnsw_save(const lh_hnsw *h, const char *path, lh_err *err);
/* Maps the file; O(1) checks of its header (magic, version, checksum, sizes). */
lh_code lh_hnsw_load(const char *path, lh_hnsw **out, lh_err *err);
/* Reads every byte: data checksum and graph structure (O(n)). */
lh_code lh_hnsw_verify(const lh_hnsw *h, lh_err *err);

typedef struct lh_hnsw_info {
    lh_hnsw_params params;
    size_t count;        /* vectors, deleted included */
    size_t deleted;
    int max_level;
    bool mapped;         /* loaded from a file (read-only graph) */
    size_t graph_bytes;  /* what the graph walk touches: links, codes (SQ8) or vectors */
    size_t vector_bytes; /* float vectors (in the graph block unless SQ8) */
    size_t total_bytes;  /* everything the index holds */
} lh_hnsw_info;

void lh_hnsw_get_info(const lh_hnsw *h, lh_hnsw_info *out);

/* The float vector stored for a label (normalised for cosine), or NULL. */
const float *lh_hnsw_vector(const lh_hnsw *h, uint64_t label);

/* ---- evaluation (evaluate.c) ---- */

/* Up to n labels drawn (with replacement) from [0, labels) by seed, each
 * with a stored vector: an evaluation's queries. Returns how many. */
size_t lh_hnsw_sample_labels(const lh_hnsw *h, uint64_t labels, size_t n, uint64_t seed, uint64_t *out);

typedef struct lh_hnsw_eval {
    size_t ef;       /* the beam width measured (0 asked: the index's ef_search) */
    size_t queries;
    double recall;   /* mean share of the exact k nearest found, at k */
    double top1;     /* share of queries whose first hit is the exact first (or as near) */
    double p50_us, p99_us, mean_us; /* search latency, one thread */
} lh_hnsw_eval;

/* Searches with each ef of efs (0: the index's) for the stored vectors of
 * labels queries[0..n), against the exact k nearest (one scan, shared by all
 * widths): out[i] for efs[i]. Deterministic but for the latencies. */
lh_code lh_hnsw_evaluate(const lh_hnsw *h, const uint64_t *queries, size_t n, size_t k, const size_t *efs, size_t n_efs,
                         lh_hnsw_eval *out, lh_err *err);

#endif
