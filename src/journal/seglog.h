/*
 * seglog.h — an append-only log of JSON records, kept as immutable segments
 * in object storage. Both journals (mutations, errors) are built on it.
 *
 *   append   the record goes to a local write-ahead file (write + fdatasync)
 *            and to an in-memory buffer; it is durable when append returns
 *   flush    the buffer becomes one new object
 *            <prefix><ms since epoch, 13 digits>-<replica>-<seq>.ndjson,
 *            written with put-if-absent (never rewritten), then the WAL is
 *            truncated. A background thread flushes every flush_ms, and
 *            sooner when flush_events records are waiting.
 *   recover  each process owns its WAL file (<wal_dir>/<name>-<pid>.wal,
 *            held with flock); at open, WALs whose owner died are adopted
 *            and flushed, so a crash loses nothing that append acknowledged.
 *   scan     flushed segments (from every replica; parsed once and cached,
 *            since they never change) followed by the buffer.
 */
#ifndef LH_SEGLOG_H
#define LH_SEGLOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "lakehouse/lh_err.h"
#include "lakehouse/lh_store.h"

typedef struct seglog seglog;

typedef struct seglog_options {
    const char *name;     /* "journal", "errors": names the WAL file */
    const char *prefix;   /* "_journal/": where segments go in the store */
    const char *wal_dir;  /* local folder for write-ahead files */
    const char *replica;  /* short id of this process, part of segment names */
    long flush_ms;
    long flush_events;
} seglog_options;

lh_code seglog_open(lh_store *store, const seglog_options *opt, seglog **out, lh_err *err);
/* Flushes what is buffered (best effort) and stops the flusher thread. */
void seglog_close(seglog *log);

/* Appends one record (a JSON object; the log takes a reference). Never fails:
 * if the WAL cannot be written the record stays in memory and a warning is logged.
 * sync: the WAL reaches the disk before it returns; else a crash may lose the
 * record until the next synced one or flush (the audit of reads). */
void seglog_append(seglog *log, json_t *record, bool sync);

lh_code seglog_flush(seglog *log, lh_err *err);

/* Calls fn for every record, oldest first (segment order, then buffer);
 * stops early when fn returns false. */
lh_code seglog_scan(seglog *log, bool (*fn)(void *ctx, json_t *record), void *ctx, lh_err *err);

typedef struct seglog_stats {
    uint64_t appended;  /* by this process since open */
    uint64_t flushed_segments;
    uint64_t failed_flushes;
    size_t buffered;
    int64_t last_flush_ms;
} seglog_stats;

void seglog_get_stats(seglog *log, seglog_stats *out);

#endif
