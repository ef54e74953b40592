/*
 * bm25.c — the Okapi BM25 index (lh_bm25.h) over the tokens of lh_text.h.
 *
 * Layout, chosen for a small footprint at millions of postings:
 *   - terms: an open-addressing table (linear probing, load <= 1/2) of
 *     64-bit slots, hash in the high half and term number + 1 in the low
 *     half, over an array of term records; token bytes live in one arena
 *     (terms point at them by offset, so the arena may move when it grows).
 *   - postings: per term, a byte string of varint entries, each the
 *     zig-zag delta from the previous label (labels may arrive in any
 *     order) shifted left once, low bit set when tf > 1 (then tf - 2
 *     follows as a second varint): a tf-1 posting of a dense term costs one
 *     byte. The newest posting of a term is held unencoded in the record
 *     (its tf still counts up while its document is being added), so a term
 *     seen in one document owns no buffer at all.
 *   - lengths: one uint32 per label up to the largest, NO_DOC where none.
 *
 *   - skips: every SKIP encoded postings of a term, the last label and the
 *     byte offset after them, so a cursor can jump over whole blocks.
 *
 * Search, when every query term's labels arrived in ascending order (the
 * usual case: an index version adds its chunks in label order), the query
 * has at most 32 distinct terms and is not a filtered one over short
 * postings, is document-at-a-time with MaxScore
 * (Turtle & Flood): terms sorted by their score upper bound; once the k-th
 * best score exceeds what the weakest terms together could give, documents
 * found only in those are never visited, and those terms' cursors are only
 * advanced (by skips) to documents the others found. Otherwise it is
 * term-at-a-time into an accumulator: a dense float array (plus the labels
 * touched) when the postings are a fair share of the label space, a small
 * hash table of candidates when not. Both sum a document's term scores in
 * the same order (by term number), so both give the same floats. Top k: a
 * bounded heap, built in the caller's out array. Search writes to nothing
 * shared, so any number may run at once.
 */
#include "lakehouse/lh_bm25.h"

#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_text.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NO_DOC        UINT32_MAX
#define SKIP          64    /* postings a skip entry covers */
#define MAX_DAAT      32    /* distinct query terms, at most, for MaxScore */
#define TAAT_FILTERED 16384 /* filtered queries with fewer postings: term-at-a-time */

/* With labels below 2^28 one posting is at most 10 bytes (5 + 5), so no
 * term's postings reach 4 GiB and uint32 sizes suffice. */
_Static_assert(LH_BM25_MAX_LABEL < (1u << 28), "posting sizes are uint32");

/* ---- the index ---- */

typedef struct skip {
    uint32_t last; /* label of the block's last posting */
    uint32_t end;  /* byte offset after the block */
} skip;

/* A term; its postings are buf (df - 1 encoded) then the pending one. */
typedef struct term {
    uint32_t off;      /* token bytes in the arena */
    uint32_t df;       /* documents holding the term */
    uint32_t prev;     /* label of the last encoded posting (the delta base) */
    uint32_t last;     /* the newest posting, not yet encoded: label... */
    uint32_t last_tf;  /* ...and its term frequency */
    uint32_t len, cap; /* encoded postings */
    uint8_t tlen;      /* token bytes */
    bool unsorted;     /* some label came after a larger one */
    uint16_t max_tf;   /* largest tf (saturated) */
    uint8_t *buf;
    skip *skips; /* (df - 1) / SKIP of them */
} term;

struct lh_bm25 {
    float k1, b;
    /* terms */
    term *terms;
    uint32_t nterms, terms_cap;
    uint64_t *slots; /* hash << 32 | (term + 1); 0 = empty */
    size_t slots_mask;
    char *arena;
    size_t arena_len, arena_cap;
    size_t postings_bytes; /* sum of the terms' buffer capacities */
    /* documents */
    uint32_t *doclen; /* by label; NO_DOC where none */
    size_t doclen_cap;
    size_t ndocs;
    uint64_t total_len; /* tokens in all documents */
    uint32_t min_len;   /* of the documents with a token */
    /* lh_bm25_add's scratch: the term of each token of the document */
    uint32_t *scratch;
    size_t scratch_len, scratch_cap;
    bool scratch_full; /* the document overflowed the arena */
};

