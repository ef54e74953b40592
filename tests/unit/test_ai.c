/*
 * test_ai.c — the aibridge (src/ai/): the hash embedder's properties and a
 * known answer; both protocols' answer parsers against malformed and hostile
 * bodies; the HTTP client's batching, retries, timeouts and error messages
 * against a protocol fixture, with every failed attempt in a real error
 * journal; and the real Node sidecar started, killed and brought back by
 * lh_sidecar.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lakehouse/lh_ai.h"
#include "lakehouse/lh_log.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_store.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <math.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ---- */

static double dot(const float *a, const float *b, uint32_t dim)
{
    double s = 0;
    for (uint32_t i = 0; i < dim; i++) s += (double)a[i] * b[i];
    return s;
}

static void hash_of(const char *text, uint32_t dim, float *out)
{
    lh_ai_hash_embed(text, strlen(text), dim, out);
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle)) fail_msg("expected \"%s\" in \"%s\"", needle, haystack);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the hash embedder ---- */

static void t_hash_properties(void **state)
{
    (void)state;
    enum { D = 256 };
    float a[D], b[D], c[D], d[D];
    hash_of("forklift operator, night shift", D, a);
    hash_of("forklift operator, night shift", D, b);
    assert_memory_equal(a, b, sizeof a);
    assert_true(fabs(dot(a, a, D) - 1.0) < 1e-5);

    /* case folds, punctuation separates, similar wording beats unrelated */
    hash_of("FORKLIFT Operator night-shift", D, b);
    assert_true(dot(a, b, D) > 0.99);
    hash_of("forklift operators for the night shifts", D, c);
    hash_of("pastry chef with a sourdough speciality", D, d);
    assert_true(dot(a, c, D) > 0.5);
    assert_true(dot(a, c, D) > dot(a, d, D) + 0.3);

    /* no words: all zero, not NaN */
    const char *blank[] = {"", "   ", "!!! --- ???", "\t\n"};
    for (size_t i = 0; i < sizeof blank / sizeof blank[0]; i++) {
        hash_of(blank[i], D, a);
        for (int j = 0; j < D; j++) assert_true(a[j] == 0.0f);
    }

    /* every dimension from 1 up gives a unit vector */
    static float big[4096];
    uint32_t dims[] = {1, 2, 3, 7, 64, 255, 1000, 4096};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        hash_of("the quick brown fox jumps over the lazy dog", dims[i], big);
        double n = dot(big, big, dims[i]);
        assert_true(fabs(n - 1.0) < 1e-5);
    }
    /* dim 0 writes nothing */
    a[0] = 42;
    lh_ai_hash_embed("text", 4, 0, a);
    assert_true(a[0] == 42);
}

static void t_hash_hostile_bytes(void **state)
{
    (void)state;
    enum { D = 128 };
    float a[D], b[D];
    /* invalid UTF-8, embedded NULs (len counts them), high bytes: all words */
    const char raw[] = "\xff\xfe\x00\xc3\x28 caf\xc3\xa9 \xed\xa0\x80 \x80\x80";
    lh_ai_hash_embed(raw, sizeof raw - 1, D, a);
    assert_true(fabs(dot(a, a, D) - 1.0) < 1e-5);
    lh_ai_hash_embed(raw, sizeof raw - 1, D, b);
    assert_memory_equal(a, b, sizeof a);
    /* non-ASCII letters are part of words: "café" differs from "caf" */
    hash_of("caf\xc3\xa9", D, a);
    hash_of("caf", D, b);
    assert_true(dot(a, b, D) < 0.9);
    /* a 1 MiB word and a 1 MiB text of single letters */
    size_t n = 1 << 20;
    char *huge = lh_xmalloc(n + 1);
    memset(huge, 'q', n);
    huge[n] = '\0';
    lh_ai_hash_embed(huge, n, D, a);
    assert_true(fabs(dot(a, a, D) - 1.0) < 1e-5);
    for (size_t i = 0; i < n; i++) huge[i] = (i & 1) ? ' ' : (char)('a' + i % 26);
    lh_ai_hash_embed(huge, n, D, a);
    assert_true(fabs(dot(a, a, D) - 1.0) < 1e-5);
    free(huge);
}

/* Pins the algorithm (FNV-1a 64 + fmix64, weights 1 and 0.5): a change to
 * any constant changes stored hash embeddings, so it must fail here. */
static void t_hash_known_answer(void **state)
{
    (void)state;
    float v[8];
    hash_of("Foo", 8, v);
    /* "foo": the word (-1.0 in bucket 0) and "^fo", "foo", "oo$" (0.5 each,
     * two landing in bucket 1), divided by the norm 1.5 */
    static const float want[8] = {-2.0f / 3, 2.0f / 3, 0, 0, 0, 1.0f / 3, 0, 0};
    for (int i = 0; i < 8; i++)
        if (fabsf(v[i] - want[i]) > 1e-6f) fail_msg("v[%d] = %.9g, want %.9g", i, v[i], want[i]);
}

static void progress_count(void *ctx, size_t done, size_t total)
{
    size_t *calls = ctx;
    assert_true(done <= total);
    calls[0]++;
    calls[1] = done;
}

