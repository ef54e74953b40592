/*
 * lh_store.h — object storage: the source of truth.
 *
 * A store is one bucket behind a backend, like SQLite's VFS: a struct of
 * function pointers (lh_store_ops) that the `fs` (local folder) and `s3`
 * (S3 protocol over libcurl, SigV4) backends implement. Everything above —
 * catalog, journals, ingest, indexes — talks to lh_store_* only.
 *
 * Keys are '/'-separated UTF-8 paths relative to the bucket. Every public call
 * validates them (lh_store_key_check) before a backend sees them, so no key can
 * name something outside its bucket: no "..", ".", empty or absolute segments,
 * no NUL, control, bidirectional-override or zero-width characters, at most
 * LH_STORE_KEY_MAX bytes.
 *
 * Semantics every backend guarantees (tests/unit/test_store.c runs one
 * conformance suite over both):
 *   put            atomic: readers see the old object or the new, never a part
 *   put IF_ABSENT  atomic create: exactly one of concurrent creators wins,
 *                  the others get LH_EEXIST (fs: link(2); s3: If-None-Match: *)
 *   get            whole object or a byte range; LH_ENOTFOUND if absent
 *   list           keys under a prefix in byte order, with sizes
 *   delete         idempotent (deleting an absent key is not an error)
 */
#ifndef LH_STORE_H
#define LH_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lakehouse/lh_buf.h"
#include "lakehouse/lh_err.h"

#define LH_STORE_KEY_MAX 1024
#define LH_STORE_TO_END UINT64_MAX

/* LH_PUT_SHARE_FILE (lh_store_put_file): the file will not change again, so a
 * backend on the same file system may give the object the file's data (a hard
 * link, after fsync) instead of copying it; the caller still owns its name. */
enum { LH_PUT_IF_ABSENT = 1, LH_PUT_SHARE_FILE = 2 };

typedef struct lh_object_info {
    char key[LH_STORE_KEY_MAX + 1];
    uint64_t size;
    int64_t mtime_ms; /* last modification, ms since the epoch */
} lh_object_info;

/* Called once per listed object; return false to stop early. */
typedef bool (*lh_store_list_fn)(void *ctx, const lh_object_info *info);

/* Where a put reads from: memory (data, len) or an open file (fd >= 0, read
 * from its start to its end; path names it, or NULL). Where a get writes to:
 * a buffer or a file. */
typedef struct lh_store_src {
    const void *data;
    size_t len;
    int fd;
    const char *path;
} lh_store_src;

typedef struct lh_store_dst {
    lh_buf *buf;
    int fd;
} lh_store_dst;

typedef struct lh_store lh_store;

typedef struct lh_store_ops {
    const char *backend; /* "fs" | "s3" */
    lh_code (*get)(lh_store *s, const char *key, uint64_t offset, uint64_t length,
                   const lh_store_dst *dst, lh_err *err);
    lh_code (*put)(lh_store *s, const char *key, const lh_store_src *src, unsigned flags,
                   lh_err *err);
    lh_code (*head)(lh_store *s, const char *key, lh_object_info *info, lh_err *err);
    lh_code (*list)(lh_store *s, const char *prefix, lh_store_list_fn fn, void *ctx, lh_err *err);
    lh_code (*remove)(lh_store *s, const char *key, lh_err *err);
    /* Health probe: can this bucket be read and written right now? */
    lh_code (*check)(lh_store *s, lh_err *err);
    /* The object's path on the local file system, or false if not local. */
    bool (*local_path)(lh_store *s, const char *key, char *out, size_t outlen);
    void (*close)(lh_store *s);
} lh_store_ops;

/* Observer of failed operations (the error journal installs one). Expected
 * outcomes — LH_ENOTFOUND on get/head, LH_EEXIST on IF_ABSENT — are not failures. */
typedef void (*lh_store_error_fn)(void *ctx, const char *op, const char *bucket, const char *key,
                                  const lh_err *err);

struct lh_store {
    const lh_store_ops *ops;
    char *name;              /* the bucket's name in the configuration */
    bool conditional_writes; /* false if the server ignores If-None-Match (see lh_store_s3_open) */
    lh_store_error_fn on_error;
    void *on_error_ctx;
};

/* ---- backends ---- */

/* A folder per bucket. Writes go to <root>/.lh-tmp/, are fsynced, then
 * renamed (or linked, for IF_ABSENT) into place, and the directory fsynced. */
lh_code lh_store_fs_open(const char *name, const char *root, lh_store **out, lh_err *err);

typedef struct lh_s3_options {
    const char *endpoint;          /* "https://s3.eu-west-1.amazonaws.com", "http://127.0.0.1:9000" */
    const char *region;            /* "us-east-1" */
    const char *bucket;            /* the S3 bucket */
    const char *prefix;            /* optional key prefix inside it, e.g. "lakehouse/" */
    bool path_style;               /* http://host/bucket/key instead of http://bucket.host/key */
    const char *access_key_id;     /* NULL: $AWS_ACCESS_KEY_ID */
    const char *secret_access_key; /* NULL: $AWS_SECRET_ACCESS_KEY */
    const char *session_token;     /* NULL: $AWS_SESSION_TOKEN (optional) */
    uint64_t multipart_threshold;  /* uploads from files above this use multipart */
    uint64_t part_size;            /* >= 5 MiB */
    long timeout_ms;               /* per request */
    int retries;                   /* extra attempts on 5xx, 429 and network errors */
    bool lazy;                     /* skip the probes (the server is down right now) */
} lh_s3_options;

/* Opens and probes the bucket. The probe also learns whether the server
 * honours conditional writes; if it does not (e.g. s3rver), s->conditional_writes
 * is false and a warning is logged: IF_ABSENT is then only safe against
 * writers in this same process. */
lh_code lh_store_s3_open(const char *name, const lh_s3_options *opt, lh_store **out, lh_err *err);

void lh_store_close(lh_store *s);

/* ---- operations (keys validated here, then passed to the backend) ---- */

lh_code lh_store_key_check(const char *key, lh_err *err);

/* The managed folder (first segment: "_catalog", "_journal", "_errors",
 * "_vectors", "_tmp", "datasets") that key lies in or names, else NULL. Only
 * the module owning a folder writes under it (raw object writes are refused
 * there by the app), and no one creates an object with a folder's bare name:
 * lh_store_put refuses it (LH_EFORBIDDEN), as it would shadow the folder. */
const char *lh_store_key_managed(const char *key);

lh_code lh_store_put(lh_store *s, const char *key, const void *data, size_t len, unsigned flags,
                     lh_err *err);
lh_code lh_store_put_file(lh_store *s, const char *key, const char *path, unsigned flags,
                          lh_err *err);
lh_code lh_store_get(lh_store *s, const char *key, lh_buf *out, lh_err *err);
lh_code lh_store_get_range(lh_store *s, const char *key, uint64_t offset, uint64_t length,
                           lh_buf *out, lh_err *err);
/* Streams the object into path (created or truncated), via a temp file + rename. */
lh_code lh_store_get_file(lh_store *s, const char *key, const char *path, lh_err *err);
lh_code lh_store_head(lh_store *s, const char *key, lh_object_info *info, lh_err *err);
lh_code lh_store_list(lh_store *s, const char *prefix, lh_store_list_fn fn, void *ctx, lh_err *err);
lh_code lh_store_delete(lh_store *s, const char *key, lh_err *err);
lh_code lh_store_check(lh_store *s, lh_err *err);
bool lh_store_local_path(lh_store *s, const char *key, char *out, size_t outlen);

#endif
