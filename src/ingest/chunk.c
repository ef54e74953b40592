/*
 * chunk.c — splitting documents into retrieval-sized chunks: at a paragraph,
 * else a sentence, else a line, else a word boundary; never inside a word
 * unless one word is longer than a chunk, never inside a UTF-8 character.
 */
#include "internal.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* Start of the UTF-8 character holding byte i. */
static size_t char_start(const char *s, size_t i)
{
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
    return i;
}

/* Byte offset after max_chars characters from start (or len). */
static size_t advance_chars(const char *s, size_t len, size_t start, size_t max_chars)
{
    size_t i = start, chars = 0;
    while (i < len && chars < max_chars) {
        i++;
        while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80) i++;
        chars++;
    }
    return i;
}

static bool blank(char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

/* Words a period follows without ending a sentence ("e.g. this", "Dr. Li"). */
static bool abbreviation(const char *w, size_t n)
{
    static const char *const known[] = {"e.g", "i.e", "etc", "vs", "cf", "al", "Dr", "Mr", "Mrs", "Ms", "Prof",
                                        "St", "No", "Fig", "Figs", "Eq", "Sec", "Vol", "pp", "p", "approx", "resp"};
    if (n == 1 && isalpha((unsigned char)w[0])) return true; /* an initial: "J. Smith" */
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strlen(known[i]) == n && !strncasecmp(w, known[i], n)) return true;
    return false;
}

/* Whether a sentence ends just before i: s[i-1] is a blank after '.', '!' or
 * '?' (closing quotes and brackets allowed between), or i follows a CJK full
 * stop, exclamation or question mark. A period after an abbreviation, or one
 * followed by a lowercase letter, ends nothing. */
static bool sentence_end(const char *s, size_t start, size_t len, size_t i)
{
    if (i >= start + 3 && (!memcmp(s + i - 3, "\xE3\x80\x82", 3) || !memcmp(s + i - 3, "\xEF\xBC\x81", 3) ||
                           !memcmp(s + i - 3, "\xEF\xBC\x9F", 3)))
        return true;
    if (i < start + 2 || !blank(s[i - 1])) return false;
    size_t p = i - 1;
    while (p > start && blank(s[p - 1])) p--;
    while (p > start && strchr("\"')]", s[p - 1])) p--;
    if (p == start) return false;
    char mark = s[p - 1];
    if (mark != '.' && mark != '!' && mark != '?') return false;
    size_t next = i;
    while (next < len && blank(s[next])) next++;
    if (next < len && islower((unsigned char)s[next])) return false;
    if (mark == '.') {
        size_t w = p - 1;
        while (w > start && !blank(s[w - 1]) && s[w - 1] != '(') w--;
        if (abbreviation(s + w, p - 1 - w)) return false;
    }
    return true;
}

/* The best cut in [start, hi]: after a blank line in the last two thirds of
 * the window, else after a sentence in its last three quarters (a line
 * break in hard-wrapped text is no boundary of meaning), else a newline in
 * its last half, else the last blank in it; hi itself only for a single word
 * longer than the window. */
static size_t best_cut(const char *s, size_t start, size_t hi, size_t len)
{
    size_t w = hi - start;
    for (size_t i = hi; i > start + w / 3 && i >= 2; i--)
        if (s[i - 1] == '\n' && s[i - 2] == '\n') return i;
    for (size_t i = hi; i > start + w / 4; i--)
        if (sentence_end(s, start, len, i)) return i;
    for (size_t i = hi; i > start + w / 2; i--)
        if (s[i - 1] == '\n') return i;
    for (size_t i = hi; i > start + 1; i--)
        if (s[i - 1] == ' ' || s[i - 1] == '\t' || s[i - 1] == '\n') return i;
    return hi;
}

void lh_ingest_chunk_text(const char *text, size_t len, size_t max_chars, size_t overlap,
                          void (*fn)(void *ctx, size_t off, size_t len), void *ctx)
{
    if (max_chars == 0) max_chars = 1000;
    if (overlap >= max_chars) overlap = max_chars / 2;
    size_t start = 0;
    while (start < len) {
        /* skip leading blanks so chunks start on content */
        while (start < len && (text[start] == ' ' || text[start] == '\n' || text[start] == '\r' || text[start] == '\t'))
            start++;
        if (start >= len) break;
        size_t end = advance_chars(text, len, start, max_chars);
        if (end < len) end = best_cut(text, start, end, len);
        size_t trimmed = end;
        while (trimmed > start && (text[trimmed - 1] == ' ' || text[trimmed - 1] == '\n' || text[trimmed - 1] == '\r' || text[trimmed - 1] == '\t'))
            trimmed--;
        if (trimmed > start) fn(ctx, start, trimmed - start);
        if (end >= len) break;
        size_t next = end;
        if (overlap) {
            /* step back `overlap` characters, then forward to a sentence
             * start within them, else a word start */
            size_t back = end, chars = 0;
            while (back > start + 1 && chars < overlap) {
                back = char_start(text, back - 1);
                chars++;
            }
            size_t sentence = back;
            while (sentence < end && !sentence_end(text, start, len, sentence)) sentence++;
            if (sentence < end) back = sentence;
            else
                while (back < end && text[back] != ' ' && text[back] != '\n') back++;
            if (back > start && back < end) next = back;
        }
        start = next > start ? next : end;
    }
}
