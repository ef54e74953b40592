/*
 * engine.c — DuckDB database, connection pool, deadline watchdog and cursors.
 *
 * The pool and the watchdog share one mutex: the watchdog only interrupts a
 * connection while it is leased to the query whose deadline passed, so an
 * interrupt can never hit the next query that reuses the connection.
 *
 * Parallelism on demand: DuckDB is opened with `threads` = the cores and as
 * many `external_threads`, so it starts no threads of its own and a statement
 * runs on its caller's thread. Short statements (most of a server's) thus
 * pay no hand-offs to idle workers, which on a small machine cost more than
 * the statement. Once a lease has been busy HELP_AFTER_MS, the watchdog starts
 * the engine's helpers (cores - 1 threads) on DuckDB's task queue, and stops
 * them when no lease has been busy that long.
 */
#include "internal.h"

#include "lakehouse/lh_hash.h"
#include "lakehouse/lh_log.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_time.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

struct lh_query_lease {
    lh_query_engine *engine;
    duckdb_connection conn;
    bool busy;
    struct timespec leased;   /* CLOCK_MONOTONIC, when it became busy */
    bool has_deadline;
    bool interrupted;
    bool helped;              /* the helpers were on while it ran long */
    struct timespec deadline; /* CLOCK_MONOTONIC */
    char *client;             /* who holds the lease (owned); NULL: not said */
    json_t *views;            /* temp views made for the running statement, dropped after it */
    duckdb_prepared_statement serializer; /* json_serialize_sql($1), prepared on first use */
    struct plan *plans;       /* PLANS_PER_CONNECTION prepared statements kept for reuse */
    uint64_t uses;            /* statements run: the clock of plan reuse */
};

/* A prepared statement kept on its connection (DuckDB's plans belong to one).
 * Reused only while the resolver gives every table name it resolved the same
 * SQL as when it was prepared: a new version or a refusal replans. */
#define PLANS_PER_CONNECTION 16
/* DuckDB 1.4 keeps ~2 KB per run of a prepared statement until it is
 * destroyed: a plan is replanned after this many runs, bounding that. */
#define PLAN_MAX_RUNS 100
struct plan {
    char *sql;    /* owned; NULL: empty */
    uint64_t hash;
    uint64_t used; /* lease->uses when last run */
    unsigned runs;
    duckdb_prepared_statement stmt;
    json_t *resolved; /* [[name, sql], ...] the resolver answered while preparing */
};

/* Statement texts that passed the datasets-only check: the check depends on
 * the text alone and costs a json_serialize_sql round trip (about half of a
 * `SELECT 1`), so repeated statements skip it. Direct-mapped by hash. */
#define CHECKED_SLOTS 512
#define CHECKED_MAX_LEN 4096
typedef struct {
    uint64_t hash;
    char *sql; /* owned; NULL: empty */
} checked_text;

struct lh_query_engine {
    duckdb_database db;
    struct lh_query_lease *slots;
    int n_slots;
    int max_per_client; /* leases one client may hold at once; 0: no cap */
    long long short_timeout_ms; /* statements with a deadline this short may use the reserved connection */
    pthread_mutex_t mu;
    struct waiter *waiting;      /* FIFO of acquire calls not yet admitted */
    pthread_cond_t watchdog_wake;
    pthread_t watchdog;
    struct timespec watchdog_next; /* when the watchdog wakes next */
    bool watchdog_timed;           /* false: it sleeps until signalled */
    /* helpers: DuckDB task workers while a statement runs long (under mu) */
    pthread_t *helpers;
    int n_helpers;
    pthread_cond_t help_wake;
    duckdb_task_state help_state; /* of the current or last episode; NULL: none */
    bool helping;                 /* an episode is on: helpers may enter help_state */
    uint64_t help_episode;
    uint64_t helped; /* statements that ran long with the helpers on */
    int helpers_in;               /* helpers inside duckdb_execute_tasks_state */
    bool stop;
    bool sandboxed;
    const char *const *table_functions; /* borrowed; NULL: no parse-tree check */
    lh_query_resolver resolver;
    lh_query_lister lister;
    void *resolver_ctx;
    pthread_mutex_t checked_mu;
    checked_text checked[CHECKED_SLOTS];
};

struct lh_query_cursor {
    lh_query_engine *engine;
    struct lh_query_lease *slot;
    long long timeout_ms;
    long long max_result_bytes;
    struct timespec started;
    duckdb_prepared_statement stmt;
    bool kept; /* stmt is a plan its connection keeps */
    duckdb_result result;
    bool has_result;
    size_t n_cols;
    char **names;
    lh_type_node *types;
};

const char *lh_query_duckdb_version(void)
{
    return duckdb_library_version();
}

#define REINTERRUPT_MS 50 /* how often a lease past its deadline is interrupted again */

#define HELP_AFTER_MS 5 /* a statement busy this long gets the helpers */

static void help_forget(lh_query_engine *e)
{
    duckdb_destroy_task_state(e->help_state);
    e->help_state = NULL;
}

/* Ends the helpers' episode (under e->mu); the last helper out of DuckDB's
 * queue forgets its task state. */
static void help_stop(lh_query_engine *e)
{
    duckdb_finish_execution(e->help_state);
    e->helping = false;
    if (e->helpers_in == 0) help_forget(e);
}

/* Starts an episode (under e->mu) unless one is on or the last one's
 * helpers are still on their way out. */
static void help_start(lh_query_engine *e)
{
    if (e->helping || e->help_state || !e->n_helpers) return;
    e->help_state = duckdb_create_task_state(e->db);
    e->helping = true;
    e->help_episode++;
    pthread_cond_broadcast(&e->help_wake);
}

