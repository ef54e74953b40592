/*
 * internal.h — what the web UI's files share: the UI's state, one request
 * being answered, and the page helpers (layout, tables, errors).
 */
#ifndef LH_UI_INTERNAL_H
#define LH_UI_INTERNAL_H

#include "lakehouse/lh_html.h"
#include "lakehouse/lh_ui.h"

#include <pthread.h>
#include <time.h>

typedef struct ui_session {
    char id[LH_UI_SESSION_ID_HEX + 1];
    char *key; /* the API key it signed in with (malloc'd), NULL: none */
    time_t last_used;
} ui_session;

typedef struct lh_ui {
    lh_app *app;
    unsigned char secret[32]; /* CSRF tokens' HMAC key, random per process */
    pthread_mutex_t mu;
    ui_session *sessions;
    size_t n_sessions;
    struct ui_jobs *jobs; /* jobs.c: ingests and refreshes started from pages */
} lh_ui;

/* One request being answered. */
typedef struct ui_req {
    lh_ui *ui;
    lh_http_req *req;
    lh_http_res *res;
    lh_op_ctx call;       /* who is calling, for lh_app_call */
    char sid[LH_UI_SESSION_ID_HEX + 1];
    char csrf[LH_UI_CSRF_HEX + 1];
    bool signed_in;       /* with a key */
    bool fragment;        /* an HTMX request: the part, not the page */
    lh_buf out;           /* the body being built */
    json_t *form;         /* a POST's urlencoded fields (lazily parsed): the last value of each */
    json_t *form_all;     /* ... and every value of each, as arrays */
} ui_req;

/* Sessions (session.c). */
bool ui_session_get(lh_ui *ui, const char *id, char **key);
void ui_session_new(lh_ui *ui, const char *key, char *id);
void ui_session_end(lh_ui *ui, const char *id);

/* Starts a request: session cookie, authentication, and for POST the CSRF
 * token. False when it has already been answered (redirect to sign-in, 403). */
bool ui_begin(ui_req *u, lh_ui *ui, lh_http_req *req, lh_http_res *res, bool needs_key);
/* Sends u->out as a page (wrapped in the layout unless a fragment), then frees u. */
void ui_finish(ui_req *u, int status, const char *title, const char *nav);
/* Sends u->out bare (a fragment, whatever the request) and frees u. */
void ui_finish_fragment(ui_req *u, int status);
/* Frees u when the handler answers by itself (a download). */
void ui_end(ui_req *u);
/* The headers every UI answer carries (CSP, nosniff, frame denial, no-store). */
void ui_security_headers(lh_http_res *res);
/* 303 to location, then frees u. */
void ui_redirect(ui_req *u, const char *location);

/* A form field of a POST (urlencoded body) or a query argument of a GET. */
const char *ui_arg(ui_req *u, const char *name);
/* Every value of a POST's repeated field (checkboxes), borrowed; NULL: none. */
json_t *ui_arg_all(ui_req *u, const char *name);

/* Runs op `name` for the caller; on failure writes the error box into u->out
 * and returns its HTTP status (else 0). *out: a new reference. */
int ui_call(ui_req *u, const char *name, json_t *args, json_t **out);
/* The error box. */
void ui_error_box(ui_req *u, const lh_err *err);

/* A table of a JSON result: columns [{name,type}], rows [[...]]. */
void ui_result_table(lh_buf *b, json_t *columns, json_t *rows);
/* A table of objects (keys of the first become the columns). */
void ui_object_table(lh_buf *b, json_t *items, const char *const *columns);
/* A JSON value as text (strings bare, null as "", others as JSON). */
void ui_value(lh_buf *b, json_t *v);
/* The hidden CSRF field of a form. */
void ui_csrf_field(ui_req *u);

/* The embedded assets. */
typedef struct ui_asset {
    const char *name;   /* logical: "htmx.js" */
    const char *hashed; /* served as: "htmx-0123456789ab.js" */
    const char *url;    /* "/ui/assets/htmx-0123456789ab.js" */
    const char *type;
    const unsigned char *data;
    size_t len;
} ui_asset;
const ui_asset *ui_asset_find_hashed(const char *hashed);
/* "/ui/assets/<hashed>" of a logical name (aborts when unknown: a build error). */
const char *ui_asset_url(const char *name);

