/*
 * http.c — one JSON POST to a provider, with the aibridge's retry policy.
 *
 * Transient failures (connection refused or reset, nothing received, a
 * timeout, HTTP 429 and 5xx) are retried up to call->retries more times,
 * waiting 100 ms, 200 ms, ... (at most 5 s) between attempts; anything else
 * fails at once. Every failed attempt goes to the error journal. Answers are
 * read into memory up to AI_MAX_RESPONSE_BYTES.
 *
 * Easy handles are pooled so that consecutive calls reuse their keep-alive
 * connections; a handle is used by one thread at a time.
 */
#include "internal.h"
#include "lakehouse/lh_log.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_utf8.h"
#include "lakehouse/lh_version.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POOL_IDLE_MAX 8

struct ai_http_pool {
    pthread_mutex_t mu;
    CURL *idle[POOL_IDLE_MAX];
    size_t n_idle;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void ai_curl_init(void)
{
    pthread_once(&curl_once, curl_init_once);
}

void ai_excerpt(lh_buf *out, const char *s, size_t n, size_t max)
{
    size_t used = 0;
    lh_buf_append(out, "", 0); /* NUL-terminated even when nothing follows */
    lh_buf_reserve(out, max < n ? max : n);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : lh_utf8_char_len(s + i, n - i);
        if (used + (len ? len : 1) > max) break;
        if (len == 0) {
            lh_buf_putc(out, '?');
            len = 1;
        } else if (len == 1) {
            lh_buf_putc(out, c < 0x20 || c == 0x7f ? ' ' : (char)c);
        } else {
            lh_buf_append(out, s + i, len);
        }
        used += len;
        i += len;
    }
}

void ai_err_fix_utf8(lh_err *err)
{
    if (!err) return;
    size_t n = strlen(err->message);
    /* at most 3 bytes of a cut sequence can dangle at the end */
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char c = (unsigned char)err->message[n - back];
        if (c < 0x80) return;
        if (c >= 0xC0) { /* a lead byte: keep it only if its sequence is whole */
            if (lh_utf8_char_len(err->message + n - back, back) != back)
                err->message[n - back] = '\0';
            return;
        }
    }
}

ai_http_pool *ai_http_pool_new(void)
{
    ai_curl_init();
    ai_http_pool *p = lh_xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    return p;
}

void ai_http_pool_free(ai_http_pool *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n_idle; i++) curl_easy_cleanup(p->idle[i]);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static CURL *pool_take(ai_http_pool *p)
{
    CURL *h = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->n_idle) h = p->idle[--p->n_idle];
    pthread_mutex_unlock(&p->mu);
    if (h)
        curl_easy_reset(h); /* keeps the connection cache */
    else
        h = curl_easy_init();
    return h;
}

static void pool_give(ai_http_pool *p, CURL *h)
{
    pthread_mutex_lock(&p->mu);
    if (p->n_idle < POOL_IDLE_MAX) {
        p->idle[p->n_idle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&p->mu);
    if (h) curl_easy_cleanup(h);
}

struct sink {
    lh_buf *body;
    bool too_big;
};

static size_t on_write(char *data, size_t size, size_t n, void *ud)
{
    struct sink *s = ud;
    size_t len = size * n;
    if (s->body->len + len > AI_MAX_RESPONSE_BYTES) {
        s->too_big = true;
        return 0; /* aborts the transfer */
    }
    lh_buf_append(s->body, data, len);
    return len;
}

static bool transient_curl(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
        return true;
    default:
        return false;
    }
}

static bool transient_status(long status)
{
    return status == 429 || (status >= 500 && status <= 599);
}

