/*
 * app.c — opening and closing the modules of the system (the composition root).
 *
 * Order matters: buckets first, then the error journal (observing every
 * bucket from then on), the mutation journal, the catalog (rebuilt from the
 * store) and the SQL engine. Closing runs in reverse, so the journals flush
 * last events before the buckets go away.
 */
#include "internal.h"

#include "lakehouse/lh_log.h"
#include "lakehouse/lh_mem.h"

#include <ctype.h>
#include <sodium.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* The table functions user SQL may call: generators, introspection and the
 * datasets' own — none that reads a file by name (read_*, parquet_*, glob,
 * query, query_table, sniff_csv, ...), so SQL reads the store only through
 * the catalog. */
static const char *const sql_table_functions[] = {
    "dataset_version", "lh_version", "vector_search", "range", "generate_series", "unnest", "repeat",
    "repeat_row", "json_each", "json_tree", "summary", "histogram", "histogram_values", "test_all_types",
    "icu_calendar_names", "pg_timezone_names", "duckdb_columns", "duckdb_constraints", "duckdb_databases",
    "duckdb_dependencies", "duckdb_functions", "duckdb_indexes", "duckdb_keywords", "duckdb_schemas",
    "duckdb_sequences", "duckdb_settings", "duckdb_tables", "duckdb_types", "duckdb_views", "duckdb_extensions",
    "duckdb_memory", "duckdb_optimizers", "pragma_table_info", "pragma_show", "pragma_version", "pragma_platform",
    "pragma_collations", "pragma_database_size", NULL};

/* DuckDB's own default is 80% of RAM per database, and there are two (SQL
 * and ingest): unset, the SQL engine gets 25% of physical memory and ingest
 * half that; a configured value applies to both. */
static void memory_limits(const char *configured, char *sql, char *ingest, size_t size)
{
    if (configured && *configured) {
        snprintf(sql, size, "%s", configured);
        snprintf(ingest, size, "%s", configured);
        return;
    }
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    long long mib = pages > 0 && page > 0 ? (long long)pages * page / (1 << 20) : 4096;
    snprintf(sql, size, "%lldMiB", mib / 4 > 64 ? mib / 4 : 64);
    snprintf(ingest, size, "%lldMiB", mib / 8 > 64 ? mib / 8 : 64);
}

#include <sys/file.h>
#include <time.h>

/* The pid an ingest temp file's name carries ("ingest-<pid>-…"), or 0. */
static long name_pid(const char *name)
{
    if (strncmp(name, "ingest-", 7) != 0 || !isdigit((unsigned char)name[7])) return 0;
    char *end;
    long pid = strtol(name + 7, &end, 10);
    return *end == '-' && pid > 0 && pid <= 4194304 ? pid : 0;
}

/* Start-up sweep of <data>/_tmp: what crashed processes left (uploads being
 * received, Parquet being converted, index builds). Every process holds a
 * shared flock on _tmp/.live while it runs; one that gets it exclusively is
 * alone on the data folder and removes every temp file. Otherwise it removes
 * only files of dead processes (by the pid in their names) and files older
 * than LH_TMP_STALE_S. Directories are left alone. */
static bool tmp_sweep(lh_app *app)
{
    if (mkdir(app->tmp_dir, 0755) != 0 && errno != EEXIST) return false;
    char *lock = lh_xasprintf("%s/.live", app->tmp_dir);
    app->tmp_lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    free(lock);
    bool alone = app->tmp_lock_fd >= 0 && flock(app->tmp_lock_fd, LOCK_EX | LOCK_NB) == 0;
    DIR *d = opendir(app->tmp_dir);
    time_t now = time(NULL);
    size_t removed = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *path = lh_xasprintf("%s/%s", app->tmp_dir, e->d_name);
        struct stat st;
        long pid = name_pid(e->d_name);
        bool dead = pid && pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (alone || dead || now - st.st_mtime > LH_TMP_STALE_S) &&
            unlink(path) == 0)
            removed++;
        free(path);
    }
    if (d) closedir(d);
    if (app->tmp_lock_fd >= 0) flock(app->tmp_lock_fd, LOCK_SH);
    if (removed) lh_log(LH_LOG_INFO, "app.tmp_swept", LH_KV_INT("files", (int64_t)removed));
    return alone;
}

/* Removes the files in dir, then dir. */
static void remove_flat_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
    rmdir(dir);
}

