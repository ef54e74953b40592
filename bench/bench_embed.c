/*
 * bench_embed.c — the in-process model (src/model/) against the Node sidecar
 * (scripts/sidecar/, tfjs on WASM), side by side in one run on the same texts:
 * short queries (~30 characters), 300- and 1,500-character documents.
 *
 *   build/bench/bench_embed [--docs N] [--threads T] [--kernel NAME] [--no-sidecar]
 *
 * Prints per kind
 *   embed-ratio kind=<short|medium|long> ours_per_s=<n> sidecar_per_s=<n> ratio=<x>
 * then single-query latency p50/p99 of both (one short text per call, as a
 * search does), and the RSS of this process and of the sidecar. Texts are
 * pseudo-English from a fixed word list and a fixed seed, so runs compare.
 */
#include "lakehouse/lh_ai.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_model.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *words[] = {
    "experienced",
    "forklift",
    "operator",
    "warehouse",
    "logistics",
    "safety",
    "certified",
    "nurse",
    "registered",
    "python",
    "developer",
    "remote",
    "senior",
    "junior",
    "data",
    "engineer",
    "kubernetes",
    "cloud",
    "infrastructure",
    "customer",
    "service",
    "representative",
    "bilingual",
    "spanish",
    "sales",
    "manager",
    "team",
    "leadership",
    "projects",
    "delivered",
    "on",
    "time",
    "and",
    "within",
    "budget",
    "the",
    "a",
    "of",
    "in",
    "with",
    "for",
    "to",
    "years",
    "experience",
    "strong",
    "communication",
    "skills",
    "available",
    "immediately",
    "night",
    "shifts",
    "weekends",
    "licensed",
    "electrician",
    "residential",
    "commercial",
    "wiring",
    "installation",
    "maintenance",
    "accounting",
    "payroll",
    "invoices",
    "reconciliation",
    "excel",
    "reporting",
    "machine",
    "learning",
    "models",
    "production",
    "pipelines",
    "Berlin",
    "Madrid",
    "Chicago",
    "Toronto",
    "healthcare",
    "hospital",
    "patients",
    "care",
};

static unsigned rng = 12345;
static unsigned next(void)
{
    rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5;
    return rng;
}

static char *text_of(size_t chars)
{
    char *s = lh_xmalloc(chars + 32);
    size_t n = 0;
    while (n < chars) {
        const char *w = words[next() % (sizeof words / sizeof words[0])];
        n += (size_t)sprintf(s + n, "%s%s", n ? " " : "", w);
        if (next() % 9 == 0 && n < chars) s[n++] = ',';
        if (next() % 14 == 0 && n < chars) s[n++] = '.';
    }
    s[n] = 0;
    return s;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
    fclose(f);
    return kb;
}

/* ---- queries from concurrent clients ---- */

typedef struct client {
    lh_ai *ai; /* NULL: lh_model_embed directly, one text a call */
    const lh_model *m;
    char **queries;
    size_t nq, done;
    double until;
} client;

static void *client_main(void *arg)
{
    client *c = arg;
    lh_err err;
    for (size_t i = 0; now() < c->until; i++) {
        const char *q = c->queries[i % c->nq];
        if (c->ai) {
            float *v;
            uint32_t dim;
            if (lh_ai_embed(c->ai, &q, 1, NULL, NULL, &v, &dim, &err) == LH_OK) free(v);
        } else {
            float v[LH_MODEL_DIM];
            lh_model_embed(c->m, &q, NULL, 1, v, 1, &err);
        }
        c->done++;
    }
    return NULL;
}

