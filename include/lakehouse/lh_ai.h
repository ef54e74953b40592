/*
 * lh_ai.h — aibridge: embeddings and chat behind one interface.
 *
 * Providers (one lh_ai is one provider and model):
 *   hash    a deterministic lexical embedder in C: feature hashing of words
 *           and character trigrams into `dim` signed buckets, L2-normalised.
 *           No model, no network; similar wording scores high, synonyms don't.
 *           Its model is "hash-<dim>" (naming the model also sets dim).
 *   ollama  an Ollama server: POST {url}/api/embed {model, input:[...]} ->
 *           {embeddings:[[...]]}; POST {url}/api/chat {model, messages,
 *           stream:false} -> {message:{content}}.
 *   openai  an OpenAI-compatible server: POST {url}/v1/embeddings {model,
 *           input:[...]} -> {data:[{index, embedding}]}; POST
 *           {url}/v1/chat/completions -> {choices:[{message:{content}}]}.
 *   local   the bundled model, Universal Sentence Encoder Lite (512
 *           dimensions, works offline), run in this process by src/model/
 *           (lh_model.h) from the weights file make builds; its vectors match
 *           the Node sidecar's (cosine >= 0.999, checked by test_model). Given
 *           a url, "local" is the same as local-node (the old behaviour).
 *   local-node  the same model in the bundled Node sidecar (scripts/sidecar/,
 *           tfjs) speaking the Ollama embed protocol on loopback at url;
 *           lh_sidecar starts and supervises it. Kept as the reference.
 *           Neither local provider can chat.
 * Default models: local and local-node "use-lite", ollama "nomic-embed-text", openai
 * "text-embedding-3-small"; default URLs: ollama http://127.0.0.1:11434,
 * openai https://api.openai.com (a URL ending in /v1 is accepted too).
 *
 * HTTP providers send at most batch_size texts per request, give each request
 * timeout_ms, retry transient failures (connection refused or reset, timeout,
 * 429, 5xx) up to `retries` more times with exponential backoff (100 ms
 * doubling, capped at 5 s), and record every failed attempt in the error
 * journal (operation "ai.embed" / "ai.chat", key = provider:model). Answers
 * they cannot use (malformed JSON, wrong count, ragged or non-finite vectors)
 * are LH_EUPSTREAM and are not retried, as are other 4xx answers. After the
 * last attempt a timeout is LH_ETIMEOUT, a refused connection
 * LH_EUNAVAILABLE, anything else LH_EUPSTREAM; the message names the
 * provider, model, URL, HTTP status or network error, the number of
 * attempts and the start of the answer's body. Answers over 256 MiB are
 * refused. Texts that are not valid UTF-8 are sent with U+FFFD in place of
 * the bad bytes. All calls are thread-safe.
 */
#ifndef LH_AI_H
#define LH_AI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lakehouse/lh_err.h"
#include "lakehouse/lh_journal.h"

typedef struct lh_ai lh_ai;

typedef struct lh_ai_config {
    const char *provider;   /* hash | ollama | openai | local | local-node */
    const char *url;        /* base URL ("http://127.0.0.1:11434"); unused by hash;
                               local: NULL runs in process */
    const char *model;      /* embedding model; NULL: the provider's default */
    const char *chat_model; /* NULL or "": this lh_ai cannot chat */
    const char *api_key;    /* openai: sent as a Bearer token (NULL: none) */
    uint32_t dim;           /* hash: dimensions (0: 256) */
    long long timeout_ms;   /* per request (0: 30000) */
    int retries;            /* further attempts after a transient failure (<0: 3) */
    size_t batch_size;      /* texts per request (0: 32) */
    lh_errors *errors;      /* failures are recorded here (may be NULL) */
} lh_ai_config;

lh_code lh_ai_open(const lh_ai_config *cfg, lh_ai **out, lh_err *err);
void lh_ai_close(lh_ai *ai);

