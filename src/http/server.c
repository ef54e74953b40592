/*
 * server.c — libmicrohttpd glue: request lifecycle, limits, access log, shutdown.
 *
 * Threading: event_threads epoll loops (MHD_USE_EPOLL_INTERNAL_THREAD with a
 * thread pool) read requests and write responses; a connection costs no
 * thread, so a trickle of connections cannot exhaust the server. Handlers run
 * on a pool of worker_threads: the connection is suspended (MHD suspend/resume)
 * while its handler runs, so a long query never stalls the event loops. Routes
 * marked inline (cheap, never blocking) run on the event loop. A streamed
 * body is made on the pool too, a chunk at a time (see stream_reader).
 *
 * Slow clients: a reaper closes (shutdown(2)) a connection whose request
 * headers have not arrived header_timeout_s after it became ready (accept, or
 * for keep-alive the end of the previous response: idle_timeout_s), and one
 * whose body averages under min_body_rate bytes/s after header_timeout_s.
 * libmicrohttpd's own timeout only catches fully idle connections.
 *
 * Framing (lh_http_check_framing): two different Content-Lengths, or one beside
 * Transfer-Encoding, are a 400 and a declared length over the limit a 413, both
 * answered before the body is read; a chunked body gets its 413 written the
 * moment it passes the limit, then is drained up to DISCARD_LIMIT. A length
 * libmicrohttpd itself cannot parse (-1, 21+ digits) it answers on its own,
 * before any handler (docs/http.md: its 0.9.75 sends that header block twice).
 *
 * Lifecycle of one request (the MHD access handler is called repeatedly):
 *   1st call   allocate `struct request`, check Content-Length (413 at once
 *              if over the limit: the body is never read)
 *   Nth call   append a piece of the body (a streamed one past the limit: 413)
 *   last call  suspend the connection and hand the request to a worker (or run
 *              an inline handler at once); the worker resumes the connection
 *   next call  queue the response (never on the first call for a normal
 *              request: doing so breaks keep-alive)
 *   completed  MHD_OPTION_NOTIFY_COMPLETED: access log, release.
 * A request is reference counted: the MHD completion and a streamed response
 * each hold a reference, because MHD frees a response after it reports the
 * request completed.
 */
#include "lakehouse/lh_buf.h"
#include "lakehouse/lh_http.h"
#include "lakehouse/lh_json.h"
#include "lakehouse/lh_log.h"
#include "lakehouse/lh_time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_RES_HEADERS 16
#define STREAM_CHUNK (64u << 10) /* bytes a worker makes per turn of a streamed body */
#define DISCARD_LIMIT (64u << 20) /* bytes drained after a 413 before the connection is cut */

/* One TCP connection, tracked for the slow-client reaper. */
enum conn_phase { CONN_HEADERS, CONN_BODY, CONN_BUSY };
struct conn {
    struct conn *prev, *next;
    MHD_socket fd;
    enum conn_phase phase;
    struct timespec since; /* when the phase began */
    unsigned deadline_s;   /* CONN_HEADERS: close when still waiting this long */
    uint64_t body_bytes;   /* CONN_BODY: received so far */
    bool cut;              /* shutdown(2) already called */
};

/* The handler pool: a FIFO of requests whose connections are suspended.
 * At most run_limit jobs compute at once (the rest wait their turn in
 * order: on a small machine, sixteen threads sharing two cores make every
 * request slow and some very slow). A job running longer than LONG_JOB_MS
 * stops counting, so long queries, ingests and builds never hold the queue;
 * worker_threads bounds how many run at all. */
#define LONG_JOB_MS 10
struct pool_slot {
    struct timespec started; /* of its current job */
    bool counted;            /* that job counts against run_limit */
};
struct pool {
    pthread_mutex_t mu;
    pthread_cond_t wake;   /* CLOCK_MONOTONIC: a job queued or a place freed */
    pthread_cond_t parked; /* a connection of a queued request is now suspended */
    struct request *head, *tail;
    bool stop;
    size_t n, n_started;
    pthread_t *threads;
    struct pool_slot *slots; /* one per thread */
    unsigned run_limit;
    unsigned running; /* jobs counted against run_limit */
    bool timing;      /* an idle worker waits to uncount long jobs */
};

struct lh_http_server {
    struct MHD_Daemon *daemon;
    struct pool pool;
    pthread_mutex_t conn_mu; /* guards conns and every struct conn */
    struct conn conns;       /* list head */
    pthread_t reaper;
    pthread_cond_t reaper_wake;
    bool reaper_stop;
    const lh_router *router;
    lh_http_options opt;
    int port;
    atomic_bool stopping;
    atomic_uint_fast64_t next_id;
    uint32_t id_salt;
    pthread_mutex_t mu;
    pthread_cond_t idle; /* signalled when in_flight drops to 0 */
    long in_flight;
};

struct lh_http_res {
    int status;
    char *content_type;
    char *data; /* owned */
    size_t len;
    lh_http_stream_fn stream;
    void *stream_ctx;
    void (*stream_free)(void *);
    size_t n_headers;
    struct {
        char *name, *value;
    } headers[MAX_RES_HEADERS];
};

/* An upload being received: the current file part. */
struct upload_state {
    struct MHD_PostProcessor *pp; /* multipart bodies */
    int fd;                       /* the open temp file, -1 between parts */
    size_t total;                 /* bytes received across parts */
    const char *cur_field, *cur_filename;
};

