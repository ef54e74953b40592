/*
 * s3.c — the S3-protocol backend over libcurl (AWS SigV4).
 *
 * Requests are signed by curl (CURLOPT_AWS_SIGV4); we supply what its
 * signer does not: the x-amz-content-sha256 header (the payload's hash, or
 * UNSIGNED-PAYLOAD for streamed uploads), an already-encoded path and a
 * canonical (sorted, encoded) query string. Connections are reused across
 * threads through a curl share handle.
 *
 * Failures: network errors, 5xx, 429 and 409 (a conflicting concurrent
 * request) are retried with exponential backoff and jitter; 412 on a
 * conditional write means the key exists (LH_EEXIST); other 4xx are clear
 * errors carrying S3's own code and message.
 */
#include "lakehouse/lh_log.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_sha256.h"
#include "lakehouse/lh_store.h"
#include "lakehouse/lh_time.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct s3_store {
    lh_store base;
    char *base_url; /* everything before the object path: "http://host:port/bucket" */
    char *prefix;
    bool path_style;
    char *sigv4;
    char *userpwd;
    char *session_token;
    uint64_t multipart_threshold, part_size;
    long timeout_ms;
    int retries;
    CURLSH *share;
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
} s3_store;

static s3_store *s3_of(lh_store *s)
{
    return (s3_store *)s;
}

/* ---- curl share locking ---- */

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ctx)
{
    (void)h;
    (void)access;
    pthread_mutex_lock(&((s3_store *)ctx)->locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ctx)
{
    (void)h;
    pthread_mutex_unlock(&((s3_store *)ctx)->locks[data]);
}

/* ---- encoding and tiny XML reading ---- */

/* RFC 3986 percent-encoding as S3 wants it; '/' kept when keep_slash. */
static void uri_encode(lh_buf *out, const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
            lh_buf_putc(out, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            lh_buf_append(out, e, 3);
        }
    }
}

/* Text of the first <tag>…</tag> in [p, end), entity-decoded into out. */
static bool xml_text(const char *p, const char *end, const char *tag, lh_buf *out,
                     const char **after)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *a = memmem(p, (size_t)(end - p), open, strlen(open));
    if (!a) return false;
    a += strlen(open);
    const char *b = memmem(a, (size_t)(end - a), close, strlen(close));
    if (!b) return false;
    lh_buf_reset(out);
    for (const char *c = a; c < b; c++) {
        if (*c != '&') {
            lh_buf_putc(out, *c);
            continue;
        }
        const char *semi = memchr(c, ';', (size_t)(b - c));
        if (!semi) {
            lh_buf_putc(out, *c);
            continue;
        }
        size_t n = (size_t)(semi - c - 1);
        const char *name = c + 1;
        if (n == 3 && !memcmp(name, "amp", 3)) lh_buf_putc(out, '&');
        else if (n == 2 && !memcmp(name, "lt", 2)) lh_buf_putc(out, '<');
        else if (n == 2 && !memcmp(name, "gt", 2)) lh_buf_putc(out, '>');
        else if (n == 4 && !memcmp(name, "quot", 4)) lh_buf_putc(out, '"');
        else if (n == 4 && !memcmp(name, "apos", 4)) lh_buf_putc(out, '\'');
        else if (n > 1 && name[0] == '#') {
            unsigned long cp = name[1] == 'x' ? strtoul(name + 2, NULL, 16) : strtoul(name + 1, NULL, 10);
            if (cp > 0 && cp < 0x80) lh_buf_putc(out, (char)cp);
            else if (cp < 0x800) {
                lh_buf_putc(out, (char)(0xC0 | (cp >> 6)));
                lh_buf_putc(out, (char)(0x80 | (cp & 0x3F)));
            } else if (cp < 0x10000) {
                lh_buf_putc(out, (char)(0xE0 | (cp >> 12)));
                lh_buf_putc(out, (char)(0x80 | ((cp >> 6) & 0x3F)));
                lh_buf_putc(out, (char)(0x80 | (cp & 0x3F)));
            } else {
                lh_buf_putc(out, (char)(0xF0 | (cp >> 18)));
                lh_buf_putc(out, (char)(0x80 | ((cp >> 12) & 0x3F)));
                lh_buf_putc(out, (char)(0x80 | ((cp >> 6) & 0x3F)));
                lh_buf_putc(out, (char)(0x80 | (cp & 0x3F)));
            }
        } else {
            lh_buf_append(out, c, n + 2);
        }
        c = semi;
    }
    if (!out->data) lh_buf_puts(out, "");
    if (after) *after = b + strlen(close);
    return true;
}

