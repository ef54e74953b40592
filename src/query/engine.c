/*
 * engine.c — DuckDB database, connection pool, deadline watchdog and cursors.
 *
 * The pool and the watchdog share one mutex: the watchdog only interrupts a
 * connection while it is leased to the query whose deadline passed, so an
 * interrupt can never hit the next query that reuses the connection.
 */
#include "internal.h"

#include "lakehouse/lh_log.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_time.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct slot {
    duckdb_connection conn;
    bool busy;
    bool has_deadline;
    bool interrupted;
    struct timespec deadline; /* CLOCK_MONOTONIC */
};

struct lh_query_engine {
    duckdb_database db;
    struct slot *slots;
    int n_slots;
    pthread_mutex_t mu;
    pthread_cond_t slot_freed;
    pthread_cond_t watchdog_wake;
    pthread_t watchdog;
    bool stop;
};

struct lh_query_cursor {
    lh_query_engine *engine;
    struct slot *slot;
    long long timeout_ms;
    duckdb_prepared_statement stmt;
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

static bool before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void *watchdog_main(void *arg)
{
    lh_query_engine *e = arg;
    pthread_mutex_lock(&e->mu);
    while (!e->stop) {
        struct timespec now, next = {0, 0};
        bool have_next = false;
        clock_gettime(CLOCK_MONOTONIC, &now);
        for (int i = 0; i < e->n_slots; i++) {
            struct slot *s = &e->slots[i];
            if (!s->busy || !s->has_deadline || s->interrupted) continue;
            if (!before(&now, &s->deadline)) {
                s->interrupted = true;
                duckdb_interrupt(s->conn);
            } else if (!have_next || before(&s->deadline, &next)) {
                next = s->deadline;
                have_next = true;
            }
        }
        if (have_next) pthread_cond_timedwait(&e->watchdog_wake, &e->mu, &next);
        else pthread_cond_wait(&e->watchdog_wake, &e->mu);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

lh_code lh_query_engine_open(const lh_query_options *opt, lh_query_engine **out, lh_err *err)
{
    duckdb_config config;
    if (duckdb_create_config(&config) == DuckDBError)
        return lh_err_set(err, LH_ENOMEM, "duckdb_create_config failed");
    char threads[32];
    if (opt->threads > 0) {
        snprintf(threads, sizeof threads, "%d", opt->threads);
        duckdb_set_config(config, "threads", threads);
    }
    if (opt->memory_limit && *opt->memory_limit &&
        duckdb_set_config(config, "memory_limit", opt->memory_limit) == DuckDBError) {
        duckdb_destroy_config(&config);
        return lh_err_set(err, LH_EINVAL, "query.memory_limit: DuckDB rejected \"%s\"",
                          opt->memory_limit);
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
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->slot_freed, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->watchdog_wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_create(&e->watchdog, NULL, watchdog_main, e);
    *out = e;
    return LH_OK;
}

void lh_query_engine_close(lh_query_engine *e)
{
    if (!e) return;
    pthread_mutex_lock(&e->mu);
    e->stop = true;
    pthread_cond_signal(&e->watchdog_wake);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->watchdog, NULL);
    for (int i = 0; i < e->n_slots; i++) duckdb_disconnect(&e->slots[i].conn);
    duckdb_close(&e->db);
    pthread_cond_destroy(&e->watchdog_wake);
    pthread_cond_destroy(&e->slot_freed);
    pthread_mutex_destroy(&e->mu);
    free(e->slots);
    free(e);
}

/* Leases a free connection, waiting up to timeout_ms (<= 0: forever). */
static lh_code acquire(lh_query_engine *e, long long timeout_ms, struct slot **out, lh_err *err)
{
    struct timespec deadline = lh_time_after_ms(CLOCK_REALTIME, timeout_ms);
    pthread_mutex_lock(&e->mu);
    for (;;) {
        for (int i = 0; i < e->n_slots; i++) {
            struct slot *s = &e->slots[i];
            if (s->busy) continue;
            s->busy = true;
            s->interrupted = false;
            s->has_deadline = timeout_ms > 0;
            if (s->has_deadline) {
                s->deadline = lh_time_after_ms(CLOCK_MONOTONIC, timeout_ms);
                pthread_cond_signal(&e->watchdog_wake);
            }
            pthread_mutex_unlock(&e->mu);
            *out = s;
            return LH_OK;
        }
        int rc = timeout_ms > 0 ? pthread_cond_timedwait(&e->slot_freed, &e->mu, &deadline)
                                : pthread_cond_wait(&e->slot_freed, &e->mu);
        if (rc == ETIMEDOUT) {
            pthread_mutex_unlock(&e->mu);
            return lh_err_set(err, LH_EUNAVAILABLE,
                              "all %d query connections are busy; try again later", e->n_slots);
        }
    }
}

static void release(lh_query_engine *e, struct slot *s)
{
    pthread_mutex_lock(&e->mu);
    s->busy = false;
    s->has_deadline = false;
    pthread_cond_signal(&e->slot_freed);
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

static lh_code code_for(duckdb_error_type t)
{
    switch (t) {
    case DUCKDB_ERROR_INTERRUPT: return LH_ETIMEOUT;
    case DUCKDB_ERROR_PERMISSION: return LH_EFORBIDDEN;
    case DUCKDB_ERROR_OUT_OF_MEMORY: return LH_ENOMEM;
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
    return lh_err_set(err, code_for(duckdb_result_error_type(res)), "%s", msg ? msg : "query failed");
}

lh_code lh_query_open(lh_query_engine *e, const char *sql, long long timeout_ms,
                      lh_query_cursor **out, lh_err *err)
{
    lh_query_cursor *c = lh_xcalloc(1, sizeof *c);
    c->engine = e;
    c->timeout_ms = timeout_ms;
    lh_code rc = acquire(e, timeout_ms, &c->slot, err);
    if (rc) {
        free(c);
        return rc;
    }
    if (duckdb_prepare(c->slot->conn, sql, &c->stmt) == DuckDBError) {
        const char *msg = duckdb_prepare_error(c->stmt);
        rc = lh_err_set(err, LH_EINVAL, "%s", msg ? msg : "cannot prepare statement");
        if (err) drop_repeated_context(err->message);
        goto fail;
    }
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

void lh_query_close(lh_query_cursor *c)
{
    if (!c) return;
    if (c->has_result) duckdb_destroy_result(&c->result);
    if (c->stmt) duckdb_destroy_prepare(&c->stmt);
    for (size_t i = 0; i < c->n_cols; i++) {
        free(c->names[i]);
        lh_type_node_free(&c->types[i]);
    }
    free(c->names);
    free(c->types);
    if (c->slot) release(c->engine, c->slot);
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
