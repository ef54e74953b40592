/*
 * lh_vindex.h — a loaded index version, and the hot-swap slots that publish them.
 *
 * An lh_vindex is one immutable version of a named index: its HNSW graph and
 * the table that maps the graph's labels (0, 1, 2, ... in embedding order) to
 * the caller's ids (integers or strings) and back. It is reference counted:
 * a search holds a reference for as long as it runs.
 *
 * lh_vslots maps index names to their live version. The live version of a
 * slot is an atomic pointer: lh_vslots_acquire pins the slot, loads the
 * pointer, takes a reference and unpins (a few instructions, no lock);
 * lh_vslots_publish exchanges the pointer, waits for pins in flight (not for
 * searches) and drops the slot's reference to the old version, which is freed
 * when its last search ends. A swap therefore never fails, blocks or breaks a
 * running search.
 */
#ifndef LH_VINDEX_H
#define LH_VINDEX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lakehouse/lh_bm25.h"
#include "lakehouse/lh_err.h"
#include "lakehouse/lh_hnsw.h"

/* ---- ids: label <-> caller id ---- */

typedef struct lh_idtab lh_idtab;

/* One id: an integer (int tables) or a byte string (string tables). */
typedef struct lh_id {
    int64_t i;
    const char *s;
    size_t len;
} lh_id;

lh_idtab *lh_idtab_new(bool strings);
lh_idtab *lh_idtab_clone(const lh_idtab *t);
void lh_idtab_free(lh_idtab *t);
bool lh_idtab_strings(const lh_idtab *t);
size_t lh_idtab_count(const lh_idtab *t);

/* Appends id as the next label; LH_EEXIST if the id is there already. */
lh_code lh_idtab_add(lh_idtab *t, lh_id id, uint64_t *label, lh_err *err);
bool lh_idtab_find(const lh_idtab *t, lh_id id, uint64_t *label);
lh_id lh_idtab_get(const lh_idtab *t, uint64_t label);

/* JSON <-> id, in the table's type (an integer table accepts JSON integers,
 * a string table JSON strings). */
lh_code lh_idtab_parse(const lh_idtab *t, const json_t *v, lh_id *out, lh_err *err);
json_t *lh_idtab_json(const lh_idtab *t, uint64_t label);

/* ---- a loaded version ---- */

/* The text side of a text index version: each label's chunk text, and the
 * BM25 index over them. */
typedef struct lh_vtext {
    char **chunks; /* n, by label ("" where a label has none) */
    size_t n;
    lh_bm25 *bm25;
} lh_vtext;

void lh_vtext_free(lh_vtext *t); /* NULL is fine */

typedef struct lh_vindex {
    char *name;
    int64_t version;
    lh_hnsw *hnsw;
    lh_idtab *ids;
    json_t *manifest; /* its version manifest (lh_vectors.h) */
    lh_vtext *text;   /* text indexes only (set before publishing; owned) */
    _Atomic long refs;
} lh_vindex;

/* Takes ownership of hnsw, ids and the manifest reference; refs = 1. */
lh_vindex *lh_vindex_new(const char *name, int64_t version, lh_hnsw *hnsw, lh_idtab *ids, json_t *manifest);
lh_vindex *lh_vindex_ref(lh_vindex *v);
void lh_vindex_unref(lh_vindex *v); /* NULL is fine */

#define LH_VINDEX_MAX_K 1000

/* Searches the version: query of dim floats, k (1..LH_VINDEX_MAX_K), ef (0:
 * the index default), filter_ids NULL or a JSON array of ids (unknown ids
 * match nothing). *hits: [{id, distance}], nearest first. */
lh_code lh_vindex_search(const lh_vindex *v, const float *query, size_t dim, size_t k, size_t ef,
                         const json_t *filter_ids, json_t **hits, lh_err *err);

/* ---- hot-swap slots ---- */

typedef struct lh_vslots lh_vslots;

lh_vslots *lh_vslots_new(void);
void lh_vslots_free(lh_vslots *s); /* drops every slot's reference */

/* A new reference to the live version of name, or NULL. Lock-free. */
lh_vindex *lh_vslots_acquire(lh_vslots *s, const char *name);
/* Makes next (a reference the slot takes over; may be NULL) the live version
 * of name, creating the slot on first use. */
void lh_vslots_publish(lh_vslots *s, const char *name, lh_vindex *next);

#endif