static void t_hash_provider(void **state)
{
    (void)state;
    lh_ai *ai;
    lh_err err;
    assert_int_equal(lh_ai_open(&(lh_ai_config){.provider = "hash", .batch_size = 2}, &ai, &err),
                     LH_OK);
    assert_string_equal(lh_ai_provider(ai), "hash");
    assert_string_equal(lh_ai_model(ai), "hash-256");
    assert_false(lh_ai_can_chat(ai));
    const char *texts[] = {"alpha beta", "", "gamma"};
    float *out;
    uint32_t dim;
    size_t calls[2] = {0};
    assert_int_equal(lh_ai_embed(ai, texts, 3, progress_count, calls, &out, &dim, &err), LH_OK);
    assert_int_equal(dim, 256);
    assert_int_equal(calls[0], 2);
    assert_int_equal(calls[1], 3);
    float direct[256];
    hash_of("gamma", 256, direct);
    assert_memory_equal(out + 2 * 256, direct, sizeof direct);
    free(out);
    assert_int_equal(lh_ai_embed(ai, texts, 0, NULL, NULL, &out, &dim, &err), LH_OK);
    assert_null(out);
    assert_int_equal(dim, 0);
    char *reply;
    lh_ai_message m = {"user", "hi"};
    assert_int_equal(lh_ai_chat(ai, &m, 1, &reply, &err), LH_EUNSUPPORTED);
    lh_ai_close(ai);

    /* the model name chooses the dimension */
    assert_int_equal(
        lh_ai_open(&(lh_ai_config){.provider = "hash", .model = "hash-512"}, &ai, &err), LH_OK);
    assert_int_equal(lh_ai_embed(ai, texts, 1, NULL, NULL, &out, &dim, &err), LH_OK);
    assert_int_equal(dim, 512);
    free(out);
    lh_ai_close(ai);

    assert_int_equal(lh_ai_open(&(lh_ai_config){.provider = "hash", .model = "minilm"}, &ai, &err),
                     LH_EINVAL);
    assert_contains(err.message, "hash-<dimensions>");
    assert_int_equal(lh_ai_open(&(lh_ai_config){.provider = "hash", .dim = 100000}, &ai, &err),
                     LH_EINVAL);
    assert_int_equal(lh_ai_open(&(lh_ai_config){.provider = "bert"}, &ai, &err), LH_EINVAL);
    assert_contains(err.message, "unknown provider \"bert\"");
    assert_int_equal(lh_ai_open(&(lh_ai_config){.provider = "local-node"}, &ai, &err), LH_EINVAL);
    assert_contains(err.message, "needs a url");
    assert_int_equal(lh_ai_open(&(lh_ai_config){.provider = "local", .model = "bert"}, &ai, &err),
                     LH_EINVAL);
    assert_contains(err.message, "one model");
    assert_int_equal(lh_ai_open(&(lh_ai_config){.provider = "ollama", .url = "ftp://x"}, &ai, &err),
                     LH_EINVAL);
    assert_int_equal(
        lh_ai_open(
            &(lh_ai_config){.provider = "local", .url = "http://127.0.0.1:1", .chat_model = "x"},
            &ai, &err),
        LH_EINVAL);
    assert_contains(err.message, "cannot chat");
    assert_int_equal(lh_ai_open(&(lh_ai_config){.provider = "local", .chat_model = "x"}, &ai, &err),
                     LH_EINVAL);
    assert_contains(err.message, "cannot chat");
}

/* Concurrent calls (as a server's queries make them) each get exactly the
 * vectors they would get alone. */
struct local_worker {
    lh_ai *ai;
    const float *expected; /* 6 x 512 */
    int seed;
    int failures;
};

static const char *local_texts[] = {"forklift operator",
                                    "registered nurse, night shifts",
                                    "pastry chef",
                                    "",
                                    "python developer (remote)",
                                    "Ünïcödé ﬁ 日本語 😀"};

static void *local_worker_main(void *arg)
{
    struct local_worker *w = arg;
    for (int round = 0; round < 25; round++) {
        size_t n = 1 + (size_t)((w->seed + round) % 3), first = (size_t)((w->seed * 7 + round) % 4);
        float *out;
        uint32_t dim;
        lh_err err;
        if (lh_ai_embed(w->ai, local_texts + first, n, NULL, NULL, &out, &dim, &err) != LH_OK) {
            w->failures++;
            continue;
        }
        if (memcmp(out, w->expected + first * 512, n * 512 * sizeof(float)) != 0) w->failures++;
        free(out);
    }
    return NULL;
}

static void t_local_concurrent(void **state)
{
    (void)state;
    lh_ai *ai;
    lh_err err;
    lh_code rc = lh_ai_open(&(lh_ai_config){.provider = "local"}, &ai, &err);
    if (rc) fail_msg("%s", err.message);
    float expected[6 * 512];
    for (size_t i = 0; i < 6; i++) {
        float *one;
        uint32_t dim;
        assert_int_equal(lh_ai_embed(ai, local_texts + i, 1, NULL, NULL, &one, &dim, &err), LH_OK);
        memcpy(expected + i * 512, one, sizeof(float) * 512);
        free(one);
    }
    enum { T = 6 };
    pthread_t tid[T];
    struct local_worker w[T];
    for (int t = 0; t < T; t++) {
        w[t] = (struct local_worker){.ai = ai, .expected = expected, .seed = t};
        assert_int_equal(pthread_create(&tid[t], NULL, local_worker_main, &w[t]), 0);
    }
    for (int t = 0; t < T; t++) {
        pthread_join(tid[t], NULL);
        assert_int_equal(w[t].failures, 0);
    }
    lh_ai_close(ai);
}

/* "local" without a URL: the bundled model in this process (src/model/). */
static void t_local_in_process(void **state)
{
    (void)state;
    lh_ai *ai;
    lh_err err;
    lh_code rc = lh_ai_open(&(lh_ai_config){.provider = "local"}, &ai, &err);
    if (rc) fail_msg("%s", err.message);
    assert_string_equal(lh_ai_provider(ai), "local");
    assert_string_equal(lh_ai_model(ai), "use-lite");
    assert_false(lh_ai_can_chat(ai));
    const char *texts[] = {"a forklift operator", "warehouse forklift driver", "pastry chef", ""};
    float *out;
    uint32_t dim;
    size_t calls[2] = {0, 0};
    rc = lh_ai_embed(ai, texts, 4, progress_count, calls, &out, &dim, &err);
    if (rc) fail_msg("%s", err.message);
    assert_int_equal(dim, 512);
    assert_int_equal(calls[0], 1);
    double near = dot(out, out + 512, 512), far = dot(out, out + 1024, 512);
    assert_true(near > far + 0.1);
    for (int i = 0; i < 4; i++)
        assert_true(fabs(dot(out + i * 512, out + i * 512, 512) - 1.0) < 1e-4);
    free(out);
    lh_ai_close(ai);
}

/* ---- parsing answers ---- */

static lh_code parse(const char *protocol, const char *body, size_t n, uint32_t *dim, float **out,
                     lh_err *err)
{
    return lh_ai_parse_embed(protocol, body, strlen(body), n, out, dim, err);
}

/* The body must be refused with LH_EUPSTREAM and a message containing why. */
static void refused(const char *protocol, const char *body, size_t n, uint32_t dim, const char *why)
{
    float *out = (float *)1;
    lh_err err;
    lh_code rc = parse(protocol, body, n, &dim, &out, &err);
    if (rc != LH_EUPSTREAM || !strstr(err.message, why))
        fail_msg("%s body %.80s: rc %d \"%s\", expected \"%s\"", protocol, body, rc,
                 rc ? err.message : "", why);
    assert_null(out);
}

