/*
 * vindex.c — id tables, loaded index versions, and the hot-swap slots.
 */
#include "lakehouse/lh_vindex.h"

#include "lakehouse/lh_hash.h"
#include "lakehouse/lh_mem.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---- id tables: ids in label order, and an open-addressing index over them ---- */

struct lh_idtab {
    bool strings;
    size_t n, cap;
    int64_t *ints;          /* integer ids */
    uint64_t *offs;         /* string ids: id i is blob[offs[i] .. offs[i + 1]) */
    char *blob;
    size_t blob_len, blob_cap;
    uint32_t *slots;        /* label + 1; 0 = empty */
    size_t nslots;
};

static uint64_t hash_id(const lh_idtab *t, lh_id id)
{
    if (!t->strings) return lh_hash_mix64((uint64_t)id.i);
    return lh_hash_mix64(lh_hash_fnv1a(LH_FNV1A_BASIS, id.s, id.len));
}

lh_id lh_idtab_get(const lh_idtab *t, uint64_t label)
{
    if (!t->strings) return (lh_id){.i = t->ints[label]};
    return (lh_id){.s = t->blob + t->offs[label], .len = (size_t)(t->offs[label + 1] - t->offs[label])};
}

static bool same(const lh_idtab *t, uint64_t label, lh_id id)
{
    if (!t->strings) return t->ints[label] == id.i;
    lh_id have = lh_idtab_get(t, label);
    return have.len == id.len && memcmp(have.s, id.s, id.len) == 0;
}

static void slots_insert(lh_idtab *t, lh_id id, uint32_t label)
{
    size_t j = hash_id(t, id) & (t->nslots - 1);
    while (t->slots[j]) j = (j + 1) & (t->nslots - 1);
    t->slots[j] = label + 1;
}

static void slots_grow(lh_idtab *t)
{
    free(t->slots);
    t->nslots = t->nslots ? t->nslots * 2 : 1024;
    t->slots = lh_xcalloc(t->nslots, sizeof *t->slots);
    for (size_t i = 0; i < t->n; i++) slots_insert(t, lh_idtab_get(t, i), (uint32_t)i);
}

lh_idtab *lh_idtab_new(bool strings)
{
    lh_idtab *t = lh_xcalloc(1, sizeof *t);
    t->strings = strings;
    if (strings) t->offs = lh_xcalloc(1, sizeof *t->offs);
    return t;
}

lh_idtab *lh_idtab_clone(const lh_idtab *t)
{
    lh_idtab *c = lh_xcalloc(1, sizeof *c);
    *c = *t;
    c->cap = t->n ? t->n : 1;
    if (t->strings) {
        c->offs = lh_xmalloc((c->cap + 1) * sizeof *c->offs);
        memcpy(c->offs, t->offs, (t->n + 1) * sizeof *c->offs);
        c->blob_cap = t->blob_len ? t->blob_len : 1;
        c->blob = lh_xmalloc(c->blob_cap);
        if (t->blob_len) memcpy(c->blob, t->blob, t->blob_len);
    } else {
        c->ints = lh_xmalloc(c->cap * sizeof *c->ints);
        if (t->n) memcpy(c->ints, t->ints, t->n * sizeof *c->ints);
    }
    c->slots = lh_xmalloc((t->nslots ? t->nslots : 1) * sizeof *c->slots);
    if (t->nslots) memcpy(c->slots, t->slots, t->nslots * sizeof *c->slots);
    return c;
}

void lh_idtab_free(lh_idtab *t)
{
    if (!t) return;
    free(t->ints);
    free(t->offs);
    free(t->blob);
    free(t->slots);
    free(t);
}

bool lh_idtab_strings(const lh_idtab *t)
{
    return t->strings;
}

size_t lh_idtab_count(const lh_idtab *t)
{
    return t->n;
}

bool lh_idtab_find(const lh_idtab *t, lh_id id, uint64_t *label)
{
    if (!t->nslots) return false;
    for (size_t j = hash_id(t, id) & (t->nslots - 1); t->slots[j]; j = (j + 1) & (t->nslots - 1)) {
        if (same(t, t->slots[j] - 1, id)) {
            *label = t->slots[j] - 1;
            return true;
        }
    }
    return false;
}

