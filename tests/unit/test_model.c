/*
 * test_model.c — the bundled embedding model (src/model/) against the npm
 * package itself: tests/model/reference.mjs generates 200+ tricky texts in
 * this run and writes the package's token ids and tfjs vectors; the C
 * tokenizer must give identical ids and every kernel vectors with cosine
 * >= 0.999. Also: the file's checks (every damaged copy is refused), batch-,
 * thread- and order-independence of the vectors, and "" and long inputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_model.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct ref_case {
    unsigned char *bytes;
    size_t len;
    int32_t *ids;
    size_t nids;
    float vec[LH_MODEL_DIM];
} ref_case;

static lh_model *model;
static ref_case *cases;
static size_t ncases;

static size_t b64_decode(const char *in, unsigned char *out)
{
    static const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = 0;
    unsigned v = 0;
    int bits = 0;
    for (; *in && *in != '='; in++) {
        const char *p = strchr(a, *in);
        if (!p) continue;
        v = (v << 6) | (unsigned)(p - a);
        bits += 6;
        if (bits >= 8) bits -= 8, out[n++] = (unsigned char)(v >> bits);
    }
    return n;
}

/* Runs the package (Node) once for the whole suite. */
static int setup(void **state)
{
    (void)state;
    lh_err err;
    if (lh_model_open(NULL, &model, &err) != LH_OK) {
        fprintf(stderr, "cannot open the model: %s\n", err.message);
        return -1;
    }
    char out[] = "/tmp/lh-model-ref-XXXXXX";
    int fd = mkstemp(out);
    if (fd < 0) return -1;
    close(fd);
    const char *script = getenv("LH_MODEL_REFERENCE");
    if (!script || !*script) script = "tests/model/reference.mjs";
    char *cmd = lh_xasprintf("node %s --out %s", script, out);
    int rc = system(cmd);
    free(cmd);
    if (rc != 0) {
        fprintf(stderr, "%s failed (%d)\n", script, rc);
        unlink(out);
        return -1;
    }
    json_error_t je;
    json_t *root = json_load_file(out, 0, &je);
    unlink(out);
    if (!json_is_array(root)) return -1;
    ncases = json_array_size(root);
    cases = lh_xcalloc(ncases, sizeof *cases);
    for (size_t i = 0; i < ncases; i++) {
        json_t *c = json_array_get(root, i);
        const char *b64 = json_string_value(json_object_get(c, "b64"));
        cases[i].bytes = lh_xmalloc(strlen(b64) + 1);
        cases[i].len = b64_decode(b64, cases[i].bytes);
        cases[i].bytes[cases[i].len] = 0;
        json_t *ids = json_object_get(c, "ids");
        cases[i].nids = json_array_size(ids);
        cases[i].ids = lh_xmalloc((cases[i].nids + 1) * sizeof(int32_t));
        for (size_t k = 0; k < cases[i].nids; k++)
            cases[i].ids[k] = (int32_t)json_integer_value(json_array_get(ids, k));
        json_t *vec = json_object_get(c, "vec");
        for (size_t k = 0; k < LH_MODEL_DIM; k++)
            cases[i].vec[k] = (float)json_number_value(json_array_get(vec, k));
    }
    json_decref(root);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < ncases; i++) free(cases[i].bytes), free(cases[i].ids);
    free(cases);
    lh_model_close(model);
    return 0;
}

/* ---- the file ---- */

static void expect_refused(const unsigned char *buf, size_t len, bool crc, const char *why)
{
    lh_model *m = NULL;
    lh_err err;
    assert_int_equal(lh_model_open_buffer(buf, len, crc, &m, &err), LH_ECORRUPT);
    assert_null(m);
    if (!strstr(err.message, why)) fail_msg("expected \"%s\" in \"%s\"", why, err.message);
}