static void t_parse_ollama(void **state)
{
    (void)state;
    float *out;
    uint32_t dim = 0;
    lh_err err;
    assert_int_equal(parse("ollama", "{\"model\":\"m\",\"embeddings\":[[1,2.5,-3],[0,0,1e-3]]}", 2,
                           &dim, &out, &err),
                     LH_OK);
    assert_int_equal(dim, 3);
    assert_true(out[1] == 2.5f && out[2] == -3.0f && out[5] == 1e-3f);
    free(out);
    /* n == 0 */
    dim = 0;
    assert_int_equal(parse("ollama", "{\"embeddings\":[]}", 0, &dim, &out, &err), LH_OK);
    assert_null(out);

    refused("ollama", "{\"embeddings\":[[1,2],[3,", 2, 0, "not JSON");
    refused("ollama", "", 1, 0, "not JSON");
    refused("ollama", "[[1,2]]", 1, 0, "an array, not a JSON object");
    refused("ollama", "{\"embedding\":[1,2]}", 1, 0, "no \"embeddings\"");
    refused("ollama", "{\"embeddings\":{\"0\":[1]}}", 1, 0, "not an array");
    refused("ollama", "{\"embeddings\":[[1,2]]}", 2, 0, "1 embeddings for 2 texts");
    refused("ollama", "{\"embeddings\":[[1,2],[3,4],[5,6]]}", 2, 0, "3 embeddings for 2 texts");
    refused("ollama", "{\"embeddings\":[[1,2],[3]]}", 2, 0,
            "embeddings[1] has 1 dimensions, others have 2");
    refused("ollama", "{\"embeddings\":[[1,2],[3,4]]}", 2, 3,
            "embeddings[0] has 2 dimensions, the model's are 3");
    refused("ollama", "{\"embeddings\":[[1,\"2\"]]}", 1, 0, "embeddings[0][1] is a string");
    refused("ollama", "{\"embeddings\":[[1,null]]}", 1, 0, "embeddings[0][1] is null");
    refused("ollama", "{\"embeddings\":[[true]]}", 1, 0, "is a boolean");
    refused("ollama", "{\"embeddings\":[\"abc\"]}", 1, 0, "embeddings[0] is a string");
    refused("ollama", "{\"embeddings\":[[]]}", 1, 0, "embeddings[0] is empty");
    refused("ollama", "{\"embeddings\":[[NaN]]}", 1, 0, "not JSON");
    refused("ollama", "{\"embeddings\":[[1e400]]}", 1, 0, "not JSON");
    refused("ollama", "{\"embeddings\":[[1e39]]}", 1, 0, "is not a finite float");
    refused("ollama", "{\"error\":\"model 'x' not found\"}", 1, 0,
            "the answer is an error: model 'x' not found");
    refused("ollama", "{\"error\":\"\"}", 1, 0, "the answer is an error: (no message)");

    /* more dimensions than any model has */
    lh_buf huge = {0};
    lh_buf_puts(&huge, "{\"embeddings\":[[");
    for (int i = 0; i < 70000; i++) lh_buf_puts(&huge, i ? ",0" : "0");
    lh_buf_puts(&huge, "]]}");
    refused("ollama", huge.data, 1, 0, "70000 dimensions (at most 65536)");
    lh_buf_free(&huge);

    assert_int_equal(parse("grpc", "{}", 1, &dim, &out, &err), LH_EINVAL);
}

static void t_parse_openai(void **state)
{
    (void)state;
    float *out;
    uint32_t dim = 0;
    lh_err err;
    /* data[] out of order: placed by index */
    const char *shuffled = "{\"object\":\"list\",\"data\":["
                           "{\"index\":2,\"embedding\":[2,2]},"
                           "{\"index\":0,\"embedding\":[0,0]},"
                           "{\"index\":1,\"embedding\":[1,1]}],\"model\":\"m\"}";
    assert_int_equal(parse("openai", shuffled, 3, &dim, &out, &err), LH_OK);
    assert_int_equal(dim, 2);
    for (int i = 0; i < 3; i++) assert_true(out[i * 2] == (float)i && out[i * 2 + 1] == (float)i);
    free(out);

    refused("openai",
            "{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":0,\"embedding\":[2]}]}", 2, 0,
            "data[1].index = 0 appears twice");
    refused("openai", "{\"data\":[{\"index\":5,\"embedding\":[1]}]}", 1, 0,
            "data[0].index = 5 is outside 0..0");
    refused("openai", "{\"data\":[{\"index\":-1,\"embedding\":[1]}]}", 1, 0, "is outside");
    refused("openai", "{\"data\":[{\"embedding\":[1]}]}", 1, 0, "data[0] has no integer \"index\"");
    refused("openai", "{\"data\":[{\"index\":\"0\",\"embedding\":[1]}]}", 1, 0,
            "no integer \"index\"");
    refused("openai", "{\"data\":[{\"index\":0}]}", 1, 0, "data[0] has no \"embedding\"");
    refused("openai", "{\"data\":[{\"index\":0,\"embedding\":\"AAAA\"}]}", 1, 0, "base64");
    refused("openai", "{\"data\":[7]}", 1, 0, "data[0] is a number, not an object");
    refused("openai", "{\"data\":[]}", 1, 0, "0 embeddings for 1 texts");
    refused("openai", "{\"embeddings\":[[1]]}", 1, 0, "no \"data\"");
    refused("openai",
            "{\"error\":{\"message\":\"Incorrect API key "
            "provided\",\"type\":\"invalid_request_error\"}}",
            1, 0, "the answer is an error: Incorrect API key provided");
    refused("openai",
            "{\"data\":[{\"index\":0,\"embedding\":[1,2]},{\"index\":1,\"embedding\":[1]}]}", 2, 0,
            "has 1 dimensions, others have 2");
}

