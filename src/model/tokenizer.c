/*
 * tokenizer.c — the package's tokenizer (@energetic-ai/embeddings, Tokenizer.encode),
 * quirks included, so the ids are identical:
 *
 *   - the text is NFKC-normalised; if anything is left, "▁" is put in front
 *     and every U+0020 (only that space) becomes "▁";
 *   - unigram Viterbi over code points: at each start, every vocabulary piece
 *     that begins there (ids from 6 on; a later duplicate wins), or, if none,
 *     the single code point as unknown (id 0, score 0); for each end, the
 *     candidates in order of start, a candidate taking the end when the end's
 *     best is still exactly 0 or its score is >= (so ties go to the shorter
 *     last piece); null scores counted as 0 by the converter;
 *   - the path is walked back from the end by each piece's length in UTF-16
 *     units, as JavaScript measures strings;
 *   - a run of unknowns becomes one id 0.
 *
 * NFKC is glib's g_utf8_normalize; input that is not UTF-8 is first decoded
 * as Node decodes it (each maximal invalid subpart becomes U+FFFD).
 */
#include "internal.h"

#include "lakehouse/lh_mem.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#define SEPARATOR 0x2581u

size_t model_utf8_decode(const char *s, size_t len, uint32_t **out)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t *cps = lh_xmalloc((len + 1) * sizeof *cps);
    size_t n = 0;
    uint32_t cp = 0;
    int needed = 0, seen = 0;
    unsigned lower = 0x80, upper = 0xBF;
    for (size_t i = 0; i < len; i++) {
        unsigned b = p[i];
        if (needed == 0) {
            if (b < 0x80)
                cps[n++] = b;
            else if (b >= 0xC2 && b <= 0xDF)
                needed = 1, cp = b & 0x1F;
            else if (b >= 0xE0 && b <= 0xEF) {
                if (b == 0xE0) lower = 0xA0;
                if (b == 0xED) upper = 0x9F;
                needed = 2, cp = b & 0xF;
            } else if (b >= 0xF0 && b <= 0xF4) {
                if (b == 0xF0) lower = 0x90;
                if (b == 0xF4) upper = 0x8F;
                needed = 3, cp = b & 7;
            } else
                cps[n++] = 0xFFFD;
            continue;
        }
        if (b < lower || b > upper) {
            cp = 0, needed = seen = 0, lower = 0x80, upper = 0xBF;
            cps[n++] = 0xFFFD;
            i--; /* the byte starts over */
            continue;
        }
        lower = 0x80, upper = 0xBF;
        cp = (cp << 6) | (b & 0x3F);
        if (++seen == needed) cps[n++] = cp, cp = 0, needed = seen = 0;
    }
    if (needed) cps[n++] = 0xFFFD;
    *out = cps;
    return n;
}

static size_t utf8_put(char *out, uint32_t c)
{
    if (c < 0x80) return out[0] = (char)c, 1;
    if (c < 0x800) return out[0] = (char)(0xC0 | c >> 6), out[1] = (char)(0x80 | (c & 0x3F)), 2;
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | c >> 12), out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | c >> 18), out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F)), out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* The symbols the package's Viterbi runs over: "▁" + NFKC(text) with U+0020
 * as "▁", or nothing if NFKC(text) is empty. glib stops at U+0000, which
 * never composes with its neighbours, so the text is normalised in pieces
 * between NULs. */
