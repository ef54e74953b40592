/*
 * config.c — the key table, the TOML-subset parser, and the precedence chain.
 *
 * Every setting is one row in `keys` below: its name, type, where it lives in
 * struct lh_config, its default and its limits. Adding a setting means adding a
 * field and a row; parsing, environment names, validation and `config show`
 * follow from the table.
 */
#include "lakehouse/lh_config.h"
#include "lakehouse/lh_log.h"
#include "lakehouse/lh_mem.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum { T_STR, T_INT, T_SIZE, T_ENUM, T_BOOL } key_type;

struct key {
    lh_config_key_info info;
    key_type type;
    size_t offset;
    long long min, max;             /* T_INT / T_SIZE */
    const char *const *choices;     /* T_ENUM, NULL-terminated */
    bool (*check)(const char *s);   /* T_STR extra validation */
    const char *check_hint;
};

static const char *const backends[] = {"fs", "s3", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const log_formats[] = {"text", "json", NULL};
static const char *const ai_providers[] = {"local", "local-node", "hash", "ollama", "openai", NULL};
static const char *const ai_chat_providers[] = {"none", "ollama", "openai", NULL};

static bool check_listen(const char *s)
{
    char host[256];
    int port;
    return lh_parse_listen(s, host, sizeof host, &port);
}

static bool check_nonempty(const char *s)
{
    return s[0] != '\0';
}

#define OFF(field) offsetof(lh_config, field)
#define GIB (1024LL * 1024 * 1024)

static const struct key keys[] = {
    {{"server.listen", "string", "127.0.0.1:3100", "address to listen on, HOST:PORT"},
     T_STR, OFF(server_listen), 0, 0, NULL, check_listen, "HOST:PORT with a port in 0..65535 (0 = any free port)"},
    {{"auth.required", "bool", "false",
      "every HTTP request needs an API key, even on loopback (always so beyond loopback)"},
     T_BOOL, OFF(auth_required), 0, 1, NULL, NULL, NULL},
    {{"server.max_body_bytes", "size", "16MiB", "largest accepted request body (413 above)"},
     T_SIZE, OFF(server_max_body_bytes), 1024, 64 * GIB, NULL, NULL, NULL},
    {{"server.idle_timeout_s", "integer", "30", "seconds before an idle connection is closed"},
     T_INT, OFF(server_idle_timeout_s), 1, 3600, NULL, NULL, NULL},
    {{"server.max_connections", "integer", "1024", "concurrent connections, all clients"},
     T_INT, OFF(server_max_connections), 1, 65535, NULL, NULL, NULL},
    {{"server.max_connections_per_ip", "integer", "64", "concurrent connections from one address"},
     T_INT, OFF(server_max_connections_per_ip), 1, 65535, NULL, NULL, NULL},
    {{"server.header_timeout_s", "integer", "10",
      "a request's headers must arrive within this many seconds of the connection opening"},
     T_INT, OFF(server_header_timeout_s), 1, 3600, NULL, NULL, NULL},
    {{"server.min_body_rate", "integer", "1024",
      "bytes per second a request body must average once header_timeout_s has passed"},
     T_INT, OFF(server_min_body_rate), 1, 1LL << 30, NULL, NULL, NULL},
    {{"server.event_threads", "integer", "2", "event-loop threads reading requests and writing responses"},
     T_INT, OFF(server_event_threads), 1, 64, NULL, NULL, NULL},
    {{"server.worker_threads", "integer", "16",
      "threads running handlers (queries, ingest, index builds): requests in progress at once"},
     T_INT, OFF(server_worker_threads), 1, 1024, NULL, NULL, NULL},
    {{"server.cpu_slots", "integer", "0",
      "handlers computing at once, the rest queued in order (0 = one per core, at least 2); "
      "a handler running over 10 ms stops counting"},
     T_INT, OFF(server_cpu_slots), 0, 1024, NULL, NULL, NULL},
    {{"server.shutdown_timeout_s", "integer", "30",
      "on SIGINT/SIGTERM, seconds to let in-flight requests finish"},
     T_INT, OFF(server_shutdown_timeout_s), 0, 3600, NULL, NULL, NULL},
    {{"storage.data_dir", "string", "./data", "folder of the default local object store"},
     T_STR, OFF(storage_data_dir), 0, 0, NULL, check_nonempty, "a non-empty path"},
    {{"storage.default_bucket", "string", "",
      "bucket for new datasets, journals and errors (\"\" = first [bucket.*], else \"local\")"},
     T_STR, OFF(storage_default_bucket), 0, 0, NULL, NULL, NULL},
    {{"storage.rescue_bucket", "string", "", "bucket that serves reads when the primary fails"},
     T_STR, OFF(storage_rescue_bucket), 0, 0, NULL, NULL, NULL},
    {{"storage.rescue_mirror", "bool", "false", "also write every object to the rescue bucket"},
     T_BOOL, OFF(storage_rescue_mirror), 0, 1, NULL, NULL, NULL},
    {{"ingest.max_upload_bytes", "size", "256MiB", "largest upload to POST /v1/ingest (413 above)"},
     T_SIZE, OFF(ingest_max_upload_bytes), 1024, 1LL << 40, NULL, NULL, NULL},
    {{"ingest.concurrency", "integer", "2", "ingest conversions running at once"},
     T_INT, OFF(ingest_concurrency), 1, 64, NULL, NULL, NULL},
    {{"ingest.chunk_chars", "integer", "1000", "documents: target chunk size in characters"},
     T_INT, OFF(ingest_chunk_chars), 100, 1000000, NULL, NULL, NULL},
    {{"ingest.chunk_overlap", "integer", "100", "documents: characters repeated between chunks"},
     T_INT, OFF(ingest_chunk_overlap), 0, 100000, NULL, NULL, NULL},
    {{"ingest.max_line_bytes", "size", "2MiB", "CSV: the longest line (or quoted value) a file may hold"},
     T_SIZE, OFF(ingest_max_line_bytes), 1024, 1LL << 30, NULL, NULL, NULL},
    {{"vectors.build_threads", "integer", "0", "threads building an index (0 = one per core)"},
     T_INT, OFF(vectors_build_threads), 0, 1024, NULL, NULL, NULL},
    {{"journal.flush_ms", "integer", "1000", "flush buffered journal events at least this often"},
     T_INT, OFF(journal_flush_ms), 10, 3600000, NULL, NULL, NULL},
    {{"journal.flush_events", "integer", "256", "... or as soon as this many are buffered"},
     T_INT, OFF(journal_flush_events), 1, 1000000, NULL, NULL, NULL},
    {{"log.level", "enum", "info", "debug | info | warn | error"},
     T_ENUM, OFF(log_level), 0, 0, log_levels, NULL, NULL},
    {{"log.format", "enum", "text", "text (key=value) | json (one object per line)"},
     T_ENUM, OFF(log_format), 0, 0, log_formats, NULL, NULL},
    {{"query.threads", "integer", "0", "DuckDB worker threads (0 = one per core)"},
     T_INT, OFF(query_threads), 0, 1024, NULL, NULL, NULL},
    {{"query.memory_limit", "string", "",
      "DuckDB memory_limit of the SQL engine, e.g. \"4GB\" (empty = 25% of RAM; ingest gets half)"},
     T_STR, OFF(query_memory_limit), 0, 0, NULL, NULL, NULL},
    {{"query.max_temp_size", "size", "4GiB", "DuckDB spill files per engine, under <data_dir>/_spill/"},
     T_SIZE, OFF(query_max_temp_size), 0, 1LL << 50, NULL, NULL, NULL},
    {{"query.max_result_bytes", "size", "64MiB", "largest JSON SQL result (413 above)"},
     T_SIZE, OFF(query_max_result_bytes), 1024, 1LL << 40, NULL, NULL, NULL},
    {{"query.max_string_length", "integer", "65536", "longest string (characters) repeat/lpad/rpad may make (400 above)"},
     T_INT, OFF(query_max_string_length), 1024, 1LL << 31, NULL, NULL, NULL},
    {{"query.max_timeout_ms", "integer", "300000", "server-side maximum of timeout_ms (larger values are capped)"},
     T_INT, OFF(query_max_timeout_ms), 1, 24LL * 3600 * 1000, NULL, NULL, NULL},
    {{"query.connections", "integer", "8", "pooled DuckDB connections (concurrent queries)"},
     T_INT, OFF(query_connections), 1, 1024, NULL, NULL, NULL},
    {{"query.max_per_client", "integer", "0",
      "connections one client (actor) may hold at once (0 = half of query.connections, at least 1)"},
     T_INT, OFF(query_max_per_client), 0, 1024, NULL, NULL, NULL},
    {{"query.short_timeout_ms", "integer", "5000",
      "statements with a timeout_ms this short may use the connection kept free (0 = none kept)"},
     T_INT, OFF(query_short_timeout_ms), 0, 24LL * 3600 * 1000, NULL, NULL, NULL},
    {{"query.timeout_ms", "integer", "30000", "default per-query deadline in milliseconds"},
     T_INT, OFF(query_timeout_ms), 1, 24LL * 3600 * 1000, NULL, NULL, NULL},
    {{"query.max_rows", "integer", "100000", "default cap on rows in a JSON result"},
     T_INT, OFF(query_max_rows), 1, 1000000000, NULL, NULL, NULL},
    {{"mcp.max_rows", "integer", "200", "rows of an MCP query_sql result (an agent may ask for fewer)"},
     T_INT, OFF(mcp_max_rows), 1, 1000000, NULL, NULL, NULL},
    {{"mcp.max_chars", "integer", "60000", "characters of an MCP tool result; longer ones are cut and say so"},
     T_INT, OFF(mcp_max_chars), 1000, 100000000, NULL, NULL, NULL},
    {{"mcp.timeout_ms", "integer", "30000", "deadline of an MCP query_sql (an agent may ask for less)"},
     T_INT, OFF(mcp_timeout_ms), 1, 24LL * 3600 * 1000, NULL, NULL, NULL},
    {{"mcp.max_message_bytes", "size", "4MiB", "largest JSON-RPC message an MCP client may send"},
     T_SIZE, OFF(mcp_max_message_bytes), 1024, 1LL << 30, NULL, NULL, NULL},
    {{"mcp.allowed_origins", "string", "",
      "browser origins allowed to call /mcp, comma-separated (\"\" = none but loopback ones)"},
     T_STR, OFF(mcp_allowed_origins), 0, 0, NULL, NULL, NULL},
    {{"ai.provider", "enum", "local", "local | local-node | hash | ollama | openai"},
     T_ENUM, OFF(ai_provider), 0, 0, ai_providers, NULL, NULL},
    {{"ai.url", "string", "",
      "embedding server URL (\"\" = ollama http://127.0.0.1:11434, openai https://api.openai.com, "
      "local-node the sidecar; local runs in process)"},
     T_STR, OFF(ai_url), 0, 0, NULL, NULL, NULL},
    {{"ai.model", "string", "", "embedding model (\"\" = the provider's: local use-lite, hash hash-256)"},
     T_STR, OFF(ai_model), 0, 0, NULL, NULL, NULL},
    {{"ai.api_key", "string", "", "openai: sent as a Bearer token"},
     T_STR, OFF(ai_api_key), 0, 0, NULL, NULL, NULL},
    {{"ai.chat_provider", "enum", "none", "none | ollama | openai"},
     T_ENUM, OFF(ai_chat_provider), 0, 0, ai_chat_providers, NULL, NULL},
    {{"ai.chat_url", "string", "", "chat server URL (\"\" = the chat provider's default)"},
     T_STR, OFF(ai_chat_url), 0, 0, NULL, NULL, NULL},
    {{"ai.chat_model", "string", "", "chat model"},
     T_STR, OFF(ai_chat_model), 0, 0, NULL, NULL, NULL},
    {{"ai.timeout_ms", "integer", "30000", "per request to an embedding or chat server"},
     T_INT, OFF(ai_timeout_ms), 100, 3600000, NULL, NULL, NULL},
    {{"ai.retries", "integer", "3", "extra attempts on connection errors, timeouts, 429 and 5xx"},
     T_INT, OFF(ai_retries), 0, 20, NULL, NULL, NULL},
    {{"ai.batch_size", "integer", "32", "texts per embedding request"},
     T_INT, OFF(ai_batch_size), 1, 4096, NULL, NULL, NULL},
    {{"ai.sidecar_node", "string", "node", "node executable that runs the local sidecar"},
     T_STR, OFF(ai_sidecar_node), 0, 0, NULL, check_nonempty, "a non-empty command or path"},
    {{"ai.sidecar_script", "string", "",
      "the sidecar's server.mjs (\"\" = $LAKEHOUSE_SIDECAR, else found next to the binary)"},
     T_STR, OFF(ai_sidecar_script), 0, 0, NULL, NULL, NULL},
    {{"ai.sidecar_port", "integer", "0", "loopback port of the local sidecar (0 = any free port)"},
     T_INT, OFF(ai_sidecar_port), 0, 65535, NULL, NULL, NULL},
};

#define N_KEYS (sizeof keys / sizeof keys[0])

#define BOFF(field) offsetof(lh_bucket_config, field)
static const struct key bucket_keys[] = {
    {{"backend", "enum", "fs", "fs | s3"}, T_ENUM, BOFF(backend), 0, 0, backends, NULL, NULL},
    {{"path", "string", "", "fs: the folder (\"\" = <storage.data_dir>/<name>)"},
     T_STR, BOFF(path), 0, 0, NULL, NULL, NULL},
    {{"endpoint", "string", "", "s3: server URL, e.g. \"https://s3.eu-west-1.amazonaws.com\""},
     T_STR, BOFF(endpoint), 0, 0, NULL, NULL, NULL},
    {{"region", "string", "us-east-1", "s3: signing region"}, T_STR, BOFF(region), 0, 0, NULL,
     check_nonempty, "a non-empty region"},
    {{"bucket", "string", "", "s3: bucket on the server (\"\" = this bucket's name)"},
     T_STR, BOFF(bucket), 0, 0, NULL, NULL, NULL},
    {{"prefix", "string", "", "s3: key prefix inside the bucket, e.g. \"lakehouse/\""},
     T_STR, BOFF(prefix_in_bucket), 0, 0, NULL, NULL, NULL},
    {{"path_style", "bool", "false", "s3: http://host/bucket/key instead of http://bucket.host/key"},
     T_BOOL, BOFF(path_style), 0, 1, NULL, NULL, NULL},
    {{"access_key_id", "string", "", "s3: \"\" = $AWS_ACCESS_KEY_ID"},
     T_STR, BOFF(access_key_id), 0, 0, NULL, NULL, NULL},
    {{"secret_access_key", "string", "", "s3: \"\" = $AWS_SECRET_ACCESS_KEY"},
     T_STR, BOFF(secret_access_key), 0, 0, NULL, NULL, NULL},
    {{"multipart_threshold", "size", "64MiB", "s3: uploads above this go in parts"},
     T_SIZE, BOFF(multipart_threshold), 5LL << 20, 5LL << 40, NULL, NULL, NULL},
    {{"part_size", "size", "8MiB", "s3: size of each part"},
     T_SIZE, BOFF(part_size), 5LL << 20, 5LL << 30, NULL, NULL, NULL},
    {{"timeout_ms", "integer", "30000", "s3: per request (stalled transfers for big objects)"},
     T_INT, BOFF(timeout_ms), 100, 3600000, NULL, NULL, NULL},
    {{"retries", "integer", "3", "s3: extra attempts on 5xx, 429 and network errors"},
     T_INT, BOFF(retries), 0, 20, NULL, NULL, NULL},
};
#define N_BUCKET_KEYS (sizeof bucket_keys / sizeof bucket_keys[0])
_Static_assert(N_BUCKET_KEYS <= 16, "raise lh_bucket_config.source");
_Static_assert(N_KEYS <= LH_CONFIG_MAX_KEYS, "raise LH_CONFIG_MAX_KEYS");

const lh_config_key_info *lh_config_bucket_keys(size_t *count)
{
    static lh_config_key_info infos[N_BUCKET_KEYS];
    for (size_t i = 0; i < N_BUCKET_KEYS; i++) infos[i] = bucket_keys[i].info;
    *count = N_BUCKET_KEYS;
    return infos;
}

const lh_config_key_info *lh_config_keys(size_t *count)
{
    static lh_config_key_info infos[N_KEYS];
    for (size_t i = 0; i < N_KEYS; i++) infos[i] = keys[i].info;
    *count = N_KEYS;
    return infos;
}

/* Where the values of one key table live: a struct, its per-key sources, and
 * the prefix that turns a table key into a full name ("bucket.shared."). */
struct target {
    void *base;
    lh_config_source *source;
    const struct key *table;
    const char *prefix;
};

static char **str_field(const struct target *t, const struct key *k)
{
    return (char **)((char *)t->base + k->offset);
}

static long long *int_field(const struct target *t, const struct key *k)
{
    return (long long *)((char *)t->base + k->offset);
}

static bool is_string_key(const struct key *k)
{
    return k->type == T_STR || k->type == T_ENUM;
}

static const struct key *find_key(const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].info.key, name) == 0) return &keys[i];
    return NULL;
}