struct request {
    atomic_int refs;
    struct request *next_job; /* in the pool's FIFO */
    struct MHD_Connection *connection;
    bool dispatched;          /* handed to the pool (or run inline) */
    bool handled;             /* the handler has run; guarded by pool.mu */
    bool parked;              /* its connection is suspended; guarded by pool.mu */
    bool bad_framing;         /* answered at the first call, body not read */
    bool answered_raw;        /* a mid-body 413 written straight to the socket */
    enum { JOB_HANDLER, JOB_STREAM } job; /* what the pool is to do next */
    /* a streamed body's next chunk, made by a worker; guarded by pool.mu */
    char *chunk;
    size_t chunk_len, chunk_off;
    enum { STREAM_MORE, STREAM_END, STREAM_ERROR } stream_state;
    lh_http_server *server;
    lh_http_req req;
    lh_http_res res;
    lh_buf body;
    bool too_big;
    bool queued;
    size_t discarded; /* body bytes thrown away after a 413 */
    const char *log_path; /* the path, clipped for the access log */
    lh_route_match match;
    lh_code match_rc;
    struct upload_state up;
    bool upload_failed; /* a temp file could not be written */
    char id[72];
    struct timespec start;
    atomic_size_t bytes_out;
};

/* ---- request accessors ---------------------------------------------------- */

const char *lh_http_param(const lh_http_req *req, const char *name)
{
    for (size_t i = 0; i < req->n_params; i++)
        if (strcmp(req->params[i].name, name) == 0) return req->params[i].value;
    return NULL;
}

const char *lh_http_query(const lh_http_req *req, const char *name)
{
    const char *raw =
        MHD_lookup_connection_value(req->connection, MHD_GET_ARGUMENT_KIND, name);
    if (!raw) return NULL;
    char *out;
    if (!lh_url_decode(req->arena, raw, strlen(raw), true, &out)) return NULL;
    return out;
}

struct query_walk {
    const lh_http_req *req;
    bool (*fn)(void *ctx, const char *name, const char *value);
    void *ctx;
    const char *bad; /* the argument that did not decode */
    bool stopped;
};

static enum MHD_Result query_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    struct query_walk *w = cls;
    char *decoded = "";
    if (value && !lh_url_decode(w->req->arena, value, strlen(value), true, &decoded)) {
        w->bad = key;
        return MHD_NO;
    }
    if (!w->fn(w->ctx, key, decoded)) {
        w->stopped = true;
        return MHD_NO;
    }
    return MHD_YES;
}

lh_code lh_http_query_each(const lh_http_req *req, bool (*fn)(void *ctx, const char *name, const char *value),
                           void *ctx, lh_err *err)
{
    struct query_walk w = {req, fn, ctx, NULL, false};
    MHD_get_connection_values(req->connection, MHD_GET_ARGUMENT_KIND, query_arg, &w);
    if (w.bad) return lh_err_set(err, LH_EINVAL, "query argument \"%.60s\" does not decode (bad %%-escape or %%00)", w.bad);
    return LH_OK;
}

const json_t *lh_http_form_fields(const lh_http_req *req)
{
    return req->form;
}

const char *lh_http_header(const lh_http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, name);
}

const char *lh_http_form(const lh_http_req *req, const char *name)
{
    return json_string_value(json_object_get(req->form, name));
}

lh_code lh_http_query_int(const lh_http_req *req, const char *name, long long def, long long min,
                          long long max, long long *out, lh_err *err)
{
    const char *v = lh_http_query(req, name);
    if (!v) {
        *out = def;
        return LH_OK;
    }
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno)
        return lh_err_set(err, LH_EINVAL, "query parameter %s: expected an integer, got \"%.40s\"",
                          name, v);
    if (x < min || x > max)
        return lh_err_set(err, LH_EINVAL, "query parameter %s: %lld is out of range [%lld, %lld]",
                          name, x, min, max);
    *out = x;
    return LH_OK;
}

lh_code lh_http_body_json(const lh_http_req *req, json_t **out, lh_err *err)
{
    if (req->body_len == 0) return lh_err_set(err, LH_EINVAL, "request body must be a JSON object");
    json_error_t jerr;
    json_t *j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return lh_err_set(err, LH_EINVAL, "invalid JSON body at line %d, column %d: %s", jerr.line,
                          jerr.column, jerr.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return lh_err_set(err, LH_EINVAL, "request body must be a JSON object");
    }
    *out = j;
    return LH_OK;
}

/* ---- responses ------------------------------------------------------------- */

static void res_clear_body(lh_http_res *res)
{
    free(res->data);
    free(res->content_type);
    if (res->stream_free && res->stream_ctx) res->stream_free(res->stream_ctx);
    res->data = res->content_type = NULL;
    res->len = 0;
    res->stream = NULL;
    res->stream_ctx = NULL;
    res->stream_free = NULL;
}

void lh_http_res_bytes(lh_http_res *res, int status, const char *content_type, char *data,
                       size_t len)
{
    res_clear_body(res);
    res->status = status;
    res->content_type = lh_xstrdup(content_type);
    res->data = data;
    res->len = len;
}

void lh_http_res_stream(lh_http_res *res, int status, const char *content_type,
                        lh_http_stream_fn fn, void *ctx, void (*free_ctx)(void *ctx))
{
    res_clear_body(res);
    res->status = status;
    res->content_type = lh_xstrdup(content_type);
    res->stream = fn;
    res->stream_ctx = ctx;
    res->stream_free = free_ctx;
}

