/*
 * internal.h — the application's state, shared by the files of src/app/.
 */
#ifndef LH_APP_INTERNAL_H
#define LH_APP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "lakehouse/lh_ai.h"
#include "lakehouse/lh_app.h"
#include "lakehouse/lh_profile.h"

/* A profile's version as the registry holds it (profiles.c): immutable once made. */
struct lh_profile {
    char *id;
    json_t *doc; /* the manifest, key hashes included */
    int64_t version;
    unsigned scopes;
    bool deleted;
};

/* Named, versioned JSON objects in the default bucket (objects.c). */
typedef struct lh_app_objects {
    const char *kind;   /* the journal's entity type: "view", "workspace" */
    const char *prefix; /* "_catalog/views" */
    pthread_mutex_t mu, write_mu;
    json_t *byname; /* name -> newest version */
} lh_app_objects;

struct lh_app {
    char *data_dir;
    char replica[16];
    long long query_timeout_ms;
    long long query_max_rows;
    long long query_max_timeout_ms;
    long long query_max_result_bytes;
    lh_buckets *buckets;
    lh_errors *errors;
    lh_journal *journal;
    lh_catalog *catalog;
    lh_dataset_tables *tables;
    /* sandboxed, read-only SQL over datasets: opened on first use
     * (lh_app_sql_engine), from sql_options */
    _Atomic(lh_query_engine *) query;
    pthread_mutex_t query_mu;
    lh_query_options sql_options;
    char sql_memory[32];
    char *sql_spill;                /* DuckDB's spill folders: _spill/sql-<pid>, _spill/ingest-<pid> */
    char *ingest_spill;
    lh_query_engine *ingest_engine; /* unsandboxed: reads input files */
    lh_ingester *ingester;
    lh_vectors *vectors;
    char *tmp_dir;
    int tmp_lock_fd; /* shared flock on <tmp_dir>/.live while this process runs (see tmp_sweep) */
    long long max_upload_bytes;
    time_t started_at;
    /* /health's last probe (system_ops.c): served while fresh, refreshed by one caller */
    struct lh_app_health_cache {
        pthread_mutex_t mu;
        json_t *body; /* NULL before the first probe */
        char *text;   /* body rendered, with uptime_s = text_uptime */
        long long text_uptime;
        bool ready, refreshing;
        struct timespec at;
        size_t corrupt; /* lh_catalog_corrupt_count at the probe */
    } health;
    /* embedding and chat providers (ai.c) */
    pthread_mutex_t ai_mu;
    char *ai_provider, *ai_url, *ai_model, *ai_api_key, *sidecar_node, *sidecar_script;
    long long ai_timeout_ms;
    int ai_retries, sidecar_port;
    size_t ai_batch_size;
    struct lh_app_ai {
        char *key; /* provider "\n" model */
        lh_ai *ai;
    } *ais;
    size_t n_ais;
    lh_ai *chat;
    lh_sidecar *sidecar;
    bool ai_ready;
    /* profiles (profiles.c): the newest snapshot of each, and replaced ones kept until close */
    struct lh_app_profiles {
        pthread_mutex_t mu, write_mu;
        lh_profile **items, **old;
        size_t n, n_old;
    } profiles;
    lh_app_objects views;      /* views.c */
    lh_app_objects workspaces; /* workspaces.c */
    lh_app_objects drafts;     /* drafts.c */
    /* statements callers ran (history.c) */
    struct lh_app_history {
        pthread_mutex_t mu;
        struct lh_app_history_slot {
            char owner[LH_PROFILE_ID_MAX + 1];
            char *sql;
            int64_t at_ms;
        } *slots; /* LH_SQL_HISTORY_SLOTS, a ring */
        size_t next;
    } history;
    /* playbooks.c: the live playbook versions as read at one version of _playbooks */
    struct lh_app_playbook_cache {
        pthread_mutex_t mu;
        int64_t version; /* 0: not read */
        json_t *live;    /* [{playbook_id, version, index_name, context, workers, ...}] */
    } playbook_cache;
    /* authentication (auth.c) */
    struct lh_app_auth {
        pthread_mutex_t mu;
        struct lh_app_auth_slot {
            uint8_t digest[32]; /* SHA-256 of a verified key */
            char key_id[LH_KEY_ID_HEX + 1];
            int64_t last_used_ms;
            bool used;
        } *slots; /* LH_AUTH_CACHE_SLOTS */
        struct lh_app_auth_fail {
            char addr[64]; /* "<address>" or "<address>|<key id>" */
            int64_t window_ms;
            int count;
            bool noted;
        } *fails;
        bool required; /* auth.required, or serving beyond loopback */
        int64_t rechecked_ms; /* the last re-read of a cached key's profile */
        int64_t scanned_ms;   /* the last look for keys made elsewhere (while none is known) */
    } auth;
};

