/*
 * hnsw.c — building and searching the graph.
 *
 * Concurrency: adds lock the node whose links they change (a spin bit in
 * its meta word); searches read links without locks. A link list is written
 * entries first, count last (release), so a reader sees a count whose entries
 * are all valid node ids, old or new. Chunks are only appended, so nothing a
 * reader holds ever moves. The entry point and top level are one 64-bit word.
 */
#include "internal.h"

#include "lakehouse/lh_hash.h"

#include "lakehouse/lh_log.h"
#include "lakehouse/lh_mem.h"

#include <math.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MAX_LEVEL 30
#define FLAG_READY (1u << 9)

/* ---- layout, parameters ---- */

static size_t align_up(size_t n, size_t a)
{
    return (n + a - 1) & ~(a - 1);
}

void hnsw_layout(struct lh_hnsw *h)
{
    h->payload_bytes = align_up(h->p.quantization == LH_QUANT_SQ8 ? h->dim : (size_t)h->dim * 4, 16);
    h->links_off = h->payload_bytes;
    h->label_off = align_up(h->links_off + 4 + 4 * (size_t)h->M0, 8);
    h->stride = align_up(h->label_off + 8 + 8 + 4, 16);
}

lh_code hnsw_init(struct lh_hnsw *h, const lh_hnsw_params *p, lh_err *err)
{
    h->p = *p;
    if (p->dim == 0 || p->dim > LH_HNSW_MAX_DIM)
        return lh_err_set(err, LH_EINVAL, "dimension must be 1..%d, not %u", LH_HNSW_MAX_DIM, p->dim);
    if (p->metric != LH_METRIC_L2 && p->metric != LH_METRIC_COSINE && p->metric != LH_METRIC_IP)
        return lh_err_set(err, LH_EINVAL, "unknown metric %d", (int)p->metric);
    if (p->quantization != LH_QUANT_NONE && p->quantization != LH_QUANT_SQ8)
        return lh_err_set(err, LH_EINVAL, "unknown quantization %d", (int)p->quantization);
    if (!h->p.M) h->p.M = 16;
    if (!h->p.ef_construction) h->p.ef_construction = 200;
    if (!h->p.ef_search) h->p.ef_search = 64;
    if (!h->p.rescore) h->p.rescore = 4;
    if (h->p.M < LH_HNSW_MIN_M || h->p.M > LH_HNSW_MAX_M)
        return lh_err_set(err, LH_EINVAL, "M must be %d..%d, not %u", LH_HNSW_MIN_M, LH_HNSW_MAX_M, h->p.M);
    if (h->p.ef_construction < h->p.M || h->p.ef_construction > LH_HNSW_MAX_EF_CONSTRUCTION)
        return lh_err_set(err, LH_EINVAL, "ef_construction must be M..%d, not %u", LH_HNSW_MAX_EF_CONSTRUCTION,
                          h->p.ef_construction);
    if (h->p.ef_search > LH_HNSW_MAX_EF) return lh_err_set(err, LH_EINVAL, "ef_search must be at most %d", LH_HNSW_MAX_EF);
    h->dim = p->dim;
    h->M = h->p.M;
    h->M0 = 2 * h->p.M;
    h->dist = lh_distance_for(p->metric);
    h->level_mult = 1.0 / log((double)h->M);
    h->rng = h->p.seed ? h->p.seed : 0x5DEECE66DULL;
    hnsw_layout(h);
    pthread_mutex_init(&h->grow, NULL);
    pthread_rwlock_init(&h->map_lock, NULL);
    h->chunks = lh_xcalloc(MAX_CHUNKS, sizeof *h->chunks);
    h->upper = lh_xcalloc(1u << 16, sizeof *h->upper);
    if (p->quantization == LH_QUANT_SQ8) {
        h->fchunks = lh_xcalloc(MAX_CHUNKS, sizeof *h->fchunks);
        h->sq_lo = lh_xcalloc(h->dim, sizeof(float));
        h->sq_step = lh_xcalloc(h->dim, sizeof(float));
    }
    return LH_OK;
}

/* ---- memory ---- */

/* Chunks are anonymous mappings: zero pages cost nothing until touched, so a
 * chunk's unused tail never counts against memory; huge pages where the
 * kernel allows them (a graph walk is a random walk over the chunks). */
static void *chunk_alloc(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "lakehouse: out of memory mapping %zu bytes\n", bytes);
        abort();
    }
    if (bytes >= (2u << 20)) madvise(p, bytes, MADV_HUGEPAGE);
    return p;
}

static void chunk_free(void *p, size_t bytes)
{
    if (p) munmap(p, bytes);
}

/* Makes room for n nodes. Caller holds h->grow. */
static lh_code reserve(struct lh_hnsw *h, size_t n, lh_err *err)
{
    if (n > (size_t)MAX_CHUNKS * NODES_PER_CHUNK) return lh_err_set(err, LH_ETOOBIG, "an index holds at most 2^32 vectors");
    while (h->capacity < n) {
        size_t c = h->capacity >> CHUNK_SHIFT;
        char *chunk = chunk_alloc(NODES_PER_CHUNK * h->stride);
        if (h->fchunks)
            atomic_store_explicit((_Atomic(float *) *)&h->fchunks[c],
                                  chunk_alloc((size_t)NODES_PER_CHUNK * h->dim * sizeof(float)), memory_order_release);
        atomic_store_explicit((_Atomic(char *) *)&h->chunks[c], chunk, memory_order_release);
        h->capacity += NODES_PER_CHUNK;
    }
    return LH_OK;
}