void lh_http_res_json(lh_http_res *res, int status, json_t *body)
{
    char *text = lh_json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(body);
    if (!text) {
        lh_http_res_bytes(res, 500, "application/json",
                          lh_xstrdup("{\"error\":{\"code\":\"internal\",\"message\":\"JSON "
                                     "encoding failed\"}}\n"),
                          0);
        res->len = strlen(res->data);
        return;
    }
    size_t n = strlen(text);
    char *withnl = lh_xrealloc(text, n + 2);
    withnl[n] = '\n';
    withnl[n + 1] = '\0';
    lh_http_res_bytes(res, status, "application/json", withnl, n + 1);
}

/* The request owning `res` (res is embedded in struct request). */
static struct request *request_of(lh_http_res *res)
{
    return (struct request *)((char *)res - offsetof(struct request, res));
}

void lh_http_res_error(lh_http_res *res, const lh_err *err)
{
    lh_code code = err->code == LH_OK ? LH_EINTERNAL : err->code;
    json_t *body = json_pack("{s:{s:s, s:s, s:s}}", "error", "code", lh_code_name(code), "message",
                             err->message, "request_id", request_of(res)->id);
    lh_http_res_json(res, lh_code_http_status(code), body);
}

void lh_http_res_errorf(lh_http_res *res, lh_code code, const char *fmt, ...)
{
    lh_err err;
    va_list ap;
    va_start(ap, fmt);
    lh_err_vset(&err, code, fmt, ap);
    va_end(ap);
    lh_http_res_error(res, &err);
}

void lh_http_res_header(lh_http_res *res, const char *name, const char *value)
{
    for (size_t i = 0; i < res->n_headers; i++) {
        if (strcasecmp(res->headers[i].name, name) == 0) {
            free(res->headers[i].value);
            res->headers[i].value = lh_xstrdup(value);
            return;
        }
    }
    if (res->n_headers == MAX_RES_HEADERS) return;
    res->headers[res->n_headers].name = lh_xstrdup(name);
    res->headers[res->n_headers].value = lh_xstrdup(value);
    res->n_headers++;
}

/* ---- request lifecycle ----------------------------------------------------- */

static void request_unref(struct request *r)
{
    if (atomic_fetch_sub(&r->refs, 1) != 1) return;
    res_clear_body(&r->res);
    for (size_t i = 0; i < r->res.n_headers; i++) {
        free(r->res.headers[i].name);
        free(r->res.headers[i].value);
    }
    lh_buf_free(&r->body);
    free(r->chunk);
    if (r->up.pp) MHD_destroy_post_processor(r->up.pp);
    if (r->up.fd >= 0) close(r->up.fd);
    for (size_t i = 0; i < r->req.n_uploads; i++) unlink(r->req.uploads[i].path);
    json_decref(r->req.form);
    lh_arena_free(r->req.arena);
    free(r);
}

static bool sane_request_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.';
        if (!ok || n >= 64) return false;
    }
    return n > 0;
}

static struct request *request_new(lh_http_server *s, struct MHD_Connection *c, const char *url,
                                   const char *method)
{
    struct request *r = lh_xcalloc(1, sizeof *r);
    atomic_init(&r->refs, 1);
    r->server = s;
    r->req.arena = lh_arena_new(0);
    r->req.method = lh_arena_strdup(r->req.arena, method);
    r->req.path = lh_arena_strdup(r->req.arena, url);
    r->log_path = strlen(url) > 256 ? lh_arena_printf(r->req.arena, "%.256s...", url) : r->req.path;
    r->req.connection = c;
    r->connection = c;
    r->req.body = "";
    r->up.fd = -1;
    r->match_rc = lh_router_match(s->router, method, url, r->req.arena, &r->match);
    const char *client_id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
    if (client_id && sane_request_id(client_id))
        snprintf(r->id, sizeof r->id, "%s", client_id);
    else
        snprintf(r->id, sizeof r->id, "%08x%08llx", s->id_salt,
                 (unsigned long long)atomic_fetch_add(&s->next_id, 1));
    r->req.request_id = r->id;
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    pthread_mutex_lock(&s->mu);
    s->in_flight++;
    pthread_mutex_unlock(&s->mu);
    return r;
}

static bool pool_park(lh_http_server *s, struct request *r);

/* A streamed body is produced on the worker pool, a chunk at a time, so a
 * query that computes as it streams never blocks an event loop: the reader
 * hands out the chunk a worker made, or parks the connection and asks for the
 * next one. Once the pool is stopping it produces inline. */
static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct request *r = cls;
    lh_http_server *s = r->server;
    pthread_mutex_lock(&s->pool.mu);
    ssize_t got = 0;
    if (r->chunk_off < r->chunk_len) {
        got = (ssize_t)(r->chunk_len - r->chunk_off < max ? r->chunk_len - r->chunk_off : max);
        memcpy(buf, r->chunk + r->chunk_off, (size_t)got);
        r->chunk_off += (size_t)got;
    } else if (r->stream_state != STREAM_MORE) {
        got = r->stream_state == STREAM_END ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
    }
    pthread_mutex_unlock(&s->pool.mu);
    if (got > 0) atomic_fetch_add(&r->bytes_out, (size_t)got);
    if (got != 0) return got;
    r->job = JOB_STREAM;
    if (pool_park(s, r)) return 0;
    ssize_t n = r->res.stream(r->res.stream_ctx, buf, max); /* stopping: inline */
    if (n > 0) {
        atomic_fetch_add(&r->bytes_out, (size_t)n);
        return n;
    }
    return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_done(void *cls)
{
    request_unref(cls);
}