lh_code lh_idtab_add(lh_idtab *t, lh_id id, uint64_t *label, lh_err *err)
{
    uint64_t have;
    if (lh_idtab_find(t, id, &have)) {
        if (t->strings)
            return lh_err_set(err, LH_EEXIST, "id \"%.*s\" appears twice", (int)(id.len > 200 ? 200 : id.len), id.s);
        return lh_err_set(err, LH_EEXIST, "id %lld appears twice", (long long)id.i);
    }
    if (t->n >= UINT32_MAX - 1) return lh_err_set(err, LH_ETOOBIG, "an index holds at most 2^32 - 2 ids");
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 1024;
        if (t->strings) t->offs = lh_xrealloc(t->offs, (t->cap + 1) * sizeof *t->offs);
        else t->ints = lh_xrealloc(t->ints, t->cap * sizeof *t->ints);
    }
    if (t->strings) {
        if (t->blob_len + id.len > t->blob_cap) {
            t->blob_cap = (t->blob_len + id.len) * 2 + 1024;
            t->blob = lh_xrealloc(t->blob, t->blob_cap);
        }
        if (id.len) memcpy(t->blob + t->blob_len, id.s, id.len);
        t->blob_len += id.len;
        t->offs[t->n + 1] = t->blob_len;
    } else {
        t->ints[t->n] = id.i;
    }
    *label = t->n++;
    if (t->n * 2 > t->nslots) slots_grow(t);
    else slots_insert(t, id, (uint32_t)*label);
    return LH_OK;
}

lh_code lh_idtab_parse(const lh_idtab *t, const json_t *v, lh_id *out, lh_err *err)
{
    if (t->strings) {
        if (!json_is_string(v)) return lh_err_set(err, LH_EINVAL, "ids of this index are strings");
        *out = (lh_id){.s = json_string_value(v), .len = json_string_length(v)};
        return LH_OK;
    }
    if (!json_is_integer(v)) return lh_err_set(err, LH_EINVAL, "ids of this index are integers");
    *out = (lh_id){.i = json_integer_value(v)};
    return LH_OK;
}

json_t *lh_idtab_json(const lh_idtab *t, uint64_t label)
{
    lh_id id = lh_idtab_get(t, label);
    return t->strings ? json_stringn(id.s, id.len) : json_integer(id.i);
}

/* ---- versions ---- */

lh_vindex *lh_vindex_new(const char *name, int64_t version, lh_hnsw *hnsw, lh_idtab *ids, json_t *manifest)
{
    lh_vindex *v = lh_xcalloc(1, sizeof *v);
    v->name = lh_xstrdup(name);
    v->version = version;
    v->hnsw = hnsw;
    v->ids = ids;
    v->manifest = manifest;
    atomic_init(&v->refs, 1);
    return v;
}

lh_vindex *lh_vindex_ref(lh_vindex *v)
{
    atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
    return v;
}

void lh_vtext_free(lh_vtext *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) free(t->chunks[i]);
    free(t->chunks);
    lh_bm25_free(t->bm25);
    free(t);
}

void lh_vindex_unref(lh_vindex *v)
{
    if (!v || atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) != 1) return;
    lh_hnsw_free(v->hnsw);
    lh_idtab_free(v->ids);
    lh_vtext_free(v->text);
    json_decref(v->manifest);
    free(v->name);
    free(v);
}