/* (1 + M) u32 per level above 0, zeroed. Caller holds h->grow. */
static uint64_t upper_alloc(struct lh_hnsw *h, int level)
{
    size_t need = (size_t)level * (1 + h->M);
    size_t pos = h->upper_used & (UPPER_CHUNK - 1);
    if (h->upper_chunks == 0 || (h->upper_used >> UPPER_SHIFT) >= h->upper_chunks || pos + need > UPPER_CHUNK) {
        __atomic_store_n(&h->upper[h->upper_chunks], (uint32_t *)chunk_alloc(UPPER_CHUNK * sizeof(uint32_t)),
                         __ATOMIC_RELEASE);
        __atomic_store_n(&h->upper_used, (size_t)h->upper_chunks << UPPER_SHIFT, __ATOMIC_RELEASE);
        __atomic_store_n(&h->upper_chunks, h->upper_chunks + 1, __ATOMIC_RELEASE);
    }
    uint64_t off = h->upper_used;
    __atomic_store_n(&h->upper_used, h->upper_used + need, __ATOMIC_RELEASE);
    return off;
}

/* ---- the label map (open addressing) ---- */

static void map_grow(struct lh_hnsw *h)
{
    size_t slots = h->map_slots ? h->map_slots * 2 : 1024;
    uint64_t *keys = lh_xcalloc(slots, sizeof *keys);
    uint32_t *vals = lh_xcalloc(slots, sizeof *vals);
    for (size_t i = 0; i < h->map_slots; i++) {
        if (!h->map_vals[i]) continue;
        size_t j = lh_hash_mix64(h->map_keys[i]) & (slots - 1);
        while (vals[j]) j = (j + 1) & (slots - 1);
        keys[j] = h->map_keys[i];
        vals[j] = h->map_vals[i];
    }
    if (!h->map_mapped) {
        free(h->map_keys);
        free(h->map_vals);
    }
    h->map_keys = keys;
    h->map_vals = vals;
    h->map_slots = slots;
    h->map_mapped = false;
}

/* Caller holds the map write lock. */
void hnsw_map_put(struct lh_hnsw *h, uint64_t label, uint32_t id)
{
    if ((h->map_used + 1) * 2 > h->map_slots) map_grow(h);
    size_t j = lh_hash_mix64(label) & (h->map_slots - 1);
    while (h->map_vals[j]) j = (j + 1) & (h->map_slots - 1);
    h->map_keys[j] = label;
    h->map_vals[j] = id + 1;
    h->map_used++;
}

/* Node of a label, or UINT32_MAX. Caller holds the map lock. */
static uint32_t map_get(const struct lh_hnsw *h, uint64_t label)
{
    if (!h->map_slots) return UINT32_MAX;
    size_t j = lh_hash_mix64(label) & (h->map_slots - 1);
    for (size_t probes = 0; probes < h->map_slots && h->map_vals[j]; probes++) {
        if (h->map_keys[j] == label) {
            uint32_t id = h->map_vals[j] - 1;
            return id < atomic_load(&h->count) ? id : UINT32_MAX;
        }
        j = (j + 1) & (h->map_slots - 1);
    }
    return UINT32_MAX;
}

/* ---- small heaps of (distance, node) ---- */

typedef struct {
    float d;
    uint32_t id;
} pair;

typedef struct {
    pair *a;
    size_t n, cap;
} heap;

static inline void heap_reserve(heap *h, size_t n)
{
    if (n <= h->cap) return;
    h->cap = n < 64 ? 64 : n * 2;
    h->a = lh_xrealloc(h->a, h->cap * sizeof(pair));
}

/* min-heap (candidates) */
static inline void minh_push(heap *h, float d, uint32_t id)
{
    heap_reserve(h, h->n + 1);
    size_t i = h->n++;
    while (i && h->a[(i - 1) / 2].d > d) {
        h->a[i] = h->a[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->a[i] = (pair){d, id};
}

static inline pair minh_pop(heap *h)
{
    pair top = h->a[0], last = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && h->a[c + 1].d < h->a[c].d) c++;
        if (h->a[c].d >= last.d) break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (h->n) h->a[i] = last;
    return top;
}

/* max-heap (results) */
static inline void maxh_push(heap *h, float d, uint32_t id)
{
    heap_reserve(h, h->n + 1);
    size_t i = h->n++;
    while (i && h->a[(i - 1) / 2].d < d) {
        h->a[i] = h->a[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->a[i] = (pair){d, id};
}

/* Puts x where the top was and sifts it down. */
static inline void maxh_sift(heap *h, pair x)
{
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && h->a[c + 1].d > h->a[c].d) c++;
        if (h->a[c].d <= x.d) break;
        h->a[i] = h->a[c];
        i = c;
    }
    h->a[i] = x;
}

static inline void maxh_pop(heap *h)
{
    pair last = h->a[--h->n];
    if (h->n) maxh_sift(h, last);
}

/* Keeps the `cap` smallest: pushes, or replaces the largest when full. */
static inline void maxh_offer(heap *h, size_t cap, float d, uint32_t id)
{
    if (h->n < cap) maxh_push(h, d, id);
    else if (d < h->a[0].d) maxh_sift(h, (pair){d, id});
}

static int by_distance(const void *a, const void *b)
{
    float x = ((const pair *)a)->d, y = ((const pair *)b)->d;
    if (x != y) return x < y ? -1 : 1;
    uint32_t i = ((const pair *)a)->id, j = ((const pair *)b)->id;
    return i < j ? -1 : i > j;
}

/* ---- per-thread scratch: visited tags and heaps ---- */

typedef struct scratch {
    uint16_t *tags;
    size_t cap;
    uint16_t epoch;
    heap cand, res;
    float *query;
    size_t query_cap;
} scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
    scratch *s = p;
    free(s->tags);
    free(s->cand.a);
    free(s->res.a);
    free(s->query);
    free(s);
}

static void scratch_key_make(void)
{
    pthread_key_create(&scratch_key, scratch_free);
}