static void backoff(int attempt)
{
    long ms = 100L << (attempt < 6 ? attempt : 6);
    if (ms > 5000) ms = 5000;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

void ai_record(const ai_http_call *call, const lh_err *err)
{
    if (call->errors)
        lh_errors_record(call->errors, call->operation, NULL, call->key, err);
    else
        lh_log(LH_LOG_DEBUG, "ai.failure", LH_KV_STR("operation", call->operation),
               LH_KV_STR("error", err->message));
}

/* Describes what went wrong with one attempt: "HTTP 500" or curl's words. */
static void describe(lh_buf *out, CURLcode cc, const char *curl_error, long status, bool too_big)
{
    if (too_big)
        lh_buf_printf(out, "answer larger than %u MiB", AI_MAX_RESPONSE_BYTES >> 20);
    else if (cc != CURLE_OK)
        lh_buf_printf(out, "%s%s", curl_error[0] ? curl_error : curl_easy_strerror(cc),
                      cc == CURLE_COULDNT_CONNECT ? " (is the server running?)" : "");
    else
        lh_buf_printf(out, "HTTP %ld", status);
}

lh_code ai_http_post(ai_http_pool *pool, const ai_http_call *call, lh_buf *response, lh_err *err)
{
    struct curl_slist *headers = NULL;
    char *auth = call->api_key && call->api_key[0]
                     ? lh_xasprintf("Authorization: Bearer %s", call->api_key)
                     : NULL;
    const char *lines[] = {"Content-Type: application/json", "Accept: application/json",
                           "Expect:", "User-Agent: lakehouse/" LH_VERSION, auth};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        if (!lines[i]) continue;
        struct curl_slist *more = curl_slist_append(headers, lines[i]);
        if (!more) {
            curl_slist_free_all(headers);
            free(auth);
            return lh_err_set(err, LH_ENOMEM, "out of memory for request headers");
        }
        headers = more;
    }
    int attempts = call->retries + 1;
    lh_code rc = LH_OK;
    char curl_error[CURL_ERROR_SIZE];
    lh_buf problem = {0}, excerpt = {0};
    for (int attempt = 1;; attempt++) {
        CURL *h = pool_take(pool);
        if (!h) {
            rc = lh_err_set(err, LH_ENOMEM, "curl_easy_init failed");
            break;
        }
        struct sink sink = {.body = response};
        lh_buf_reset(response);
        curl_error[0] = '\0';
        curl_easy_setopt(h, CURLOPT_URL, call->url);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, call->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_error);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)call->timeout_ms);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)call->timeout_ms);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
        CURLcode cc = curl_easy_perform(h);
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        pool_give(pool, h);
        if (cc == CURLE_OK && status >= 200 && status <= 299) break;

        bool again =
            !sink.too_big && (cc != CURLE_OK ? transient_curl(cc) : transient_status(status));
        lh_buf_reset(&problem);
        lh_buf_reset(&excerpt);
        describe(&problem, cc, curl_error, status, sink.too_big);
        if (cc == CURLE_OK) ai_excerpt(&excerpt, response->data, response->len, 200);
        const char *sep = excerpt.len ? ": " : "";
        const char *ex = excerpt.len ? excerpt.data : "";
        lh_code code = cc == CURLE_OPERATION_TIMEDOUT ? LH_ETIMEOUT
                       : cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST
                           ? LH_EUNAVAILABLE
                           : LH_EUPSTREAM;
        lh_err attempt_err;
        lh_err_set(&attempt_err, code, "%s at %s: attempt %d of %d: %s%s%s", call->what, call->url,
                   attempt, again ? attempts : attempt, problem.data, sep, ex);
        ai_err_fix_utf8(&attempt_err);
        ai_record(call, &attempt_err);
        if (!again || attempt >= attempts) {
            if (attempt > 1)
                rc = lh_err_set(err, code, "%s at %s: %s after %d attempts%s%s", call->what,
                                call->url, problem.data, attempt, sep, ex);
            else
                rc = lh_err_set(err, code, "%s at %s: %s%s%s", call->what, call->url, problem.data,
                                sep, ex);
            ai_err_fix_utf8(err);
            break;
        }
        backoff(attempt - 1);
    }
    lh_buf_free(&problem);
    lh_buf_free(&excerpt);
    curl_slist_free_all(headers);
    free(auth);
    return rc;
}