bool lh_parse_size(const char *s, long long *out)
{
    static const struct {
        const char *suffix;
        long long mult;
    } units[] = {{"", 1},          {"B", 1},           {"KB", 1000},     {"MB", 1000000},
                 {"GB", 1000000000LL}, {"TB", 1000000000000LL}, {"KIB", 1024}, {"MIB", 1 << 20},
                 {"GIB", 1LL << 30}, {"TIB", 1LL << 40}, {"K", 1024}, {"M", 1 << 20},
                 {"G", 1LL << 30}};
    while (isspace((unsigned char)*s)) s++;
    if (!isdigit((unsigned char)*s)) return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || v < 0) return false;
    while (isspace((unsigned char)*end)) end++;
    char unit[8];
    size_t n = strlen(end);
    if (n >= sizeof unit) return false;
    for (size_t i = 0; i <= n; i++) unit[i] = (char)toupper((unsigned char)end[i]);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(unit, units[i].suffix) == 0) {
            if (v > LLONG_MAX / units[i].mult) return false;
            *out = v * units[i].mult;
            return true;
        }
    }
    return false;
}

bool lh_parse_listen(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') return false;
        hlen = (size_t)(close - s - 1);
        s++;
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon) return false;
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen >= hostlen) return false;
    const char *p = colon + 1;
    if (!*p) return false;
    long v = 0;
    for (; *p; p++) {
        if (!isdigit((unsigned char)*p)) return false;
        v = v * 10 + (*p - '0');
        if (v > 65535) return false;
    }
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    *port = (int)v;
    return true;
}