static scratch *scratch_get(size_t nodes, size_t dim)
{
    pthread_once(&scratch_once, scratch_key_make);
    scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = lh_xcalloc(1, sizeof *s);
        pthread_setspecific(scratch_key, s);
    }
    if (s->cap < nodes) {
        size_t cap = nodes < 1024 ? 1024 : nodes + nodes / 2;
        free(s->tags);
        s->tags = lh_xcalloc(cap, sizeof *s->tags);
        s->cap = cap;
        s->epoch = 0;
    }
    if (++s->epoch == 0) { /* wrapped: clear once every 65535 searches */
        memset(s->tags, 0, s->cap * sizeof *s->tags);
        s->epoch = 1;
    }
    if (s->query_cap < dim) {
        free(s->query);
        s->query = lh_xmalloc(dim * sizeof(float));
        s->query_cap = dim;
    }
    s->cand.n = s->res.n = 0;
    return s;
}

/* ---- distances ---- */

/* Distance between a query (float, prepared) and node id, as the graph walk sees it. */
static inline float walk_dist(const struct lh_hnsw *h, const float *q, uint32_t id)
{
    const char *node = node_at(h, id);
    if (h->fchunks) {
        const uint8_t *code = (const uint8_t *)node;
        if (h->p.metric == LH_METRIC_L2) return lh_sq8_l2sq(q, code, h->sq_lo, h->sq_step, h->dim);
        return 1.0f - lh_sq8_dot(q, code, h->sq_lo, h->sq_step, h->dim);
    }
    return h->dist(q, (const float *)node, h->dim);
}

static inline float exact_dist(const struct lh_hnsw *h, const float *q, uint32_t id)
{
    return h->dist(q, fvec(h, id), h->dim);
}

static inline int level_of(const struct lh_hnsw *h, uint32_t id)
{
    return (int)(atomic_load_explicit(meta_of(h, id), memory_order_relaxed) & META_LEVEL);
}

static inline bool is_deleted(const struct lh_hnsw *h, uint32_t id)
{
    return atomic_load_explicit(meta_of(h, id), memory_order_relaxed) & META_DELETED;
}

static void node_lock(struct lh_hnsw *h, uint32_t id)
{
    _Atomic uint32_t *m = meta_of(h, id);
    while (atomic_fetch_or_explicit(m, META_LOCK, memory_order_acquire) & META_LOCK) __builtin_ia32_pause();
}

static void node_unlock(struct lh_hnsw *h, uint32_t id)
{
    atomic_fetch_and_explicit(meta_of(h, id), ~META_LOCK, memory_order_release);
}

/* Link entries are read while another thread may rewrite them: relaxed atomic
 * accesses (plain moves on x86) make that well-defined. */
static inline uint32_t link_get(const uint32_t *l, size_t i)
{
    return __atomic_load_n(&l[i], __ATOMIC_RELAXED);
}

static inline void link_set(uint32_t *l, size_t i, uint32_t v)
{
    __atomic_store_n(&l[i], v, __ATOMIC_RELAXED);
}

/* The link list of id at level (count first, then entries), or NULL. */
static inline uint32_t *links_at(const struct lh_hnsw *h, uint32_t id, int level)
{
    return level == 0 ? links0(h, id) : upper_links(h, id, level);
}

/* ---- searching one layer ---- */

/* Greedy walk towards q on an upper layer. */
static uint32_t greedy(const struct lh_hnsw *h, const float *q, uint32_t ep, float *ep_d, int level,
                       bool exact, uint32_t n)
{
    bool changed = true;
    while (changed) {
        changed = false;
        uint32_t *l = links_at(h, ep, level);
        if (!l) break;
        uint32_t cnt = atomic_load_explicit((_Atomic uint32_t *)l, memory_order_acquire);
        if (cnt > h->M) cnt = h->M;
        for (uint32_t i = 1; i <= cnt; i++) {
            uint32_t c = link_get(l, i);
            if (c >= n) continue;
            float d = exact ? exact_dist(h, q, c) : walk_dist(h, q, c);
            if (d < *ep_d) {
                *ep_d = d;
                ep = c;
                changed = true;
            }
        }
    }
    return ep;
}

/* Best-first search of one layer; the ef best end up in s->res (max-heap).
 * accept(): which nodes may be results (all nodes are traversed). */
typedef struct filter {
    const lh_bitmap *allow;
    bool skip_deleted;
} filter;

static inline bool acceptable(const struct lh_hnsw *h, const filter *f, uint32_t id)
{
    if (!f) return true;
    if (f->skip_deleted && is_deleted(h, id)) return false;
    if (f->allow) {
        uint64_t label = *label_of(h, id);
        if (label >= f->allow->nbits || !((f->allow->words[label >> 6] >> (label & 63)) & 1)) return false;
    }
    return true;
}

