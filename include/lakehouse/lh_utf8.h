/*
 * lh_utf8.h — UTF-8 validation (RFC 3629: no overlongs, no surrogates, <= U+10FFFF),
 * and the per-line repair of text that mixes UTF-8 with single-byte lines.
 *
 * Repair, line by line: a line ('\n'-terminated, or the last) that is valid
 * UTF-8 is kept byte for byte; any other line is decoded as Windows-1252
 * (the five bytes it leaves undefined, 0x81 0x8D 0x8F 0x90 0x9D, as Latin-1:
 * U+0081 ...). Both work on pieces of any size (streaming) with bounded
 * memory: the census keeps no bytes, the repair at most one line, and a line
 * longer than its cap is decided in cap-sized segments cut at a character
 * boundary.
 */
#ifndef LH_UTF8_H
#define LH_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lakehouse/lh_buf.h"

/* Length (1..4) of the valid UTF-8 sequence starting at s, or 0 if the bytes
 * at s do not start one (n is the number of bytes available). */
size_t lh_utf8_char_len(const char *s, size_t n);

/* True if s[0..n) is entirely valid UTF-8. */
bool lh_utf8_valid(const char *s, size_t n);

/* Makes the NUL-terminated s valid UTF-8 in place: each byte that does not
 * start a valid sequence (including one cut short by truncation) becomes '?'.
 * Returns the number of bytes replaced. For messages that quote input. */
size_t lh_utf8_scrub(char *s);

/* Counts, over text fed in pieces, the lines that are not valid UTF-8.
 * Zero-initialise, feed, then end. ASCII runs cost a test per 64 bytes,
 * and a line is skipped (memchr) from its first invalid byte on. */
typedef struct lh_utf8_census {
    uint64_t lines_invalid; /* lines that are not valid UTF-8 */
    uint64_t lines_utf8;    /* valid lines holding non-ASCII characters */
    /* private: the decoder between pieces */
    bool in_line, line_bad, line_utf8;
    unsigned char need, lo, hi;
} lh_utf8_census;

void lh_utf8_census_feed(lh_utf8_census *c, const char *p, size_t n);
void lh_utf8_census_end(lh_utf8_census *c);

/* The smallest line segment a repair decides on its own. */
#define LH_UTF8_REPAIR_SEGMENT_MIN 16

/* Repairs text fed in pieces (see the top of this file), appending to out. */
typedef struct lh_utf8_repair {
    uint64_t lines_repaired; /* lines (at least one segment of) decoded as Windows-1252 */
    /* private */
    lh_buf line;             /* the unfinished line */
    size_t cap;              /* most bytes of one line held */
    bool repaired;           /* a segment of the unfinished line was repaired */
} lh_utf8_repair;

/* segment_cap: the most bytes of one line held (at least LH_UTF8_REPAIR_SEGMENT_MIN). */
void lh_utf8_repair_init(lh_utf8_repair *r, size_t segment_cap);
void lh_utf8_repair_feed(lh_utf8_repair *r, const char *p, size_t n, lh_buf *out);
void lh_utf8_repair_end(lh_utf8_repair *r, lh_buf *out); /* flushes the last line */
void lh_utf8_repair_free(lh_utf8_repair *r);

/* Appends the UTF-8 encoding of byte b read as Windows-1252. */
void lh_utf8_append_cp1252(lh_buf *out, unsigned char b);

#endif
