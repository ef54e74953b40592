/*
 * sql.c — quoting for SQL text the engine builds itself, and where in a
 * statement the engine's error points.
 */
#include "lakehouse/lh_query.h"

#include <stdlib.h>
#include <string.h>

static void quote(lh_buf *b, const char *s, char q)
{
    lh_buf_putc(b, q);
    for (; *s; s++) {
        if (*s == q) lh_buf_putc(b, q);
        lh_buf_putc(b, *s);
    }
    lh_buf_putc(b, q);
}

void lh_sql_quote_ident(lh_buf *b, const char *s)
{
    quote(b, s, '"');
}

void lh_sql_quote_literal(lh_buf *b, const char *s)
{
    quote(b, s, '\'');
}

/* The engine marks an error's place as
 *     LINE 2:   2, foo(3)
 *                  ^
 * with the line cut to a window ("...") when it is long. */
bool lh_query_error_position(const char *message, const char *sql, size_t *offset)
{
    if (!message || !sql) return false;
    const char *at = strstr(message, "LINE ");
    while (at && at != message && at[-1] != '\n') at = strstr(at + 1, "LINE ");
    if (!at) return false;
    char *end;
    long line = strtol(at + 5, &end, 10);
    if (line < 1 || end[0] != ':' || end[1] != ' ') return false;
    const char *snippet = end + 2, *eol = strchr(snippet, '\n');
    if (!eol) return false;
    const char *caret = strchr(eol + 1, '^');
    if (!caret || memchr(eol + 1, '\n', (size_t)(caret - eol - 1))) return false;
    size_t prefix = (size_t)(snippet - at), column = (size_t)(caret - eol - 1);
    if (column < prefix) return false;
    size_t in_snippet = column - prefix, snippet_len = (size_t)(eol - snippet);
    /* the statement's line `line` */
    const char *start = sql;
    for (long l = 1; l < line; l++) {
        start = strchr(start, '\n');
        if (!start) return false;
        start++;
    }
    size_t line_len = strcspn(start, "\n");
    if (snippet_len >= 3 && !strncmp(snippet, "...", 3)) { /* a window: find it in the line */
        snippet += 3;
        snippet_len -= 3;
        if (in_snippet < 3) return false;
        in_snippet -= 3;
        size_t probe = snippet_len >= 3 && !strncmp(snippet + snippet_len - 3, "...", 3) ? snippet_len - 3 : snippet_len;
        if (probe > 24) probe = 24; /* enough to be unique, short enough to be verbatim */
        const char *found = NULL;
        for (const char *p = start; p + probe <= start + line_len; p++)
            if (!strncmp(p, snippet, probe)) {
                found = p;
                break;
            }
        if (!found || probe == 0) return false;
        line_len -= (size_t)(found - start);
        start = found;
    }
    if (in_snippet > line_len) return false;
    *offset = (size_t)(start - sql) + in_snippet;
    return *offset <= strlen(sql);
}