static void search_layer(const struct lh_hnsw *h, scratch *s, const float *q, uint32_t ep, float ep_d, size_t ef,
                         int level, bool exact, const filter *f, uint32_t n)
{
    heap *cand = &s->cand, *res = &s->res;
    uint16_t *tags = s->tags;
    const uint16_t epoch = s->epoch;
    const uint32_t maxc = level == 0 ? h->M0 : h->M;
    /* what the loop reads, in locals: the compiler cannot keep fields of *h
     * in registers across the distance calls */
    char *const *chunks = h->chunks;
    const size_t stride = h->stride;
    uint32_t fresh[2 * 128]; /* M0 <= 256 */
    /* searches of a freshly mapped file, until it is read in: ask for all the
     * neighbours' pages at once, so the disk reads them in parallel, not one
     * per fault */
    const bool cold = h->warming && !atomic_load_explicit(&h->paged_in, memory_order_relaxed);
    tags[ep] = epoch;
    minh_push(cand, ep_d, ep);
    if (acceptable(h, f, ep)) maxh_push(res, ep_d, ep);
    while (cand->n) {
        pair c = minh_pop(cand);
        if (res->n >= ef && c.d > res->a[0].d) break;
        uint32_t *l = links_at(h, c.id, level);
        if (!l) continue;
        uint32_t cnt = atomic_load_explicit((_Atomic uint32_t *)l, memory_order_acquire);
        if (cnt > maxc) cnt = maxc;
        /* first the neighbours not seen yet, each one's data requested from
         * memory at once; then their distances, while the data arrives */
        size_t m = 0;
        for (uint32_t i = 1; i <= cnt; i++) {
            uint32_t id = link_get(l, i);
            if (id >= n || tags[id] == epoch) continue;
            tags[id] = epoch;
            fresh[m++] = id;
            __builtin_prefetch(chunks[id >> CHUNK_SHIFT] + (size_t)(id & (NODES_PER_CHUNK - 1)) * stride);
            if (cold) {
                uintptr_t at = (uintptr_t)(chunks[id >> CHUNK_SHIFT] + (size_t)(id & (NODES_PER_CHUNK - 1)) * stride);
                uintptr_t first = at & ~(uintptr_t)4095, end = (at + stride + 4095) & ~(uintptr_t)4095;
                madvise((void *)first, end - first, MADV_WILLNEED);
            }
        }
        for (size_t j = 0; j < m; j++) {
            uint32_t id = fresh[j];
            if (j + 1 < m) {
                const char *next = chunks[fresh[j + 1] >> CHUNK_SHIFT] + (size_t)(fresh[j + 1] & (NODES_PER_CHUNK - 1)) * stride;
                __builtin_prefetch(next + 64);
                __builtin_prefetch(next + 128);
            }
            float d = exact ? exact_dist(h, q, id) : walk_dist(h, q, id);
            if (res->n < ef || d < res->a[0].d) {
                minh_push(cand, d, id);
                if (acceptable(h, f, id)) maxh_offer(res, ef, d, id);
            }
        }
    }
}

/* ---- insertion ---- */