/* DuckDB's spill folders belong to one process: _spill/<engine>-<pid>. An
 * engine empties its folder when it opens (nothing planted there can be
 * read), so a shared folder let a CLI run beside a server delete the
 * server's spill files. Start-up removes the folders of dead processes
 * (judged by pid, as in tmp_sweep), and the shared folders of older
 * versions when alone on the data folder. */
static void spill_sweep(const char *spill_dir, bool alone)
{
    DIR *d = opendir(spill_dir);
    if (!d) return;
    size_t removed = 0;
    for (struct dirent *e; (e = readdir(d));) {
        const char *dash = strrchr(e->d_name, '-');
        char *end = NULL;
        long pid = dash && isdigit((unsigned char)dash[1]) ? strtol(dash + 1, &end, 10) : 0;
        bool legacy = !strcmp(e->d_name, "sql") || !strcmp(e->d_name, "ingest");
        bool dead = pid > 0 && end && !*end && pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
        if (!dead && !(legacy && alone)) continue;
        char *path = lh_xasprintf("%s/%s", spill_dir, e->d_name);
        remove_flat_dir(path);
        free(path);
        removed++;
    }
    closedir(d);
    if (removed) lh_log(LH_LOG_INFO, "app.spill_swept", LH_KV_INT("folders", (int64_t)removed));
}

/* Replaces every occurrence of from in err->message with to. */
static void message_replace(lh_err *err, const char *from, const char *to)
{
    size_t flen = strlen(from), tlen = strlen(to);
    if (!flen || tlen > flen) return;
    char *at, *p = err->message;
    while ((at = strstr(p, from))) {
        memcpy(at, to, tlen);
        memmove(at + tlen, at + flen, strlen(at + flen) + 1);
        p = at + tlen;
    }
}

/* Reading a data object failed its checks: DuckDB's words for a damaged Parquet file. */
static bool parquet_damage(const char *m)
{
    static const char *const signs[] = {"too small to be a Parquet file", "No magic bytes found", "not a parquet file",
                                        "Corrupt", "corrupt", "Invalid Parquet", "Parquet file is truncated",
                                        "Couldn't deserialize thrift", "ZSTD Decompression failure", "Snappy decompression failure"};
    if (!strstr(m, ".parquet")) return false;
    for (size_t i = 0; i < sizeof signs / sizeof *signs; i++)
        if (strstr(m, signs[i])) return true;
    return false;
}

lh_code lh_app_error_scrub(lh_app *app, lh_code rc, lh_err *err)
{
    if (rc == LH_OK || !err || !app) return rc;
    /* a bucket's folder becomes the bucket's name: "local/datasets/d/data/x.parquet" */
    for (size_t i = 0; i < lh_buckets_count(app->buckets); i++) {
        lh_store *s = lh_buckets_at(app->buckets, i);
        char root[4096];
        if (!lh_store_local_path(s, "k", root, sizeof root)) continue;
        root[strlen(root) - 1] = '\0'; /* "<root>/" */
        char *named = lh_xasprintf("%s/", s->name);
        message_replace(err, root, named);
        free(named);
    }
    char *data = lh_xasprintf("%s/", app->data_dir);
    message_replace(err, data, ""); /* caches and the rest: relative to the data folder */
    free(data);
    if (parquet_damage(err->message)) {
        rc = err->code = LH_ECORRUPT;
        /* note "bucket/datasets/<name>/…" for /health */
        const char *at = strstr(err->message, "/datasets/");
        if (at) {
            const char *start = at;
            while (start > err->message && !strchr("'\" ", start[-1])) start--;
            size_t n = strcspn(at, "'\" ");
            char *where = lh_xasprintf("%.*s", (int)((size_t)(at - start) + n), start);
            char dataset[128];
            if (sscanf(at, "/datasets/%127[^/]", dataset) == 1)
                lh_catalog_note_corrupt(app->catalog, dataset, where, err->message);
            free(where);
        }
    }
    return rc;
}

static lh_query_engine *sql_sandbox(void *ctx, lh_err *err)
{
    return lh_app_sql_engine(ctx, err);
}

