/*
 * hash.c — the "hash" provider: a deterministic lexical embedder.
 *
 * Text is split into words: maximal runs of ASCII letters, ASCII digits and
 * bytes >= 0x80 (so UTF-8 letters of any script, and stray invalid bytes,
 * stay inside words); ASCII letters are lower-cased, nothing else is
 * normalised (no locale). Each word contributes two kinds of features:
 *
 *   the word itself             weight 1.0
 *   its character trigrams      weight 0.5 each, over the word padded with
 *                               '^' and '$' ("foo": "^fo", "foo", "oo$")
 *
 * A feature is hashed with 64-bit FNV-1a over a kind byte ('w' or 't')
 * followed by its bytes, then mixed with MurmurHash3's fmix64 finaliser.
 * Bit 0 of the result gives the sign, the rest modulo dim the bucket. The
 * vector is then L2-normalised (a text without words stays all zero).
 * Nothing depends on pointers, locale or platform, so a text embeds to the
 * same floats everywhere; changing any constant here changes every stored
 * hash embedding.
 */
#include "lakehouse/lh_ai.h"
#include "lakehouse/lh_hash.h"

#include <math.h>
#include <string.h>

#define WORD_WEIGHT    1.0f
#define TRIGRAM_WEIGHT 0.5f

/* Adds a feature hashed from kind and n bytes (ASCII letters folded). */
static void add_feature(char kind, const unsigned char *p, size_t n, float weight, uint32_t dim,
                        float *out)
{
    uint64_t h = LH_FNV1A_BASIS; /* FNV-1a, ASCII letters folded */
    unsigned char k = (unsigned char)kind;
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = i == 0 ? k : p[i - 1];
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + ('a' - 'A'));
        h ^= c;
        h *= LH_FNV1A_PRIME;
    }
    h = lh_hash_mix64(h);
    out[(h >> 1) % dim] += (h & 1) ? -weight : weight;
}

static bool word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/* Adds the word w[0..n) (n >= 1) and its trigrams over "^" w "$". */
static void add_word(const unsigned char *w, size_t n, uint32_t dim, float *out)
{
    add_feature('w', w, n, WORD_WEIGHT, dim, out);
    for (size_t start = 0; start < n; start++) {
        /* the padded word's bytes start .. start+2; position 0 is '^', n+1 is '$' */
        unsigned char tri[3];
        for (size_t j = 0; j < 3; j++) {
            size_t pos = start + j;
            tri[j] = pos == 0 ? '^' : pos == n + 1 ? '$' : w[pos - 1];
        }
        add_feature('t', tri, 3, TRIGRAM_WEIGHT, dim, out);
    }
}

void lh_ai_hash_embed(const char *text, size_t len, uint32_t dim, float *out)
{
    if (dim == 0) return;
    memset(out, 0, (size_t)dim * sizeof *out);
    const unsigned char *p = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        if (!word_byte(p[i])) {
            i++;
            continue;
        }
        size_t start = i;
        while (i < len && word_byte(p[i])) i++;
        add_word(p + start, i - start, dim, out);
    }
    double sum = 0;
    for (uint32_t d = 0; d < dim; d++) sum += (double)out[d] * out[d];
    if (sum == 0) return;
    double inv = 1.0 / sqrt(sum);
    for (uint32_t d = 0; d < dim; d++) out[d] = (float)(out[d] * inv);
}
