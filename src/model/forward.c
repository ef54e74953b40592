/*
 * forward.c — the encoder, as the package's graph computes it (checked node by
 * node by scripts/model/convert.mjs):
 *
 *   x   = 2 * E[id] + [sin(pos * inv) | cos(pos * inv)]    (256; the graph adds
 *         the embeddings to the embeddings-plus-timing-signal)
 *   layer 0 (width 256, 4 heads of 64):
 *     h = x.Wres + bres                                      (residual, 256 -> 512)
 *     h += MHA(LN(x)).Wout + bout ;  h += FFN(LN(h))
 *   layer 1 (width 512, 4 heads of 128):
 *     h += MHA(LN(h)).Wout + bout ;  h += FFN(LN(h))
 *   v   = tanh(mean(h over the text's tokens) . Wf + bf), then L2-normalised
 *
 * LN is tensor2tensor's (eps 1e-6 inside the root), FFN is ReLU(.W1 + b1).W2 + b2
 * (512 -> 1536 -> 512), attention is softmax(q.k * head_dim^-0.5) over the
 * text's own tokens only (the graph's -1e9 padding bias gives padded keys a
 * weight of exactly 0), so batching changes nothing. A text without tokens
 * pools to zeros (the graph divides by max(length, 1)).
 *
 * Texts are not padded: the tokens of a batch of texts are rows of one matrix
 * for every dense layer, and attention runs per text. Worker threads take
 * texts one at a time and run a batch once they hold BATCH_ROWS tokens.
 */
#include "internal.h"

#include "lakehouse/lh_mem.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH_ROWS 256
#define MAX_ROWS   (BATCH_ROWS + LH_MODEL_MAX_TOKENS)
#define FFN        1536
#define D1         512

/* A thread's buffers, grown to the rows of the largest batch it ran (a
 * single query needs ~30 KB a token, not the ~9 MB of a full batch). The
 * passes of lh_model_embed_one keep theirs in the model (up to KEEP_ROWS),
 * so a query does not map and fault in fresh pages. */
typedef struct model_workspace {
    size_t rows; /* capacity */
    float *x, *h, *t, *qkv, *att, *f, *kt, *v, *s, *pooled, *final;
} workspace;

#define KEEP_ROWS 1024 /* ~30 MB: larger workspaces of a pass are freed after it */

static void workspace_free(workspace *w);

static void workspace_reserve(workspace *w, size_t rows, size_t texts)
{
    if (rows < texts) rows = texts; /* pooled and final hold a row a text */
    if (rows <= w->rows) return;
    workspace_free(w);
    w->rows = rows;
    w->x = lh_xmalloc(sizeof(float) * rows * 256);
    w->h = lh_xmalloc(sizeof(float) * rows * D1);
    w->t = lh_xmalloc(sizeof(float) * rows * D1);
    w->qkv = lh_xmalloc(sizeof(float) * rows * 3 * D1);
    w->att = lh_xmalloc(sizeof(float) * rows * D1);
    w->f = lh_xmalloc(sizeof(float) * rows * FFN);
    w->kt = lh_xmalloc(sizeof(float) * 128 * LH_MODEL_MAX_TOKENS);
    w->v = lh_xmalloc(sizeof(float) * 128 * LH_MODEL_MAX_TOKENS);
    w->s = lh_xmalloc(sizeof(float) * LH_MODEL_MAX_TOKENS * LH_MODEL_MAX_TOKENS);
    w->pooled = lh_xmalloc(sizeof(float) * rows * D1);
    w->final = lh_xmalloc(sizeof(float) * rows * D1);
}

static void workspace_free(workspace *w)
{
    free(w->x), free(w->h), free(w->t), free(w->qkv), free(w->att), free(w->f);
    free(w->kt), free(w->v), free(w->s), free(w->pooled), free(w->final);
}

