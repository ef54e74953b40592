/*
 * qlog.c — the query log: the newest LH_VECTORS_QUERY_LOG query vectors
 * searched, with their index, in a ring shared by all indexes. A candidate
 * version is checked against them before it goes live (trials' gate), so
 * the check is made with what readers actually ask.
 */
#include "internal.h"

#include "lakehouse/lh_mem.h"

#include <stdlib.h>
#include <string.h>

void vec_qlog_note(lh_vectors *v, const char *index, const float *vec, uint32_t dim)
{
    if (!index || !vec || !dim) return;
    float *copy = lh_xmalloc(dim * sizeof *copy);
    memcpy(copy, vec, dim * sizeof *copy);
    char *name = lh_xstrdup(index);
    pthread_mutex_lock(&v->qlog_mu);
    struct qlog_entry *e = &v->qlog[v->qlog_next++ % LH_VECTORS_QUERY_LOG];
    free(e->index);
    free(e->vec);
    *e = (struct qlog_entry){name, copy, dim};
    pthread_mutex_unlock(&v->qlog_mu);
}

size_t lh_vectors_recent_queries(lh_vectors *v, const char *name, uint32_t dim, size_t max, float *out)
{
    size_t got = 0;
    pthread_mutex_lock(&v->qlog_mu);
    size_t n = v->qlog_next < LH_VECTORS_QUERY_LOG ? v->qlog_next : LH_VECTORS_QUERY_LOG;
    for (size_t k = 1; k <= n && got < max; k++) {
        const struct qlog_entry *e = &v->qlog[(v->qlog_next - k) % LH_VECTORS_QUERY_LOG];
        if (e->dim != dim || strcmp(e->index, name) != 0) continue;
        memcpy(out + got * dim, e->vec, dim * sizeof *out);
        got++;
    }
    pthread_mutex_unlock(&v->qlog_mu);
    return got;
}

void vec_qlog_free(lh_vectors *v)
{
    for (size_t i = 0; i < LH_VECTORS_QUERY_LOG; i++) {
        free(v->qlog[i].index);
        free(v->qlog[i].vec);
    }
}
