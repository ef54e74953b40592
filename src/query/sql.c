/*
 * sql.c — quoting for SQL text the engine builds itself.
 */
#include "lakehouse/lh_query.h"

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
