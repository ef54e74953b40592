/*
 * test_memory.c — the memory layers (lh_memory.h, src/app/memory.c,
 * playbooks.c, pathways.c) through the operation table: the boost formula
 * to the number, the boost, cap, context filter, versions, retirement and
 * injection in search; the pathway id and vector definitions; ADD, UPDATE,
 * REVISE chains, RETIRE hiding, HISTORY and SEARCH; hostile arguments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define APP_FIXTURE_SETTINGS                                                                       \
    {                                                                                              \
        "ai.provider", "hash", "test"                                                              \
    }
#include "app_fixture.h"
#include "lakehouse/lh_app.h"
#include "lakehouse/lh_memory.h"
#include "lakehouse/lh_mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEAR(a, b, tol) assert_true(fabs((double)(a) - (double)(b)) <= (tol))

/* Runs op with args (JSON text) as tester: its code; *out (may be NULL) the answer. */
static lh_code call(struct fixture *f, const char *op, const char *args, json_t **out, lh_err *err)
{
    json_t *a = json_loads(args, 0, NULL);
    if (!a) fail_msg("bad JSON in the test: %s", args);
    lh_op_ctx ctx = {.who = tester};
    json_t *o = NULL;
    lh_code rc = lh_app_call(f->app, op, a, &ctx, &o, err);
    json_decref(a);
    if (out)
        *out = o;
    else
        json_decref(o);
    return rc;
}

static json_t *ok(struct fixture *f, const char *op, const char *args)
{
    json_t *out;
    lh_err err;
    if (call(f, op, args, &out, &err) != LH_OK) fail_msg("%s %s: %s", op, args, err.message);
    return out;
}

static lh_code code_of(struct fixture *f, const char *op, const char *args)
{
    lh_err err;
    return call(f, op, args, NULL, &err);
}

/* ---- definitions ---- */

static void t_boost_formula(void **state)
{
    (void)state;
    /* cos × 0.5 × e^(−age_days/30) × 0.5^failures / n, by hand */
    NEAR(lh_playbook_boost(1, 0, 0, 1), 0.5, 1e-15);
    NEAR(lh_playbook_boost(0.8, 0, 0, 4), 0.1, 1e-15);
    NEAR(lh_playbook_boost(1, 30, 0, 1), 0.18393972058572117, 1e-15);    /* 0.5 / e */
    NEAR(lh_playbook_boost(0.9, 15, 2, 3), 0.022744899739223754, 1e-15); /* 0.45 e^-0.5 / 4 / 3 */
    NEAR(lh_playbook_boost(0.5, 0, 1, 2), 0.0625, 1e-15);                /* 0.25 / 2 / 2 */
    NEAR(lh_playbook_boost(1, 60, 3, 5), 0.5 * exp(-2) / 8 / 5, 1e-15);  /* 0.0016916910404576... */
    NEAR(lh_playbook_boost(1, 60, 3, 5), 0.0016916910404576589, 1e-15);
    assert_true(lh_playbook_boost(1, 0, 0, 0) == 0);  /* no workers: no boost */
    NEAR(lh_playbook_boost(1, -5, 0, 1), 0.5, 1e-15); /* a clock behind: age 0 */
}

static void t_pathway_definitions(void **state)
{
    (void)state;
    char p[64], id[LH_PATHWAY_ID_HEX + 1];
    assert_int_equal(lh_pathway_prefix("/staffing/search/hybrid", p, sizeof p),
                     strlen("staffing/search"));
    assert_string_equal(p, "staffing/search");
    lh_pathway_prefix("staffing//search/", p, sizeof p);
    assert_string_equal(p, "staffing/search");
    lh_pathway_prefix("one", p, sizeof p);
    assert_string_equal(p, "one");
    assert_int_equal(lh_pathway_prefix("///", p, sizeof p), 0);
    assert_string_equal(p, "");
    /* SHA-256("fill|staffing/search|repeat_task"), as sha256sum prints it */
    lh_pathway_id("fill", "/staffing/search/hybrid", "repeat_task", id);
    assert_string_equal(id, "51a136cc9384550fd698a82a7148e99fc87abe608bd112cb8f1e7442bb930e87");
    char other[LH_PATHWAY_ID_HEX + 1];
    lh_pathway_id("fill", "staffing/search/vector/x", "repeat_task",
                  other); /* same first two segments */
    assert_string_equal(id, other);
    lh_pathway_id("fill", "staffing/ask", "repeat_task", other);
    assert_string_not_equal(id, other);
    /* the vector: tokens to bucket FNV-1a-64 mod 32 (by hand: fill 8, staffing 15,
     * search 9, hybrid 3, repeat 10, task 12, a 12, b 5), unit length */
    double v[LH_PATHWAY_DIM];
    lh_pathway_vector("fill /staffing/search/hybrid repeat_task", v);
    for (int i = 0; i < LH_PATHWAY_DIM; i++) {
        bool set = i == 8 || i == 15 || i == 9 || i == 3 || i == 10 || i == 12;
        NEAR(v[i], set ? 1 / sqrt(6) : 0, 1e-15);
    }
    lh_pathway_vector("A a, B!", v); /* case folded; punctuation separates */
    NEAR(v[12], 2 / sqrt(5), 1e-15);
    NEAR(v[5], 1 / sqrt(5), 1e-15);
    lh_pathway_vector("  --  ", v);
    for (int i = 0; i < LH_PATHWAY_DIM; i++) assert_true(v[i] == 0);
}