static bool parse_int(const char *s, long long *out)
{
    if (!*s) return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

static bool parse_bool(const char *s, long long *out)
{
    if (!strcmp(s, "true") || !strcmp(s, "1")) *out = 1;
    else if (!strcmp(s, "false") || !strcmp(s, "0")) *out = 0;
    else return false;
    return true;
}

/* Applies a textual value to key k of target t. `where` prefixes error messages. */
static lh_code apply_text(const struct target *t, const struct key *k, const char *value,
                          lh_config_source src, const char *where, lh_err *err)
{
    const char *pre = t->prefix;
    long long v;
    switch (k->type) {
    case T_STR:
        if (k->check && !k->check(value))
            return lh_err_set(err, LH_EINVAL, "%s%s%s: expected %s, got \"%s\"", where, pre,
                              k->info.key, k->check_hint, value);
        break;
    case T_ENUM: {
        bool ok = false;
        for (const char *const *ch = k->choices; *ch; ch++) ok |= strcmp(*ch, value) == 0;
        if (!ok)
            return lh_err_set(err, LH_EINVAL, "%s%s%s: expected one of %s, got \"%s\"", where, pre,
                              k->info.key, k->info.help, value);
        break;
    }
    case T_BOOL:
        if (!parse_bool(value, &v))
            return lh_err_set(err, LH_EINVAL, "%s%s%s: expected true or false, got \"%s\"", where,
                              pre, k->info.key, value);
        goto store;
    case T_INT:
        if (!parse_int(value, &v))
            return lh_err_set(err, LH_EINVAL, "%s%s%s: expected an integer, got \"%s\"", where, pre,
                              k->info.key, value);
        goto range;
    case T_SIZE:
        if (!lh_parse_size(value, &v))
            return lh_err_set(err, LH_EINVAL,
                              "%s%s%s: expected a size (bytes, or a number with KB/MB/GB/KiB/MiB/GiB), "
                              "got \"%s\"",
                              where, pre, k->info.key, value);
    range:
        if (v < k->min || v > k->max)
            return lh_err_set(err, LH_EINVAL, "%s%s%s: %lld is out of range [%lld, %lld]", where,
                              pre, k->info.key, v, k->min, k->max);
    store:
        *int_field(t, k) = v;
        t->source[k - t->table] = src;
        return LH_OK;
    }
    char **f = str_field(t, k);
    free(*f);
    *f = lh_xstrdup(value);
    t->source[k - t->table] = src;
    return LH_OK;
}

static struct target main_target(lh_config *c)
{
    return (struct target){.base = c, .source = c->source, .table = keys, .prefix = ""};
}

static void apply_defaults(const struct target *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        lh_err err;
        if (apply_text(t, &t->table[i], t->table[i].info.default_value, LH_CONFIG_DEFAULT,
                       "default ", &err) != LH_OK) {
            fprintf(stderr, "lakehouse: bad built-in default: %s\n", err.message);
            abort();
        }
    }
}

