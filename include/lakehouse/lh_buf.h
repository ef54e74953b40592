/*
 * lh_buf.h — a growable byte buffer, always NUL-terminated.
 *
 * Zero-initialise (lh_buf b = {0};) and append; data is NULL until the first
 * append. Release with lh_buf_free or take ownership with lh_buf_detach.
 */
#ifndef LH_BUF_H
#define LH_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct lh_buf {
    char *data;
    size_t len;
    size_t cap;
} lh_buf;

void lh_buf_free(lh_buf *b);
void lh_buf_reset(lh_buf *b);                  /* len = 0, keeps capacity */
void lh_buf_reserve(lh_buf *b, size_t extra);  /* room for extra more bytes */
void lh_buf_append(lh_buf *b, const void *p, size_t n);
void lh_buf_puts(lh_buf *b, const char *s);
void lh_buf_putc(lh_buf *b, char c);
void lh_buf_printf(lh_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lh_buf_vprintf(lh_buf *b, const char *fmt, va_list ap);
char *lh_buf_detach(lh_buf *b);                /* caller frees; never NULL */

/* Appends s[0..n) as a JSON string literal, quotes included. Invalid UTF-8
 * bytes become U+FFFD so the output is always valid JSON. */
void lh_buf_json_string(lh_buf *b, const char *s, size_t n);

#endif