static inline uint32_t token_hash(const char *t, size_t n)
{
    /* 64-bit FNV-1a over 8-byte words, then a final avalanche */
    uint64_t h = 0xcbf29ce484222325ULL ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, t + i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    memcpy(&w, t + i, n - i);
    h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ULL;
    h ^= h >> 32;
    return (uint32_t)h;
}

/* The term of token t, or UINT32_MAX. */
static uint32_t term_find(const lh_bm25 *b, const char *t, size_t n, uint32_t h)
{
    if (!b->slots) return UINT32_MAX;
    for (size_t i = h & b->slots_mask;; i = (i + 1) & b->slots_mask) {
        uint64_t s = b->slots[i];
        if (!s) return UINT32_MAX;
        if ((uint32_t)(s >> 32) != h) continue;
        const term *tm = &b->terms[(uint32_t)s - 1];
        if (tm->tlen == n && !memcmp(b->arena + tm->off, t, n)) return (uint32_t)s - 1;
    }
}

static void slots_grow(lh_bm25 *b)
{
    size_t cap = b->slots ? (b->slots_mask + 1) * 2 : 1024;
    uint64_t *slots = lh_xcalloc(cap, sizeof *slots);
    for (uint32_t t = 0; t < b->nterms; t++) {
        const term *tm = &b->terms[t];
        uint32_t h = token_hash(b->arena + tm->off, tm->tlen);
        size_t i = h & (cap - 1);
        while (slots[i]) i = (i + 1) & (cap - 1);
        slots[i] = (uint64_t)h << 32 | (t + 1);
    }
    free(b->slots);
    b->slots = slots;
    b->slots_mask = cap - 1;
}

/* The term of token t, interned when new; UINT32_MAX when the arena is full. */
static uint32_t term_intern(lh_bm25 *b, const char *t, size_t n)
{
    uint32_t h = token_hash(t, n);
    uint32_t found = term_find(b, t, n, h);
    if (found != UINT32_MAX) return found;
    if (b->arena_len + n > UINT32_MAX || b->nterms >= UINT32_MAX - 1) return UINT32_MAX;
    if (!b->slots || (size_t)(b->nterms + 1) * 2 > b->slots_mask + 1) slots_grow(b);
    if (b->nterms == b->terms_cap) {
        b->terms_cap = b->terms_cap ? b->terms_cap + b->terms_cap / 2 : 256;
        b->terms = lh_xrealloc(b->terms, (size_t)b->terms_cap * sizeof *b->terms);
    }
    if (b->arena_len + n > b->arena_cap) {
        size_t cap = b->arena_cap ? b->arena_cap * 2 : 4096;
        while (cap < b->arena_len + n) cap *= 2;
        b->arena = lh_xrealloc(b->arena, cap);
        b->arena_cap = cap;
    }
    memcpy(b->arena + b->arena_len, t, n);
    uint32_t id = b->nterms++;
    b->terms[id] = (term){.off = (uint32_t)b->arena_len, .tlen = (uint8_t)n};
    b->arena_len += n;
    size_t i = h & b->slots_mask;
    while (b->slots[i]) i = (i + 1) & b->slots_mask;
    b->slots[i] = (uint64_t)h << 32 | (id + 1);
    return id;
}

static inline size_t varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static inline uint64_t varint_get(const uint8_t **pp)
{
    const uint8_t *p = *pp;
    uint64_t v = 0;
    for (unsigned shift = 0;; shift += 7) {
        uint8_t c = *p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (c < 0x80) break;
    }
    *pp = p;
    return v;
}

