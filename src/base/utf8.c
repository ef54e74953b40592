/*
 * utf8.c — strict UTF-8 validation (Unicode 15, table 3-7), and the per-line
 * census and repair of text mixing UTF-8 and Windows-1252 lines.
 */
#include "lakehouse/lh_utf8.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* True if the 8 bytes at p are all ASCII. */
static inline bool ascii8(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return !(w & 0x8080808080808080ull);
}

/* Past the ASCII at s, 64 then 8 bytes at a time: the first 8-byte word
 * holding a byte >= 0x80, or where fewer than 8 bytes are left. */
static inline const unsigned char *skip_ascii(const unsigned char *s, const unsigned char *end)
{
#ifdef __SSE2__
    for (; end - s >= 64; s += 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)s);
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(s + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(s + 32));
        __m128i d = _mm_loadu_si128((const __m128i *)(const void *)(s + 48));
        if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d)))) break;
    }
#endif
    while (end - s >= 8 && ascii8(s)) s += 8;
    return s;
}

size_t lh_utf8_char_len(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    if (n == 0) return 0;
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;      /* no overlongs */
        if (c == 0xED) hi = 0x9F;      /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;      /* no overlongs */
        if (c == 0xF4) hi = 0x8F;      /* <= U+10FFFF */
    } else {
        return 0;
    }
    if (n < len) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

bool lh_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        i = (size_t)(skip_ascii(u + i, u + n) - u);
        if (i == n) break;
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t len = lh_utf8_char_len(s + i, n - i);
        if (!len) return false;
        i += len;
    }
    return true;
}

size_t lh_utf8_scrub(char *s)
{
    size_t n = strlen(s), fixed = 0;
    for (size_t i = 0; i < n;) {
        size_t len = lh_utf8_char_len(s + i, n - i);
        if (len) {
            i += len;
        } else {
            s[i++] = '?';
            fixed++;
        }
    }
    return fixed;
}

/* ---- census ---- */

/* Starts the sequence whose lead byte is b: false if b cannot lead one. */
static bool census_lead(lh_utf8_census *c, unsigned char b)
{
    c->lo = 0x80, c->hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) c->need = 1;
    else if (b >= 0xE0 && b <= 0xEF) c->need = 2, c->lo = b == 0xE0 ? 0xA0 : 0x80, c->hi = b == 0xED ? 0x9F : 0xBF;
    else if (b >= 0xF0 && b <= 0xF4) c->need = 3, c->lo = b == 0xF0 ? 0x90 : 0x80, c->hi = b == 0xF4 ? 0x8F : 0xBF;
    else return false;
    return true;
}

/* Decodes s..stop, a part of the open line without its '\n'. */
static void census_line(lh_utf8_census *c, const unsigned char *s, const unsigned char *stop)
{
    while (s < stop) {
        if (!c->need) {
            s = skip_ascii(s, stop);
            if (s == stop) return;
        }
        unsigned char b = *s++;
        if (c->need) {
            if (b < c->lo || b > c->hi) {
                c->line_bad = true;
                return;
            }
            c->lo = 0x80, c->hi = 0xBF;
            if (--c->need == 0) c->line_utf8 = true;
        } else if (b >= 0x80 && !census_lead(c, b)) {
            c->line_bad = true;
            return;
        }
    }
}

static void census_close_line(lh_utf8_census *c)
{
    if (c->need) c->line_bad = true; /* cut off by the line's end */
    if (c->line_bad) c->lines_invalid++;
    else if (c->line_utf8) c->lines_utf8++;
    c->in_line = c->line_bad = c->line_utf8 = false;
    c->need = 0;
}

void lh_utf8_census_feed(lh_utf8_census *c, const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p, *end = s + n;
    while (s < end) {
        if (!c->in_line) {
            /* no line open: ASCII needs no decision, newlines included */
            s = skip_ascii(s, end);
            while (s < end && *s < 0x80) s++;
            if (s == end) return;
            c->in_line = true; /* the line holding this byte is decided to its '\n' */
        }
        const unsigned char *nl = memchr(s, '\n', (size_t)(end - s));
        const unsigned char *stop = nl ? nl : end;
        if (!c->line_bad) census_line(c, s, stop);
        if (!nl) return;
        census_close_line(c);
        s = nl + 1;
    }
}

