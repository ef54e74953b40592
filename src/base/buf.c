/*
 * buf.c — growable NUL-terminated byte buffers and JSON string escaping.
 */
#include "lakehouse/lh_buf.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lh_buf_free(lh_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void lh_buf_reset(lh_buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void lh_buf_reserve(lh_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    b->data = lh_xrealloc(b->data, cap);
    b->cap = cap;
}

void lh_buf_append(lh_buf *b, const void *p, size_t n)
{
    lh_buf_reserve(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void lh_buf_puts(lh_buf *b, const char *s)
{
    lh_buf_append(b, s, strlen(s));
}

void lh_buf_putc(lh_buf *b, char c)
{
    lh_buf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void lh_buf_vprintf(lh_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) {
        va_end(ap2);
        return;
    }
    if ((size_t)n < sizeof small) {
        lh_buf_append(b, small, (size_t)n);
    } else {
        lh_buf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

void lh_buf_printf(lh_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lh_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

char *lh_buf_detach(lh_buf *b)
{
    char *p = b->data ? b->data : lh_xstrdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void lh_buf_json_string(lh_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    lh_buf_reserve(b, n + 2);
    lh_buf_putc(b, '"');
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            size_t len = lh_utf8_char_len(s + i, n - i);
            if (len == 0) {
                lh_buf_append(b, "\xEF\xBF\xBD", 3); /* U+FFFD */
                i++;
            } else {
                lh_buf_append(b, s + i, len);
                i += len;
            }
            continue;
        }
        switch (c) {
        case '"': lh_buf_append(b, "\\\"", 2); break;
        case '\\': lh_buf_append(b, "\\\\", 2); break;
        case '\n': lh_buf_append(b, "\\n", 2); break;
        case '\r': lh_buf_append(b, "\\r", 2); break;
        case '\t': lh_buf_append(b, "\\t", 2); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                lh_buf_append(b, esc, 6);
            } else {
                lh_buf_putc(b, (char)c);
            }
        }
        i++;
    }
    lh_buf_putc(b, '"');
}