/* Every damaged copy is refused with the reason; the intact one opens. */
static void t_file_checks(void **state)
{
    (void)state;
    FILE *f = fopen(lh_model_default_path(), "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    size_t len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = aligned_alloc(64, (len + 63) / 64 * 64);
    assert_int_equal(fread(buf, 1, len, f), len);
    fclose(f);
    lh_model *m;
    lh_err err;
    assert_int_equal(lh_model_open_buffer(buf, len, true, &m, &err), LH_OK);
    lh_model_close(m);

    expect_refused(buf, 100, true, "shorter than its header");
    expect_refused(buf, len - 1, true, "file size");
    buf[len / 2] ^= 1; /* a weight */
    expect_refused(buf, len, true, "data checksum");
    buf[len / 2] ^= 1;
    buf[len - 3] ^= 0x20; /* a vocabulary piece */
    expect_refused(buf, len, true, "data checksum");
    buf[len - 3] ^= 0x20;
    buf[20] ^= 1; /* the name */
    expect_refused(buf, len, true, "header checksum");
    buf[20] ^= 1;
    buf[0] = 'X';
    expect_refused(buf, len, true, "bad magic");
    buf[0] = 'L';
    buf[8] = 2;
    expect_refused(buf, len, false, "version 2");
    buf[8] = 1;
    uint32_t rows;
    memcpy(&rows, buf + 128 + 32, 4); /* the first tensor's rows */
    uint32_t other = rows + 1;
    memcpy(buf + 128 + 32, &other, 4);
    expect_refused(buf, len, false, "shape");
    memcpy(buf + 128 + 32, &rows, 4);
    uint64_t off;
    memcpy(&off, buf + 128 + 48, 8);
    uint64_t far = len;
    memcpy(buf + 128 + 48, &far, 8);
    expect_refused(buf, len, false, "out of bounds");
    memcpy(buf + 128 + 48, &off, 8);
    assert_int_equal(lh_model_open_buffer(buf, len, true, &m, &err), LH_OK);
    lh_model_close(m);
    free(buf);

    assert_int_equal(lh_model_open("/nonexistent/model.lhm", &m, &err), LH_ENOTFOUND);
    assert_non_null(strstr(err.message, "LAKEHOUSE_MODEL"));
}

/* ---- tokenizer ---- */

static void t_tokenizer_exact(void **state)
{
    (void)state;
    assert_true(ncases >= 200);
    size_t same = 0;
    for (size_t i = 0; i < ncases; i++) {
        int32_t *ids;
        size_t n;
        lh_err err;
        assert_int_equal(
            lh_model_tokenize(model, (const char *)cases[i].bytes, cases[i].len, &ids, &n, &err),
            LH_OK);
        bool eq = n == cases[i].nids && (n == 0 || memcmp(ids, cases[i].ids, n * sizeof *ids) == 0);
        if (eq)
            same++;
        else {
            fprintf(stderr, "case %zu (%zu bytes): %zu ids, package %zu; first diff at", i,
                    cases[i].len, n, cases[i].nids);
            size_t k = 0;
            while (k < n && k < cases[i].nids && ids[k] == cases[i].ids[k]) k++;
            fprintf(stderr, " %zu: %d vs %d\n", k, k < n ? ids[k] : -1,
                    k < cases[i].nids ? cases[i].ids[k] : -1);
        }
        free(ids);
    }
    fprintf(stderr, "model-tokenizer exact=%zu/%zu\n", same, ncases);
    assert_int_equal(same, ncases);
}

/* ---- vectors ---- */

static double cosine(const float *a, const float *b)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < LH_MODEL_DIM; i++)
        ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
    return ab / sqrt(aa * bb);
}

/* Under the sanitizers (10-50x slower) the vectors are checked on every
 * SAN_STRIDE-th text; the ids always on all of them. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SAN_STRIDE 7
#else
#define SAN_STRIDE 1
#endif
/* Kernels other than the default are checked on every OTHER_STRIDE-th text. */
#define OTHER_STRIDE (4 * SAN_STRIDE)

static float *embed_some(size_t stride, int threads, size_t *count)
{
    size_t n = (ncases + stride - 1) / stride;
    const char **texts = lh_xmalloc(n * sizeof *texts);
    size_t *lens = lh_xmalloc(n * sizeof *lens);
    for (size_t i = 0; i < n; i++)
        texts[i] = (const char *)cases[i * stride].bytes, lens[i] = cases[i * stride].len;
    float *out = lh_xmalloc(n * LH_MODEL_DIM * sizeof *out);
    lh_err err;
    assert_int_equal(lh_model_embed(model, texts, lens, n, out, threads, &err), LH_OK);
    free(texts);
    free(lens);
    *count = n;
    return out;
}

/* Every kernel the CPU runs: cosine >= 0.999 to tfjs, unit norm. */
static void t_vectors_match_tfjs(void **state)
{
    (void)state;
    const char *names[] = {"scalar", "avx2", "avx512"};
    const char *best = lh_model_kernel();
    for (size_t k = 0; k < 3; k++) {
        if (!lh_model_use_kernel(names[k])) continue;
        size_t stride = strcmp(names[k], best) == 0 ? SAN_STRIDE : OTHER_STRIDE, n;
        float *out = embed_some(stride, 0, &n);
        double min = 1, maxdiff = 0;
        size_t worst = 0;
        for (size_t i = 0; i < n; i++) {
            const float *v = out + i * LH_MODEL_DIM;
            for (size_t j = 0; j < LH_MODEL_DIM; j++)
                if (fabs(v[j] - cases[i * stride].vec[j]) > maxdiff)
                    maxdiff = fabs(v[j] - cases[i * stride].vec[j]);
            double c = cosine(v, cases[i * stride].vec);
            if (c < min) min = c, worst = i * stride;
            double norm = 0;
            for (size_t j = 0; j < LH_MODEL_DIM; j++) norm += (double)v[j] * v[j];
            assert_true(fabs(norm - 1) < 1e-4);
        }
        fprintf(stderr,
                "model-cosine kernel=%s texts=%zu min=%.9f 1-min=%.1e (case %zu) max|diff|=%.1e\n",
                names[k], n, min, 1 - min, worst, maxdiff);
        assert_true(min >= 0.999);
        free(out);
    }
    assert_true(lh_model_use_kernel(best));
}

