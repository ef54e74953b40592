/*
 * test_vindex.c — id tables, loaded versions and the hot-swap slots
 * (src/index/vindex.c): ids both ways, duplicates, clones, search through a
 * version with filter ids, and the live pointer swapped 100 times while four
 * threads search without pause (run under ASan/LSan and TSan too).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_vindex.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void t_idtab_integers(void **state)
{
    (void)state;
    lh_idtab *t = lh_idtab_new(false);
    lh_err err;
    uint64_t label;
    for (int64_t i = 0; i < 5000; i++) {
        assert_int_equal(lh_idtab_add(t, (lh_id){.i = i * 7 + 3}, &label, &err), LH_OK);
        assert_int_equal(label, (uint64_t)i);
    }
    assert_int_equal(lh_idtab_add(t, (lh_id){.i = 10}, &label, &err), LH_EEXIST);
    assert_non_null(strstr(err.message, "10 appears twice"));
    assert_true(lh_idtab_find(t, (lh_id){.i = 7 * 4999 + 3}, &label));
    assert_int_equal(label, 4999);
    assert_false(lh_idtab_find(t, (lh_id){.i = 1}, &label));
    assert_int_equal(lh_idtab_get(t, 3).i, 24);
    lh_idtab *c = lh_idtab_clone(t);
    assert_int_equal(lh_idtab_add(c, (lh_id){.i = 1}, &label, &err), LH_OK);
    assert_int_equal(label, 5000);
    assert_false(lh_idtab_find(t, (lh_id){.i = 1}, &label)); /* the original is untouched */
    assert_int_equal(lh_idtab_count(t), 5000);
    json_t *j = lh_idtab_json(c, 5000);
    assert_int_equal(json_integer_value(j), 1);
    json_decref(j);
    lh_id id;
    json_t *s = json_string("x");
    assert_int_equal(lh_idtab_parse(t, s, &id, &err), LH_EINVAL);
    json_decref(s);
    lh_idtab_free(t);
    lh_idtab_free(c);
}

static void t_idtab_strings(void **state)
{
    (void)state;
    lh_idtab *t = lh_idtab_new(true);
    lh_err err;
    uint64_t label;
    char buf[32];
    for (int i = 0; i < 3000; i++) {
        int n = snprintf(buf, sizeof buf, "doc-%d", i);
        assert_int_equal(lh_idtab_add(t, (lh_id){.s = buf, .len = (size_t)n}, &label, &err), LH_OK);
    }
    /* an empty id and one with a NUL byte inside are ids like any other */
    assert_int_equal(lh_idtab_add(t, (lh_id){.s = "", .len = 0}, &label, &err), LH_OK);
    assert_int_equal(lh_idtab_add(t, (lh_id){.s = "a\0b", .len = 3}, &label, &err), LH_OK);
    assert_int_equal(lh_idtab_add(t, (lh_id){.s = "a", .len = 1}, &label, &err), LH_OK);
    assert_int_equal(lh_idtab_add(t, (lh_id){.s = "doc-17", .len = 6}, &label, &err), LH_EEXIST);
    assert_true(lh_idtab_find(t, (lh_id){.s = "a\0b", .len = 3}, &label));
    assert_int_equal(label, 3001);
    lh_idtab *c = lh_idtab_clone(t);
    assert_true(lh_idtab_find(c, (lh_id){.s = "doc-2999", .len = 8}, &label));
    assert_int_equal(label, 2999);
    lh_id got = lh_idtab_get(c, 17);
    assert_int_equal(got.len, 6);
    assert_memory_equal(got.s, "doc-17", 6);
    json_t *j = json_string("doc-5"), *k = json_integer(5);
    lh_id id;
    assert_int_equal(lh_idtab_parse(c, j, &id, &err), LH_OK);
    assert_true(lh_idtab_find(c, id, &label));
    assert_int_equal(label, 5);
    assert_int_equal(lh_idtab_parse(c, k, &id, &err), LH_EINVAL);
    json_decref(j);
    json_decref(k);
    lh_idtab_free(t);
    lh_idtab_free(c);
}

/* ---- versions ---- */

#define DIM 16
#define N 2000

static float *data(uint64_t seed)
{
    float *v = lh_xmalloc((size_t)N * DIM * sizeof(float));
    uint64_t s = seed;
    for (size_t i = 0; i < (size_t)N * DIM; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        v[i] = (float)((double)(s >> 40) / (double)(1ULL << 24)) - 0.5f;
    }
    return v;
}

/* A version whose ids are base + label (so a hit says which version answered). */
static lh_vindex *version(const lh_hnsw *graph, int64_t number, int64_t base)
{
    lh_err err;
    lh_hnsw *h;
    assert_int_equal(lh_hnsw_clone(graph, &h, &err), LH_OK);
    lh_idtab *ids = lh_idtab_new(false);
    uint64_t label;
    for (int64_t i = 0; i < N; i++) assert_int_equal(lh_idtab_add(ids, (lh_id){.i = base + i}, &label, &err), LH_OK);
    return lh_vindex_new("docs", number, h, ids, json_object());
}

static lh_hnsw *graph(const float *v)
{
    lh_hnsw_params p = {.dim = DIM, .metric = LH_METRIC_L2, .M = 8, .ef_construction = 64, .seed = 1};
    lh_hnsw *h;
    lh_err err;
    assert_int_equal(lh_hnsw_new(&p, N, &h, &err), LH_OK);
    uint64_t *labels = lh_xmalloc(N * sizeof *labels);
    for (uint64_t i = 0; i < N; i++) labels[i] = i;
    assert_int_equal(lh_hnsw_add_batch(h, labels, v, N, 1, &err), LH_OK);
    free(labels);
    return h;
}