static void *helper_main(void *arg)
{
    lh_query_engine *e = arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&e->mu);
    for (;;) {
        while (!e->stop && !(e->helping && e->help_episode != seen)) pthread_cond_wait(&e->help_wake, &e->mu);
        if (e->stop) break;
        seen = e->help_episode;
        duckdb_task_state state = e->help_state;
        e->helpers_in++;
        pthread_mutex_unlock(&e->mu);
        duckdb_execute_tasks_state(state); /* returns once help_stop finished the episode */
        pthread_mutex_lock(&e->mu);
        if (--e->helpers_in == 0 && !e->helping) {
            help_forget(e);
            /* a statement that turned long meanwhile could not start an episode */
            pthread_cond_signal(&e->watchdog_wake);
        }
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

static void *watchdog_main(void *arg)
{
    lh_query_engine *e = arg;
    pthread_mutex_lock(&e->mu);
    while (!e->stop) {
        struct timespec now, next = {0, 0};
        bool have_next = false, long_busy = false;
        clock_gettime(CLOCK_MONOTONIC, &now);
        for (int i = 0; i < e->n_slots; i++) {
            struct lh_query_lease *s = &e->slots[i];
            if (!s->busy) continue;
            struct timespec help_at = lh_time_add_ms(s->leased, HELP_AFTER_MS);
            if (!lh_time_before(&now, &help_at)) {
                long_busy = true;
            } else if (!have_next || lh_time_before(&help_at, &next)) {
                next = help_at;
                have_next = true;
            }
            if (!s->has_deadline) continue;
            struct timespec wake = s->deadline;
            if (!lh_time_before(&now, &s->deadline)) {
                /* DuckDB forgets an interrupt when the connection's next
                 * statement starts (the deadline can pass between two):
                 * repeat it until the lease is given back */
                s->interrupted = true;
                duckdb_interrupt(s->conn);
                wake = lh_time_after_ms(CLOCK_MONOTONIC, REINTERRUPT_MS);
            }
            if (!have_next || lh_time_before(&wake, &next)) {
                next = wake;
                have_next = true;
            }
        }
        if (long_busy) help_start(e);
        else if (e->helping) help_stop(e);
        for (int i = 0; e->helping && i < e->n_slots; i++) {
            struct lh_query_lease *s = &e->slots[i];
            struct timespec help_at = lh_time_add_ms(s->leased, HELP_AFTER_MS);
            if (s->busy && !s->helped && !lh_time_before(&now, &help_at)) s->helped = true, e->helped++;
        }
        e->watchdog_timed = have_next;
        e->watchdog_next = next;
        if (have_next) pthread_cond_timedwait(&e->watchdog_wake, &e->mu, &next);
        else pthread_cond_wait(&e->watchdog_wake, &e->mu);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

/* Set while this thread binds introspection views: the resolver then answers
 * schema-only. (DuckDB binds on the thread that runs the statement.) */
static _Thread_local bool binding_views;

/* The code of the resolver's last refusal on this thread: DuckDB passes on
 * only its message, as a Binder Error. */
static _Thread_local lh_code resolver_failure;

/* While this thread prepares a statement to keep: what the resolver answered
 * ([[name, sql], ...]); JSON null once it answered something a plan cannot
 * be checked against (an error, or "not a dataset"). */
static _Thread_local json_t *resolving;

/* Unknown table names go to the resolver; its SQL runs in their place through
 * DuckDB's query() table function. */
static void replacement_scan(duckdb_replacement_scan_info info, const char *name, void *data)
{
    lh_query_engine *e = data;
    lh_buf sql = {0};
    lh_err err;
    lh_code rc = e->resolver(e->resolver_ctx, name, binding_views, &sql, &err);
    if (resolving && json_is_array(resolving)) {
        if (rc == LH_OK && sql.len) {
            json_array_append_new(resolving, json_pack("[ss]", name, sql.data));
        } else {
            json_decref(resolving);
            resolving = json_null();
        }
    }
    if (rc == LH_OK && sql.len) {
        duckdb_replacement_scan_set_function_name(info, "query");
        duckdb_value v = duckdb_create_varchar(sql.data);
        duckdb_replacement_scan_add_parameter(info, v);
        duckdb_destroy_value(&v);
    } else if (rc != LH_OK) {
        resolver_failure = rc;
        duckdb_replacement_scan_set_error(info, err.message);
    }
    lh_buf_free(&sql);
}

static lh_code run_internal(duckdb_connection conn, const char *sql, lh_err *err)
{
    duckdb_result r;
    lh_code rc = LH_OK;
    if (duckdb_query(conn, sql, &r) == DuckDBError)
        rc = lh_err_set(err, LH_EINTERNAL, "engine setup failed on \"%.80s\": %s", sql,
                        duckdb_result_error(&r));
    duckdb_destroy_result(&r);
    return rc;
}

/* DuckDB checks its interrupt between chunks, never inside one scalar call,
 * and the strings a call makes are outside memory_limit: repeat('x', 2e9)
 * allocates 2 GB and runs past any deadline. Macros in main shadow the
 * built-ins (name resolution looks in main before system) and refuse a
 * length over max before the built-in runs; printf and format (overloads
 * for 0..16 arguments) refuse huge or argument-given widths. */
static lh_code bound_string_makers(duckdb_connection conn, long long max, lh_err *err)
{
    lh_buf fmt = {0};
    /* printf/format widths and precisions: refused from 6 digits (100000) or when taken from an argument */
    static const char *const pattern[] = {"printf", "%[^a-zA-Z%]*([0-9]{6}|[*])", "format",
                                          "[{][^}]*:[^}]*([0-9]{6}|[{])"};
    for (int k = 0; k < 4; k += 2) {
        lh_buf_printf(&fmt, "CREATE MACRO %s", pattern[k]);
        for (int n = 0; n <= 16; n++) {
            lh_buf_puts(&fmt, n ? ", (f" : "(f");
            for (int i = 1; i <= n; i++) lh_buf_printf(&fmt, ", a%d", i);
            lh_buf_printf(&fmt, ") AS CASE WHEN regexp_matches(f, '%s') THEN error('%s(): widths of 100000 or more, "
                                "or taken from an argument, are not allowed here') ELSE system.main.%s(f",
                          pattern[k + 1], pattern[k], pattern[k]);
            for (int i = 1; i <= n; i++) lh_buf_printf(&fmt, ", a%d", i);
            lh_buf_puts(&fmt, ") END");
        }
        lh_buf_puts(&fmt, ";");
    }
    lh_code rc = run_internal(conn, fmt.data, err);
    lh_buf_free(&fmt);
    if (rc) return rc;
    char *sql = lh_xasprintf(
        "CREATE MACRO repeat(s, n) AS CASE WHEN CAST(len(s) AS HUGEINT) * n > %lld THEN "
        "error('repeat(): the result would be longer than query.max_string_length (%lld)') "
        "ELSE system.main.repeat(s, n) END;"
        "CREATE MACRO lpad(s, n, fill) AS CASE WHEN n > %lld THEN "
        "error('lpad(): the result would be longer than query.max_string_length (%lld)') "
        "ELSE system.main.lpad(s, n, fill) END;"
        "CREATE MACRO rpad(s, n, fill) AS CASE WHEN n > %lld THEN "
        "error('rpad(): the result would be longer than query.max_string_length (%lld)') "
        "ELSE system.main.rpad(s, n, fill) END",
        max, max, max, max, max, max);
    rc = run_internal(conn, sql, err);
    free(sql);
    return rc;
}

/* Runs init_sql, then (when sandboxed) confines file access and locks the configuration. */
static lh_code configure(lh_query_engine *e, const lh_query_options *opt, lh_err *err)
{
    duckdb_connection conn = e->slots[0].conn;
    lh_code rc = opt->init_sql ? run_internal(conn, opt->init_sql, err) : LH_OK;
    if (rc == LH_OK && opt->max_string_length > 0) rc = bound_string_makers(conn, opt->max_string_length, err);
    if (rc || !opt->allowed_dirs) return rc;
    lh_buf set = {0};
    lh_buf_puts(&set, "SET allowed_directories=[");
    for (size_t i = 0; i < opt->n_allowed_dirs; i++) {
        lh_buf_puts(&set, i ? ", '" : "'");
        for (const char *p = opt->allowed_dirs[i]; *p; p++) {
            if (*p == '\'') lh_buf_putc(&set, '\'');
            lh_buf_putc(&set, *p);
        }
        lh_buf_putc(&set, '\'');
    }
    lh_buf_putc(&set, ']');
    rc = run_internal(conn, set.data, err);
    lh_buf_free(&set);
    if (rc == LH_OK) rc = run_internal(conn, "SET enable_external_access=false", err);
    if (rc == LH_OK) rc = run_internal(conn, "SET lock_configuration=true", err);
    return rc;
}

/* Creates dir (mode 0700) or removes what an earlier run left in it: stale
 * spill files, and anything planted there (DuckDB lets SQL read its temp folder). */
static lh_code empty_temp_dir(const char *dir, lh_err *err)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return lh_err_errno(err, LH_EIO, errno, "cannot create the spill folder %s", dir);
    DIR *d = opendir(dir);
    if (!d) return lh_err_errno(err, LH_EIO, errno, "cannot open the spill folder %s", dir);
    struct dirent *ent;
    while ((ent = readdir(d))) {
        if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, "..")) continue;
        if (unlinkat(dirfd(d), ent->d_name, 0) != 0 && errno == EISDIR)
            lh_log(LH_LOG_WARN, "query.temp_dir_entry", LH_KV_STR("dir", dir), LH_KV_STR("name", ent->d_name));
    }
    closedir(d);
    return LH_OK;
}

/* ---- plans kept per connection ------------------------------------------ */

static void plan_forget(struct plan *p)
{
    free(p->sql);
    if (p->stmt) duckdb_destroy_prepare(&p->stmt);
    json_decref(p->resolved);
    memset(p, 0, sizeof *p);
}