static uint64_t next_random(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int draw_level(struct lh_hnsw *h)
{
    double u = ((double)(next_random(&h->rng) >> 11) + 0.5) / 9007199254740992.0;
    int l = (int)(-log(u) * h->level_mult);
    return l > MAX_LEVEL ? MAX_LEVEL : l;
}

static inline uint64_t pack_ep(uint32_t entry, int level)
{
    return ((uint64_t)(uint32_t)level << 32) | entry;
}

/* Heuristic neighbour selection (HNSW paper, algorithm 4) over cand sorted
 * by distance: keeps c if it is closer to the base than to any kept one. */
static size_t select_neighbors(const struct lh_hnsw *h, pair *cand, size_t n, size_t m)
{
    size_t kept = 0;
    for (size_t i = 0; i < n && kept < m; i++) {
        bool good = true;
        const float *v = fvec(h, cand[i].id);
        for (size_t j = 0; j < kept && good; j++)
            good = h->dist(v, fvec(h, cand[j].id), h->dim) >= cand[i].d;
        if (good) cand[kept++] = cand[i];
    }
    return kept;
}

/* Adds `id` to the links of `e` at level, pruning with the heuristic when full. */
static void link_back(struct lh_hnsw *h, uint32_t e, uint32_t id, int level, scratch *s)
{
    uint32_t maxc = level == 0 ? h->M0 : h->M;
    node_lock(h, e);
    uint32_t *l = links_at(h, e, level);
    if (l) {
        uint32_t cnt = l[0] > maxc ? maxc : l[0];
        bool present = false;
        for (uint32_t i = 1; i <= cnt && !present; i++) present = l[i] == id;
        if (!present) {
            if (cnt < maxc) {
                link_set(l, cnt + 1, id);
                atomic_store_explicit((_Atomic uint32_t *)l, cnt + 1, memory_order_release);
            } else {
                const float *ev = fvec(h, e);
                heap *tmp = &s->res; /* free between a search and the next */
                tmp->n = 0;
                heap_reserve(tmp, cnt + 1);
                uint32_t n = atomic_load_explicit(&h->count, memory_order_acquire);
                for (uint32_t i = 1; i <= cnt; i++) /* ids out of range come only from a damaged file */
                    if (l[i] < n) tmp->a[tmp->n++] = (pair){h->dist(ev, fvec(h, l[i]), h->dim), l[i]};
                tmp->a[tmp->n++] = (pair){h->dist(ev, fvec(h, id), h->dim), id};
                qsort(tmp->a, tmp->n, sizeof(pair), by_distance);
                size_t kept = select_neighbors(h, tmp->a, tmp->n, maxc);
                for (size_t i = 0; i < kept; i++) link_set(l, i + 1, tmp->a[i].id);
                atomic_store_explicit((_Atomic uint32_t *)l, (uint32_t)kept, memory_order_release);
                tmp->n = 0;
            }
        }
    }
    node_unlock(h, e);
}

static _Atomic uint64_t *ep_word(struct lh_hnsw *h)
{
    return &h->ep;
}

/* Writes the node's payload, label and level; it is not linked yet. */
static void node_fill(struct lh_hnsw *h, uint32_t id, uint64_t label, const float *vec, int level, uint64_t upper)
{
    char *node = node_at(h, id);
    float *dst = h->fchunks ? h->fchunks[id >> CHUNK_SHIFT] + (size_t)(id & (NODES_PER_CHUNK - 1)) * h->dim
                            : (float *)node;
    memcpy(dst, vec, h->dim * sizeof(float));
    if (h->p.metric == LH_METRIC_COSINE) lh_normalize(dst, h->dim);
    if (h->fchunks) {
        uint8_t *code = (uint8_t *)node;
        for (uint32_t i = 0; i < h->dim; i++) {
            float t = h->sq_step[i] > 0 ? (dst[i] - h->sq_lo[i]) / h->sq_step[i] : 0;
            code[i] = t <= 0 ? 0 : t >= 255 ? 255 : (uint8_t)(t + 0.5f);
        }
    }
    *(uint32_t *)(node + h->links_off) = 0;
    *label_of(h, id) = label;
    *upper_of(h, id) = upper;
    atomic_store_explicit(meta_of(h, id), (uint32_t)level, memory_order_relaxed);
}

/* Links a filled node into the graph. */
static void node_link(struct lh_hnsw *h, uint32_t id, int level)
{
    uint64_t epw = atomic_load(ep_word(h));
    uint32_t n = atomic_load(&h->count);
    if (epw == UINT64_MAX) { /* the first node */
        uint64_t expect = UINT64_MAX;
        if (atomic_compare_exchange_strong(ep_word(h), &expect, pack_ep(id, level))) {
            atomic_fetch_or_explicit(meta_of(h, id), FLAG_READY, memory_order_release);
            return;
        }
        epw = expect;
    }
    uint32_t ep = (uint32_t)epw;
    int top = (int)(epw >> 32);
    const float *q = fvec(h, id);
    scratch *s = scratch_get(n, h->dim);
    float ep_d = exact_dist(h, q, ep);
    for (int lc = top; lc > level; lc--) ep = greedy(h, q, ep, &ep_d, lc, true, n);
    for (int lc = level < top ? level : top; lc >= 0; lc--) {
        s = scratch_get(n, h->dim); /* a fresh visited epoch per layer */
        search_layer(h, s, q, ep, ep_d, h->p.ef_construction, lc, true, NULL, n);
        /* the candidates, nearest first */
        size_t m = s->res.n;
        pair *c = lh_xmalloc((m ? m : 1) * sizeof(pair));
        memcpy(c, s->res.a, m * sizeof(pair));
        qsort(c, m, sizeof(pair), by_distance);
        /* drop ourselves if we showed up (concurrent adds) */
        size_t w = 0;
        for (size_t i = 0; i < m; i++)
            if (c[i].id != id) c[w++] = c[i];
        m = w;
        if (m) {
            ep = c[0].id;
            ep_d = c[0].d;
        }
        size_t kept = select_neighbors(h, c, m, h->M);
        node_lock(h, id);
        uint32_t *l = links_at(h, id, lc);
        if (l) {
            for (size_t i = 0; i < kept; i++) link_set(l, i + 1, c[i].id);
            atomic_store_explicit((_Atomic uint32_t *)l, (uint32_t)kept, memory_order_release);
        }
        node_unlock(h, id);
        for (size_t i = 0; i < kept; i++) link_back(h, c[i].id, id, lc, s);
        free(c);
    }
    atomic_fetch_or_explicit(meta_of(h, id), FLAG_READY, memory_order_release);
    /* a new top level makes this node the entry point */
    while (level > top) {
        if (atomic_compare_exchange_weak(ep_word(h), &epw, pack_ep(id, level))) break;
        top = (int)(epw >> 32);
    }
}

lh_code lh_hnsw_new(const lh_hnsw_params *p, size_t capacity, lh_hnsw **out, lh_err *err)
{
    struct lh_hnsw *h = lh_xcalloc(1, sizeof *h);
    lh_code rc = hnsw_init(h, p, err);
    if (rc == LH_OK) {
        pthread_mutex_lock(&h->grow);
        rc = reserve(h, capacity ? capacity : 1, err);
        pthread_mutex_unlock(&h->grow);
    }
    if (rc) {
        lh_hnsw_free(h);
        return rc;
    }
    atomic_store(ep_word(h), UINT64_MAX);
    *out = h;
    return LH_OK;
}

void lh_hnsw_free(lh_hnsw *h)
{
    if (!h) return;
    if (!h->mapping) {
        for (size_t c = 0; c < MAX_CHUNKS && h->chunks && h->chunks[c]; c++) {
            chunk_free(h->chunks[c], NODES_PER_CHUNK * h->stride);
            if (h->fchunks) chunk_free(h->fchunks[c], (size_t)NODES_PER_CHUNK * h->dim * sizeof(float));
        }
        for (size_t c = 0; c < h->upper_chunks; c++) chunk_free(h->upper[c], UPPER_CHUNK * sizeof(uint32_t));
    } else if (h->unmap) {
        h->unmap(h);
    }
    if (!h->map_mapped) {
        free(h->map_keys);
        free(h->map_vals);
    }
    free(h->sq_lo);
    free(h->sq_step);
    free(h->chunks);
    free(h->fchunks);
    free(h->upper);
    pthread_mutex_destroy(&h->grow);
    pthread_rwlock_destroy(&h->map_lock);
    free(h);
}

static lh_code check_label_free(struct lh_hnsw *h, uint64_t label, uint32_t id, lh_err *err)
{
    pthread_rwlock_wrlock(&h->map_lock);
    if (map_get(h, label) != UINT32_MAX) {
        pthread_rwlock_unlock(&h->map_lock);
        return lh_err_set(err, LH_EEXIST, "label %llu is already in the index", (unsigned long long)label);
    }
    hnsw_map_put(h, label, id);
    pthread_rwlock_unlock(&h->map_lock);
    return LH_OK;
}

/* Learns SQ8 ranges from a batch (min / max per dimension, after normalising). */
static void sq8_train(struct lh_hnsw *h, const float *vecs, size_t n)
{
    float *tmp = lh_xmalloc(h->dim * sizeof(float));
    for (uint32_t d = 0; d < h->dim; d++) {
        h->sq_lo[d] = INFINITY;
        h->sq_step[d] = -INFINITY; /* holds the max until the end */
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(tmp, vecs + i * h->dim, h->dim * sizeof(float));
        if (h->p.metric == LH_METRIC_COSINE) lh_normalize(tmp, h->dim);
        for (uint32_t d = 0; d < h->dim; d++) {
            if (tmp[d] < h->sq_lo[d]) h->sq_lo[d] = tmp[d];
            if (tmp[d] > h->sq_step[d]) h->sq_step[d] = tmp[d];
        }
    }
    for (uint32_t d = 0; d < h->dim; d++) {
        float range = h->sq_step[d] - h->sq_lo[d];
        h->sq_step[d] = range > 0 ? range / 255.0f : 0;
    }
    free(tmp);
    h->sq_ready = true;
}

static lh_code check_writable(const struct lh_hnsw *h, lh_err *err)
{
    if (h->mapping)
        return lh_err_set(err, LH_EUNSUPPORTED,
                          "a loaded index is read-only: add to a copy (lh_hnsw_compact) or build a new version");
    return LH_OK;
}

lh_code lh_hnsw_add(lh_hnsw *h, uint64_t label, const float *vec, lh_err *err)
{
    lh_code rc = check_writable(h, err);
    if (rc) return rc;
    if (h->fchunks && !h->sq_ready)
        return lh_err_set(err, LH_EINVAL, "an SQ8 index learns its ranges from a first lh_hnsw_add_batch");
    pthread_mutex_lock(&h->grow);
    uint32_t id = atomic_load(&h->count);
    rc = reserve(h, (size_t)id + 1, err);
    if (rc == LH_OK) rc = check_label_free(h, label, id, err);
    int level = 0;
    uint64_t upper = NO_UPPER;
    if (rc == LH_OK) {
        level = draw_level(h);
        if (level > 0) upper = upper_alloc(h, level);
        node_fill(h, id, label, vec, level, upper);
        atomic_store_explicit(&h->count, id + 1, memory_order_release);
    }
    pthread_mutex_unlock(&h->grow);
    if (rc == LH_OK) node_link(h, id, level);
    return rc;
}

struct batch {
    struct lh_hnsw *h;
    uint32_t first;
    size_t n;
    const int *levels;
    _Atomic size_t next;
};

static void *batch_worker(void *arg)
{
    struct batch *b = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&b->next, 1);
        if (i >= b->n) break;
        node_link(b->h, b->first + (uint32_t)i, b->levels[i]);
    }
    return NULL;
}

