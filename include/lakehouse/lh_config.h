/*
 * lh_config.h — settings from defaults, lakehouse.toml, LAKEHOUSE_* and flags.
 *
 * Precedence, lowest to highest: built-in defaults < config file <
 * environment < command-line flags. Every key is "section.name"; its
 * environment variable is LAKEHOUSE_<SECTION>_<NAME> in upper case
 * (server.listen -> LAKEHOUSE_SERVER_LISTEN).
 *
 * The file is a documented flat subset of TOML:
 *
 *     # comment
 *     [server]
 *     listen = "127.0.0.1:3100"      # strings: "basic\n" or 'literal'
 *     max_body_bytes = "16MiB"       # sizes: integer bytes or a string with a unit
 *     idle_timeout_s = 30            # integers; floats; true / false
 *
 * Which file: --config FILE, else $LAKEHOUSE_CONFIG, else ./lakehouse.toml if
 * it exists. An unknown section or key, a duplicate key, a value of the wrong
 * type or out of range is an error naming the file, line and key — never a
 * silent default. The same checks apply to environment variables and flags.
 */
#ifndef LH_CONFIG_H
#define LH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "lakehouse/lh_buf.h"
#include "lakehouse/lh_err.h"

typedef enum lh_config_source {
    LH_CONFIG_DEFAULT,
    LH_CONFIG_FILE,
    LH_CONFIG_ENV,
    LH_CONFIG_FLAG
} lh_config_source;

#define LH_CONFIG_MAX_KEYS 96

/* One [bucket.NAME] section: a named bucket and its backend. Buckets are set
 * in the file or with --set bucket.NAME.KEY=VALUE (no environment variables;
 * S3 credentials also come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY). */
typedef struct lh_bucket_config {
    char *name;
    char *backend;             /* fs | s3 */
    char *path;                /* fs: the folder ("" = <storage.data_dir>/<name>) */
    char *endpoint;            /* s3: "http://127.0.0.1:9000" */
    char *region;              /* s3 */
    char *bucket;              /* s3: the bucket on the server ("" = this bucket's name) */
    char *prefix_in_bucket;    /* s3: key prefix inside it */
    long long path_style;      /* s3: bool */
    char *access_key_id;       /* s3 ("" = $AWS_ACCESS_KEY_ID) */
    char *secret_access_key;   /* s3 ("" = $AWS_SECRET_ACCESS_KEY) */
    long long multipart_threshold;
    long long part_size;
    long long timeout_ms;
    long long retries;
    lh_config_source source[16];
    char prefix[48]; /* "bucket.NAME." for messages */
} lh_bucket_config;

