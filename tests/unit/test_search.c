/*
 * test_search.c — text indexes in-process (src/index/text.c, search.c):
 * creation with the hash embedder, refresh counts (only new texts embedded,
 * vectors of known texts reused), on_append refreshes racing searches from
 * four threads (run under ThreadSanitizer too), filters, and the text
 * settings a manifest read from storage may carry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define APP_FIXTURE_SETTINGS {"ai.provider", "hash", "test"}
#include "app_fixture.h"
#include "lakehouse/lh_app.h"
#include "lakehouse/lh_mem.h"

#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const WORDS[] = {"forklift", "nurse", "welder", "driver", "chef", "clerk", "painter", "cook"};

/* Ingests rows [first, first + n): {id, grp, body}. Rows below `same` keep an old text. */
static void ingest_rows(struct fixture *f, long first, long n, const char *tag)
{
    char *path = lh_xasprintf("%s/rows-%ld.ndjson", f->dir, first);
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    for (long i = first; i < first + n; i++)
        fprintf(out, "{\"id\": %ld, \"grp\": %ld, \"body\": \"%s %s number %ld\"}\n", i, i % 100, WORDS[i % 8], tag, i);
    fclose(out);
    lh_ingest_source src = {.path = path};
    lh_ingest_options o = {.dataset = "items"};
    json_t *report = NULL;
    lh_err err;
    if (lh_ingest(lh_app_ingester(f->app), &src, 1, &o, &tester, &report, &err) != LH_OK) fail_msg("%s", err.message);
    json_decref(report);
    free(path);
}

static json_t *create_index(struct fixture *f, const char *name, const char *refresh)
{
    json_t *text = json_pack("{s:[s], s:s}", "columns", "body", "refresh", refresh);
    lh_vectors_spec spec = {.dataset = "items", .id_column = "id", .text = text};
    json_t *m = NULL;
    lh_err err;
    if (lh_vectors_create(lh_app_vectors(f->app), name, &spec, &tester, &m, &err) != LH_OK) fail_msg("%s", err.message);
    json_decref(text);
    return m;
}

static int64_t num_at(const json_t *o, const char *a, const char *b)
{
    return json_integer_value(json_object_get(b ? json_object_get(o, a) : o, b ? b : a));
}

/* A refresh's progress: texts embedded so far of the texts to embed. */
struct progress_log {
    size_t calls, last_done, total;
};

static void log_progress(void *ctx, size_t done, size_t total)
{
    struct progress_log *p = ctx;
    assert_true(done >= p->last_done && done <= total);
    p->calls++;
    p->last_done = done;
    p->total = total;
}

static void t_refresh_embeds_only_new_texts(void **state)
{
    struct fixture *f = *state;
    lh_vectors *v = lh_app_vectors(f->app);
    ingest_rows(f, 0, 500, "alpha");
    json_t *m = create_index(f, "items_idx", "manual");
    assert_int_equal(num_at(m, "count", NULL), 500);
    assert_int_equal(num_at(m, "embedding", "embedded"), 500);
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "text"), "model")), "hash-256");
    json_decref(m);

    /* appended rows: only they are embedded, the graph grows */
    ingest_rows(f, 500, 40, "alpha");
    json_t *stale = NULL, *out = NULL;
    lh_err err;
    assert_int_equal(lh_vectors_stale(v, &stale, &err), LH_OK);
    assert_int_equal(json_array_size(stale), 1);
    json_decref(stale);
    struct progress_log progress = {0};
    assert_int_equal(lh_vectors_refresh(v, "items", &tester, log_progress, &progress, &out, &err), LH_OK);
    json_t *r = json_array_get(json_object_get(out, "indexes"), 0);
    assert_string_equal(json_string_value(json_object_get(r, "status")), "refreshed");
    assert_int_equal(num_at(r, "embedded", NULL), 40);
    assert_true(progress.calls >= 2); /* batches of 32: 32, then 40 */
    assert_int_equal(progress.last_done, 40);
    assert_int_equal(progress.total, 40);
    assert_int_equal(num_at(r, "reused", NULL), 0);
    json_decref(out);

    /* a replace that changes 10 texts and drops the rest past 530: a fresh graph, 520 vectors reused */
    char *path = lh_xasprintf("%s/replace.ndjson", f->dir);
    FILE *fo = fopen(path, "w");
    for (long i = 0; i < 530; i++)
        fprintf(fo, "{\"id\": %ld, \"grp\": %ld, \"body\": \"%s %s number %ld\"}\n", i, i % 100, WORDS[i % 8],
                i < 10 ? "beta" : "alpha", i);
    fclose(fo);
    lh_ingest_source src = {.path = path};
    lh_ingest_options o = {.dataset = "items", .mode = LH_COMMIT_REPLACE};
    json_t *report = NULL;
    assert_int_equal(lh_ingest(lh_app_ingester(f->app), &src, 1, &o, &tester, &report, &err), LH_OK);
    json_decref(report);
    free(path);
    assert_int_equal(lh_vectors_refresh(v, "items", &tester, NULL, NULL, &out, &err), LH_OK);
    r = json_array_get(json_object_get(out, "indexes"), 0);
    assert_int_equal(num_at(r, "embedded", NULL), 10);
    assert_int_equal(num_at(r, "reused", NULL), 520);
    assert_int_equal(num_at(r, "changed", NULL), 10);
    assert_int_equal(num_at(r, "removed", NULL), 10);
    json_decref(out);
    assert_int_equal(lh_vectors_refresh(v, "items", &tester, NULL, NULL, &out, &err), LH_OK);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(out, "indexes"), 0), "status")),
                        "up_to_date");
    json_decref(out);

    /* the changed texts are what keyword search finds now, and nothing of the old rows past 530 */
    lh_search_request q = {.index = "items_idx", .query = "beta", .k = 20, .mode = LH_SEARCH_TEXT, .weight = -1,
                           .rrf_k = -1};
    assert_int_equal(lh_vectors_query(v, &q, &out, &err), LH_OK);
    assert_int_equal(json_array_size(json_object_get(out, "hits")), 10);
    json_decref(out);
    q = (lh_search_request){.index = "items_idx", .query = "number 535", .k = 5, .mode = LH_SEARCH_TEXT, .weight = -1,
                            .rrf_k = -1};
    assert_int_equal(lh_vectors_query(v, &q, &out, &err), LH_OK);
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(out, "hits"), i, h) assert_true(json_integer_value(json_object_get(h, "id")) < 530);
    json_decref(out);
}