/* The kept plan of sql on this connection if the resolver still answers as
 * it did when sql was prepared (bindings cleared), else NULL. */
static duckdb_prepared_statement plan_reuse(lh_query_engine *e, struct lh_query_lease *s, const char *sql)
{
    uint64_t hash = lh_hash_fnv1a(LH_FNV1A_BASIS, sql, strlen(sql));
    struct plan *p = NULL;
    for (int i = 0; i < PLANS_PER_CONNECTION && !p; i++)
        if (s->plans[i].sql && s->plans[i].hash == hash && !strcmp(s->plans[i].sql, sql)) p = &s->plans[i];
    if (!p) return NULL;
    if (p->runs >= PLAN_MAX_RUNS) {
        plan_forget(p);
        return NULL;
    }
    size_t i;
    json_t *pair;
    json_array_foreach(p->resolved, i, pair) {
        lh_buf now = {0};
        lh_err ignored;
        bool same = e->resolver(e->resolver_ctx, json_string_value(json_array_get(pair, 0)), false, &now,
                                &ignored) == LH_OK &&
                    now.len && !strcmp(now.data, json_string_value(json_array_get(pair, 1)));
        lh_buf_free(&now);
        if (!same) {
            plan_forget(p);
            return NULL;
        }
    }
    duckdb_clear_bindings(p->stmt);
    p->used = ++s->uses;
    p->runs++;
    return p->stmt;
}

/* Keeps stmt, prepared from sql with the resolver's answers resolved, in
 * place of the least recently used plan. */
static void plan_keep(struct lh_query_lease *s, const char *sql, duckdb_prepared_statement stmt, json_t *resolved)
{
    struct plan *p = &s->plans[0];
    for (int i = 1; i < PLANS_PER_CONNECTION; i++)
        if (s->plans[i].used < p->used) p = &s->plans[i];
    plan_forget(p);
    p->sql = lh_xstrdup(sql);
    p->hash = lh_hash_fnv1a(LH_FNV1A_BASIS, sql, strlen(sql));
    p->stmt = stmt;
    p->resolved = json_incref(resolved);
    p->used = ++s->uses;
    p->runs = 1;
}

lh_code lh_query_engine_open(const lh_query_options *opt, lh_query_engine **out, lh_err *err)
{
    duckdb_config config;
    if (duckdb_create_config(&config) == DuckDBError)
        return lh_err_set(err, LH_ENOMEM, "duckdb_create_config failed");
    /* all threads external: DuckDB starts none (see the top of this file) */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int n_threads = opt->threads > 0 ? opt->threads : cores > 0 ? (int)cores : 1;
    char threads[32];
    snprintf(threads, sizeof threads, "%d", n_threads);
    duckdb_set_config(config, "threads", threads);
    duckdb_set_config(config, "external_threads", threads);
    if (opt->memory_limit && *opt->memory_limit &&
        duckdb_set_config(config, "memory_limit", opt->memory_limit) == DuckDBError) {
        duckdb_destroy_config(&config);
        return lh_err_set(err, LH_EINVAL, "query.memory_limit: DuckDB rejected \"%s\"",
                          opt->memory_limit);
    }
    /* nothing is downloaded or loaded behind the caller's back */
    duckdb_set_config(config, "autoinstall_known_extensions", "false");
    duckdb_set_config(config, "autoload_known_extensions", "false");
    if (opt->temp_dir) {
        lh_code rc = empty_temp_dir(opt->temp_dir, err);
        if (rc == LH_OK && duckdb_set_config(config, "temp_directory", opt->temp_dir) == DuckDBError)
            rc = lh_err_set(err, LH_EINVAL, "DuckDB rejected temp_directory %s", opt->temp_dir);
        if (rc) {
            duckdb_destroy_config(&config);
            return rc;
        }
    }
    if (opt->max_temp_bytes > 0) {
        snprintf(threads, sizeof threads, "%lldB", opt->max_temp_bytes);
        duckdb_set_config(config, "max_temp_directory_size", threads);
    }
    lh_query_engine *e = lh_xcalloc(1, sizeof *e);
    char *open_error = NULL;
    if (duckdb_open_ext(NULL, &e->db, config, &open_error) == DuckDBError) {
        lh_err_set(err, LH_EINTERNAL, "cannot open DuckDB: %s", open_error ? open_error : "?");
        duckdb_free(open_error);
        duckdb_destroy_config(&config);
        free(e);
        return err ? err->code : LH_EINTERNAL;
    }
    duckdb_destroy_config(&config);
    e->n_slots = opt->connections > 0 ? opt->connections : 1;
    e->slots = lh_xcalloc((size_t)e->n_slots, sizeof *e->slots);
    for (int i = 0; i < e->n_slots; i++) {
        if (duckdb_connect(e->db, &e->slots[i].conn) == DuckDBError) {
            for (int j = 0; j < i; j++) duckdb_disconnect(&e->slots[j].conn);
            duckdb_close(&e->db);
            free(e->slots);
            free(e);
            return lh_err_set(err, LH_EINTERNAL, "cannot connect to DuckDB");
        }
    }
    for (int i = 0; i < e->n_slots; i++) e->slots[i].engine = e;
    e->max_per_client = opt->max_per_client;
    e->short_timeout_ms = opt->short_timeout_ms;
    e->table_functions = opt->table_functions;
    e->sandboxed = opt->allowed_dirs != NULL;
    e->resolver = opt->resolver;
    e->lister = opt->resolver ? opt->lister : NULL;
    e->resolver_ctx = opt->resolver_ctx;
    if (e->resolver) duckdb_add_replacement_scan(e->db, replacement_scan, e, NULL);
    lh_code rc = configure(e, opt, err);
    if (rc) {
        for (int i = 0; i < e->n_slots; i++) duckdb_disconnect(&e->slots[i].conn);
        duckdb_close(&e->db);
        free(e->slots);
        free(e);
        return rc;
    }
    for (int i = 0; i < e->n_slots; i++) e->slots[i].plans = lh_xcalloc(PLANS_PER_CONNECTION, sizeof(struct plan));
    pthread_mutex_init(&e->mu, NULL);
    pthread_mutex_init(&e->checked_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->watchdog_wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&e->help_wake, NULL);
    e->helpers = lh_xcalloc((size_t)n_threads, sizeof *e->helpers);
    for (int i = 0; i + 1 < n_threads; i++)
        if (pthread_create(&e->helpers[e->n_helpers], NULL, helper_main, e) == 0) e->n_helpers++;
    pthread_create(&e->watchdog, NULL, watchdog_main, e);
    *out = e;
    return LH_OK;
}

uint64_t lh_query_helped(lh_query_engine *e)
{
    pthread_mutex_lock(&e->mu);
    uint64_t n = e->helped;
    pthread_mutex_unlock(&e->mu);
    return n;
}

void lh_query_engine_close(lh_query_engine *e)
{
    if (!e) return;
    pthread_mutex_lock(&e->mu);
    e->stop = true;
    pthread_cond_signal(&e->watchdog_wake);
    if (e->helping) help_stop(e);
    pthread_cond_broadcast(&e->help_wake);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->watchdog, NULL);
    for (int i = 0; i < e->n_helpers; i++) pthread_join(e->helpers[i], NULL);
    if (e->help_state) help_forget(e);
    free(e->helpers);
    pthread_cond_destroy(&e->help_wake);
    for (int i = 0; i < e->n_slots; i++) {
        json_decref(e->slots[i].views);
        if (e->slots[i].serializer) duckdb_destroy_prepare(&e->slots[i].serializer);
        for (int p = 0; p < PLANS_PER_CONNECTION; p++) plan_forget(&e->slots[i].plans[p]);
        free(e->slots[i].plans);
        duckdb_disconnect(&e->slots[i].conn);
    }
    duckdb_close(&e->db);
    for (int i = 0; i < CHECKED_SLOTS; i++) free(e->checked[i].sql);
    pthread_cond_destroy(&e->watchdog_wake);
    pthread_mutex_destroy(&e->checked_mu);
    pthread_mutex_destroy(&e->mu);
    free(e->slots);
    free(e);
}