static void free_strings(const struct target *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (is_string_key(&t->table[i])) {
            free(*str_field(t, &t->table[i]));
            *str_field(t, &t->table[i]) = NULL;
        }
    }
}

void lh_config_init_defaults(lh_config *c)
{
    memset(c, 0, sizeof *c);
    struct target t = main_target(c);
    apply_defaults(&t, N_KEYS);
}

static struct target bucket_target(lh_bucket_config *b)
{
    return (struct target){.base = b, .source = b->source, .table = bucket_keys, .prefix = b->prefix};
}

void lh_config_free(lh_config *c)
{
    struct target t = main_target(c);
    free_strings(&t, N_KEYS);
    for (size_t i = 0; i < c->n_buckets; i++) {
        struct target bt = bucket_target(&c->buckets[i]);
        free_strings(&bt, N_BUCKET_KEYS);
        free(c->buckets[i].name);
    }
    free(c->buckets);
    c->buckets = NULL;
    c->n_buckets = 0;
    free(c->file);
    c->file = NULL;
}

static bool valid_bucket_name(const char *s, size_t n)
{
    if (n == 0 || n > 32 || !islower((unsigned char)s[0])) return false;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

/* The bucket called name[0..n), created with defaults on first mention. */
static lh_bucket_config *bucket_named(lh_config *c, const char *name, size_t n)
{
    for (size_t i = 0; i < c->n_buckets; i++)
        if (strlen(c->buckets[i].name) == n && memcmp(c->buckets[i].name, name, n) == 0)
            return &c->buckets[i];
    c->buckets = lh_xrealloc(c->buckets, (c->n_buckets + 1) * sizeof *c->buckets);
    lh_bucket_config *b = &c->buckets[c->n_buckets++];
    memset(b, 0, sizeof *b);
    b->name = lh_xstrndup(name, n);
    snprintf(b->prefix, sizeof b->prefix, "bucket.%s.", b->name);
    struct target t = bucket_target(b);
    apply_defaults(&t, N_BUCKET_KEYS);
    return b;
}

static const struct key *find_in(const struct key *table, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i].info.key, name) == 0) return &table[i];
    return NULL;
}