static void t_version_search(void **state)
{
    (void)state;
    float *v = data(3);
    lh_hnsw *g = graph(v);
    lh_vindex *x = version(g, 1, 1000);
    lh_err err;
    json_t *hits;
    assert_int_equal(lh_vindex_search(x, v + 5 * DIM, DIM, 3, 0, NULL, &hits, &err), LH_OK);
    assert_int_equal(json_array_size(hits), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(hits, 0), "id")), 1005);
    json_decref(hits);
    /* filter ids: only those (unknown ones match nothing), exactly k when enough match */
    json_t *filter = json_pack("[i, i, i, i, i]", 1007, 1100, 1200, 1300, 99999999);
    assert_int_equal(lh_vindex_search(x, v + 5 * DIM, DIM, 3, 0, filter, &hits, &err), LH_OK);
    assert_int_equal(json_array_size(hits), 3);
    size_t i;
    json_t *h;
    json_array_foreach(hits, i, h) {
        json_int_t id = json_integer_value(json_object_get(h, "id"));
        assert_true(id == 1007 || id == 1100 || id == 1200 || id == 1300);
    }
    json_decref(hits);
    json_decref(filter);
    /* bad queries are errors, never crashes */
    assert_int_equal(lh_vindex_search(x, v, DIM - 1, 3, 0, NULL, &hits, &err), LH_EINVAL);
    assert_non_null(strstr(err.message, "dimensions"));
    assert_int_equal(lh_vindex_search(x, v, DIM, 0, 0, NULL, &hits, &err), LH_EINVAL);
    assert_int_equal(lh_vindex_search(x, v, DIM, LH_VINDEX_MAX_K + 1, 0, NULL, &hits, &err), LH_EINVAL);
    float nan[DIM] = {0};
    nan[3] = 0.0f / 0.0f;
    assert_int_equal(lh_vindex_search(x, nan, DIM, 3, 0, NULL, &hits, &err), LH_EINVAL);
    filter = json_pack("[s]", "not an integer id");
    assert_int_equal(lh_vindex_search(x, v, DIM, 3, 0, filter, &hits, &err), LH_EINVAL);
    assert_non_null(strstr(err.message, "filter_ids[0]"));
    json_decref(filter);
    lh_vindex_unref(x);
    lh_hnsw_free(g);
    free(v);
}

/* ---- hot swap under load ---- */

struct searcher {
    lh_vslots *slots;
    const float *v;
    _Atomic int *stop;
    long searches, failures;
};

static void *search_loop(void *arg)
{
    struct searcher *s = arg;
    lh_err err;
    for (unsigned i = 0; !atomic_load(s->stop); i++) {
        lh_vindex *x = lh_vslots_acquire(s->slots, "docs");
        if (!x) {
            s->failures++;
            continue;
        }
        json_t *hits;
        size_t q = i % N;
        if (lh_vindex_search(x, s->v + q * DIM, DIM, 5, 32, NULL, &hits, &err) != LH_OK ||
            json_array_size(hits) != 5) {
            s->failures++;
        } else {
            /* every hit comes from the version this search holds */
            size_t j;
            json_t *h;
            json_array_foreach(hits, j, h) {
                json_int_t id = json_integer_value(json_object_get(h, "id"));
                if (id < x->version * 100000 || id >= x->version * 100000 + N) s->failures++;
            }
            json_decref(hits);
        }
        lh_vindex_unref(x);
        s->searches++;
    }
    return NULL;
}

static void t_hot_swap_under_load(void **state)
{
    (void)state;
    float *v = data(9);
    lh_hnsw *g = graph(v);
    lh_vslots *slots = lh_vslots_new();
    assert_null(lh_vslots_acquire(slots, "docs"));
    lh_vslots_publish(slots, "docs", version(g, 1, 100000));
    _Atomic int stop = 0;
    struct searcher s[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        s[i] = (struct searcher){.slots = slots, .v = v, .stop = &stop};
        pthread_create(&t[i], NULL, search_loop, &s[i]);
    }
    /* 100 swaps: each new version is built while the old one serves, then
     * published; the old one is freed by whichever search leaves it last */
    for (int64_t n = 2; n <= 101; n++) lh_vslots_publish(slots, "docs", version(g, n, n * 100000));
    /* a reader that holds a version across a swap keeps a working index */
    lh_vindex *held = lh_vslots_acquire(slots, "docs");
    lh_vslots_publish(slots, "docs", version(g, 102, 102 * 100000));
    json_t *hits;
    lh_err err;
    assert_int_equal(lh_vindex_search(held, v, DIM, 1, 0, NULL, &hits, &err), LH_OK);
    json_int_t id = json_integer_value(json_object_get(json_array_get(hits, 0), "id"));
    assert_true(id >= 101 * 100000 && id < 101 * 100000 + N);
    json_decref(hits);
    lh_vindex_unref(held);
    atomic_store(&stop, 1);
    long searches = 0, failures = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        searches += s[i].searches;
        failures += s[i].failures;
    }
    printf("    %ld searches across 101 swaps, %ld failed\n", searches, failures);
    assert_int_equal(failures, 0);
    assert_true(searches > 0);
    lh_vindex *live = lh_vslots_acquire(slots, "docs");
    assert_int_equal(live->version, 102);
    assert_int_equal(atomic_load(&live->refs), 2); /* the slot's and ours: nothing leaked a reference */
    lh_vindex_unref(live);
    /* unpublishing leaves no live version */
    lh_vslots_publish(slots, "docs", NULL);
    assert_null(lh_vslots_acquire(slots, "docs"));
    lh_vslots_free(slots);
    lh_hnsw_free(g);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_idtab_integers),
        cmocka_unit_test(t_idtab_strings),
        cmocka_unit_test(t_version_search),
        cmocka_unit_test(t_hot_swap_under_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