/* A caller waiting for a connection (acquire), queued in arrival order. */
struct waiter {
    const char *client;
    long long timeout_ms;
    struct timespec run_deadline;
    pthread_cond_t granted_cv;
    struct lh_query_lease *granted; /* set by release, under e->mu */
    struct waiter *next;
};

/* Leases a free connection (one must be free) to w's statement, under e->mu. */
static struct lh_query_lease *take(lh_query_engine *e, const struct waiter *w)
{
    struct lh_query_lease *s = e->slots;
    while (s->busy) s++;
    s->busy = true;
    s->client = w->client ? lh_xstrdup(w->client) : NULL;
    s->interrupted = s->helped = false;
    clock_gettime(CLOCK_MONOTONIC, &s->leased);
    s->has_deadline = w->timeout_ms > 0;
    if (s->has_deadline) s->deadline = w->run_deadline;
    /* the watchdog is woken only when it would sleep past this lease's
     * deadline or help time: not once a statement */
    struct timespec first = lh_time_add_ms(s->leased, HELP_AFTER_MS);
    if (s->has_deadline && lh_time_before(&s->deadline, &first)) first = s->deadline;
    if (!e->watchdog_timed || lh_time_before(&first, &e->watchdog_next)) pthread_cond_signal(&e->watchdog_wake);
    return s;
}

/* Admission (under e->mu). The server's own work (no client) and short
 * statements (timeout_ms <= short_timeout_ms) take any free connection;
 * a long statement needs its client to hold fewer than max_per_client and
 * leaves one connection free for short ones. So one client's long queries
 * can neither fill the pool nor make anyone's short statement wait. */
static bool admissible(lh_query_engine *e, const char *client, long long timeout_ms, const char **why)
{
    int free_slots = 0, held = 0;
    for (int i = 0; i < e->n_slots; i++) {
        if (!e->slots[i].busy) free_slots++;
        else if (client && e->slots[i].client && !strcmp(e->slots[i].client, client)) held++;
    }
    *why = NULL;
    if (free_slots == 0) return false;
    if (!client || (timeout_ms > 0 && timeout_ms <= e->short_timeout_ms)) return true;
    if (e->max_per_client > 0 && held >= e->max_per_client) {
        *why = "per_client";
        return false;
    }
    if (e->short_timeout_ms > 0 && e->n_slots >= 2 && free_slots < 2) {
        *why = "reserved";
        return false;
    }
    return true;
}

/* Leases a free connection for client (may be NULL), waiting up to
 * timeout_ms (<= 0: forever) for admission. */
static lh_code acquire(lh_query_engine *e, const char *client, long long timeout_ms, struct lh_query_lease **out,
                       lh_err *err)
{
    struct waiter w = {.client = client, .timeout_ms = timeout_ms,
                       /* the statement's deadline counts from now: time spent waiting is spent */
                       .run_deadline = lh_time_after_ms(CLOCK_MONOTONIC, timeout_ms)};
    struct timespec deadline = lh_time_after_ms(CLOCK_REALTIME, timeout_ms);
    const char *why;
    pthread_mutex_lock(&e->mu);
    if (admissible(e, client, timeout_ms, &why)) {
        /* waiters, if any, are not admissible now (release hands out eagerly) */
        *out = take(e, &w);
        pthread_mutex_unlock(&e->mu);
        return LH_OK;
    }
    pthread_cond_init(&w.granted_cv, NULL);
    struct waiter **tail = &e->waiting;
    while (*tail) tail = &(*tail)->next;
    *tail = &w;
    int rc = 0;
    while (!w.granted && rc != ETIMEDOUT)
        rc = timeout_ms > 0 ? pthread_cond_timedwait(&w.granted_cv, &e->mu, &deadline)
                            : pthread_cond_wait(&w.granted_cv, &e->mu);
    if (!w.granted) {
        for (struct waiter **p = &e->waiting; *p; p = &(*p)->next)
            if (*p == &w) {
                *p = w.next;
                break;
            }
        admissible(e, client, timeout_ms, &why);
    }
    pthread_mutex_unlock(&e->mu);
    pthread_cond_destroy(&w.granted_cv);
    if (w.granted) {
        *out = w.granted;
        return LH_OK;
    }
    if (why && !strcmp(why, "per_client"))
        return lh_err_set(err, LH_EUNAVAILABLE,
                          "%s already runs %d queries, the most one client may (query.max_per_client); "
                          "try again later", client, e->max_per_client);
    if (why)
        return lh_err_set(err, LH_EUNAVAILABLE,
                          "all %d query connections but the one kept for short statements (timeout_ms <= "
                          "%lld, query.short_timeout_ms) are busy; try again later",
                          e->n_slots, e->short_timeout_ms);
    return lh_err_set(err, LH_EUNAVAILABLE, "all %d query connections are busy; try again later", e->n_slots);
}

/* Gives a free connection back and hands free connections, in arrival
 * order, to the waiters admissible now: each woken waiter has its lease,
 * and nobody else wakes. */
static void release(lh_query_engine *e, struct lh_query_lease *s)
{
    pthread_mutex_lock(&e->mu);
    s->busy = false;
    if (e->helping) { /* the watchdog ends the episode when no long statement is left */
        struct timespec now, help_at = lh_time_add_ms(s->leased, HELP_AFTER_MS);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (!lh_time_before(&now, &help_at)) pthread_cond_signal(&e->watchdog_wake);
    }
    s->has_deadline = false;
    free(s->client);
    s->client = NULL;
    for (struct waiter **p = &e->waiting; *p;) {
        struct waiter *w = *p;
        const char *why;
        if (!admissible(e, w->client, w->timeout_ms, &why)) {
            p = &w->next;
            continue;
        }
        w->granted = take(e, w);
        *p = w->next;
        pthread_cond_signal(&w->granted_cv);
    }
    pthread_mutex_unlock(&e->mu);
}

static bool was_interrupted(lh_query_cursor *c)
{
    pthread_mutex_lock(&c->engine->mu);
    bool r = c->slot->interrupted;
    pthread_mutex_unlock(&c->engine->mu);
    return r;
}

/* DuckDB 1.4 repeats the "LINE n: ... ^" context of parser errors; keep one copy. */
static void drop_repeated_context(char *msg)
{
    char *last = NULL;
    for (char *p = strstr(msg, "\n\nLINE "); p; p = strstr(p + 1, "\n\nLINE ")) last = p;
    if (!last || last == msg) return;
    size_t tail = strlen(last);
    if ((size_t)(last - msg) >= tail && memcmp(last - tail, last, tail) == 0) *last = '\0';
}

/* DuckDB suggests the nearest catalog name for an unknown table — with no
 * datasets in its catalog, a system view ("Did you mean "pg_attrdef"?"),
 * which is never what a user meant. Drop such a suggestion. */
static void drop_system_suggestion(char *msg)
{
    static const char *const system[] = {"\"pg_", "\"sqlite_", "\"duckdb_", "\"information_schema",
                                         "\"main.pg_", "\"main.sqlite_", "\"main.duckdb_"};
    char *hint = strstr(msg, "\nDid you mean ");
    if (!hint) return;
    const char *name = hint + strlen("\nDid you mean ");
    for (size_t i = 0; i < sizeof system / sizeof system[0]; i++) {
        if (strncmp(name, system[i], strlen(system[i])) != 0) continue;
        char *end = strchr(hint + 1, '\n');
        memmove(hint, end ? end : hint + strlen(hint), strlen(end ? end : hint + strlen(hint)) + 1);
        return;
    }
}

