/*
 * lh_html.h — building HTML safely: the one template helper of the web UI.
 *
 * Every value that reaches a page goes through these calls. lh_html_printf's
 * format is trusted markup written in our source; each %s argument is
 * escaped (& < > " ' become entities), numbers are printed as printf would.
 * There is no way to pass a value through unescaped except lh_html_raw,
 * which takes only literal markup from our own source.
 */
#ifndef LH_HTML_H
#define LH_HTML_H

#include <stdarg.h>
#include <stddef.h>

#include "lakehouse/lh_buf.h"
#include "lakehouse/lh_mem.h"

/* Appends s (may be NULL: nothing) escaped for text and quoted attributes. */
void lh_html_text(lh_buf *b, const char *s);
/* Appends s[0..n) escaped; invalid UTF-8 and NUL bytes become U+FFFD. */
void lh_html_textn(lh_buf *b, const char *s, size_t n);
/* The same escaping: a value inside a double-quoted attribute. */
void lh_html_attr(lh_buf *b, const char *s);
/* Appends literal markup from our own source (never a value). */
void lh_html_raw(lh_buf *b, const char *markup);

/* Markup with values: the format is trusted, every %s is escaped (NULL
 * prints nothing); %d %i %u %ld %lld %zu %x %g %f %c and %% as printf
 * (a %c value is escaped too). */
void lh_html_printf(lh_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lh_html_vprintf(lh_buf *b, const char *fmt, va_list ap);

/* s percent-encoded for a URL's path segment or query value (RFC 3986
 * unreserved characters kept), in the arena. */
char *lh_html_url_encode(lh_arena *arena, const char *s);

#endif
