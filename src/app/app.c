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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

lh_code lh_app_open(const lh_config *cfg, lh_app **out, lh_err *err)
{
    lh_app *app = lh_xcalloc(1, sizeof *app);
    app->data_dir = lh_xstrdup(cfg->storage_data_dir);
    app->query_timeout_ms = cfg->query_timeout_ms;
    app->query_max_rows = cfg->query_max_rows;
    app->started_at = time(NULL);
    pthread_mutex_init(&app->health.mu, NULL);
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
    lh_code rc = lh_buckets_open(cfg, &app->buckets, err);
    if (rc == LH_OK) rc = lh_errors_open(lh_buckets_default(app->buckets), &jo, &app->errors, err);
    if (rc == LH_OK) {
        lh_buckets_observe(app->buckets, lh_app_store_failed, app);
        rc = lh_journal_open(lh_buckets_default(app->buckets), &jo, &app->journal, err);
    }
    if (rc == LH_OK) rc = lh_catalog_open(app->buckets, app->journal, &app->catalog, err);
    if (rc == LH_OK) rc = lh_dataset_tables_new(app->catalog, app->buckets, cache_dir, &app->tables, err);
    if (rc == LH_OK) {
        const char *const *dirs;
        size_t n_dirs = lh_dataset_tables_dirs(app->tables, &dirs);
        lh_query_options qo = {.threads = (int)cfg->query_threads,
                               .memory_limit = cfg->query_memory_limit,
                               .connections = (int)cfg->query_connections,
                               .allowed_dirs = dirs,
                               .n_allowed_dirs = n_dirs,
                               .resolver = lh_dataset_tables_resolve,
                               .lister = lh_dataset_tables_list,
                               .resolver_ctx = app->tables,
                               .init_sql = LH_DATASET_TABLES_INIT_SQL};
        rc = lh_query_engine_open(&qo, &app->query, err);
    }
    if (rc == LH_OK) {
        lh_query_options io = {.threads = (int)cfg->query_threads,
                               .memory_limit = cfg->query_memory_limit,
                               .connections = (int)cfg->ingest_concurrency};
        rc = lh_query_engine_open(&io, &app->ingest_engine, err);
    }
    if (rc == LH_OK) {
        lh_ingester_config ic = {.engine = app->ingest_engine,
                                 .catalog = app->catalog,
                                 .buckets = app->buckets,
                                 .errors = app->errors,
                                 .tmp_dir = app->tmp_dir,
                                 .chunk_chars = (size_t)cfg->ingest_chunk_chars,
                                 .chunk_overlap = (size_t)cfg->ingest_chunk_overlap};
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
                                .sandbox = app->query,
                                .errors = app->errors};
        rc = lh_vectors_open(&vc, &app->vectors, err);
    }
    if (rc == LH_OK) rc = lh_vectors_register_sql(app->vectors, app->query, err);
    if (rc == LH_OK) lh_catalog_observe(app->catalog, lh_vectors_dataset_changed, app->vectors);
    free(wal_dir);
    free(cache_dir);
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
    lh_vectors_close(app->vectors);
    if (app->ai_ready) lh_app_ai_close(app);
    lh_ingester_free(app->ingester);
    lh_query_engine_close(app->ingest_engine);
    lh_query_engine_close(app->query);
    lh_dataset_tables_free(app->tables);
    lh_catalog_close(app->catalog);
    lh_journal_close(app->journal);
    if (app->buckets) lh_buckets_observe(app->buckets, NULL, NULL);
    lh_errors_close(app->errors);
    lh_buckets_close(app->buckets);
    free(app->data_dir);
    free(app->tmp_dir);
    json_decref(app->health.body);
    free(app->health.text);
    pthread_mutex_destroy(&app->health.mu);
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

lh_query_engine *lh_app_query_engine(lh_app *app)
{
    return app->query;
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