/* ---- one request ---- */

typedef struct s3_req {
    const char *method;
    const char *key; /* NULL for bucket-level requests */
    const char *query; /* canonical query string, or NULL */
    const void *body;
    size_t body_len;
    int body_fd; /* >= 0: stream the upload from here */
    uint64_t body_fd_len;
    const char *payload_hash;
    const char *extra_header; /* e.g. "If-None-Match: *" */
    char range[80];
    bool head;
    const lh_store_dst *dst; /* 2xx bodies go here when set */
    /* response */
    long status;
    lh_buf body_out; /* non-2xx bodies, and 2xx bodies without dst */
    lh_buf headers_out;
    size_t dst_start_len;
    off_t dst_start_off;
    uint64_t sent;
    lh_code write_failed;
} s3_req;

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
    s3_req *r = ud;
    size_t len = size * n;
    if (r->dst && r->status >= 200 && r->status < 300) {
        if (r->dst->buf) {
            lh_buf_append(r->dst->buf, p, len);
        } else {
            size_t off = 0;
            while (off < len) {
                ssize_t w = write(r->dst->fd, p + off, len - off);
                if (w < 0 && errno == EINTR) continue;
                if (w < 0) {
                    r->write_failed = LH_EIO;
                    return 0;
                }
                off += (size_t)w;
            }
        }
    } else {
        if (r->body_out.len < (1 << 20) || !(r->status >= 400)) lh_buf_append(&r->body_out, p, len);
    }
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    s3_req *r = ud;
    size_t len = size * n;
    /* a new status line (after a redirect or 100-continue) resets what we knew */
    if (len > 5 && memcmp(p, "HTTP/", 5) == 0) {
        lh_buf_reset(&r->headers_out);
        long code = 0;
        const char *sp = memchr(p, ' ', len);
        if (sp) code = strtol(sp + 1, NULL, 10);
        r->status = code;
    }
    lh_buf_append(&r->headers_out, p, len);
    return len;
}

static size_t on_read(char *p, size_t size, size_t n, void *ud)
{
    s3_req *r = ud;
    size_t want = size * n;
    if (r->body_fd_len - r->sent < want) want = (size_t)(r->body_fd_len - r->sent);
    if (want == 0) return 0;
    ssize_t got = pread(r->body_fd, p, want, (off_t)r->sent);
    if (got < 0) return CURL_READFUNC_ABORT;
    r->sent += (uint64_t)got;
    return (size_t)got;
}

static char *request_url(s3_store *s, const s3_req *r)
{
    lh_buf url = {0};
    lh_buf_puts(&url, s->base_url);
    if (r->key) {
        char *full = lh_xasprintf("%s%s", s->prefix, r->key);
        lh_buf_putc(&url, '/');
        uri_encode(&url, full, true);
        free(full);
    } else if (!s->path_style) {
        lh_buf_putc(&url, '/'); /* virtual-host style: the bucket is the root */
    }
    if (r->query && *r->query) {
        lh_buf_putc(&url, '?');
        lh_buf_puts(&url, r->query);
    }
    return lh_buf_detach(&url);
}

/* Header value from the captured response headers (case-insensitive). */
static bool response_header(const s3_req *r, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);
    for (const char *line = r->headers_out.data; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (len > nl + 1 && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ') v++;
            size_t vl = (size_t)(line + len - v);
            while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' ')) vl--;
            snprintf(out, n, "%.*s", (int)vl, v);
            return true;
        }
        line = eol ? eol + 1 : line + len;
    }
    return false;
}

static bool retryable(long status)
{
    return status == 0 || status >= 500 || status == 429 || status == 409;
}

