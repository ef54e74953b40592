/*
 * ai.c — lh_ai: one provider and model behind lh_ai_embed and lh_ai_chat.
 *
 * The hash provider runs in process (hash.c), and so does "local" without a
 * URL: the bundled model in C (src/model/, lh_model.h). The others are HTTP:
 * request bodies are built here, sent by http.c (retries, journal) and read
 * by parse.c. "local-node" (and "local" given a URL) is the Ollama protocol
 * spoken by the bundled Node sidecar.
 * An lh_ai is immutable after lh_ai_open except for the learned dimension
 * (an atomic) and the connection pool (locked), so calls may run on any
 * number of threads at once.
 */
#include "internal.h"
#include "lakehouse/lh_ai.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_model.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum provider {
    PROVIDER_HASH,
    PROVIDER_OLLAMA,
    PROVIDER_OPENAI,
    PROVIDER_LOCAL,
    PROVIDER_LOCAL_NODE
};

static const struct {
    const char *name;
    const char *protocol;    /* wire format; NULL: in process */
    const char *default_url; /* NULL: must be given */
    const char *default_model;
} providers[] = {
    [PROVIDER_HASH] = {"hash", NULL, NULL, NULL},
    [PROVIDER_OLLAMA] = {"ollama", "ollama", "http://127.0.0.1:11434", "nomic-embed-text"},
    [PROVIDER_OPENAI] = {"openai", "openai", "https://api.openai.com", "text-embedding-3-small"},
    [PROVIDER_LOCAL] = {"local", "ollama", NULL, "use-lite"},
    [PROVIDER_LOCAL_NODE] = {"local-node", "ollama", NULL, "use-lite"},
};

/* Texts per lh_model_embed call when embedding in process: enough to keep
 * every core busy between progress reports. */
#define LOCAL_CHUNK 256

#define HASH_DEFAULT_DIM 256u

struct lh_ai {
    enum provider provider;
    char *model, *chat_model; /* chat_model NULL: cannot chat */
    char *api_key;
    char *embed_url, *chat_url;
    char *embed_what, *chat_what; /* "embedding provider ollama (model m)" */
    char *embed_key, *chat_key;   /* "ollama:m" */
    uint32_t hash_dim;
    _Atomic uint32_t dim; /* HTTP providers: learned from the first answer */
    long long timeout_ms;
    int retries;
    size_t batch_size;
    lh_errors *errors;
    ai_http_pool *pool;
    lh_model *local; /* "local" in process */
};

static bool empty(const char *s)
{
    return !s || !*s;
}

/* "hash-512" -> 512; false if model is not of that form. */
static bool hash_model_dim(const char *model, uint32_t *dim)
{
    if (strncmp(model, "hash-", 5) != 0) return false;
    unsigned long v = 0;
    const char *p = model + 5;
    if (!*p) return false;
    for (; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > AI_MAX_DIM) return false;
    }
    *dim = (uint32_t)v;
    return v > 0;
}

/* Validates and sets the hash provider's dimension and model name. */
static lh_code open_hash(lh_ai *ai, const lh_ai_config *cfg, lh_err *err)
{
    uint32_t dim = cfg->dim;
    if (!empty(cfg->model)) {
        uint32_t named;
        if (!hash_model_dim(cfg->model, &named))
            return lh_err_set(err, LH_EINVAL,
                              "hash provider: model \"%s\" is not hash-<dimensions> (1..%u)",
                              cfg->model, AI_MAX_DIM);
        if (dim && dim != named)
            return lh_err_set(err, LH_EINVAL, "hash provider: model %s but dim %u", cfg->model,
                              dim);
        dim = named;
    }
    if (dim == 0) dim = HASH_DEFAULT_DIM;
    if (dim > AI_MAX_DIM)
        return lh_err_set(err, LH_EINVAL, "hash provider: dim %u is above %u", dim, AI_MAX_DIM);
    ai->hash_dim = dim;
    ai->model = lh_xasprintf("hash-%u", dim);
    return LH_OK;
}

/* "local" without a URL: the bundled model, in this process. */
static lh_code open_local(lh_ai *ai, const lh_ai_config *cfg, lh_err *err)
{
    if (!empty(cfg->model) && strcmp(cfg->model, LH_MODEL_NAME) != 0 &&
        strcmp(cfg->model, LH_MODEL_NAME ":latest") != 0)
        return lh_err_set(err, LH_EINVAL, "provider local has one model, \"%s\" (not \"%s\")",
                          LH_MODEL_NAME, cfg->model);
    lh_code rc = lh_model_open(NULL, &ai->local, err);
    if (rc) return lh_err_wrap(err, "provider local");
    ai->model = lh_xstrdup(LH_MODEL_NAME);
    atomic_store(&ai->dim, LH_MODEL_DIM);
    return LH_OK;
}