static void t_parse_chat(void **state)
{
    (void)state;
    char *reply;
    lh_err err;
    const char *ok_ollama = "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"hi "
                            "\\u00e9\"},\"done\":true}";
    assert_int_equal(lh_ai_parse_chat("ollama", ok_ollama, strlen(ok_ollama), &reply, &err), LH_OK);
    assert_string_equal(reply, "hi \xc3\xa9");
    free(reply);
    const char *ok_openai =
        "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"yes\"}}]}";
    assert_int_equal(lh_ai_parse_chat("openai", ok_openai, strlen(ok_openai), &reply, &err), LH_OK);
    assert_string_equal(reply, "yes");
    free(reply);

    const struct {
        const char *protocol, *body, *why;
    } bad[] = {
        {"ollama", "{\"message\":{\"role\":\"assistant\"}}", "\"content\" is missing"},
        {"ollama", "{\"message\":\"hi\"}", "no \"message\" object"},
        {"ollama", "{\"error\":\"boom\"}", "the answer is an error: boom"},
        {"ollama", "{\"message\":{\"content\":", "not JSON"},
        {"openai", "{\"choices\":[]}", "no \"choices\""},
        {"openai", "{\"choices\":[{\"message\":{\"content\":null}}]}", "\"content\" is null"},
        {"openai", "{\"choices\":[{\"text\":\"x\"}]}", "choices[0] has no \"message\""},
        {"openai", "{\"error\":{\"message\":\"rate limited\"}}", "rate limited"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lh_code rc =
            lh_ai_parse_chat(bad[i].protocol, bad[i].body, strlen(bad[i].body), &reply, &err);
        if (rc != LH_EUPSTREAM || !strstr(err.message, bad[i].why))
            fail_msg("%s: rc %d \"%s\", expected \"%s\"", bad[i].body, rc, err.message, bad[i].why);
        assert_null(reply);
    }
}

/* ---- PROTOCOL FIXTURE ----
 *
 * A loopback HTTP server (libmicrohttpd) speaking the Ollama and OpenAI wire
 * formats: POST /api/embed, /api/chat, /v1/embeddings, /v1/chat/completions.
 * It stands in for a remote provider so that failures can be scripted: each
 * request takes the next action of `script` ("ok" when it runs out). The
 * vector of text t is {strlen(t), t[0], 1, position in its batch}. The real
 * sidecar is tested against the real Node process further down.
 */
struct fixture {
    struct MHD_Daemon *daemon;
    char url[64];
    pthread_mutex_t mu;
    const char *script[8];
    size_t n_script, next;
    long sleep_ms; /* how long the "sleep" action sleeps */
    struct seen {
        int requests;
        size_t max_batch;  /* the most texts in one embedding request */
        char auth[128];    /* the last request's Authorization header */
        char path[64];     /* the last request's path */
        bool stream_false; /* the last chat request said "stream": false */
    } seen;
    /* the error journal every lh_ai in these tests records into */
    char *dir;
    lh_store *store;
    lh_errors *errors;
};

struct exchange {
    lh_buf body;
};

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *body)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static char *embed_answer(const char *path, json_t *input, const char *action)
{
    bool openai = strcmp(path, "/v1/embeddings") == 0;
    size_t n = json_array_size(input);
    if (strcmp(action, "wrongcount") == 0 && n) n--;
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        size_t k = openai ? n - 1 - i : i; /* openai: reversed, placed by index */
        const char *t = json_string_value(json_array_get(input, k));
        json_t *v = json_pack("[f, f, f, f]", (double)strlen(t), (double)(unsigned char)t[0], 1.0,
                              (double)k);
        json_array_append_new(list, openai ? json_pack("{s:s, s:I, s:o}", "object", "embedding",
                                                       "index", (json_int_t)k, "embedding", v)
                                           : v);
    }
    json_t *root = openai
                       ? json_pack("{s:s, s:o, s:s}", "object", "list", "data", list, "model", "m")
                       : json_pack("{s:s, s:o}", "model", "m", "embeddings", list);
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return text;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    (void)version;
    struct fixture *f = cls;
    struct exchange *x = *con_cls;
    if (!x) {
        *con_cls = lh_xcalloc(1, sizeof *x);
        return MHD_YES;
    }
    if (*upload_size) {
        lh_buf_append(&x->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&f->mu);
    const char *action = f->next < f->n_script ? f->script[f->next++] : "ok";
    f->seen.requests++;
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    snprintf(f->seen.auth, sizeof f->seen.auth, "%s", auth ? auth : "");
    snprintf(f->seen.path, sizeof f->seen.path, "%s", url);
    long sleep_for = f->sleep_ms;
    pthread_mutex_unlock(&f->mu);

    if (strcmp(method, "POST") != 0) return respond(c, 405, "{\"error\":\"method\"}");
    if (strcmp(action, "500") == 0) return respond(c, 500, "{\"error\":\"the GPU caught fire\"}");
    if (strcmp(action, "503") == 0) return respond(c, 503, "overloaded \xff\xfe");
    if (strcmp(action, "429") == 0) return respond(c, 429, "{\"error\":\"slow down\"}");
    if (strcmp(action, "400") == 0) return respond(c, 400, "{\"error\":\"input too long\"}");
    if (strcmp(action, "malformed") == 0) return respond(c, 200, "{\"embeddings\":[[1,2");
    if (strcmp(action, "sleep") == 0) sleep_ms(sleep_for);

    json_t *req = json_loadb(x->body.data ? x->body.data : "", x->body.len, 0, NULL);
    if (!req) return respond(c, 400, "{\"error\":\"bad json\"}");
    char *answer = NULL;
    if (strcmp(url, "/api/embed") == 0 || strcmp(url, "/v1/embeddings") == 0) {
        json_t *input = json_object_get(req, "input");
        pthread_mutex_lock(&f->mu);
        if (json_array_size(input) > f->seen.max_batch) f->seen.max_batch = json_array_size(input);
        pthread_mutex_unlock(&f->mu);
        answer = embed_answer(url, input, action);
    } else if (strcmp(url, "/api/chat") == 0 || strcmp(url, "/v1/chat/completions") == 0) {
        json_t *msgs = json_object_get(req, "messages");
        const char *last = json_string_value(
            json_object_get(json_array_get(msgs, json_array_size(msgs) - 1), "content"));
        json_t *message =
            json_pack("{s:s, s:s+}", "role", "assistant", "content", "echo: ", last ? last : "");
        pthread_mutex_lock(&f->mu);
        f->seen.stream_false = json_is_false(json_object_get(req, "stream"));
        pthread_mutex_unlock(&f->mu);
        json_t *root =
            strcmp(url, "/api/chat") == 0
                ? json_pack("{s:o, s:b}", "message", message, "done", 1)
                : json_pack("{s:[{s:i, s:o}]}", "choices", "index", 0, "message", message);
        answer = json_dumps(root, JSON_COMPACT);
        json_decref(root);
    }
    json_decref(req);
    enum MHD_Result ok =
        answer ? respond(c, 200, answer) : respond(c, 404, "{\"error\":\"no route\"}");
    free(answer);
    return ok;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode code)
{
    (void)cls, (void)c, (void)code;
    struct exchange *x = *con_cls;
    if (x) {
        lh_buf_free(&x->body);
        free(x);
        *con_cls = NULL;
    }
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int fixture_setup(void **state)
{
    struct fixture *f = lh_xcalloc(1, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    f->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                                 NULL, NULL, handle, f, MHD_OPTION_SOCK_ADDR, &addr,
                                 MHD_OPTION_NOTIFY_COMPLETED, completed, f, MHD_OPTION_END);
    assert_non_null(f->daemon);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(f->daemon, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%u", (unsigned)info->port);

    char tmpl[] = "/tmp/lh-ai-XXXXXX";
    f->dir = lh_xstrdup(mkdtemp(tmpl));
    char *root = lh_xasprintf("%s/bucket", f->dir), *wal = lh_xasprintf("%s/wal", f->dir);
    lh_err err;
    assert_int_equal(lh_store_fs_open("local", root, &f->store, &err), LH_OK);
    lh_journal_options o = {
        .wal_dir = wal, .replica = "t", .flush_ms = 3600000, .flush_events = 100000};
    assert_int_equal(lh_errors_open(f->store, &o, &f->errors, &err), LH_OK);
    free(root);
    free(wal);
    *state = f;
    return 0;
}

static int fixture_teardown(void **state)
{
    struct fixture *f = *state;
    MHD_stop_daemon(f->daemon);
    lh_errors_close(f->errors);
    lh_store_close(f->store);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f->dir);
    pthread_mutex_destroy(&f->mu);
    free(f);
    return 0;
}

/* Resets the counters and sets the script for the next calls. */
static void script(struct fixture *f, const char *a, const char *b, const char *c, const char *d)
{
    pthread_mutex_lock(&f->mu);
    const char *all[] = {a, b, c, d};
    f->n_script = 0;
    for (size_t i = 0; i < 4 && all[i]; i++) f->script[f->n_script++] = all[i];
    f->next = 0;
    f->seen.requests = 0;
    f->seen.max_batch = 0;
    pthread_mutex_unlock(&f->mu);
}

/* What the server saw, read under its lock. */
static struct seen observed(struct fixture *f)
{
    pthread_mutex_lock(&f->mu);
    struct seen copy = f->seen;
    pthread_mutex_unlock(&f->mu);
    return copy;
}

static void set_sleep(struct fixture *f, long ms)
{
    pthread_mutex_lock(&f->mu);
    f->sleep_ms = ms;
    pthread_mutex_unlock(&f->mu);
}

static lh_ai *open_fixture(struct fixture *f, const char *provider, int retries,
                           long long timeout_ms, size_t batch)
{
    lh_ai *ai;
    lh_err err;
    lh_ai_config cfg = {.provider = provider,
                        .url = f->url,
                        .model = "m",
                        .chat_model = "chatty",
                        .api_key = strcmp(provider, "openai") == 0 ? "sk-test" : NULL,
                        .retries = retries,
                        .timeout_ms = timeout_ms,
                        .batch_size = batch,
                        .errors = f->errors};
    if (strcmp(provider, "local") == 0) cfg.chat_model = NULL;
    assert_int_equal(lh_ai_open(&cfg, &ai, &err), LH_OK);
    return ai;
}

/* Failures recorded since since_ms whose message contains needle. */
static size_t journal_count(struct fixture *f, int64_t since_ms, const char *needle)
{
    json_t *recs;
    lh_err err;
    assert_int_equal(lh_errors_query(f->errors, since_ms, 1000, &recs, &err), LH_OK);
    size_t n = 0, i;
    json_t *r;
    json_array_foreach(recs, i, r)
    {
        const char *msg = json_string_value(json_object_get(r, "error"));
        if (msg && strstr(msg, needle)) n++;
    }
    json_decref(recs);
    return n;
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static const char *const TEXTS[] = {"a",      "bb", "ccc", "dddd", "eeeee",
                                    "ffffff", "g",  "hh",  "iii",  "jjjj"};

static void t_http_batching(void **state)
{
    struct fixture *f = *state;
    script(f, NULL, NULL, NULL, NULL);
    lh_ai *ai = open_fixture(f, "ollama", 3, 5000, 3);
    float *out;
    uint32_t dim;
    lh_err err;
    size_t calls[2] = {0};
    assert_int_equal(lh_ai_embed(ai, TEXTS, 10, progress_count, calls, &out, &dim, &err), LH_OK);
    assert_int_equal(dim, 4);
    assert_int_equal(observed(f).requests, 4); /* 3 + 3 + 3 + 1 */
    assert_int_equal(observed(f).max_batch, 3);
    assert_int_equal(calls[0], 4);
    assert_int_equal(calls[1], 10);
    assert_string_equal(observed(f).path, "/api/embed");
    assert_string_equal(observed(f).auth, "");
    for (int i = 0; i < 10; i++) {
        assert_true(out[i * 4] == (float)strlen(TEXTS[i]));
        assert_true(out[i * 4 + 1] == (float)TEXTS[i][0]);
        assert_true(out[i * 4 + 3] == (float)(i % 3));
    }
    free(out);
    /* "" and invalid UTF-8 travel fine (the latter as U+FFFD) */
    const char *odd[] = {"", "\xff"
                             "bad"};
    assert_int_equal(lh_ai_embed(ai, odd, 2, NULL, NULL, &out, &dim, &err), LH_OK);
    assert_true(out[0] == 0.0f && out[4] == 6.0f);
    free(out);
    lh_ai_close(ai);
}

static void t_http_retries_transient(void **state)
{
    struct fixture *f = *state;
    int64_t since = now_ms();
    lh_ai *ai = open_fixture(f, "ollama", 3, 5000, 32);
    float *out;
    uint32_t dim;
    lh_err err;

    script(f, "500", "500", "ok", NULL);
    assert_int_equal(lh_ai_embed(ai, TEXTS, 2, NULL, NULL, &out, &dim, &err), LH_OK);
    assert_int_equal(observed(f).requests, 3);
    free(out);
    assert_int_equal(journal_count(f, since, "HTTP 500: {\"error\":\"the GPU caught fire\"}"), 2);
    assert_int_equal(journal_count(f, since, "/api/embed: attempt 1 of 4: HTTP 500"), 1);
    assert_int_equal(journal_count(f, since, "attempt 2 of 4"), 1);

    script(f, "429", "503", "ok", NULL);
    assert_int_equal(lh_ai_embed(ai, TEXTS, 2, NULL, NULL, &out, &dim, &err), LH_OK);
    assert_int_equal(observed(f).requests, 3);
    free(out);
    /* the journal kept the record though the body was not UTF-8 */
    assert_int_equal(journal_count(f, since, "HTTP 503: overloaded ??"), 1);

    /* every attempt fails: the caller gets the whole story */
    script(f, "500", "500", "500", "500");
    assert_int_equal(lh_ai_embed(ai, TEXTS, 2, NULL, NULL, &out, &dim, &err), LH_EUPSTREAM);
    assert_null(out);
    assert_int_equal(observed(f).requests, 4);
    char want[256];
    snprintf(want, sizeof want,
             "embedding provider ollama (model m) at %s/api/embed: HTTP 500 after 4 attempts: "
             "{\"error\":\"the GPU caught fire\"}",
             f->url);
    assert_string_equal(err.message, want);
    lh_ai_close(ai);

    /* the records carry the operation and provider:model */
    json_t *recs;
    assert_int_equal(lh_errors_query(f->errors, since, 1, &recs, &err), LH_OK);
    json_t *r = json_array_get(recs, 0);
    assert_string_equal(json_string_value(json_object_get(r, "operation")), "ai.embed");
    assert_string_equal(json_string_value(json_object_get(r, "key")), "ollama:m");
    assert_string_equal(json_string_value(json_object_get(r, "code")), "upstream_error");
    json_decref(recs);
}

static void t_http_not_retried(void **state)
{
    struct fixture *f = *state;
    int64_t since = now_ms();
    lh_ai *ai = open_fixture(f, "ollama", 3, 5000, 32);
    float *out;
    uint32_t dim;
    lh_err err;

    script(f, "400", NULL, NULL, NULL);
    assert_int_equal(lh_ai_embed(ai, TEXTS, 3, NULL, NULL, &out, &dim, &err), LH_EUPSTREAM);
    assert_int_equal(observed(f).requests, 1);
    assert_contains(err.message, "/api/embed: HTTP 400: {\"error\":\"input too long\"}");
    assert_int_equal(journal_count(f, since, "attempt 1 of 1: HTTP 400"), 1);

    script(f, "malformed", NULL, NULL, NULL);
    assert_int_equal(lh_ai_embed(ai, TEXTS, 3, NULL, NULL, &out, &dim, &err), LH_EUPSTREAM);
    assert_int_equal(observed(f).requests, 1);
    assert_contains(err.message, "embedding provider ollama (model m) at ");
    assert_contains(err.message, "/api/embed: unusable answer: the answer is not JSON");
    assert_int_equal(journal_count(f, since, "unusable answer"), 1);

    script(f, "wrongcount", NULL, NULL, NULL);
    assert_int_equal(lh_ai_embed(ai, TEXTS, 3, NULL, NULL, &out, &dim, &err), LH_EUPSTREAM);
    assert_int_equal(observed(f).requests, 1);
    assert_contains(err.message, "unusable answer: 2 embeddings for 3 texts");

    /* a failure in the second batch fails the call and leaks nothing */
    lh_ai_close(ai);
    ai = open_fixture(f, "ollama", 0, 5000, 2);
    script(f, "ok", "400", NULL, NULL);
    assert_int_equal(lh_ai_embed(ai, TEXTS, 4, NULL, NULL, &out, &dim, &err), LH_EUPSTREAM);
    assert_null(out);
    assert_int_equal(observed(f).requests, 2);
    lh_ai_close(ai);
}

static void t_http_timeout(void **state)
{
    struct fixture *f = *state;
    int64_t since = now_ms();
    set_sleep(f, 1500);
    lh_ai *ai = open_fixture(f, "ollama", 1, 200, 32);
    float *out;
    uint32_t dim;
    lh_err err;
    script(f, "sleep", "sleep", NULL, NULL);
    int64_t t0 = now_ms();
    lh_code rc = lh_ai_embed(ai, TEXTS, 1, NULL, NULL, &out, &dim, &err);
    int64_t took = now_ms() - t0;
    assert_int_equal(rc, LH_ETIMEOUT);
    assert_int_equal(observed(f).requests, 2);
    assert_true(took >= 400 && took < 1400); /* two 200 ms attempts and a 100 ms pause */
    assert_contains(err.message, "/api/embed: ");
    assert_contains(err.message, "after 2 attempts");
    assert_contains(err.message, "imed out");
    assert_int_equal(journal_count(f, since, "attempt 2 of 2"), 1);
    lh_ai_close(ai);
    set_sleep(f, 0);
}

static void t_http_refused(void **state)
{
    struct fixture *f = *state;
    /* a port that was free a moment ago */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/", (unsigned)ntohs(a.sin_port));
    lh_ai *ai;
    lh_err err;
    int64_t since = now_ms();
    assert_int_equal(
        lh_ai_open(
            &(lh_ai_config){.provider = "local", .url = url, .retries = 1, .errors = f->errors},
            &ai, &err),
        LH_OK);
    assert_string_equal(lh_ai_model(ai), "use-lite");
    float *out;
    uint32_t dim;
    assert_int_equal(lh_ai_embed(ai, TEXTS, 1, NULL, NULL, &out, &dim, &err), LH_EUNAVAILABLE);
    char want[128];
    snprintf(want, sizeof want,
             "embedding provider local (model use-lite) at http://127.0.0.1:%u/api/embed: ",
             (unsigned)ntohs(a.sin_port));
    assert_contains(err.message, want);
    assert_contains(err.message, "is the server running?");
    assert_contains(err.message, "after 2 attempts");
    assert_int_equal(journal_count(f, since, "(model use-lite)"), 2);
    lh_ai_close(ai);
}

static void t_openai_and_chat(void **state)
{
    struct fixture *f = *state;
    script(f, NULL, NULL, NULL, NULL);
    lh_ai *ai = open_fixture(f, "openai", 3, 5000, 4);
    float *out;
    uint32_t dim;
    lh_err err;
    assert_int_equal(lh_ai_embed(ai, TEXTS, 6, NULL, NULL, &out, &dim, &err), LH_OK);
    assert_string_equal(observed(f).path, "/v1/embeddings");
    assert_string_equal(observed(f).auth, "Bearer sk-test");
    for (int i = 0; i < 6; i++) assert_true(out[i * 4] == (float)strlen(TEXTS[i]));
    free(out);

    assert_true(lh_ai_can_chat(ai));
    lh_ai_message msgs[] = {{"system", "be brief"}, {"user", "h\xc3\xa9llo \"you\""}};
    char *reply;
    assert_int_equal(lh_ai_chat(ai, msgs, 2, &reply, &err), LH_OK);
    assert_string_equal(observed(f).path, "/v1/chat/completions");
    assert_string_equal(reply, "echo: h\xc3\xa9llo \"you\"");
    free(reply);
    assert_int_equal(lh_ai_chat(ai, msgs, 0, &reply, &err), LH_EINVAL);
    lh_ai_close(ai);

    /* a base URL that already ends in /v1 is not given a second one */
    char v1[80];
    snprintf(v1, sizeof v1, "%s/v1/", f->url);
    assert_int_equal(
        lh_ai_open(&(lh_ai_config){.provider = "openai", .url = v1, .chat_model = "c"}, &ai, &err),
        LH_OK);
    assert_int_equal(lh_ai_chat(ai, msgs, 2, &reply, &err), LH_OK);
    assert_string_equal(observed(f).path, "/v1/chat/completions");
    free(reply);
    lh_ai_close(ai);

    ai = open_fixture(f, "ollama", 0, 5000, 4);
    assert_int_equal(lh_ai_chat(ai, msgs, 2, &reply, &err), LH_OK);
    assert_string_equal(observed(f).path, "/api/chat");
    assert_true(observed(f).stream_false);
    assert_string_equal(reply, "echo: h\xc3\xa9llo \"you\"");
    free(reply);
    script(f, "500", NULL, NULL, NULL);
    int64_t since = now_ms();
    assert_int_equal(lh_ai_chat(ai, msgs, 2, &reply, &err), LH_EUPSTREAM);
    assert_contains(err.message, "chat provider ollama (model chatty) at ");
    json_t *recs;
    assert_int_equal(lh_errors_query(f->errors, since, 1, &recs, &err), LH_OK);
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 0), "operation")),
                        "ai.chat");
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 0), "key")),
                        "ollama:chatty");
    json_decref(recs);
    lh_ai_close(ai);
}