/* Resolves a full key name ("server.listen", "bucket.shared.endpoint") to its
 * target and table row; creates the bucket on first mention. */
static lh_code resolve(lh_config *c, const char *full, struct target *t, const struct key **k,
                       lh_err *err)
{
    if (strncmp(full, "bucket.", 7) == 0) {
        const char *name = full + 7, *dot = strchr(name, '.');
        if (!dot || !valid_bucket_name(name, (size_t)(dot - name)))
            return lh_err_set(err, LH_EINVAL,
                              "\"%s\": bucket settings are bucket.NAME.KEY with NAME in [a-z0-9_-], "
                              "at most 32 characters",
                              full);
        const struct key *row = find_in(bucket_keys, N_BUCKET_KEYS, dot + 1);
        if (!row) return lh_err_set(err, LH_EINVAL, "unknown setting \"%s\"", full);
        *t = bucket_target(bucket_named(c, name, (size_t)(dot - name)));
        *k = row;
        return LH_OK;
    }
    *k = find_key(full);
    if (!*k) return lh_err_set(err, LH_EINVAL, "unknown setting \"%s\"", full);
    *t = main_target(c);
    return LH_OK;
}

lh_code lh_config_set(lh_config *c, const char *key, const char *value, lh_config_source src,
                      const char *origin, lh_err *err)
{
    struct target t;
    const struct key *k;
    if (resolve(c, key, &t, &k, err)) return lh_err_wrap(err, "%s", origin);
    char where[128];
    snprintf(where, sizeof where, "%s: ", origin);
    return apply_text(&t, k, value, src, where, err);
}

/* ---- the TOML subset ---------------------------------------------------- */

typedef enum { V_STR, V_INT, V_FLOAT, V_BOOL } value_kind;

struct parser {
    const char *name; /* file name for messages */
    const char *p, *end;
    int line;
    lh_err *err;
};

static lh_code perr(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static lh_code perr(struct parser *ps, const char *fmt, ...)
{
    char msg[LH_ERR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return lh_err_set(ps->err, LH_EINVAL, "%s:%d: %s", ps->name, ps->line, msg);
}

static void skip_blank(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t')) ps->p++;
}

/* After a value or header: only blanks and an optional comment may follow. */
static lh_code expect_eol(struct parser *ps)
{
    skip_blank(ps);
    if (ps->p < ps->end && *ps->p == '#')
        while (ps->p < ps->end && *ps->p != '\n') ps->p++;
    if (ps->p < ps->end && *ps->p == '\r') ps->p++;
    if (ps->p < ps->end && *ps->p != '\n') {
        /* the input is not NUL-terminated: bound the excerpt by what is left */
        size_t left = (size_t)(ps->end - ps->p), n = left < 20 ? left : 20;
        const char *nl = memchr(ps->p, '\n', n);
        return perr(ps, "unexpected text \"%.*s\" after the value", (int)(nl ? nl - ps->p : (long)n),
                    ps->p);
    }
    return LH_OK;
}

static bool bare_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '_' || ch == '-';
}

static void put_utf8(lh_buf *b, unsigned long cp)
{
    char out[4];
    if (cp < 0x80) {
        lh_buf_putc(b, (char)cp);
    } else if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        lh_buf_append(b, out, 2);
    } else if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        lh_buf_append(b, out, 3);
    } else {
        out[0] = (char)(0xF0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (char)(0x80 | (cp & 0x3F));
        lh_buf_append(b, out, 4);
    }
}

