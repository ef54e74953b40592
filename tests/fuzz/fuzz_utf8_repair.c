/*
 * fuzz_utf8_repair.c — libFuzzer target for the per-line encoding census and
 * repair (src/base/utf8.c) over untrusted text: the first two bytes choose a
 * piece size and a segment cap, the rest is the text. Whatever the bytes, the
 * output is valid UTF-8, valid input comes out unchanged, the result does not
 * depend on how the text was cut into pieces, and (lines within the cap) the
 * census counts exactly the lines the repair decodes. The scrub of error
 * messages (lh_utf8_scrub) leaves valid UTF-8 of the same length, and valid
 * text unchanged.
 */
#include "lakehouse/lh_utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *repair(const char *p, size_t n, size_t piece, size_t cap, uint64_t *lines, size_t *len)
{
    lh_utf8_repair r;
    lh_utf8_repair_init(&r, cap);
    lh_buf out = {0};
    for (size_t at = 0; at < n; at += piece) lh_utf8_repair_feed(&r, p + at, n - at < piece ? n - at : piece, &out);
    lh_utf8_repair_end(&r, &out);
    *lines = r.lines_repaired;
    *len = out.len;
    lh_utf8_repair_free(&r);
    return lh_buf_detach(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    size_t piece = 1 + data[0] % 64, cap = LH_UTF8_REPAIR_SEGMENT_MIN + data[1];
    const char *text = (const char *)data + 2;
    size_t n = size - 2;
    uint64_t whole_lines, piece_lines;
    size_t whole_len, piece_len;
    char *whole = repair(text, n, n ? n : 1, cap, &whole_lines, &whole_len);
    char *pieces = repair(text, n, piece, cap, &piece_lines, &piece_len);
    if (!lh_utf8_valid(whole, whole_len)) abort();
    if (whole_lines != piece_lines || whole_len != piece_len || memcmp(whole, pieces, whole_len)) abort();
    if (lh_utf8_valid(text, n) && (whole_lines || whole_len != n || memcmp(whole, text, n))) abort();
    size_t longest = 0, run = 0;
    for (size_t i = 0; i < n; i++) {
        run = text[i] == '\n' ? 0 : run + 1;
        if (run + 1 > longest) longest = run + 1;
    }
    lh_utf8_census c = {0};
    for (size_t at = 0; at < n; at += piece) lh_utf8_census_feed(&c, text + at, n - at < piece ? n - at : piece);
    lh_utf8_census_end(&c);
    if (longest <= cap && c.lines_invalid != whole_lines) abort();
    if (!whole_lines && c.lines_invalid) abort();
    char *scrubbed = malloc(n + 1);
    memcpy(scrubbed, text, n);
    scrubbed[n] = '\0';
    size_t cut = strlen(scrubbed), fixed = lh_utf8_scrub(scrubbed); /* up to the first NUL, as a message */
    if (strlen(scrubbed) != cut || !lh_utf8_valid(scrubbed, cut)) abort();
    if (lh_utf8_valid(text, cut) ? fixed || memcmp(scrubbed, text, cut) : !fixed) abort();
    free(scrubbed);
    free(whole);
    free(pieces);
    return 0;
}