struct worker {
    lh_ai *ai;
    lh_code rc;
};

static void *embed_worker(void *arg)
{
    struct worker *w = arg;
    for (int round = 0; round < 5 && w->rc == LH_OK; round++) {
        float *out;
        uint32_t dim;
        w->rc = lh_ai_embed(w->ai, TEXTS, 10, NULL, NULL, &out, &dim, NULL);
        if (w->rc == LH_OK) {
            for (int i = 0; i < 10; i++)
                if (out[i * 4] != (float)strlen(TEXTS[i])) w->rc = LH_EINTERNAL;
            free(out);
        }
    }
    return NULL;
}

static void t_http_concurrent(void **state)
{
    struct fixture *f = *state;
    script(f, NULL, NULL, NULL, NULL);
    lh_ai *ai = open_fixture(f, "ollama", 0, 5000, 3);
    struct worker w[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){ai, LH_OK};
        pthread_create(&th[i], NULL, embed_worker, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].rc, LH_OK);
    }
    assert_int_equal(observed(f).requests, 4 * 5 * 4);
    lh_ai_close(ai);
}

/* ---- the real sidecar ---- */

static bool have_node(void)
{
    const char *path = getenv("PATH");
    while (path && *path) {
        size_t n = strcspn(path, ":");
        char *candidate = lh_xasprintf("%.*s/node", (int)n, path);
        bool ok = access(candidate, X_OK) == 0;
        free(candidate);
        if (ok) return true;
        path += n + (path[n] == ':');
    }
    return false;
}