static lh_code parse_string(struct parser *ps, lh_buf *out)
{
    char quote = *ps->p++;
    for (;;) {
        if (ps->p >= ps->end || *ps->p == '\n') return perr(ps, "unterminated string");
        char ch = *ps->p++;
        if (ch == quote) return LH_OK;
        if ((unsigned char)ch < 0x20 && ch != '\t') return perr(ps, "control character in string");
        if (ch != '\\' || quote == '\'') {
            lh_buf_putc(out, ch);
            continue;
        }
        if (ps->p >= ps->end) return perr(ps, "unterminated string");
        char esc = *ps->p++;
        switch (esc) {
        case 'n': lh_buf_putc(out, '\n'); break;
        case 't': lh_buf_putc(out, '\t'); break;
        case 'r': lh_buf_putc(out, '\r'); break;
        case '"': lh_buf_putc(out, '"'); break;
        case '\\': lh_buf_putc(out, '\\'); break;
        case 'u':
        case 'U': {
            int digits = esc == 'u' ? 4 : 8;
            unsigned long cp = 0;
            for (int i = 0; i < digits; i++) {
                if (ps->p >= ps->end || !isxdigit((unsigned char)*ps->p))
                    return perr(ps, "bad \\%c escape", esc);
                char h = *ps->p++;
                cp = cp * 16 + (unsigned long)(isdigit((unsigned char)h) ? h - '0'
                                                                         : (tolower(h) - 'a' + 10));
            }
            if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                return perr(ps, "escape \\%c names an invalid code point", esc);
            put_utf8(out, cp);
            break;
        }
        default: return perr(ps, "unknown escape \\%c in string", esc);
        }
    }
}

/* Parses a value into `text` and reports its kind. */
static lh_code parse_value(struct parser *ps, lh_buf *text, value_kind *kind)
{
    if (ps->p >= ps->end || *ps->p == '\n' || *ps->p == '#') return perr(ps, "missing value");
    if (*ps->p == '"' || *ps->p == '\'') {
        *kind = V_STR;
        return parse_string(ps, text);
    }
    const char *start = ps->p;
    while (ps->p < ps->end && !isspace((unsigned char)*ps->p) && *ps->p != '#') ps->p++;
    size_t n = (size_t)(ps->p - start);
    lh_buf_append(text, start, n);
    if (strcmp(text->data, "true") == 0 || strcmp(text->data, "false") == 0) {
        *kind = V_BOOL;
        return LH_OK;
    }
    /* integers (optionally with _ separators) and floats */
    lh_buf digits = {0};
    for (size_t i = 0; i < n; i++)
        if (start[i] != '_') lh_buf_putc(&digits, start[i]);
    long long iv;
    char *end;
    lh_code rc = LH_OK;
    if (digits.len && parse_int(digits.data, &iv)) {
        *kind = V_INT;
        lh_buf_reset(text);
        lh_buf_printf(text, "%lld", iv);
    } else if (digits.len && (strtod(digits.data, &end), *end == '\0') &&
               strspn(digits.data, "+-0123456789.eE") == digits.len) {
        *kind = V_FLOAT;
    } else {
        rc = perr(ps, "cannot read value \"%.40s\" (strings need quotes)", text->data);
    }
    lh_buf_free(&digits);
    return rc;
}

static const char *kind_name(value_kind k)
{
    switch (k) {
    case V_STR: return "a string";
    case V_INT: return "an integer";
    case V_FLOAT: return "a float";
    case V_BOOL: return "a boolean";
    }
    return "?";
}

static lh_code apply_file_value(lh_config *c, struct parser *ps, const char *section,
                                const char *name, const char *value, value_kind kind,
                                unsigned char *seen)
{
    char full[256];
    snprintf(full, sizeof full, "%s.%s", section, name);
    struct target t;
    const struct key *k;
    lh_err resolve_err;
    if (resolve(c, full, &t, &k, &resolve_err)) {
        if (strncmp(section, "bucket.", 7) == 0 && strchr(section + 7, '.') == NULL &&
            valid_bucket_name(section + 7, strlen(section + 7))) {
            lh_buf known = {0};
            for (size_t i = 0; i < N_BUCKET_KEYS; i++)
                lh_buf_printf(&known, "%s%s", i ? ", " : "", bucket_keys[i].info.key);
            lh_code rc = perr(ps, "unknown key \"%s\" in [%s] (known: %s)", name, section, known.data);
            lh_buf_free(&known);
            return rc;
        }
        if (strncmp(section, "bucket", 6) == 0 && (section[6] == '\0' || section[6] == '.'))
            return perr(ps, "[%s]: %s", section, resolve_err.message);
        bool section_known = false;
        lh_buf known = {0};
        size_t slen = strlen(section);
        for (size_t i = 0; i < N_KEYS; i++) {
            if (strncmp(keys[i].info.key, section, slen) == 0 && keys[i].info.key[slen] == '.') {
                lh_buf_printf(&known, "%s%s", section_known ? ", " : "", keys[i].info.key + slen + 1);
                section_known = true;
            }
        }
        lh_code rc = section_known
                         ? perr(ps, "unknown key \"%s\" in [%s] (known: %s)", name, section, known.data)
                         : perr(ps, "unknown key \"%s\" (no such section [%s])", name, section);
        lh_buf_free(&known);
        return rc;
    }
    /* duplicates: one flag per main key, and per (bucket, key) via the bucket's own sources */
    if (t.table == keys) {
        size_t idx = (size_t)(k - keys);
        if (seen[idx]) return perr(ps, "duplicate key \"%s\"", full);
        seen[idx] = 1;
    } else if (t.source[k - t.table] == LH_CONFIG_FILE) {
        return perr(ps, "duplicate key \"%s\"", full);
    }
    bool type_ok = (k->type == T_INT && kind == V_INT) || (k->type == T_BOOL && kind == V_BOOL) ||
                   (is_string_key(k) && kind == V_STR) ||
                   (k->type == T_SIZE && (kind == V_INT || kind == V_STR));
    if (!type_ok)
        return perr(ps, "%s: expected %s, got %s", full,
                    k->type == T_INT    ? "an integer"
                    : k->type == T_SIZE ? "a size"
                    : k->type == T_BOOL ? "true or false"
                                        : "a string",
                    kind_name(kind));
    char where[300];
    snprintf(where, sizeof where, "%s:%d: ", ps->name, ps->line);
    return apply_text(&t, k, value, LH_CONFIG_FILE, where, ps->err);
}