/* base URL + path; a base already ending in /v1 is not given a second one. */
static char *join_url(const char *base, size_t base_len, const char *path)
{
    if (strncmp(path, "/v1/", 4) == 0 && base_len >= 3 &&
        strncmp(base + base_len - 3, "/v1", 3) == 0)
        path += 3;
    return lh_xasprintf("%.*s%s", (int)base_len, base, path);
}

static lh_code open_http(lh_ai *ai, const lh_ai_config *cfg, lh_err *err)
{
    const char *name = providers[ai->provider].name;
    const char *url = empty(cfg->url) ? providers[ai->provider].default_url : cfg->url;
    if (!url)
        return lh_err_set(err, LH_EINVAL,
                          "provider %s needs a url (the sidecar's, from lh_sidecar_url)", name);
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return lh_err_set(err, LH_EINVAL, "provider %s: url \"%s\" is not http:// or https://",
                          name, url);
    size_t len = strlen(url);
    while (len && url[len - 1] == '/') len--;
    bool openai = ai->provider == PROVIDER_OPENAI;
    ai->model = lh_xstrdup(empty(cfg->model) ? providers[ai->provider].default_model : cfg->model);
    ai->embed_url = join_url(url, len, openai ? "/v1/embeddings" : "/api/embed");
    ai->embed_what = lh_xasprintf("embedding provider %s (model %s)", name, ai->model);
    ai->embed_key = lh_xasprintf("%s:%s", name, ai->model);
    if (!empty(cfg->chat_model)) {
        ai->chat_model = lh_xstrdup(cfg->chat_model);
        ai->chat_url = join_url(url, len, openai ? "/v1/chat/completions" : "/api/chat");
        ai->chat_what = lh_xasprintf("chat provider %s (model %s)", name, ai->chat_model);
        ai->chat_key = lh_xasprintf("%s:%s", name, ai->chat_model);
    }
    if (!empty(cfg->api_key)) ai->api_key = lh_xstrdup(cfg->api_key);
    ai->pool = ai_http_pool_new();
    return LH_OK;
}

lh_code lh_ai_open(const lh_ai_config *cfg, lh_ai **out, lh_err *err)
{
    *out = NULL;
    if (!cfg || empty(cfg->provider))
        return lh_err_set(err, LH_EINVAL, "no embedding provider given");
    size_t p = 0;
    while (p < sizeof providers / sizeof providers[0] &&
           strcmp(providers[p].name, cfg->provider) != 0)
        p++;
    if (p == sizeof providers / sizeof providers[0])
        return lh_err_set(err, LH_EINVAL,
                          "unknown provider \"%s\" (local, local-node, hash, ollama or openai)",
                          cfg->provider);
    if (cfg->timeout_ms < 0) return lh_err_set(err, LH_EINVAL, "timeout_ms is negative");
    if (!empty(cfg->chat_model) &&
        (p == PROVIDER_HASH || p == PROVIDER_LOCAL || p == PROVIDER_LOCAL_NODE))
        return lh_err_set(err, LH_EINVAL, "provider %s cannot chat (chat_model \"%s\")",
                          cfg->provider, cfg->chat_model);
    lh_ai *ai = lh_xcalloc(1, sizeof *ai);
    ai->provider = (enum provider)p;
    ai->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 30000;
    ai->retries = cfg->retries < 0 ? 3 : cfg->retries;
    ai->batch_size = cfg->batch_size ? cfg->batch_size : 32;
    ai->errors = cfg->errors;
    lh_code rc = ai->provider == PROVIDER_HASH                       ? open_hash(ai, cfg, err)
                 : ai->provider == PROVIDER_LOCAL && empty(cfg->url) ? open_local(ai, cfg, err)
                                                                     : open_http(ai, cfg, err);
    if (rc) {
        lh_ai_close(ai);
        return rc;
    }
    *out = ai;
    return LH_OK;
}

void lh_ai_close(lh_ai *ai)
{
    if (!ai) return;
    lh_model_close(ai->local);
    ai_http_pool_free(ai->pool);
    free(ai->model);
    free(ai->chat_model);
    free(ai->api_key);
    free(ai->embed_url);
    free(ai->chat_url);
    free(ai->embed_what);
    free(ai->chat_what);
    free(ai->embed_key);
    free(ai->chat_key);
    free(ai);
}

