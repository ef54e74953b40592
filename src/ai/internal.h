/*
 * internal.h — what the aibridge's files share: libcurl set-up, one HTTP
 * exchange with retries, and message helpers. Not a public interface.
 */
#ifndef LH_AI_INTERNAL_H
#define LH_AI_INTERNAL_H

#include "lakehouse/lh_buf.h"
#include "lakehouse/lh_err.h"
#include "lakehouse/lh_journal.h"

#include <stdbool.h>
#include <stddef.h>

/* Answers larger than this are refused (LH_EUPSTREAM): a broken or hostile
 * server must not exhaust the process's memory. */
#define AI_MAX_RESPONSE_BYTES (256u << 20)
/* Vectors with more dimensions than this are refused. */
#define AI_MAX_DIM 65536u

/* curl_global_init, once per process. */
void ai_curl_init(void);

/* Appends at most max bytes of s[0..n) as valid UTF-8 (invalid bytes become
 * '?', a cut character is dropped, control characters become spaces). */
void ai_excerpt(lh_buf *out, const char *s, size_t n, size_t max);

/* Drops a trailing incomplete UTF-8 sequence from a message that
 * vsnprintf may have cut, so the error journal can store it as JSON. */
void ai_err_fix_utf8(lh_err *err);

/* One JSON POST with the aibridge's retry policy (see lh_ai.h). */
typedef struct ai_http_call {
    const char *what;      /* "embedding provider ollama (model m)", for messages */
    const char *operation; /* "ai.embed" | "ai.chat", for the error journal */
    const char *key;       /* "provider:model", for the error journal */
    const char *url;       /* full URL */
    const char *api_key;   /* NULL: no Authorization header */
    const char *body;
    size_t body_len;
    long long timeout_ms;
    int retries;
    lh_errors *errors; /* may be NULL */
} ai_http_call;

typedef struct ai_http_pool ai_http_pool;

ai_http_pool *ai_http_pool_new(void);
void ai_http_pool_free(ai_http_pool *p);

/* Performs the call; on LH_OK *response holds a 2xx answer's body. Failed
 * attempts are recorded; the final error names the URL, the HTTP status or
 * curl error, the number of attempts and the start of the body. */
lh_code ai_http_post(ai_http_pool *pool, const ai_http_call *call, lh_buf *response, lh_err *err);

/* Records a failure that is not an HTTP attempt (an unusable answer). */
void ai_record(const ai_http_call *call, const lh_err *err);

#endif
