/*
 * test_hnsw.c — the vector engine (src/ann/): SIMD kernels against the
 * scalar ones, recall on seeded data, every metric, filtered search at every
 * selectivity, deletes and compaction, SQ8, determinism, persistence, and
 * damaged index files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lakehouse/lh_hnsw.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_sha256.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- seeded data: a Gaussian mixture with overlapping clusters ---- */

static uint64_t rng_state;
static double uniform(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
}
static float gauss(void)
{
    return (float)(sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform()));
}

static float *mixture(size_t n, size_t dim, size_t clusters, uint64_t seed)
{
    rng_state = seed;
    float *centers = lh_xmalloc(clusters * dim * sizeof(float));
    for (size_t i = 0; i < clusters * dim; i++) centers[i] = gauss() * 2.0f;
    float *v = lh_xmalloc(n * dim * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        size_t c = (size_t)(uniform() * (double)clusters);
        for (size_t d = 0; d < dim; d++) v[i * dim + d] = centers[c * dim + d] + gauss();
    }
    free(centers);
    return v;
}

static uint64_t *iota(size_t n)
{
    uint64_t *l = lh_xmalloc(n * sizeof *l);
    for (size_t i = 0; i < n; i++) l[i] = i;
    return l;
}

static lh_hnsw *build(const float *v, size_t n, size_t dim, lh_metric m, lh_quant q, unsigned threads, uint64_t seed)
{
    lh_hnsw_params p = {.dim = (uint32_t)dim, .metric = m, .M = 16, .ef_construction = 100, .ef_search = 64,
                        .seed = seed, .quantization = q};
    lh_hnsw *h;
    lh_err err;
    assert_int_equal(lh_hnsw_new(&p, n, &h, &err), LH_OK);
    uint64_t *labels = iota(n);
    if (lh_hnsw_add_batch(h, labels, v, n, threads, &err)) fail_msg("%s", err.message);
    free(labels);
    return h;
}

/* recall@k of the index against exact search, over nq queries */
static double recall(const lh_hnsw *h, const float *queries, size_t nq, size_t dim, size_t k, size_t ef)
{
    lh_hnsw_hit *a = lh_xmalloc(k * sizeof *a), *b = lh_xmalloc(k * sizeof *b);
    size_t hit = 0, total = 0;
    for (size_t i = 0; i < nq; i++) {
        size_t na = lh_hnsw_search(h, queries + i * dim, k, ef, NULL, a);
        size_t nb = lh_hnsw_exact(h, queries + i * dim, k, NULL, b);
        total += nb;
        for (size_t x = 0; x < na; x++)
            for (size_t y = 0; y < nb; y++) hit += a[x].label == b[y].label;
    }
    free(a);
    free(b);
    return (double)hit / (double)total;
}

/* ---- kernels ---- */

static void t_kernels(void **state)
{
    (void)state;
    const char *isas[] = {"scalar", "avx2", "avx512"};
    size_t dims[] = {1, 3, 7, 8, 15, 16, 17, 31, 33, 64, 100, 128, 384, 385, 1536, 4096};
    float *a = mixture(1, 4096, 1, 1), *b = mixture(1, 4096, 1, 2);
    uint8_t *code = lh_xmalloc(4096);
    float *lo = lh_xmalloc(4096 * sizeof(float)), *step = lh_xmalloc(4096 * sizeof(float));
    for (size_t i = 0; i < 4096; i++) {
        code[i] = (uint8_t)(i * 37);
        lo[i] = -2.0f + (float)i * 0.001f;
        step[i] = 0.015f;
    }
    int tested = 0;
    for (size_t k = 0; k < 3; k++) {
        if (!lh_distance_force(isas[k])) continue;
        tested++;
        for (size_t j = 0; j < sizeof dims / sizeof dims[0]; j++) {
            size_t d = dims[j];
            float ref = lh_l2sq_scalar(a, b, d), got = lh_l2sq(a, b, d);
            if (fabsf(ref - got) > 1e-4f * fmaxf(1.0f, fabsf(ref))) fail_msg("%s l2 d=%zu: %f vs %f", isas[k], d, got, ref);
            ref = lh_dot_scalar(a, b, d), got = lh_dot(a, b, d);
            if (fabsf(ref - got) > 1e-4f * fmaxf(1.0f, fabsf(ref))) fail_msg("%s dot d=%zu: %f vs %f", isas[k], d, got, ref);
            ref = lh_sq8_l2sq_scalar(a, code, lo, step, d), got = lh_sq8_l2sq(a, code, lo, step, d);
            if (fabsf(ref - got) > 1e-4f * fmaxf(1.0f, fabsf(ref))) fail_msg("%s sq8 l2 d=%zu", isas[k], d);
            ref = lh_sq8_dot_scalar(a, code, lo, step, d), got = lh_sq8_dot(a, code, lo, step, d);
            if (fabsf(ref - got) > 1e-4f * fmaxf(1.0f, fabsf(ref))) fail_msg("%s sq8 dot d=%zu", isas[k], d);
        }
    }
    assert_true(tested >= 1);
    if (!lh_distance_force("avx512") && !lh_distance_force("avx2")) lh_distance_force("scalar");
    float v[4] = {3, 0, 4, 0};
    lh_normalize(v, 4);
    assert_float_equal(v[0], 0.6f, 1e-6);
    assert_float_equal(lh_dot(v, v, 4), 1.0f, 1e-6);
    free(a), free(b), free(code), free(lo), free(step);
}