static void t_filters(void **state)
{
    struct fixture *f = *state;
    lh_vectors *v = lh_app_vectors(f->app);
    ingest_rows(f, 0, 2000, "alpha");
    json_decref(create_index(f, "items_idx", "manual"));
    lh_err err;
    json_t *out;
    for (int mode = 0; mode < 3; mode++) {
        /* grp = 3 keeps 20 rows of 2000 (1 %); id = 7 keeps one (0.05 %) */
        lh_search_request q = {.index = "items_idx", .query = "forklift number", .k = 10, .mode = (lh_search_mode)mode,
                               .filter = "grp = 3", .weight = -1, .rrf_k = -1, .with_rows = true};
        assert_int_equal(lh_vectors_query(v, &q, &out, &err), LH_OK);
        size_t i;
        json_t *h;
        assert_int_equal(json_array_size(json_object_get(out, "hits")), 10);
        json_array_foreach(json_object_get(out, "hits"), i, h)
            assert_int_equal(num_at(h, "row", "grp"), 3);
        json_decref(out);
        q.filter = "id = 7";
        assert_int_equal(lh_vectors_query(v, &q, &out, &err), LH_OK);
        assert_int_equal(json_array_size(json_object_get(out, "hits")), 1);
        json_decref(out);
    }
    lh_search_request bad = {.index = "items_idx", .query = "x", .k = 10, .filter = "nope = 1", .weight = -1, .rrf_k = -1};
    assert_int_equal(lh_vectors_query(v, &bad, &out, &err), LH_EINVAL);
    bad.filter = "1 = 1; DELETE FROM items";
    assert_int_not_equal(lh_vectors_query(v, &bad, &out, &err), LH_OK);
    bad.filter = "id IN (SELECT * FROM read_text('/etc/passwd'))";
    assert_int_not_equal(lh_vectors_query(v, &bad, &out, &err), LH_OK);
}

struct searcher {
    lh_vectors *v;
    atomic_bool *stop;
    long searches, failures;
};

static void *search_loop(void *arg)
{
    struct searcher *s = arg;
    while (!atomic_load(s->stop)) {
        lh_search_request q = {.index = "items_idx", .query = "welder number", .k = 5, .weight = -1, .rrf_k = -1};
        json_t *out = NULL;
        lh_err err;
        if (lh_vectors_query(s->v, &q, &out, &err) != LH_OK || json_array_size(json_object_get(out, "hits")) != 5)
            s->failures++;
        json_decref(out);
        s->searches++;
    }
    return NULL;
}

static void t_on_append_under_searches(void **state)
{
    struct fixture *f = *state;
    lh_vectors *v = lh_app_vectors(f->app);
    ingest_rows(f, 0, 300, "alpha");
    json_decref(create_index(f, "items_idx", "on_append"));
    atomic_bool stop = false;
    struct searcher s[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        s[i] = (struct searcher){.v = v, .stop = &stop};
        pthread_create(&t[i], NULL, search_loop, &s[i]);
    }
    for (long k = 0; k < 5; k++) ingest_rows(f, 300 + 20 * k, 20, "gamma"); /* each queues a refresh */
    for (int waited = 0; lh_vectors_refreshing(v) && waited < 600; waited++) usleep(100000);
    atomic_store(&stop, true);
    long searches = 0, failures = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        searches += s[i].searches;
        failures += s[i].failures;
    }
    printf("    %ld searches during 5 on_append refreshes, %ld failed\n", searches, failures);
    assert_int_equal(failures, 0);
    json_t *out;
    lh_err err;
    assert_int_equal(lh_vectors_stale(v, &out, &err), LH_OK);
    assert_int_equal(json_array_size(out), 0);
    json_decref(out);
    assert_int_equal(lh_vectors_get(v, "items_idx", &out, &err), LH_OK);
    assert_int_equal(num_at(out, "manifest", "count"), 400);
    json_decref(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t_refresh_embeds_only_new_texts, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(t_filters, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(t_on_append_under_searches, app_setup, app_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