#define NEED_NODE()                                                                                \
    do {                                                                                           \
        if (!have_node()) {                                                                        \
            print_message("skipping: node is not on PATH (the sidecar needs Node.js >= 18)\n");    \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static char *write_script(struct fixture *f, const char *name, const char *text)
{
    char *path = lh_xasprintf("%s/%s", f->dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    return path;
}

static void t_sidecar_start_failures(void **state)
{
    struct fixture *f = *state;
    lh_sidecar *s;
    lh_err err;
    assert_int_equal(lh_sidecar_start(&(lh_sidecar_config){.node = "/nonexistent/node"}, &s, &err),
                     LH_EUNAVAILABLE);
    assert_contains(err.message, "/nonexistent/node is not an executable");
    assert_int_equal(
        lh_sidecar_start(&(lh_sidecar_config){.script = "/nonexistent/server.mjs"}, &s, &err),
        have_node() ? LH_EINVAL : LH_EUNAVAILABLE);
    NEED_NODE();

    int64_t since = now_ms();
    char *crash = write_script(
        f, "crash.mjs", "process.stderr.write('boom: no model here\\n'); process.exit(3);\n");
    assert_int_equal(
        lh_sidecar_start(&(lh_sidecar_config){.script = crash, .errors = f->errors}, &s, &err),
        LH_EUNAVAILABLE);
    assert_contains(err.message, "exited with status 3");
    assert_contains(err.message, "before answering GET /health: boom: no model here");
    assert_int_equal(journal_count(f, since, "boom: no model here"), 1);

    char *mute =
        write_script(f, "mute.mjs", "console.log('thinking'); setInterval(() => {}, 1000);\n");
    assert_int_equal(
        lh_sidecar_start(&(lh_sidecar_config){.script = mute, .start_timeout_ms = 700}, &s, &err),
        LH_EUNAVAILABLE);
    assert_contains(err.message, "did not answer GET /health within 700 ms: thinking");
    free(crash);
    free(mute);
}

static double cosine(const float *a, const float *b, uint32_t dim)
{
    return dot(a, b, dim) / sqrt(dot(a, a, dim) * dot(b, b, dim));
}

static void embed_three(const char *url, lh_errors *errors)
{
    lh_ai *ai, *local;
    lh_err err;
    assert_int_equal(
        lh_ai_open(&(lh_ai_config){.provider = "local-node", .url = url, .errors = errors}, &ai,
                   &err),
        LH_OK);
    assert_int_equal(lh_ai_open(&(lh_ai_config){.provider = "local"}, &local, &err), LH_OK);
    const char *texts[] = {"a forklift operator", "warehouse forklift driver", "pastry chef", ""};
    float *out;
    uint32_t dim;
    lh_code rc = lh_ai_embed(ai, texts, 4, NULL, NULL, &out, &dim, &err);
    if (rc) fail_msg("%s", err.message);
    assert_int_equal(dim, 512);
    double near = cosine(out, out + 512, 512), far = cosine(out, out + 1024, 512);
    print_message("sidecar: cos(operator, driver) = %.3f, cos(operator, chef) = %.3f\n", near, far);
    assert_true(near > far + 0.1);
    assert_true(fabs(dot(out, out, 512) - 1.0) < 0.01);
    /* the in-process model gives the sidecar's vectors */
    float *mine;
    assert_int_equal(lh_ai_embed(local, texts, 4, NULL, NULL, &mine, &dim, &err), LH_OK);
    for (int i = 0; i < 4; i++) {
        double c = cosine(out + i * 512, mine + i * 512, 512);
        if (c < 0.999)
            fail_msg("text %d: cosine %.6f between the sidecar and the in-process model", i, c);
    }
    free(mine);
    lh_ai_close(local);
    free(out);
    lh_ai_close(ai);
}

static json_t *wait_status(lh_sidecar *s, const char *state, int restarts, long timeout_ms)
{
    for (long waited = 0;; waited += 100) {
        json_t *st = lh_sidecar_status(s);
        if (strcmp(json_string_value(json_object_get(st, "state")), state) == 0 &&
            json_integer_value(json_object_get(st, "restarts")) == restarts)
            return st;
        if (waited >= timeout_ms) {
            char *text = json_dumps(st, 0);
            fail_msg("sidecar never reached %s/%d: %s", state, restarts, text);
        }
        json_decref(st);
        sleep_ms(100);
    }
}

static void t_sidecar_real(void **state)
{
    struct fixture *f = *state;
    NEED_NODE();
    const char *script_path = getenv("LAKEHOUSE_SIDECAR");
    if (!script_path || !*script_path) script_path = "scripts/sidecar/server.mjs";
    if (access(script_path, R_OK) != 0)
        fail_msg("%s not found: run the tests from the repository root or set LAKEHOUSE_SIDECAR",
                 script_path);
    int64_t since = now_ms();
    lh_sidecar *s;
    lh_err err;
    int64_t t0 = now_ms();
    lh_code rc = lh_sidecar_start(&(lh_sidecar_config){.script = script_path, .errors = f->errors},
                                  &s, &err);
    if (rc) fail_msg("%s", err.message);
    print_message("sidecar: ready in %lld ms at %s\n", (long long)(now_ms() - t0),
                  lh_sidecar_url(s));
    char url[64];
    snprintf(url, sizeof url, "%s", lh_sidecar_url(s));
    assert_true(strncmp(url, "http://127.0.0.1:", 17) == 0);

    json_t *st = wait_status(s, "running", 0, 0);
    pid_t pid = (pid_t)json_integer_value(json_object_get(st, "pid"));
    assert_true(pid > 0);
    assert_true(json_is_string(json_object_get(st, "started_at")));
    json_decref(st);
    embed_three(url, f->errors);

    /* killed from outside: the supervisor brings it back on the same URL */
    assert_int_equal(kill(pid, SIGKILL), 0);
    st = wait_status(s, "running", 1, 60000);
    assert_true(json_integer_value(json_object_get(st, "pid")) != pid);
    assert_contains(json_string_value(json_object_get(st, "last_exit")), "killed by signal 9");
    json_decref(st);
    assert_string_equal(lh_sidecar_url(s), url);
    embed_three(url, f->errors);
    assert_int_equal(journal_count(f, since, "killed by signal 9"), 1);

    lh_sidecar_stop(s);
    /* stopped means gone */
    assert_true(kill(pid, 0) != 0);
    lh_ai *ai;
    assert_int_equal(
        lh_ai_open(&(lh_ai_config){.provider = "local", .url = url, .retries = 0}, &ai, &err),
        LH_OK);
    float *out;
    uint32_t dim;
    assert_int_equal(lh_ai_embed(ai, TEXTS, 1, NULL, NULL, &out, &dim, &err), LH_EUNAVAILABLE);
    lh_ai_close(ai);
}

int main(void)
{
    lh_log_configure(LH_LOG_ERROR, LH_LOG_TEXT, 2); /* recorded failures are expected here */
    const struct CMUnitTest hash_and_parse[] = {
        cmocka_unit_test(t_hash_properties),   cmocka_unit_test(t_hash_hostile_bytes),
        cmocka_unit_test(t_hash_known_answer), cmocka_unit_test(t_hash_provider),
        cmocka_unit_test(t_local_in_process),  cmocka_unit_test(t_local_concurrent),
        cmocka_unit_test(t_parse_ollama),      cmocka_unit_test(t_parse_openai),
        cmocka_unit_test(t_parse_chat),
    };
    const struct CMUnitTest http[] = {
        cmocka_unit_test(t_http_batching),    cmocka_unit_test(t_http_retries_transient),
        cmocka_unit_test(t_http_not_retried), cmocka_unit_test(t_http_timeout),
        cmocka_unit_test(t_http_refused),     cmocka_unit_test(t_openai_and_chat),
        cmocka_unit_test(t_http_concurrent),  cmocka_unit_test(t_sidecar_start_failures),
        cmocka_unit_test(t_sidecar_real),
    };
    int failed = cmocka_run_group_tests_name("ai", hash_and_parse, NULL, NULL);
    failed += cmocka_run_group_tests_name("ai_http", http, fixture_setup, fixture_teardown);
    return failed;
}
