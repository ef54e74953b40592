/*
 * lh_buckets.h — the named buckets of a deployment, and the rescue bucket.
 *
 * Buckets come from [bucket.NAME] sections (see lh_config.h); with none
 * declared there is one implicit fs bucket, "local", at <storage.data_dir>/local.
 * Each has its own backend. One bucket is the default (new datasets, the
 * journals); an optional rescue bucket serves reads when a bucket fails (not
 * when an object is merely absent), and with storage.rescue_mirror every
 * object written through lh_buckets_put is also written there.
 */
#ifndef LH_BUCKETS_H
#define LH_BUCKETS_H

#include <jansson.h>
#include <stdbool.h>

#include "lakehouse/lh_config.h"
#include "lakehouse/lh_store.h"

typedef struct lh_buckets lh_buckets;

/* Opens every configured bucket. A bucket that is misconfigured (unknown
 * backend, bad credentials, missing S3 bucket) fails the open with a clear
 * error; one that is only unreachable right now is opened anyway and reported
 * as failing by lh_buckets_health until it answers. */
lh_code lh_buckets_open(const lh_config *cfg, lh_buckets **out, lh_err *err);
void lh_buckets_close(lh_buckets *b);

size_t lh_buckets_count(const lh_buckets *b);
lh_store *lh_buckets_at(lh_buckets *b, size_t i);
lh_store *lh_buckets_find(lh_buckets *b, const char *name); /* NULL if unknown */
lh_store *lh_buckets_default(lh_buckets *b);
lh_store *lh_buckets_rescue(lh_buckets *b); /* NULL if none */

/* Installs the failure observer on every bucket (the error journal). */
void lh_buckets_observe(lh_buckets *b, lh_store_error_fn fn, void *ctx);

/* Reads an object from s, falling back to the rescue bucket when s fails
 * with anything but "not found"; *rescued tells which answered. */
lh_code lh_buckets_get(lh_buckets *b, lh_store *s, const char *key, lh_buf *out, bool *rescued,
                       lh_err *err);
/* Writes to s, and to the rescue bucket too when mirroring is on (best effort:
 * a failed mirror write is reported to the observer, not to the caller). */
lh_code lh_buckets_put(lh_buckets *b, lh_store *s, const char *key, const void *data, size_t len,
                       unsigned flags, lh_err *err);

/* The same for a file, streamed (multipart on S3 above the bucket's threshold). */
lh_code lh_buckets_put_file(lh_buckets *b, lh_store *s, const char *key, const char *path, lh_err *err);

/* Reads a JSON object, retrying a few times when it does not parse (a
 * write may still be landing); LH_ECORRUPT if it never does. */
lh_code lh_buckets_get_json(lh_buckets *b, lh_store *s, const char *key, json_t **out, lh_err *err);

/* The local file holding an object of `size` bytes: in place for fs
 * buckets, else <cache_dir>/<bucket>/<key>, downloaded when missing or of
 * another size. out receives the path. */
lh_code lh_buckets_local_file(lh_buckets *b, const char *cache_dir, const char *bucket, const char *key,
                              uint64_t size, char *out, size_t n, lh_err *err);

/* [{name, backend, default, rescue, status: ok|failing, latency_ms, error?, conditional_writes}] */
json_t *lh_buckets_health(lh_buckets *b);

#endif