static enum MHD_Result queue(struct MHD_Connection *c, struct request *r)
{
    lh_http_res *res = &r->res;
    struct MHD_Response *resp;
    if (res->stream) {
        atomic_fetch_add(&r->refs, 1);
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_CHUNK, stream_reader, r,
                                                 stream_done);
        if (!resp) request_unref(r);
    } else {
        resp = MHD_create_response_from_buffer(res->len, res->data, MHD_RESPMEM_MUST_FREE);
        if (resp) {
            res->data = NULL; /* MHD owns it now */
            atomic_store(&r->bytes_out, res->len);
        }
    }
    if (!resp) return MHD_NO;
    if (res->content_type) MHD_add_response_header(resp, "Content-Type", res->content_type);
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    for (size_t i = 0; i < res->n_headers; i++)
        MHD_add_response_header(resp, res->headers[i].name, res->headers[i].value);
    if (atomic_load(&r->server->stopping)) {
        MHD_add_response_header(resp, "Connection", "close");
    } else {
        /* say when an idle connection closes, so a client stops reusing it before (RFC 9112 Keep-Alive) */
        char keep[32];
        snprintf(keep, sizeof keep, "timeout=%u", r->server->opt.idle_timeout_s);
        MHD_add_response_header(resp, "Keep-Alive", keep);
    }
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)res->status, resp);
    MHD_destroy_response(resp);
    r->queued = ret == MHD_YES;
    return ret;
}

static void run_handler(struct request *r)
{
    lh_http_req *req = &r->req;
    lh_route_match m = r->match;
    lh_code rc = r->match_rc;
    if (rc == LH_ENOTFOUND) {
        lh_http_res_errorf(&r->res, LH_ENOTFOUND, "no route for %s %s", req->method, req->path);
        return;
    }
    if (rc == LH_EMETHOD) {
        lh_http_res_errorf(&r->res, LH_EMETHOD, "%s is not allowed on %s (allowed: %s)",
                           req->method, req->path, m.allow);
        lh_http_res_header(&r->res, "Allow", m.allow);
        return;
    }
    if (rc == LH_EINVAL) {
        lh_http_res_errorf(&r->res, LH_EINVAL, "malformed percent-encoding in path");
        return;
    }
    req->n_params = m.n_params;
    for (size_t i = 0; i < m.n_params; i++) {
        req->params[i].name = m.params[i].name;
        req->params[i].value = m.params[i].value;
    }
    if (r->upload_failed) {
        lh_http_res_errorf(&r->res, LH_EIO, "the upload could not be stored on the server");
        return;
    }
    req->body = r->body.data ? r->body.data : "";
    req->body_len = r->body.len;
    r->res.status = 0;
    lh_log_set_request_id(r->id);
    m.fn(req, &r->res, m.ctx);
    lh_log_set_request_id(NULL);
    if (r->res.status == 0)
        lh_http_res_errorf(&r->res, LH_EINTERNAL, "handler for %s %s produced no response",
                           req->method, req->path);
}

static size_t body_limit(const struct request *r)
{
    return r->match.upload ? r->match.upload->max_bytes : r->server->opt.max_body_bytes;
}

static void respond_too_big(struct request *r)
{
    lh_http_res_errorf(&r->res, LH_ETOOBIG, "request body exceeds the limit of %zu bytes", body_limit(r));
    r->too_big = true;
}

/* ---- uploads: bodies of upload routes go to temp files ---- */

static bool upload_open(struct request *r, const char *field, const char *filename)
{
    if (r->req.n_uploads == LH_HTTP_MAX_UPLOADS) return false;
    char *path = lh_arena_printf(r->req.arena, "%s/upload-%s-%zu", r->match.upload->tmp_dir, r->id,
                                 r->req.n_uploads);
    mkdir(r->match.upload->tmp_dir, 0755);
    r->up.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (r->up.fd < 0) return false;
    lh_http_upload *u = &r->req.uploads[r->req.n_uploads++];
    u->field = lh_arena_strdup(r->req.arena, field ? field : "file");
    u->filename = lh_arena_strdup(r->req.arena, filename && *filename ? filename : "upload");
    u->path = path;
    u->size = 0;
    r->up.cur_field = u->field;
    r->up.cur_filename = filename ? u->filename : NULL;
    return true;
}

static bool upload_write(struct request *r, const char *data, size_t n)
{
    lh_http_upload *u = &r->req.uploads[r->req.n_uploads - 1];
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(r->up.fd, data + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        off += (size_t)w;
    }
    u->size += n;
    return true;
}

static enum MHD_Result on_form_part(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *filename, const char *content_type,
                                    const char *transfer_encoding, const char *data, uint64_t off,
                                    size_t size)
{
    (void)kind, (void)content_type, (void)transfer_encoding;
    struct request *r = cls;
    if (!filename) { /* a text field: kept in memory, small */
        if (!r->req.form) r->req.form = json_object();
        const char *old = json_string_value(json_object_get(r->req.form, key));
        size_t old_len = old ? strlen(old) : 0;
        if (old_len + size > 65536) return MHD_NO;
        char *joined = lh_xmalloc(old_len + size + 1);
        memcpy(joined, old ? old : "", old_len);
        memcpy(joined + old_len, data, size);
        joined[old_len + size] = '\0';
        json_object_set_new(r->req.form, key, json_string(joined));
        free(joined);
        return MHD_YES;
    }
    bool new_part = off == 0 || r->up.fd < 0 || !r->up.cur_filename || strcmp(r->up.cur_filename, filename) != 0 ||
                    strcmp(r->up.cur_field, key) != 0;
    if (new_part) {
        if (r->up.fd >= 0) close(r->up.fd);
        r->up.fd = -1;
        if (!upload_open(r, key, filename)) {
            r->upload_failed = true;
            return MHD_NO;
        }
    }
    if (size && !upload_write(r, data, size)) {
        r->upload_failed = true;
        return MHD_NO;
    }
    return MHD_YES;
}