const char *lh_ai_provider(const lh_ai *ai)
{
    return providers[ai->provider].name;
}

const char *lh_ai_model(const lh_ai *ai)
{
    return ai->model;
}

bool lh_ai_can_chat(const lh_ai *ai)
{
    return ai->chat_model != NULL;
}

static ai_http_call http_call(const lh_ai *ai, bool chat, const lh_buf *body)
{
    return (ai_http_call){
        .what = chat ? ai->chat_what : ai->embed_what,
        .operation = chat ? "ai.chat" : "ai.embed",
        .key = chat ? ai->chat_key : ai->embed_key,
        .url = chat ? ai->chat_url : ai->embed_url,
        .api_key = ai->api_key,
        .body = body->data,
        .body_len = body->len,
        .timeout_ms = ai->timeout_ms,
        .retries = ai->retries,
        .errors = ai->errors,
    };
}

/* An answer that arrived but cannot be used: named, recorded, not retried. */
static lh_code unusable(const ai_http_call *call, lh_err *err)
{
    lh_err_wrap(err, "%s at %s: unusable answer", call->what, call->url);
    ai_err_fix_utf8(err);
    ai_record(call, err);
    return err->code;
}

static lh_code embed_hash(lh_ai *ai, const char *const *texts, size_t n, lh_ai_progress_fn progress,
                          void *progress_ctx, float **out, uint32_t *dim, lh_err *err)
{
    uint32_t d = ai->hash_dim;
    if (n > SIZE_MAX / sizeof(float) / d)
        return lh_err_set(err, LH_ENOMEM, "%zu texts of %u dimensions", n, d);
    float *v = malloc(n * d * sizeof(float));
    if (!v)
        return lh_err_set(err, LH_ENOMEM, "out of memory for %zu vectors of %u dimensions", n, d);
    for (size_t i = 0; i < n; i++) {
        lh_ai_hash_embed(texts[i], strlen(texts[i]), d, v + i * d);
        if (progress && ((i + 1) % ai->batch_size == 0 || i + 1 == n))
            progress(progress_ctx, i + 1, n);
    }
    *out = v;
    *dim = d;
    return LH_OK;
}

static lh_code embed_local(lh_ai *ai, const char *const *texts, size_t n,
                           lh_ai_progress_fn progress, void *progress_ctx, float **out,
                           uint32_t *dim, lh_err *err)
{
    if (n > SIZE_MAX / sizeof(float) / LH_MODEL_DIM)
        return lh_err_set(err, LH_ENOMEM, "%zu texts of %u dimensions", n, LH_MODEL_DIM);
    float *v = malloc(n * LH_MODEL_DIM * sizeof(float));
    if (!v)
        return lh_err_set(err, LH_ENOMEM, "out of memory for %zu vectors of %u dimensions", n,
                          LH_MODEL_DIM);
    if (n == 1) { /* a query: embedded with its concurrent peers */
        lh_code rc = lh_model_embed_one(ai->local, texts[0], texts[0] ? strlen(texts[0]) : 0, v, err);
        if (rc) {
            free(v);
            return rc;
        }
        *out = v;
        *dim = LH_MODEL_DIM;
        return LH_OK;
    }
    for (size_t start = 0; start < n; start += LOCAL_CHUNK) {
        size_t m = n - start < LOCAL_CHUNK ? n - start : LOCAL_CHUNK;
        lh_code rc =
            lh_model_embed(ai->local, texts + start, NULL, m, v + start * LH_MODEL_DIM, 0, err);
        if (rc) {
            free(v);
            return rc;
        }
        if (progress) progress(progress_ctx, start + m, n);
    }
    *out = v;
    *dim = LH_MODEL_DIM;
    return LH_OK;
}