/* Prepare errors come as text only: a sandbox refusal is "Permission Error: ...". */
static lh_code prepare_error_code(const char *msg)
{
    return msg && strncmp(msg, "Permission Error", 16) == 0 ? LH_EFORBIDDEN : LH_EINVAL;
}

static lh_code code_for(duckdb_error_type t)
{
    switch (t) {
    case DUCKDB_ERROR_INTERRUPT: return LH_ETIMEOUT;
    case DUCKDB_ERROR_PERMISSION: return LH_EFORBIDDEN;
    case DUCKDB_ERROR_OUT_OF_MEMORY: return LH_ETOOBIG; /* over memory_limit: the query asks too much */
    case DUCKDB_ERROR_IO: return LH_EIO;
    case DUCKDB_ERROR_INTERNAL:
    case DUCKDB_ERROR_FATAL: return LH_EINTERNAL;
    default: return LH_EINVAL;
    }
}

/* Fills err from a failed result, preferring "timeout" when we interrupted it. */
static lh_code result_error(lh_query_cursor *c, duckdb_result *res, lh_err *err)
{
    if (was_interrupted(c))
        return lh_err_set(err, LH_ETIMEOUT, "query exceeded its timeout of %lld ms and was cancelled",
                          c->timeout_ms);
    const char *msg = duckdb_result_error(res);
    duckdb_error_type t = duckdb_result_error_type(res);
    if (t == DUCKDB_ERROR_OUT_OF_MEMORY)
        return lh_err_set(err, LH_ETOOBIG, "the query needs more memory than query.memory_limit allows: %s",
                          msg ? msg : "out of memory");
    return lh_err_set(err, code_for(t), "%s", msg ? msg : "query failed");
}

static const char *statement_kind(duckdb_statement_type t)
{
    switch (t) {
    case DUCKDB_STATEMENT_TYPE_INSERT: return "INSERT";
    case DUCKDB_STATEMENT_TYPE_UPDATE: return "UPDATE";
    case DUCKDB_STATEMENT_TYPE_DELETE: return "DELETE";
    case DUCKDB_STATEMENT_TYPE_CREATE: return "CREATE";
    case DUCKDB_STATEMENT_TYPE_ALTER: return "ALTER";
    case DUCKDB_STATEMENT_TYPE_COPY: return "COPY";
    case DUCKDB_STATEMENT_TYPE_ATTACH: return "ATTACH";
    case DUCKDB_STATEMENT_TYPE_DETACH: return "DETACH";
    case DUCKDB_STATEMENT_TYPE_LOAD: return "LOAD / INSTALL";
    case DUCKDB_STATEMENT_TYPE_SET:
    case DUCKDB_STATEMENT_TYPE_VARIABLE_SET: return "SET";
    case DUCKDB_STATEMENT_TYPE_PRAGMA: return "PRAGMA";
    case DUCKDB_STATEMENT_TYPE_DROP: return "DROP";
    case DUCKDB_STATEMENT_TYPE_EXPORT: return "EXPORT";
    case DUCKDB_STATEMENT_TYPE_TRANSACTION: return "transaction control";
    case DUCKDB_STATEMENT_TYPE_CALL: return "CALL";
    default: return NULL;
    }
}

/* ---- the read-only policy ------------------------------------------------
 *
 * A read-only cursor runs only SELECT (with SHOW, DESCRIBE, SUMMARIZE, which
 * DuckDB prepares as SELECT) and EXPLAIN of such a SELECT — not EXPLAIN
 * ANALYZE of a CREATE, which would run it. The prepared statement's type
 * decides. But DuckDB binds while it prepares, so "DROP TABLE workers" fails
 * on the missing table before its type is known; for a statement that fails
 * to prepare, json_serialize_sql (which parses without binding and accepts
 * only SELECT) tells a refused statement from a query with a mistake in it.
 */

static lh_code refuse(lh_err *err, const char *kind)
{
    if (kind)
        return lh_err_set(err, LH_EFORBIDDEN,
                          "%s statements are not allowed: SQL here is read-only (SELECT, EXPLAIN)", kind);
    return lh_err_set(err, LH_EFORBIDDEN,
                      "only SELECT and EXPLAIN statements are allowed: SQL here is read-only");
}

/* Skips blanks, -- comments and block comments. */
static const char *skip_blank(const char *p)
{
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f') p++;
        if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n') p++;
        } else if (p[0] == '/' && p[1] == '*') {
            const char *end = strstr(p + 2, "*/");
            p = end ? end + 2 : p + strlen(p);
        } else {
            return p;
        }
    }
}

static bool ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* The word at p, upper-cased into out (empty when p is not at a word); returns its end. */
static const char *word_at(const char *p, char out[24])
{
    size_t n = 0;
    while (ident_char(p[n]) && n < 23) {
        out[n] = (char)(p[n] >= 'a' && p[n] <= 'z' ? p[n] - 32 : p[n]);
        n++;
    }
    out[ident_char(p[n]) ? 0 : n] = '\0';
    return p + n;
}

/* The ')' that closes the '(' at p, past quoted text; NULL if none. */
static const char *closing_paren(const char *p)
{
    int depth = 0;
    for (; *p; p++) {
        if (*p == '\'' || *p == '"') {
            const char *end = strchr(p + 1, *p); /* a doubled quote is two quoted runs */
            if (!end) return NULL;
            p = end;
        } else if (*p == '(') {
            depth++;
        } else if (*p == ')' && --depth == 0) {
            return p;
        }
    }
    return NULL;
}

/* The statement an EXPLAIN explains: sql past EXPLAIN [ANALYZE] [(options)];
 * NULL if sql does not start with EXPLAIN. */
static const char *explained(const char *sql)
{
    char w[24];
    const char *p = word_at(skip_blank(sql), w);
    if (strcmp(w, "EXPLAIN") != 0) return NULL;
    p = skip_blank(p);
    const char *q = word_at(p, w);
    if (!strcmp(w, "ANALYZE") || !strcmp(w, "ANALYSE")) p = skip_blank(q);
    if (*p == '(') {
        word_at(skip_blank(p + 1), w);
        /* "(FORMAT json)" is options; "(SELECT 1)" is the statement */
        if (*w && strcmp(w, "SELECT") && strcmp(w, "WITH") && strcmp(w, "FROM") && strcmp(w, "VALUES") &&
            strcmp(w, "TABLE")) {
            const char *close = closing_paren(p);
            if (close) p = skip_blank(close + 1);
        }
    }
    return p;
}

/* The refused kind of a statement by its first word, NULL when not one we name. */
static const char *kind_by_word(const char *sql)
{
    static const char *const words[] = {
        "INSERT", "UPDATE", "DELETE", "DROP", "CREATE", "ALTER", "COPY", "ATTACH", "DETACH", "LOAD",
        "INSTALL", "SET", "RESET", "PRAGMA", "EXPORT", "IMPORT", "VACUUM", "CHECKPOINT", "BEGIN",
        "START", "COMMIT", "ROLLBACK", "ABORT", "TRUNCATE", "USE", "CALL", "MERGE", "ANALYZE",
        "PREPARE", "EXECUTE", "DEALLOCATE", "COMMENT", "UPSERT"};
    static _Thread_local char word[24];
    word_at(skip_blank(sql), word);
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (!strcmp(word, words[i])) return word;
    return NULL;
}

typedef enum { SQL_QUERY, SQL_NOT_QUERY, SQL_UNPARSED } sql_class;

/* json_serialize_sql(sql) on the lease's connection, decoded with flags;
 * NULL if it did not run. It parses without binding: nothing is read. */
