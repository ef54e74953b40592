/*
 * app_fixture.h — a whole application (lh_app) over a temporary data folder,
 * for the unit suites that test modules through it. Each suite defines
 * APP_FIXTURE_SETTINGS (extra {key, value, origin} overrides) before
 * including this header, and uses app_setup / app_teardown with cmocka.
 */
#ifndef LH_TEST_APP_FIXTURE_H
#define LH_TEST_APP_FIXTURE_H

#include "lakehouse/lh_app.h"
#include "lakehouse/lh_mem.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct fixture {
    char *dir;
    lh_config cfg;
    lh_app *app;
};

static const lh_who tester = {"tester", "test"};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int app_setup(void **state)
{
    struct fixture *f = lh_xcalloc(1, sizeof *f);
    char tmpl[] = "/tmp/lh-unit-XXXXXX";
    f->dir = lh_xstrdup(mkdtemp(tmpl));
    char *data = lh_xasprintf("%s/data", f->dir);
    lh_config_override o[] = {{"storage.data_dir", data, "test"}, {"journal.flush_ms", "20", "test"},
                              APP_FIXTURE_SETTINGS};
    lh_err err;
    lh_code rc = lh_config_load(&f->cfg, NULL, NULL, o, sizeof o / sizeof *o, &err);
    if (rc == LH_OK) rc = lh_app_open(&f->cfg, &f->app, &err);
    free(data);
    if (rc) {
        fprintf(stderr, "setup: %s\n", err.message);
        return -1;
    }
    *state = f;
    return 0;
}

static int app_teardown(void **state)
{
    struct fixture *f = *state;
    lh_app_close(f->app);
    lh_config_free(&f->cfg);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f->dir);
    free(f);
    return 0;
}

/* Ingests text as a CSV file into dataset, as tester; an error fails the test. */
static inline void app_ingest_csv(struct fixture *f, const char *dataset, const char *text)
{
    char *path = lh_xasprintf("%s/%s.csv", f->dir, dataset);
    FILE *fp = fopen(path, "w");
    fputs(text, fp);
    fclose(fp);
    json_t *args = json_pack("{s:s}", "dataset", dataset), *out = NULL;
    lh_ingest_source src = {.path = path, .name = "x.csv"};
    lh_op_ctx call = {.who = tester};
    lh_err err;
    if (lh_app_ingest(f->app, args, &src, 1, &call, &out, &err)) fail_msg("ingest: %s", err.message);
    json_decref(out);
    json_decref(args);
    free(path);
}

#endif