lh_code lh_hnsw_add_batch(lh_hnsw *h, const uint64_t *labels, const float *vecs, size_t n, unsigned threads,
                          lh_err *err)
{
    lh_code rc = check_writable(h, err);
    if (rc || n == 0) return rc;
    if (h->fchunks && !h->sq_ready) sq8_train(h, vecs, n);
    pthread_mutex_lock(&h->grow);
    uint32_t first = atomic_load(&h->count);
    rc = reserve(h, (size_t)first + n, err);
    int *levels = lh_xmalloc(n * sizeof *levels);
    size_t filled = 0;
    for (size_t i = 0; rc == LH_OK && i < n; i++) {
        rc = check_label_free(h, labels[i], first + (uint32_t)i, err);
        if (rc) break;
        levels[i] = draw_level(h);
        uint64_t upper = levels[i] > 0 ? upper_alloc(h, levels[i]) : NO_UPPER;
        node_fill(h, first + (uint32_t)i, labels[i], vecs + i * h->dim, levels[i], upper);
        filled++;
    }
    if (rc) { /* take back the labels of this batch */
        pthread_rwlock_wrlock(&h->map_lock);
        for (size_t i = 0; i < filled; i++) {
            size_t j = lh_hash_mix64(labels[i]) & (h->map_slots - 1);
            while (h->map_vals[j] && h->map_keys[j] != labels[i]) j = (j + 1) & (h->map_slots - 1);
            /* mark the slot dead with an out-of-range node so probing continues */
            if (h->map_vals[j]) h->map_vals[j] = UINT32_MAX;
        }
        pthread_rwlock_unlock(&h->map_lock);
        pthread_mutex_unlock(&h->grow);
        free(levels);
        return rc;
    }
    atomic_store_explicit(&h->count, first + (uint32_t)n, memory_order_release);
    pthread_mutex_unlock(&h->grow);

    if (!threads) threads = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads > 256) threads = 256;
    struct batch b = {.h = h, .first = first, .n = n, .levels = levels};
    /* the first node alone when the graph is empty, so every worker has an entry */
    if (first == 0) {
        node_link(h, first, levels[0]);
        atomic_store(&b.next, 1);
    }
    if (threads <= 1 || n < 64) {
        batch_worker(&b);
    } else {
        pthread_t *t = lh_xcalloc(threads, sizeof *t);
        for (unsigned i = 0; i < threads; i++) pthread_create(&t[i], NULL, batch_worker, &b);
        for (unsigned i = 0; i < threads; i++) pthread_join(t[i], NULL);
        free(t);
    }
    free(levels);
    return LH_OK;
}

lh_code lh_hnsw_delete(lh_hnsw *h, uint64_t label, lh_err *err)
{
    pthread_rwlock_rdlock(&h->map_lock);
    uint32_t id = map_get(h, label);
    pthread_rwlock_unlock(&h->map_lock);
    if (id == UINT32_MAX) return lh_err_set(err, LH_ENOTFOUND, "label %llu is not in the index", (unsigned long long)label);
    uint32_t was = atomic_fetch_or(meta_of(h, id), META_DELETED);
    if (!(was & META_DELETED)) atomic_fetch_add(&h->deleted, 1);
    return LH_OK;
}

/* ---- search ---- */

static const float *prepare_query(const struct lh_hnsw *h, scratch *s, const float *q)
{
    if (h->p.metric != LH_METRIC_COSINE) return q;
    memcpy(s->query, q, h->dim * sizeof(float));
    lh_normalize(s->query, h->dim);
    return s->query;
}

