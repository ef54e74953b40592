/*
 * lh_journal.h — the two append-only journals: mutations and failures.
 *
 * Mutation journal: every change to the system's state (dataset create,
 * commit, rollback, tombstone, delete; bucket and configuration changes;
 * later index swaps and profile changes) appends one event
 *   {id, ts, entity_type, entity_id, action, old, new, actor, source, request_id}
 * Error journal: every failed storage, ingest or provider operation appends
 *   {id, ts, operation, bucket, key, code, error, request_id}
 *
 * Both are durable once recorded (a local write-ahead file, fdatasync'd) and
 * are flushed in immutable segments to the store (_journal/, _errors/), never
 * rewritten. A crash loses nothing that was recorded; a flushed segment is
 * one object written atomically, so it is never torn.
 */
#ifndef LH_JOURNAL_H
#define LH_JOURNAL_H

#include <jansson.h>
#include <stdint.h>

#include "lakehouse/lh_err.h"
#include "lakehouse/lh_store.h"

typedef struct lh_journal_options {
    const char *wal_dir;  /* local folder for write-ahead files */
    const char *replica;  /* short id of this process (segment names, event ids) */
    long flush_ms;
    long flush_events;
} lh_journal_options;

/* ---- mutation journal ---- */

typedef struct lh_journal lh_journal;

typedef struct lh_journal_event {
    const char *entity_type; /* "dataset", "bucket", "config", "index", "profile" */
    const char *entity_id;   /* "workers" */
    const char *action;      /* "create", "commit", "rollback", "tombstone", "delete", ... */
    json_t *old_value;       /* borrowed; NULL for none */
    json_t *new_value;       /* borrowed; NULL for none */
    const char *actor;       /* who: a user, an agent, "system" */
    const char *source;      /* through what: "http", "cli", "mcp", "system" */
    /* written ahead without waiting for the disk: a crash may lose it until the
     * next durable event or flush. For the audit of calls, never for mutations. */
    bool relaxed;
} lh_journal_event;

lh_code lh_journal_open(lh_store *store, const lh_journal_options *opt, lh_journal **out,
                        lh_err *err);
void lh_journal_close(lh_journal *j); /* flushes */

/* Appends an event (with the calling thread's request id, if any). */
void lh_journal_record(lh_journal *j, const lh_journal_event *ev);
lh_code lh_journal_flush(lh_journal *j, lh_err *err);

/* New references: arrays of events, newest first. entity_id NULL = all. */
lh_code lh_journal_recent(lh_journal *j, const char *entity_id, size_t limit, json_t **out,
                          lh_err *err);
/* {events, by_action{}, by_entity_type{}, segments_flushed, buffered, ...} */
lh_code lh_journal_stats(lh_journal *j, json_t **out, lh_err *err);

/* ---- error journal ---- */

typedef struct lh_errors lh_errors;

lh_code lh_errors_open(lh_store *store, const lh_journal_options *opt, lh_errors **out,
                       lh_err *err);
void lh_errors_close(lh_errors *e);

/* Records a failure (with the calling thread's request id, if any). */
void lh_errors_record(lh_errors *e, const char *operation, const char *bucket, const char *key,
                      const lh_err *err);
lh_code lh_errors_flush(lh_errors *e, lh_err *err);

/* Failures at or after since_ms (ms since the epoch), newest first. */
lh_code lh_errors_query(lh_errors *e, int64_t since_ms, size_t limit, json_t **out, lh_err *err);

/* Adapter: install as a store's on_error observer with the lh_errors as ctx. */
void lh_errors_store_observer(void *ctx, const char *op, const char *bucket, const char *key,
                              const lh_err *err);

#endif