static void backoff(int attempt)
{
    unsigned jitter = 0;
    if (getrandom(&jitter, sizeof jitter, 0) != sizeof jitter) jitter = (unsigned)attempt * 7919u;
    long ms = 100L << (attempt < 6 ? attempt : 6);
    ms += (long)(jitter % (unsigned)(ms / 2 + 1));
    if (ms > 5000) ms = 5000;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void reset_outputs(s3_req *r)
{
    r->status = 0;
    r->sent = 0;
    r->write_failed = LH_OK;
    lh_buf_reset(&r->body_out);
    lh_buf_reset(&r->headers_out);
    if (r->dst && r->dst->buf) {
        r->dst->buf->len = r->dst_start_len;
        if (r->dst->buf->data) r->dst->buf->data[r->dst_start_len] = '\0';
    } else if (r->dst && r->dst->fd >= 0) {
        if (ftruncate(r->dst->fd, r->dst_start_off) == 0) lseek(r->dst->fd, r->dst_start_off, SEEK_SET);
    }
}

/* Performs r with retries. Returns LH_OK for any HTTP answer that is not
 * worth retrying (the caller interprets r->status), or the network error. */
static lh_code perform(s3_store *s, s3_req *r, lh_err *err)
{
    char *url = request_url(s, r);
    if (r->dst && r->dst->buf) r->dst_start_len = r->dst->buf->len;
    if (r->dst && r->dst->fd >= 0) r->dst_start_off = lseek(r->dst->fd, 0, SEEK_CUR);
    lh_code rc = LH_OK;
    char curl_error[CURL_ERROR_SIZE];
    for (int attempt = 0;; attempt++) {
        reset_outputs(r);
        CURL *h = curl_easy_init();
        if (!h) {
            rc = lh_err_set(err, LH_ENOMEM, "curl_easy_init failed");
            break;
        }
        struct curl_slist *hs = NULL;
        char hash_header[128];
        snprintf(hash_header, sizeof hash_header, "x-amz-content-sha256: %s", r->payload_hash);
        hs = curl_slist_append(hs, hash_header);
        if (s->session_token) {
            char *tok = lh_xasprintf("x-amz-security-token: %s", s->session_token);
            hs = curl_slist_append(hs, tok);
            free(tok);
        }
        if (r->extra_header) hs = curl_slist_append(hs, r->extra_header);
        if (r->range[0]) hs = curl_slist_append(hs, r->range);
        curl_error[0] = '\0';
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_SHARE, s->share);
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
        curl_easy_setopt(h, CURLOPT_USERPWD, s->userpwd);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_error);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, s->timeout_ms);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
        if (r->body_fd >= 0 || r->dst) {
            /* big transfers: no overall deadline, but no stalls either */
            curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
            curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (s->timeout_ms + 999) / 1000);
        } else {
            curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, s->timeout_ms);
        }
        if (r->head) {
            curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        } else if (r->body_fd >= 0) {
            curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(h, CURLOPT_READDATA, r);
            curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_fd_len);
        } else if (r->body) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        }
        if (strcmp(r->method, "GET") != 0 && !r->head)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
        CURLcode cc = curl_easy_perform(h);
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        r->status = status;
        curl_slist_free_all(hs);
        curl_easy_cleanup(h);
        if (r->write_failed) {
            rc = lh_err_errno(err, LH_EIO, errno, "writing the download of %s", r->key ? r->key : "");
            break;
        }
        bool again = cc != CURLE_OK ? true : retryable(status);
        if (!again) break;
        if (attempt >= s->retries) {
            if (cc != CURLE_OK)
                rc = lh_err_set(err, LH_EUNAVAILABLE, "bucket %s: %s %s failed after %d attempts: %s",
                                s->base.name, r->method, r->key ? r->key : "/", attempt + 1,
                                curl_error[0] ? curl_error : curl_easy_strerror(cc));
            break;
        }
        lh_log(LH_LOG_DEBUG, "s3.retry", LH_KV_STR("bucket", s->base.name),
               LH_KV_STR("method", r->method), LH_KV_INT("status", status),
               LH_KV_INT("attempt", attempt + 1));
        backoff(attempt);
    }
    free(url);
    return rc;
}