static size_t popcount_allowed(const lh_bitmap *allow)
{
    size_t c = 0, words = (size_t)((allow->nbits + 63) / 64);
    for (size_t i = 0; i < words; i++) {
        uint64_t w = allow->words[i];
        if (i == words - 1 && allow->nbits % 64) w &= (1ULL << (allow->nbits % 64)) - 1;
        c += (size_t)__builtin_popcountll(w);
    }
    return c;
}

/* The k nearest of the results, nearest first (ties: lower node first). */
static size_t finish(const struct lh_hnsw *h, heap *res, size_t k, lh_hnsw_hit *out)
{
    heap_reserve(res, res->n + k);
    pair *best = res->a + res->n; /* the k best so far, sorted, in the room after the results */
    size_t n = 0;
    for (size_t i = 0; i < res->n; i++) {
        pair x = res->a[i];
        if (n == k && by_distance(&x, &best[n - 1]) >= 0) continue;
        size_t j = n < k ? n++ : n - 1;
        for (; j > 0 && by_distance(&x, &best[j - 1]) < 0; j--) best[j] = best[j - 1];
        best[j] = x;
    }
    for (size_t i = 0; i < n; i++) out[i] = (lh_hnsw_hit){*label_of(h, best[i].id), best[i].d};
    res->n = 0;
    return n;
}

/* Exhaustive scan of the allowed labels (bitmap) or of every node. */
size_t lh_hnsw_exact(const lh_hnsw *h, const float *query, size_t k, const lh_bitmap *allow, lh_hnsw_hit *out)
{
    uint32_t n = atomic_load_explicit(&h->count, memory_order_acquire);
    if (!n || !k) return 0;
    scratch *s = scratch_get(0, h->dim);
    const float *q = prepare_query(h, s, query);
    heap *res = &s->res;
    res->n = 0;
    if (allow) {
        pthread_rwlock_rdlock((pthread_rwlock_t *)&h->map_lock);
        size_t words = (size_t)((allow->nbits + 63) / 64);
        for (size_t w = 0; w < words; w++) {
            uint64_t bits = allow->words[w];
            while (bits) {
                uint64_t label = (uint64_t)w * 64 + (uint64_t)__builtin_ctzll(bits);
                bits &= bits - 1;
                if (label >= allow->nbits) break;
                uint32_t id = map_get(h, label);
                if (id == UINT32_MAX || is_deleted(h, id) ||
                    !(atomic_load(meta_of(h, id)) & FLAG_READY))
                    continue;
                float d = exact_dist(h, q, id);
                maxh_offer(res, k, d, id);
            }
        }
        pthread_rwlock_unlock((pthread_rwlock_t *)&h->map_lock);
    } else {
        for (uint32_t id = 0; id < n; id++) {
            uint32_t meta = atomic_load_explicit(meta_of(h, id), memory_order_acquire);
            if ((meta & META_DELETED) || !(meta & FLAG_READY)) continue;
            float d = exact_dist(h, q, id);
            maxh_offer(res, k, d, id);
        }
    }
    return finish(h, res, k, out);
}

static size_t search(const lh_hnsw *h, const float *query, size_t k, size_t ef, const lh_bitmap *allow,
                     lh_hnsw_hit *out)
{
    uint32_t n = atomic_load_explicit(&h->count, memory_order_acquire);
    uint64_t epw = atomic_load(ep_word((struct lh_hnsw *)h));
    if (!n || !k || epw == UINT64_MAX) return 0;
    if (!ef) ef = h->p.ef_search;
    if (ef < k) ef = k;
    size_t deleted = atomic_load(&h->deleted);
    size_t allowed = n - deleted;
    if (allow) {
        allowed = popcount_allowed(allow);
        /* The graph walk goes on until ef allowed nodes are in hand, so it
         * widens by itself as the filter gets stricter (about ef * n / allowed
         * nodes expanded, each ~16 distances); the beam is doubled at most on
         * top, for the recall lost near the query to filtered-out nodes.
         * Scanning the matches costs `allowed` distances: cheaper when
         * allowed^2 < 16 ef n. */
        double ratio = (double)n / (double)allowed;
        ef = (size_t)((double)ef * (ratio < 2.0 ? ratio : 2.0));
        if (allowed <= k || allowed < 256 || (double)allowed * (double)allowed < 16.0 * (double)ef * (double)n)
            return lh_hnsw_exact(h, query, k, allow, out);
    } else if (deleted && deleted * 2 > n) {
        return lh_hnsw_exact(h, query, k, NULL, out);
    }
    bool sq8 = h->fchunks != NULL;
    size_t want = sq8 ? (k * h->p.rescore > ef ? k * h->p.rescore : ef) : ef;
    scratch *s = scratch_get(n, h->dim);
    const float *q = prepare_query(h, s, query);
    uint32_t ep = (uint32_t)epw;
    if (ep >= n) return 0;
    int top = (int)(epw >> 32);
    float ep_d = walk_dist(h, q, ep);
    for (int lc = top; lc > 0; lc--) ep = greedy(h, q, ep, &ep_d, lc, false, n);
    filter f = {.allow = allow, .skip_deleted = deleted > 0};
    search_layer(h, s, q, ep, ep_d, want, 0, false, (allow || deleted) ? &f : NULL, n);
    if (sq8) { /* re-score the candidates with the float vectors, into a fresh heap */
        size_t m = s->res.n;
        s->res.n = s->cand.n = 0;
        for (size_t i = 0; i < m; i++) {
            pair c = s->res.a[i];
            c.d = exact_dist(h, q, c.id);
            heap_reserve(&s->cand, s->cand.n + 1);
            s->cand.a[s->cand.n++] = c;
        }
        for (size_t i = 0; i < s->cand.n; i++) maxh_offer(&s->res, k, s->cand.a[i].d, s->cand.a[i].id);
    }
    size_t got = finish(h, &s->res, k, out);
    if (got < k && allowed >= k) return lh_hnsw_exact(h, query, k, allow, out); /* never fewer than k */
    return got;
}