/* history.c: sql.history's ring. */
void lh_app_history_init(lh_app *app);
void lh_app_history_free(lh_app *app);
void lh_app_history_note(lh_app *app, const lh_who *who, const char *sql);

/* profiles.c */
lh_code lh_app_profiles_load(lh_app *app, lh_err *err);
void lh_app_profiles_free(lh_app *app);
const lh_profile *lh_app_profile_find(lh_app *app, const char *id);
bool lh_app_keys_exist(lh_app *app); /* a live key of a live profile */
/* The profile holding key_id (read from storage when another process made it); *key: its record. */
lh_code lh_app_profile_of_key(lh_app *app, const char *key_id, const lh_profile **p, json_t **key, lh_err *err);
void lh_app_profile_recheck(lh_app *app, const char *id); /* re-reads it from storage */
/* objects.c */
void lh_app_objects_init(lh_app_objects *o, const char *kind, const char *prefix);
void lh_app_objects_free(lh_app_objects *o);
lh_code lh_app_objects_load(lh_app *app, lh_app_objects *o, lh_err *err);  /* every name in storage */
lh_code lh_app_objects_refresh(lh_app *app, lh_app_objects *o, const char *name, lh_err *err);
json_t *lh_app_objects_get(lh_app_objects *o, const char *name); /* the live object or NULL, a new reference */
json_t *lh_app_objects_list(lh_app_objects *o);                  /* the live ones by name, new */
/* Fills next (a copy of the live version, or {} for a new or deleted name)
 * from live; an error refuses the change. */
typedef lh_code (*lh_app_object_change)(lh_app *app, const json_t *live, json_t *next, void *ctx, lh_err *err);
/* Commits the next version of `name`, journaled as action; *out: it (new). */
lh_code lh_app_objects_commit(lh_app *app, lh_app_objects *o, const char *name, const char *action,
                              lh_app_object_change change, void *ctx, const lh_who *who, json_t **out, lh_err *err);
/* views.c */
lh_code lh_app_views_load(lh_app *app, lh_err *err);
json_t *lh_app_view_get(lh_app *app, const char *name); /* live view or NULL, a new reference */
/* LH_EEXIST when name is a view's (datasets and views share SQL's table names). */
lh_code lh_app_name_not_a_view(lh_app *app, const char *name, lh_err *err);
/* The SELECT that is view's table (schema_only: its columns over no rows). */
lh_code lh_app_view_sql(lh_app *app, const json_t *view, bool schema_only, lh_buf *sql, lh_err *err);
/* auth.c */
void lh_app_auth_init(lh_app *app, bool required);
void lh_app_auth_free(lh_app *app);
void lh_app_auth_forget(lh_app *app, const char *key_id); /* drops a key's cached verification */
int64_t lh_app_key_last_used(lh_app *app, const char *key_id); /* ms, 0: not since start */
/* The profile whose bindings the SQL resolver, lister and vector_search apply on
 * this thread (NULL: none); returns the previous one, to restore. */
const lh_profile *lh_app_scope_swap(const lh_profile *p);
lh_code lh_app_scoped_resolve(void *ctx, const char *name, bool schema_only, lh_buf *sql, lh_err *err);
lh_code lh_app_scoped_list(void *ctx, json_t **tables, lh_err *err);
bool lh_app_index_allowed(void *ctx, const char *index);
/* Listings as who may see them (items stolen, a new reference returned). */
json_t *lh_app_visible(const lh_who *who, json_t *items, const char *field, lh_bind_kind kind);
json_t *lh_app_visible_events(const lh_who *who, json_t *events);
json_t *lh_app_visible_errors(const lh_who *who, json_t *errors);

/* drafts.c: the purge keeper (an lh_catalog_purge_keeper; ctx: the app): open drafts' files. */
lh_code lh_app_drafts_keep(void *ctx, json_t *keep, lh_err *err);