lh_code lh_config_parse_text(lh_config *c, const char *name, const char *text, size_t len,
                             lh_err *err)
{
    struct parser ps = {.name = name, .p = text, .end = text + len, .line = 0, .err = err};
    char section[128] = "";
    unsigned char seen[N_KEYS] = {0};
    lh_buf value = {0};
    lh_code rc = LH_OK;

    const char *nul = memchr(text, '\0', len);
    if (nul) {
        ps.line = 1;
        for (const char *q = text; q < nul; q++) ps.line += *q == '\n';
        return perr(&ps, "NUL byte in configuration file");
    }
    while (rc == LH_OK && ps.p < ps.end) {
        ps.line++;
        skip_blank(&ps);
        if (ps.p >= ps.end) break;
        char ch = *ps.p;
        if (ch == '\n' || ch == '\r' || ch == '#') {
            rc = expect_eol(&ps);
        } else if (ch == '[') {
            ps.p++;
            skip_blank(&ps);
            const char *start = ps.p;
            while (ps.p < ps.end && (bare_char(*ps.p) || *ps.p == '.')) ps.p++;
            size_t n = (size_t)(ps.p - start);
            skip_blank(&ps);
            if (n == 0 || ps.p >= ps.end || *ps.p != ']') {
                rc = perr(&ps, "malformed section header (expected [name])");
                break;
            }
            if (n >= sizeof section) {
                rc = perr(&ps, "section name too long");
                break;
            }
            ps.p++;
            memcpy(section, start, n);
            section[n] = '\0';
            rc = expect_eol(&ps);
        } else if (bare_char(ch)) {
            const char *start = ps.p;
            while (ps.p < ps.end && bare_char(*ps.p)) ps.p++;
            char key[128];
            size_t n = (size_t)(ps.p - start);
            if (n >= sizeof key) {
                rc = perr(&ps, "key too long");
                break;
            }
            memcpy(key, start, n);
            key[n] = '\0';
            skip_blank(&ps);
            if (ps.p >= ps.end || *ps.p != '=') {
                rc = perr(&ps, "expected '=' after key \"%s\"", key);
                break;
            }
            ps.p++;
            skip_blank(&ps);
            if (!section[0]) {
                rc = perr(&ps, "key \"%s\" outside any [section]", key);
                break;
            }
            value_kind kind = V_STR;
            lh_buf_reset(&value);
            rc = parse_value(&ps, &value, &kind);
            if (rc == LH_OK) rc = expect_eol(&ps);
            if (rc == LH_OK)
                rc = apply_file_value(c, &ps, section, key, value.data ? value.data : "", kind,
                                      seen);
        } else {
            rc = perr(&ps, "expected a [section], key = value, or # comment");
        }
        if (ps.p < ps.end && *ps.p == '\n') ps.p++;
    }
    lh_buf_free(&value);
    return rc;
}

lh_code lh_config_load_file(lh_config *c, const char *path, lh_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return lh_err_errno(err, LH_EINVAL, errno, "cannot read configuration file %s", path);
    lh_buf text = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        lh_buf_append(&text, chunk, n);
        if (text.len > (1 << 20)) {
            fclose(f);
            lh_buf_free(&text);
            return lh_err_set(err, LH_EINVAL, "%s: configuration file larger than 1 MiB", path);
        }
    }
    bool failed = ferror(f);
    fclose(f);
    if (failed) {
        lh_buf_free(&text);
        return lh_err_set(err, LH_EINVAL, "%s: read error", path);
    }
    lh_code rc = lh_config_parse_text(c, path, text.data ? text.data : "", text.len, err);
    lh_buf_free(&text);
    if (rc == LH_OK) {
        free(c->file);
        c->file = lh_xstrdup(path);
    }
    return rc;
}

/* LAKEHOUSE_SERVER_LISTEN -> server.listen */
static const struct key *key_for_env(const char *name, size_t len)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        const char *k = keys[i].info.key;
        if (strlen(k) != len) continue;
        bool match = true;
        for (size_t j = 0; j < len && match; j++) {
            char want = k[j] == '.' ? '_' : (char)toupper((unsigned char)k[j]);
            match = name[j] == want;
        }
        if (match) return &keys[i];
    }
    return NULL;
}