/* Encodes the term's pending posting into its buffer. */
static void posting_flush(lh_bm25 *b, term *tm)
{
    uint8_t tmp[20];
    int64_t d = (int64_t)tm->last - (int64_t)tm->prev;
    uint64_t zz = ((uint64_t)d << 1) ^ (uint64_t)(d >> 63);
    size_t n = varint_put(tmp, zz << 1 | (tm->last_tf > 1));
    if (tm->last_tf > 1) n += varint_put(tmp + n, (uint64_t)tm->last_tf - 2);
    if (tm->len + n > tm->cap) {
        size_t cap = tm->cap ? (size_t)tm->cap * 2 : 8;
        while (cap < tm->len + n) cap *= 2;
        if (cap > UINT32_MAX) cap = UINT32_MAX; /* unreachable below LH_BM25_MAX_LABEL */
        tm->buf = lh_xrealloc(tm->buf, cap);
        b->postings_bytes += cap - tm->cap;
        tm->cap = (uint32_t)cap;
    }
    memcpy(tm->buf + tm->len, tmp, n);
    tm->len += (uint32_t)n;
    tm->prev = tm->last;
    uint32_t encoded = tm->df; /* this one included; df counts the next pending one later */
    if (encoded % SKIP == 0) {
        uint32_t ns = encoded / SKIP; /* the new count */
        if ((ns & (ns - 1)) == 0) {   /* a power of two: full */
            tm->skips = lh_xrealloc(tm->skips, (size_t)ns * 2 * sizeof *tm->skips);
            b->postings_bytes += (size_t)(ns * 2 - (ns > 1 ? ns : 0)) * sizeof *tm->skips;
        }
        tm->skips[ns - 1] = (skip){tm->last, tm->len};
    }
}

lh_code lh_bm25_new(const lh_bm25_params *p, lh_bm25 **out, lh_err *err)
{
    *out = NULL;
    float k1 = p ? p->k1 : 0, bb = p ? p->b : 0;
    if (k1 == 0) k1 = 1.2f;
    if (bb == 0) bb = 0.75f;
    if (!(k1 > 0 && k1 <= 1000))
        return lh_err_set(err, LH_EINVAL, "bm25 k1 must be in (0, 1000], not %g", k1);
    if (!(bb > 0 && bb <= 1))
        return lh_err_set(err, LH_EINVAL, "bm25 b must be in (0, 1], not %g", bb);
    lh_bm25 *b = lh_xcalloc(1, sizeof *b);
    b->k1 = k1;
    b->b = bb;
    *out = b;
    return LH_OK;
}

void lh_bm25_free(lh_bm25 *b)
{
    if (!b) return;
    for (uint32_t t = 0; t < b->nterms; t++) {
        free(b->terms[t].buf);
        free(b->terms[t].skips);
    }
    free(b->terms);
    free(b->slots);
    free(b->arena);
    free(b->doclen);
    free(b->scratch);
    free(b);
}

static void on_doc_token(void *ctx, const char *tok, size_t n)
{
    lh_bm25 *b = ctx;
    if (b->scratch_full) return;
    uint32_t t = term_intern(b, tok, n);
    if (t == UINT32_MAX) {
        b->scratch_full = true;
        return;
    }
    if (b->scratch_len == b->scratch_cap) {
        b->scratch_cap = b->scratch_cap ? b->scratch_cap * 2 : 256;
        b->scratch = lh_xrealloc(b->scratch, b->scratch_cap * sizeof *b->scratch);
    }
    b->scratch[b->scratch_len++] = t;
}