/* Maps a non-2xx answer to an error carrying S3's code and message. */
static lh_code status_error(s3_store *s, s3_req *r, lh_err *err)
{
    lh_buf code = {0}, message = {0};
    const char *b = r->body_out.data ? r->body_out.data : "";
    const char *end = b + r->body_out.len;
    bool has_code = xml_text(b, end, "Code", &code, NULL);
    xml_text(b, end, "Message", &message, NULL);
    const char *c = has_code ? code.data : "";
    const char *m = message.data ? message.data : "";
    const char *what = r->key ? r->key : "(bucket)";
    lh_code rc;
    long st = r->status;
    if (st == 404 && strcmp(c, "NoSuchBucket") == 0)
        rc = lh_err_set(err, LH_EIO, "bucket %s: the S3 bucket does not exist (%s)", s->base.name, m);
    else if (st == 404)
        rc = lh_err_set(err, LH_ENOTFOUND, "bucket %s: no object %s", s->base.name, what);
    else if (st == 412)
        rc = lh_err_set(err, LH_EEXIST, "object %s already exists", what);
    else if (st == 403 || st == 401)
        rc = lh_err_set(err, LH_EFORBIDDEN, "bucket %s: %s %s refused: %s %s", s->base.name, r->method,
                        what, c[0] ? c : "AccessDenied", m);
    else if (st == 416)
        rc = lh_err_set(err, LH_EINVAL, "bucket %s: range not satisfiable for %s", s->base.name, what);
    else if (st >= 400 && st < 500)
        rc = lh_err_set(err, LH_EINVAL, "bucket %s: %s %s: HTTP %ld %s %s", s->base.name, r->method,
                        what, st, c, m);
    else
        rc = lh_err_set(err, LH_EUPSTREAM, "bucket %s: %s %s: HTTP %ld %s %s (after retries)",
                        s->base.name, r->method, what, st, c, m);
    lh_buf_free(&code);
    lh_buf_free(&message);
    return rc;
}

static void req_free(s3_req *r)
{
    lh_buf_free(&r->body_out);
    lh_buf_free(&r->headers_out);
}

/* Runs a request whose success is any 2xx. */
static lh_code run(s3_store *s, s3_req *r, lh_err *err)
{
    lh_code rc = perform(s, r, err);
    if (rc == LH_OK && (r->status < 200 || r->status >= 300)) rc = status_error(s, r, err);
    return rc;
}

static const char EMPTY_SHA256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/* ---- operations ---- */

static lh_code s3_get(lh_store *st, const char *key, uint64_t offset, uint64_t length,
                      const lh_store_dst *dst, lh_err *err)
{
    s3_store *s = s3_of(st);
    s3_req r = {.method = "GET", .key = key, .body_fd = -1, .payload_hash = EMPTY_SHA256, .dst = dst};
    if (length == 0) return LH_OK;
    if (offset || length != LH_STORE_TO_END) {
        if (length == LH_STORE_TO_END)
            snprintf(r.range, sizeof r.range, "Range: bytes=%llu-", (unsigned long long)offset);
        else
            snprintf(r.range, sizeof r.range, "Range: bytes=%llu-%llu", (unsigned long long)offset,
                     (unsigned long long)(offset + length - 1));
    }
    lh_code rc = run(s, &r, err);
    req_free(&r);
    return rc;
}

static lh_code s3_head(lh_store *st, const char *key, lh_object_info *info, lh_err *err)
{
    s3_store *s = s3_of(st);
    s3_req r = {.method = "HEAD", .key = key, .body_fd = -1, .payload_hash = EMPTY_SHA256, .head = true};
    lh_code rc = run(s, &r, err);
    if (rc == LH_OK) {
        char v[128];
        snprintf(info->key, sizeof info->key, "%s", key);
        info->size = response_header(&r, "Content-Length", v, sizeof v) ? strtoull(v, NULL, 10) : 0;
        info->mtime_ms = 0;
        if (response_header(&r, "Last-Modified", v, sizeof v)) {
            time_t t = curl_getdate(v, NULL);
            if (t > 0) info->mtime_ms = (int64_t)t * 1000;
        }
    }
    req_free(&r);
    return rc;
}

static lh_code s3_remove(lh_store *st, const char *key, lh_err *err)
{
    s3_store *s = s3_of(st);
    s3_req r = {.method = "DELETE", .key = key, .body_fd = -1, .payload_hash = EMPTY_SHA256};
    lh_code rc = perform(s, &r, err);
    if (rc == LH_OK && r.status != 404 && (r.status < 200 || r.status >= 300))
        rc = status_error(s, &r, err);
    req_free(&r);
    return rc;
}

static lh_code put_memory(s3_store *s, const char *key, const void *data, size_t len, unsigned flags,
                          lh_err *err)
{
    char hash[65];
    lh_sha256_hex(data, len, hash);
    s3_req r = {.method = "PUT", .key = key, .body = len ? data : "", .body_len = len, .body_fd = -1,
                .payload_hash = hash,
                .extra_header = (flags & LH_PUT_IF_ABSENT) ? "If-None-Match: *" : NULL};
    lh_code rc = run(s, &r, err);
    req_free(&r);
    return rc;
}

