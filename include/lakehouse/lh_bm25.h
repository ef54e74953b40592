/*
 * lh_bm25.h — full-text ranking (Okapi BM25) over the chunks of an index
 * (fusing its ranking with another: lh_fusion.h).
 *
 * Documents are identified by the same dense labels as the vectors of an
 * index version (lh_vindex), so one allow-list bitmap filters both. An
 * lh_bm25 is built once per index version (adds, then searches: adds are not
 * safe against concurrent searches; searches are safe against each other).
 *
 * Documents and queries are split into tokens alike, by lh_text_tokens
 * (lh_text.h); each distinct query token counts once, however often it repeats.
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

#include "lakehouse/lh_bitmap.h"
#include "lakehouse/lh_err.h"

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

#endif