lh_code lh_bm25_add(lh_bm25 *b, uint32_t label, const char *text, size_t len, lh_err *err)
{
    if (label > LH_BM25_MAX_LABEL)
        return lh_err_set(err, LH_EINVAL, "bm25 label %u is past the largest, %u", label,
                          LH_BM25_MAX_LABEL);
    if (!text && len) return lh_err_set(err, LH_EINVAL, "bm25 document %u: no text", label);
    if (label < b->doclen_cap && b->doclen[label] != NO_DOC)
        return lh_err_set(err, LH_EEXIST, "bm25 document %u was added already", label);
    if (len / 2 >= NO_DOC)
        return lh_err_set(err, LH_ETOOBIG, "bm25 document %u is too long", label);

    /* Terms first: the only step that can fail, and it changes nothing a
     * search sees (an interned term without postings matches nothing). */
    b->scratch_len = 0;
    b->scratch_full = false;
    lh_text_tokens(text, len, on_doc_token, b);
    if (b->scratch_full)
        return lh_err_set(err, LH_ETOOBIG, "bm25 document %u: the vocabulary is over 4 GiB", label);

    if (label >= b->doclen_cap) {
        size_t cap = b->doclen_cap ? b->doclen_cap : 1024;
        while (cap <= label) cap *= 2;
        if (cap > (size_t)LH_BM25_MAX_LABEL + 1) cap = (size_t)LH_BM25_MAX_LABEL + 1;
        b->doclen = lh_xrealloc(b->doclen, cap * sizeof *b->doclen);
        memset(b->doclen + b->doclen_cap, 0xff, (cap - b->doclen_cap) * sizeof *b->doclen);
        b->doclen_cap = cap;
    }
    for (size_t i = 0; i < b->scratch_len; i++) {
        term *tm = &b->terms[b->scratch[i]];
        if (tm->df && tm->last == label) {
            if (tm->last_tf < UINT32_MAX) tm->last_tf++;
            if (tm->last_tf > tm->max_tf)
                tm->max_tf = tm->last_tf > UINT16_MAX ? UINT16_MAX : (uint16_t)tm->last_tf;
            continue;
        }
        if (tm->df) {
            posting_flush(b, tm);
            if (label < tm->last) tm->unsorted = true;
        }
        tm->last = label;
        tm->last_tf = 1;
        if (!tm->max_tf) tm->max_tf = 1;
        tm->df++;
    }
    b->doclen[label] = (uint32_t)b->scratch_len;
    if (b->scratch_len && (!b->min_len || b->scratch_len < b->min_len))
        b->min_len = (uint32_t)b->scratch_len;
    b->ndocs++;
    b->total_len += b->scratch_len;
    /* a huge document should not pin its scratch for the index's life */
    if (b->scratch_cap > 65536) {
        free(b->scratch);
        b->scratch = NULL;
        b->scratch_cap = 0;
    }
    b->scratch_len = 0;
    return LH_OK;
}

size_t lh_bm25_docs(const lh_bm25 *b)
{
    return b ? b->ndocs : 0;
}

size_t lh_bm25_terms(const lh_bm25 *b)
{
    return b ? b->nterms : 0;
}

size_t lh_bm25_memory(const lh_bm25 *b)
{
    if (!b) return 0;
    return sizeof *b + (size_t)b->terms_cap * sizeof(term) +
           (b->slots ? (b->slots_mask + 1) * 8 : 0) + b->arena_cap + b->postings_bytes +
           b->doclen_cap * sizeof(uint32_t) + b->scratch_cap * sizeof(uint32_t);
}

/* ---- search ---- */

struct query {
    const lh_bm25 *b;
    uint32_t *terms;
    size_t n, cap;
};

static void on_query_token(void *ctx, const char *tok, size_t n)
{
    struct query *q = ctx;
    uint32_t t = term_find(q->b, tok, n, token_hash(tok, n));
    if (t == UINT32_MAX || !q->b->terms[t].df) return;
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 16;
        q->terms = lh_xrealloc(q->terms, q->cap * sizeof *q->terms);
    }
    q->terms[q->n++] = t;
}

static int cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return (a > b) - (a < b);
}

static inline bool allowed(const lh_bitmap *allow, uint32_t label)
{
    return !allow || (label < allow->nbits && ((allow->words[label >> 6] >> (label & 63)) & 1));
}

/* The first allowed label >= from, or NO_DOC. */
static uint32_t next_allowed(const lh_bitmap *allow, uint32_t from)
{
    uint64_t nbits = allow->nbits < (uint64_t)LH_BM25_MAX_LABEL + 1
                         ? allow->nbits
                         : (uint64_t)LH_BM25_MAX_LABEL + 1;
    if (from >= nbits) return NO_DOC;
    size_t wi = from >> 6, nw = (size_t)((nbits + 63) >> 6);
    uint64_t w = allow->words[wi] & (~0ULL << (from & 63));
    while (!w) {
        if (++wi >= nw) return NO_DOC;
        w = allow->words[wi];
    }
    uint64_t l = ((uint64_t)wi << 6) + (uint64_t)__builtin_ctzll(w);
    return l < nbits ? (uint32_t)l : NO_DOC;
}

/* The accumulator: dense (acc by label, touched lists the labels) or a
 * hash table (keys, acc; NO_DOC = empty). */
struct acc {
    float *acc;
    uint32_t *keys;
    uint32_t *touched;
    size_t ntouched, mask;
    int shift;
};