static lh_code put_stream(s3_store *s, const char *key, int fd, uint64_t size, unsigned flags,
                          lh_err *err)
{
    s3_req r = {.method = "PUT", .key = key, .body_fd = fd, .body_fd_len = size,
                .payload_hash = "UNSIGNED-PAYLOAD",
                .extra_header = (flags & LH_PUT_IF_ABSENT) ? "If-None-Match: *" : NULL};
    lh_code rc = run(s, &r, err);
    req_free(&r);
    return rc;
}

static void abort_multipart(s3_store *s, const char *key, const char *upload_id)
{
    lh_buf q = {0};
    lh_buf_puts(&q, "uploadId=");
    uri_encode(&q, upload_id, false);
    s3_req r = {.method = "DELETE", .key = key, .query = q.data, .body_fd = -1,
                .payload_hash = EMPTY_SHA256};
    lh_err ignored;
    perform(s, &r, &ignored);
    req_free(&r);
    lh_buf_free(&q);
}

static lh_code put_multipart(s3_store *s, const char *key, int fd, uint64_t size, unsigned flags,
                             lh_err *err)
{
    s3_req init = {.method = "POST", .key = key, .query = "uploads=", .body = "", .body_fd = -1,
                   .payload_hash = EMPTY_SHA256};
    lh_code rc = run(s, &init, err);
    lh_buf upload_id = {0};
    if (rc == LH_OK &&
        !xml_text(init.body_out.data ? init.body_out.data : "",
                  (init.body_out.data ? init.body_out.data : "") + init.body_out.len, "UploadId",
                  &upload_id, NULL))
        rc = lh_err_set(err, LH_EUPSTREAM, "bucket %s: no UploadId in the multipart answer", s->base.name);
    req_free(&init);
    if (rc) {
        lh_buf_free(&upload_id);
        return rc;
    }
    lh_buf complete = {0};
    lh_buf_puts(&complete, "<CompleteMultipartUpload>");
    char *part = lh_xmalloc((size_t)s->part_size);
    uint64_t off = 0;
    for (int number = 1; rc == LH_OK && off < size; number++) {
        size_t want = (size_t)(size - off < s->part_size ? size - off : s->part_size);
        size_t got = 0;
        while (got < want) {
            ssize_t n = pread(fd, part + got, want - got, (off_t)(off + got));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                rc = lh_err_errno(err, LH_EIO, n < 0 ? errno : EIO, "reading the upload of %s", key);
                break;
            }
            got += (size_t)n;
        }
        if (rc) break;
        char hash[65];
        lh_sha256_hex(part, want, hash);
        lh_buf q = {0};
        lh_buf_printf(&q, "partNumber=%d&uploadId=", number);
        uri_encode(&q, upload_id.data, false);
        s3_req pr = {.method = "PUT", .key = key, .query = q.data, .body = part, .body_len = want,
                     .body_fd = -1, .payload_hash = hash};
        rc = run(s, &pr, err);
        char etag[256] = "";
        if (rc == LH_OK && !response_header(&pr, "ETag", etag, sizeof etag))
            rc = lh_err_set(err, LH_EUPSTREAM, "bucket %s: no ETag for part %d of %s", s->base.name,
                            number, key);
        if (rc == LH_OK)
            lh_buf_printf(&complete, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", number,
                          etag);
        req_free(&pr);
        lh_buf_free(&q);
        off += want;
    }
    free(part);
    lh_buf_puts(&complete, "</CompleteMultipartUpload>");
    if (rc == LH_OK) {
        char hash[65];
        lh_sha256_hex(complete.data, complete.len, hash);
        lh_buf q = {0};
        lh_buf_puts(&q, "uploadId=");
        uri_encode(&q, upload_id.data, false);
        s3_req cr = {.method = "POST", .key = key, .query = q.data, .body = complete.data,
                     .body_len = complete.len, .body_fd = -1, .payload_hash = hash,
                     .extra_header = (flags & LH_PUT_IF_ABSENT) ? "If-None-Match: *" : NULL};
        rc = run(s, &cr, err);
        /* S3 may report a failed completion inside a 200 answer */
        if (rc == LH_OK && cr.body_out.data && strstr(cr.body_out.data, "<Error>")) {
            cr.status = 500;
            rc = status_error(s, &cr, err);
        }
        req_free(&cr);
        lh_buf_free(&q);
    }
    if (rc) abort_multipart(s, key, upload_id.data);
    lh_buf_free(&complete);
    lh_buf_free(&upload_id);
    return rc;
}

