/*
 * jobs.c — long calls started from the browser (an ingest, an index
 * refresh) and their progress as server-sent events.
 *
 * The browser names a job with 32 random hex digits before it sends the
 * request that runs it, and listens on GET /ui/jobs/{id}/events at once;
 * the request's handler runs the operation with lh_op_ctx.progress pointing
 * here. A job belongs to the session that started it: another session
 * gets 404. The job keeps its last UI_JOB_POINTS progress points (one per
 * whole percent), so a listener that connects late, or a job faster than
 * the network, still sees every step, then a final "done" event.
 *
 * Streams: each turn of the stream waits at most UI_JOB_TURN_MS for news on
 * a worker thread, then hands the worker back (a heartbeat when nothing
 * happened), and at most UI_EVENT_STREAMS_MAX stream at once (503 beyond:
 * the page still gets its result from the request itself). A stream lasts
 * at most UI_JOB_STREAM_MS (so none holds up a graceful shutdown); the
 * browser's EventSource then reconnects with Last-Event-ID, the number of
 * the last point it got, and the next stream goes on from there.
 */
#include "internal.h"

#include "lakehouse/lh_time.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UI_JOBS_MAX 64
#define UI_JOB_POINTS 128
#define UI_JOB_TEXT 256
#define UI_JOB_TURN_MS 500
#define UI_JOB_STREAM_MS 10000
#define UI_EVENT_STREAMS_MAX 8

struct ui_job {
    ui_jobs *owner;
    bool used, running, ok;
    char id[UI_JOB_ID_HEX + 1];
    char sid[LH_UI_SESSION_ID_HEX + 1];
    char kind[16];
    char target[UI_JOB_TEXT], actor[UI_JOB_TEXT], what[UI_JOB_TEXT];
    char message[1024];
    long long bytes, version;
    int64_t started_ms, finished_ms;
    unsigned long long order; /* started n-th: the listing's order */
    int last_percent;
    unsigned n_points; /* points recorded so far; the last UI_JOB_POINTS are kept */
    float points[UI_JOB_POINTS];
};

struct ui_jobs {
    pthread_mutex_t mu;
    pthread_cond_t changed;
    unsigned streams;
    unsigned long long started; /* jobs started so far */
    ui_job jobs[UI_JOBS_MAX];
};

ui_jobs *ui_jobs_new(void)
{
    ui_jobs *j = lh_xcalloc(1, sizeof *j);
    pthread_mutex_init(&j->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&j->changed, &attr);
    pthread_condattr_destroy(&attr);
    return j;
}

bool ui_job_id_valid(const char *id)
{
    if (!id || strlen(id) != UI_JOB_ID_HEX) return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
    return true;
}

static ui_job *find(ui_jobs *j, const char *sid, const char *id)
{
    for (size_t i = 0; i < UI_JOBS_MAX; i++)
        if (j->jobs[i].used && !strcmp(j->jobs[i].id, id) && !strcmp(j->jobs[i].sid, sid)) return &j->jobs[i];
    return NULL;
}

static void record(ui_job *job, double done)
{
    job->points[job->n_points % UI_JOB_POINTS] = (float)done;
    job->n_points++;
}

ui_job *ui_job_start(lh_ui *ui, const char *sid, const char *id, const char *kind, const char *target,
                     const char *actor, long long bytes)
{
    if (!ui_job_id_valid(id)) return NULL;
    ui_jobs *j = ui->jobs;
    pthread_mutex_lock(&j->mu);
    ui_job *slot = find(j, sid, id);
    if (slot && slot->running) slot = NULL; /* the browser reused a running job's id: untracked */
    else if (!slot) {
        for (size_t i = 0; i < UI_JOBS_MAX; i++) { /* a free slot, else the oldest finished job's */
            ui_job *c = &j->jobs[i];
            if (!c->used) {
                slot = c;
                break;
            }
            if (!c->running && (!slot || c->finished_ms < slot->finished_ms)) slot = c;
        }
    }
    if (slot) {
        memset(slot, 0, sizeof *slot);
        slot->owner = j;
        slot->used = slot->running = true;
        snprintf(slot->id, sizeof slot->id, "%s", id);
        snprintf(slot->sid, sizeof slot->sid, "%s", sid);
        snprintf(slot->kind, sizeof slot->kind, "%s", kind);
        snprintf(slot->target, sizeof slot->target, "%s", target ? target : "");
        snprintf(slot->actor, sizeof slot->actor, "%s", actor ? actor : "");
        slot->bytes = bytes;
        slot->started_ms = lh_time_now_ms();
        slot->order = ++j->started;
        slot->last_percent = 0;
        record(slot, 0);
        pthread_cond_broadcast(&j->changed);
    }
    pthread_mutex_unlock(&j->mu);
    return slot;
}