static inline void acc_add(struct acc *a, uint32_t label, float s)
{
    if (!a->keys) {
        if (a->acc[label] == 0) a->touched[a->ntouched++] = label;
        a->acc[label] += s;
        return;
    }
    size_t i = (size_t)((label * 0x9E3779B97F4A7C15ULL) >> a->shift);
    for (;; i = (i + 1) & a->mask) {
        if (a->keys[i] == label) {
            a->acc[i] += s;
            return;
        }
        if (a->keys[i] == NO_DOC) {
            a->keys[i] = label;
            a->acc[i] = s;
            a->ntouched++;
            return;
        }
    }
}

/* Heap of hits, worst at the root. */
static inline bool worse(const lh_bm25_hit *x, const lh_bm25_hit *y)
{
    return x->score < y->score || (x->score == y->score && x->label > y->label);
}

static void sift_down(lh_bm25_hit *h, size_t n, size_t i)
{
    lh_bm25_hit v = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && worse(&h[c + 1], &h[c])) c++;
        if (!worse(&h[c], &v)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = v;
}

static void sift_up(lh_bm25_hit *h, size_t i)
{
    lh_bm25_hit v = h[i];
    while (i) {
        size_t p = (i - 1) / 2;
        if (!worse(&v, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = v;
}

static inline void heap_offer(lh_bm25_hit *h, size_t *n, size_t k, uint32_t label, float score)
{
    lh_bm25_hit v = {label, score};
    if (*n < k) {
        h[*n] = v;
        sift_up(h, (*n)++);
    } else if (worse(&h[0], &v)) {
        h[0] = v;
        sift_down(h, k, 0);
    }
}

/* What a search shares between its terms. */
struct scorer {
    const lh_bm25 *b;
    const lh_bitmap *allow;
    float c1, c2; /* the length norm is c1 + c2 * dl */
};

static inline float term_weight(const lh_bm25 *b, const term *tm)
{
    double n = (double)b->ndocs, df = tm->df;
    return (float)(log(1 + (n - df + 0.5) / (df + 0.5)) * ((double)b->k1 + 1));
}

static inline float contribution(const struct scorer *sc, float w, uint32_t tf, uint32_t label)
{
    float ftf = (float)tf;
    return w * ftf / (ftf + sc->c1 + sc->c2 * (float)sc->b->doclen[label]);
}

/* Term-at-a-time: every posting of every term into the accumulator, terms
 * by ascending number. */
static size_t search_taat(const struct scorer *sc, const uint32_t *terms, size_t nq,
                          uint64_t sum_df, size_t k, lh_bm25_hit *out)
{
    const lh_bm25 *b = sc->b;
    struct acc a = {0};
    size_t nlabels = b->doclen_cap;
    if (sum_df * 32 >= nlabels) {
        a.acc = lh_xcalloc(nlabels, sizeof *a.acc);
        a.touched = lh_xmalloc((sum_df < nlabels ? sum_df : nlabels) * sizeof *a.touched);
    } else {
        size_t cap = 16;
        a.shift = 60;
        while (cap < sum_df * 2) cap *= 2, a.shift--;
        a.mask = cap - 1;
        a.keys = lh_xmalloc(cap * sizeof *a.keys);
        memset(a.keys, 0xff, cap * sizeof *a.keys);
        a.acc = lh_xmalloc(cap * sizeof *a.acc);
    }
    for (size_t i = 0; i < nq; i++) {
        const term *tm = &b->terms[terms[i]];
        float w = term_weight(b, tm);
        const uint8_t *p = tm->buf, *end = tm->buf + tm->len;
        uint32_t label = 0;
        for (uint32_t j = 0; j < tm->df; j++) {
            uint32_t tf;
            if (p < end) {
                uint64_t v = varint_get(&p);
                uint64_t zz = v >> 1;
                label += (uint32_t)((zz >> 1) ^ (0 - (zz & 1)));
                tf = (v & 1) ? (uint32_t)varint_get(&p) + 2 : 1;
            } else {
                label = tm->last;
                tf = tm->last_tf;
            }
            if (!allowed(sc->allow, label)) continue;
            acc_add(&a, label, contribution(sc, w, tf, label));
        }
    }
    size_t m = 0;
    if (!a.keys) {
        for (size_t i = 0; i < a.ntouched; i++)
            heap_offer(out, &m, k, a.touched[i], a.acc[a.touched[i]]);
    } else if (a.ntouched) {
        for (size_t i = 0; i <= a.mask; i++)
            if (a.keys[i] != NO_DOC) heap_offer(out, &m, k, a.keys[i], a.acc[i]);
    }
    free(a.acc);
    free(a.keys);
    free(a.touched);
    return m;
}

/* A cursor over one term's postings, in ascending label order. */
typedef struct cursor {
    const term *tm;
    const uint8_t *p;
    uint32_t label, tf; /* the current posting; label NO_DOC past the end */
    uint32_t pos;       /* postings read */
    uint32_t slot;      /* the term's place in the query (by term number) */
    float w;
    double ub;  /* no document gets more from this term... */
    double ub1; /* ...nor more from one occurrence of it */
} cursor;

static inline void cursor_next(cursor *c)
{
    const term *tm = c->tm;
    if (c->pos + 1 < tm->df) {
        uint64_t v = varint_get(&c->p);
        uint64_t zz = v >> 1;
        c->label += (uint32_t)((zz >> 1) ^ (0 - (zz & 1)));
        c->tf = (v & 1) ? (uint32_t)varint_get(&c->p) + 2 : 1;
    } else if (c->pos + 1 == tm->df) {
        c->label = tm->last;
        c->tf = tm->last_tf;
    } else {
        c->label = NO_DOC;
        return;
    }
    c->pos++;
}

/* Moves to the first posting with a label >= target. */
static inline void cursor_seek(cursor *c, uint32_t target)
{
    if (c->label >= target) return;
    const term *tm = c->tm;
    uint32_t nskips = (tm->df - 1) / SKIP, blk = c->pos / SKIP; /* the block of the next posting */
    if (blk < nskips && tm->skips[blk].last < target) {
        do blk++;
        while (blk < nskips && tm->skips[blk].last < target);
        c->p = tm->buf + tm->skips[blk - 1].end;
        c->label = tm->skips[blk - 1].last;
        c->pos = blk * SKIP;
    }
    while (c->label < target) cursor_next(c);
}

static int cmp_cursor_ub(const void *x, const void *y)
{
    const cursor *a = x, *b = y;
    if (a->ub != b->ub) return a->ub < b->ub ? -1 : 1;
    return (a->slot > b->slot) - (a->slot < b->slot);
}

/* Document-at-a-time with MaxScore over sorted postings (nq <= MAX_DAAT). */
static size_t search_daat(const struct scorer *sc, const uint32_t *terms, size_t nq, size_t k,
                          lh_bm25_hit *out)
{
    const lh_bm25 *b = sc->b;
    cursor c[MAX_DAAT];
    double bound[MAX_DAAT]; /* bound[i]: the most cursors 0..i give together */
    float part[MAX_DAAT];   /* the current document's term scores, by slot */
    float min_norm = sc->c1 + sc->c2 * (float)b->min_len;
    for (size_t i = 0; i < nq; i++) {
        const term *tm = &b->terms[terms[i]];
        c[i] = (cursor){.tm = tm, .p = tm->buf, .slot = (uint32_t)i, .w = term_weight(b, tm)};
        /* tf / (tf + norm) grows with tf, shrinks with norm, stays below 1;
         * a little slack for float sums taken in another order */
        double mtf = tm->max_tf;
        c[i].ub = tm->max_tf == UINT16_MAX ? c[i].w : c[i].w * mtf / (mtf + min_norm);
        c[i].ub = c[i].ub * (1 + 1e-4) + 1e-30;
        c[i].ub1 = c[i].w / (1 + (double)min_norm) * (1 + 1e-4) + 1e-30;
        cursor_next(&c[i]);
    }
    qsort(c, nq, sizeof *c, cmp_cursor_ub);
    double acc = 0;
    for (size_t i = 0; i < nq; i++) bound[i] = acc += c[i].ub;

    size_t m = 0, first = 0; /* cursors below first are non-essential */
    for (;;) {
        uint32_t d = NO_DOC;
        for (size_t i = first; i < nq; i++)
            if (c[i].label < d) d = c[i].label;
        if (d == NO_DOC) break;
        if (!allowed(sc->allow, d)) {
            /* the filter is a cursor too: on to the next allowed label */
            d = next_allowed(sc->allow, d);
            if (d == NO_DOC) break;
            for (size_t i = first; i < nq; i++) cursor_seek(&c[i], d);
            continue;
        }
        bool full = m == k;
        double theta = full ? out[0].score : 0;
        if (full) {
            /* a bound from the tfs alone (the shortest length for all):
             * most documents are out of reach without reading their length */
            double most = first ? bound[first - 1] : 0;
            for (size_t i = first; i < nq; i++) {
                if (c[i].label != d) continue;
                double tf = c[i].tf;
                most +=
                    c[i].tf == 1 ? c[i].ub1 : c[i].w * tf / (tf + min_norm) * (1 + 1e-4) + 1e-30;
            }
            if (most * (1 + 1e-5) <= theta) {
                for (size_t i = first; i < nq; i++)
                    if (c[i].label == d) cursor_next(&c[i]);
                continue;
            }
        }
        uint32_t mask = 0;
        double s = 0;
        for (size_t i = first; i < nq; i++) {
            if (c[i].label != d) continue;
            float v = contribution(sc, c[i].w, c[i].tf, d);
            part[c[i].slot] = v;
            mask |= 1u << c[i].slot;
            s += v;
            cursor_next(&c[i]);
        }
        bool out_of_reach = false;
        for (size_t i = first; i-- > 0;) {
            if (full && (s + bound[i]) * (1 + 1e-5) <= theta) { /* 1e-5: float rounding */
                out_of_reach = true;
                break;
            }
            cursor_seek(&c[i], d);
            if (c[i].label == d) {
                float v = contribution(sc, c[i].w, c[i].tf, d);
                part[c[i].slot] = v;
                mask |= 1u << c[i].slot;
                s += v;
            }
        }
        if (out_of_reach) continue;
        float score = 0;
        for (uint32_t bits = mask; bits; bits &= bits - 1) score += part[__builtin_ctz(bits)];
        heap_offer(out, &m, k, d, score);
        if (m == k) {
            /* a later document needs more than the k-th best (ties go to lower labels) */
            theta = out[0].score;
            while (first < nq && bound[first] <= theta) first++;
        }
    }
    return m;
}

size_t lh_bm25_search(const lh_bm25 *b, const char *query, size_t len, size_t k,
                      const lh_bitmap *allow, lh_bm25_hit *out)
{
    if (!b || !k || !out || !b->ndocs || (!query && len)) return 0;
    struct query q = {.b = b};
    lh_text_tokens(query, len, on_query_token, &q);
    if (!q.n) {
        free(q.terms);
        return 0;
    }
    /* each distinct query term counts once */
    qsort(q.terms, q.n, sizeof *q.terms, cmp_u32);
    size_t nq = 1;
    for (size_t i = 1; i < q.n; i++)
        if (q.terms[i] != q.terms[nq - 1]) q.terms[nq++] = q.terms[i];
    uint64_t sum_df = 0;
    bool sorted = nq <= MAX_DAAT;
    for (size_t i = 0; i < nq; i++) {
        sum_df += b->terms[q.terms[i]].df;
        sorted &= !b->terms[q.terms[i]].unsorted;
    }
    /* filtered and short: reading every posting beats cursors that rarely
     * fill the heap (measured on Zipf text, 100k and 1M documents) */
    if (allow && sum_df < TAAT_FILTERED) sorted = false;
    double k1 = b->k1, bb = b->b, avgdl = (double)b->total_len / (double)b->ndocs;
    struct scorer sc = {b, allow, (float)(k1 * (1 - bb)), (float)(k1 * bb / avgdl)};
    size_t m = sorted ? search_daat(&sc, q.terms, nq, k, out)
                      : search_taat(&sc, q.terms, nq, sum_df, k, out);
    /* heap sort: the worst goes last */
    for (size_t i = m; i > 1; i--) {
        lh_bm25_hit t = out[0];
        out[0] = out[i - 1];
        out[i - 1] = t;
        sift_down(out, i - 1, 0);
    }
    free(q.terms);
    return m;
}