__attribute__((always_inline)) static inline void layer_norm_rows(const float *x, size_t rows, int d,
                                                                   const float *scale, const float *bias, float *y)
{
    for (size_t i = 0; i < rows; i++) {
        const float *a = x + i * (size_t)d;
        float *o = y + i * (size_t)d;
        double part[8] = {0}, sum = 0, var = 0; /* 8 running sums, so the loops vectorise */
        for (int j = 0; j < d; j += 8)
            for (int q = 0; q < 8; q++) part[q] += a[j + q];
        for (int q = 0; q < 8; q++) sum += part[q], part[q] = 0;
        float mean = (float)(sum / d);
        for (int j = 0; j < d; j += 8)
            for (int q = 0; q < 8; q++) {
                float c = a[j + q] - mean;
                part[q] += (double)c * c;
            }
        for (int q = 0; q < 8; q++) var += part[q];
        float r = (float)(1.0 / sqrt((float)(var / d) + 1e-6f));
        for (int j = 0; j < d; j++) o[j] = scale[j] * r * (a[j] - mean) + bias[j];
    }
}

__attribute__((target("avx512f"))) static void layer_norm_avx512(const float *x, size_t rows, int d,
                                                                 const float *scale, const float *bias, float *y)
{
    layer_norm_rows(x, rows, d, scale, bias, y);
}

static void layer_norm_plain(const float *x, size_t rows, int d, const float *scale, const float *bias, float *y)
{
    layer_norm_rows(x, rows, d, scale, bias, y);
}

/* Compiled for AVX-512 too: the same operations in the same order, so the
 * same bits (chosen here, not by an ifunc: ThreadSanitizer cannot run those). */
static void layer_norm(const float *x, size_t rows, int d, const float *scale, const float *bias, float *y)
{
    (__builtin_cpu_supports("avx512f") ? layer_norm_avx512 : layer_norm_plain)(x, rows, d, scale, bias, y);
}

/* Multi-head attention over one text's n rows of qkv (row stride 3d) into
 * out (stride d), as two matrix products a head: S = Q.K^T (K^T packed into
 * panels, its columns padded to 32), softmax over the n real columns, then
 * O = P.V (V packed into panels). kt, v, s: scratch of the workspace. */
static void attention(const float *qkv, size_t n, int d, int heads, float *kt, float *v, float *s,
                      float *out)
{
    size_t hd = (size_t)(d / heads), stride = 3 * (size_t)d;
    size_t npad = (n + MODEL_PANEL - 1) / MODEL_PANEL * MODEL_PANEL;
    float scale = 1.0f / sqrtf((float)hd);
    for (int h = 0; h < heads; h++) {
        const float *q = qkv + h * hd, *k = qkv + d + h * hd, *vv = qkv + 2 * d + h * hd;
        /* K^T: hd rows x npad columns, in panels of 32 columns */
        for (size_t p = 0; p < npad / MODEL_PANEL; p++)
            for (size_t c = 0; c < hd; c++) {
                float *dst = kt + (p * hd + c) * MODEL_PANEL;
                for (size_t jj = 0; jj < MODEL_PANEL; jj++) {
                    size_t j = p * MODEL_PANEL + jj;
                    dst[jj] = j < n ? k[j * stride + c] : 0;
                }
            }
        /* V: n rows x hd columns, in panels */
        for (size_t p = 0; p < hd / MODEL_PANEL; p++)
            for (size_t j = 0; j < n; j++)
                memcpy(v + (p * n + j) * MODEL_PANEL, vv + j * stride + p * MODEL_PANEL,
                       MODEL_PANEL * sizeof *v);
        model_gemm(q, stride, n, hd, kt, NULL, npad, NULL, s, npad, false, false);
        for (size_t i = 0; i < n; i++) {
            float *row = s + i * npad;
            float max = -INFINITY;
            for (size_t j = 0; j < n; j++) {
                row[j] *= scale;
                if (row[j] > max) max = row[j];
            }
            float sum = 0;
            for (size_t j = 0; j < n; j++) sum += row[j] = expf(row[j] - max);
            float inv = 1.0f / sum;
            for (size_t j = 0; j < n; j++) row[j] *= inv;
        }
        model_gemm(s, npad, n, n, v, NULL, hd, NULL, out + h * hd, (size_t)d, false, false);
    }
}

