/*
 * lh_http.h — the HTTP server (libmicrohttpd), its router and JSON helpers.
 *
 * A handler receives a parsed request and fills a response; it never touches
 * sockets. The server reads the whole body first (up to max_body_bytes, else
 * 413), matches the route (404 / 405 with Allow), runs the handler on a
 * worker thread (inline routes: on the event loop), writes an access-log line and a request id
 * (X-Request-Id, echoed from the client when it is sane). Errors always use
 * one body: {"error":{"code":"not_found","message":"…","request_id":"…"}}.
 *
 * Shutdown is graceful: lh_http_server_stop() stops accepting, lets in-flight
 * requests finish (up to shutdown_timeout_s), then closes every connection.
 */
#ifndef LH_HTTP_H
#define LH_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lakehouse/lh_err.h"
#include "lakehouse/lh_mem.h"

#define LH_HTTP_MAX_PARAMS 8
#define LH_HTTP_MAX_UPLOADS 16

/* A file received by an upload route, kept in a temp file until the request ends. */
typedef struct lh_http_upload {
    const char *field;    /* the multipart field name ("file" for a raw body) */
    const char *filename; /* as the client named it */
    const char *path;     /* the temp file */
    size_t size;
} lh_http_upload;

typedef struct lh_http_req {
    const char *method;
    const char *path;       /* raw path as sent (percent-encoded) */
    const char *request_id; /* ours or the client's X-Request-Id */
    lh_arena *arena;        /* freed with the request */
    const char *body;       /* NUL-terminated copy of the body, "" when none */
    size_t body_len;
    size_t n_params;
    struct {
        const char *name;
        const char *value; /* percent-decoded */
    } params[LH_HTTP_MAX_PARAMS];
    size_t n_uploads; /* upload routes only */
    lh_http_upload uploads[LH_HTTP_MAX_UPLOADS];
    void *connection; /* private: the MHD connection */
    void *form;       /* private: multipart text fields */
} lh_http_req;

typedef struct lh_http_res lh_http_res;

typedef void (*lh_http_handler)(lh_http_req *req, lh_http_res *res, void *ctx);

/* A streamed body: fill buf with up to max bytes and return how many;
 * return 0 at the end, -1 to abort the response (the connection is closed).
 * Called on a worker thread, one call at a time per response: it may compute
 * (fetch the next rows) but must not wait for events, or it holds a worker. */
typedef ssize_t (*lh_http_stream_fn)(void *ctx, char *buf, size_t max);

/* ---- request accessors (all returned strings live in req->arena) ---- */

const char *lh_http_param(const lh_http_req *req, const char *name);  /* path parameter */
const char *lh_http_query(const lh_http_req *req, const char *name);  /* decoded, or NULL */
const char *lh_http_header(const lh_http_req *req, const char *name); /* or NULL */
/* The client's address, numeric, into buf ("-" when unknown); returns buf. */
const char *lh_http_client_addr(const lh_http_req *req, char *buf, size_t n);

/* Integer query argument in [min, max]; absent -> def. */
lh_code lh_http_query_int(const lh_http_req *req, const char *name, long long def, long long min,
                          long long max, long long *out, lh_err *err);

/* Calls fn(ctx, name, value) for each query argument in order (value decoded,
 * "" for a bare ?flag); stops when fn returns false. LH_EINVAL naming the
 * argument when a value does not decode (bad escape, %00). */
lh_code lh_http_query_each(const lh_http_req *req, bool (*fn)(void *ctx, const char *name, const char *value),
                           void *ctx, lh_err *err);

/* The text fields of a multipart/form-data upload as a JSON object (borrowed), or NULL. */
const json_t *lh_http_form_fields(const lh_http_req *req);

/* A text field of a multipart/form-data upload, or NULL. */
const char *lh_http_form(const lh_http_req *req, const char *name);

/* Parses the body as a JSON object (new reference in *out). */
lh_code lh_http_body_json(const lh_http_req *req, json_t **out, lh_err *err);

/* ---- responses (the last call wins) ---- */

