/*
 * log.c — structured log lines (text key=value or JSON), one write(2) each.
 */
#include "lakehouse/lh_log.h"
#include "lakehouse/lh_buf.h"
#include "lakehouse/lh_time.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static lh_log_level min_level = LH_LOG_INFO;
static lh_log_format log_format = LH_LOG_TEXT;
static int log_fd = 2;
static __thread char thread_request_id[72];

static const char *level_names[] = {"debug", "info", "warn", "error"};

void lh_log_configure(lh_log_level level, lh_log_format format, int fd)
{
    min_level = level;
    log_format = format;
    log_fd = fd;
}

bool lh_log_enabled(lh_log_level level)
{
    return level >= min_level;
}

bool lh_log_level_parse(const char *s, lh_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (lh_log_level)i;
            return true;
        }
    }
    return false;
}

bool lh_log_format_parse(const char *s, lh_log_format *out)
{
    if (strcmp(s, "text") == 0) *out = LH_LOG_TEXT;
    else if (strcmp(s, "json") == 0) *out = LH_LOG_JSON;
    else return false;
    return true;
}

void lh_log_set_request_id(const char *id)
{
    if (!id) {
        thread_request_id[0] = '\0';
        return;
    }
    snprintf(thread_request_id, sizeof thread_request_id, "%s", id);
}

const char *lh_log_request_id(void)
{
    return thread_request_id[0] ? thread_request_id : NULL;
}

/* A text value needs quotes when it is empty or holds spaces, quotes, '=' or controls. */
static bool needs_quotes(const char *s)
{
    if (!*s) return true;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == '"' || *s == '=' || *s == '\\') return true;
    return false;
}

static void put_text_value(lh_buf *b, const char *s)
{
    if (!s) s = "";
    if (needs_quotes(s)) lh_buf_json_string(b, s, strlen(s));
    else lh_buf_puts(b, s);
}

static void put_pair(lh_buf *b, const lh_kv *kv)
{
    bool json = log_format == LH_LOG_JSON;
    if (json) {
        lh_buf_putc(b, ',');
        lh_buf_json_string(b, kv->key, strlen(kv->key));
        lh_buf_putc(b, ':');
    } else {
        lh_buf_printf(b, " %s=", kv->key);
    }
    switch (kv->type) {
    case LH_KV_T_STR:
        if (json) {
            if (kv->s) lh_buf_json_string(b, kv->s, strlen(kv->s));
            else lh_buf_puts(b, "null");
        } else {
            put_text_value(b, kv->s);
        }
        break;
    case LH_KV_T_INT: lh_buf_printf(b, "%lld", kv->i); break;
    case LH_KV_T_DBL:
        if (isfinite(kv->d)) lh_buf_printf(b, "%.3f", kv->d);
        else lh_buf_puts(b, json ? "null" : "nan");
        break;
    case LH_KV_T_BOOL: lh_buf_puts(b, kv->i ? "true" : "false"); break;
    }
}

void lh_log_emit(lh_log_level level, const char *event, const lh_kv *kvs, size_t n)
{
    if (level < min_level) return;
    int saved_errno = errno;
    char ts[LH_TIME_ISO_LEN];
    lh_time_iso8601(lh_time_now_ms(), ts);

    lh_buf b = {0};
    const char *rid = lh_log_request_id();
    if (log_format == LH_LOG_JSON) {
        lh_buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":", ts, level_names[level]);
        lh_buf_json_string(&b, event, strlen(event));
        if (rid) put_pair(&b, &LH_KV_STR("request_id", rid));
        for (size_t i = 0; i < n; i++) put_pair(&b, &kvs[i]);
        lh_buf_puts(&b, "}\n");
    } else {
        lh_buf_printf(&b, "ts=%s level=%s event=", ts, level_names[level]);
        put_text_value(&b, event);
        if (rid) put_pair(&b, &LH_KV_STR("request_id", rid));
        for (size_t i = 0; i < n; i++) put_pair(&b, &kvs[i]);
        lh_buf_putc(&b, '\n');
    }
    size_t off = 0;
    while (off < b.len) {
        ssize_t w = write(log_fd, b.data + off, b.len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    lh_buf_free(&b);
    errno = saved_errno;
}
