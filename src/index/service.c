/*
 * service.c — the front door of the index service: opening and closing it, and
 * creating an index of either kind (raw vectors: vectors.c; text: text.c).
 */
#include "internal.h"

#include "lakehouse/lh_mem.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>


lh_code lh_vectors_open(const lh_vectors_config *cfg, lh_vectors **out, lh_err *err)
{
    for (const char *d = cfg->tmp_dir;; d = cfg->cache_dir) {
        if (mkdir(d, 0755) != 0 && errno != EEXIST)
            return lh_err_errno(err, LH_EIO, errno, "cannot create the folder %s", d);
        if (d == cfg->cache_dir) break;
    }
    lh_vectors *v = lh_xcalloc(1, sizeof *v);
    v->cfg = *cfg;
    v->tmp_dir = lh_xstrdup(cfg->tmp_dir);
    v->cache_dir = lh_xstrdup(cfg->cache_dir);
    v->slots = lh_vslots_new();
    pthread_mutex_init(&v->mu, NULL);
    pthread_mutex_init(&v->qmu, NULL);
    pthread_mutex_init(&v->qcache_mu, NULL);
    pthread_mutex_init(&v->qlog_mu, NULL);
    pthread_mutex_init(&v->rcache_mu, NULL);
    pthread_cond_init(&v->qcv, NULL);
    v->queue = json_array();
    *out = v;
    return LH_OK;
}

void lh_vectors_close(lh_vectors *v)
{
    if (!v) return;
    vec_worker_stop(v);
    pthread_mutex_destroy(&v->qmu);
    pthread_cond_destroy(&v->qcv);
    json_decref(v->queue);
    vec_qcache_free(v);
    pthread_mutex_destroy(&v->qcache_mu);
    vec_qlog_free(v);
    pthread_mutex_destroy(&v->qlog_mu);
    vec_rcache_free(v);
    pthread_mutex_destroy(&v->rcache_mu);
    vec_entries_free(v);
    lh_vslots_free(v->slots);
    pthread_mutex_destroy(&v->mu);
    free(v->tmp_dir);
    free(v->cache_dir);
    free(v);
}

lh_code lh_vectors_create(lh_vectors *v, const char *name, const lh_vectors_spec *spec, const lh_who *who,
                          json_t **out, lh_err *err)
{
    if (spec->text) return vec_text_create(v, name, spec, who, out, err);
    return vec_vectors_create(v, name, spec, who, out, err);
}