const char *lh_ai_provider(const lh_ai *ai);
const char *lh_ai_model(const lh_ai *ai); /* hash: "hash-<dim>" */
bool lh_ai_can_chat(const lh_ai *ai);

/* Called after each batch: done of total texts embedded. */
typedef void (*lh_ai_progress_fn)(void *ctx, size_t done, size_t total);

/* Embeds n texts (UTF-8, any length; "" is allowed). *out receives n x *dim
 * floats (free with free()); *dim is the model's dimension (the same on every
 * call). Empty input (n == 0) is LH_OK with *out NULL and *dim 0. */
lh_code lh_ai_embed(lh_ai *ai, const char *const *texts, size_t n, lh_ai_progress_fn progress,
                    void *progress_ctx, float **out, uint32_t *dim, lh_err *err);

typedef struct lh_ai_message {
    const char *role; /* system | user | assistant */
    const char *content;
} lh_ai_message;

/* One chat completion, not streamed. *reply: malloc'd UTF-8. */
lh_code lh_ai_chat(lh_ai *ai, const lh_ai_message *msgs, size_t n, char **reply, lh_err *err);

/* ---- the hash embedder, directly (no allocation of an lh_ai) ---- */

/* Writes the dim-dimensional hash embedding of text (len bytes) to out. */
void lh_ai_hash_embed(const char *text, size_t len, uint32_t dim, float *out);

/* ---- response parsing (exposed for tests and fuzzing; untrusted input) ---- */

/* Parses an embed response body of the given protocol ("ollama" or "openai")
 * expecting n vectors: *out n x *dim floats. *dim must be 0 (learn it) or
 * the expected dimension. LH_EUPSTREAM with the reason otherwise. */
lh_code lh_ai_parse_embed(const char *protocol, const char *body, size_t len, size_t n, float **out,
                          uint32_t *dim, lh_err *err);
/* Parses a chat response body: *reply malloc'd. */
lh_code lh_ai_parse_chat(const char *protocol, const char *body, size_t len, char **reply,
                         lh_err *err);

/* ---- the local sidecar ----
 *
 * `node <script> --host 127.0.0.1 --port <port>` serving the Ollama embed
 * protocol (POST /api/embed, GET /api/tags, GET /health). Started by
 * lh_sidecar_start, which returns once it answers /health (or fails with the
 * sidecar's stderr tail, LH_EUNAVAILABLE). A supervisor thread restarts it
 * when it exits (backoff 0.5 s doubling to 30 s, reset after a minute of
 * uptime), and records each exit in the error journal ("ai.sidecar"). The
 * child gets SIGKILL if this process dies.
 */
typedef struct lh_sidecar lh_sidecar;

typedef struct lh_sidecar_config {
    const char *node;   /* the node executable (NULL: "node" on PATH) */
    const char *script; /* NULL: $LAKEHOUSE_SIDECAR, else found from the executable's folder
                           <bin>: <bin>/../scripts/sidecar/server.mjs (bin/lakehouse in the
                           source tree), <bin>/../../../scripts/sidecar/server.mjs
                           (build/san/bin), <bin>/../share/lakehouse/sidecar/server.mjs */
    int port;           /* 0: a free loopback port */
    long long start_timeout_ms; /* 0: 60000 (the model loads in a few seconds) */
    lh_errors *errors;  /* may be NULL */
} lh_sidecar_config;

lh_code lh_sidecar_start(const lh_sidecar_config *cfg, lh_sidecar **out, lh_err *err);
/* Stops the sidecar (SIGTERM, then SIGKILL after 2 s) and the supervisor. */
void lh_sidecar_stop(lh_sidecar *s);
/* "http://127.0.0.1:<port>" — stable across restarts. */
const char *lh_sidecar_url(const lh_sidecar *s);
/* {state: starting|running|restarting|failed|stopped, pid, url, restarts,
 *  started_at, last_exit} for /health. */
json_t *lh_sidecar_status(lh_sidecar *s);

#endif
