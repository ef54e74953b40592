/*
 * test_ui_jobs.c — the web UI's jobs (src/ui/jobs.c): ids, progress points,
 * outcomes, the listing the System page reads, and slot reuse. The events
 * stream itself is driven by a browser in tests/e2e/ui-ops.test.mjs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../src/ui/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define ID_1 "0123456789abcdef0123456789abcdef"

static void test_ids(void **state)
{
    (void)state;
    assert_true(ui_job_id_valid(ID_1));
    assert_false(ui_job_id_valid(NULL));
    assert_false(ui_job_id_valid(""));
    assert_false(ui_job_id_valid("0123456789ABCDEF0123456789ABCDEF")); /* lower case only */
    assert_false(ui_job_id_valid("0123456789abcdef0123456789abcde"));  /* 31 digits */
    assert_false(ui_job_id_valid("0123456789abcdef0123456789abcdefa"));
    assert_false(ui_job_id_valid("0123456789abcdef0123456789abcdeg"));
    assert_false(ui_job_id_valid("../../../etc/passwd0123456789abcd"));
}

static json_t *only(lh_ui *ui)
{
    json_t *list = ui_jobs_list(ui);
    assert_int_equal(json_array_size(list), 1);
    json_t *job = json_incref(json_array_get(list, 0));
    json_decref(list);
    return job;
}

static void test_progress_and_outcome(void **state)
{
    (void)state;
    lh_ui ui = {.jobs = ui_jobs_new()};
    assert_null(ui_job_start(&ui, SID_A, "not an id", "ingest", "big", "ana", 100));
    assert_null(ui_job_start(&ui, SID_A, NULL, "ingest", "big", "ana", 100));
    ui_job *job = ui_job_start(&ui, SID_A, ID_1, "ingest", "big", "ana", 1000);
    assert_non_null(job);
    /* the same id while it runs: untracked, the first keeps its slot */
    assert_null(ui_job_start(&ui, SID_A, ID_1, "ingest", "big", "ana", 1000));
    ui_job_progress(job, "big.csv", 0.25);
    ui_job_progress(job, "big.csv", 0.251); /* the same whole percent: no new point */
    ui_job_progress(job, "big.csv", 7.0);   /* clamped */
    ui_job_progress(NULL, "x", 0.5);         /* an untracked job: nothing */
    json_t *j = only(&ui);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "running");
    assert_string_equal(json_string_value(json_object_get(j, "what")), "big.csv");
    assert_string_equal(json_string_value(json_object_get(j, "target")), "big");
    assert_string_equal(json_string_value(json_object_get(j, "actor")), "ana");
    assert_true(json_real_value(json_object_get(j, "done")) == 1.0);
    assert_true(json_is_null(json_object_get(j, "finished_at")));
    json_decref(j);
    /* a new phase (the index built after a document ingest) starts again from 0 */
    ui_job_progress(job, "embedding", 0.5);
    j = only(&ui);
    assert_string_equal(json_string_value(json_object_get(j, "what")), "embedding");
    assert_true(json_real_value(json_object_get(j, "done")) == 0.5);
    json_decref(j);
    ui_job_finish(job, true, NULL, 7);
    ui_job_finish(NULL, true, NULL, 0);
    j = only(&ui);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "done");
    assert_int_equal(json_integer_value(json_object_get(j, "version")), 7);
    assert_non_null(json_object_get(j, "finished_at"));
    json_decref(j);
    /* a finished job's id may be used again (the browser retries) */
    job = ui_job_start(&ui, SID_A, ID_1, "ingest", "big", "ana", 10);
    assert_non_null(job);
    ui_job_finish(job, false, "profile ana lacks scope \"ingest\"", 0);
    j = only(&ui);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "failed");
    assert_string_equal(json_string_value(json_object_get(j, "message")), "profile ana lacks scope \"ingest\"");
    json_decref(j);
    free(ui.jobs);
}

static void test_slots(void **state)
{
    (void)state;
    lh_ui ui = {.jobs = ui_jobs_new()};
    ui_job *running[64];
    char id[UI_JOB_ID_HEX + 1];
    for (int i = 0; i < 64; i++) {
        snprintf(id, sizeof id, "%032x", i);
        running[i] = ui_job_start(&ui, i % 2 ? SID_A : SID_B, id, "refresh", "people", "ana", 0);
        assert_non_null(running[i]);
    }
    /* every slot holds a running job: the next one runs untracked */
    snprintf(id, sizeof id, "%032x", 99);
    assert_null(ui_job_start(&ui, SID_A, id, "refresh", "people", "ana", 0));
    /* finished ones make room, the oldest finished first */
    ui_job_finish(running[5], true, NULL, 2);
    ui_job_finish(running[9], true, NULL, 2);
    ui_job *next = ui_job_start(&ui, SID_A, id, "refresh", "people", "ana", 0);
    assert_non_null(next);
    assert_true(next == running[5]);
    json_t *list = ui_jobs_list(&ui);
    assert_int_equal(json_array_size(list), 64);
    /* newest first */
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "id")), id);
    json_decref(list);
    free(ui.jobs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_progress_and_outcome),
        cmocka_unit_test(test_slots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