void lh_utf8_census_end(lh_utf8_census *c)
{
    if (c->in_line) census_close_line(c);
}

/* ---- repair ---- */

/* Windows-1252 0x80..0x9F; 0 where it defines no character (Latin-1 then). */
static const unsigned short cp1252_c1[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

void lh_utf8_append_cp1252(lh_buf *out, unsigned char b)
{
    unsigned cp = b;
    if (b >= 0x80 && b < 0xA0 && cp1252_c1[b - 0x80]) cp = cp1252_c1[b - 0x80];
    char u[3];
    if (cp < 0x80) {
        lh_buf_putc(out, (char)cp);
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3F));
        lh_buf_append(out, u, 2);
    } else {
        u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[2] = (char)(0x80 | (cp & 0x3F));
        lh_buf_append(out, u, 3);
    }
}

void lh_utf8_repair_init(lh_utf8_repair *r, size_t segment_cap)
{
    memset(r, 0, sizeof *r);
    r->cap = segment_cap < LH_UTF8_REPAIR_SEGMENT_MIN ? LH_UTF8_REPAIR_SEGMENT_MIN : segment_cap;
}

void lh_utf8_repair_free(lh_utf8_repair *r)
{
    lh_buf_free(&r->line);
}

/* Keeps a valid segment, decodes any other as Windows-1252. */
static void repair_segment(lh_utf8_repair *r, const char *p, size_t n, lh_buf *out)
{
    if (lh_utf8_valid(p, n)) {
        lh_buf_append(out, p, n);
        return;
    }
    r->repaired = true;
    lh_buf_reserve(out, n * 3);
    for (size_t i = 0; i < n; i++) lh_utf8_append_cp1252(out, (unsigned char)p[i]);
}

static void repair_close_line(lh_utf8_repair *r)
{
    if (r->repaired) r->lines_repaired++;
    r->repaired = false;
    lh_buf_reset(&r->line);
}

/* The held line is full (cap bytes, no '\n'): decides it up to its last
 * character boundary and keeps the cut-off character for the next segment. */
static void repair_flush_segment(lh_utf8_repair *r, lh_buf *out)
{
    const unsigned char *d = (const unsigned char *)r->line.data;
    size_t len = r->line.len, keep = 0;
    for (size_t i = 1; i <= 3 && i <= len; i++) {
        unsigned char b = d[len - i];
        if ((b & 0xC0) == 0x80) continue; /* a continuation byte: look further back */
        size_t want = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
        if (want > i) keep = i;
        break;
    }
    repair_segment(r, r->line.data, len - keep, out);
    memmove(r->line.data, r->line.data + len - keep, keep);
    r->line.len = keep;
}

void lh_utf8_repair_feed(lh_utf8_repair *r, const char *p, size_t n, lh_buf *out)
{
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t seg = nl ? (size_t)(nl - p) + 1 : n; /* the '\n' goes with its line */
        if (nl && r->line.len == 0 && seg <= r->cap) {
            repair_segment(r, p, seg, out); /* a whole line in this piece: decided in place */
            repair_close_line(r);
            p += seg, n -= seg;
            continue;
        }
        while (seg) {
            size_t k = r->cap - r->line.len < seg ? r->cap - r->line.len : seg;
            lh_buf_append(&r->line, p, k);
            p += k, n -= k, seg -= k;
            if (r->line.len == r->cap && (seg || !nl)) repair_flush_segment(r, out);
        }
        if (nl) {
            repair_segment(r, r->line.data, r->line.len, out);
            repair_close_line(r);
        }
    }
}

void lh_utf8_repair_end(lh_utf8_repair *r, lh_buf *out)
{
    if (r->line.len) repair_segment(r, r->line.data, r->line.len, out);
    repair_close_line(r);
}