lh_code lh_app_open(const lh_config *cfg, lh_app **out, lh_err *err)
{
    lh_app *app = lh_xcalloc(1, sizeof *app);
    app->data_dir = lh_xstrdup(cfg->storage_data_dir);
    app->query_timeout_ms = cfg->query_timeout_ms;
    app->query_max_rows = cfg->query_max_rows;
    app->query_max_timeout_ms = cfg->query_max_timeout_ms;
    app->query_max_result_bytes = cfg->query_max_result_bytes;
    app->started_at = time(NULL);
    pthread_mutex_init(&app->health.mu, NULL);
    pthread_mutex_init(&app->profiles.mu, NULL);
    pthread_mutex_init(&app->query_mu, NULL);
    pthread_mutex_init(&app->profiles.write_mu, NULL);
    lh_app_objects_init(&app->views, "view", "_catalog/views");
    lh_app_objects_init(&app->workspaces, "workspace", "_catalog/workspaces");
    lh_app_objects_init(&app->drafts, "draft", "_catalog/drafts");
    lh_app_history_init(app);
    pthread_mutex_init(&app->playbook_cache.mu, NULL);
    lh_app_auth_init(app, cfg->auth_required != 0);
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, 0) != sizeof r) r = (uint32_t)getpid();
    snprintf(app->replica, sizeof app->replica, "%08x", r);

    char *wal_dir = lh_xasprintf("%s/_wal", cfg->storage_data_dir);
    lh_journal_options jo = {.wal_dir = wal_dir,
                             .replica = app->replica,
                             .flush_ms = (long)cfg->journal_flush_ms,
                             .flush_events = (long)cfg->journal_flush_events};
    char *cache_dir = lh_xasprintf("%s/_cache", cfg->storage_data_dir);
    app->tmp_dir = lh_xasprintf("%s/_tmp", cfg->storage_data_dir);
    app->max_upload_bytes = cfg->ingest_max_upload_bytes;
    app->tmp_lock_fd = -1;
    bool alone = tmp_sweep(app);
    lh_code rc = lh_buckets_open(cfg, &app->buckets, err);
    char *absolute = rc == LH_OK ? realpath(app->data_dir, NULL) : NULL;
    if (absolute) { /* the sandbox allows absolute folders: paths built from this one must be too */
        free(app->data_dir);
        app->data_dir = absolute;
    }
    if (rc == LH_OK) rc = lh_errors_open(lh_buckets_default(app->buckets), &jo, &app->errors, err);
    if (rc == LH_OK) {
        lh_buckets_observe(app->buckets, lh_app_store_failed, app);
        rc = lh_journal_open(lh_buckets_default(app->buckets), &jo, &app->journal, err);
    }
    if (rc == LH_OK) rc = lh_catalog_open(app->buckets, app->journal, &app->catalog, err);
    if (rc == LH_OK) rc = lh_dataset_tables_new(app->catalog, app->buckets, cache_dir, &app->tables, err);
    char ingest_memory[32];
    memory_limits(cfg->query_memory_limit, app->sql_memory, ingest_memory, sizeof ingest_memory);
    /* DuckDB's spill folders: its own, outside _tmp (swept for uploads), never the cwd */
    char *spill_dir = lh_xasprintf("%s/_spill", cfg->storage_data_dir);
    app->sql_spill = lh_xasprintf("%s/sql-%d", spill_dir, (int)getpid());
    app->ingest_spill = lh_xasprintf("%s/ingest-%d", spill_dir, (int)getpid());
    if (rc == LH_OK && mkdir(spill_dir, 0700) != 0 && errno != EEXIST)
        rc = lh_err_errno(err, LH_EIO, errno, "cannot create %s", spill_dir);
    if (rc == LH_OK) spill_sweep(spill_dir, alone);
    if (rc == LH_OK) { /* the SQL engine opens on first use: lh_app_sql_engine */
        const char *const *dirs;
        size_t n_dirs = lh_dataset_tables_dirs(app->tables, &dirs);
        app->sql_options = (lh_query_options){
            .threads = (int)cfg->query_threads,
            .memory_limit = app->sql_memory,
            .connections = (int)cfg->query_connections,
            .allowed_dirs = dirs,
            .n_allowed_dirs = n_dirs,
            .resolver = lh_app_scoped_resolve, /* a profile sees only what it binds */
            .lister = lh_app_scoped_list,
            .resolver_ctx = app, /* datasets and views */
            .init_sql = LH_DATASET_TABLES_INIT_SQL,
            .temp_dir = app->sql_spill,
            .max_temp_bytes = cfg->query_max_temp_size,
            .max_string_length = cfg->query_max_string_length,
            .table_functions = sql_table_functions,
            .short_timeout_ms = cfg->query_short_timeout_ms,
            .max_per_client = cfg->query_max_per_client > 0
                                  ? (int)cfg->query_max_per_client
                                  : (int)(cfg->query_connections / 2 > 0 ? cfg->query_connections / 2 : 1)};
    }
    if (rc == LH_OK) {
        lh_query_options io = {.threads = (int)cfg->query_threads,
                               .memory_limit = ingest_memory,
                               .connections = (int)cfg->ingest_concurrency,
                               .temp_dir = app->ingest_spill,
                               .max_temp_bytes = cfg->query_max_temp_size};
        rc = lh_query_engine_open(&io, &app->ingest_engine, err);
    }
    if (rc == LH_OK) {
        lh_ingester_config ic = {.engine = app->ingest_engine,
                                 .catalog = app->catalog,
                                 .buckets = app->buckets,
                                 .errors = app->errors,
                                 .tmp_dir = app->tmp_dir,
                                 .chunk_chars = (size_t)cfg->ingest_chunk_chars,
                                 .chunk_overlap = (size_t)cfg->ingest_chunk_overlap,
                                 .max_line_bytes = (size_t)cfg->ingest_max_line_bytes};
        rc = lh_ingester_new(&ic, &app->ingester, err);
    }
    if (rc == LH_OK) {
        lh_app_ai_init(app, cfg);
        app->ai_ready = true;
        lh_vectors_config vc = {.buckets = app->buckets,
                                .catalog = app->catalog,
                                .tables = app->tables,
                                .engine = app->ingest_engine,
                                .journal = app->journal,
                                .tmp_dir = app->tmp_dir,
                                .cache_dir = cache_dir,
                                .build_threads = (unsigned)cfg->vectors_build_threads,
                                .ai = lh_app_ai,
                                .ai_ctx = app,
                                .default_provider = app->ai_provider,
                                .chat = app->chat,
                                .sandbox = sql_sandbox,
                                .sandbox_ctx = app,
                                .errors = app->errors,
                                .index_allowed = lh_app_index_allowed,
                                .index_allowed_ctx = app};
        rc = lh_vectors_open(&vc, &app->vectors, err);
    }
    if (rc == LH_OK) lh_catalog_observe(app->catalog, lh_vectors_dataset_changed, app->vectors);
    if (rc == LH_OK) lh_catalog_keep(app->catalog, lh_app_drafts_keep, app);
    if (rc == LH_OK && sodium_init() < 0) rc = lh_err_set(err, LH_EINTERNAL, "libsodium failed to initialise");
    if (rc == LH_OK) rc = lh_app_profiles_load(app, err);
    if (rc == LH_OK) rc = lh_app_views_load(app, err);
    if (rc == LH_OK) rc = lh_app_objects_load(app, &app->workspaces, err);
    free(wal_dir);
    free(cache_dir);
    free(spill_dir);
    if (rc) {
        lh_app_close(app);
        return rc;
    }
    *out = app;
    return LH_OK;
}

