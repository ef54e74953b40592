/*
 * sql.c — POST /v1/sql {sql, params, format: json|ndjson|csv|parquet, max_rows, timeout_ms}
 * (the policy — deadline cap, row cap, Parquet export — is lh_app_sql_open's).
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
    lh_app *app; /* scrubs a failure before the client sees it */
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
            lh_app_error_scrub(st->app, err.code, &err);
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

void lh_api_sql_send(lh_app *app, lh_app_sql_run *run, lh_http_res *res)
{
    lh_err err;
    if (run->parquet_path) {
        int fd = open(run->parquet_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            lh_err_errno(&err, LH_EIO, errno, "reading the result file");
            unlink(run->parquet_path);
            free(run->parquet_path);
            lh_http_res_error(res, &err);
            return;
        }
        struct file_stream *fs = lh_xcalloc(1, sizeof *fs);
        fs->fd = fd;
        fs->path = run->parquet_path;
        lh_http_res_stream(res, 200, "application/vnd.apache.parquet", file_fill, fs, file_free);
        return;
    }
    if (run->format == LH_FORMAT_JSON) {
        lh_buf out = {0};
        lh_code rc = lh_app_error_scrub(app, lh_app_sql_json(run->cursor, run->offset, run->max_rows, &out, &err), &err);
        if (!lh_api_failed(res, rc, &err)) {
            size_t len = out.len;
            lh_http_res_bytes(res, 200, "application/json", lh_buf_detach(&out), len);
        }
        lh_buf_free(&out);
        lh_query_close(run->cursor);
        return;
    }
    struct stream *st = lh_xcalloc(1, sizeof *st);
    st->app = app;
    st->cursor = run->cursor;
    st->format = run->format;
    st->writer = lh_result_writer_new(run->cursor, run->format, run->max_rows);
    lh_result_writer_skip(st->writer, run->offset);
    lh_http_res_stream(res, 200, lh_result_format_content_type(run->format), stream_fill, st, stream_free);
}

void lh_api_sql(lh_http_req *req, lh_http_res *res, void *ctx)
{
    const lh_api_binding *b = ctx;
    lh_op_ctx call;
    if (!lh_api_call(req, res, b, &call)) return;
    json_t *args = lh_api_args(req, res, b, true);
    if (!args) return;
    lh_app_sql_run run;
    lh_err err;
    lh_code rc = lh_app_sql_open(b->app, args, &call.who, &run, &err);
    json_decref(args);
    if (lh_api_failed(res, rc, &err)) return;
    lh_api_sql_send(b->app, &run, res);
}
