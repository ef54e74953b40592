/*
 * html.c — the HTML escaper and the escaping printf (lh_html.h).
 *
 * Escaping covers text and double- or single-quoted attribute values; it is
 * the only path from a value to a page. Invalid UTF-8 is replaced so a
 * hostile byte sequence cannot desynchronise the browser's decoder.
 */
#include "lakehouse/lh_html.h"

#include "lakehouse/lh_utf8.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void put_replacement(lh_buf *b)
{
    lh_buf_append(b, "\xEF\xBF\xBD", 3);
}

void lh_html_textn(lh_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    lh_buf_append(b, "", 0); /* NUL-terminated even when s is empty */
    lh_buf_reserve(b, n + 16);
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        switch (c) {
        case '&': lh_buf_append(b, "&amp;", 5); i++; continue;
        case '<': lh_buf_append(b, "&lt;", 4); i++; continue;
        case '>': lh_buf_append(b, "&gt;", 4); i++; continue;
        case '"': lh_buf_append(b, "&quot;", 6); i++; continue;
        case '\'': lh_buf_append(b, "&#39;", 5); i++; continue;
        case '\0': put_replacement(b); i++; continue;
        default: break;
        }
        size_t len = lh_utf8_char_len((const char *)p + i, n - i);
        if (len == 0) {
            put_replacement(b);
            i++;
            continue;
        }
        lh_buf_append(b, p + i, len);
        i += len;
    }
}

void lh_html_text(lh_buf *b, const char *s)
{
    if (s) lh_html_textn(b, s, strlen(s));
}

void lh_html_attr(lh_buf *b, const char *s)
{
    lh_html_text(b, s);
}

void lh_html_raw(lh_buf *b, const char *markup)
{
    lh_buf_puts(b, markup);
}

void lh_html_vprintf(lh_buf *b, const char *fmt, va_list ap)
{
    const char *p = fmt;
    while (*p) {
        const char *pct = strchr(p, '%');
        if (!pct) {
            lh_buf_puts(b, p);
            return;
        }
        lh_buf_append(b, p, (size_t)(pct - p));
        /* one conversion: flags, width, precision, length, conversion */
        char spec[32];
        size_t k = 0;
        const char *q = pct + 1;
        spec[k++] = '%';
        while (*q && strchr("-+ #0123456789.", *q) && k < sizeof spec - 4) spec[k++] = *q++;
        int longs = 0;
        bool size = false;
        while (*q == 'l' || *q == 'z') {
            if (*q == 'l') longs++;
            else size = true;
            if (k < sizeof spec - 3) spec[k++] = *q;
            q++;
        }
        char conv = *q;
        if (!conv) return;
        spec[k++] = conv;
        spec[k] = '\0';
        char num[128];
        switch (conv) {
        case '%': lh_buf_putc(b, '%'); break;
        case 's': lh_html_text(b, va_arg(ap, const char *)); break;
        case 'c': {
            char c = (char)va_arg(ap, int);
            lh_html_textn(b, &c, 1);
            break;
        }
        case 'd': case 'i': case 'u': case 'x': case 'X':
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
            if (size) snprintf(num, sizeof num, spec, va_arg(ap, size_t));
            else if (longs >= 2) snprintf(num, sizeof num, spec, va_arg(ap, long long));
            else if (longs == 1) snprintf(num, sizeof num, spec, va_arg(ap, long));
            else snprintf(num, sizeof num, spec, va_arg(ap, int));
            lh_buf_puts(b, num);
            break;
        case 'g': case 'f': case 'e': case 'G':
            snprintf(num, sizeof num, spec, va_arg(ap, double));
            lh_buf_puts(b, num);
            break;
#pragma GCC diagnostic pop
        default: /* not supported: printed literally so the mistake shows */
            lh_html_text(b, spec);
            break;
        }
        p = q + 1;
    }
}

void lh_html_printf(lh_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lh_html_vprintf(b, fmt, ap);
    va_end(ap);
}

char *lh_html_url_encode(lh_arena *arena, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = s ? strlen(s) : 0;
    char *out = lh_arena_alloc(arena, n * 3 + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
            c == '.' || c == '~') {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}