lh_code lh_vindex_search(const lh_vindex *v, const float *query, size_t dim, size_t k, size_t ef,
                         const json_t *filter_ids, json_t **hits, lh_err *err)
{
    lh_hnsw_info info;
    lh_hnsw_get_info(v->hnsw, &info);
    if (dim != info.params.dim)
        return lh_err_set(err, LH_EINVAL, "the query vector has %zu dimensions; index %s has %u", dim, v->name,
                          info.params.dim);
    for (size_t i = 0; i < dim; i++)
        if (!isfinite(query[i])) return lh_err_set(err, LH_EINVAL, "the query vector has a non-finite value at %zu", i);
    if (k < 1 || k > LH_VINDEX_MAX_K) return lh_err_set(err, LH_EINVAL, "k must be 1..%d", LH_VINDEX_MAX_K);
    if (ef > LH_HNSW_MAX_EF) return lh_err_set(err, LH_EINVAL, "ef must be at most %d", LH_HNSW_MAX_EF);
    lh_bitmap allow = {0};
    uint64_t *words = NULL;
    if (filter_ids) {
        if (!json_is_array(filter_ids)) return lh_err_set(err, LH_EINVAL, "filter_ids must be an array of ids");
        size_t n = lh_idtab_count(v->ids);
        words = lh_xcalloc(n / 64 + 1, sizeof *words);
        size_t i;
        json_t *x;
        json_array_foreach(filter_ids, i, x) {
            lh_id id;
            uint64_t label;
            if (lh_idtab_parse(v->ids, x, &id, err) != LH_OK) {
                free(words);
                return lh_err_wrap(err, "filter_ids[%zu]", i);
            }
            if (lh_idtab_find(v->ids, id, &label)) words[label >> 6] |= 1ULL << (label & 63);
        }
        allow = (lh_bitmap){.words = words, .nbits = n};
    }
    lh_hnsw_hit *out = lh_xmalloc(k * sizeof *out);
    size_t got = lh_hnsw_search(v->hnsw, query, k, ef, filter_ids ? &allow : NULL, out);
    json_t *list = json_array();
    for (size_t i = 0; i < got; i++)
        json_array_append_new(list, json_pack("{s:o, s:f}", "id", lh_idtab_json(v->ids, out[i].label), "distance",
                                              (double)out[i].distance));
    free(out);
    free(words);
    *hits = list;
    return LH_OK;
}

/* ---- slots ---- */

typedef struct slot {
    char *name;
    _Atomic(lh_vindex *) live;
    _Atomic long pins; /* acquirers between loading live and taking their reference */
    pthread_mutex_t publish; /* one publisher at a time per slot */
} slot;

struct lh_vslots {
    pthread_rwlock_t lock; /* the slot table (slots are only ever added) */
    slot **slots;
    size_t n, cap;
};

lh_vslots *lh_vslots_new(void)
{
    lh_vslots *s = lh_xcalloc(1, sizeof *s);
    pthread_rwlock_init(&s->lock, NULL);
    return s;
}

void lh_vslots_free(lh_vslots *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) {
        lh_vindex_unref(atomic_load(&s->slots[i]->live));
        pthread_mutex_destroy(&s->slots[i]->publish);
        free(s->slots[i]->name);
        free(s->slots[i]);
    }
    free(s->slots);
    pthread_rwlock_destroy(&s->lock);
    free(s);
}

static slot *find_slot(lh_vslots *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->slots[i]->name, name) == 0) return s->slots[i];
    return NULL;
}

lh_vindex *lh_vslots_acquire(lh_vslots *s, const char *name)
{
    pthread_rwlock_rdlock(&s->lock);
    slot *sl = find_slot(s, name);
    pthread_rwlock_unlock(&s->lock);
    if (!sl) return NULL;
    atomic_fetch_add(&sl->pins, 1);
    lh_vindex *v = atomic_load(&sl->live);
    if (v) lh_vindex_ref(v);
    atomic_fetch_sub(&sl->pins, 1);
    return v;
}

void lh_vslots_publish(lh_vslots *s, const char *name, lh_vindex *next)
{
    pthread_rwlock_wrlock(&s->lock);
    slot *sl = find_slot(s, name);
    if (!sl) {
        sl = lh_xcalloc(1, sizeof *sl);
        sl->name = lh_xstrdup(name);
        pthread_mutex_init(&sl->publish, NULL);
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 16;
            s->slots = lh_xrealloc(s->slots, s->cap * sizeof *s->slots);
        }
        s->slots[s->n++] = sl;
    }
    pthread_rwlock_unlock(&s->lock);
    pthread_mutex_lock(&sl->publish);
    lh_vindex *old = atomic_exchange(&sl->live, next);
    /* an acquirer that loaded old before the exchange is still pinned; once
     * the pins drain, every such acquirer holds its own reference */
    while (atomic_load(&sl->pins)) __builtin_ia32_pause();
    pthread_mutex_unlock(&sl->publish);
    lh_vindex_unref(old);
}
