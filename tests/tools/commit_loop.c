/*
 * commit_loop.c — a test tool: commits to one dataset in a loop and
 * acknowledges each commit on stdout, for the multi-process and crash tests.
 *
 *   commit_loop --data DIR [--set KEY=VALUE]... --dataset NAME --count N --tag T
 *
 * Each commit appends one object datasets/NAME/data/T-<i> (rows 1) and, once
 * lh_catalog_commit has returned, prints "ack T <i> <version>" and flushes.
 * An acknowledged line therefore names a commit that must survive anything.
 */
#include "lakehouse/lh_app.h"
#include "lakehouse/lh_log.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_sha256.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

int main(int argc, char **argv)
{
    lh_config_override overrides[32];
    size_t n = 0;
    const char *dataset = NULL, *tag = "t";
    long count = 10;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--data")) {
            overrides[n++] = (lh_config_override){"storage.data_dir", argv[i + 1], "--data"};
        } else if (!strcmp(argv[i], "--set") && n < 32) {
            char *eq = strchr(argv[i + 1], '=');
            if (!eq) return 2;
            *eq = '\0';
            overrides[n++] = (lh_config_override){argv[i + 1], eq + 1, "--set"};
        } else if (!strcmp(argv[i], "--dataset")) {
            dataset = argv[i + 1];
        } else if (!strcmp(argv[i], "--count")) {
            count = atol(argv[i + 1]);
        } else if (!strcmp(argv[i], "--tag")) {
            tag = argv[i + 1];
        } else {
            fprintf(stderr, "commit_loop: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!dataset) {
        fprintf(stderr, "usage: commit_loop --data DIR --dataset NAME --count N --tag T\n");
        return 2;
    }
    lh_log_configure(LH_LOG_WARN, LH_LOG_TEXT, 2);
    lh_config cfg;
    lh_err err;
    lh_app *app;
    if (lh_config_load(&cfg, NULL, environ, overrides, n, &err) || lh_app_open(&cfg, &app, &err)) {
        fprintf(stderr, "commit_loop: %s\n", err.message);
        return 1;
    }
    lh_catalog *cat = lh_app_catalog(app);
    lh_who who = {.actor = tag, .source = "test"};
    json_t *m;
    lh_code rc = lh_catalog_create(cat, dataset, NULL, &who, &m, &err);
    if (rc == LH_OK) json_decref(m);
    else if (rc != LH_EEXIST) {
        fprintf(stderr, "commit_loop: create: %s\n", err.message);
        return 1;
    }
    const char *bucket = lh_buckets_default(lh_app_buckets(app))->name;
    int status = 0;
    for (long i = 0; i < count; i++) {
        char key[256], sha[65];
        snprintf(key, sizeof key, "datasets/%s/data/%s-%ld", dataset, tag, i);
        lh_sha256_hex(key, strlen(key), sha);
        /* the object holds its own key: commits check that it exists, its size and hash */
        rc = lh_store_put(lh_buckets_default(lh_app_buckets(app)), key, key, strlen(key), 0, &err);
        if (rc) {
            fprintf(stderr, "commit_loop: put %ld: %s\n", i, err.message);
            status = 1;
            break;
        }
        json_t *objects = json_pack("[{s:s, s:s, s:i, s:s, s:i}]", "bucket", bucket, "key", key,
                                    "size", (int)strlen(key), "sha256", sha, "rows", 1);
        json_t *schema = json_pack("[{s:s, s:s}]", "name", "id", "type", "BIGINT");
        lh_commit c = {.mode = LH_COMMIT_APPEND, .objects = objects, .schema = schema, .message = key};
        rc = lh_catalog_commit(cat, dataset, &c, &who, &m, &err);
        json_decref(objects);
        json_decref(schema);
        if (rc) {
            fprintf(stderr, "commit_loop: commit %ld: %s\n", i, err.message);
            status = 1;
            break;
        }
        printf("ack %s %ld %lld\n", tag, i, (long long)json_integer_value(json_object_get(m, "version")));
        fflush(stdout);
        json_decref(m);
    }
    lh_app_close(app);
    lh_config_free(&cfg);
    return status;
}
