/*
 * evaluate.c — how good a graph's searches are (lh_hnsw_evaluate): the
 * stored vectors of labels drawn from a seed are the queries, an exhaustive
 * scan gives each one's true k nearest, and each asked beam width (ef) is
 * measured against them — recall@k, top-1 agreement and latency. The truth
 * is computed once for all widths, so a sweep of ef costs one scan.
 */
#include "lakehouse/lh_hnsw.h"
#include "lakehouse/lh_mem.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

size_t lh_hnsw_sample_labels(const lh_hnsw *h, uint64_t labels, size_t n, uint64_t seed, uint64_t *out)
{
    if (!labels) return 0;
    uint64_t state = seed;
    size_t got = 0;
    /* draws with replacement, skipping labels with no vector; bounded tries */
    for (size_t tries = 0; got < n && tries < n * 8 + 64; tries++) {
        uint64_t label = splitmix64(&state) % labels;
        if (lh_hnsw_vector(h, label)) out[got++] = label;
    }
    return got;
}

lh_code lh_hnsw_evaluate(const lh_hnsw *h, const uint64_t *queries, size_t n, size_t k, const size_t *efs, size_t n_efs,
                         lh_hnsw_eval *out, lh_err *err)
{
    if (!n || !k || k > 1000) return lh_err_set(err, LH_EINVAL, "evaluation needs 1..10000 queries and k in 1..1000");
    lh_hnsw_info info;
    lh_hnsw_get_info(h, &info);
    lh_hnsw_hit *truth = lh_xcalloc(n * k, sizeof *truth), *got = lh_xcalloc(k, sizeof *got);
    size_t *n_truth = lh_xcalloc(n, sizeof *n_truth);
    float *q = lh_xcalloc(info.params.dim ? info.params.dim : 1, sizeof *q);
    lh_code rc = LH_OK;
    for (size_t i = 0; i < n && rc == LH_OK; i++) {
        const float *v = lh_hnsw_vector(h, queries[i]);
        if (!v) rc = lh_err_set(err, LH_EINVAL, "label %llu has no vector", (unsigned long long)queries[i]);
        else n_truth[i] = lh_hnsw_exact(h, v, k, NULL, truth + i * k);
    }
    double *lat = lh_xcalloc(n, sizeof *lat);
    for (size_t e = 0; e < n_efs && rc == LH_OK; e++) {
        double hits = 0, wanted = 0, top1 = 0, sum = 0;
        for (size_t i = 0; i < n; i++) {
            memcpy(q, lh_hnsw_vector(h, queries[i]), info.params.dim * sizeof *q);
            double t0 = now_us();
            size_t m = lh_hnsw_search(h, q, k, efs[e], NULL, got);
            lat[i] = now_us() - t0;
            sum += lat[i];
            for (size_t a = 0; a < n_truth[i]; a++)
                for (size_t b = 0; b < m; b++)
                    if (got[b].label == truth[i * k + a].label) {
                        hits++;
                        break;
                    }
            wanted += (double)n_truth[i];
            /* the first hit agrees when it is the true first or as near (ties) */
            if (n_truth[i] && m && (got[0].label == truth[i * k].label || got[0].distance <= truth[i * k].distance))
                top1++;
        }
        qsort(lat, n, sizeof *lat, cmp_double);
        out[e] = (lh_hnsw_eval){.ef = efs[e] ? efs[e] : info.params.ef_search,
                                .queries = n,
                                .recall = wanted > 0 ? hits / wanted : 1,
                                .top1 = top1 / (double)n,
                                .p50_us = lat[n / 2],
                                .p99_us = lat[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1],
                                .mean_us = sum / (double)n};
    }
    free(lat);
    free(q);
    free(n_truth);
    free(got);
    free(truth);
    return rc;
}