static json_t *serialize_sql(struct lh_query_lease *s, const char *sql, size_t flags)
{
    if (!s->serializer && duckdb_prepare(s->conn, "SELECT CAST(json_serialize_sql($1::VARCHAR) AS VARCHAR)",
                                         &s->serializer) == DuckDBError) {
        duckdb_destroy_prepare(&s->serializer);
        return NULL;
    }
    if (duckdb_bind_varchar(s->serializer, 1, sql) == DuckDBError) return NULL;
    json_t *j = NULL;
    duckdb_result r;
    if (duckdb_execute_prepared(s->serializer, &r) == DuckDBSuccess) {
        duckdb_data_chunk chunk = duckdb_fetch_chunk(r);
        if (chunk && duckdb_data_chunk_get_size(chunk) == 1) {
            duckdb_string_t *v = duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk, 0));
            j = json_loadb(duckdb_string_t_data(v), duckdb_string_t_length(*v), flags, NULL);
        }
        if (chunk) duckdb_destroy_data_chunk(&chunk);
    }
    duckdb_destroy_result(&r);
    return j;
}

/* Parses sql, without binding it, and says whether it is one SELECT. */
static sql_class classify_unbound(struct lh_query_lease *s, const char *sql)
{
    duckdb_extracted_statements ex = NULL;
    idx_t n = duckdb_extract_statements(s->conn, sql, &ex);
    duckdb_destroy_extracted(&ex);
    if (n != 1) return SQL_UNPARSED;
    json_t *j = serialize_sql(s, sql, 0);
    sql_class k = SQL_UNPARSED;
    if (j && !json_is_true(json_object_get(j, "error"))) k = SQL_QUERY;
    else if (j && !strcmp(json_string_value(json_object_get(j, "error_type")) ?: "", "not implemented"))
        k = SQL_NOT_QUERY;
    json_decref(j);
    return k;
}

/* LH_OK if sql only reads, else LH_EFORBIDDEN saying what it is. stmt is sql
 * prepared, or NULL when preparing failed: then LH_OK means "not refused; the
 * prepare error stands". */
static lh_code check_read_only(struct lh_query_lease *s, const char *sql, duckdb_prepared_statement stmt,
                               lh_err *err)
{
    const char *inner = explained(sql);
    if (!stmt) {
        if (inner) return check_read_only(s, inner, NULL, err);
        return classify_unbound(s, sql) == SQL_NOT_QUERY ? refuse(err, kind_by_word(sql)) : LH_OK;
    }
    duckdb_statement_type t = duckdb_prepared_statement_type(stmt);
    if (t == DUCKDB_STATEMENT_TYPE_SELECT) return LH_OK;
    if (t != DUCKDB_STATEMENT_TYPE_EXPLAIN) return refuse(err, statement_kind(t));
    if (!inner) return refuse(err, "EXPLAIN"); /* an EXPLAIN we cannot take apart */
    /* what EXPLAIN ANALYZE would run must itself be a query; if we cannot
     * prepare what we took apart, it must at least parse as one */
    duckdb_prepared_statement inner_stmt;
    lh_code rc;
    if (duckdb_prepare(s->conn, inner, &inner_stmt) == DuckDBSuccess)
        rc = check_read_only(s, inner, inner_stmt, err);
    else
        rc = classify_unbound(s, inner) == SQL_QUERY ? LH_OK : refuse(err, kind_by_word(inner));
    duckdb_destroy_prepare(&inner_stmt);
    return rc;
}

/* ---- datasets only ---------------------------------------------------------
 *
 * DuckDB's allowed_directories must hold the bucket folders (the resolver's
 * read_parquet runs in the user's statement), so paths alone cannot keep a
 * reader out of the journal, the manifests or a deleted dataset's Parquet.
 * With table_functions set, a read-only statement is checked on its parse
 * tree (json_serialize_sql: no binding, so no file is touched) before it is
 * prepared: every table function it calls must be one of table_functions,
 * and no table may be named by a path ('x.parquet', "/data/…"), which DuckDB
 * would turn into a file scan. Datasets stay reachable through their names
 * and dataset_version(), whose expansion (query_table, read_parquet) is the
 * engine's, not the statement's.
 */

static const char *const files_hint =
    "SQL here reads datasets, not files: load a file with `lakehouse ingest FILE --dataset NAME` "
    "(or POST /v1/ingest), then query the dataset by its name (a version: dataset_version('NAME', N))";

static bool names_a_path(const char *name)
{
    return name && strpbrk(name, "/\\.:*?~") != NULL;
}

/* LH_OK if the parse tree node (and all below it) reads only what it may. */
static lh_code check_tree(lh_query_engine *e, json_t *node, int depth, lh_err *err)
{
    if (depth > 1000) return lh_err_set(err, LH_EINVAL, "the statement is nested too deeply");
    if (json_is_array(node)) {
        size_t i;
        json_t *v;
        json_array_foreach(node, i, v) {
            lh_code rc = check_tree(e, v, depth + 1, err);
            if (rc) return rc;
        }
        return LH_OK;
    }
    if (!json_is_object(node)) return LH_OK;
    const char *type = json_string_value(json_object_get(node, "type"));
    if (type && !strcmp(type, "TABLE_FUNCTION")) {
        const char *fn = json_string_value(json_object_get(json_object_get(node, "function"), "function_name"));
        bool allowed = false;
        for (const char *const *a = e->table_functions; fn && *a && !allowed; a++) allowed = !strcasecmp(fn, *a);
        if (!allowed)
            return lh_err_set(err, LH_EFORBIDDEN, "%s() is not available here. %s", fn ? fn : "this table function",
                              files_hint);
    } else if (type && (!strcmp(type, "BASE_TABLE") || !strcmp(type, "SHOW_REF"))) {
        const char *name = json_string_value(json_object_get(node, "table_name"));
        if (names_a_path(name)) return lh_err_set(err, LH_EFORBIDDEN, "%s names a file. %s", name, files_hint);
    }
    const char *key;
    json_t *v;
    json_object_foreach(node, key, v) {
        lh_code rc = check_tree(e, v, depth + 1, err);
        if (rc) return rc;
    }
    return LH_OK;
}

typedef enum { TREE_OK, TREE_NOT_SELECT, TREE_UNPARSED, TREE_UNREADABLE } tree_state;

/* The parse tree of sql as JSON (caller decrefs) and how it went: only a
 * SELECT serializes; TREE_UNREADABLE (no tree although DuckDB parsed it)
 * must fail closed. Locations are 2^64-1 where unknown: ints as reals. */
static json_t *parse_tree(struct lh_query_lease *s, const char *sql, tree_state *state)
{
    json_t *j = serialize_sql(s, sql, JSON_DECODE_INT_AS_REAL);
    *state = TREE_UNREADABLE;
    if (j && json_is_true(json_object_get(j, "error"))) {
        const char *type = json_string_value(json_object_get(j, "error_type")) ?: "";
        *state = !strcmp(type, "not implemented") ? TREE_NOT_SELECT
                 : !strcmp(type, "parser")        ? TREE_UNPARSED
                                                  : TREE_UNREADABLE;
        json_decref(j);
        j = NULL;
    } else if (j && json_is_array(json_object_get(j, "statements"))) {
        *state = TREE_OK;
    } else {
        json_decref(j);
        j = NULL;
    }
    return j;
}

static checked_text *checked_slot(lh_query_engine *e, const char *sql, uint64_t *hash)
{
    *hash = lh_hash_fnv1a(LH_FNV1A_BASIS, sql, strlen(sql));
    return &e->checked[lh_hash_mix64(*hash) % CHECKED_SLOTS];
}

static bool was_checked(lh_query_engine *e, const char *sql)
{
    uint64_t hash;
    checked_text *t = checked_slot(e, sql, &hash);
    pthread_mutex_lock(&e->checked_mu);
    bool hit = t->sql && t->hash == hash && !strcmp(t->sql, sql);
    pthread_mutex_unlock(&e->checked_mu);
    return hit;
}