/* ---- playbooks ---- */

static void workers(struct fixture *f)
{
    app_ingest_csv(f, "workers",
                   "worker_id,city,profile\n"
                   "1,Reno,Ana is a welder in Reno who welds steel\n"
                   "2,Reno,Ben is a welder in Reno with a truck\n"
                   "3,Reno,Cy is a line cook in Reno\n"
                   "4,Denver,Di is a welder in Denver\n"
                   "5,Reno,Ed is a quiet gardener\n"
                   "6,Reno,Flo is a welder and fitter in Reno\n");
    json_decref(ok(f, "index.create",
                   "{\"name\":\"people\",\"dataset\":\"workers\",\"id_column\":\"worker_id\","
                   "\"text_columns\":[\"profile\"]}"));
}

/* The hit of id in a search's answer, or NULL. */
static json_t *hit_of(json_t *out, json_int_t id)
{
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(out, "hits"), i,
                       h) if (json_integer_value(json_object_get(h, "id")) == id) return h;
    return NULL;
}

static double num(const json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

#define TASK                                                                                       \
    "{\"index\":\"people\",\"query\":\"fill: welder x2 in Reno, NV\",\"k\":%d,\"rows\":false%s}"

static json_t *search(struct fixture *f, int k, const char *extra)
{
    char args[512];
    snprintf(args, sizeof args, TASK, k, extra);
    return ok(f, "search", args);
}

static void t_playbook_boost_in_search(void **state)
{
    struct fixture *f = *state;
    workers(f);
    /* no playbook yet: memory starts empty, the boost changes nothing */
    json_t *plain = search(f, 4, ""),
           *b = search(f, 4, ",\"playbooks\":true,\"context\":\"Reno, NV\"");
    assert_int_equal(
        json_array_size(json_object_get(json_object_get(b, "playbooks"), "candidates")), 0);
    assert_true(json_equal(json_object_get(plain, "hits"), json_object_get(b, "hits")));
    json_decref(b);

    /* the same task text (cos 1), two workers (n 2), no failure, fresh: 0.5 / 2 = 0.25 each */
    json_t *r = ok(f, "playbook.record",
                   "{\"index\":\"people\",\"task\":\"fill: welder x2 in Reno, NV\","
                   "\"context\":\"Reno, NV\",\"workers\":[\"1\",\"2\"]}");
    const char *id =
        json_string_value(json_object_get(json_object_get(r, "playbook"), "playbook_id"));
    char pid[17];
    snprintf(pid, sizeof pid, "%s", id);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "playbook"), "n")), 2);
    json_decref(r);
    b = search(f, 4, ",\"playbooks\":true,\"context\":\"reno, nv\""); /* context: case folded */
    json_t *cands = json_object_get(json_object_get(b, "playbooks"), "candidates");
    assert_int_equal(json_array_size(cands), 1);
    NEAR(num(json_array_get(cands, 0), "cos"), 1, 1e-6);
    for (json_int_t w = 1; w <= 2; w++) {
        json_t *h = hit_of(b, w), *p = hit_of(plain, w);
        assert_non_null(h);
        NEAR(num(h, "boost"), 0.25, 1e-6); /* e^(-age/30): age is milliseconds here */
        if (p) NEAR(num(h, "score"), num(p, "score") + num(h, "boost"), 1e-9);
        char ref[32];
        snprintf(ref, sizeof ref, "%s@1", pid); /* provenance: the playbook version */
        assert_string_equal(json_string_value(json_array_get(json_object_get(h, "playbooks"), 0)),
                            ref);
    }
    json_decref(b);

    /* another context: no candidate */
    b = search(f, 4, ",\"playbooks\":true,\"context\":\"Denver, CO\"");
    assert_int_equal(
        json_array_size(json_object_get(json_object_get(b, "playbooks"), "candidates")), 0);
    json_decref(b);

    /* the next version, a failure: the old one superseded, failures 1: 0.125 each */
    char args[512];
    snprintf(
        args, sizeof args,
        "{\"index\":\"people\",\"task\":\"fill: welder x2 in Reno, NV\",\"context\":\"Reno, NV\","
        "\"workers\":[\"1\",\"2\"],\"outcome\":\"failure\",\"parent\":\"%s\"}",
        pid);
    r = ok(f, "playbook.record", args);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "playbook"), "version")),
                     2);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(r, "playbook"), "failures")), 1);
    json_decref(r);
    b = search(f, 4, ",\"playbooks\":true,\"context\":\"Reno, NV\"");
    assert_int_equal(
        json_array_size(json_object_get(json_object_get(b, "playbooks"), "candidates")), 1);
    NEAR(num(hit_of(b, 1), "boost"), 0.125, 1e-6);
    json_decref(b);
    snprintf(args, sizeof args, "{\"id\":\"%s\"}", pid);
    json_t *show = ok(f, "playbook.show", args);
    json_t *versions = json_object_get(show, "versions");
    assert_int_equal(json_array_size(versions), 2);
    assert_true(*json_string_value(json_object_get(json_array_get(versions, 0), "superseded_at")));
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(versions, 1), "superseded_at")), "");
    assert_string_equal(json_string_value(json_object_get(json_array_get(versions, 1), "parent")),
                        (snprintf(args, sizeof args, "%s@1", pid), args));
    json_decref(show);

    /* one worker (n 1): the formula gives 0.5, the cap 0.25; a worker the
     * plain search missed (5, a gardener) is injected (distance 0 <= 0.20),
     * scoring as the k-th plain hit plus its boost */
    r = ok(f, "playbook.record",
           "{\"index\":\"people\",\"task\":\"fill: welder x2 in Reno, NV\","
           "\"context\":\"Reno, NV\",\"workers\":[\"5\"]}");
    json_decref(r);
    json_t *plain2 = search(f, 2, "");
    assert_null(hit_of(plain2, 5));
    b = search(f, 2, ",\"playbooks\":true,\"context\":\"Reno, NV\"");
    json_t *h5 = hit_of(b, 5);
    assert_non_null(h5);
    assert_true(json_is_true(json_object_get(h5, "injected")));
    NEAR(num(h5, "boost"), 0.25, 1e-12);
    double kth = num(json_array_get(json_object_get(plain2, "hits"), 1), "score");
    NEAR(num(h5, "score"), kth + 0.25, 1e-9);
    assert_int_equal(json_array_size(json_object_get(b, "hits")), 2); /* cut to k again */
    json_t *inj = json_object_get(json_object_get(b, "playbooks"), "injected");
    assert_int_equal(json_integer_value(json_array_get(inj, 0)), 5);
    json_decref(b);
    /* a filter the worker does not pass: not injected */
    b = search(f, 2, ",\"playbooks\":true,\"context\":\"Reno, NV\",\"filter\":\"worker_id < 5\"");
    assert_null(hit_of(b, 5));
    json_decref(b);
    json_decref(plain2);

    /* retired: no longer a candidate */
    snprintf(args, sizeof args, "{\"id\":\"%s\",\"reason\":\"stale\"}", pid);
    json_decref(ok(f, "playbook.retire", args));
    assert_int_equal(code_of(f, "playbook.retire", args), LH_ECONFLICT); /* twice */
    b = search(f, 4, ",\"playbooks\":true,\"context\":\"Reno, NV\"");
    assert_int_equal(
        json_array_size(json_object_get(json_object_get(b, "playbooks"), "candidates")),
        1); /* the n=1 one */
    assert_null(json_object_get(hit_of(b, 2), "boost"));
    json_decref(b);
    /* a retired playbook takes no next version */
    snprintf(args, sizeof args,
             "{\"index\":\"people\",\"task\":\"t\",\"workers\":[\"1\"],\"parent\":\"%s\"}", pid);
    assert_int_equal(code_of(f, "playbook.record", args), LH_ECONFLICT);
    json_t *list = ok(f, "playbook.list", "{}");
    assert_int_equal(json_array_size(json_object_get(list, "playbooks")), 1);
    json_decref(list);
    list = ok(f, "playbook.list", "{\"all\":true}");
    assert_int_equal(json_array_size(json_object_get(list, "playbooks")), 2);
    json_decref(list);
    /* history is every row, by SQL */
    json_t *rows = ok(f, "sql", "{\"sql\":\"SELECT event FROM _playbooks ORDER BY seq\"}");
    char *text = json_dumps(json_object_get(rows, "rows"), JSON_COMPACT);
    assert_string_equal(text,
                        "[[\"record\"],[\"supersede\"],[\"record\"],[\"record\"],[\"retire\"]]");
    free(text);
    json_decref(rows);
    json_decref(plain);
}

