/*
 * chunk.c — splitting documents into retrieval-sized chunks.
 */
#include "internal.h"

#include <string.h>

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

/* The best cut in [start, hi]: after a blank line in the last two thirds of
 * the window, else a newline in its last half, else a space in its last third. */
static size_t best_cut(const char *s, size_t start, size_t hi)
{
    size_t w = hi - start;
    for (size_t i = hi; i > start + w / 3 && i >= 2; i--)
        if (s[i - 1] == '\n' && s[i - 2] == '\n') return i;
    for (size_t i = hi; i > start + w / 2; i--)
        if (s[i - 1] == '\n') return i;
    for (size_t i = hi; i > start + w * 2 / 3; i--)
        if (s[i - 1] == ' ' || s[i - 1] == '\t') return i;
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
        if (end < len) end = best_cut(text, start, end);
        size_t trimmed = end;
        while (trimmed > start && (text[trimmed - 1] == ' ' || text[trimmed - 1] == '\n' || text[trimmed - 1] == '\r' || text[trimmed - 1] == '\t'))
            trimmed--;
        if (trimmed > start) fn(ctx, start, trimmed - start);
        if (end >= len) break;
        size_t next = end;
        if (overlap) {
            /* step back `overlap` characters, then forward to a word start */
            size_t back = end, chars = 0;
            while (back > start + 1 && chars < overlap) {
                back = char_start(text, back - 1);
                chars++;
            }
            while (back < end && text[back] != ' ' && text[back] != '\n') back++;
            if (back > start && back < end) next = back;
        }
        start = next > start ? next : end;
    }
}