static void remember_checked(lh_query_engine *e, const char *sql)
{
    if (strlen(sql) > CHECKED_MAX_LEN) return;
    uint64_t hash;
    checked_text *t = checked_slot(e, sql, &hash);
    char *copy = lh_xstrdup(sql);
    pthread_mutex_lock(&e->checked_mu);
    char *old = t->sql;
    t->sql = copy;
    t->hash = hash;
    pthread_mutex_unlock(&e->checked_mu);
    free(old);
}

/* LH_OK if sql (a read-only statement about to be prepared) reads only
 * datasets; a statement that does not parse is left to prepare to refuse. */
static lh_code check_datasets_only(lh_query_engine *e, struct lh_query_lease *s, const char *sql, lh_err *err)
{
    if (!e->table_functions || was_checked(e, sql)) return LH_OK;
    const char *inner = explained(sql);
    tree_state state;
    json_t *tree = parse_tree(s, inner ? inner : sql, &state);
    if (state == TREE_UNPARSED) return LH_OK; /* a syntax error: prepare says where, binding nothing */
    if (state == TREE_UNREADABLE)
        return lh_err_set(err, LH_EFORBIDDEN, "this statement cannot be checked to read only datasets");
    if (state == TREE_NOT_SELECT) {
        /* the read-only policy refuses it, or (PIVOT) it cannot be checked */
        lh_code rc = check_read_only(s, inner ? inner : sql, NULL, err);
        return rc ? rc : refuse(err, NULL);
    }
    lh_code rc = check_tree(e, json_object_get(tree, "statements"), 0, err);
    json_decref(tree);
    if (rc == LH_OK) remember_checked(e, sql);
    return rc;
}

/* Sandboxed engines read datasets, never files: say so instead of DuckDB's
 * file-system refusal (or, for a path inside an allowed folder, its "No files found"). */
static void explain_file_access(lh_query_engine *e, lh_err *err)
{
    if (!e->sandboxed || !err) return;
    if (strncmp(err->message, "Permission Error: Cannot access file", 36) != 0 &&
        strncmp(err->message, "Permission Error: Cannot access directory", 41) != 0 &&
        !strstr(err->message, "No files found that match the pattern"))
        return;
    lh_err_wrap(err, "SQL here reads datasets, not files: load a file with `lakehouse ingest FILE "
                     "--dataset NAME` (or POST /v1/ingest), then query the dataset by its name (DuckDB said");
    size_t n = strlen(err->message);
    if (n + 1 < sizeof err->message) memcpy(err->message + n, ")", 2);
}

static lh_code bind_params(lh_query_cursor *c, json_t *params, lh_err *err)
{
    if (!params) return LH_OK;
    if (!json_is_array(params)) return lh_err_set(err, LH_EINVAL, "params must be an array");
    idx_t want = duckdb_nparams(c->stmt);
    if (json_array_size(params) != want)
        return lh_err_set(err, LH_EINVAL, "the statement has %llu parameter(s), params has %zu",
                          (unsigned long long)want, json_array_size(params));
    size_t i;
    json_t *v;
    json_array_foreach(params, i, v) {
        idx_t at = (idx_t)i + 1;
        duckdb_state st;
        switch (json_typeof(v)) {
        case JSON_NULL: st = duckdb_bind_null(c->stmt, at); break;
        case JSON_TRUE:
        case JSON_FALSE: st = duckdb_bind_boolean(c->stmt, at, json_is_true(v)); break;
        case JSON_INTEGER: st = duckdb_bind_int64(c->stmt, at, json_integer_value(v)); break;
        case JSON_REAL: st = duckdb_bind_double(c->stmt, at, json_real_value(v)); break;
        case JSON_STRING: st = duckdb_bind_varchar_length(c->stmt, at, json_string_value(v), json_string_length(v)); break;
        default: return lh_err_set(err, LH_EINVAL, "params[%zu]: only null, booleans, numbers and strings can be bound", i);
        }
        if (st == DuckDBError) return lh_err_set(err, LH_EINVAL, "params[%zu] cannot be bound", i);
    }
    return LH_OK;
}

/* ---- introspection views ------------------------------------------------ */

/* Whether a statement may look at DuckDB's catalog. A false alarm costs one
 * listing; a miss shows an empty catalog, never wrong data. */
static bool reads_catalog(const char *sql)
{
    static const char *const words[] = {"information_schema", "duckdb_", "show", "describe",
                                        "summarize", "sqlite_", "pg_", "table_info"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcasestr(sql, words[i])) return true;
    return false;
}

/* Drops the views the last statement on this connection made; false if they remain. */
static bool drop_views(struct lh_query_lease *s)
{
    if (!s->views) return true;
    lh_buf sql = {0};
    size_t i;
    json_t *name;
    json_array_foreach(s->views, i, name) {
        lh_buf_puts(&sql, "DROP VIEW IF EXISTS temp.main.");
        lh_sql_quote_ident(&sql, json_string_value(name));
        lh_buf_puts(&sql, ";");
    }
    duckdb_result r;
    bool ok = !sql.data || duckdb_query(s->conn, sql.data, &r) == DuckDBSuccess;
    if (sql.data) duckdb_destroy_result(&r);
    lh_buf_free(&sql);
    if (ok) {
        json_decref(s->views);
        s->views = NULL;
    }
    return ok;
}

/* Makes each table the lister names a temp view of this connection, bound
 * schema-only (no data read). A table whose view cannot be made is left out. */
static void make_views(lh_query_engine *e, struct lh_query_lease *s)
{
    json_t *tables;
    lh_err err;
    if (e->lister(e->resolver_ctx, &tables, &err)) {
        lh_log(LH_LOG_WARN, "query.list_tables_failed", LH_KV_STR("error", err.message));
        return;
    }
    s->views = json_array();
    binding_views = true;
    size_t i;
    json_t *t;
    json_array_foreach(tables, i, t) {
        const char *name = json_string_value(json_object_get(t, "name"));
        lh_buf sql = {0};
        lh_buf_puts(&sql, "CREATE OR REPLACE TEMP VIEW ");
        lh_sql_quote_ident(&sql, name);
        lh_buf_puts(&sql, " AS SELECT * FROM ");
        lh_sql_quote_ident(&sql, json_string_value(json_object_get(t, "table")));
        duckdb_result r;
        if (duckdb_query(s->conn, sql.data, &r) == DuckDBSuccess)
            json_array_append_new(s->views, json_string(name));
        else
            lh_log(LH_LOG_WARN, "query.view_failed", LH_KV_STR("table", name),
                   LH_KV_STR("error", duckdb_result_error(&r)));
        duckdb_destroy_result(&r);
        lh_buf_free(&sql);
    }
    binding_views = false;
    json_decref(tables);
}

/* Readies a leased connection for sql: no views of an earlier statement, and
 * the catalog's tables as views when sql looks at the catalog. */
static lh_code ready_connection(lh_query_engine *e, struct lh_query_lease *s, const char *sql, lh_err *err)
{
    if (!drop_views(s)) return lh_err_set(err, LH_EINTERNAL, "cannot drop the introspection views");
    if (e->lister && reads_catalog(sql)) make_views(e, s);
    return LH_OK;
}

