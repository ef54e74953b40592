/*
 * lh_manifests.h — write-once numbered manifests: the one commit protocol of
 * dataset versions (lh_catalog.h), index versions and index promotions
 * (lh_vectors.h).
 *
 * A log is a folder of JSON objects
 *
 *   <dir>/<stem>00000001.json, <dir>/<stem>00000002.json, ...
 *
 * each written once with put-if-absent (fs: link()/O_EXCL; S3:
 * If-None-Match: *), so two writers — threads or replicas — never both win
 * number N. Numbers are contiguous from 1: a commit writes N + 1 only after
 * it has read N, so the head (the highest number) is found by reading on
 * from a known one until an object is absent (lh_manifests_scan), the known
 * one being what a listing shows (lh_manifests_last).
 *
 * A commit (lh_manifests_commit) is a loop: the caller catches up with
 * storage and says the head H; the caller builds manifest H + 1 on top of
 * it; put-if-absent. A lost race (the number is taken) backs off (jittered,
 * exponential: a random 1..min(MAX, MIN * 2^attempt) ms) and goes again,
 * at most max_attempts times; then LH_ECONFLICT. A commit that expects a
 * head fails at once with LH_ECONFLICT when storage is past it.
 *
 * The log does no locking of its own: callers serialise their own writers
 * (fewer lost races) and keep their own cache of what they have read.
 */
#ifndef LH_MANIFESTS_H
#define LH_MANIFESTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "lakehouse/lh_buckets.h"
#include "lakehouse/lh_err.h"

#define LH_MANIFESTS_MAX_ATTEMPTS 50   /* default bound on lost races per commit */
#define LH_MANIFESTS_BACKOFF_MIN_MS 1  /* the first retry waits 1..2 ms */
#define LH_MANIFESTS_BACKOFF_MAX_MS 32 /* no retry waits longer */
#define LH_MANIFESTS_ANY_HEAD (-1)     /* lh_manifests_commit: no expected head */

/* Where a log lives and how it reports; every pointer is borrowed. */
typedef struct lh_manifests {
    lh_buckets *buckets; /* reads fall back to its rescue bucket; writes are mirrored there */
    lh_store *store;     /* the bucket holding the log */
    const char *dir;     /* key prefix without a trailing slash: "_catalog/datasets/sales" */
    const char *stem;    /* before the number: "v" (NULL) or "p" */
    const char *what;    /* the log in error messages: "dataset sales" */
    int max_attempts;    /* lost races a commit survives (0: LH_MANIFESTS_MAX_ATTEMPTS) */
} lh_manifests;

/* The key of manifest n: "<dir>/<stem>%08d.json" (owned by the caller). */
char *lh_manifests_key(const lh_manifests *log, int64_t n);

/* The number of a manifest from its file name ("v00000042.json" -> 42, the
 * name after the last '/' when given a key); false when it is not one. */
bool lh_manifests_parse_name(const lh_manifests *log, const char *name, int64_t *n);

/* Reads manifest n as JSON (LH_ENOTFOUND when absent; a torn or unparsable
 * object is read again a few times, then LH_ECORRUPT). What it says is for
 * the caller to check: storage is untrusted. */
lh_code lh_manifests_read(const lh_manifests *log, int64_t n, json_t **out, lh_err *err);

/* The highest number one listing of the log's folder shows (0: none): a
 * start that needs only the head reads one manifest, not every one. A
 * listing may lag a commit in flight; read on from it with lh_manifests_scan. */
lh_code lh_manifests_last(const lh_manifests *log, int64_t *n, lh_err *err);

/* Writes manifest n once (compact, keys sorted); LH_EEXIST when n is taken. */
lh_code lh_manifests_put(const lh_manifests *log, int64_t n, const json_t *m, lh_err *err);

/* Reads manifests after + 1, after + 2, ... until one is absent, handing
 * each to fn (which takes the reference; an error it returns stops the
 * scan and is returned). *head: the last number read (after if none). */
typedef lh_code (*lh_manifests_each_fn)(void *ctx, int64_t n, json_t *m, lh_err *err);
lh_code lh_manifests_scan(const lh_manifests *log, int64_t after, lh_manifests_each_fn fn, void *ctx,
                          int64_t *head, lh_err *err);

/* lh_manifests_scan from the newest manifest a listing shows: for callers
 * that keep only the newest (one listing and a read or two, not a read per
 * version). */
lh_code lh_manifests_scan_newest(const lh_manifests *log, lh_manifests_each_fn fn, void *ctx, int64_t *head,
                                 lh_err *err);

/* What a committer supplies. */
typedef struct lh_manifests_writer {
    /* Catches up with storage (lh_manifests_scan past what the caller
     * knows) and says the head (0: an empty log). Called before every attempt. */
    lh_code (*refresh)(void *ctx, int64_t *head, lh_err *err);
    /* Builds manifest `next` on top of head next - 1 (uploading what it
     * refers to, if anything). *out: a new reference. An error ends the commit. */
    lh_code (*build)(void *ctx, int64_t next, json_t **out, lh_err *err);
} lh_manifests_writer;

/* Commits the next manifest as above. expect_head: the head the caller
 * built its request on (LH_ECONFLICT if storage has moved past it), or
 * LH_MANIFESTS_ANY_HEAD. On LH_OK, *out is the manifest written (a new
 * reference) and *number its number. */
lh_code lh_manifests_commit(const lh_manifests *log, const lh_manifests_writer *w, void *ctx, int64_t expect_head,
                            json_t **out, int64_t *number, lh_err *err);

#endif
