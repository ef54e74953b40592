/*
 * tokens.c — the tokenizer of full-text search (lh_text.h): letters and
 * digits in UTF-8, ASCII lower-casing, stop words, a light plural stem.
 */
#include "lakehouse/lh_text.h"

#include "lakehouse/lh_utf8.h"

#include <stdbool.h>
#include <string.h>

/* Bytes of the letter or digit at s (n available), 0 when it is not one. */
static inline size_t word_char_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80) return ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9');
    return lh_utf8_char_len((const char *)s, n);
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

void lh_text_tokens(const char *text, size_t len, void (*fn)(void *ctx, const char *tok, size_t n),
                    void *ctx)
{
    const unsigned char *s = (const unsigned char *)text;
    char buf[LH_TEXT_TOKEN_MAX];
    size_t i = 0;
    while (i < len) {
        size_t cl = word_char_len(s + i, len - i);
        if (!cl) {
            i++; /* a separator, or a byte of invalid UTF-8 */
            continue;
        }
        size_t n = 0;
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
        } while (i < len && (cl = word_char_len(s + i, len - i)) != 0);
        if (is_stop_word(buf, n)) continue; /* before the stem: "this" */
        size_t m = stem(buf, n);
        if (m != n && is_stop_word(buf, m)) continue; /* and after: "thes" */
        fn(ctx, buf, m);
    }
}