/* Queries a second from `clients` threads for `seconds`. */
static double query_rate(lh_ai *ai, const lh_model *m, int clients, double seconds)
{
    enum { NQ = 64 };
    char *queries[NQ];
    for (int i = 0; i < NQ; i++) queries[i] = text_of(20 + next() % 40);
    pthread_t tid[16];
    client c[16];
    double t0 = now();
    for (int i = 0; i < clients; i++) {
        c[i] = (client){.ai = ai, .m = m, .queries = queries, .nq = NQ, .until = t0 + seconds};
        pthread_create(&tid[i], NULL, client_main, &c[i]);
    }
    size_t total = 0;
    for (int i = 0; i < clients; i++) {
        pthread_join(tid[i], NULL);
        total += c[i].done;
    }
    double rate = total / (now() - t0);
    for (int i = 0; i < NQ; i++) free(queries[i]);
    return rate;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    size_t docs = 200;
    int threads = 0;
    int sidecar_on = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--docs") && i + 1 < argc)
            docs = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-sidecar"))
            sidecar_on = 0;
        else if (!strcmp(argv[i], "--kernel") && i + 1 < argc) {
            if (!lh_model_use_kernel(argv[++i])) {
                fprintf(stderr, "bench_embed: kernel %s does not run here\n", argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr,
                    "usage: bench_embed [--docs N] [--threads T] [--kernel NAME] [--no-sidecar]\n");
            return 2;
        }
    }
    lh_err err;
    lh_model *m;
    double t0 = now();
    if (lh_model_open(NULL, &m, &err)) {
        fprintf(stderr, "bench_embed: %s\n", err.message);
        return 1;
    }
    printf("model open: %.1f ms, kernel %s, %ld cores\n", (now() - t0) * 1e3, lh_model_kernel(),
           sysconf(_SC_NPROCESSORS_ONLN));
    lh_sidecar *sc = NULL;
    lh_ai *ai = NULL;
    if (sidecar_on) {
        if (lh_sidecar_start(&(lh_sidecar_config){0}, &sc, &err) ||
            lh_ai_open(&(lh_ai_config){.provider = "local",
                                       .url = lh_sidecar_url(sc),
                                       .batch_size = 64,
                                       .timeout_ms = 600000},
                       &ai, &err)) {
            fprintf(stderr, "bench_embed: sidecar: %s (use --no-sidecar)\n", err.message);
            return 1;
        }
    }
    static const struct {
        const char *kind;
        size_t chars, scale;
    } kinds[] = {{"short", 30, 4}, {"medium", 300, 1}, {"long", 1500, 1}};
    for (size_t k = 0; k < 3; k++) {
        size_t n = docs * kinds[k].scale;
        char **texts = lh_xmalloc(n * sizeof *texts);
        for (size_t i = 0; i < n; i++) texts[i] = text_of(kinds[k].chars);
        float *ours = lh_xmalloc(n * LH_MODEL_DIM * sizeof(float));
        size_t tokens = 0;
        for (size_t i = 0; i < n; i++) {
            int32_t *ids;
            size_t nt;
            lh_model_tokenize(m, texts[i], strlen(texts[i]), &ids, &nt, &err);
            tokens += nt < LH_MODEL_MAX_TOKENS ? nt : LH_MODEL_MAX_TOKENS;
            free(ids);
        }
        t0 = now();
        double c0 = cpu_now();
        lh_model_embed(m, (const char *const *)texts, NULL, n, ours, threads, &err);
        double ours_s = now() - t0, ours_cpu = cpu_now() - c0;
        double side_s = 0, min_cos = 1;
        if (ai) {
            float *theirs;
            uint32_t dim;
            t0 = now();
            if (lh_ai_embed(ai, (const char *const *)texts, n, NULL, NULL, &theirs, &dim, &err)) {
                fprintf(stderr, "bench_embed: sidecar embed: %s\n", err.message);
                return 1;
            }
            side_s = now() - t0;
            for (size_t i = 0; i < n; i++) {
                double c = 0;
                for (size_t j = 0; j < LH_MODEL_DIM; j++)
                    c += (double)ours[i * LH_MODEL_DIM + j] * theirs[i * dim + j];
                if (c < min_cos) min_cos = c;
            }
            free(theirs);
        }
        double ours_ps = n / ours_s, side_ps = side_s > 0 ? n / side_s : 0;
        printf("embed-ratio kind=%s ours_per_s=%.1f sidecar_per_s=%.1f ratio=%.2f\n", kinds[k].kind,
               ours_ps, side_ps, side_ps > 0 ? ours_ps / side_ps : 0);
        printf("  (%zu texts of ~%zu characters, %.1f tokens each; ours: %.2f CPU ms a text, %.1f "
               "GFLOP/s a CPU; "
               "min cosine ours vs sidecar %.6f)\n",
               n, kinds[k].chars, (double)tokens / n, ours_cpu * 1e3 / n,
               tokens * 9.3e6 / ours_cpu / 1e9, min_cos);
        for (size_t i = 0; i < n; i++) free(texts[i]);
        free(texts);
        free(ours);
    }
    /* single-query latency: one short text per call */
    enum { Q = 200 };
    double lat[Q], slat[Q];
    for (int q = 0; q < Q; q++) {
        char *t = text_of(20 + next() % 40);
        float v[LH_MODEL_DIM];
        t0 = now();
        lh_model_embed(m, (const char *const *)&t, NULL, 1, v, 1, &err);
        lat[q] = (now() - t0) * 1e3;
        if (ai && q < 100) {
            float *o;
            uint32_t dim;
            t0 = now();
            lh_ai_embed(ai, (const char *const *)&t, 1, NULL, NULL, &o, &dim, &err);
            slat[q] = (now() - t0) * 1e3;
            free(o);
        }
        free(t);
    }
    qsort(lat, Q, sizeof lat[0], cmp_double);
    printf("embed-query-latency engine=ours p50_ms=%.3f p99_ms=%.3f\n", lat[Q / 2],
           lat[Q * 99 / 100]);
    if (ai) {
        qsort(slat, 100, sizeof slat[0], cmp_double);
        printf("embed-query-latency engine=sidecar p50_ms=%.3f p99_ms=%.3f\n", slat[50], slat[99]);
    }
    /* 4 clients, one query a call, through the providers as a server calls them */
    lh_ai *local;
    if (lh_ai_open(&(lh_ai_config){.provider = "local"}, &local, &err) == LH_OK) {
        printf("embed-queries clients=4 ours_per_s=%.0f", query_rate(local, m, 4, 2.0));
        if (ai) printf(" sidecar_per_s=%.0f", query_rate(ai, m, 4, 2.0));
        printf("\n");
        lh_ai_close(local);
    }
    printf("embed-rss ours_mb=%.1f", rss_kb(getpid()) / 1024.0);
    if (sc) {
        json_t *st = lh_sidecar_status(sc);
        long pid = (long)json_integer_value(json_object_get(st, "pid"));
        json_decref(st);
        printf(" sidecar_mb=%.1f", rss_kb((pid_t)pid) / 1024.0);
    }
    printf("\n");
    lh_ai_close(ai);
    if (sc) lh_sidecar_stop(sc);
    lh_model_close(m);
    return 0;
}