/* system_ops.c: runs one statement of the app's own (never a caller's text)
 * on the SQL engine under the calling thread's scope, deadline
 * query.timeout_ms; *rows: [{column: value}] (a new reference), at most
 * max_rows of them (*truncated: there were more). read_only: also the
 * sandbox's statement checks (file-reading functions refused). */
lh_code lh_app_query_rows(lh_app *app, const char *sql, bool read_only, long long max_rows, json_t **rows,
                          bool *truncated, lh_err *err);

/* catalog_ops.c: how the schema of manifest `to` differs from `from`'s
 * ({schema:{fields}} suffices): {added:[{name,type}], removed:[...], changed:[{name, from, to}]}, new. */
json_t *lh_app_schema_diff(const json_t *from, const json_t *to);

/* ai.c: providers by name (an lh_vectors_ai_fn; ctx: the app). */
void lh_app_ai_init(lh_app *app, const lh_config *cfg);
void lh_app_ai_close(lh_app *app);
lh_ai *lh_app_ai(void *ctx, const char *provider, const char *model, lh_err *err);
json_t *lh_app_sidecar_status(lh_app *app); /* NULL when not started */

/* The run functions of the operation table (ops.c), one file per family. */
/* Temp files under <data>/_tmp older than this are stale even while other
 * processes share the data folder (the start-up sweep removes them). */
#define LH_TMP_STALE_S 3600

#define LH_OP_RUN(fn) lh_code fn(lh_app *app, json_t *args, const lh_op_ctx *call, json_t **out, lh_err *err)
/* system_ops.c */
LH_OP_RUN(lh_app_run_version);
LH_OP_RUN(lh_app_run_buckets);
LH_OP_RUN(lh_app_run_objects);
LH_OP_RUN(lh_app_run_object_delete);
LH_OP_RUN(lh_app_run_errors);
LH_OP_RUN(lh_app_run_errors_flush);
LH_OP_RUN(lh_app_run_journal_recent);
LH_OP_RUN(lh_app_run_journal_history);
LH_OP_RUN(lh_app_run_journal_stats);
LH_OP_RUN(lh_app_run_journal_flush);
LH_OP_RUN(lh_app_run_sql);
/* catalog_ops.c */
LH_OP_RUN(lh_app_run_catalog_list);
LH_OP_RUN(lh_app_run_catalog_create);
LH_OP_RUN(lh_app_run_catalog_show);
LH_OP_RUN(lh_app_run_catalog_versions);
LH_OP_RUN(lh_app_run_catalog_commit);
LH_OP_RUN(lh_app_run_catalog_rollback);
LH_OP_RUN(lh_app_run_catalog_tombstones);
LH_OP_RUN(lh_app_run_catalog_tombstone);
LH_OP_RUN(lh_app_run_catalog_delete);
LH_OP_RUN(lh_app_run_catalog_purge);
LH_OP_RUN(lh_app_run_catalog_rebuild);
LH_OP_RUN(lh_app_run_catalog_diff);
LH_OP_RUN(lh_app_run_catalog_facets);
LH_OP_RUN(lh_app_run_sql_history);
LH_OP_RUN(lh_app_run_trials_run);
LH_OP_RUN(lh_app_run_trials_list);
LH_OP_RUN(lh_app_run_index_autotune);
LH_OP_RUN(lh_app_run_index_watch);
/* trials.c: after a promotion of index, the watch (if it has trials); a
 * regression rolls back and answers LH_ECONFLICT; else the watch's figures
 * join the promotion record. */
lh_code lh_app_trials_after_promotion(lh_app *app, const char *index, const lh_who *who, json_t *promotion, lh_err *err);
/* memory.c: the rows of the system datasets (_trials, _playbooks, _pathways; lh_memory.h, lh_trials.h). */
void lh_app_memory_lock(void); /* held across a change's read and its append */
void lh_app_memory_unlock(void);
/* Runs the app's own sql over dataset (an empty array while it does not exist), not under the caller's bindings. */
lh_code lh_app_system_query(lh_app *app, const char *dataset, const char *sql, long long max, json_t **rows, lh_err *err);
/* Appends rows (each given seq = the dataset's highest + 1, ...) as one new version of dataset. */
lh_code lh_app_system_append(lh_app *app, const char *dataset, json_t *rows, const char *message, const lh_who *who,
                             lh_err *err);