/* Pages. */
void ui_page_datasets(lh_http_req *req, lh_http_res *res, void *ctx);
void ui_page_dataset(lh_http_req *req, lh_http_res *res, void *ctx);
void ui_page_preview(lh_http_req *req, lh_http_res *res, void *ctx);
void ui_post_sql_export(lh_http_req *req, lh_http_res *res, void *ctx);
void ui_page_journal(lh_http_req *req, lh_http_res *res, void *ctx);
void ui_page_jobs(lh_http_req *req, lh_http_res *res, void *ctx);
/* trials.c: an index's trials: the recall-vs-latency plot with its frontier, and the table. */
void ui_trials_section(ui_req *u, const char *index);
void ui_page_facets(lh_http_req *req, lh_http_res *res, void *ctx);
void ui_post_tombstone(lh_http_req *req, lh_http_res *res, void *ctx);
void ui_page_diff(lh_http_req *req, lh_http_res *res, void *ctx);
void ui_post_rollback(lh_http_req *req, lh_http_res *res, void *ctx);
void ui_page_sql(lh_http_req *req, lh_http_res *res, void *ctx);
void ui_page_ask(lh_http_req *req, lh_http_res *res, void *ctx);
void ui_page_system(lh_http_req *req, lh_http_res *res, void *ctx);

/* ---- jobs (jobs.c), the Ingest page (ingest.c), the Indexes pages (indexes.c) ---- */

/* The session id a request's cookie carries (in req->arena), or NULL. */
const char *ui_session_cookie(lh_http_req *req);

#define UI_JOB_ID_HEX 32 /* a job's id, chosen by the browser: 128 random bits */
typedef struct ui_jobs ui_jobs;
typedef struct ui_job ui_job;
ui_jobs *ui_jobs_new(void); /* one block: freed with free() (lh_router_keep) */
bool ui_job_id_valid(const char *id);
/* Tracks a job of session sid under the browser's id; NULL (untracked) when
 * id is not 32 lowercase hex digits, is running already, or every slot holds
 * a running job. target: a dataset or index name; bytes: the input's size. */
ui_job *ui_job_start(lh_ui *ui, const char *sid, const char *id, const char *kind, const char *target,
                     const char *actor, long long bytes);
/* lh_op_ctx.progress for a job (ctx: the ui_job, may be NULL). */
void ui_job_progress(void *ctx, const char *what, double done);
/* Ends a job (NULL: nothing): its outcome, message and the version it made (0: none). */
void ui_job_finish(ui_job *job, bool ok, const char *message, long long version);
/* Every job this process tracks, newest first (new reference):
 * [{id, kind, target, actor, state: running|done|failed, done (0..1), what,
 *   bytes, started_at, finished_at (null while running), message (null
 *   unless it failed), version}]. The System page
 * filters it for the caller (jobs carry the actor that started them). */
json_t *ui_jobs_list(lh_ui *ui);
/* GET /ui/jobs/{id}/events: a job's progress as server-sent events. */
void ui_page_job_events(lh_http_req *req, lh_http_res *res, void *ctx);
/* GET /ui/ingest, POST /ui/ingest (an upload route). */
void ui_page_ingest(lh_http_req *req, lh_http_res *res, void *ctx);
void ui_post_ingest(lh_http_req *req, lh_http_res *res, void *ctx);
/* Admits an upload to POST /ui/ingest before its body is read. */
bool ui_ingest_admit(lh_http_req *req, lh_http_res *res, void *ctx);
/* GET /ui/indexes, /ui/indexes/{name}, /ui/indexes/{name}/search; POST refresh, rollback. */
void ui_page_indexes(lh_http_req *req, lh_http_res *res, void *ctx);
void ui_page_index(lh_http_req *req, lh_http_res *res, void *ctx);
void ui_page_index_search(lh_http_req *req, lh_http_res *res, void *ctx);
void ui_post_index_refresh(lh_http_req *req, lh_http_res *res, void *ctx);
void ui_post_index_rollback(lh_http_req *req, lh_http_res *res, void *ctx);

#endif