/* LAKEHOUSE_* variables that are read elsewhere, not settings. */
static bool not_a_setting(const char *name, size_t n)
{
    static const char *const others[] = {"CONFIG", "SIDECAR", "SIDECAR_DEBUG", "API_KEY"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        if (strlen(others[i]) == n && strncmp(name, others[i], n) == 0) return true;
    return false;
}

lh_code lh_config_load_env(lh_config *c, char *const *env, lh_err *err)
{
    static const char prefix[] = "LAKEHOUSE_";
    for (; env && *env; env++) {
        const char *e = *env;
        if (strncmp(e, prefix, sizeof prefix - 1) != 0) continue;
        const char *name = e + sizeof prefix - 1;
        const char *eq = strchr(name, '=');
        if (!eq) continue;
        size_t nlen = (size_t)(eq - name);
        if (not_a_setting(name, nlen)) continue;
        const struct key *k = key_for_env(name, nlen);
        if (!k) {
            char var[128];
            snprintf(var, sizeof var, "%s%.*s", prefix, (int)(nlen < 100 ? nlen : 100), name);
            lh_log(LH_LOG_WARN, "config.unknown_env", LH_KV_STR("variable", var),
                   LH_KV_STR("hint", "not a Lakehouse setting; ignored"));
            continue;
        }
        char where[160];
        snprintf(where, sizeof where, "environment %s%.*s: ", prefix, (int)nlen, name);
        struct target t = main_target(c);
        lh_code rc = apply_text(&t, k, eq + 1, LH_CONFIG_ENV, where, err);
        if (rc) return rc;
    }
    return LH_OK;
}

static const char *env_lookup(char *const *env, const char *name)
{
    size_t n = strlen(name);
    for (; env && *env; env++)
        if (strncmp(*env, name, n) == 0 && (*env)[n] == '=') return *env + n + 1;
    return NULL;
}

lh_code lh_config_load(lh_config *c, const char *file, char *const *env,
                       const lh_config_override *overrides, size_t n_overrides, lh_err *err)
{
    lh_config_init_defaults(c);
    if (!file) {
        const char *from_env = env_lookup(env, "LAKEHOUSE_CONFIG");
        if (from_env && *from_env) file = from_env;
        else if (access("lakehouse.toml", F_OK) == 0) file = "lakehouse.toml";
    }
    lh_code rc = LH_OK;
    if (file) rc = lh_config_load_file(c, file, err);
    if (rc == LH_OK) rc = lh_config_load_env(c, env, err);
    for (size_t i = 0; rc == LH_OK && i < n_overrides; i++)
        rc = lh_config_set(c, overrides[i].key, overrides[i].value, LH_CONFIG_FLAG,
                           overrides[i].origin, err);
    return rc;
}

static const char *source_name(lh_config_source s)
{
    switch (s) {
    case LH_CONFIG_DEFAULT: return "default";
    case LH_CONFIG_FILE: return "file";
    case LH_CONFIG_ENV: return "env";
    case LH_CONFIG_FLAG: return "flag";
    }
    return "?";
}

static void dump_value(const struct target *t, const struct key *k, lh_buf *out)
{
    if (is_string_key(k)) {
        const char *v = *str_field(t, k);
        lh_buf_json_string(out, v, strlen(v));
    } else if (k->type == T_BOOL) {
        lh_buf_puts(out, *int_field(t, k) ? "true" : "false");
    } else {
        lh_buf_printf(out, "%lld", *int_field(t, k));
    }
}

/* Secrets are shown as "(set)" so `config show` output can be shared. */
static bool secret(const struct key *k)
{
    return strstr(k->info.key, "secret") != NULL || strstr(k->info.key, "api_key") != NULL;
}

static void dump_table(const struct target *t, size_t n, bool json, bool *first, lh_buf *out)
{
    const char *section = "";
    size_t section_len = 0;
    for (size_t i = 0; i < n; i++) {
        const struct key *k = &t->table[i];
        bool hide = secret(k) && **str_field(t, k);
        if (json) {
            lh_buf_printf(out, "%s\"%s%s\":{\"value\":", *first ? "" : ",", t->prefix, k->info.key);
            if (hide) lh_buf_puts(out, "\"(set)\"");
            else dump_value(t, k, out);
            lh_buf_printf(out, ",\"source\":\"%s\"}", source_name(t->source[i]));
            *first = false;
            continue;
        }
        const char *name = k->info.key;
        if (!t->prefix[0]) {
            const char *dot = strchr(k->info.key, '.');
            if ((size_t)(dot - k->info.key) != section_len ||
                strncmp(section, k->info.key, section_len) != 0) {
                section = k->info.key;
                section_len = (size_t)(dot - k->info.key);
                lh_buf_printf(out, "%s[%.*s]\n", *first ? "" : "\n", (int)section_len, section);
            }
            name = dot + 1;
        } else if (i == 0) {
            lh_buf_printf(out, "\n[%.*s]\n", (int)strlen(t->prefix) - 1, t->prefix);
        }
        *first = false;
        lh_buf_printf(out, "%s = ", name);
        if (hide) lh_buf_puts(out, "\"(set)\"");
        else dump_value(t, k, out);
        lh_buf_printf(out, "  # %s\n", source_name(t->source[i]));
    }
}

void lh_config_dump(const lh_config *c, bool json, lh_buf *out)
{
    bool first = true;
    lh_config *mc = (lh_config *)c; /* targets are shared with the setters; nothing is written */
    if (json) lh_buf_putc(out, '{');
    struct target t = main_target(mc);
    dump_table(&t, N_KEYS, json, &first, out);
    for (size_t i = 0; i < c->n_buckets; i++) {
        struct target bt = bucket_target(&mc->buckets[i]);
        dump_table(&bt, N_BUCKET_KEYS, json, &first, out);
    }
    if (json) lh_buf_puts(out, "}\n");
}
