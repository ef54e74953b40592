/*
 * tokens.c — the tokenizer of full-text search (lh_text.h): runs of Unicode
 * letters, marks and digits; NFKC and case folding (ASCII on a fast path,
 * glib beyond it); stop words; a light plural stem.
 */
#include "lakehouse/lh_text.h"

#include "lakehouse/lh_utf8.h"

#include <glib.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool word_char(gunichar c)
{
    switch (g_unichar_type(c)) {
    case G_UNICODE_LOWERCASE_LETTER:
    case G_UNICODE_MODIFIER_LETTER:
    case G_UNICODE_OTHER_LETTER:
    case G_UNICODE_TITLECASE_LETTER:
    case G_UNICODE_UPPERCASE_LETTER:
    case G_UNICODE_SPACING_MARK:
    case G_UNICODE_ENCLOSING_MARK:
    case G_UNICODE_NON_SPACING_MARK:
    case G_UNICODE_DECIMAL_NUMBER:
    case G_UNICODE_LETTER_NUMBER:
    case G_UNICODE_OTHER_NUMBER: return true;
    default: return false; /* punctuation (dashes, quotes), symbols, spaces, controls */
    }
}

/* Bytes of the letter, mark or digit at s (n available), 0 when it is not
 * one (a separator, or invalid UTF-8). *wide: it is not ASCII. */
static inline size_t word_char_len(const unsigned char *s, size_t n, bool *wide)
{
    unsigned char c = s[0];
    if (c < 0x80) return ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9');
    size_t cl = lh_utf8_char_len((const char *)s, n);
    if (!cl || !word_char(g_utf8_get_char((const char *)s))) return 0;
    *wide = true;
    return cl;
}

static bool is_stop_word(const char *t, size_t n)
{
    switch (n) {
    case 1:
        return t[0] == 'a';
    case 2:
        return !memcmp(t, "an", 2) || !memcmp(t, "or", 2) || !memcmp(t, "of", 2) ||
               !memcmp(t, "to", 2) || !memcmp(t, "in", 2) || !memcmp(t, "on", 2) ||
               !memcmp(t, "is", 2) || !memcmp(t, "be", 2) || !memcmp(t, "by", 2) ||
               !memcmp(t, "at", 2) || !memcmp(t, "as", 2) || !memcmp(t, "it", 2);
    case 3:
        return !memcmp(t, "the", 3) || !memcmp(t, "and", 3) || !memcmp(t, "for", 3) ||
               !memcmp(t, "are", 3) || !memcmp(t, "was", 3);
    case 4:
        return !memcmp(t, "with", 4) || !memcmp(t, "were", 4) || !memcmp(t, "this", 4) ||
               !memcmp(t, "that", 4) || !memcmp(t, "from", 4);
    default:
        return false;
    }
}

/* The light plural stem of the header, in place; returns the new length. */
static size_t stem(char *t, size_t n)
{
    if (n <= 3 || t[n - 1] != 's') return n;
    char p = t[n - 2];
    if (p == 's' || p == 'u') return n; /* class, status */
    if (p == 'e' && n > 4) {
        char q = t[n - 3], r = t[n - 4];
        if (q == 'i') { /* companies -> company */
            t[n - 3] = 'y';
            return n - 2;
        }
        if (q == 'x' || (q == 's' && r == 's') || (q == 'h' && (r == 'c' || r == 's')))
            return n - 2; /* boxes, classes, matches, wishes */
    }
    return n - 1; /* workers, databases, ties */
}

typedef void (*token_fn)(void *ctx, const char *tok, size_t n);

static void emit(char *buf, size_t n, token_fn fn, void *ctx)
{
    if (is_stop_word(buf, n)) return; /* before the stem: "this" */
    size_t m = stem(buf, n);
    if (m != n && is_stop_word(buf, m)) return; /* and after: "thes" */
    fn(ctx, buf, m);
}

/* A run with letters beyond ASCII: NFKC(casefold(NFKC(run))), which may
 * split it again ("½" is "1⁄2"), each part cut to LH_TEXT_TOKEN_MAX bytes
 * at a character boundary. */
static void emit_wide(const char *run, size_t n, token_fn fn, void *ctx)
{
    gchar *a = g_utf8_normalize(run, (gssize)n, G_NORMALIZE_NFKC);
    gchar *b = a ? g_utf8_casefold(a, -1) : NULL;
    gchar *c = b ? g_utf8_normalize(b, -1, G_NORMALIZE_NFKC) : NULL;
    const char *s = c ? c : run;
    size_t len = c ? strlen(c) : n;
    char buf[LH_TEXT_TOKEN_MAX];
    size_t k = 0;
    bool full = false;
    for (size_t i = 0; i < len;) {
        size_t cl = lh_utf8_char_len(s + i, len - i);
        bool word = cl == 1 ? g_ascii_isalnum(s[i]) : cl && word_char(g_utf8_get_char(s + i));
        if (!word) {
            if (k) emit(buf, k, fn, ctx);
            k = 0, full = false;
            i += cl ? cl : 1;
            continue;
        }
        if (!full && k + cl <= LH_TEXT_TOKEN_MAX) memcpy(buf + k, s + i, cl), k += cl;
        else full = true; /* the rest of this part is cut off */
        i += cl;
    }
    if (k) emit(buf, k, fn, ctx);
    g_free(a);
    g_free(b);
    g_free(c);
}

void lh_text_tokens(const char *text, size_t len, token_fn fn, void *ctx)
{
    const unsigned char *s = (const unsigned char *)text;
    char buf[LH_TEXT_TOKEN_MAX];
    size_t i = 0;
    while (i < len) {
        bool wide = false;
        size_t cl = word_char_len(s + i, len - i, &wide);
        if (!cl) {
            i++; /* a separator, or a byte of invalid UTF-8 */
            continue;
        }
        size_t start = i, n = 0;
        bool full = false;
        do {
            if (!full && n + cl <= LH_TEXT_TOKEN_MAX) {
                if (cl == 1) {
                    unsigned char c = s[i];
                    buf[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
                } else {
                    memcpy(buf + n, s + i, cl);
                    n += cl;
                }
            } else {
                full = true; /* the rest of the run is cut off */
            }
            i += cl;
        } while (i < len && (cl = word_char_len(s + i, len - i, &wide)) != 0);
        if (wide) emit_wide(text + start, i - start, fn, ctx);
        else emit(buf, n, fn, ctx);
    }
}