static void t_playbook_hostile(void **state)
{
    struct fixture *f = *state;
    workers(f);
    assert_int_equal(
        code_of(f, "playbook.record", "{\"index\":\"people\",\"task\":\"t\",\"workers\":[]}"),
        LH_EINVAL);
    assert_int_equal(
        code_of(f, "playbook.record", "{\"index\":\"people\",\"task\":\"\",\"workers\":[\"1\"]}"),
        LH_EINVAL);
    assert_int_equal(code_of(f, "playbook.record",
                             "{\"index\":\"people\",\"task\":\"t\",\"workers\":[\"1\",\"1\"]}"),
                     LH_EINVAL);
    assert_int_equal(
        code_of(f, "playbook.record", "{\"index\":\"people\",\"task\":\"t\",\"workers\":[\"\"]}"),
        LH_EINVAL);
    assert_int_equal(
        code_of(f, "playbook.record", "{\"index\":\"people\",\"task\":\"t\",\"workers\":[1]}"),
        LH_EINVAL);
    assert_int_equal(code_of(f, "playbook.record",
                             "{\"index\":\"people\",\"task\":\"t\",\"workers\":[\"1\"],"
                             "\"outcome\":\"meh\"}"),
                     LH_EINVAL);
    assert_int_equal(
        code_of(f, "playbook.record", "{\"index\":\"nope\",\"task\":\"t\",\"workers\":[\"1\"]}"),
        LH_ENOTFOUND);
    assert_int_equal(code_of(f, "playbook.record",
                             "{\"index\":\"people\",\"task\":\"t\",\"workers\":[\"1\"],"
                             "\"parent\":\"0123456789abcdef\"}"),
                     LH_ENOTFOUND);
    assert_int_equal(code_of(f, "playbook.record",
                             "{\"index\":\"people\",\"task\":\"t\",\"workers\":[\"1\"],"
                             "\"parent\":\"../x\"}"),
                     LH_EINVAL);
    /* too many workers: the table's bound */
    lh_buf b = {0};
    lh_buf_puts(&b, "{\"index\":\"people\",\"task\":\"t\",\"workers\":[");
    for (int i = 0; i <= LH_PLAYBOOK_MAX_WORKERS; i++)
        lh_buf_printf(&b, "%s\"%d\"", i ? "," : "", i);
    lh_buf_puts(&b, "]}");
    assert_int_equal(code_of(f, "playbook.record", b.data), LH_EINVAL);
    lh_buf_free(&b);
    /* a task too long */
    char *big = lh_xcalloc(LH_PLAYBOOK_MAX_TEXT + 64, 1);
    memset(big, 'x', LH_PLAYBOOK_MAX_TEXT + 1);
    char *args = lh_xasprintf("{\"index\":\"people\",\"task\":\"%s\",\"workers\":[\"1\"]}", big);
    assert_int_equal(code_of(f, "playbook.record", args), LH_ETOOBIG);
    free(args);
    free(big);
    assert_int_equal(code_of(f, "playbook.show", "{\"id\":\"nope\"}"), LH_EINVAL);
    assert_int_equal(code_of(f, "playbook.show", "{\"id\":\"0123456789abcdef\"}"), LH_ENOTFOUND);
    assert_int_equal(code_of(f, "playbook.retire", "{\"id\":\"0123456789abcdef\"}"), LH_ENOTFOUND);
    /* a vector index is not a text index */
    app_ingest_csv(f, "vecs", "id,embedding\n1,\"[1,0]\"\n2,\"[0,1]\"\n");
    lh_err err;
    if (call(f, "index.create",
             "{\"name\":\"v\",\"dataset\":\"vecs\",\"id_column\":\"id\",\"vector_column\":"
             "\"embedding\"}",
             NULL, &err) == LH_OK)
        assert_int_equal(
            code_of(f, "playbook.record", "{\"index\":\"v\",\"task\":\"t\",\"workers\":[\"1\"]}"),
            LH_EINVAL);
    /* the system datasets are written by Lakehouse only */
    assert_int_equal(code_of(f, "catalog.create", "{\"name\":\"_playbooks\"}"), LH_EFORBIDDEN);
    assert_int_equal(code_of(f, "catalog.create", "{\"name\":\"_pathways\"}"), LH_EFORBIDDEN);
}

