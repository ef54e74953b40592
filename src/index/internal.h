/*
 * internal.h — what the files of the index service share (src/index/).
 *
 * Files, each calling only those above it in this list:
 *   embeddings.c  embeddings Parquet in and out (embeddings.h)
 *   vindex.c      ids, a loaded version, hot-swap slots (lh_vindex.h)
 *   chunks.c      the text side of a version (settings, text SQL, BM25)
 *   versions.c    entries, reading and writing versions and promotions
 *   vectors.c     indexes over a vector column; reading any index
 *   text.c        text indexes: embedding, refresh, staleness, on_append worker
 *   search.c      hybrid search, filters, ask, the SQL table function
 *   service.c     open, close, create (of either kind)
 */
#ifndef LH_VECTOR_INTERNAL_H
#define LH_VECTOR_INTERNAL_H

#include "embeddings.h"

#include "lakehouse/lh_fusion.h"
#include "lakehouse/lh_manifests.h"
#include "lakehouse/lh_vectors.h"

#include <pthread.h>
#include <stdatomic.h>

#define VEC_COMMIT_ATTEMPTS 50 /* lost races a version or promotion survives (lh_manifests) */
#define QCACHE_SLOTS 512
#define RCACHE_SETS 2048
#define RCACHE_WAYS 4

/* The two write-once logs of an index (lh_manifests.h): versions
 * _catalog/indexes/<name>/v<N>.json and promotions
 * _catalog/indexes/<name>/live/p<N>.json, with the strings they borrow. */
struct vec_logs {
    char *dir, *live_dir, *what;
    lh_manifests versions, promotions;
};

struct entry {
    char *name;
    struct vec_logs logs;
    pthread_mutex_t mu;   /* writers and refreshes of this index */
    int64_t head;         /* newest version known */
    json_t *manifests;    /* version summaries, oldest first; null until read (vec_summary) */
    json_t *promotions;   /* promotion records, oldest first; null until read (vec_promotions) */
    _Atomic int64_t checked_ms;
};

struct lh_vectors {
    lh_vectors_config cfg;
    char *tmp_dir, *cache_dir;
    lh_vslots *slots;
    pthread_mutex_t mu; /* the entry table */
    struct entry **e;
    size_t n, cap;
    /* on_append refreshes: datasets waiting, one worker thread */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    json_t *queue; /* dataset names */
    bool stopping, worker_started, busy;
    pthread_t worker;
    /* recent query embeddings, by provider, model and text (search.c) */
    pthread_mutex_t qcache_mu;
    struct qcache_entry {
        char *key;
        float *vec;
        uint32_t dim;
    } qcache[QCACHE_SLOTS];
    /* the newest query vectors of every index (a ring; qlog.c): shadow queries */
    pthread_mutex_t qlog_mu;
    struct qlog_entry {
        char *index;
        float *vec;
        uint32_t dim;
    } qlog[LH_VECTORS_QUERY_LOG];
    size_t qlog_next;
    /* source rows of recent hits, by dataset version and id (search.c), a
     * set-associative LRU: versions never change, so an entry is never stale */
    pthread_mutex_t rcache_mu;
    uint64_t rcache_clock;
    struct rcache_entry {
        char *key;
        json_t *row; /* never modified once cached: shared read-only */
        uint64_t used;
    } rcache[RCACHE_SETS][RCACHE_WAYS];
};

/* qlog.c: remembers a query of index (a copy); frees the ring. */
void vec_qlog_note(lh_vectors *v, const char *index, const float *vec, uint32_t dim);
void vec_qlog_free(lh_vectors *v);

/* What a writer has prepared: the graph and ids of the new version, the
 * manifest fields that do not depend on its number, and a new embeddings
 * file (or none). */