void ui_job_progress(void *ctx, const char *what, double done)
{
    ui_job *job = ctx;
    if (!job) return;
    ui_jobs *j = job->owner;
    if (done < 0) done = 0;
    if (done > 1) done = 1;
    pthread_mutex_lock(&j->mu);
    int percent = (int)(done * 100);
    if (what && strncmp(job->what, what, sizeof job->what - 1)) { /* a new phase (the next file, embedding) */
        snprintf(job->what, sizeof job->what, "%s", what);
        job->last_percent = -1;
    }
    if (percent > job->last_percent) {
        job->last_percent = percent;
        record(job, done);
        pthread_cond_broadcast(&j->changed);
    }
    pthread_mutex_unlock(&j->mu);
}

void ui_job_finish(ui_job *job, bool ok, const char *message, long long version)
{
    if (!job) return;
    ui_jobs *j = job->owner;
    pthread_mutex_lock(&j->mu);
    if (ok && job->last_percent < 100) {
        job->last_percent = 100;
        record(job, 1);
    }
    job->running = false;
    job->ok = ok;
    job->version = version;
    job->finished_ms = lh_time_now_ms();
    snprintf(job->message, sizeof job->message, "%s", message ? message : "");
    pthread_cond_broadcast(&j->changed);
    pthread_mutex_unlock(&j->mu);
}

static json_t *job_json(const ui_job *job)
{
    char started[LH_TIME_ISO_LEN], finished[LH_TIME_ISO_LEN];
    lh_time_iso8601(job->started_ms, started);
    if (!job->running) lh_time_iso8601(job->finished_ms, finished);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:s, s:I, s:s, s:s?, s:s?, s:I}", "id", job->id, "kind", job->kind,
                     "target", job->target, "actor", job->actor, "state",
                     job->running ? "running" : job->ok ? "done" : "failed", "done",
                     (double)job->last_percent / 100.0, "what", job->what, "bytes", (json_int_t)job->bytes,
                     "started_at", started, "finished_at", job->running ? NULL : finished, "message",
                     job->running || !job->message[0] ? NULL : job->message, "version", (json_int_t)job->version);
}

json_t *ui_jobs_list(lh_ui *ui)
{
    ui_jobs *j = ui->jobs;
    const ui_job *order[UI_JOBS_MAX];
    size_t n = 0;
    pthread_mutex_lock(&j->mu);
    for (size_t i = 0; i < UI_JOBS_MAX; i++)
        if (j->jobs[i].used) order[n++] = &j->jobs[i];
    for (size_t i = 1; i < n; i++) /* newest first (a handful: insertion sort) */
        for (size_t k = i; k > 0 && order[k]->order > order[k - 1]->order; k--) {
            const ui_job *t = order[k];
            order[k] = order[k - 1];
            order[k - 1] = t;
        }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(list, job_json(order[i]));
    pthread_mutex_unlock(&j->mu);
    return list;
}

/* ---- GET /ui/jobs/{id}/events ---- */

typedef struct stream {
    ui_jobs *jobs;
    char id[UI_JOB_ID_HEX + 1];
    char sid[LH_UI_SESSION_ID_HEX + 1];
    unsigned sent;  /* points sent (the next one's number) */
    bool ended;     /* the done event went out */
    int64_t end_ms; /* when this stream ends (the browser reconnects) */
} stream;

static void stream_free(void *ctx)
{
    stream *s = ctx;
    pthread_mutex_lock(&s->jobs->mu);
    s->jobs->streams--;
    pthread_mutex_unlock(&s->jobs->mu);
    free(s);
}

/* One event "id: <n>\nevent: <name>\ndata: <json>\n\n" into buf if it fits; its length, or 0. */
static size_t put_event(char *buf, size_t max, unsigned id, const char *name, json_t *data)
{
    char *text = json_dumps(data, JSON_COMPACT);
    json_decref(data);
    int n = text ? snprintf(buf, max, "id: %u\nevent: %s\ndata: %s\n\n", id, name, text) : -1;
    free(text);
    return n > 0 && (size_t)n < max ? (size_t)n : 0;
}