/* ---- recall ---- */

static void t_recall_l2(void **state)
{
    (void)state;
    size_t n = 20000, dim = 64;
    float *v = mixture(n, dim, 64, 42), *q = mixture(200, dim, 64, 42 + 1);
    lh_hnsw *h = build(v, n, dim, LH_METRIC_L2, LH_QUANT_NONE, 0, 7);
    /* overlapping clusters make this hard: hnswlib reaches 0.82 at ef=64, 0.97 at ef=256 */
    double r = recall(h, q, 200, dim, 10, 256);
    if (r < 0.95) fail_msg("recall@10 at ef=256 is %.3f", r);
    double low = recall(h, q, 200, dim, 10, 64);
    if (low < 0.75 || low >= r) fail_msg("recall@10 at ef=64 is %.3f (at 256: %.3f)", low, r);
    lh_hnsw_info info;
    lh_hnsw_get_info(h, &info);
    assert_int_equal(info.count, n);
    assert_true(info.max_level >= 1);
    /* a stored vector is its own nearest neighbour */
    lh_hnsw_hit hit;
    assert_int_equal(lh_hnsw_search(h, v + 1234 * dim, 1, 32, NULL, &hit), 1);
    assert_int_equal(hit.label, 1234);
    assert_float_equal(hit.distance, 0, 1e-5);
    lh_hnsw_free(h);
    free(v), free(q);
}

static void t_metrics(void **state)
{
    (void)state;
    size_t n = 5000, dim = 48;
    float *v = mixture(n, dim, 16, 9), *q = mixture(100, dim, 16, 10);
    lh_metric metrics[] = {LH_METRIC_COSINE, LH_METRIC_IP};
    /* inner product is not a metric (no triangle inequality): graph search finds less */
    double floor[] = {0.9, 0.75};
    for (int m = 0; m < 2; m++) {
        lh_hnsw *h = build(v, n, dim, metrics[m], LH_QUANT_NONE, 2, 3);
        double r = recall(h, q, 100, dim, 10, 200);
        if (r < floor[m]) fail_msg("metric %d: recall %.3f", m, r);
        lh_hnsw_hit hits[3];
        assert_int_equal(lh_hnsw_search(h, q, 3, 0, NULL, hits), 3);
        assert_true(hits[0].distance <= hits[1].distance && hits[1].distance <= hits[2].distance);
        lh_hnsw_free(h);
    }
    free(v), free(q);
}

