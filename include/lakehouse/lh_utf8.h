/*
 * lh_utf8.h — UTF-8 validation (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
 */
#ifndef LH_UTF8_H
#define LH_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length (1..4) of the valid UTF-8 sequence starting at s, or 0 if the bytes
 * at s do not start one (n is the number of bytes available). */
size_t lh_utf8_char_len(const char *s, size_t n);

/* True if s[0..n) is entirely valid UTF-8. */
bool lh_utf8_valid(const char *s, size_t n);

#endif