typedef struct lh_config {
    /* [server] */
    char *server_listen;                /* "HOST:PORT" */
    long long server_max_body_bytes;    /* request bodies above this get 413 */
    long long server_idle_timeout_s;    /* close connections idle this long */
    long long server_max_connections;   /* concurrent connections, all clients */
    long long server_max_connections_per_ip;
    long long server_header_timeout_s;  /* headers due this long after a connection opens */
    long long server_min_body_rate;     /* bytes/s a body must average after that */
    long long server_event_threads;     /* epoll threads */
    long long server_worker_threads;    /* handler threads */
    long long server_cpu_slots;         /* handlers computing at once (0: cores) */
    long long server_shutdown_timeout_s; /* how long SIGTERM waits for in-flight requests */
    /* [auth] */
    long long auth_required;            /* bool: a key on every request, even on loopback */
    /* [storage] */
    char *storage_data_dir;             /* local state, and the implicit "local" bucket */
    char *storage_default_bucket;       /* "" = the first [bucket.*], else "local" */
    char *storage_rescue_bucket;        /* "" = none */
    long long storage_rescue_mirror;    /* bool: also write objects to the rescue bucket */
    /* [ingest] */
    long long ingest_max_upload_bytes;  /* POST /v1/ingest body limit */
    long long ingest_concurrency;       /* conversions running at once */
    long long ingest_chunk_chars;       /* documents: chunk size in characters */
    long long ingest_chunk_overlap;     /* documents: characters repeated between chunks */
    long long ingest_max_line_bytes;    /* CSV: the longest line or quoted value */
    /* [vectors] */
    long long vectors_build_threads;    /* 0 = one per core */
    /* [journal] */
    long long journal_flush_ms;         /* flush buffered events at least this often */
    long long journal_flush_events;     /* ... or when this many are buffered */
    /* [log] */
    char *log_level;                    /* debug | info | warn | error */
    char *log_format;                   /* text | json */
    /* [query] */
    long long query_threads;            /* DuckDB worker threads; 0 = one per core */
    char *query_memory_limit;           /* DuckDB memory_limit ("" = a share of RAM) */
    long long query_max_temp_size;      /* DuckDB max_temp_directory_size, bytes */
    long long query_max_result_bytes;   /* largest rendered result */
    long long query_max_string_length;  /* longest repeat/lpad/rpad result, characters */
    long long query_max_timeout_ms;     /* server-side cap on timeout_ms */
    long long query_connections;        /* pooled DuckDB connections (concurrent queries) */
    long long query_max_per_client;     /* connections one client may hold; 0 = half of them */
    long long query_short_timeout_ms;   /* deadlines this short may use the reserved connection */
    long long query_timeout_ms;         /* default per-query deadline */
    long long query_max_rows;           /* default cap on rows returned as JSON */
    /* [mcp] */
    long long mcp_max_rows;             /* rows of a query_sql result */
    long long mcp_max_chars;            /* characters of a tool result */
    long long mcp_timeout_ms;           /* deadline of a query_sql */
    long long mcp_max_message_bytes;    /* one JSON-RPC message */
    char *mcp_allowed_origins;          /* browser origins allowed, comma-separated */
    /* [ai] */
    char *ai_provider;                  /* local | hash | ollama | openai */
    char *ai_url;                       /* "" = the provider's default */
    char *ai_model;                     /* "" = the provider's default */
    char *ai_api_key;                   /* openai: Bearer token (a secret) */
    char *ai_chat_provider;             /* none | ollama | openai */
    char *ai_chat_url;                  /* "" = the chat provider's default */
    char *ai_chat_model;
    long long ai_timeout_ms;            /* per request to a provider */
    long long ai_retries;               /* further attempts after a transient failure */
    long long ai_batch_size;            /* texts per embedding request */
    char *ai_sidecar_node;              /* the node executable for the local sidecar */
    char *ai_sidecar_script;            /* "" = found next to the binary */
    long long ai_sidecar_port;          /* 0 = any free loopback port */

    /* [bucket.NAME] sections, in the order they were first mentioned */
    lh_bucket_config *buckets;
    size_t n_buckets;

    /* Where each value came from, indexed like lh_config_keys(). */
    lh_config_source source[LH_CONFIG_MAX_KEYS];
    char *file; /* the file that was read, or NULL */
} lh_config;

/* One flag-level override, e.g. {"server.listen", "0.0.0.0:8080", "--listen"}. */
typedef struct lh_config_override {
    const char *key;
    const char *value;
    const char *origin; /* how the user spelled it, for error messages */
} lh_config_override;

/* Describes a key: for --help, `lakehouse config`, and the README. */
typedef struct lh_config_key_info {
    const char *key;           /* "server.listen" */
    const char *type;          /* "string" | "integer" | "size" | "enum" */
    const char *default_value; /* as text */
    const char *help;
} lh_config_key_info;

/* All keys in a fixed order; *count receives their number. */
const lh_config_key_info *lh_config_keys(size_t *count);
/* The keys of a [bucket.NAME] section ("backend", "endpoint", ...). */
const lh_config_key_info *lh_config_bucket_keys(size_t *count);

void lh_config_init_defaults(lh_config *c);
void lh_config_free(lh_config *c);

/* The full precedence chain. file may be NULL (then $LAKEHOUSE_CONFIG or
 * ./lakehouse.toml if present); env is a NULL-terminated "NAME=value" array
 * (normally environ); overrides are applied last. */
lh_code lh_config_load(lh_config *c, const char *file, char *const *env,
                       const lh_config_override *overrides, size_t n_overrides, lh_err *err);

/* Single steps, exposed for tests and tools. */
lh_code lh_config_load_file(lh_config *c, const char *path, lh_err *err);
lh_code lh_config_parse_text(lh_config *c, const char *name, const char *text, size_t len,
                             lh_err *err);
lh_code lh_config_load_env(lh_config *c, char *const *env, lh_err *err);
lh_code lh_config_set(lh_config *c, const char *key, const char *value, lh_config_source src,
                      const char *origin, lh_err *err);

/* The effective configuration: TOML (with the source of each value as a
 * comment) or a JSON object {key: {value, source}}. */
void lh_config_dump(const lh_config *c, bool json, lh_buf *out);

/* "10MiB" -> 10485760; plain integers are bytes. False on junk or overflow. */
bool lh_parse_size(const char *s, long long *out);

/* Splits "HOST:PORT" ("[::1]:80" for IPv6); host is copied into host[hostlen]. */
bool lh_parse_listen(const char *s, char *host, size_t hostlen, int *port);

#endif