static lh_code s3_put(lh_store *st, const char *key, const lh_store_src *src, unsigned flags,
                      lh_err *err)
{
    s3_store *s = s3_of(st);
    if (src->fd < 0) return put_memory(s, key, src->data, src->len, flags, err);
    struct stat sb;
    if (fstat(src->fd, &sb) != 0) return lh_err_errno(err, LH_EIO, errno, "stat of the upload of %s", key);
    uint64_t size = (uint64_t)sb.st_size;
    if (size > s->multipart_threshold) return put_multipart(s, key, src->fd, size, flags, err);
    return put_stream(s, key, src->fd, size, flags, err);
}

static lh_code s3_list(lh_store *st, const char *prefix, lh_store_list_fn fn, void *ctx, lh_err *err)
{
    s3_store *s = s3_of(st);
    lh_buf token = {0}, field = {0};
    lh_code rc = LH_OK;
    bool more = true, stop = false;
    char *full_prefix = lh_xasprintf("%s%s", s->prefix, prefix);
    size_t strip = strlen(s->prefix);
    while (rc == LH_OK && more && !stop) {
        /* canonical order: continuation-token, list-type, prefix */
        lh_buf q = {0};
        if (token.len) {
            lh_buf_puts(&q, "continuation-token=");
            uri_encode(&q, token.data, false);
            lh_buf_putc(&q, '&');
        }
        lh_buf_puts(&q, "list-type=2&prefix=");
        uri_encode(&q, full_prefix, false);
        s3_req r = {.method = "GET", .key = NULL, .query = q.data, .body_fd = -1,
                    .payload_hash = EMPTY_SHA256};
        rc = run(s, &r, err);
        if (rc == LH_OK) {
            const char *p = r.body_out.data ? r.body_out.data : "";
            const char *end = p + r.body_out.len;
            const char *open_tag;
            /* search the raw XML (text cannot hold a literal '<'), decode each field */
            while (!stop && (open_tag = memmem(p, (size_t)(end - p), "<Contents>", 10))) {
                const char *close_tag = memmem(open_tag, (size_t)(end - open_tag), "</Contents>", 11);
                if (!close_tag) break;
                lh_object_info info = {0};
                if (xml_text(open_tag, close_tag, "Key", &field, NULL) && field.len > strip &&
                    field.len - strip <= LH_STORE_KEY_MAX) {
                    snprintf(info.key, sizeof info.key, "%s", field.data + strip);
                    if (xml_text(open_tag, close_tag, "Size", &field, NULL))
                        info.size = strtoull(field.data, NULL, 10);
                    if (xml_text(open_tag, close_tag, "LastModified", &field, NULL))
                        lh_time_parse_iso8601(field.data, &info.mtime_ms);
                    if (!fn(ctx, &info)) stop = true;
                }
                p = close_tag + 11;
            }
            more = xml_text(r.body_out.data ? r.body_out.data : "", end, "IsTruncated", &field, NULL) &&
                   strcmp(field.data, "true") == 0;
            if (more && !xml_text(r.body_out.data, end, "NextContinuationToken", &token, NULL)) more = false;
        }
        req_free(&r);
        lh_buf_free(&q);
    }
    free(full_prefix);
    lh_buf_free(&token);
    lh_buf_free(&field);
    return rc;
}

static lh_code s3_check(lh_store *st, lh_err *err)
{
    s3_store *s = s3_of(st);
    s3_req r = {.method = "GET", .key = NULL, .query = "list-type=2&max-keys=1", .body_fd = -1,
                .payload_hash = EMPTY_SHA256};
    lh_code rc = run(s, &r, err);
    req_free(&r);
    return rc;
}