static void t_filtered(void **state)
{
    (void)state;
    size_t n = 20000, dim = 32, k = 10;
    float *v = mixture(n, dim, 32, 11), *q = mixture(20, dim, 32, 12);
    lh_hnsw *h = build(v, n, dim, LH_METRIC_L2, LH_QUANT_NONE, 0, 5);
    double selectivity[] = {0.5, 0.1, 0.01, 0.001, 0.0004};
    uint64_t *words = lh_xcalloc((n + 63) / 64, sizeof *words);
    for (size_t s = 0; s < sizeof selectivity / sizeof selectivity[0]; s++) {
        memset(words, 0, (n + 63) / 64 * sizeof *words);
        size_t allowed = 0;
        rng_state = 99 + s;
        for (size_t i = 0; i < n; i++)
            if (uniform() < selectivity[s]) words[i / 64] |= 1ULL << (i % 64), allowed++;
        lh_bitmap bm = {words, n};
        size_t want = allowed < k ? allowed : k, good = 0, total = 0;
        for (size_t i = 0; i < 20; i++) {
            lh_hnsw_hit a[10], b[10];
            size_t na = lh_hnsw_search(h, q + i * dim, k, 128, &bm, a);
            size_t nb = lh_hnsw_exact(h, q + i * dim, k, &bm, b);
            if (na != want) fail_msg("selectivity %.4f: %zu results, wanted %zu", selectivity[s], na, want);
            for (size_t x = 0; x < na; x++) {
                if (!((words[a[x].label / 64] >> (a[x].label % 64)) & 1)) fail_msg("a filtered-out label came back");
                for (size_t y = 0; y < nb; y++) good += a[x].label == b[y].label;
            }
            total += nb;
        }
        if ((double)good / (double)total < 0.95) fail_msg("selectivity %.4f: recall %.3f", selectivity[s], (double)good / (double)total);
    }
    /* a bitmap shorter than the labels allows nothing past its end */
    lh_bitmap tiny = {words, 3};
    lh_hnsw_hit a[10];
    memset(words, 0xff, 8);
    assert_int_equal(lh_hnsw_search(h, q, 10, 64, &tiny, a), 3);
    lh_hnsw_free(h);
    free(words), free(v), free(q);
}

static void t_delete_and_compact(void **state)
{
    (void)state;
    size_t n = 3000, dim = 16;
    float *v = mixture(n, dim, 8, 21);
    lh_hnsw *h = build(v, n, dim, LH_METRIC_L2, LH_QUANT_NONE, 1, 2);
    lh_err err;
    for (uint64_t l = 0; l < n; l += 2) assert_int_equal(lh_hnsw_delete(h, l, &err), LH_OK);
    assert_int_equal(lh_hnsw_delete(h, 999999, &err), LH_ENOTFOUND);
    lh_hnsw_hit hits[20];
    for (size_t i = 0; i < 50; i++) {
        size_t got = lh_hnsw_search(h, v + i * dim, 20, 64, NULL, hits);
        assert_int_equal(got, 20);
        for (size_t j = 0; j < got; j++) assert_true(hits[j].label % 2 == 1);
    }
    lh_hnsw *c;
    assert_int_equal(lh_hnsw_compact(h, 2, &c, &err), LH_OK);
    lh_hnsw_info info;
    lh_hnsw_get_info(c, &info);
    assert_int_equal(info.count, n / 2);
    assert_int_equal(info.deleted, 0);
    assert_int_equal(lh_hnsw_search(c, v + 1 * dim, 1, 32, NULL, hits), 1);
    assert_int_equal(hits[0].label, 1);
    /* labels are unique */
    float x[16] = {0};
    assert_int_equal(lh_hnsw_add(c, 1, x, &err), LH_EEXIST);
    assert_int_equal(lh_hnsw_add(c, 424242, x, &err), LH_OK);
    assert_int_equal(lh_hnsw_search(c, x, 1, 32, NULL, hits), 1);
    assert_int_equal(hits[0].label, 424242);
    lh_hnsw_free(c);
    lh_hnsw_free(h);
    free(v);
}

static void t_sq8(void **state)
{
    (void)state;
    size_t n = 20000, dim = 64;
    float *v = mixture(n, dim, 64, 31), *q = mixture(200, dim, 64, 32);
    lh_hnsw *f = build(v, n, dim, LH_METRIC_L2, LH_QUANT_NONE, 0, 4);
    lh_hnsw *s = build(v, n, dim, LH_METRIC_L2, LH_QUANT_SQ8, 0, 4);
    double rf = recall(f, q, 200, dim, 10, 128), rs = recall(s, q, 200, dim, 10, 128);
    if (rs < rf - 0.02) fail_msg("SQ8 recall %.3f vs float %.3f", rs, rf);
    lh_hnsw_info fi, si;
    lh_hnsw_get_info(f, &fi);
    lh_hnsw_get_info(s, &si);
    assert_true(si.graph_bytes * 10 < fi.graph_bytes * 6); /* codes are a quarter of the floats */
    lh_err err;
    lh_hnsw_params p = {.dim = 8, .quantization = LH_QUANT_SQ8};
    lh_hnsw *fresh;
    assert_int_equal(lh_hnsw_new(&p, 10, &fresh, &err), LH_OK);
    assert_int_equal(lh_hnsw_add(fresh, 1, v, &err), LH_EINVAL); /* needs a first batch */
    lh_hnsw_free(fresh);
    lh_hnsw_free(f);
    lh_hnsw_free(s);
    free(v), free(q);
}