void lh_app_close(lh_app *app)
{
    if (!app) return;
    if (app->catalog) lh_catalog_observe(app->catalog, NULL, NULL);
    if (app->catalog) lh_catalog_keep(app->catalog, NULL, NULL);
    lh_vectors_close(app->vectors);
    if (app->ai_ready) lh_app_ai_close(app);
    lh_ingester_free(app->ingester);
    lh_query_engine_close(app->ingest_engine);
    lh_query_engine_close(atomic_load(&app->query));
    pthread_mutex_destroy(&app->query_mu);
    if (app->sql_spill) remove_flat_dir(app->sql_spill); /* DuckDB removed its files; the folders go too */
    if (app->ingest_spill) remove_flat_dir(app->ingest_spill);
    free(app->sql_spill);
    free(app->ingest_spill);
    lh_dataset_tables_free(app->tables);
    lh_catalog_close(app->catalog);
    lh_journal_close(app->journal);
    if (app->buckets) lh_buckets_observe(app->buckets, NULL, NULL);
    lh_errors_close(app->errors);
    lh_buckets_close(app->buckets);
    free(app->data_dir);
    free(app->tmp_dir);
    if (app->tmp_lock_fd >= 0) close(app->tmp_lock_fd);
    json_decref(app->health.body);
    free(app->health.text);
    pthread_mutex_destroy(&app->health.mu);
    lh_app_profiles_free(app);
    lh_app_auth_free(app);
    pthread_mutex_destroy(&app->profiles.mu);
    pthread_mutex_destroy(&app->profiles.write_mu);
    lh_app_objects_free(&app->views);
    lh_app_objects_free(&app->workspaces);
    lh_app_objects_free(&app->drafts);
    lh_app_history_free(app);
    pthread_mutex_destroy(&app->playbook_cache.mu);
    json_decref(app->playbook_cache.live);
    free(app);
}

