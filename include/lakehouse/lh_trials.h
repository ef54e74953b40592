/*
 * lh_trials.h — trials as data: an index configuration measured against an
 * evaluation set, recorded as rows of the dataset _trials; autotune over a
 * grid of configurations; promotion gated by shadow queries; a watch that
 * rolls a regressed index back.
 *
 * A trial (operation trials.run) measures one configuration of an index —
 * M, ef_construction, quantization and seed, which need a graph of their
 * own (a new index version built from the same embeddings, not promoted),
 * and ef_search, which does not — against an evaluation set: by default
 * LH_TRIALS_QUERIES stored vectors drawn by a seed are the queries and an
 * exhaustive scan gives their true LH_TRIALS_K nearest (lh_hnsw_evaluate);
 * a held-out set (text indexes) or a labelled dataset is measured through
 * search, with MRR (trials.c says how each is made). It records recall@10,
 * top-1 agreement, p50/p99 search latency, build time and memory, with the
 * index version, the dataset version it embeds, the evaluation set, the
 * machine and the time: one row of _trials per configuration, appended as a
 * new version of _trials (journaled like any commit, queryable by SQL:
 * SELECT config, recall_at_10, p50_ms FROM _trials WHERE index_name = 'x').
 *
 * Autotune (index.autotune) runs a grid: every ef_search of `ef` on each
 * graph of `M` (the live one when M is not asked). The best configuration
 * is the fastest (p50) of those reaching the target recall, or failing
 * that the one with the highest recall. With promote, the best goes through
 * the gate:
 *
 *   - under LH_TRIALS_FLOOR recall nothing is promotable;
 *   - shadow queries: the newest real queries of the index (the query log,
 *     lh_vectors_recent_queries), topped up with evaluation queries, run on
 *     the live and the candidate versions; the candidate is refused (409,
 *     with the figures) when its mean overlap@10 with the live answers is
 *     under LH_TRIALS_GATE_OVERLAP while its own recall is not higher, when
 *     its recall is under the live one's by more than LH_TRIALS_GATE_RECALL,
 *     or when its p50 is more than LH_TRIALS_GATE_SLOWER times the live one's
 *     for no better recall (slower and better is the trade the target asked);
 *   - then it is made live (a version with the chosen ef_search as its own).
 *
 * The watch (index.watch, and after every promotion of an index that has
 * trials) measures the live version again on its evaluation set; if its
 * recall is under the index's target (that of its newest promoted trial, or
 * else of its newest trial), or it lost to its own trial's figures (recall,
 * or latency: lh_trials_regressed), it rolls back to the version live
 * before, journaled with the figures.
 */
#ifndef LH_TRIALS_H
#define LH_TRIALS_H

#define LH_TRIALS_DATASET "_trials"
#define LH_TRIALS_QUERIES 200       /* evaluation queries (default) */
#define LH_TRIALS_MAX_QUERIES 10000
#define LH_TRIALS_K 10
#define LH_TRIALS_FLOOR 0.9         /* recall below which nothing is promotable */
#define LH_TRIALS_MAX_GRID 64       /* configurations in one autotune */
#define LH_TRIALS_GATE_QUERIES 100  /* shadow queries at most */
#define LH_TRIALS_GATE_OVERLAP 0.9  /* mean overlap@10 with the live answers */
#define LH_TRIALS_GATE_RECALL 0.01  /* recall the candidate may lose to the live version */
#define LH_TRIALS_GATE_SLOWER 2.0   /* p50 the candidate may take, as a multiple of the live one's */
#define LH_TRIALS_WATCH_DROP 0.02   /* recall a promoted version may lose against its trial */
#define LH_TRIALS_WATCH_SLOWER 2.0  /* p50 it may take, as a multiple of its trial's ... */
#define LH_TRIALS_WATCH_SLOWER_MS 1.0 /* ... and in ms beyond it (sub-ms timings are noise) */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The watch's verdict on version `version`, measured now at recall and
 * p50_ms: regressed when recall is under target, or (with its own trial's
 * figures, have_trial) under the trial's recall by more than
 * LH_TRIALS_WATCH_DROP, or slower than LH_TRIALS_WATCH_SLOWER times the
 * trial's p50 and by more than LH_TRIALS_WATCH_SLOWER_MS. True with the
 * reason (figures included) written into why. */
bool lh_trials_regressed(int64_t version, double recall, double p50_ms, double target, bool have_trial,
                         double trial_recall, double trial_p50_ms, char *why, size_t n);

#endif