void lh_http_res_json(lh_http_res *res, int status, json_t *body); /* steals body */
void lh_http_res_error(lh_http_res *res, const lh_err *err);
void lh_http_res_errorf(lh_http_res *res, lh_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Takes ownership of data (malloc'd). */
void lh_http_res_bytes(lh_http_res *res, int status, const char *content_type, char *data,
                       size_t len);
void lh_http_res_stream(lh_http_res *res, int status, const char *content_type,
                        lh_http_stream_fn fn, void *ctx, void (*free_ctx)(void *ctx));
void lh_http_res_header(lh_http_res *res, const char *name, const char *value);

/* ---- router (independent of the server, so it can be tested alone) ---- */

typedef struct lh_router lh_router;

lh_router *lh_router_new(void);
void lh_router_free(lh_router *r);
/* Frees p (malloc'd, e.g. handler contexts) with the router. */
void lh_router_keep(lh_router *r, void *p);
/* Calls free_fn(p) with the router (a context that owns more than itself). */
void lh_router_keep_fn(lh_router *r, void *p, void (*free_fn)(void *));

/* Calls fn for each route in the order added. */
void lh_router_each(const lh_router *r, void (*fn)(void *ctx, const char *method, const char *pattern), void *ctx);

/* Pattern segments are literals or {name}; e.g. "/v1/catalog/datasets/{name}". */
void lh_router_add(lh_router *r, const char *method, const char *pattern, lh_http_handler fn,
                   void *ctx);

/* An upload route: the body streams to temp files in tmp_dir, never to memory,
 * up to max_bytes (413 above). A multipart/form-data body gives one upload per
 * file part (text parts become lh_http_form fields); any other body is one
 * upload named by the ?filename= query parameter. */
/* Marks the route added last as cheap: its handler never blocks on I/O, a
 * lock held across I/O or a query, so it runs on the event-loop thread
 * instead of being handed to the worker pool (saves two thread switches). */
void lh_router_mark_inline(lh_router *r);

/* Marks the route added last as polled (health checks): its successful calls
 * are access-logged at debug level, failures at info as usual. */
void lh_router_mark_quiet(lh_router *r);

typedef struct lh_upload_options {
    const char *tmp_dir;
    size_t max_bytes;
    /* May be NULL. Called on the event-loop thread once the headers are in,
     * before any of the body is read (so it must be cheap: no hashing, no
     * I/O): false, with res set, answers without reading the body (e.g. 401
     * for a caller without credentials). ctx is the route's. */
    bool (*admit)(lh_http_req *req, lh_http_res *res, void *ctx);
} lh_upload_options;

void lh_router_add_upload(lh_router *r, const char *method, const char *pattern, lh_http_handler fn,
                          void *ctx, const lh_upload_options *opt);

typedef struct lh_route_match {
    lh_http_handler fn;
    void *ctx;
    size_t n_params;
    struct {
        const char *name;
        const char *value;
    } params[LH_HTTP_MAX_PARAMS]; /* values allocated in the arena given to match */
    char allow[128];              /* for 405: the methods that do exist, "GET, POST" */
    const lh_upload_options *upload; /* non-NULL for upload routes */
    bool run_inline;                 /* see lh_router_mark_inline */
    bool quiet;                      /* see lh_router_mark_quiet */
} lh_route_match;

/* LH_OK, LH_ENOTFOUND (no pattern matches the path), LH_EMETHOD (the path
 * matches but not with this method; m->allow lists the methods), or LH_EINVAL
 * (undecodable path: bad percent-escape or a NUL byte). */
lh_code lh_router_match(const lh_router *r, const char *method, const char *path, lh_arena *arena,
                        lh_route_match *m);

/* Percent-decodes s[0..n) into the arena; false on a bad escape or %00.
 * plus_is_space decodes '+' as ' ' (query strings). */
bool lh_url_decode(lh_arena *arena, const char *s, size_t n, bool plus_is_space, char **out);

/* ---- request framing ---- */

/* Judges a request's framing headers before its body is read: the values of
 * every Content-Length header (n_cl of them) and Transfer-Encoding (or NULL).
 * Returns 0 and sets *len (UINT64_MAX when the length is not declared), 400 for
 * an unparsable, signed, listed or conflicting Content-Length or one sent with
 * Transfer-Encoding, 413 when the declared length passes limit. */
int lh_http_check_framing(const char *const *cl, size_t n_cl, const char *te, uint64_t limit, uint64_t *len);

/* ---- server ---- */

typedef struct lh_http_options {
    const char *host; /* numeric IPv4/IPv6 address or "localhost" */
    int port;         /* 0 picks a free port; see lh_http_server_port */
    size_t max_body_bytes;
    unsigned idle_timeout_s;
    unsigned max_connections;
    unsigned max_connections_per_ip;
    unsigned shutdown_timeout_s;
    /* 0 picks the default for each of these (see docs/configuration.md) */
    unsigned event_threads;    /* epoll threads that read requests and write responses (2) */
    unsigned worker_threads;   /* threads that run handlers: queries, ingest, builds (16) */
    unsigned cpu_slots;        /* handlers computing at once; longer than 10 ms: not counted (cores, min 2) */
    unsigned header_timeout_s; /* a request's headers must arrive within this (10) */
    unsigned min_body_rate;    /* bytes/s a body must average after header_timeout_s (1024) */
} lh_http_options;

typedef struct lh_http_server lh_http_server;

lh_code lh_http_server_start(const lh_http_options *opt, const lh_router *router,
                             lh_http_server **out, lh_err *err);
int lh_http_server_port(const lh_http_server *s);
bool lh_http_server_stopping(const lh_http_server *s);
/* Graceful stop (see above), then frees the server. */
void lh_http_server_stop(lh_http_server *s);

#endif
