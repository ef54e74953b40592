/*
 * bench_history.c — what a long history costs a process that opens the
 * catalog (src/catalog/catalog.c): a dataset appended to one object at a
 * time, as an hourly feed is, so that version N's manifest lists N objects.
 *
 *   build/bench/bench_history [--versions 100,300,1000] [--runs 3] [--dir build/bench]
 *
 * At each size it times, in the same run, three ways to open a catalog over
 * the folder and read the dataset's newest version (medians of --runs):
 *   open   lh_catalog_open + lh_catalog_get: what every command does (the
 *          head only, found from a listing);
 *   list   lh_catalog_open + lh_catalog_list (the head and version 1);
 *   full   lh_catalog_open + lh_catalog_rebuild: every version read, as
 *          opening did before (the anchor);
 * and prints
 *   history versions=<n> open_ms=<x> list_ms=<x> full_ms=<x> full_over_open=<x>
 */
#include "lakehouse/lh_catalog.h"
#include "lakehouse/lh_config.h"
#include "lakehouse/lh_log.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_sha256.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const lh_who bench = {"bench", "bench"};

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void die(const char *what, const lh_err *err)
{
    fprintf(stderr, "bench_history: %s: %s\n", what, err->message);
    exit(1);
}

/* Appends one stored object of one row as the next version. */
static void append_one(lh_catalog *cat, lh_store *store, long i)
{
    char key[128], sha[65];
    snprintf(key, sizeof key, "datasets/feed/data/part-%08ld.parquet", i);
    lh_err err;
    if (lh_store_put(store, key, key, strlen(key), 0, &err)) die("put", &err);
    lh_sha256_hex(key, strlen(key), sha);
    json_t *objects = json_pack("[{s:s, s:s, s:i, s:s, s:i}]", "bucket", "local", "key", key, "size",
                                (int)strlen(key), "sha256", sha, "rows", 1);
    json_t *schema = json_pack("[{s:s, s:s}]", "name", "id", "type", "BIGINT");
    lh_commit c = {.mode = LH_COMMIT_APPEND, .objects = objects, .schema = schema, .message = "hourly"};
    json_t *m;
    if (lh_catalog_commit(cat, "feed", &c, &bench, &m, &err)) die("commit", &err);
    json_decref(m);
    json_decref(objects);
    json_decref(schema);
}

enum way { OPEN, LIST, FULL };

static double time_way(lh_buckets *buckets, enum way way)
{
    double t0 = now_ms();
    lh_catalog *cat;
    lh_err err;
    if (lh_catalog_open(buckets, NULL, &cat, &err)) die("open", &err);
    json_t *out = NULL;
    lh_code rc = way == OPEN   ? lh_catalog_get(cat, "feed", 0, &out, &err)
                 : way == LIST ? lh_catalog_list(cat, false, &out, &err)
                               : lh_catalog_rebuild(cat, &out, &err);
    if (rc) die("read", &err);
    json_decref(out);
    lh_catalog_close(cat);
    return now_ms() - t0;
}

int main(int argc, char **argv)
{
    const char *sizes = "100,300,1000", *dir = "build/bench";
    int runs = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--versions") && i + 1 < argc) sizes = argv[++i];
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
        else {
            fprintf(stderr, "usage: bench_history [--versions 100,300,1000] [--runs 3] [--dir build/bench]\n");
            return 2;
        }
    }
    if (runs < 1 || runs > 50) runs = 3;
    lh_log_configure(LH_LOG_WARN, LH_LOG_TEXT, 2);
    char *data = lh_xasprintf("%s/history", dir), *cmd = lh_xasprintf("rm -rf '%s'", data);
    if (system(cmd) != 0) return 1;
    lh_config cfg;
    lh_config_override o[] = {{"storage.data_dir", data, "bench"}};
    lh_buckets *buckets;
    lh_catalog *writer;
    lh_err err;
    if (lh_config_load(&cfg, NULL, NULL, o, 1, &err) || lh_buckets_open(&cfg, &buckets, &err) ||
        lh_catalog_open(buckets, NULL, &writer, &err))
        die("setup", &err);
    json_t *m;
    if (lh_catalog_create(writer, "feed", NULL, &bench, &m, &err)) die("create", &err);
    json_decref(m);
    long have = 1;
    for (const char *p = sizes; *p;) {
        long want = strtol(p, (char **)&p, 10);
        if (*p == ',') p++;
        if (want <= have) continue;
        fprintf(stderr, "appending to %ld versions...\n", want);
        while (have < want) append_one(writer, lh_buckets_default(buckets), have++);
        double t[3][50];
        for (int r = 0; r < runs; r++) /* interleaved, so a noisy spell hits all three */
            for (int w = 0; w < 3; w++) t[w][r] = time_way(buckets, (enum way)w);
        for (int w = 0; w < 3; w++) qsort(t[w], (size_t)runs, sizeof t[w][0], cmp_double);
        double open = t[OPEN][runs / 2], list = t[LIST][runs / 2], full = t[FULL][runs / 2];
        printf("history versions=%ld open_ms=%.1f list_ms=%.1f full_ms=%.1f full_over_open=%.1f\n", have, open, list,
               full, full / open);
        fflush(stdout);
    }
    lh_catalog_close(writer);
    lh_buckets_close(buckets);
    lh_config_free(&cfg);
    if (system(cmd) != 0) return 1;
    free(cmd);
    free(data);
    return 0;
}
