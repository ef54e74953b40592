/*
 * lh_bm25.h — full-text ranking (Okapi BM25) over the chunks of an index,
 * and fusion of ranked lists (hybrid search).
 *
 * Documents are identified by the same dense labels as the vectors of an
 * index version (lh_vindex), so one allow-list bitmap filters both. An
 * lh_bm25 is built once per index version (adds, then searches: adds are not
 * safe against concurrent searches; searches are safe against each other).
 *
 * Tokens: maximal runs of letters and digits (ASCII and any valid non-ASCII
 * UTF-8 sequence counts as a letter; a byte of invalid UTF-8 separates),
 * ASCII lower-cased, cut to their first 64 bytes (at a character boundary),
 * with a small English stop-word list removed (a an and are as at be by for
 * from in is it of on or that the this to was were with; also when the stem
 * makes one) and a light plural stem on words longer than 3 bytes ending in
 * "s": "-ies" -> "-y" (not on 4-byte words: "ties" -> "tie"), "-es" dropped
 * after "x", "ss", "ch", "sh" ("boxes", "classes"), "-ss" and "-us" kept
 * ("class", "status"), else the "s" dropped ("workers", "databases"). Query
 * and documents are tokenized alike; each distinct query token counts once,
 * however often it repeats.
 *
 * Scores: sum over the distinct query terms in a document of
 *   idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl)),
 *   idf = ln(1 + (N - df + 0.5) / (df + 0.5))   (Lucene's; always positive),
 * with dl the document's token count and N the documents added.
 */
#ifndef LH_BM25_H
#define LH_BM25_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lakehouse/lh_err.h"
#include "lakehouse/lh_hnsw.h" /* lh_bitmap */

typedef struct lh_bm25 lh_bm25;

/* Labels are dense (per-label arrays are sized to the largest one). */
#define LH_BM25_MAX_LABEL ((1u << 28) - 1)

typedef struct lh_bm25_params {
    float k1; /* term-frequency saturation (0: 1.2) */
    float b;  /* length normalisation (0: 0.75; use a tiny positive value for none) */
} lh_bm25_params;

typedef struct lh_bm25_hit {
    uint32_t label;
    float score; /* higher is better */
} lh_bm25_hit;

lh_code lh_bm25_new(const lh_bm25_params *p, lh_bm25 **out, lh_err *err);
void lh_bm25_free(lh_bm25 *b);

/* Adds the text of document `label` (each label at most once: LH_EEXIST;
 * past LH_BM25_MAX_LABEL: LH_EINVAL). k1 must be in (0, 1000], b in (0, 1]. */
lh_code lh_bm25_add(lh_bm25 *b, uint32_t label, const char *text, size_t len, lh_err *err);

/* The k best documents for the query that contain at least one query token,
 * best first (ties: lower label first), restricted to allow when it is not
 * NULL. out has room for k. Returns how many were written. */
size_t lh_bm25_search(const lh_bm25 *b, const char *query, size_t len, size_t k, const lh_bitmap *allow,
                      lh_bm25_hit *out);

size_t lh_bm25_docs(const lh_bm25 *b);
size_t lh_bm25_terms(const lh_bm25 *b);
size_t lh_bm25_memory(const lh_bm25 *b); /* bytes held */

/* Calls fn for each token of text (the token is not NUL-terminated). */
void lh_text_tokens(const char *text, size_t len, void (*fn)(void *ctx, const char *tok, size_t n), void *ctx);

/* ---- fusion ---------------------------------------------------------------
 *
 * Two ranked lists (best first) of the same label space become one:
 *   RRF       score = w / (rrf_k + rank_a) + (1 - w) / (rrf_k + rank_b), ranks from 1;
 *             a label absent from a list contributes nothing from it.
 *   WEIGHTED  score = w * norm_a + (1 - w) * norm_b, each list's scores min-max
 *             normalised to [0, 1] (best = 1; a one-element list is 1) and
 *             absent = 0. Scores must be "higher is better": negate
 *             distances before fusing.
 * w is the weight of list a (the vector list, by convention) in [0, 1]:
 * outside it is clamped, NaN counts as 0.5. rrf_k below 0 counts as 0, NaN
 * as 60. A label listed twice in one list keeps its first position.
 */
typedef enum lh_fusion { LH_FUSION_RRF, LH_FUSION_WEIGHTED } lh_fusion;

const char *lh_fusion_name(lh_fusion f); /* "rrf" | "weighted" */
bool lh_fusion_parse(const char *s, lh_fusion *out);

typedef struct lh_ranked {
    uint32_t label;
    float score; /* higher is better */
} lh_ranked;

typedef struct lh_fused {
    uint32_t label;
    double score;
    int rank_a, rank_b; /* 1-based rank in each input list, 0 when absent */
} lh_fused;

/* Fuses a[na] and b[nb] into out (room for k), best first (ties: lower
 * label first). Returns how many were written (min(k, distinct labels)). */
size_t lh_fuse(lh_fusion f, double w, double rrf_k, const lh_ranked *a, size_t na, const lh_ranked *b, size_t nb,
               size_t k, lh_fused *out);

#endif