/* Feeds one piece of an upload route's body. */
static void upload_piece(struct request *r, struct MHD_Connection *c, const char *data, size_t n)
{
    if (r->upload_failed) return;
    if (r->req.n_uploads == 0 && !r->up.pp && r->up.fd < 0) {
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        if (ct && strncasecmp(ct, "multipart/form-data", 19) == 0) {
            r->up.pp = MHD_create_post_processor(c, 65536, on_form_part, r);
            if (!r->up.pp) r->upload_failed = true;
        } else {
            const char *name = lh_http_query(&r->req, "filename");
            if (!upload_open(r, "file", name)) r->upload_failed = true;
        }
    }
    if (r->upload_failed) return;
    if (r->up.pp) {
        if (MHD_post_process(r->up.pp, data, n) != MHD_YES) r->upload_failed = true;
    } else if (!upload_write(r, data, n)) {
        r->upload_failed = true;
    }
}

static void upload_finish(struct request *r)
{
    if (r->up.fd >= 0) close(r->up.fd);
    r->up.fd = -1;
}

/* ---- connections: phases for the slow-client reaper ---- */

static struct conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void conn_phase(lh_http_server *s, struct MHD_Connection *c, enum conn_phase phase, unsigned deadline_s)
{
    struct conn *k = conn_of(c);
    if (!k) return;
    pthread_mutex_lock(&s->conn_mu);
    k->phase = phase;
    k->deadline_s = deadline_s;
    k->body_bytes = 0;
    clock_gettime(CLOCK_MONOTONIC, &k->since);
    pthread_mutex_unlock(&s->conn_mu);
}

static void conn_body_bytes(lh_http_server *s, struct MHD_Connection *c, size_t n)
{
    struct conn *k = conn_of(c);
    if (!k) return;
    pthread_mutex_lock(&s->conn_mu);
    k->body_bytes += n;
    pthread_mutex_unlock(&s->conn_mu);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    lh_http_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct conn *k = lh_xcalloc(1, sizeof *k);
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        k->fd = ci ? ci->connect_fd : MHD_INVALID_SOCKET;
        k->phase = CONN_HEADERS;
        k->deadline_s = s->opt.header_timeout_s;
        clock_gettime(CLOCK_MONOTONIC, &k->since);
        pthread_mutex_lock(&s->conn_mu);
        k->next = s->conns.next;
        k->prev = &s->conns;
        s->conns.next->prev = k;
        s->conns.next = k;
        pthread_mutex_unlock(&s->conn_mu);
        *socket_context = k;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        /* libmicrohttpd closes the fd after this returns: unlinking under the
         * lock keeps the reaper from touching a reused descriptor */
        struct conn *k = *socket_context;
        pthread_mutex_lock(&s->conn_mu);
        k->prev->next = k->next;
        k->next->prev = k->prev;
        pthread_mutex_unlock(&s->conn_mu);
        free(k);
        *socket_context = NULL;
    }
}

static double secs_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* Every 250 ms: cut connections that send their headers or body too slowly. */
static void *reaper_main(void *cls)
{
    lh_http_server *s = cls;
    pthread_mutex_lock(&s->conn_mu);
    while (!s->reaper_stop) {
        struct timespec now, wake = lh_time_after_ms(CLOCK_REALTIME, 250);
        pthread_cond_timedwait(&s->reaper_wake, &s->conn_mu, &wake);
        clock_gettime(CLOCK_MONOTONIC, &now);
        for (struct conn *k = s->conns.next; k != &s->conns; k = k->next) {
            if (k->cut || k->fd == MHD_INVALID_SOCKET) continue;
            double age = secs_between(&k->since, &now);
            const char *why = NULL;
            if (k->phase == CONN_HEADERS && age > k->deadline_s)
                why = "headers";
            else if (k->phase == CONN_BODY && age > s->opt.header_timeout_s &&
                     (double)k->body_bytes < age * s->opt.min_body_rate)
                why = "body";
            if (!why) continue;
            /* the event loop sees end-of-stream and closes the connection itself */
            shutdown(k->fd, SHUT_RDWR);
            k->cut = true;
            lh_log(LH_LOG_WARN, "http.slow_client", LH_KV_STR("phase", why), LH_KV_DBL("seconds", (double)(long)age),
                   LH_KV_INT("body_bytes", (long long)k->body_bytes));
        }
    }
    pthread_mutex_unlock(&s->conn_mu);
    return NULL;
}

/* ---- the handler pool ---- */

/* Uncounts the jobs running for LONG_JOB_MS or more; *next is when the next
 * counted one will be long. Under p->mu. */