/* Settings as {key: value} (secrets masked), from the same dump as `config show`. */
static json_t *config_snapshot(const lh_config *cfg)
{
    lh_buf text = {0};
    lh_config_dump(cfg, true, &text);
    json_t *full = json_loads(text.data, 0, NULL);
    lh_buf_free(&text);
    json_t *snap = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(full, key, v) {
        if (strcmp(key, "log.level") != 0) json_object_set(snap, key, json_object_get(v, "value"));
    }
    json_decref(full);
    return snap;
}

/* The bucket names mentioned by a snapshot ("bucket.NAME.backend" keys). */
static json_t *bucket_names(json_t *snap)
{
    json_t *names = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(snap, key, v) {
        size_t n = strlen(key);
        if (strncmp(key, "bucket.", 7) == 0 && n > 15 && strcmp(key + n - 8, ".backend") == 0) {
            char *name = lh_xstrndup(key + 7, n - 15);
            json_object_set(names, name, v);
            free(name);
        }
    }
    return names;
}

void lh_app_record_config(lh_app *app, const lh_config *cfg, const lh_who *who)
{
    json_t *now = config_snapshot(cfg), *events = NULL, *before = NULL;
    lh_err err;
    if (lh_journal_recent(app->journal, "lakehouse.config", 1, &events, &err) == LH_OK &&
        json_array_size(events))
        before = json_object_get(json_array_get(events, 0), "new");
    if (!before || !json_equal(before, now)) {
        lh_journal_event ev = {.entity_type = "config", .entity_id = "lakehouse.config",
                               .action = before ? "change" : "initial", .old_value = before,
                               .new_value = now, .actor = who->actor, .source = who->source};
        lh_journal_record(app->journal, &ev);
        json_t *was = before ? bucket_names(before) : json_object(), *is = bucket_names(now);
        const char *name;
        json_t *backend;
        json_object_foreach(is, name, backend) {
            json_t *old_backend = json_object_get(was, name);
            if (old_backend && json_equal(old_backend, backend)) continue;
            lh_journal_event b = {.entity_type = "bucket", .entity_id = name,
                                  .action = old_backend ? "change" : "add", .old_value = old_backend,
                                  .new_value = backend, .actor = who->actor, .source = who->source};
            lh_journal_record(app->journal, &b);
        }
        json_object_foreach(was, name, backend) {
            if (json_object_get(is, name)) continue;
            lh_journal_event b = {.entity_type = "bucket", .entity_id = name, .action = "remove",
                                  .old_value = backend, .actor = who->actor, .source = who->source};
            lh_journal_record(app->journal, &b);
        }
        json_decref(was);
        json_decref(is);
    }
    json_decref(events);
    json_decref(now);
}

lh_query_engine *lh_app_sql_engine(lh_app *app, lh_err *err)
{
    lh_query_engine *e = atomic_load_explicit(&app->query, memory_order_acquire);
    if (e) return e;
    pthread_mutex_lock(&app->query_mu);
    e = atomic_load_explicit(&app->query, memory_order_relaxed);
    if (!e) {
        lh_code rc = lh_query_engine_open(&app->sql_options, &e, err);
        if (rc == LH_OK && (rc = lh_vectors_register_sql(app->vectors, e, err)) != LH_OK) {
            lh_query_engine_close(e);
            e = NULL;
        }
        if (e) atomic_store_explicit(&app->query, e, memory_order_release);
    }
    pthread_mutex_unlock(&app->query_mu);
    return e;
}

lh_ingester *lh_app_ingester(lh_app *app)
{
    return app->ingester;
}

lh_vectors *lh_app_vectors(lh_app *app)
{
    return app->vectors;
}

lh_catalog *lh_app_catalog(lh_app *app)
{
    return app->catalog;
}

lh_buckets *lh_app_buckets(lh_app *app)
{
    return app->buckets;
}

lh_journal *lh_app_journal(lh_app *app)
{
    return app->journal;
}

lh_errors *lh_app_errors(lh_app *app)
{
    return app->errors;
}

const char *lh_app_tmp_dir(lh_app *app)
{
    return app->tmp_dir;
}

long long lh_app_max_upload_bytes(lh_app *app)
{
    return app->max_upload_bytes;
}
