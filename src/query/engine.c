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

struct lh_query_lease {
    lh_query_engine *engine;
    duckdb_connection conn;
    bool busy;
    bool has_deadline;
    bool interrupted;
    struct timespec deadline; /* CLOCK_MONOTONIC */
};

struct lh_query_engine {
    duckdb_database db;
    struct lh_query_lease *slots;
    int n_slots;
    pthread_mutex_t mu;
    pthread_cond_t slot_freed;
    pthread_cond_t watchdog_wake;
    pthread_t watchdog;
    bool stop;
    lh_query_resolver resolver;
    void *resolver_ctx;
};

struct lh_query_cursor {
    lh_query_engine *engine;
    struct lh_query_lease *slot;
    long long timeout_ms;
    struct timespec started;
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
            struct lh_query_lease *s = &e->slots[i];
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

/* Unknown table names go to the resolver; its SQL runs in their place through
 * DuckDB's query() table function. */
static void replacement_scan(duckdb_replacement_scan_info info, const char *name, void *data)
{
    lh_query_engine *e = data;
    lh_buf sql = {0};
    lh_err err;
    lh_code rc = e->resolver(e->resolver_ctx, name, &sql, &err);
    if (rc == LH_OK) {
        duckdb_replacement_scan_set_function_name(info, "query");
        duckdb_value v = duckdb_create_varchar(sql.data);
        duckdb_replacement_scan_add_parameter(info, v);
        duckdb_destroy_value(&v);
    } else if (rc != LH_ENOTFOUND) {
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

/* Runs init_sql, then (when sandboxed) confines file access and locks the configuration. */
static lh_code configure(lh_query_engine *e, const lh_query_options *opt, lh_err *err)
{
    duckdb_connection conn = e->slots[0].conn;
    lh_code rc = opt->init_sql ? run_internal(conn, opt->init_sql, err) : LH_OK;
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
    for (int i = 0; i < e->n_slots; i++) e->slots[i].engine = e;
    e->resolver = opt->resolver;
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
static lh_code acquire(lh_query_engine *e, long long timeout_ms, struct lh_query_lease **out, lh_err *err)
{
    struct timespec deadline = lh_time_after_ms(CLOCK_REALTIME, timeout_ms);
    pthread_mutex_lock(&e->mu);
    for (;;) {
        for (int i = 0; i < e->n_slots; i++) {
            struct lh_query_lease *s = &e->slots[i];
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

static void release(lh_query_engine *e, struct lh_query_lease *s)
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
    default: return "this kind of";
    }
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

lh_code lh_query_open(lh_query_engine *e, const lh_query_args *args, lh_query_cursor **out,
                      lh_err *err)
{
    lh_query_cursor *c = lh_xcalloc(1, sizeof *c);
    c->engine = e;
    c->timeout_ms = args->timeout_ms;
    clock_gettime(CLOCK_MONOTONIC, &c->started);
    lh_code rc = acquire(e, args->timeout_ms, &c->slot, err);
    if (rc) {
        free(c);
        return rc;
    }
    if (duckdb_prepare(c->slot->conn, args->sql, &c->stmt) == DuckDBError) {
        const char *msg = duckdb_prepare_error(c->stmt);
        rc = lh_err_set(err, was_interrupted(c) ? LH_ETIMEOUT : prepare_error_code(msg), "%s",
                        msg ? msg : "cannot prepare statement");
        if (err) drop_repeated_context(err->message);
        goto fail;
    }
    if (args->read_only) {
        duckdb_statement_type t = duckdb_prepared_statement_type(c->stmt);
        if (t != DUCKDB_STATEMENT_TYPE_SELECT && t != DUCKDB_STATEMENT_TYPE_EXPLAIN) {
            rc = lh_err_set(err, LH_EFORBIDDEN,
                            "%s statements are not allowed: SQL here is read-only (SELECT, EXPLAIN)",
                            statement_kind(t));
            goto fail;
        }
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
    lh_code rc = acquire(e, 10000, &slot, err);
    if (rc) return rc;
    duckdb_prepared_statement stmt;
    if (duckdb_prepare(slot->conn, sql, &stmt) == DuckDBError) {
        const char *msg = duckdb_prepare_error(stmt);
        rc = lh_err_set(err, prepare_error_code(msg), "%s", msg ? msg : "cannot prepare statement");
        if (err) drop_repeated_context(err->message);
    } else {
        duckdb_statement_type t = duckdb_prepared_statement_type(stmt);
        if (t != DUCKDB_STATEMENT_TYPE_SELECT && t != DUCKDB_STATEMENT_TYPE_EXPLAIN)
            rc = lh_err_set(err, LH_EFORBIDDEN,
                            "%s statements are not allowed: SQL here is read-only (SELECT, EXPLAIN)",
                            statement_kind(t));
    }
    duckdb_destroy_prepare(&stmt);
    release(e, slot);
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
    return acquire(e, timeout_ms, out, err);
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