static ssize_t stream_next(void *ctx, char *buf, size_t max)
{
    stream *s = ctx;
    if (s->ended) return 0;
    ui_jobs *j = s->jobs;
    size_t len = 0;
    pthread_mutex_lock(&j->mu);
    struct timespec until = lh_time_after_ms(CLOCK_MONOTONIC, UI_JOB_TURN_MS);
    for (;;) {
        ui_job *job = find(j, s->sid, s->id);
        if (job && s->sent < job->n_points) {
            if (job->n_points - s->sent > UI_JOB_POINTS) s->sent = job->n_points - UI_JOB_POINTS;
            for (; s->sent < job->n_points; s->sent++) {
                double done = job->points[s->sent % UI_JOB_POINTS];
                json_t *e = json_pack("{s:f, s:s, s:I, s:I}", "done", round(done * 1e4) / 1e4, "what", job->what, "bytes",
                                      (json_int_t)(done * (double)job->bytes), "total", (json_int_t)job->bytes);
                size_t n = put_event(buf + len, max - len, s->sent, "progress", e);
                if (!n) break; /* the buffer is full: the rest next turn */
                len += n;
            }
            if (len) break;
        }
        if (job && !job->running) {
            json_t *e = json_pack("{s:s, s:I, s:s}", "state", job->ok ? "done" : "failed", "version",
                                  (json_int_t)job->version, "message", job->message);
            len = put_event(buf, max, job->n_points, "done", e);
            s->ended = true;
            break;
        }
        if (lh_time_now_ms() > s->end_ms) { /* long enough: the browser reconnects */
            s->ended = true;
            break;
        }
        if (pthread_cond_timedwait(&j->changed, &j->mu, &until) == ETIMEDOUT) {
            len = (size_t)snprintf(buf, max, ": waiting\n\n"); /* a heartbeat: the worker goes back to the pool */
            break;
        }
    }
    pthread_mutex_unlock(&j->mu);
    return (ssize_t)len;
}

void ui_page_job_events(lh_http_req *req, lh_http_res *res, void *ctx)
{
    ui_req u;
    if (!ui_begin(&u, ctx, req, res, false)) return;
    const char *id = lh_http_param(req, "id");
    ui_jobs *j = u.ui->jobs;
    if (!ui_job_id_valid(id)) {
        lh_html_raw(&u.out, "<div class=\"error\" role=\"alert\">a job id is 32 hex digits</div>");
        ui_finish(&u, 404, "No such job", NULL);
        return;
    }
    pthread_mutex_lock(&j->mu);
    bool others = false; /* another session's job (and none of ours): no waiting for it */
    for (size_t i = 0; i < UI_JOBS_MAX; i++)
        if (j->jobs[i].used && !strcmp(j->jobs[i].id, id) && strcmp(j->jobs[i].sid, u.sid)) others = true;
    if (others && find(j, u.sid, id)) others = false;
    bool full = !others && j->streams >= UI_EVENT_STREAMS_MAX;
    if (!others && !full) j->streams++;
    pthread_mutex_unlock(&j->mu);
    if (others) {
        lh_html_raw(&u.out, "<div class=\"error\" role=\"alert\">no such job</div>");
        ui_finish(&u, 404, "No such job", NULL);
        return;
    }
    if (full) {
        lh_http_res_header(res, "Retry-After", "5");
        lh_html_raw(&u.out, "<div class=\"error\" role=\"alert\">too many progress streams; try again shortly</div>");
        ui_finish(&u, 503, "Busy", NULL);
        return;
    }
    stream *s = lh_xcalloc(1, sizeof *s);
    s->jobs = j;
    snprintf(s->id, sizeof s->id, "%s", id);
    snprintf(s->sid, sizeof s->sid, "%s", u.sid);
    s->end_ms = lh_time_now_ms() + UI_JOB_STREAM_MS;
    const char *last = lh_http_header(req, "Last-Event-ID"); /* a reconnection: go on after it */
    char *end = NULL;
    unsigned long got = last && *last >= '0' && *last <= '9' ? strtoul(last, &end, 10) : 0;
    if (end && !*end && got < UINT_MAX) s->sent = (unsigned)got + 1;
    lh_buf_free(&u.out);
    lh_http_res_header(res, "Cache-Control", "no-store");
    lh_http_res_header(res, "X-Content-Type-Options", "nosniff");
    lh_http_res_header(res, "X-Accel-Buffering", "no");
    lh_http_res_stream(res, 200, "text/event-stream; charset=utf-8", stream_next, s, stream_free);
}