char *lh_app_sql_literal(const char *s); /* an SQL string literal, malloc'd */
char *lh_app_hex_id(void);           /* 16 random hex digits, malloc'd */
/* playbooks.c */
LH_OP_RUN(lh_app_run_playbook_record);
LH_OP_RUN(lh_app_run_playbook_list);
LH_OP_RUN(lh_app_run_playbook_show);
LH_OP_RUN(lh_app_run_playbook_retire);
extern const char *const lh_op_choices_playbook_outcome[];
/* The playbook boost of a search's result (hits re-scored, injected, re-ranked, cut to k; a
 * "playbooks" member saying by which playbooks), for the search of query on index. */
lh_code lh_app_playbooks_boost(lh_app *app, const char *index, const char *query, const char *context, const char *filter,
                               size_t k, bool with_rows, json_t *result, lh_err *err);
/* pathways.c */
LH_OP_RUN(lh_app_run_pathway_add);
LH_OP_RUN(lh_app_run_pathway_revise);
LH_OP_RUN(lh_app_run_pathway_retire);
LH_OP_RUN(lh_app_run_pathway_history);
LH_OP_RUN(lh_app_run_pathway_list);
LH_OP_RUN(lh_app_run_pathway_search);
/* ai.c */
LH_OP_RUN(lh_app_run_ai_embed);
/* drafts.c */
LH_OP_RUN(lh_app_run_drafts_create);
LH_OP_RUN(lh_app_run_drafts_list);
LH_OP_RUN(lh_app_run_drafts_validate);
LH_OP_RUN(lh_app_run_drafts_publish);
LH_OP_RUN(lh_app_run_drafts_discard);
/* index_ops.c */
LH_OP_RUN(lh_app_run_index_list);
LH_OP_RUN(lh_app_run_index_create);
LH_OP_RUN(lh_app_run_index_show);
LH_OP_RUN(lh_app_run_index_history);
LH_OP_RUN(lh_app_run_index_search);
LH_OP_RUN(lh_app_run_index_add);
LH_OP_RUN(lh_app_run_index_remove);
LH_OP_RUN(lh_app_run_index_rebuild);
LH_OP_RUN(lh_app_run_index_promote);
LH_OP_RUN(lh_app_run_index_rollback);
LH_OP_RUN(lh_app_run_index_refresh);
LH_OP_RUN(lh_app_run_index_stale);
LH_OP_RUN(lh_app_run_search);
LH_OP_RUN(lh_app_run_ask);
/* profiles.c */
LH_OP_RUN(lh_app_run_profiles_create);
LH_OP_RUN(lh_app_run_profiles_list);
LH_OP_RUN(lh_app_run_profiles_get);
LH_OP_RUN(lh_app_run_profiles_update);
LH_OP_RUN(lh_app_run_profiles_delete);
LH_OP_RUN(lh_app_run_profiles_me);
LH_OP_RUN(lh_app_run_profiles_search);
LH_OP_RUN(lh_app_run_keys_create);
LH_OP_RUN(lh_app_run_keys_list);
LH_OP_RUN(lh_app_run_keys_revoke);
/* views.c */
LH_OP_RUN(lh_app_run_views_create);
LH_OP_RUN(lh_app_run_views_list);
LH_OP_RUN(lh_app_run_views_get);
LH_OP_RUN(lh_app_run_views_update);
LH_OP_RUN(lh_app_run_views_delete);
LH_OP_RUN(lh_app_run_views_suggest);
/* workspaces.c */
LH_OP_RUN(lh_app_run_workspaces_create);
LH_OP_RUN(lh_app_run_workspaces_list);
LH_OP_RUN(lh_app_run_workspaces_get);
LH_OP_RUN(lh_app_run_workspaces_add);
LH_OP_RUN(lh_app_run_workspaces_remove);
LH_OP_RUN(lh_app_run_workspaces_activity);
LH_OP_RUN(lh_app_run_workspaces_handoff);


/* The buckets' failure observer: records the failure in the error journal and
 * makes the next /health probe again (system_ops.c). */
void lh_app_store_failed(void *app, const char *op, const char *bucket, const char *key, const lh_err *err);

#endif
