/*
 * bench_sql.c — `make bench-sql`: analytic queries over a 10-million-row
 * dataset through POST /v1/sql (a real `lakehouse serve`, keep-alive HTTP)
 * and through DuckDB's C API in-process over the same Parquet file, alternating.
 *
 *   bench_sql --lakehouse bin/lakehouse [--rows 10000000] [--runs 7] [--dir DIR]
 *
 * Prints median latencies and ratios, and one machine-readable line per query:
 *   sql-ratio query=<name> http_ms=<n> inproc_ms=<n> ratio=<x>
 * then what an API key adds to SELECT 1 (p50 without a key — none exists yet —
 * and with one, after its one-time argon2id verification; docs/access.md):
 *   sql-auth select1_ms=<n> select1_key_ms=<n> added_ms=<x>
 */
#include <curl/curl.h>
#include <duckdb.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const struct {
    const char *name, *sql;
} queries[] = {
    {"select1", "SELECT 1"},
    {"count", "SELECT count(*) FROM facts"},
    {"filter", "SELECT count(*), sum(amount) FROM facts WHERE amount > 500 AND city = 'Denver'"},
    {"groupby", "SELECT city, count(*), avg(amount), max(quantity) FROM facts GROUP BY city ORDER BY city"},
    {"distinct", "SELECT count(DISTINCT customer) FROM facts"},
    {"topk", "SELECT id, amount FROM facts ORDER BY amount DESC, id LIMIT 100"},
    {"join", "SELECT f.city, count(*) FROM facts f JOIN (SELECT DISTINCT city FROM facts WHERE id < 1000) c "
             "USING (city) WHERE f.quantity > 40 GROUP BY 1 ORDER BY 1"},
};
#define N_QUERIES (sizeof queries / sizeof queries[0])

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void sh(const char *cmd)
{
    if (system(cmd) != 0) {
        fprintf(stderr, "bench_sql: failed: %s\n", cmd);
        exit(1);
    }
}

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    *(size_t *)ud += size * n;
    return size * n;
}

static struct curl_slist *auth_header; /* Authorization: Bearer <key>, once one exists */

static double http_query(CURL *h, const char *url, const char *sql)
{
    char body[2048];
    snprintf(body, sizeof body, "{\"sql\":\"%s\"}", sql);
    size_t got = 0;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &got);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, auth_header);
    double t0 = now_ms();
    CURLcode rc = curl_easy_perform(h);
    double dt = now_ms() - t0;
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status != 200) {
        fprintf(stderr, "bench_sql: HTTP %ld for %s\n", status, sql);
        exit(1);
    }
    return dt;
}