static void s3_close(lh_store *st)
{
    s3_store *s = s3_of(st);
    if (s->share) curl_share_cleanup(s->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_destroy(&s->locks[i]);
    free(s->base_url);
    free(s->prefix);
    free(s->sigv4);
    free(s->userpwd);
    free(s->session_token);
    free(s->base.name);
    free(s);
}

static const lh_store_ops s3_ops = {
    .backend = "s3",
    .get = s3_get,
    .put = s3_put,
    .head = s3_head,
    .list = s3_list,
    .remove = s3_remove,
    .check = s3_check,
    .local_path = NULL,
    .close = s3_close,
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Writes a probe object twice with If-None-Match: *; a server that accepts
 * the second write does not implement conditional writes. */
static lh_code probe_conditional(s3_store *s, lh_err *err)
{
    uint64_t nonce = 0;
    if (getrandom(&nonce, sizeof nonce, 0) != sizeof nonce) nonce = (uint64_t)time(NULL);
    char key[64];
    snprintf(key, sizeof key, ".lh-probe/%016llx", (unsigned long long)nonce);
    lh_code rc = put_memory(s, key, "1", 1, LH_PUT_IF_ABSENT, err);
    if (rc) return rc;
    lh_err second;
    lh_code again = put_memory(s, key, "2", 1, LH_PUT_IF_ABSENT, &second);
    s->base.conditional_writes = again == LH_EEXIST;
    lh_err ignored;
    s3_remove(&s->base, key, &ignored);
    if (again != LH_OK && again != LH_EEXIST) {
        if (err) *err = second;
        return again;
    }
    if (!s->base.conditional_writes)
        lh_log(LH_LOG_WARN, "s3.no_conditional_writes", LH_KV_STR("bucket", s->base.name),
               LH_KV_STR("detail", "the server ignores If-None-Match; concurrent writers in "
                                   "different processes are not safe on this bucket"));
    return LH_OK;
}

lh_code lh_store_s3_open(const char *name, const lh_s3_options *o, lh_store **out, lh_err *err)
{
    pthread_once(&curl_once, curl_init_once);
    const char *ak = o->access_key_id && *o->access_key_id ? o->access_key_id : getenv("AWS_ACCESS_KEY_ID");
    const char *sk = o->secret_access_key && *o->secret_access_key ? o->secret_access_key
                                                                    : getenv("AWS_SECRET_ACCESS_KEY");
    const char *tok = o->session_token && *o->session_token ? o->session_token : getenv("AWS_SESSION_TOKEN");
    if (!o->endpoint || !*o->endpoint)
        return lh_err_set(err, LH_EINVAL, "bucket %s: s3 needs an endpoint", name);
    if (!o->bucket || !*o->bucket)
        return lh_err_set(err, LH_EINVAL, "bucket %s: s3 needs a bucket name", name);
    if (!ak || !sk)
        return lh_err_set(err, LH_EINVAL,
                          "bucket %s: no S3 credentials (set access_key_id and secret_access_key, "
                          "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
                          name);
    const char *scheme_end = strstr(o->endpoint, "://");
    if (!scheme_end) return lh_err_set(err, LH_EINVAL, "bucket %s: endpoint must start with http:// or https://", name);
    s3_store *s = lh_xcalloc(1, sizeof *s);
    s->base.ops = &s3_ops;
    s->base.name = lh_xstrdup(name);
    s->base.conditional_writes = true;
    size_t elen = strlen(o->endpoint);
    while (elen && o->endpoint[elen - 1] == '/') elen--;
    if (o->path_style)
        s->base_url = lh_xasprintf("%.*s/%s", (int)elen, o->endpoint, o->bucket);
    else
        s->base_url = lh_xasprintf("%.*s%s.%.*s", (int)(scheme_end + 3 - o->endpoint), o->endpoint,
                                   o->bucket, (int)(elen - (size_t)(scheme_end + 3 - o->endpoint)),
                                   scheme_end + 3);
    s->prefix = lh_xstrdup(o->prefix ? o->prefix : "");
    s->path_style = o->path_style;
    s->sigv4 = lh_xasprintf("aws:amz:%s:s3", o->region && *o->region ? o->region : "us-east-1");
    s->userpwd = lh_xasprintf("%s:%s", ak, sk);
    s->session_token = tok && *tok ? lh_xstrdup(tok) : NULL;
    s->multipart_threshold = o->multipart_threshold ? o->multipart_threshold : 64ULL << 20;
    s->part_size = o->part_size >= (5ULL << 20) ? o->part_size : 8ULL << 20;
    s->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
    s->retries = o->retries >= 0 ? o->retries : 3;
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_init(&s->locks[i], NULL);
    s->share = curl_share_init();
    curl_share_setopt(s->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(s->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(s->share, CURLSHOPT_USERDATA, s);
    curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    lh_code rc = o->lazy ? LH_OK : s3_check(&s->base, err);
    if (rc == LH_OK && !o->lazy) rc = probe_conditional(s, err);
    if (rc) {
        s3_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return LH_OK;
}
