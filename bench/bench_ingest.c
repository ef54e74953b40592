/*
 * bench_ingest.c — `make bench-ingest`: a generated CSV ingested by
 * `lakehouse ingest` and converted by DuckDB's C API directly (the anchor:
 * COPY ... TO parquet, zstd), alternating, in one run.
 *
 *   bench_ingest --lakehouse bin/lakehouse [--mb 1024] [--runs 2] [--dir DIR]
 *
 * Prints MB/s of both, the ratio, the peak RSS of the lakehouse process, and
 * ends with the machine-readable line
 *   ingest-ratio ours_mb_s=<n> duckdb_mb_s=<n> ratio=<x>
 */
#include <duckdb.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A CSV of mixed columns (ids, numbers, dates, short and long strings). */
static void generate(const char *path, long mb)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    static const char *const cities[] = {"Chicago", "Houston", "Dallas", "Atlanta", "Phoenix", "Denver", "Reno", "Newark"};
    static const char *const words[] = {"forklift", "night", "shift", "warehouse", "certified", "reliable",
                                        "inventory", "welding", "assembly", "driver", "safety", "bilingual"};
    uint64_t x = 88172645463325252ULL;
    fputs("id,customer,city,amount,quantity,created_on,active,note\n", f);
    long target = mb * 1024 * 1024;
    for (long id = 1; ftell(f) < target; id++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        fprintf(f, "%ld,C%06lu,%s,%lu.%02lu,%lu,2024-%02lu-%02lu,%s,", id, (unsigned long)(x % 500000),
                cities[x % 8], (unsigned long)(x % 100000), (unsigned long)((x >> 8) % 100),
                (unsigned long)((x >> 16) % 50), (unsigned long)((x >> 20) % 12 + 1),
                (unsigned long)((x >> 24) % 28 + 1), (x >> 30) & 1 ? "true" : "false");
        int n = 3 + (int)((x >> 33) % 10);
        for (int w = 0; w < n; w++) fprintf(f, "%s%s", w ? " " : "", words[(x >> (w * 4)) % 12]);
        fputc('\n', f);
    }
    fclose(f);
}

static double run_lakehouse(const char *bin, const char *csv, const char *data, long *rss_kb)
{
    char dataset[64];
    static int n;
    snprintf(dataset, sizeof dataset, "bench_%d", n++);
    double t0 = now_s();
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout)) _exit(126);
        execl(bin, bin, "ingest", csv, "--dataset", dataset, "--data", data, "--log-level", "warn", (char *)NULL);
        _exit(127);
    }
    int status;
    struct rusage ru;
    wait4(pid, &status, 0, &ru);
    double dt = now_s() - t0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_ingest: lakehouse ingest failed (%d)\n", status);
        exit(1);
    }
    *rss_kb = ru.ru_maxrss;
    return dt;
}

static double run_duckdb(const char *csv, const char *out)
{
    duckdb_database db;
    duckdb_connection con;
    if (duckdb_open(NULL, &db) == DuckDBError || duckdb_connect(db, &con) == DuckDBError) exit(1);
    char sql[4096];
    snprintf(sql, sizeof sql,
             "COPY (SELECT * FROM read_csv('%s', auto_detect = true)) TO '%s' (FORMAT parquet, COMPRESSION zstd)",
             csv, out);
    double t0 = now_s();
    duckdb_result r;
    if (duckdb_query(con, sql, &r) == DuckDBError) {
        fprintf(stderr, "bench_ingest: duckdb: %s\n", duckdb_result_error(&r));
        exit(1);
    }
    double dt = now_s() - t0;
    duckdb_destroy_result(&r);
    duckdb_disconnect(&con);
    duckdb_close(&db);
    unlink(out);
    return dt;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *bin = NULL, *dir = "build/bench";
    long mb = 1024, runs = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--lakehouse")) bin = argv[i + 1];
        else if (!strcmp(argv[i], "--mb")) mb = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--runs")) runs = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--dir")) dir = argv[i + 1];
    }
    if (!bin || mb < 1 || runs < 1 || runs > 20) {
        fprintf(stderr, "usage: bench_ingest --lakehouse BIN [--mb N] [--runs N] [--dir DIR]\n");
        return 2;
    }
    mkdir(dir, 0755);
    char csv[1024], data[1024], out[1024];
    snprintf(csv, sizeof csv, "%s/ingest-%ldmb.csv", dir, mb);
    snprintf(out, sizeof out, "%s/anchor.parquet", dir);
    struct stat st;
    if (stat(csv, &st) != 0) {
        fprintf(stderr, "generating %ld MB of CSV in %s ...\n", mb, csv);
        generate(csv, mb);
        stat(csv, &st);
    }
    double size_mb = (double)st.st_size / (1024.0 * 1024.0);
    double ours[20], anchor[20];
    long rss = 0, peak = 0;
    for (long r = 0; r < runs; r++) {
        snprintf(data, sizeof data, "%s/data-%ld", dir, r);
        /* alternate which goes first, so neither always gets the warm cache */
        if (r % 2 == 0) {
            anchor[r] = run_duckdb(csv, out);
            ours[r] = run_lakehouse(bin, csv, data, &rss);
        } else {
            ours[r] = run_lakehouse(bin, csv, data, &rss);
            anchor[r] = run_duckdb(csv, out);
        }
        if (rss > peak) peak = rss;
        printf("run %ld: lakehouse ingest %.2f s, duckdb COPY %.2f s\n", r + 1, ours[r], anchor[r]);
        fflush(stdout);
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", data);
        if (system(cmd) != 0) return 1;
    }
    qsort(ours, (size_t)runs, sizeof ours[0], cmp);
    qsort(anchor, (size_t)runs, sizeof anchor[0], cmp);
    double o = ours[runs / 2], a = anchor[runs / 2];
    printf("input %.0f MB; median lakehouse %.2f s (%.1f MB/s, peak RSS %ld MB), duckdb %.2f s (%.1f MB/s)\n",
           size_mb, o, size_mb / o, peak / 1024, a, size_mb / a);
    printf("ingest-ratio ours_mb_s=%.1f duckdb_mb_s=%.1f ratio=%.2f\n", size_mb / o, size_mb / a, a / o);
    return 0;
}
