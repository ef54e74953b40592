/*
 * fuzz_text_tokens.c — libFuzzer target for the full-text side of search
 * (src/text/tokens.c, bm25.c, fusion.c): the tokenizer over hostile bytes, then a
 * tiny BM25 index built from the input's lines and searched with its last
 * line, filtered by a bitmap from the input, and the hits fused.
 *
 * Tokens must be 1..64 bytes of valid UTF-8 with no ASCII capital or
 * separator, and never a stop word; hits must be added, allowed, distinct,
 * best first with ties by lower label, with positive finite scores, and a
 * smaller k must give a prefix of a larger one. The same documents added in
 * label order (the MaxScore path, where input order may have taken the
 * term-at-a-time one) must rank alike.
 */
#include "lakehouse/lh_bm25.h"
#include "lakehouse/lh_fusion.h"
#include "lakehouse/lh_text.h"
#include "lakehouse/lh_utf8.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct check {
    size_t count, limit;
};

static void on_token(void *ctx, const char *tok, size_t n)
{
    struct check *c = ctx;
    if (n == 0 || n > 64 || !lh_utf8_valid(tok, n)) abort();
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)tok[i];
        if (b < 0x80 && !((b >= 'a' && b <= 'z') || (b >= '0' && b <= '9'))) abort();
    }
    if ((n == 3 && !memcmp(tok, "the", 3)) || (n == 2 && !memcmp(tok, "is", 2))) abort();
    if (++c->count > c->limit) abort(); /* at most one token per two bytes, plus one */
}

#define MAX_DOCS 256

static void check_hits(const lh_bm25_hit *h, size_t n, size_t k, const uint64_t *bits,
                       const bool *added)
{
    if (n > k) abort();
    for (size_t i = 0; i < n; i++) {
        if (h[i].label >= 256 || !added[h[i].label]) abort();
        if (bits && !((bits[h[i].label >> 6] >> (h[i].label & 63)) & 1)) abort();
        if (!(h[i].score > 0) || !isfinite(h[i].score)) abort();
        if (i && (h[i].score > h[i - 1].score ||
                  (h[i].score == h[i - 1].score && h[i].label <= h[i - 1].label)))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct check c = {0, size / 2 + 1};
    lh_text_tokens(text, size, on_token, &c);
    if (size < 4) return 0;

    /* header: k, b-parameter choice, a filter seed; then lines: the first
     * byte of each is its label, the last line is the query */
    size_t k = data[0] % 40;
    lh_bm25_params p = {.k1 = (float)(data[1] % 4) * 0.5f, .b = (float)(data[1] >> 4) / 16.0f};
    uint64_t bits[4];
    for (int i = 0; i < 4; i++) bits[i] = 0x9E3779B97F4A7C15ULL * (uint64_t)(data[2] + i + 1);
    bool filtered = data[3] & 1;
    lh_bm25 *x;
    lh_err err;
    if (lh_bm25_new(&p, &x, &err) != LH_OK) abort();
    bool added[256] = {false};
    const char *doc_text[256];
    size_t doc_len[256];
    const char *q = text + 4, *end = text + size;
    size_t qlen = 0, docs = 0;
    for (const char *s = text + 4; s < end;) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *e = nl ? nl : end;
        q = s;
        qlen = (size_t)(e - s);
        if (nl && e > s && docs < MAX_DOCS) {
            uint32_t label = (unsigned char)s[0];
            lh_code rc = lh_bm25_add(x, label, s + 1, (size_t)(e - s - 1), &err);
            if (rc == LH_OK) {
                if (added[label]) abort();
                added[label] = true;
                doc_text[label] = s + 1;
                doc_len[label] = (size_t)(e - s - 1);
                docs++;
            } else if (rc != LH_EEXIST || !added[label]) {
                abort();
            }
        }
        s = e + 1;
    }
    if (lh_bm25_docs(x) != docs) abort();

    lh_bm25_hit big[MAX_DOCS], small[40];
    lh_bitmap allow = {bits, 256};
    const lh_bitmap *a = filtered ? &allow : NULL;
    size_t nb = lh_bm25_search(x, q, qlen, MAX_DOCS, a, big);
    check_hits(big, nb, MAX_DOCS, a ? bits : NULL, added);
    size_t ns = lh_bm25_search(x, q, qlen, k, a, small);
    check_hits(small, ns, k, a ? bits : NULL, added);
    if (ns != (nb < k ? nb : k) || memcmp(small, big, ns * sizeof *small)) abort();

    lh_bm25 *y;
    if (lh_bm25_new(&p, &y, &err) != LH_OK) abort();
    for (uint32_t l = 0; l < 256; l++)
        if (added[l] && lh_bm25_add(y, l, doc_text[l], doc_len[l], &err) != LH_OK) abort();
    lh_bm25_hit other[MAX_DOCS];
    size_t no = lh_bm25_search(y, q, qlen, MAX_DOCS, a, other);
    if (no != nb) abort();
    for (size_t i = 0; i < nb; i++) {
        float tol = 1e-4f * big[i].score;
        if (fabsf(big[i].score - other[i].score) > tol) abort();
        bool near = (i > 0 && big[i - 1].score - big[i].score <= tol) ||
                    (i + 1 < nb && big[i].score - big[i + 1].score <= tol);
        if (!near && big[i].label != other[i].label) abort();
    }
    lh_bm25_free(y);

    /* fuse the hits with themselves reversed */
    lh_fusion_item ra[MAX_DOCS], rb[MAX_DOCS];
    for (size_t i = 0; i < nb; i++) {
        ra[i] = (lh_fusion_item){big[i].label, big[i].score};
        rb[nb - 1 - i] = (lh_fusion_item){big[i].label, -big[i].score};
    }
    lh_fusion_hit out[MAX_DOCS];
    double w = (double)(data[2] % 11) / 10;
    for (int f = 0; f < 2; f++) {
        size_t n =
            lh_fusion_fuse(f ? LH_FUSION_WEIGHTED : LH_FUSION_RRF, w, data[3], ra, nb, rb, nb, k, out);
        if (n != (nb < k ? nb : k)) abort();
        for (size_t i = 0; i < n; i++) {
            if (!out[i].rank_a || !out[i].rank_b || !isfinite(out[i].score) || out[i].score < 0)
                abort();
            if (i && out[i].score > out[i - 1].score) abort();
        }
    }
    lh_bm25_free(x);
    return 0;
}