static void uncount_long_jobs(struct pool *p, struct timespec *next)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    *next = lh_time_after_ms(CLOCK_MONOTONIC, LONG_JOB_MS);
    for (size_t i = 0; i < p->n_started; i++) {
        struct pool_slot *w = &p->slots[i];
        if (!w->counted) continue;
        struct timespec long_at = lh_time_add_ms(w->started, LONG_JOB_MS);
        if (!lh_time_before(&now, &long_at)) {
            w->counted = false;
            p->running--;
        } else if (lh_time_before(&long_at, next)) {
            *next = long_at;
        }
    }
}

/* Waits (under p->mu) until a queued job may start, or the pool stops. One
 * idle worker at a time keeps time while the queue waits for a place. */
static void wait_for_job(struct pool *p)
{
    while (!p->stop && !(p->head && p->running < p->run_limit)) {
        if (p->head && !p->timing) {
            struct timespec next;
            uncount_long_jobs(p, &next);
            if (p->running < p->run_limit) break;
            p->timing = true;
            pthread_cond_timedwait(&p->wake, &p->mu, &next);
            p->timing = false;
        } else {
            pthread_cond_wait(&p->wake, &p->mu);
        }
    }
}

static void *worker_main(void *cls)
{
    lh_http_server *s = cls;
    struct pool *p = &s->pool;
    pthread_mutex_lock(&p->mu);
    struct pool_slot *me = &p->slots[p->n_started++];
    for (;;) {
        wait_for_job(p);
        struct request *r = p->head;
        if (!r) break; /* stopping and nothing left */
        p->head = r->next_job;
        if (!p->head) p->tail = NULL;
        else pthread_cond_signal(&p->wake); /* the next in line: another worker takes it, or keeps time */
        p->running++;
        me->counted = true;
        clock_gettime(CLOCK_MONOTONIC, &me->started);
        pthread_mutex_unlock(&p->mu);
        struct MHD_Connection *c = r->connection; /* r is the event loop's once resumed */
        if (r->job == JOB_STREAM) {
            if (!r->chunk) r->chunk = lh_xmalloc(STREAM_CHUNK);
            ssize_t n = r->res.stream(r->res.stream_ctx, r->chunk, STREAM_CHUNK);
            pthread_mutex_lock(&p->mu);
            r->chunk_len = n > 0 ? (size_t)n : 0;
            r->chunk_off = 0;
            if (n <= 0) r->stream_state = n == 0 ? STREAM_END : STREAM_ERROR;
        } else {
            run_handler(r);
            pthread_mutex_lock(&p->mu);
            r->handled = true;
        }
        if (me->counted) {
            me->counted = false;
            p->running--;
            /* this worker takes the next job itself unless it must wait for the suspension */
            if (p->head && !r->parked) pthread_cond_signal(&p->wake);
        }
        while (!r->parked) pthread_cond_wait(&p->parked, &p->mu);
        pthread_mutex_unlock(&p->mu);
        MHD_resume_connection(c);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Hands r's next job to the pool and suspends its connection; false once the
 * pool is stopping (the caller then does the work itself). The worker waits
 * for the suspension before it resumes, and nothing is queued after the stop,
 * so no connection is left suspended when libmicrohttpd stops. */
static bool pool_park(lh_http_server *s, struct request *r)
{
    struct pool *p = &s->pool;
    pthread_mutex_lock(&p->mu);
    if (p->stop) {
        pthread_mutex_unlock(&p->mu);
        return false;
    }
    r->next_job = NULL;
    r->parked = false;
    if (p->tail) p->tail->next_job = r;
    else p->head = r;
    p->tail = r;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->mu);
    MHD_suspend_connection(r->connection);
    pthread_mutex_lock(&p->mu);
    r->parked = true;
    pthread_cond_broadcast(&p->parked);
    pthread_mutex_unlock(&p->mu);
    return true;
}

static bool pool_handled(lh_http_server *s, struct request *r)
{
    pthread_mutex_lock(&s->pool.mu);
    bool done = r->handled;
    pthread_mutex_unlock(&s->pool.mu);
    return done;
}

/* ---- framing ---- */

struct header_walk {
    const char *cl[8];
    size_t n_cl;
    const char *te;
};

static enum MHD_Result collect_framing(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    struct header_walk *w = cls;
    if (!strcasecmp(key, "Content-Length")) {
        if (w->n_cl == sizeof w->cl / sizeof *w->cl) return MHD_NO;
        w->cl[w->n_cl++] = value ? value : "";
    } else if (!strcasecmp(key, "Transfer-Encoding")) {
        w->te = value ? value : "";
    }
    return MHD_YES;
}

/* 0, or the status (400/413) with the error already in r->res. */
static int check_framing(struct request *r, struct MHD_Connection *c)
{
    struct header_walk w = {.n_cl = 0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, collect_framing, &w);
    uint64_t len;
    int status = w.n_cl == sizeof w.cl / sizeof *w.cl ? 400 : lh_http_check_framing(w.cl, w.n_cl, w.te, body_limit(r), &len);
    if (status == 413) respond_too_big(r);
    else if (status == 400)
        lh_http_res_errorf(&r->res, LH_EINVAL, "malformed request framing: %s",
                           w.te && w.n_cl ? "Content-Length together with Transfer-Encoding"
                           : w.n_cl > 1   ? "more than one Content-Length"
                                          : "Content-Length is not a plain decimal number");
    if (status) lh_http_res_header(&r->res, "Connection", "close");
    return status;
}

/* A streamed (chunked) body just passed the limit. libmicrohttpd 0.9 cannot
 * queue a response mid-body, so the 413 is written to the socket here, the
 * write side is shut, and the rest of the body is read and dropped (bounded)
 * so the client sees the answer instead of a reset. */
static void answer_mid_body(struct request *r, struct MHD_Connection *c)
{
    respond_too_big(r);
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return;
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\nX-Request-Id: %s\r\n"
                     "Connection: close\r\nContent-Length: %zu\r\n\r\n",
                     r->id, r->res.len);
    struct iovec iov[2] = {{head, (size_t)n}, {r->res.data, r->res.len}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
    ssize_t w = sendmsg(ci->connect_fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) atomic_store(&r->bytes_out, (size_t)w);
    shutdown(ci->connect_fd, SHUT_WR);
    r->answered_raw = true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    lh_http_server *s = cls;
    struct request *r = *con_cls;
    if (!r) {
        r = request_new(s, c, url, method);
        *con_cls = r;
        conn_phase(s, c, CONN_BODY, 0);
        if (check_framing(r, c)) { /* answered now; MHD closes without reading the body */
            r->bad_framing = true;
            return queue(c, r);
        }
        if (r->match_rc == LH_OK && r->match.upload && r->match.upload->admit &&
            !r->match.upload->admit(&r->req, &r->res, r->match.ctx)) {
            r->bad_framing = true; /* refused before its body: the same path */
            return queue(c, r);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        conn_body_bytes(s, c, *upload_size);
        size_t received = r->match.upload ? r->up.total : r->body.len;
        if (!r->too_big && received + *upload_size > body_limit(r)) {
            lh_buf_free(&r->body);
            answer_mid_body(r, c);
        }
        if (r->too_big) {
            r->discarded += *upload_size;
            *upload_size = 0;
            return r->discarded > DISCARD_LIMIT ? MHD_NO : MHD_YES;
        }
        if (r->match.upload) {
            r->up.total += *upload_size;
            upload_piece(r, c, upload, *upload_size);
        } else {
            lh_buf_append(&r->body, upload, *upload_size);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->queued) return MHD_YES;
    if (r->answered_raw) return MHD_NO; /* the 413 went out already: close */
    if (r->dispatched) return pool_handled(s, r) ? queue(c, r) : MHD_YES;
    r->dispatched = true;
    if (r->match.upload) upload_finish(r);
    conn_phase(s, c, CONN_BUSY, 0);
    if (r->too_big || r->bad_framing) return queue(c, r);
    if (r->match_rc != LH_OK || r->match.run_inline) {
        run_handler(r);
        return queue(c, r);
    }
    r->job = JOB_HANDLER;
    if (pool_park(s, r)) return MHD_YES;
    run_handler(r); /* stopping: inline */
    return queue(c, r);
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* One access-log line; polled routes (lh_router_mark_quiet) log success at debug. */
static void access_log(const struct request *r, struct MHD_Connection *c, enum MHD_RequestTerminationCode toe)
{
    bool complete = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
    lh_log_level level = r->match.quiet && r->res.status < 300 && complete ? LH_LOG_DEBUG : LH_LOG_INFO;
    if (!lh_log_enabled(level)) return;
    char addr[INET6_ADDRSTRLEN] = "-";
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, addr, sizeof addr);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, addr, sizeof addr);
    }
    lh_log_set_request_id(r->id);
    lh_log(level, "http.access", LH_KV_STR("method", r->req.method), LH_KV_STR("path", r->log_path),
           LH_KV_INT("status", r->res.status), LH_KV_INT("bytes", (long long)atomic_load(&r->bytes_out)),
           LH_KV_DBL("ms", ms_since(&r->start)), LH_KV_STR("client", addr), LH_KV_BOOL("complete", complete));
    lh_log_set_request_id(NULL);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    lh_http_server *s = cls;
    struct request *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    access_log(r, c, toe);
    request_unref(r);
    /* keep-alive: the next request's headers are due within the idle timeout */
    conn_phase(s, c, CONN_HEADERS, s->opt.idle_timeout_s);
    pthread_mutex_lock(&s->mu);
    if (--s->in_flight == 0) pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
}

static size_t no_unescape(void *cls, struct MHD_Connection *c, char *uri)
{
    (void)cls;
    (void)c;
    return strlen(uri); /* the router decodes each path segment itself */
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) msg[--n] = '\0';
    lh_log(LH_LOG_WARN, "http.mhd", LH_KV_STR("message", msg));
}

