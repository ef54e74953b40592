/*
 * internal.h — the in-memory (and on-disk) layout shared by hnsw.c and hnsw_io.c (src/ann/).
 *
 * Nodes live in chunks of NODES_PER_CHUNK; a node's block is
 *
 *   [payload: float vector (dim*4) or SQ8 code (dim)]  graph-walk data first
 *   [u32 link count][u32 links[M0]]                    layer-0 neighbours
 *   [u64 label][u64 upper][u32 meta]                   upper = offset of its upper links
 *                                                      meta = level | DELETED | LOCK
 *
 * padded to 16 bytes. Upper-layer links (levels 1..L, each (1 + M) u32) live
 * in a chunked pool; SQ8 keeps the float vectors (for re-scoring) in their
 * own chunks. Chunks are only ever appended, so readers never see memory
 * move: searches take no lock. A loaded index points its chunks into one
 * private mapping of the file.
 */
#ifndef LH_HNSW_INTERNAL_H
#define LH_HNSW_INTERNAL_H

#include "lakehouse/lh_hnsw.h"

#include <pthread.h>
#include <stdatomic.h>

#define CHUNK_SHIFT 16
#define NODES_PER_CHUNK (1u << CHUNK_SHIFT)
#define MAX_CHUNKS (1u << 16) /* 2^32 nodes */
#define UPPER_SHIFT 20        /* u32 per upper-pool chunk: 4 MiB */
#define UPPER_CHUNK (1u << UPPER_SHIFT)
#define NO_UPPER UINT64_MAX

#define META_LEVEL 0xFFu
#define META_DELETED (1u << 8)
#define META_LOCK (1u << 31)

struct lh_hnsw {
    lh_hnsw_params p;
    uint32_t dim, M, M0;
    lh_dist_fn dist;
    size_t payload_bytes, links_off, label_off, stride;
    size_t capacity; /* nodes the allocated chunks hold */
    _Atomic uint32_t count;
    char **chunks;     /* node blocks */
    float **fchunks;   /* SQ8 only: float vectors */
    uint32_t **upper;  /* upper-link pool chunks */
    size_t upper_chunks, upper_used; /* in u32 */
    pthread_mutex_t grow; /* appending chunks and upper blocks */
    _Atomic uint64_t ep; /* entry node (low 32 bits) and top level (high 32); UINT64_MAX when empty */
    double level_mult;
    uint64_t rng;
    /* SQ8 ranges */
    float *sq_lo, *sq_step;
    bool sq_ready;
    /* label -> node */
    pthread_rwlock_t map_lock;
    uint64_t *map_keys;
    uint32_t *map_vals; /* node + 1; 0 = empty slot */
    size_t map_slots, map_used;
    bool map_mapped; /* the table points into the file mapping */
    _Atomic size_t deleted;
    /* a loaded index */
    void *mapping;
    size_t mapping_len;
    void (*unmap)(struct lh_hnsw *h); /* set by the loader (hnsw_io.c): releases the mapping */
    pthread_t warmer; /* pages the file in after the first search (hnsw_io.c) */
    bool warming;
    _Atomic bool searched, stop_warming, paged_in;
};

static inline char *node_at(const struct lh_hnsw *h, uint32_t id)
{
    return h->chunks[id >> CHUNK_SHIFT] + (size_t)(id & (NODES_PER_CHUNK - 1)) * h->stride;
}

static inline uint32_t *links0(const struct lh_hnsw *h, uint32_t id)
{
    return (uint32_t *)(node_at(h, id) + h->links_off);
}

static inline uint64_t *label_of(const struct lh_hnsw *h, uint32_t id)
{
    return (uint64_t *)(node_at(h, id) + h->label_off);
}

static inline uint64_t *upper_of(const struct lh_hnsw *h, uint32_t id)
{
    return label_of(h, id) + 1;
}

static inline _Atomic uint32_t *meta_of(const struct lh_hnsw *h, uint32_t id)
{
    return (_Atomic uint32_t *)(label_of(h, id) + 2);
}

static inline const float *fvec(const struct lh_hnsw *h, uint32_t id)
{
    if (h->fchunks) return h->fchunks[id >> CHUNK_SHIFT] + (size_t)(id & (NODES_PER_CHUNK - 1)) * h->dim;
    return (const float *)node_at(h, id);
}

/* Upper links of node id at level (>= 1), or NULL if it has none there or
 * the stored offset is out of bounds (a damaged file). */
static inline uint32_t *upper_links(const struct lh_hnsw *h, uint32_t id, int level)
{
    uint64_t off = *upper_of(h, id);
    if (off == NO_UPPER) return NULL;
    off += (uint64_t)(level - 1) * (1 + h->M);
    uint64_t chunk = off >> UPPER_SHIFT, pos = off & (UPPER_CHUNK - 1);
    if (chunk >= __atomic_load_n(&h->upper_chunks, __ATOMIC_ACQUIRE) || pos + 1 + h->M > UPPER_CHUNK) return NULL;
    if (off + 1 + h->M > __atomic_load_n(&h->upper_used, __ATOMIC_ACQUIRE)) return NULL;
    return __atomic_load_n(&h->upper[chunk], __ATOMIC_ACQUIRE) + pos;
}

/* Sizes of a node block for these parameters. */
void hnsw_layout(struct lh_hnsw *h);
/* Prepares a struct with parameters validated and defaults filled; no memory for nodes yet. */
lh_code hnsw_init(struct lh_hnsw *h, const lh_hnsw_params *p, lh_err *err);
/* Adds label -> id to the label map. Caller holds the map write lock. */
void hnsw_map_put(struct lh_hnsw *h, uint64_t label, uint32_t id);
/* Recomputes the checksums of an index file image in place (for the fuzzer:
 * damage that passes the checksums reaches the structural checks). */
void hnsw_file_reseal(unsigned char *data, size_t len);
/* Index files from this size on are mapped random-access and read in by a
 * background thread after their first search (hnsw_io.c). */
#define HNSW_WARM_MIN_BYTES ((size_t)16 << 20)

#endif