/* Runs one batch: texts b = 0..count-1 with ids[b][0..len[b]) into out[b]. */
static void forward(const lh_model *m, int32_t *const *ids, const size_t *len, size_t count,
                    float *const *out, workspace *w)
{
    size_t rows = 0;
    for (size_t b = 0; b < count; b++) {
        for (size_t p = 0; p < len[b]; p++, rows++) {
            int32_t id = ids[b][p];
            const float *e =
                m->embeddings + (size_t)(id >= 0 && id < (int32_t)MODEL_ROWS ? id : 0) * 256;
            float *x = w->x + rows * 256;
            const float *timing = m->timing + p * 256;
            for (int c = 0; c < 256; c++) x[c] = 2 * e[c] + timing[c];
        }
    }
    for (int l = 0; l < 2; l++) {
        const model_layer *L = &m->layer[l];
        const float *in = l == 0 ? w->x : w->h;
        layer_norm(in, rows, L->d, L->ln1_scale, L->ln1_bias, w->t);
        size_t d = (size_t)L->d;
        if (l == 0)
            model_gemm(w->x, 256, rows, 256, L->res_w, L->res_h, D1, L->res_b, w->h, D1, false,
                       false);
        model_gemm(w->t, d, rows, d, L->qkv_w, L->qkv_h, 3 * d, L->qkv_b, w->qkv, 3 * d, false,
                   false);
        for (size_t b = 0, r = 0; b < count; r += len[b], b++)
            attention(w->qkv + r * 3 * d, len[b], L->d, L->heads, w->kt, w->v, w->s,
                      w->att + r * d);
        model_gemm(w->att, d, rows, d, L->out_w, L->out_h, D1, L->out_b, w->h, D1, true, false);
        layer_norm(w->h, rows, D1, L->ln2_scale, L->ln2_bias, w->t);
        model_gemm(w->t, D1, rows, D1, L->ffn1_w, L->ffn1_h, FFN, L->ffn1_b, w->f, FFN, false,
                   true);
        model_gemm(w->f, FFN, rows, FFN, L->ffn2_w, L->ffn2_h, D1, L->ffn2_b, w->h, D1, true,
                   false);
    }
    for (size_t b = 0, r = 0; b < count; r += len[b], b++) {
        float *p = w->pooled + b * D1;
        for (int c = 0; c < D1; c++) p[c] = 0;
        for (size_t i = 0; i < len[b]; i++)
            for (int c = 0; c < D1; c++) p[c] += w->h[(r + i) * D1 + c];
        float div = (float)(len[b] ? len[b] : 1);
        for (int c = 0; c < D1; c++) p[c] /= div;
    }
    model_gemm(w->pooled, D1, count, D1, m->final_w, m->final_h, D1, m->final_b, w->final, D1,
               false, false);
    for (size_t b = 0; b < count; b++) {
        float *v = w->final + b * D1;
        double ss = 0;
        for (int c = 0; c < D1; c++) {
            v[c] = tanhf(v[c]);
            ss += (double)v[c] * v[c];
        }
        float inv = (float)(1.0 / sqrt(ss > 1e-12 ? ss : 1e-12));
        for (int c = 0; c < D1; c++) out[b][c] = v[c] * inv;
    }
}

typedef struct job {
    const lh_model *m;
    const char *const *texts;
    const size_t *lens;
    size_t n;
    float *out;
    _Atomic size_t next;
} job;

/* Takes texts from j until none is left, in batches of BATCH_ROWS tokens. */
static void run(job *j, workspace *w)
{
    int32_t *ids[MAX_ROWS];
    size_t len[MAX_ROWS];
    float *outs[MAX_ROWS];
    size_t count = 0, rows = 0;
    for (;;) {
        size_t i = atomic_fetch_add(&j->next, 1);
        if (i < j->n) {
            const char *t = j->texts[i] ? j->texts[i] : "";
            size_t tl = j->lens ? j->lens[i] : strlen(t);
            len[count] = model_tokenize(j->m, t, tl, LH_MODEL_MAX_TOKENS, &ids[count]);
            outs[count] = j->out + i * LH_MODEL_DIM;
            rows += len[count++];
        }
        bool last = i >= j->n;
        if (count && (last || rows >= BATCH_ROWS || count == MAX_ROWS)) {
            workspace_reserve(w, rows, count);
            forward(j->m, ids, len, count, outs, w);
            for (size_t b = 0; b < count; b++) free(ids[b]);
            count = rows = 0;
        }
        if (last) break;
    }
}

static void *worker(void *arg)
{
    workspace w = {0};
    run(arg, &w);
    workspace_free(&w);
    return NULL;
}