static void pool_stop(lh_http_server *s)
{
    pthread_mutex_lock(&s->pool.mu);
    s->pool.stop = true;
    pthread_cond_broadcast(&s->pool.wake);
    pthread_mutex_unlock(&s->pool.mu);
    for (size_t i = 0; i < s->pool.n; i++) pthread_join(s->pool.threads[i], NULL);
    s->pool.n = 0;
}

static void reaper_stop(lh_http_server *s)
{
    pthread_mutex_lock(&s->conn_mu);
    s->reaper_stop = true;
    pthread_cond_signal(&s->reaper_wake);
    pthread_mutex_unlock(&s->conn_mu);
    pthread_join(s->reaper, NULL);
}

static void server_free(lh_http_server *s)
{
    free(s->pool.threads);
    free(s->pool.slots);
    pthread_cond_destroy(&s->pool.wake);
    pthread_cond_destroy(&s->pool.parked);
    pthread_mutex_destroy(&s->pool.mu);
    pthread_cond_destroy(&s->reaper_wake);
    pthread_mutex_destroy(&s->conn_mu);
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

lh_code lh_http_server_start(const lh_http_options *opt, const lh_router *router,
                             lh_http_server **out, lh_err *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", opt->port);
    int gai = getaddrinfo(opt->host, port, &hints, &ai);
    if (gai != 0)
        return lh_err_set(err, LH_EINVAL, "cannot resolve listen address %s: %s", opt->host,
                          gai_strerror(gai));
    struct sockaddr_storage addr;
    memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
    bool ipv6 = ai->ai_family == AF_INET6;
    /* a busy port is the commonest reason a start fails: say which, plainly
     * (libmicrohttpd's own message names port 0) */
    int probe = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (probe >= 0 && opt->port != 0) {
        setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(probe, ai->ai_addr, ai->ai_addrlen) != 0 && errno == EADDRINUSE) {
            close(probe);
            freeaddrinfo(ai);
            return lh_err_set(err, LH_EUNAVAILABLE,
                              "port %d on %s is busy (another process is listening there); "
                              "choose another with --listen HOST:PORT or server.listen",
                              opt->port, opt->host);
        }
    }
    if (probe >= 0) close(probe);
    freeaddrinfo(ai);

    lh_http_server *s = lh_xcalloc(1, sizeof *s);
    s->router = router;
    s->opt = *opt;
    if (!s->opt.event_threads) s->opt.event_threads = 2;
    if (!s->opt.worker_threads) s->opt.worker_threads = 16;
    if (!s->opt.cpu_slots) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        s->opt.cpu_slots = cores < 2 ? 2 : (unsigned)cores;
    }
    if (!s->opt.header_timeout_s) s->opt.header_timeout_s = 10;
    if (!s->opt.min_body_rate) s->opt.min_body_rate = 1024;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    pthread_mutex_init(&s->conn_mu, NULL);
    pthread_cond_init(&s->reaper_wake, NULL);
    s->conns.next = s->conns.prev = &s->conns;
    pthread_mutex_init(&s->pool.mu, NULL);
    pthread_condattr_t monotonic;
    pthread_condattr_init(&monotonic);
    pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
    pthread_cond_init(&s->pool.wake, &monotonic);
    pthread_condattr_destroy(&monotonic);
    pthread_cond_init(&s->pool.parked, NULL);
    if (getrandom(&s->id_salt, sizeof s->id_salt, 0) != sizeof s->id_salt)
        s->id_salt = (uint32_t)time(NULL) ^ (uint32_t)getpid();
    atomic_init(&s->next_id, 1);

    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | (ipv6 ? MHD_USE_IPv6 : 0);
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->opt.event_threads,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)opt->idle_timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)opt->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)opt->max_connections_per_ip,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_UNESCAPE_CALLBACK, no_unescape,
        NULL, MHD_OPTION_END);
    if (!s->daemon) {
        int e = errno;
        server_free(s);
        return lh_err_errno(err, LH_EIO, e, "cannot listen on %s:%d", opt->host, opt->port);
    }
    s->pool.threads = lh_xcalloc(s->opt.worker_threads, sizeof *s->pool.threads);
    s->pool.slots = lh_xcalloc(s->opt.worker_threads, sizeof *s->pool.slots);
    s->pool.run_limit = s->opt.cpu_slots;
    for (; s->pool.n < s->opt.worker_threads; s->pool.n++)
        if (pthread_create(&s->pool.threads[s->pool.n], NULL, worker_main, s) != 0) break;
    bool reaper = pthread_create(&s->reaper, NULL, reaper_main, s) == 0;
    if (s->pool.n == 0 || !reaper) {
        if (reaper) reaper_stop(s);
        pool_stop(s);
        MHD_stop_daemon(s->daemon);
        server_free(s);
        return lh_err_set(err, LH_EIO, "cannot start the server's threads");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_LISTEN_FD);
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    s->port = opt->port;
    if (info && getsockname(info->listen_fd, (struct sockaddr *)&bound, &blen) == 0)
        s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                    : ((struct sockaddr_in *)&bound)->sin_port);
    *out = s;
    return LH_OK;
}