/* ---- persistence ---- */

static char *temp_path(const char *name)
{
    return lh_xasprintf("/tmp/lh-hnsw-%d-%s", (int)getpid(), name);
}

static void t_deterministic_and_persistent(void **state)
{
    (void)state;
    size_t n = 4000, dim = 24;
    float *v = mixture(n, dim, 16, 51);
    lh_hnsw *a = build(v, n, dim, LH_METRIC_L2, LH_QUANT_NONE, 1, 77);
    lh_hnsw *b = build(v, n, dim, LH_METRIC_L2, LH_QUANT_NONE, 1, 77);
    char *pa = temp_path("a"), *pb = temp_path("b");
    lh_err err;
    assert_int_equal(lh_hnsw_save(a, pa, &err), LH_OK);
    assert_int_equal(lh_hnsw_save(b, pb, &err), LH_OK);
    char ha[65], hb[65];
    assert_int_equal(lh_sha256_file_hex(pa, ha, &err), LH_OK);
    assert_int_equal(lh_sha256_file_hex(pb, hb, &err), LH_OK);
    assert_string_equal(ha, hb); /* same seed, one thread: the same bytes */
    lh_hnsw *loaded;
    assert_int_equal(lh_hnsw_load(pa, &loaded, &err), LH_OK);
    assert_int_equal(lh_hnsw_verify(loaded, &err), LH_OK);
    lh_hnsw_info info;
    lh_hnsw_get_info(loaded, &info);
    assert_true(info.mapped);
    for (size_t i = 0; i < 100; i++) {
        lh_hnsw_hit x[10], y[10];
        size_t nx = lh_hnsw_search(a, v + i * dim, 10, 50, NULL, x);
        size_t ny = lh_hnsw_search(loaded, v + i * dim, 10, 50, NULL, y);
        assert_int_equal(nx, ny);
        for (size_t j = 0; j < nx; j++) assert_int_equal(x[j].label, y[j].label);
    }
    /* deletes work on a loaded index; adds are refused */
    assert_int_equal(lh_hnsw_delete(loaded, 5, &err), LH_OK);
    assert_int_equal(lh_hnsw_add(loaded, 99999, v, &err), LH_EUNSUPPORTED);
    assert_non_null(lh_hnsw_vector(loaded, 7));
    assert_null(lh_hnsw_vector(loaded, 123456789));
    lh_hnsw_free(loaded);
    /* SQ8 round trip */
    lh_hnsw *s = build(v, n, dim, LH_METRIC_COSINE, LH_QUANT_SQ8, 2, 3);
    assert_int_equal(lh_hnsw_save(s, pb, &err), LH_OK);
    assert_int_equal(lh_hnsw_load(pb, &loaded, &err), LH_OK);
    assert_int_equal(lh_hnsw_verify(loaded, &err), LH_OK);
    lh_hnsw_hit x[5], y[5];
    assert_int_equal(lh_hnsw_search(s, v, 5, 40, NULL, x), 5);
    assert_int_equal(lh_hnsw_search(loaded, v, 5, 40, NULL, y), 5);
    for (int j = 0; j < 5; j++) assert_int_equal(x[j].label, y[j].label);
    lh_hnsw_free(loaded);
    lh_hnsw_free(s);
    /* an empty index saves and loads */
    lh_hnsw_params p = {.dim = 4};
    lh_hnsw *empty;
    assert_int_equal(lh_hnsw_new(&p, 1, &empty, &err), LH_OK);
    assert_int_equal(lh_hnsw_save(empty, pb, &err), LH_OK);
    lh_hnsw_free(empty);
    assert_int_equal(lh_hnsw_load(pb, &empty, &err), LH_OK);
    assert_int_equal(lh_hnsw_search(empty, v, 3, 10, NULL, x), 0);
    lh_hnsw_free(empty);
    unlink(pa), unlink(pb);
    free(pa), free(pb);
    lh_hnsw_free(a), lh_hnsw_free(b);
    free(v);
}