static double inproc_query(duckdb_connection con, const char *sql)
{
    double t0 = now_ms();
    duckdb_result r;
    if (duckdb_query(con, sql, &r) == DuckDBError) {
        fprintf(stderr, "bench_sql: %s: %s\n", sql, duckdb_result_error(&r));
        exit(1);
    }
    duckdb_data_chunk c;
    while ((c = duckdb_fetch_chunk(r))) duckdb_destroy_data_chunk(&c);
    duckdb_destroy_result(&r);
    return now_ms() - t0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *bin = NULL, *dir = "build/bench";
    long rows = 10000000, runs = 7;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--lakehouse")) bin = argv[i + 1];
        else if (!strcmp(argv[i], "--rows")) rows = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--runs")) runs = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--dir")) dir = argv[i + 1];
    }
    if (!bin || rows < 1000 || runs < 1 || runs > 50) {
        fprintf(stderr, "usage: bench_sql --lakehouse BIN [--rows N] [--runs N] [--dir DIR]\n");
        return 2;
    }
    mkdir(dir, 0755);
    char data[1024], parquet[1024], cmd[4096];
    snprintf(data, sizeof data, "%s/sql-data", dir);
    snprintf(parquet, sizeof parquet, "%s/facts-%ld.parquet", dir, rows);

    duckdb_database db;
    duckdb_connection con;
    if (duckdb_open(NULL, &db) == DuckDBError || duckdb_connect(db, &con) == DuckDBError) return 1;
    struct stat st;
    if (stat(parquet, &st) != 0) {
        fprintf(stderr, "generating %ld rows ...\n", rows);
        snprintf(cmd, sizeof cmd,
                 "COPY (SELECT i AS id, 'C' || (hash(i) %% 500000) AS customer, "
                 "['Chicago','Houston','Dallas','Atlanta','Phoenix','Denver','Reno','Newark'][1 + CAST(hash(i + 1) %% 8 AS BIGINT)] AS city, "
                 "(hash(i + 2) %% 100000) / 100.0 AS amount, hash(i + 3) %% 50 AS quantity "
                 "FROM range(%ld) t(i)) TO '%s' (FORMAT parquet, COMPRESSION zstd)",
                 rows, parquet);
        duckdb_result r;
        if (duckdb_query(con, cmd, &r) == DuckDBError) {
            fprintf(stderr, "bench_sql: %s\n", duckdb_result_error(&r));
            return 1;
        }
        duckdb_destroy_result(&r);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && '%s' ingest '%s' --dataset facts --data '%s' --log-level warn > /dev/null",
             data, bin, parquet, data);
    sh(cmd);
    /* the anchor reads the very file the server reads */
    char pattern[1200];
    snprintf(pattern, sizeof pattern, "%s/local/datasets/facts/data/*.parquet", data);
    glob_t g;
    if (glob(pattern, 0, NULL, &g) != 0 || g.gl_pathc != 1) return 1;
    snprintf(cmd, sizeof cmd, "CREATE VIEW facts AS SELECT * FROM read_parquet('%s')", g.gl_pathv[0]);
    globfree(&g);
    duckdb_result r;
    if (duckdb_query(con, cmd, &r) == DuckDBError) return 1;
    duckdb_destroy_result(&r);

    /* the server, on a free port */
    int fds[2];
    if (pipe(fds) != 0) return 1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        execl(bin, bin, "serve", "--listen", "127.0.0.1:0", "--data", data, "--log-level", "info",
              "--set", "query.timeout_ms=600000", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *logs = fdopen(fds[0], "r");
    char line[4096];
    int port = 0;
    while (!port && fgets(line, sizeof line, logs)) {
        char *p = strstr(line, "event=server.listening");
        if (p && (p = strstr(line, " port="))) port = atoi(p + 6);
    }
    if (!port) {
        fprintf(stderr, "bench_sql: the server did not start\n");
        return 1;
    }
    /* drain the access log so the server never blocks on a full pipe */
    if (fork() == 0) {
        while (fgets(line, sizeof line, logs)) {}
        _exit(0);
    }
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/sql", port);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *h = curl_easy_init();

    printf("%-10s %12s %12s %8s\n", "query", "http ms", "inproc ms", "ratio");
    double results[N_QUERIES][2];
    for (size_t q = 0; q < N_QUERIES; q++) {
        http_query(h, url, queries[q].sql); /* warm both */
        inproc_query(con, queries[q].sql);
        double a[50], b[50];
        for (long i = 0; i < runs; i++) {
            if (i % 2) {
                a[i] = http_query(h, url, queries[q].sql);
                b[i] = inproc_query(con, queries[q].sql);
            } else {
                b[i] = inproc_query(con, queries[q].sql);
                a[i] = http_query(h, url, queries[q].sql);
            }
        }
        qsort(a, (size_t)runs, sizeof a[0], cmp);
        qsort(b, (size_t)runs, sizeof b[0], cmp);
        results[q][0] = a[runs / 2];
        results[q][1] = b[runs / 2];
        printf("%-10s %12.2f %12.2f %8.2f\n", queries[q].name, results[q][0], results[q][1],
               results[q][0] / results[q][1]);
        fflush(stdout);
    }
    for (size_t q = 0; q < N_QUERIES; q++)
        printf("sql-ratio query=%s http_ms=%.2f inproc_ms=%.2f ratio=%.2f\n", queries[q].name, results[q][0],
               results[q][1], results[q][0] / results[q][1]);

    /* what a key adds: SELECT 1 without one (none exists yet), then with one */
    enum { AUTH_RUNS = 201 };
    static double plain[AUTH_RUNS], keyed[AUTH_RUNS];
    for (int i = 0; i < AUTH_RUNS; i++) plain[i] = http_query(h, url, "SELECT 1");
    snprintf(cmd, sizeof cmd,
             "'%s' profile create bench --kind person --scopes read --data '%s' --log-level warn > /dev/null && "
             "'%s' profile key-create bench --json --data '%s' --log-level warn > '%s/bench-key.json'",
             bin, data, bin, data, data);
    sh(cmd);
    snprintf(cmd, sizeof cmd, "%s/bench-key.json", data);
    FILE *kf = fopen(cmd, "r");
    char text[4096] = "", key[256] = "";
    size_t klen = kf ? fread(text, 1, sizeof text - 1, kf) : 0;
    if (kf) fclose(kf);
    text[klen] = '\0';
    char *at = strstr(text, "\"key\": \"");
    if (!at || sscanf(at + 8, "%255[^\"]", key) != 1) {
        fprintf(stderr, "bench_sql: no key in %s\n", cmd);
        return 1;
    }
    char header[320];
    snprintf(header, sizeof header, "Authorization: Bearer %s", key);
    auth_header = curl_slist_append(NULL, header);
    http_query(h, url, "SELECT 1"); /* the one argon2id verification */
    for (int i = 0; i < AUTH_RUNS; i++) keyed[i] = http_query(h, url, "SELECT 1");
    qsort(plain, AUTH_RUNS, sizeof plain[0], cmp);
    qsort(keyed, AUTH_RUNS, sizeof keyed[0], cmp);
    printf("sql-auth select1_ms=%.3f select1_key_ms=%.3f added_ms=%.3f\n", plain[AUTH_RUNS / 2],
           keyed[AUTH_RUNS / 2], keyed[AUTH_RUNS / 2] - plain[AUTH_RUNS / 2]);
    curl_slist_free_all(auth_header);
    curl_easy_cleanup(h);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    duckdb_disconnect(&con);
    duckdb_close(&db);
    return 0;
}