int lh_http_server_port(const lh_http_server *s)
{
    return s->port;
}

bool lh_http_server_stopping(const lh_http_server *s)
{
    return atomic_load(&s->stopping);
}

void lh_http_server_stop(lh_http_server *s)
{
    if (!s) return;
    atomic_store(&s->stopping, true);
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET) close(fd);

    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += (time_t)s->opt.shutdown_timeout_s;
    pthread_mutex_lock(&s->mu);
    long waiting = s->in_flight;
    if (waiting)
        lh_log(LH_LOG_INFO, "server.draining", LH_KV_INT("in_flight", waiting),
               LH_KV_INT("timeout_s", s->opt.shutdown_timeout_s));
    int rc = 0;
    while (s->in_flight > 0 && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&s->idle, &s->mu, &deadline);
    long left = s->in_flight;
    pthread_mutex_unlock(&s->mu);
    if (left)
        lh_log(LH_LOG_WARN, "server.drain_timeout", LH_KV_INT("abandoned", left));
    /* handlers still running finish and resume their connections first:
     * libmicrohttpd must not be stopped with a connection suspended */
    pool_stop(s);
    MHD_stop_daemon(s->daemon);
    reaper_stop(s);
    server_free(s);
}

const char *lh_http_client_addr(const lh_http_req *req, char *buf, size_t n)
{
    snprintf(buf, n, "-");
    const union MHD_ConnectionInfo *ci =
        req->connection ? MHD_get_connection_info(req->connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET) inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)n);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, (socklen_t)n);
    }
    return buf;
}
