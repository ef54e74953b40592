/*
 * bench_bm25.c — BM25 build and query speed (src/text/bm25.c) on a
 * generated corpus: Zipf-distributed words (s = 1) from a vocabulary of
 * pseudo-words, documents of 40..80 words, one thread.
 *
 *   build/bench/bench_bm25 [--docs 100000] [--vocab 50000] [--queries 20000] [--words 3]
 *                          [--qmax 20000]   (query words: uniform over the qmax most frequent)
 *                          [--shuffle 1]    (add in random label order: term-at-a-time search)
 *
 * Prints build time, the index's bytes (lh_bm25_memory) and the growth of
 * the process's resident set, then queries per second for k = 10 unfiltered
 * and with a 10% and a 1% allow-list, ending with the line
 *   bm25 docs=<n> build_s=<x> index_mb=<x> qps=<x> qps_f10=<x> qps_f1=<x>
 */
#include "lakehouse/lh_bm25.h"
#include "lakehouse/lh_mem.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
        fclose(f);
    }
    return res * 4;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}

/* A pseudo-word of 3..10 letters for each rank. */
static void make_word(char *out, size_t rank)
{
    static const char *const syl[] = {"ka", "lo", "mi", "ne", "ru", "ta", "po", "si", "de", "vu",
                                      "ba", "gi", "ho", "ze", "fy", "qu", "wo", "xe", "ju", "ci"};
    uint64_t x = rank * 0x9E3779B97F4A7C15ULL + 1;
    size_t n = 0;
    out[n++] = "bcdfghklmnprtvz"[rank % 15];
    for (size_t r = rank / 15;; r /= 20) {
        memcpy(out + n, syl[(r + x) % 20], 2);
        n += 2;
        if (r < 20) break;
    }
    out[n++] = "ktnmrl"[x % 6];
    out[n] = '\0';
}

int main(int argc, char **argv)
{
    size_t docs = 100000, vocab = 50000, queries = 20000, words = 3, qmax = 20000, shuffle = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--docs"))
            docs = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--vocab"))
            vocab = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--queries"))
            queries = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--words"))
            words = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--qmax"))
            qmax = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--shuffle"))
            shuffle = strtoul(argv[i + 1], NULL, 10);
    }
    /* the vocabulary and its Zipf cumulative distribution */
    char(*vw)[32] = lh_xmalloc(vocab * sizeof *vw);
    double *cdf = lh_xmalloc(vocab * sizeof *cdf), sum = 0;
    for (size_t i = 0; i < vocab; i++) {
        make_word(vw[i], i);
        sum += 1.0 / (double)(i + 1);
        cdf[i] = sum;
    }
    for (size_t i = 0; i < vocab; i++) cdf[i] /= sum;

    /* the corpus, generated up front so the build is timed alone */
    size_t total = 0;
    char **text = lh_xmalloc(docs * sizeof *text);
    size_t *len = lh_xmalloc(docs * sizeof *len);
    for (size_t d = 0; d < docs; d++) {
        size_t n = 40 + next() % 41;
        char *t = lh_xmalloc(n * 33), *p = t;
        for (size_t w = 0; w < n; w++) {
            double u = (double)(next() >> 11) / 9007199254740992.0;
            size_t lo = 0, hi = vocab - 1;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (cdf[mid] < u)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            size_t l = strlen(vw[lo]);
            memcpy(p, vw[lo], l);
            p += l;
            *p++ = w % 9 == 8 ? '.' : ' ';
        }
        text[d] = t;
        len[d] = (size_t)(p - t);
        total += len[d];
    }

    uint32_t *order = lh_xmalloc(docs * sizeof *order);
    for (size_t d = 0; d < docs; d++) order[d] = (uint32_t)d;
    for (size_t d = docs; shuffle && d > 1; d--) {
        size_t j = next() % d;
        uint32_t t = order[d - 1];
        order[d - 1] = order[j];
        order[j] = t;
    }
    long rss0 = rss_kb();
    double t0 = now_s();
    lh_bm25 *x;
    lh_err err;
    if (lh_bm25_new(NULL, &x, &err) != LH_OK) return 1;
    for (size_t i = 0; i < docs; i++) {
        uint32_t d = order[i];
        if (lh_bm25_add(x, d, text[d], len[d], &err) != LH_OK) {
            fprintf(stderr, "add: %s\n", err.message);
            return 1;
        }
    }
    free(order);
    double build = now_s() - t0;
    long rss1 = rss_kb();
    double index_mb = (double)lh_bm25_memory(x) / 1048576;
    printf("build: %zu docs, %.1f MB of text, %zu terms in %.3f s (%.0f docs/s, %.1f MB/s)\n", docs,
           (double)total / 1048576, lh_bm25_terms(x), build, (double)docs / build,
           (double)total / 1048576 / build);
    printf("memory: lh_bm25_memory %.1f MB (%.2f bytes per text byte), resident growth %.1f MB\n",
           index_mb, (double)lh_bm25_memory(x) / (double)total, (double)(rss1 - rss0) / 1024);

    /* queries: words drawn uniformly from the qmax most frequent ranks, so
     * by default each mixes common and mid-frequency terms */
    if (qmax > vocab || !qmax) qmax = vocab;
    char(*qs)[256] = lh_xmalloc(queries * sizeof *qs);
    for (size_t q = 0; q < queries; q++) {
        qs[q][0] = '\0';
        for (size_t w = 0; w < words && strlen(qs[q]) + 40 < sizeof qs[q]; w++) {
            strcat(qs[q], w ? " " : "");
            strcat(qs[q], vw[next() % qmax]);
        }
    }
    size_t nwords = (docs + 63) / 64;
    uint64_t *b10 = lh_xcalloc(nwords, 8), *b1 = lh_xcalloc(nwords, 8);
    for (size_t d = 0; d < docs; d++) {
        uint64_t r = next() % 100;
        if (r < 10) b10[d >> 6] |= 1ULL << (d & 63);
        if (r < 1) b1[d >> 6] |= 1ULL << (d & 63);
    }
    lh_bitmap f10 = {b10, docs}, f1 = {b1, docs};
    const lh_bitmap *filters[] = {NULL, &f10, &f1};
    double qps[3];
    lh_bm25_hit hits[10];
    size_t found = 0;
    for (int f = 0; f < 3; f++) {
        double q0 = now_s();
        for (size_t q = 0; q < queries; q++)
            found += lh_bm25_search(x, qs[q], strlen(qs[q]), 10, filters[f], hits);
        qps[f] = (double)queries / (now_s() - q0);
    }
    printf(
        "queries (%zu words, k 10): %.0f/s unfiltered, %.0f/s at 10%%, %.0f/s at 1%% (%zu hits)\n",
        words, qps[0], qps[1], qps[2], found);
    printf("bm25 docs=%zu build_s=%.3f index_mb=%.1f qps=%.0f qps_f10=%.0f qps_f1=%.0f\n", docs,
           build, index_mb, qps[0], qps[1], qps[2]);

    lh_bm25_free(x);
    for (size_t d = 0; d < docs; d++) free(text[d]);
    free(text);
    free(len);
    free(qs);
    free(b10);
    free(b1);
    free(vw);
    free(cdf);
    return 0;
}