typedef struct draft {
    json_t *m;        /* stolen by commit */
    lh_hnsw *hnsw;    /* stolen by commit */
    lh_idtab *ids;    /* stolen by commit */
    lh_vtext *text;   /* stolen by commit (text indexes) */
    const char *emb;  /* local Parquet to add to the objects, or NULL */
    size_t emb_rows;
} draft;

static inline const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static inline int64_t num(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

/* ---- chunks.c: the text side of a version ---- */

/* The text side of a version from its chunk texts (taken over; n of them). */
lh_code vec_text_new(char **chunks, size_t n, const lh_idtab *ids, const json_t *deleted, lh_vtext **out,
                     lh_err *err);
lh_code vec_text_check(const json_t *text, lh_err *err); /* the "text" object of a manifest */
/* Appends the SQL expression of a row's text (settings t: columns or template)
 * over the columns of dataset version dm; unknown columns are LH_EINVAL. */
lh_code vec_text_expr(const json_t *dm, const json_t *t, lh_buf *sql, lh_err *err);
/* The type of a column of dataset version dm, or NULL when it has none of that name. */
const char *vec_field_type(const json_t *dm, const char *column);

/* ---- versions.c: entries, versions, promotions ---- */

lh_store *vec_home(lh_vectors *v);
char *vec_tmp_path(lh_vectors *v, const char *ext);
bool vec_integer_type(const char *t);

/* The entry of name (LH_ENOTFOUND unless creating, for an index storage does not know). */
lh_code vec_entry(lh_vectors *v, const char *name, bool creating, struct entry **out, lh_err *err);
struct entry *vec_find_entry(lh_vectors *v, const char *name); /* the known entry, or NULL (no storage read) */
void vec_entries_free(lh_vectors *v); /* every entry (closing) */
/* Whether key names version 1 of an index; *name then gets its name (owned). */
bool vec_first_version_key(const char *key, char **name);
/* Caller holds e->mu for these. */
lh_code vec_refresh(lh_vectors *v, struct entry *e, lh_err *err);
lh_code vec_sync_live(lh_vectors *v, struct entry *e, lh_err *err);
int64_t vec_live_of(const struct entry *e);
lh_code vec_commit(lh_vectors *v, struct entry *e, draft *d, bool promote, const lh_who *who, json_t **out,
                   lh_err *err);

lh_code vec_read_manifest(lh_vectors *v, const char *name, int64_t version, json_t **out, lh_err *err);
/* Version n's summary (borrowed from e), read the first time it is asked
 * for; NULL with err when it does not read. Caller holds e->mu. */
const json_t *vec_summary(lh_vectors *v, struct entry *e, int64_t n, lh_err *err);
/* Reads the promotion records not read yet (vec_refresh reads the newest). */
lh_code vec_promotions(struct entry *e, lh_err *err);
lh_code vec_read_embeddings(lh_vectors *v, const json_t *m, int what, emb_rows *r, lh_err *err);
lh_code vec_build(lh_vectors *v, const lh_hnsw_params *p, const uint64_t *labels, const float *vecs, size_t n,
                  lh_hnsw **out, lh_err *err);
json_t *vec_draft_manifest(const char *name, const char *operation, int64_t parent, const lh_hnsw *h, bool strings,
                           json_t *origin, json_t *objects, json_t *deleted, size_t labels, const char *message,
                           const lh_who *who);
uint64_t *vec_sequence(size_t n);

/* ---- vectors.c: indexes over a vector column ---- */

lh_code vec_vectors_create(lh_vectors *v, const char *name, const lh_vectors_spec *spec, const lh_who *who,
                           json_t **out, lh_err *err);

/* ---- text.c: text indexes ---- */

lh_code vec_text_create(lh_vectors *v, const char *name, const lh_vectors_spec *spec, const lh_who *who,
                        json_t **out, lh_err *err);
void vec_worker_stop(lh_vectors *v);

/* ---- search.c ---- */

void vec_qcache_free(lh_vectors *v);
void vec_rcache_free(lh_vectors *v);

#endif
