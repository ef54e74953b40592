/*
 * sql.c — POST /v1/sql {sql, params, format: json|ndjson|csv|parquet, max_rows, timeout_ms}.
 *
 * json is answered whole (at most max_rows rows, then "truncated"), so a
 * deadline or an error is a proper status (408, 400). ndjson and csv stream
 * chunk by chunk, so a 10-million-row result never sits in memory; an error
 * after the first byte ends an ndjson stream with an {"error": ...} line and
 * cuts a csv stream short. parquet runs COPY into a temp file inside the
 * sandbox and streams the file.
 */
#include "internal.h"

#include "lakehouse/lh_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct stream {
    lh_query_cursor *cursor;
    lh_result_writer *writer;
    lh_result_format format;
    lh_buf pending;
    size_t sent;
    bool done;
};

static void stream_free(void *ctx)
{
    struct stream *st = ctx;
    lh_result_writer_free(st->writer);
    lh_query_close(st->cursor);
    lh_buf_free(&st->pending);
    free(st);
}

static ssize_t stream_fill(void *ctx, char *buf, size_t max)
{
    struct stream *st = ctx;
    while (st->sent == st->pending.len && !st->done) {
        lh_buf_reset(&st->pending);
        st->sent = 0;
        lh_err err;
        if (lh_result_writer_next(st->writer, &st->pending, &st->done, &err) != LH_OK) {
            if (st->format != LH_FORMAT_NDJSON) return -1; /* csv: cut the stream short */
            lh_buf_puts(&st->pending, "{\"error\":{\"code\":");
            lh_buf_json_string(&st->pending, lh_code_name(err.code), strlen(lh_code_name(err.code)));
            lh_buf_puts(&st->pending, ",\"message\":");
            lh_buf_json_string(&st->pending, err.message, strlen(err.message));
            lh_buf_puts(&st->pending, "}}\n");
            st->done = true;
        }
    }
    size_t n = st->pending.len - st->sent;
    if (n == 0) return 0;
    if (n > max) n = max;
    memcpy(buf, st->pending.data + st->sent, n);
    st->sent += n;
    return (ssize_t)n;
}

struct file_stream {
    int fd;
    char *path;
};

static ssize_t file_fill(void *ctx, char *buf, size_t max)
{
    struct file_stream *fs = ctx;
    ssize_t n;
    do n = read(fs->fd, buf, max);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -1 : n;
}

static void file_free(void *ctx)
{
    struct file_stream *fs = ctx;
    close(fs->fd);
    unlink(fs->path);
    free(fs->path);
    free(fs);
}

static void answer_json(lh_http_res *res, lh_query_cursor *cur, long long max_rows)
{
    lh_result_writer *w = lh_result_writer_new(cur, LH_FORMAT_JSON, max_rows);
    lh_buf out = {0};
    bool done = false;
    lh_err err;
    lh_code rc = LH_OK;
    while (rc == LH_OK && !done) rc = lh_result_writer_next(w, &out, &done, &err);
    if (rc) {
        if (rc == LH_ETIMEOUT) {
            size_t n = strlen(err.message);
            snprintf(err.message + n, sizeof err.message - n, " (after %.0f ms, %lld rows produced)",
                     lh_query_elapsed_ms(cur), lh_result_writer_rows(w));
        }
        lh_http_res_error(res, &err);
    } else {
        /* add the elapsed time before the closing brace */
        while (out.len && (out.data[out.len - 1] == '\n' || out.data[out.len - 1] == '}')) out.len--;
        lh_buf_printf(&out, ",\"elapsed_ms\":%.3f}\n", lh_query_elapsed_ms(cur));
        size_t len = out.len;
        lh_http_res_bytes(res, 200, "application/json", lh_buf_detach(&out), len);
    }
    lh_buf_free(&out);
    lh_result_writer_free(w);
}