lh_code lh_query_open(lh_query_engine *e, const lh_query_args *args, lh_query_cursor **out,
                      lh_err *err)
{
    lh_query_cursor *c = lh_xcalloc(1, sizeof *c);
    c->engine = e;
    c->timeout_ms = args->timeout_ms;
    c->max_result_bytes = args->max_result_bytes;
    clock_gettime(CLOCK_MONOTONIC, &c->started);
    lh_code rc = acquire(e, args->client, args->timeout_ms, &c->slot, err);
    if (rc) {
        free(c);
        return rc;
    }
    rc = ready_connection(e, c->slot, args->sql, err);
    if (rc == LH_OK && args->read_only) rc = check_datasets_only(e, c->slot, args->sql, err);
    /* the deadline (waiting for a connection counts) can pass during the check: that is a timeout, not a refusal */
    if (rc && was_interrupted(c))
        rc = lh_err_set(err, LH_ETIMEOUT, "query exceeded its timeout of %lld ms and was cancelled",
                        (long long)args->timeout_ms);
    if (rc) goto fail;
    /* a statement that made no introspection views may keep its plan */
    bool keep = !c->slot->views && strlen(args->sql) <= CHECKED_MAX_LEN;
    if (keep && (c->stmt = plan_reuse(e, c->slot, args->sql))) {
        c->kept = true;
        goto run;
    }
    resolver_failure = LH_OK;
    resolving = keep ? json_array() : NULL;
    duckdb_state prep = duckdb_prepare(c->slot->conn, args->sql, &c->stmt);
    json_t *resolved = resolving;
    resolving = NULL;
    if (prep == DuckDBSuccess && json_is_array(resolved) &&
        (!args->read_only || check_read_only(c->slot, args->sql, c->stmt, NULL) == LH_OK)) {
        plan_keep(c->slot, args->sql, c->stmt, resolved);
        c->kept = true;
    }
    json_decref(resolved);
    if (prep == DuckDBError) {
        const char *msg = duckdb_prepare_error(c->stmt);
        lh_code code = was_interrupted(c) ? LH_ETIMEOUT : resolver_failure ? resolver_failure : prepare_error_code(msg);
        rc = lh_err_set(err, code, "%s", msg ? msg : "cannot prepare statement");
        if (err) {
            drop_repeated_context(err->message);
            drop_system_suggestion(err->message);
        }
        lh_err refused;
        if (args->read_only && rc != LH_ETIMEOUT && check_read_only(c->slot, args->sql, NULL, &refused)) {
            if (err) *err = refused;
            rc = refused.code;
        } else {
            explain_file_access(e, err);
        }
        goto fail;
    }
run:
    if (args->read_only) {
        rc = check_read_only(c->slot, args->sql, c->stmt, err);
        if (rc) goto fail;
    }
    rc = bind_params(c, args->params, err);
    if (rc) goto fail;
    duckdb_pending_result pending;
    if (duckdb_pending_prepared_streaming(c->stmt, &pending) == DuckDBError) {
        const char *msg = duckdb_pending_error(pending);
        rc = lh_err_set(err, LH_EINVAL, "%s", msg ? msg : "cannot start statement");
        duckdb_destroy_pending(&pending);
        goto fail;
    }
    duckdb_state st = duckdb_execute_pending(pending, &c->result);
    duckdb_destroy_pending(&pending);
    c->has_result = true;
    if (st == DuckDBError) {
        rc = result_error(c, &c->result, err);
        explain_file_access(e, err);
        goto fail;
    }
    c->n_cols = duckdb_column_count(&c->result);
    c->names = lh_xcalloc(c->n_cols ? c->n_cols : 1, sizeof *c->names);
    c->types = lh_xcalloc(c->n_cols ? c->n_cols : 1, sizeof *c->types);
    for (size_t i = 0; i < c->n_cols; i++) {
        const char *name = duckdb_column_name(&c->result, i);
        c->names[i] = lh_xstrdup(name ? name : "");
        lh_type_node_build(&c->types[i], duckdb_column_logical_type(&c->result, i));
    }
    *out = c;
    return LH_OK;
fail:
    lh_query_close(c);
    return rc;
}

lh_code lh_query_check(lh_query_engine *e, const char *sql, lh_err *err)
{
    struct lh_query_lease *slot;
    lh_code rc = acquire(e, NULL, 10000, &slot, err);
    if (rc) return rc;
    rc = ready_connection(e, slot, sql, err);
    if (rc == LH_OK) rc = check_datasets_only(e, slot, sql, err);
    if (rc) {
        drop_views(slot);
        release(e, slot);
        return rc;
    }
    duckdb_prepared_statement stmt;
    resolver_failure = LH_OK;
    if (duckdb_prepare(slot->conn, sql, &stmt) == DuckDBError) {
        const char *msg = duckdb_prepare_error(stmt);
        rc = lh_err_set(err, resolver_failure ? resolver_failure : prepare_error_code(msg), "%s",
                        msg ? msg : "cannot prepare statement");
        if (err) {
            drop_repeated_context(err->message);
            drop_system_suggestion(err->message);
        }
        lh_err refused;
        if (check_read_only(slot, sql, NULL, &refused)) {
            if (err) *err = refused;
            rc = refused.code;
        } else {
            explain_file_access(e, err);
        }
    } else {
        rc = check_read_only(slot, sql, stmt, err);
    }
    duckdb_destroy_prepare(&stmt);
    drop_views(slot);
    release(e, slot);
    return rc;
}

void lh_query_close(lh_query_cursor *c)
{
    if (!c) return;
    if (c->has_result) duckdb_destroy_result(&c->result);
    if (c->stmt && !c->kept) duckdb_destroy_prepare(&c->stmt);
    for (size_t i = 0; i < c->n_cols; i++) {
        free(c->names[i]);
        lh_type_node_free(&c->types[i]);
    }
    free(c->names);
    free(c->types);
    if (c->slot) {
        drop_views(c->slot); /* if this fails, the next statement on the connection retries */
        release(c->engine, c->slot);
    }
    free(c);
}

size_t lh_query_column_count(const lh_query_cursor *c)
{
    return c->n_cols;
}

const char *lh_query_column_name(const lh_query_cursor *c, size_t i)
{
    return i < c->n_cols ? c->names[i] : NULL;
}

const char *lh_query_column_type(const lh_query_cursor *c, size_t i)
{
    return i < c->n_cols ? c->types[i].name : NULL;
}

double lh_query_elapsed_ms(const lh_query_cursor *c)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - c->started.tv_sec) * 1e3 +
           (double)(now.tv_nsec - c->started.tv_nsec) / 1e6;
}

lh_code lh_query_lease_acquire(lh_query_engine *e, long long timeout_ms, lh_query_lease **out,
                               lh_err *err)
{
    return acquire(e, NULL, timeout_ms, out, err);
}

duckdb_connection lh_query_lease_connection(lh_query_lease *l)
{
    return l->conn;
}

double lh_query_progress(lh_query_lease *l)
{
    return duckdb_query_progress(l->conn).percentage;
}

bool lh_query_lease_timed_out(lh_query_lease *l)
{
    pthread_mutex_lock(&l->engine->mu);
    bool r = l->interrupted;
    pthread_mutex_unlock(&l->engine->mu);
    return r;
}

lh_code lh_query_exec(duckdb_connection conn, lh_query_lease *lease, const char *sql, lh_err *err)
{
    duckdb_result r;
    lh_code rc = LH_OK;
    if (duckdb_query(conn, sql, &r) == DuckDBError) {
        const char *msg = duckdb_result_error(&r);
        if (lease && lh_query_lease_timed_out(lease))
            rc = lh_err_set(err, LH_ETIMEOUT, "the statement exceeded its deadline and was cancelled");
        else
            rc = lh_err_set(err, duckdb_result_error_type(&r) == DUCKDB_ERROR_IO ? LH_EIO : LH_EINVAL, "%s",
                            msg ? msg : "query failed");
    }
    duckdb_destroy_result(&r);
    return rc;
}

void lh_query_lease_release(lh_query_lease *l)
{
    if (l) release(l->engine, l);
}

long long lh_query_cursor_max_bytes(const lh_query_cursor *c)
{
    return c->max_result_bytes;
}

const lh_type_node *lh_query_cursor_types(const lh_query_cursor *c)
{
    return c->types;
}

lh_code lh_query_cursor_fetch(lh_query_cursor *c, duckdb_data_chunk *chunk, lh_err *err)
{
    *chunk = duckdb_fetch_chunk(c->result);
    if (*chunk) return LH_OK;
    const char *msg = duckdb_result_error(&c->result);
    if (msg) return result_error(c, &c->result, err);
    return LH_OK;
}