/* A file past 16 MiB is mapped random-access and read in by a thread after
 * its first search: answers are the same at every stage, and freeing the
 * index mid-way (or before any search) stops the thread cleanly. */
static void t_large_file_warms(void **state)
{
    (void)state;
    size_t n = 26000, dim = 160;
    float *v = mixture(n, dim, 32, 91);
    lh_hnsw *a = build(v, n, dim, LH_METRIC_L2, LH_QUANT_NONE, 2, 5);
    char *path = temp_path("large");
    lh_err err;
    assert_int_equal(lh_hnsw_save(a, path, &err), LH_OK);
    for (int round = 0; round < 3; round++) {
        lh_hnsw *loaded;
        assert_int_equal(lh_hnsw_load(path, &loaded, &err), LH_OK);
        lh_hnsw_info info;
        lh_hnsw_get_info(loaded, &info);
        assert_true(info.total_bytes > ((size_t)16 << 20));
        if (round == 0) { /* freed before any search */
            lh_hnsw_free(loaded);
            continue;
        }
        for (size_t i = 0; i < 40; i++) {
            if (round == 2 && i == 20) usleep(300 * 1000); /* the reader is under way or done */
            lh_hnsw_hit x[10], y[10];
            size_t nx = lh_hnsw_search(a, v + i * 97 * dim, 10, 40, NULL, x);
            size_t ny = lh_hnsw_search(loaded, v + i * 97 * dim, 10, 40, NULL, y);
            assert_int_equal(nx, ny);
            for (size_t j = 0; j < nx; j++) assert_int_equal(x[j].label, y[j].label);
            if (round == 1 && i == 0) break; /* freed right after the first search */
        }
        lh_hnsw_free(loaded);
    }
    unlink(path);
    free(path);
    lh_hnsw_free(a);
    free(v);
}