static void answer_parquet(lh_app *app, lh_http_res *res, const char *sql, json_t *params,
                           long long timeout_ms)
{
    lh_err err;
    if (lh_api_failed(res, lh_query_check(app->query, sql, &err), &err)) return;
    static unsigned counter;
    char *path = lh_xasprintf("%s/_cache/result-%d-%u.parquet", app->data_dir, (int)getpid(),
                              __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
    lh_buf copy = {0};
    /* the statement was checked to be a single SELECT: it cannot close this parenthesis */
    lh_buf_printf(&copy, "COPY (\n%s\n) TO ", sql);
    lh_sql_quote_literal(&copy, path);
    lh_buf_puts(&copy, " (FORMAT parquet, COMPRESSION zstd)");
    lh_query_args args = {.sql = copy.data, .params = params, .timeout_ms = timeout_ms};
    lh_query_cursor *cur;
    lh_code rc = lh_query_open(app->query, &args, &cur, &err);
    if (rc == LH_OK) lh_query_close(cur);
    lh_buf_free(&copy);
    int fd = rc == LH_OK ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (rc == LH_OK && fd < 0) rc = lh_err_errno(&err, LH_EIO, errno, "reading the result file");
    if (rc) {
        unlink(path);
        free(path);
        lh_http_res_error(res, &err);
        return;
    }
    struct file_stream *fs = lh_xcalloc(1, sizeof *fs);
    fs->fd = fd;
    fs->path = path;
    lh_http_res_stream(res, 200, "application/vnd.apache.parquet", file_fill, fs, file_free);
}

static void post_sql(lh_http_req *req, lh_http_res *res, void *ctx)
{
    lh_app *app = ctx;
    json_t *body;
    lh_err err;
    if (lh_api_failed(res, lh_http_body_json(req, &body, &err), &err)) return;
    json_t *sql = json_object_get(body, "sql"), *params = json_object_get(body, "params");
    json_t *fmt = json_object_get(body, "format"), *max = json_object_get(body, "max_rows");
    json_t *timeout = json_object_get(body, "timeout_ms");
    lh_result_format format = LH_FORMAT_JSON;
    const char *bad = NULL;
    if (!json_is_string(sql) || !*json_string_value(sql)) bad = "\"sql\" (a string) is required";
    else if (params && !json_is_array(params) && !json_is_null(params)) bad = "\"params\" must be an array";
    else if (fmt && (!json_is_string(fmt) || (strcmp(json_string_value(fmt), "parquet") != 0 &&
                                              (!lh_result_format_parse(json_string_value(fmt), &format) ||
                                               format == LH_FORMAT_TABLE))))
        bad = "\"format\" is json, ndjson, csv or parquet";
    else if (max && (!json_is_integer(max) || json_integer_value(max) < 1)) bad = "\"max_rows\" must be a positive integer";
    else if (timeout && (!json_is_integer(timeout) || json_integer_value(timeout) < 1))
        bad = "\"timeout_ms\" must be a positive integer";
    if (bad) {
        lh_http_res_errorf(res, LH_EINVAL, "%s", bad);
        json_decref(body);
        return;
    }
    long long timeout_ms = timeout ? json_integer_value(timeout) : app->query_timeout_ms;
    if (timeout_ms > app->query_timeout_ms * 10) timeout_ms = app->query_timeout_ms * 10;
    long long max_rows = max ? json_integer_value(max) : 0;
    if (format == LH_FORMAT_JSON && (max_rows == 0 || max_rows > app->query_max_rows)) max_rows = app->query_max_rows;
    if (json_is_null(params)) params = NULL;

    if (fmt && strcmp(json_string_value(fmt), "parquet") == 0) {
        answer_parquet(app, res, json_string_value(sql), params, timeout_ms);
        json_decref(body);
        return;
    }
    lh_query_args args = {.sql = json_string_value(sql), .params = params, .timeout_ms = timeout_ms,
                          .read_only = true};
    lh_query_cursor *cur;
    if (lh_api_failed(res, lh_query_open(app->query, &args, &cur, &err), &err)) {
        json_decref(body);
        return;
    }
    json_decref(body);
    if (format == LH_FORMAT_JSON) {
        answer_json(res, cur, max_rows);
        lh_query_close(cur);
        return;
    }
    struct stream *st = lh_xcalloc(1, sizeof *st);
    st->cursor = cur;
    st->format = format;
    st->writer = lh_result_writer_new(cur, format, max_rows);
    lh_http_res_stream(res, 200, lh_result_format_content_type(format), stream_fill, st, stream_free);
}

void lh_api_sql_routes(lh_app *app, lh_router *r)
{
    lh_router_add(r, "POST", "/v1/sql", post_sql, app);
}