/* The optional kernels with bfloat16 weights (copies made when a model is
 * opened with one chosen): their quality loss against tfjs, and a text's
 * vector still the same alone as in a batch. */
static void t_vectors_bf16_weights(void **state)
{
    (void)state;
    const char *before = lh_model_kernel();
    const char *names[] = {"avx512-bf16w", "amx-bf16", "avx512-bf16"};
    size_t ran = 0;
    for (size_t k = 0; k < 3; k++) {
        if (!lh_model_use_kernel(names[k])) continue;
        ran++;
        lh_model *m16;
        lh_err err;
        assert_int_equal(lh_model_open(NULL, &m16, &err), LH_OK);
        size_t stride = strcmp(names[k], before) == 0 ? SAN_STRIDE : 2 * SAN_STRIDE; /* the default: all */
        size_t n = (ncases + stride - 1) / stride;
        const char **texts = lh_xmalloc(n * sizeof *texts);
        size_t *lens = lh_xmalloc(n * sizeof *lens);
        for (size_t i = 0; i < n; i++)
            texts[i] = (const char *)cases[i * stride].bytes, lens[i] = cases[i * stride].len;
        float *out = lh_xmalloc(n * LH_MODEL_DIM * sizeof *out);
        assert_int_equal(lh_model_embed(m16, texts, lens, n, out, 0, &err), LH_OK);
        double min = 1, sum = 0;
        for (size_t i = 0; i < n; i++) {
            double c = cosine(out + i * LH_MODEL_DIM, cases[i * stride].vec);
            sum += c;
            if (c < min) min = c;
        }
        fprintf(stderr, "model-cosine kernel=%s texts=%zu min=%.6f mean=%.6f\n", names[k], n, min, sum / n);
        assert_true(min >= 0.999);
        for (size_t i = 0; i < n; i += 7) {
            float alone[LH_MODEL_DIM];
            assert_int_equal(lh_model_embed(m16, &texts[i], &lens[i], 1, alone, 1, &err), LH_OK);
            assert_memory_equal(alone, out + i * LH_MODEL_DIM, sizeof alone);
        }
        free(out), free(texts), free(lens);
        lh_model_close(m16);
    }
    assert_true(lh_model_use_kernel(before));
    if (!ran) skip();
}

/* lh_model_embed_one from concurrent threads: each caller gets the vector
 * its text has alone, whatever it was batched with. */
typedef struct {
    size_t first;
    int bad;
} one_job;

static void *embed_one_thread(void *arg)
{
    one_job *j = arg;
    for (size_t i = j->first; i < ncases; i += 4 * SAN_STRIDE) {
        float v[LH_MODEL_DIM], alone[LH_MODEL_DIM];
        lh_err err;
        const char *t = (const char *)cases[i].bytes;
        if (lh_model_embed_one(model, t, cases[i].len, v, &err) ||
            lh_model_embed(model, &t, &cases[i].len, 1, alone, 1, &err) || memcmp(v, alone, sizeof v))
            j->bad++;
    }
    return NULL;
}

static void t_embed_one_concurrent(void **state)
{
    (void)state;
    pthread_t tid[4];
    one_job jobs[4];
    for (size_t t = 0; t < 4; t++) {
        jobs[t] = (one_job){.first = t * SAN_STRIDE};
        assert_int_equal(pthread_create(&tid[t], NULL, embed_one_thread, &jobs[t]), 0);
    }
    for (size_t t = 0; t < 4; t++) {
        pthread_join(tid[t], NULL);
        assert_int_equal(jobs[t].bad, 0);
    }
}

/* A text's vector is bit-identical alone, in a batch, with any thread count. */
static void t_deterministic(void **state)
{
    (void)state;
    size_t n;
    float *one = embed_some(SAN_STRIDE, 1, &n), *two = embed_some(SAN_STRIDE, 2, &n);
    assert_memory_equal(one, two, n * LH_MODEL_DIM * sizeof(float));
    for (size_t i = 0; i < n; i += 11) {
        const char *t = (const char *)cases[i * SAN_STRIDE].bytes;
        float alone[LH_MODEL_DIM];
        lh_err err;
        assert_int_equal(lh_model_embed(model, &t, &cases[i * SAN_STRIDE].len, 1, alone, 1, &err),
                         LH_OK);
        assert_memory_equal(alone, one + i * LH_MODEL_DIM, sizeof alone);
    }
    free(one), free(two);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_file_checks),        cmocka_unit_test(t_tokenizer_exact),
        cmocka_unit_test(t_vectors_match_tfjs), cmocka_unit_test(t_vectors_bf16_weights),
        cmocka_unit_test(t_deterministic),      cmocka_unit_test(t_embed_one_concurrent),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
