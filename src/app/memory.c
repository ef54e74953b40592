/*
 * memory.c — what the memory layers (lh_memory.h) share: the boost formula,
 * the pathway id and vector, and the append-only rows of the system datasets
 * _playbooks, _pathways and _trials (read by the app's own SQL, appended
 * through the ingester as one new version per change, each row numbered by seq).
 */
#include "internal.h"

#include "lakehouse/lh_hash.h"
#include "lakehouse/lh_ingest.h"
#include "lakehouse/lh_log.h"
#include "lakehouse/lh_memory.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_query.h"
#include "lakehouse/lh_sha256.h"
#include "lakehouse/lh_time.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

double lh_playbook_boost(double cos, double age_days, long long failures, size_t n)
{
    if (n == 0) return 0;
    if (age_days < 0) age_days = 0;
    if (failures < 0) failures = 0;
    return cos * 0.5 * exp(-age_days / LH_PLAYBOOK_DECAY_DAYS) * pow(0.5, (double)failures) /
           (double)n;
}

size_t lh_pathway_prefix(const char *path, char *out, size_t cap)
{
    size_t len = 0, segments = 0;
    const char *p = path ? path : "";
    while (*p && segments < 2) {
        p += strspn(p, "/");
        size_t n = strcspn(p, "/");
        if (!n) break;
        if (segments++ && len + 1 < cap) out[len++] = '/';
        for (size_t i = 0; i < n && len + 1 < cap; i++) out[len++] = p[i];
        p += n;
    }
    if (cap) out[len < cap ? len : cap - 1] = '\0';
    return len;
}

void lh_pathway_id(const char *task_class, const char *path, const char *signal_class,
                   char out[LH_PATHWAY_ID_HEX + 1])
{
    char prefix[LH_PATHWAY_MAX_TEXT + 1];
    lh_pathway_prefix(path, prefix, sizeof prefix);
    lh_sha256 h;
    lh_sha256_init(&h);
    lh_sha256_update(&h, task_class, strlen(task_class));
    lh_sha256_update(&h, "|", 1);
    lh_sha256_update(&h, prefix, strlen(prefix));
    lh_sha256_update(&h, "|", 1);
    lh_sha256_update(&h, signal_class, strlen(signal_class));
    lh_sha256_final_hex(&h, out);
}

void lh_pathway_vector(const char *text, double out[LH_PATHWAY_DIM])
{
    memset(out, 0, LH_PATHWAY_DIM * sizeof *out);
    char token[256];
    for (const char *p = text ? text : ""; *p;) {
        size_t n = 0;
        while (*p &&
               ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))) {
            if (n < sizeof token) token[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p | 0x20 : *p);
            p++;
        }
        if (n)
            out[lh_hash_fnv1a(LH_FNV1A_BASIS, token, n) % LH_PATHWAY_DIM] += 1;
        else
            p++;
    }
    double norm = 0;
    for (int i = 0; i < LH_PATHWAY_DIM; i++) norm += out[i] * out[i];
    if (norm > 0)
        for (int i = 0; i < LH_PATHWAY_DIM; i++) out[i] /= sqrt(norm);
}

/* ---- the rows ---- */

/* One writer at a time in this process: a change reads the state, then appends. */
static pthread_mutex_t memory_mu = PTHREAD_MUTEX_INITIALIZER;

void lh_app_memory_lock(void)
{
    pthread_mutex_lock(&memory_mu);
}

void lh_app_memory_unlock(void)
{
    pthread_mutex_unlock(&memory_mu);
}

static bool exists(lh_app *app, const char *dataset)
{
    json_t *m;
    if (lh_catalog_get(app->catalog, dataset, 0, &m, NULL) != LH_OK) return false;
    bool deleted = json_is_true(json_object_get(m, "deleted"));
    json_decref(m);
    return !deleted;
}

lh_code lh_app_system_query(lh_app *app, const char *dataset, const char *sql, long long max,
                            json_t **rows, lh_err *err)
{
    if (!exists(app, dataset)) { /* memory starts empty */
        *rows = json_array();
        return LH_OK;
    }
    const lh_profile *was =
        lh_app_scope_swap(NULL); /* the app's own rows: not the caller's bindings */
    lh_code rc = lh_app_query_rows(app, sql, true, max, rows, NULL, err);
    lh_app_scope_swap(was);
    return rc;
}

lh_code lh_app_system_append(lh_app *app, const char *dataset, json_t *rows, const char *message,
                             const lh_who *who, lh_err *err)
{
    json_t *top;
    char *sql = lh_xasprintf("SELECT coalesce(max(seq), 0) AS seq FROM %s", dataset);
    lh_code rc = lh_app_system_query(app, dataset, sql, 1, &top, err);
    free(sql);
    if (rc) return rc;
    json_int_t seq = json_integer_value(json_object_get(json_array_get(top, 0), "seq"));
    json_decref(top);
    char *path = lh_xasprintf("%s/memory-%d-%lld.ndjson", app->tmp_dir, (int)getpid(),
                              (long long)lh_time_now_ms());
    FILE *f = fopen(path, "w");
    if (!f) {
        free(path);
        return lh_err_errno(err, LH_EIO, errno, "writing the rows of %s", dataset);
    }
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        json_object_set_new(row, "seq", json_integer(++seq));
        json_dumpf(row, f, JSON_COMPACT);
        fputc('\n', f);
    }
    rc = fclose(f) == 0 ? LH_OK
                        : lh_err_errno(err, LH_EIO, errno, "writing the rows of %s", dataset);
    if (rc == LH_OK) {
        lh_ingest_source src = {.path = path, .name = "memory.ndjson"};
        lh_ingest_options o = {.dataset = dataset, .format = "ndjson", .message = message};
        json_t *report = NULL;
        rc = lh_ingest(app->ingester, &src, 1, &o, who, &report, err);
        json_decref(report);
        if (rc) lh_err_wrap(err, "recording in %s", dataset);
    }
    unlink(path);
    free(path);
    return rc;
}

char *lh_app_sql_literal(const char *s)
{
    lh_buf b = {0};
    lh_sql_quote_literal(&b, s);
    return lh_buf_detach(&b);
}

char *lh_app_hex_id(void)
{
    unsigned char b[8];
    char *hex = lh_xcalloc(17, 1);
    randombytes_buf(b, sizeof b);
    lh_hex_encode(b, sizeof b, hex);
    return hex;
}