void model_spare_free(lh_model *m)
{
    for (int i = 0; m->spare && i < MODEL_PASSES_MAX; i++) workspace_free(&m->spare[i]);
    free(m->spare);
}

int model_cores(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores < 1 ? 1 : cores > MODEL_PASSES_MAX ? MODEL_PASSES_MAX : (int)cores;
}

lh_code lh_model_embed(const lh_model *m, const char *const *texts, const size_t *lens, size_t n,
                       float *out, int threads, lh_err *err)
{
    if (n == 0) return LH_OK;
    if (!texts || !out)
        return lh_err_set(err, LH_EINVAL, "lh_model_embed: texts and out are required");
    if (threads <= 0) threads = model_cores();
    if ((size_t)threads > n) threads = (int)n;
    job j = {.m = m, .texts = texts, .lens = lens, .n = n, .out = out};
    atomic_init(&j.next, 0);
    pthread_t tid[MODEL_PASSES_MAX];
    int started = 0;
    for (int t = 1; t < threads && t < MODEL_PASSES_MAX; t++)
        if (pthread_create(&tid[started], NULL, worker, &j) == 0) started++;
    worker(&j);
    for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
    return LH_OK;
}

/* ---- one text at a time, embedded together ----
 *
 * A single text reads every weight once (~18 MB): concurrent queries are
 * bound by memory, not arithmetic. So callers queue their text; a caller
 * that finds a core without a pass embeds all that are queued (itself
 * included, up to QUEUE_MAX) in one pass on its own thread, and the others
 * wait for it. Nobody waits for a batch to fill: a lone caller runs at once.
 * A text's vector does not depend on its batch-mates (see gemm.c). */

#define QUEUE_MAX 32 /* texts embedded in one pass at most */

struct model_waiting {
    const char *text;
    size_t len;
    float *out;
    bool done;
    struct model_waiting *next;
};

lh_code lh_model_embed_one(lh_model *m, const char *text, size_t len, float *out, lh_err *err)
{
    (void)err;
    struct model_waiting me = {.text = text ? text : "", .len = text ? len : 0, .out = out};
    pthread_mutex_lock(&m->queue_mu);
    struct model_waiting **tail = &m->queue;
    while (*tail) tail = &(*tail)->next;
    *tail = &me;
    while (!me.done) {
        /* taken by a running pass, or every core has one: wait */
        if (!m->queue || m->passes >= m->passes_max) {
            pthread_cond_wait(&m->queue_done, &m->queue_mu);
            continue;
        }
        if (!m->spare) m->spare = lh_xcalloc(MODEL_PASSES_MAX, sizeof *m->spare);
        int slot = __builtin_ctz(~m->spare_busy); /* passes < passes_max: one is free */
        m->spare_busy |= 1u << slot;
        m->passes++;
        workspace *w = &m->spare[slot];
        struct model_waiting *batch[QUEUE_MAX];
        size_t n = 0;
        while (m->queue && n < QUEUE_MAX) {
            batch[n++] = m->queue;
            m->queue = m->queue->next;
        }
        pthread_mutex_unlock(&m->queue_mu);
        const char *texts[QUEUE_MAX];
        size_t lens[QUEUE_MAX];
        float *vecs = lh_xmalloc(n * LH_MODEL_DIM * sizeof *vecs);
        for (size_t i = 0; i < n; i++) texts[i] = batch[i]->text, lens[i] = batch[i]->len;
        job j = {.m = m, .texts = texts, .lens = lens, .n = n, .out = vecs};
        atomic_init(&j.next, 0);
        run(&j, w);
        pthread_mutex_lock(&m->queue_mu);
        if (w->rows > KEEP_ROWS) workspace_free(w), *w = (workspace){0};
        for (size_t i = 0; i < n; i++) {
            memcpy(batch[i]->out, vecs + i * LH_MODEL_DIM, LH_MODEL_DIM * sizeof *vecs);
            batch[i]->done = true;
        }
        free(vecs);
        m->spare_busy &= ~(1u << slot);
        m->passes--;
        pthread_cond_broadcast(&m->queue_done);
    }
    pthread_mutex_unlock(&m->queue_mu);
    return LH_OK;
}
