/*
 * lh_fusion.h — rank fusion (hybrid search): two ranked lists of one label
 * space (the vector hits and the BM25 hits of an index version) made one.
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
#ifndef LH_FUSION_H
#define LH_FUSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum lh_fusion { LH_FUSION_RRF, LH_FUSION_WEIGHTED } lh_fusion;

const char *lh_fusion_name(lh_fusion f); /* "rrf" | "weighted" */
bool lh_fusion_parse(const char *s, lh_fusion *out);

typedef struct lh_fusion_item {
    uint32_t label;
    float score; /* higher is better */
} lh_fusion_item;

typedef struct lh_fusion_hit {
    uint32_t label;
    double score;
    int rank_a, rank_b; /* 1-based rank in each input list, 0 when absent */
} lh_fusion_hit;

/* Fuses a[na] and b[nb] into out (room for k), best first (ties: lower
 * label first). Returns how many were written (min(k, distinct labels)). */
size_t lh_fusion_fuse(lh_fusion f, double w, double rrf_k, const lh_fusion_item *a, size_t na,
                      const lh_fusion_item *b, size_t nb, size_t k, lh_fusion_hit *out);

#endif