size_t lh_hnsw_search(const lh_hnsw *h, const float *query, size_t k, size_t ef, const lh_bitmap *allow,
                      lh_hnsw_hit *out)
{
    size_t got = search(h, query, k, ef, allow, out);
    if (h->warming && !atomic_load_explicit(&h->searched, memory_order_relaxed))
        atomic_store(&((lh_hnsw *)h)->searched, true); /* a loaded file may be paged in now (hnsw_io.c) */
    return got;
}

/* ---- compaction, info ---- */

lh_code lh_hnsw_compact(const lh_hnsw *h, unsigned threads, lh_hnsw **out, lh_err *err)
{
    uint32_t n = atomic_load(&h->count);
    size_t live = n - atomic_load(&h->deleted);
    uint64_t *labels = lh_xmalloc((live ? live : 1) * sizeof *labels);
    float *vecs = lh_xmalloc((live ? live : 1) * h->dim * sizeof(float));
    size_t j = 0;
    for (uint32_t id = 0; id < n && j < live; id++) {
        if (is_deleted(h, id)) continue;
        labels[j] = *label_of(h, id);
        memcpy(vecs + j * h->dim, fvec(h, id), h->dim * sizeof(float));
        j++;
    }
    lh_hnsw_params p = h->p;
    lh_code rc = lh_hnsw_new(&p, j, out, err);
    if (rc == LH_OK) rc = lh_hnsw_add_batch(*out, labels, vecs, j, threads, err);
    if (rc && *out) {
        lh_hnsw_free(*out);
        *out = NULL;
    }
    free(labels);
    free(vecs);
    return rc;
}

lh_code lh_hnsw_clone(const lh_hnsw *h, lh_hnsw **out, lh_err *err)
{
    uint32_t n = atomic_load(&h->count);
    struct lh_hnsw *c;
    lh_code rc = lh_hnsw_new(&h->p, (size_t)n + 1, &c, err);
    if (rc) return rc;
    for (uint32_t first = 0; first < n; first += NODES_PER_CHUNK) {
        size_t nodes = n - first < NODES_PER_CHUNK ? n - first : NODES_PER_CHUNK;
        size_t k = first >> CHUNK_SHIFT;
        memcpy(c->chunks[k], h->chunks[k], nodes * h->stride);
        if (h->fchunks) memcpy(c->fchunks[k], h->fchunks[k], nodes * h->dim * sizeof(float));
    }
    for (uint32_t id = 0; id < n; id++) atomic_fetch_and(meta_of(c, id), ~META_LOCK);
    for (size_t k = 0; k < h->upper_chunks; k++) {
        size_t used = h->upper_used - (k << UPPER_SHIFT);
        c->upper[k] = chunk_alloc(UPPER_CHUNK * sizeof(uint32_t));
        memcpy(c->upper[k], h->upper[k], (used < UPPER_CHUNK ? used : UPPER_CHUNK) * sizeof(uint32_t));
    }
    c->upper_chunks = h->upper_chunks;
    c->upper_used = h->upper_used;
    c->map_slots = h->map_slots;
    c->map_used = h->map_used;
    c->map_keys = lh_xmalloc((h->map_slots ? h->map_slots : 1) * sizeof *c->map_keys);
    c->map_vals = lh_xmalloc((h->map_slots ? h->map_slots : 1) * sizeof *c->map_vals);
    memcpy(c->map_keys, h->map_keys, h->map_slots * sizeof *c->map_keys);
    memcpy(c->map_vals, h->map_vals, h->map_slots * sizeof *c->map_vals);
    if (h->fchunks) {
        memcpy(c->sq_lo, h->sq_lo, h->dim * sizeof(float));
        memcpy(c->sq_step, h->sq_step, h->dim * sizeof(float));
        c->sq_ready = h->sq_ready;
    }
    c->rng = h->rng;
    atomic_store(&c->count, n);
    atomic_store(&c->deleted, atomic_load(&h->deleted));
    atomic_store(ep_word(c), atomic_load(ep_word((struct lh_hnsw *)h)));
    *out = c;
    return LH_OK;
}

void lh_hnsw_get_info(const lh_hnsw *h, lh_hnsw_info *out)
{
    memset(out, 0, sizeof *out);
    out->params = h->p;
    out->count = atomic_load(&h->count);
    out->deleted = atomic_load(&h->deleted);
    out->max_level = out->count ? (int)(atomic_load(ep_word((struct lh_hnsw *)h)) >> 32) : -1;
    out->mapped = h->mapping != NULL;
    size_t links = 4 + 4 * (size_t)h->M0 + 20;
    size_t upper = h->upper_used * 4;
    if (h->fchunks) {
        out->graph_bytes = out->count * h->stride + upper;
        out->vector_bytes = out->count * h->dim * sizeof(float);
    } else {
        out->graph_bytes = out->count * (links + (size_t)h->dim * 4) + upper;
        out->vector_bytes = out->count * h->dim * sizeof(float);
    }
    out->total_bytes = out->count * h->stride + upper + (h->fchunks ? out->vector_bytes : 0) +
                       h->map_slots * (sizeof(uint64_t) + sizeof(uint32_t));
}

const float *lh_hnsw_vector(const lh_hnsw *h, uint64_t label)
{
    pthread_rwlock_rdlock((pthread_rwlock_t *)&h->map_lock);
    uint32_t id = map_get(h, label);
    pthread_rwlock_unlock((pthread_rwlock_t *)&h->map_lock);
    return id == UINT32_MAX ? NULL : fvec(h, id);
}

bool lh_quant_parse(const char *s, lh_quant *out)
{
    if (!strcmp(s, "none")) *out = LH_QUANT_NONE;
    else if (!strcmp(s, "sq8")) *out = LH_QUANT_SQ8;
    else return false;
    return true;
}