/* ---- pathways ---- */

#define PW "{\"task_class\":\"fill\",\"path\":\"%s\",\"signal_class\":\"repeat_task\"%s}"

static json_t *add(struct fixture *f, const char *path, const char *extra)
{
    char args[512];
    snprintf(args, sizeof args, PW, path, extra);
    return ok(f, "pathway.add", args);
}

static json_int_t field_int(const json_t *out, const char *k)
{
    return json_integer_value(json_object_get(json_object_get(out, "pathway"), k));
}

static void t_pathway_operations(void **state)
{
    struct fixture *f = *state;
    const char *id = "51a136cc9384550fd698a82a7148e99fc87abe608bd112cb8f1e7442bb930e87";
    char args[512];
    /* starts empty */
    json_t *s = ok(f, "pathway.search", "{\"query\":\"fill\"}");
    assert_int_equal(json_array_size(json_object_get(s, "hits")), 0);
    json_decref(s);
    snprintf(args, sizeof args, "{\"id\":\"%s\"}", id);
    assert_int_equal(code_of(f, "pathway.history", args), LH_ENOTFOUND);

    /* ADD, then UPDATE on a repeat (the same first two segments: the same id) */
    json_t *a = add(f, "/staffing/search/hybrid", ",\"outcome\":\"filled 3/3\"");
    assert_string_equal(json_string_value(json_object_get(a, "action")), "add");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(a, "pathway"), "pathway_id")), id);
    assert_int_equal(field_int(a, "version"), 1);
    assert_int_equal(field_int(a, "replay_count"), 0);
    json_t *vec = json_object_get(json_object_get(a, "pathway"), "vector");
    assert_int_equal(json_array_size(vec), LH_PATHWAY_DIM);
    NEAR(json_number_value(json_array_get(vec, 8)), 1 / sqrt(6), 1e-12);
    json_decref(a);
    a = add(f, "/staffing/search/hybrid", "");
    assert_string_equal(json_string_value(json_object_get(a, "action")), "update");
    assert_int_equal(field_int(a, "replay_count"), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(a, "pathway"), "outcome")), "filled 3/3");
    json_decref(a);
    a = add(f, "staffing/search/other", ",\"outcome\":\"filled 2/3\"");
    assert_int_equal(field_int(a, "replay_count"), 2);
    assert_int_equal(field_int(a, "version"), 1);
    json_decref(a);

    /* REVISE: a chain of versions, each with its parent */
    snprintf(args, sizeof args,
             "{\"id\":\"%s\",\"path\":\"staffing/search/vector\",\"outcome\":\"filled 1/3\"}", id);
    a = ok(f, "pathway.revise", args);
    assert_int_equal(field_int(a, "version"), 2);
    assert_int_equal(field_int(a, "parent_version"), 1);
    assert_int_equal(field_int(a, "replay_count"), 0);
    json_decref(a);
    snprintf(args, sizeof args, "{\"id\":\"%s\",\"trace\":\"vector alone missed the city\"}", id);
    a = ok(f, "pathway.revise", args);
    assert_int_equal(field_int(a, "version"), 3);
    assert_int_equal(field_int(a, "parent_version"), 2);
    assert_string_equal(json_string_value(json_object_get(json_object_get(a, "pathway"), "path")),
                        "staffing/search/vector");
    json_decref(a);
    /* a revision cannot move the pathway (its id is its first two segments) nor change nothing */
    snprintf(args, sizeof args, "{\"id\":\"%s\",\"path\":\"staffing/ask\"}", id);
    assert_int_equal(code_of(f, "pathway.revise", args), LH_EINVAL);
    snprintf(args, sizeof args, "{\"id\":\"%s\"}", id);
    assert_int_equal(code_of(f, "pathway.revise", args), LH_EINVAL);

    /* another pathway, to search among */
    json_decref(ok(f, "pathway.add",
                   "{\"task_class\":\"triage\",\"path\":\"support/email/"
                   "urgent\",\"signal_class\":\"angry\"}"));
    s = ok(f, "pathway.search", "{\"query\":\"fill staffing search repeat task\",\"k\":1}");
    json_t *top = json_array_get(json_object_get(s, "hits"), 0);
    assert_string_equal(json_string_value(json_object_get(top, "pathway_id")), id);
    assert_int_equal(json_integer_value(json_object_get(top, "version")), 3);
    assert_true(num(top, "similarity") > 0.5);
    json_decref(s);

    /* HISTORY: every row, oldest first */
    snprintf(args, sizeof args, "{\"id\":\"%s\"}", id);
    json_t *h = ok(f, "pathway.history", args);
    json_t *rows = json_object_get(h, "history");
    assert_int_equal(json_array_size(rows), 5);
    static const char *const events[] = {"add", "update", "update", "revise", "revise"};
    static const int versions[] = {1, 1, 1, 2, 3};
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(json_string_value(json_object_get(json_array_get(rows, i), "event")),
                            events[i]);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, i), "version")),
                         versions[i]);
    }
    json_decref(h);

    /* RETIRE hides it from search and list; twice, or a revision after, is a conflict */
    snprintf(args, sizeof args, "{\"id\":\"%s\",\"reason\":\"superseded by the boost\"}", id);
    json_decref(ok(f, "pathway.retire", args));
    assert_int_equal(code_of(f, "pathway.retire", args), LH_ECONFLICT);
    snprintf(args, sizeof args, "{\"id\":\"%s\",\"outcome\":\"x\"}", id);
    assert_int_equal(code_of(f, "pathway.revise", args), LH_ECONFLICT);
    s = ok(f, "pathway.search", "{\"query\":\"fill staffing search repeat task\"}");
    assert_int_equal(json_array_size(json_object_get(s, "hits")), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(s, "hits"), 0), "task_class")),
                        "triage");
    json_decref(s);
    json_t *l = ok(f, "pathway.list", "{}");
    assert_int_equal(json_array_size(json_object_get(l, "pathways")), 1);
    json_decref(l);
    l = ok(f, "pathway.list", "{\"all\":true}");
    assert_int_equal(json_array_size(json_object_get(l, "pathways")), 2);
    json_decref(l);
    /* added again after RETIRE: a new version, live again */
    a = add(f, "staffing/search/boost", "");
    assert_string_equal(json_string_value(json_object_get(a, "action")), "add");
    assert_int_equal(field_int(a, "version"), 4);
    assert_int_equal(field_int(a, "parent_version"), 3);
    json_decref(a);

    /* hostile arguments */
    assert_int_equal(code_of(f, "pathway.history", "{\"id\":\"../../etc\"}"), LH_EINVAL);
    assert_int_equal(code_of(f, "pathway.retire", "{\"id\":\"' OR 1=1 --\"}"), LH_EINVAL);
    snprintf(args, sizeof args, "{\"id\":\"%064d\"}", 0);
    assert_int_equal(code_of(f, "pathway.retire", args), LH_ENOTFOUND);
    assert_int_equal(
        code_of(f, "pathway.add", "{\"task_class\":\"\",\"path\":\"a/b\",\"signal_class\":\"s\"}"),
        LH_EINVAL);
    assert_int_equal(
        code_of(f, "pathway.add", "{\"task_class\":\"t\",\"path\":\"///\",\"signal_class\":\"s\"}"),
        LH_EINVAL);
    assert_int_equal(code_of(f, "pathway.add", "{\"task_class\":\"t\",\"path\":\"a\"}"), LH_EINVAL);
    assert_int_equal(code_of(f, "pathway.search", "{\"query\":\"x\",\"k\":101}"), LH_EINVAL);
    char *big = lh_xcalloc(LH_PATHWAY_MAX_TEXT + 64, 1);
    memset(big, 'x', LH_PATHWAY_MAX_TEXT + 1);
    char *args2 = lh_xasprintf(
        "{\"task_class\":\"t\",\"path\":\"a/b\",\"signal_class\":\"s\",\"trace\":\"%s\"}", big);
    assert_int_equal(code_of(f, "pathway.add", args2), LH_ETOOBIG);
    free(args2);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_boost_formula),
        cmocka_unit_test(t_pathway_definitions),
        cmocka_unit_test_setup_teardown(t_playbook_boost_in_search, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(t_playbook_hostile, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(t_pathway_operations, app_setup, app_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