static size_t symbols_of(const char *text, size_t len, uint32_t **out)
{
    uint32_t *cps;
    size_t ncp = model_utf8_decode(text, len, &cps);
    char *valid = lh_xmalloc(ncp * 4 + 1);
    size_t vlen = 0;
    for (size_t i = 0; i < ncp; i++) vlen += utf8_put(valid + vlen, cps[i]);
    free(cps);
    size_t cap = 16, n = 0;
    uint32_t *sym = lh_xmalloc(cap * sizeof *sym);
    sym[n++] = SEPARATOR;
    for (size_t at = 0; at <= vlen;) {
        size_t seg = 0;
        while (at + seg < vlen && valid[at + seg]) seg++;
        if (seg) {
            gchar *norm = g_utf8_normalize(valid + at, (gssize)seg, G_NORMALIZE_NFKC);
            if (norm) {
                glong count = 0;
                gunichar *u = g_utf8_to_ucs4_fast(norm, -1, &count);
                if (n + (size_t)count + 2 > cap) {
                    cap = (n + (size_t)count + 2) * 2;
                    sym = lh_xrealloc(sym, cap * sizeof *sym);
                }
                for (glong k = 0; k < count; k++) sym[n++] = u[k] == ' ' ? SEPARATOR : u[k];
                g_free(u);
                g_free(norm);
            }
        }
        at += seg;
        if (at >= vlen) break;
        if (n + 2 > cap) cap *= 2, sym = lh_xrealloc(sym, cap * sizeof *sym);
        sym[n++] = 0; /* the NUL itself */
        at++;
    }
    free(valid);
    if (n == 1) n = 0; /* nothing but the separator: the text normalised to "" */
    *out = sym;
    return n;
}

/* Where the embedder may cut the symbols without changing the first
 * max_tokens ids: before a "▁" that has max_tokens "▁"s before it. No piece
 * holds "▁" past its first symbol and "▁" itself is a piece, so every
 * segmentation cuts before each "▁", and the ids up to there do not depend on
 * what follows. */
static size_t clip_symbols(const uint32_t *sym, size_t n, size_t max_tokens)
{
    if (!max_tokens) return n;
    size_t words = 0;
    for (size_t i = 0; i < n; i++)
        if (sym[i] == SEPARATOR && words++ == max_tokens) return i;
    return n;
}

size_t model_tokenize(const lh_model *m, const char *text, size_t len, size_t max_tokens,
                      int32_t **ids)
{
    *ids = NULL;
    uint32_t *sym;
    size_t n = symbols_of(text, len, &sym);
    n = clip_symbols(sym, n, max_tokens);
    if (n == 0) {
        free(sym);
        return 0;
    }
    /* has_piece[i]: some piece begins at i (else the symbol is unknown) */
    unsigned char *has_piece = lh_xcalloc(n, 1);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 1; k <= MODEL_MAX_PIECE && i + k <= n && !has_piece[i]; k++)
            if (model_piece_find(m, sym + i, k) >= 0) has_piece[i] = 1;
    double *best = lh_xcalloc(n + 1, sizeof *best);
    int32_t *words = lh_xcalloc(n + 1, sizeof *words);
    for (size_t end = 1; end <= n; end++) {
        size_t start = end > MODEL_MAX_PIECE ? end - MODEL_MAX_PIECE : 0;
        for (; start < end; start++) {
            int32_t id = model_piece_find(m, sym + start, end - start);
            double score;
            if (id >= 0)
                score = m->pieces[id].score;
            else if (end - start == 1 && !has_piece[start])
                id = 0, score = 0;
            else
                continue;
            score += best[start];
            if (best[end] == 0 || score >= best[end]) best[end] = score, words[end] = id;
        }
    }
    /* back from the end; then runs of 0 become one 0 */
    int32_t *out = lh_xmalloc((n + 1) * sizeof *out);
    size_t count = 0;
    for (long long at = (long long)n; at > 0;) {
        int32_t id = words[at];
        if (!(id == 0 && count && out[count - 1] == 0)) out[count++] = id;
        at -= m->pieces[id].utf16 ? m->pieces[id].utf16 : 1;
    }
    for (size_t i = 0; i < count / 2; i++) {
        int32_t t = out[i];
        out[i] = out[count - 1 - i], out[count - 1 - i] = t;
    }
    free(has_piece);
    free(best);
    free(words);
    free(sym);
    if (max_tokens && count > max_tokens) count = max_tokens;
    *ids = out;
    return count;
}

lh_code lh_model_tokenize(const lh_model *m, const char *text, size_t len, int32_t **ids, size_t *n,
                          lh_err *err)
{
    (void)err;
    *n = model_tokenize(m, text, len, 0, ids);
    if (*n == 0) {
        free(*ids);
        *ids = NULL;
    }
    return LH_OK;
}
