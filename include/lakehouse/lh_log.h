/*
 * lh_log.h — structured logging: one line per event, to stderr.
 *
 *   lh_log(LH_LOG_INFO, "http.access", LH_KV_STR("method", m), LH_KV_INT("status", 200));
 *
 * text format:  ts=2026-11-24T04:50:37.123Z level=info event=http.access request_id=… method=GET status=200
 * json format:  {"ts":"…","level":"info","event":"http.access","request_id":"…","method":"GET","status":200}
 *
 * Each line is written with one write(2), so concurrent threads never
 * interleave. The request id is per thread (set by the HTTP server while it
 * runs a handler) and added to every line that thread logs.
 */
#ifndef LH_LOG_H
#define LH_LOG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum lh_log_level { LH_LOG_DEBUG, LH_LOG_INFO, LH_LOG_WARN, LH_LOG_ERROR } lh_log_level;
typedef enum lh_log_format { LH_LOG_TEXT, LH_LOG_JSON } lh_log_format;

typedef enum lh_kv_type { LH_KV_T_STR, LH_KV_T_INT, LH_KV_T_DBL, LH_KV_T_BOOL } lh_kv_type;

typedef struct lh_kv {
    const char *key;
    lh_kv_type type;
    const char *s;
    long long i;
    double d;
} lh_kv;

#define LH_KV_STR(k, v) ((lh_kv){.key = (k), .type = LH_KV_T_STR, .s = (v)})
#define LH_KV_INT(k, v) ((lh_kv){.key = (k), .type = LH_KV_T_INT, .i = (long long)(v)})
#define LH_KV_DBL(k, v) ((lh_kv){.key = (k), .type = LH_KV_T_DBL, .d = (double)(v)})
#define LH_KV_BOOL(k, v) ((lh_kv){.key = (k), .type = LH_KV_T_BOOL, .i = !!(v)})

/* Logs an event with at least one key/value pair. */
#define lh_log(level, event, ...)                                                                  \
    lh_log_emit((level), (event), (const lh_kv[]){__VA_ARGS__},                                    \
                sizeof((const lh_kv[]){__VA_ARGS__}) / sizeof(lh_kv))

void lh_log_emit(lh_log_level level, const char *event, const lh_kv *kvs, size_t n);

/* Global settings; call before starting threads. Output goes to fd (2 by default). */
void lh_log_configure(lh_log_level min_level, lh_log_format format, int fd);
bool lh_log_enabled(lh_log_level level);

/* Parses "debug" | "info" | "warn" | "error" and "text" | "json"; false if unknown. */
bool lh_log_level_parse(const char *s, lh_log_level *out);
bool lh_log_format_parse(const char *s, lh_log_format *out);

/* The calling thread's request id (borrowed pointer, copied); NULL clears it. */
void lh_log_set_request_id(const char *id);
const char *lh_log_request_id(void);

#endif