static void t_damaged_files(void **state)
{
    (void)state;
    size_t n = 3000, dim = 16;
    float *v = mixture(n, dim, 8, 61);
    lh_hnsw *h = build(v, n, dim, LH_METRIC_L2, LH_QUANT_NONE, 1, 1);
    char *path = temp_path("d"), *bad = temp_path("bad");
    lh_err err;
    assert_int_equal(lh_hnsw_save(h, path, &err), LH_OK);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *bytes = lh_xmalloc((size_t)size);
    assert_int_equal(fread(bytes, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    /* truncations anywhere are errors */
    long cuts[] = {0, 7, 100, 255, 256, 4096, size / 2, size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        f = fopen(bad, "wb");
        fwrite(bytes, 1, (size_t)cuts[i], f);
        fclose(f);
        lh_hnsw *x;
        lh_code rc = lh_hnsw_load(bad, &x, &err);
        if (rc != LH_ECORRUPT) fail_msg("cut at %ld: rc %d", cuts[i], rc);
        assert_non_null(strstr(err.message, "not a usable index file"));
    }
    /* header damage is caught at load */
    for (size_t off = 0; off < 256; off += 8) {
        bytes[off] ^= 0x5a;
        f = fopen(bad, "wb");
        fwrite(bytes, 1, (size_t)size, f);
        fclose(f);
        bytes[off] ^= 0x5a;
        lh_hnsw *x;
        lh_code rc = lh_hnsw_load(bad, &x, &err);
        if (rc == LH_OK) {
            lh_hnsw_free(x);
            if (off < 0xC8) fail_msg("damage at header byte %zu went unnoticed", off);
        }
    }
    /* body damage: loads (O(1) checks), searches never crash, verify finds it */
    rng_state = 5;
    for (int round = 0; round < 20; round++) {
        unsigned char *copy = lh_xmalloc((size_t)size);
        memcpy(copy, bytes, (size_t)size);
        for (int k = 0; k < 200; k++) {
            size_t at = 4096 + (size_t)(uniform() * (double)(size - 4096));
            copy[at] = (unsigned char)(uniform() * 256);
        }
        f = fopen(bad, "wb");
        fwrite(copy, 1, (size_t)size, f);
        fclose(f);
        free(copy);
        lh_hnsw *x;
        if (lh_hnsw_load(bad, &x, &err) != LH_OK) continue;
        lh_hnsw_hit hits[10];
        for (int qi = 0; qi < 20; qi++) lh_hnsw_search(x, v + (size_t)qi * dim, 10, 64, NULL, hits);
        assert_int_equal(lh_hnsw_verify(x, &err), LH_ECORRUPT);
        lh_hnsw_free(x);
    }
    /* not an index at all */
    f = fopen(bad, "wb");
    fputs("definitely not an index, just text that is long enough to have a header's worth of bytes in it "
          "................................................................................................"
          "................................................................................................",
          f);
    fclose(f);
    lh_hnsw *x;
    assert_int_equal(lh_hnsw_load(bad, &x, &err), LH_ECORRUPT);
    assert_non_null(strstr(err.message, "magic"));
    assert_int_equal(lh_hnsw_load("/no/such/index", &x, &err), LH_ENOTFOUND);
    unlink(path), unlink(bad);
    free(path), free(bad), free(bytes);
    lh_hnsw_free(h);
    free(v);
}

static void t_params(void **state)
{
    (void)state;
    lh_hnsw *h;
    lh_err err;
    lh_hnsw_params bad[] = {{.dim = 0}, {.dim = LH_HNSW_MAX_DIM + 1}, {.dim = 4, .M = 1},
                            {.dim = 4, .M = 16, .ef_construction = 4}, {.dim = 4, .metric = (lh_metric)9}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_int_equal(lh_hnsw_new(&bad[i], 10, &h, &err), LH_EINVAL);
    /* 4096 dimensions work */
    lh_hnsw_params big = {.dim = 4096, .metric = LH_METRIC_COSINE};
    assert_int_equal(lh_hnsw_new(&big, 4, &h, &err), LH_OK);
    float *v = mixture(4, 4096, 2, 3);
    uint64_t labels[4] = {10, 20, 30, 40};
    assert_int_equal(lh_hnsw_add_batch(h, labels, v, 4, 1, &err), LH_OK);
    lh_hnsw_hit hit;
    assert_int_equal(lh_hnsw_search(h, v + 2 * 4096, 1, 10, NULL, &hit), 1);
    assert_int_equal(hit.label, 30);
    lh_hnsw_free(h);
    free(v);
}

struct racer {
    lh_hnsw *h;
    const float *v;
    size_t dim, from, to;
    int failures;
};

static void *adder(void *arg)
{
    struct racer *r = arg;
    lh_err err;
    for (size_t i = r->from; i < r->to; i++)
        if (lh_hnsw_add(r->h, i, r->v + i * r->dim, &err)) r->failures++;
    return NULL;
}

static void *searcher(void *arg)
{
    struct racer *r = arg;
    lh_hnsw_hit hits[10];
    for (size_t i = 0; i < 2000; i++) {
        size_t got = lh_hnsw_search(r->h, r->v + (i % 500) * r->dim, 10, 32, NULL, hits);
        for (size_t j = 0; j < got; j++)
            if (hits[j].label >= r->to) r->failures++;
    }
    return NULL;
}

static void t_concurrent_add_and_search(void **state)
{
    (void)state;
    size_t n = 8000, dim = 16;
    float *v = mixture(n, dim, 8, 71);
    lh_hnsw_params p = {.dim = (uint32_t)dim, .M = 12, .ef_construction = 64};
    lh_hnsw *h;
    lh_err err;
    assert_int_equal(lh_hnsw_new(&p, 16, &h, &err), LH_OK); /* grows while others read */
    struct racer a = {h, v, dim, 0, n / 2, 0}, b = {h, v, dim, n / 2, n, 0}, s = {h, v, dim, 0, n, 0};
    pthread_t t[3];
    pthread_create(&t[0], NULL, adder, &a);
    pthread_create(&t[1], NULL, adder, &b);
    pthread_create(&t[2], NULL, searcher, &s);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    assert_int_equal(a.failures + b.failures + s.failures, 0);
    lh_hnsw_info info;
    lh_hnsw_get_info(h, &info);
    assert_int_equal(info.count, n);
    double r = recall(h, v, 200, dim, 10, 64);
    if (r < 0.9) fail_msg("recall after concurrent adds %.3f", r);
    lh_hnsw_free(h);
    free(v);
}

/* lh_hnsw_evaluate: recall grows with ef and reaches 1 with a wide beam;
 * the queries are drawn deterministically; the truth is the exact scan. */
static void t_evaluate(void **state)
{
    (void)state;
    const size_t n = 3000, dim = 24;
    float *v = mixture(n, dim, 12, 7);
    lh_hnsw_params p = {.dim = dim, .metric = LH_METRIC_L2, .M = 6, .ef_construction = 64, .seed = 3};
    lh_hnsw *h;
    lh_err err;
    assert_int_equal(lh_hnsw_new(&p, n, &h, &err), LH_OK);
    uint64_t *labels = lh_xmalloc(n * sizeof *labels);
    for (size_t i = 0; i < n; i++) labels[i] = i;
    assert_int_equal(lh_hnsw_add_batch(h, labels, v, n, 1, &err), LH_OK);
    uint64_t q1[100], q2[100];
    assert_int_equal(lh_hnsw_sample_labels(h, n, 100, 42, q1), 100);
    assert_int_equal(lh_hnsw_sample_labels(h, n, 100, 42, q2), 100);
    assert_memory_equal(q1, q2, sizeof q1);
    assert_int_equal(lh_hnsw_sample_labels(h, n, 100, 43, q2), 100);
    assert_memory_not_equal(q1, q2, sizeof q1);
    size_t efs[] = {10, 64, 3000};
    lh_hnsw_eval e[3];
    assert_int_equal(lh_hnsw_evaluate(h, q1, 100, 10, efs, 3, e, &err), LH_OK);
    assert_true(e[0].recall < e[2].recall);
    assert_true(e[0].recall <= e[1].recall + 0.01);
    assert_true(e[2].recall > 0.995);
    assert_true(e[2].top1 > 0.99); /* a stored vector finds itself */
    assert_true(e[0].p50_us > 0 && e[0].p99_us >= e[0].p50_us);
    assert_int_equal(e[1].queries, 100);
    /* the recall counted is the hand-counted one: exact scan vs search at ef 10 */
    double hits = 0;
    for (size_t i = 0; i < 100; i++) {
        lh_hnsw_hit exact[10], got[10];
        size_t a = lh_hnsw_exact(h, lh_hnsw_vector(h, q1[i]), 10, NULL, exact);
        size_t b = lh_hnsw_search(h, lh_hnsw_vector(h, q1[i]), 10, 10, NULL, got);
        for (size_t x = 0; x < a; x++)
            for (size_t y = 0; y < b; y++)
                if (exact[x].label == got[y].label) {
                    hits++;
                    break;
                }
    }
    assert_true(fabs(hits / 1000.0 - e[0].recall) < 1e-9);
    /* ef 0 is the index's own */
    size_t dflt = 0;
    assert_int_equal(lh_hnsw_evaluate(h, q1, 10, 10, &dflt, 1, e, &err), LH_OK);
    assert_int_equal(e[0].ef, 64);
    assert_int_equal(lh_hnsw_evaluate(h, q1, 0, 10, efs, 1, e, &err), LH_EINVAL);
    uint64_t missing = n + 5;
    assert_int_equal(lh_hnsw_evaluate(h, &missing, 1, 10, efs, 1, e, &err), LH_EINVAL);
    lh_hnsw_free(h);
    free(labels);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_kernels),
        cmocka_unit_test(t_recall_l2),
        cmocka_unit_test(t_metrics),
        cmocka_unit_test(t_filtered),
        cmocka_unit_test(t_delete_and_compact),
        cmocka_unit_test(t_sq8),
        cmocka_unit_test(t_deterministic_and_persistent),
        cmocka_unit_test(t_large_file_warms),
        cmocka_unit_test(t_damaged_files),
        cmocka_unit_test(t_params),
        cmocka_unit_test(t_evaluate),
        cmocka_unit_test(t_concurrent_add_and_search),
    };
    return cmocka_run_group_tests_name("hnsw", tests, NULL, NULL);
}