/* One batch: texts[0..m) -> *vecs (m x *d), *d checked against the model's. */
static lh_code embed_batch(lh_ai *ai, const char *const *texts, size_t m, float **vecs, uint32_t *d,
                           lh_err *err)
{
    lh_buf body = {0}, answer = {0};
    lh_buf_puts(&body, "{\"model\":");
    lh_buf_json_string(&body, ai->model, strlen(ai->model));
    lh_buf_puts(&body, ",\"input\":[");
    for (size_t i = 0; i < m; i++) {
        if (i) lh_buf_putc(&body, ',');
        lh_buf_json_string(&body, texts[i], strlen(texts[i]));
    }
    lh_buf_puts(&body, "]}");
    ai_http_call call = http_call(ai, false, &body);
    lh_code rc = ai_http_post(ai->pool, &call, &answer, err);
    if (rc == LH_OK) {
        *d = atomic_load(&ai->dim);
        rc = lh_ai_parse_embed(providers[ai->provider].protocol, answer.data, answer.len, m, vecs,
                               d, err);
        if (rc == LH_OK) {
            uint32_t known = 0;
            /* the first answer fixes the dimension; a racing thread's must agree */
            if (!atomic_compare_exchange_strong(&ai->dim, &known, *d) && known != *d) {
                free(*vecs);
                *vecs = NULL;
                rc = lh_err_set(err, LH_EUPSTREAM, "%u dimensions, the model's are %u", *d, known);
            }
        }
        if (rc) rc = unusable(&call, err);
    }
    lh_buf_free(&body);
    lh_buf_free(&answer);
    return rc;
}

lh_code lh_ai_embed(lh_ai *ai, const char *const *texts, size_t n, lh_ai_progress_fn progress,
                    void *progress_ctx, float **out, uint32_t *dim, lh_err *err)
{
    *out = NULL;
    *dim = 0;
    if (n == 0) return LH_OK;
    lh_err local;
    if (!err) err = &local;
    if (ai->provider == PROVIDER_HASH)
        return embed_hash(ai, texts, n, progress, progress_ctx, out, dim, err);
    if (ai->local) return embed_local(ai, texts, n, progress, progress_ctx, out, dim, err);
    float *all = NULL;
    uint32_t d = 0;
    for (size_t start = 0; start < n; start += ai->batch_size) {
        size_t m = n - start < ai->batch_size ? n - start : ai->batch_size;
        float *vecs;
        lh_code rc = embed_batch(ai, texts + start, m, &vecs, &d, err);
        if (rc == LH_OK && !all) {
            if (n > SIZE_MAX / sizeof(float) / d ||
                !(all = malloc(n * (size_t)d * sizeof(float)))) {
                free(vecs);
                rc = lh_err_set(err, LH_ENOMEM, "out of memory for %zu vectors of %u dimensions", n,
                                d);
            }
        }
        if (rc) {
            free(all);
            return rc;
        }
        memcpy(all + start * d, vecs, m * d * sizeof(float));
        free(vecs);
        if (progress) progress(progress_ctx, start + m, n);
    }
    *out = all;
    *dim = d;
    return LH_OK;
}

lh_code lh_ai_chat(lh_ai *ai, const lh_ai_message *msgs, size_t n, char **reply, lh_err *err)
{
    *reply = NULL;
    lh_err local;
    if (!err) err = &local;
    if (!ai->chat_model)
        return lh_err_set(err, LH_EUNSUPPORTED, "provider %s has no chat model configured",
                          lh_ai_provider(ai));
    if (n == 0) return lh_err_set(err, LH_EINVAL, "a chat needs at least one message");
    lh_buf body = {0}, answer = {0};
    lh_buf_puts(&body, "{\"model\":");
    lh_buf_json_string(&body, ai->chat_model, strlen(ai->chat_model));
    lh_buf_puts(&body, ",\"stream\":false,\"messages\":[");
    for (size_t i = 0; i < n; i++) {
        if (!msgs[i].role || !msgs[i].content) {
            lh_buf_free(&body);
            return lh_err_set(err, LH_EINVAL, "chat message %zu has no %s", i,
                              msgs[i].role ? "content" : "role");
        }
        lh_buf_puts(&body, i ? ",{\"role\":" : "{\"role\":");
        lh_buf_json_string(&body, msgs[i].role, strlen(msgs[i].role));
        lh_buf_puts(&body, ",\"content\":");
        lh_buf_json_string(&body, msgs[i].content, strlen(msgs[i].content));
        lh_buf_putc(&body, '}');
    }
    lh_buf_puts(&body, "]}");
    ai_http_call call = http_call(ai, true, &body);
    lh_code rc = ai_http_post(ai->pool, &call, &answer, err);
    if (rc == LH_OK) {
        rc =
            lh_ai_parse_chat(providers[ai->provider].protocol, answer.data, answer.len, reply, err);
        if (rc) rc = unusable(&call, err);
    }
    lh_buf_free(&body);
    lh_buf_free(&answer);
    return rc;
}
