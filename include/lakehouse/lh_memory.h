/*
 * lh_memory.h — the memory layers: playbooks (what completed operations
 * chose, and how it worked out, fed back into hybrid search) and pathways
 * (decision traces). Both are data: rows appended by Lakehouse to the system
 * datasets _playbooks and _pathways (one dataset version per change,
 * journaled like any commit, queryable by SQL). Nothing is updated in
 * place: the current state of a playbook version or a pathway is its newest
 * row (the highest seq); its history is every row. Changes are serialised
 * within a process (seq is the dataset's highest + 1); two processes changing
 * the same data folder at the same moment could number two rows alike.
 * Search reads the live playbooks once per version of _playbooks.
 *
 * Playbooks (playbook.record | list | show | retire)
 * --------------------------------------------------
 * A playbook is one completed operation: its task text ("fill: forklift
 * operator x3 in Chicago, IL"), its context (the city, "Chicago, IL"), the
 * text index whose ids it chose, the workers it chose (ids of that index)
 * and its outcome (success | failure). The task text is embedded with the
 * index's own provider and model, so it compares with that index's queries.
 * A playbook is versioned: recording with `parent` (a playbook id) makes the
 * next version of that playbook — its parent's version gets superseded_at,
 * and failures carries over (the new version's failures is the parent's plus
 * one for a failure). Retiring one hides every version from search.
 *
 * Workers are ids as text: a hit whose id is the integer 17 is worker "17".
 *
 * The boost (search with playbooks = true): the candidates are the live
 * playbook versions (not superseded, not retired) of the same index and,
 * when the search names a context, the same context (ASCII case folded); of those,
 * the ones whose similarity to the query is at least LH_PLAYBOOK_MIN_COS
 * (below it, templated tasks that differ in the one word that matters
 * would boost each other's workers: by the hash embedder, "fill: forklift
 * operator x6 in Indianapolis, IN" and "fill: machine operator x6 in
 * Indianapolis, IN" have cos 0.86, within the injection distance).
 * Each candidate p adds to every worker w it chose (outcome failure or not:
 * failures already discount it)
 *
 *   boost(p) = cos × 0.5 × e^(−age_days / 30) × 0.5^failures / n
 *
 *   cos       cosine similarity of the query's embedding and p's task
 *             embedding (same provider and model: the index's), in [−1, 1];
 *   age_days  (now − the time p's version was recorded) / 86 400 000 ms;
 *   failures  failed outcomes recorded along p's version chain;
 *   n         the number of workers p chose (its endorsement is shared).
 *
 * A hit's boost is the sum over candidates, capped at LH_PLAYBOOK_BOOST_CAP;
 * its score becomes score + boost and hits are ranked again. A worker a
 * candidate chose that the plain search did not return is injected when that
 * candidate's distance (1 − cos) is at most LH_PLAYBOOK_INJECT_DISTANCE and
 * the worker's row is in the index's dataset (and within the search's
 * filter): it scores as if the plain search had ranked it last (the k-th
 * hit's score, 0 when fewer than k) plus its boost. Then the hits are cut
 * to k again. The answer says which hits were boosted or
 * injected and by which playbook versions (hits[].boost,
 * hits[].playbooks, and playbooks:{candidates, boosted, injected}).
 *
 * Pathways (pathway.add | revise | retire | history | search | list)
 * ------------------------------------------------------------------
 * A pathway is a decision trace: "this path, for this task class, on this
 * signal, produced this outcome". Its id is
 *
 *   pathway_id = hex SHA-256 of  task_class "|" prefix "|" signal_class
 *
 * where prefix is the path's first two segments joined by "/" (segments
 * split on "/", empty ones skipped: "/staffing/fill/chicago" -> "staffing/fill").
 * Its vector has LH_PATHWAY_DIM buckets: the text task_class, path and
 * signal_class is cut into tokens (runs of ASCII letters and digits, lower
 * cased, at most their first 256 bytes; other bytes separate), token t adds
 * 1 to bucket FNV-1a-64(t) mod 32,
 * and the vector is scaled to unit length (all zero when there is no token).
 *
 *   ADD      a new pathway (version 1, replay_count 0); the same id again
 *            while it is live is an UPDATE: replay_count + 1, its outcome
 *            and trace the newest; added again after RETIRE: a new version.
 *   REVISE   the next version (version + 1, parent_version, replay_count 0)
 *            with a new path (same prefix), outcome or trace; not when retired.
 *   RETIRE   hides it from search and list; retiring twice is a conflict.
 *   HISTORY  every row of one pathway, oldest first.
 *   SEARCH   the live pathways nearest a text by cosine of the vectors.
 * Memory starts empty: _pathways exists once a first pathway is added.
 */
#ifndef LH_MEMORY_H
#define LH_MEMORY_H

#include <stddef.h>

#define LH_PLAYBOOKS_DATASET "_playbooks"
#define LH_PATHWAYS_DATASET  "_pathways"

#define LH_PLAYBOOK_MAX_WORKERS     1000  /* workers one playbook names */
#define LH_PLAYBOOK_MAX_TEXT        2000  /* bytes of a task, context or outcome note */
#define LH_PLAYBOOK_BOOST_CAP       0.25  /* a hit's boost at most */
#define LH_PLAYBOOK_INJECT_DISTANCE 0.20  /* 1 − cos at most, to inject a missed worker */
#define LH_PLAYBOOK_MIN_COS         0.9   /* candidates' similarity to the query at least */
#define LH_PLAYBOOK_DECAY_DAYS      30.0  /* the e-folding time of the age factor, days */
#define LH_PLAYBOOK_MAX_CANDIDATES  10000 /* live playbook versions a search weighs (the newest) */

#define LH_PATHWAY_DIM      32
#define LH_PATHWAY_MAX_TEXT 4000 /* bytes of a task class, path, signal class, outcome or trace */
#define LH_PATHWAY_MAX_K    100
#define LH_PATHWAY_ID_HEX   64

/* One candidate's boost, uncapped: cos × 0.5 × e^(−age_days/30) × 0.5^failures / n
 * (0 when n is 0; age_days below 0 counts as 0). */
double lh_playbook_boost(double cos, double age_days, long long failures, size_t n);

/* The prefix of a path: its first two non-empty "/"-separated segments,
 * joined by "/", written to out (room for cap bytes, truncated); returns its length. */
size_t lh_pathway_prefix(const char *path, char *out, size_t cap);
/* pathway_id = hex SHA-256 of task_class "|" prefix(path) "|" signal_class. */
void lh_pathway_id(const char *task_class, const char *path, const char *signal_class,
                   char out[LH_PATHWAY_ID_HEX + 1]);
/* The hashed bag of tokens of text, unit length (zeros when no token). */
void lh_pathway_vector(const char *text, double out[LH_PATHWAY_DIM]);

#endif
