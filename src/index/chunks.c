/*
 * chunks.c — the text side of an index version: checking a manifest's text
 * settings, the SQL expression of a row's text, and the BM25 index over a
 * version's chunks (lh_vtext).
 */
#include "internal.h"

#include "lakehouse/lh_fusion.h"
#include "lakehouse/lh_mem.h"

#include <stdlib.h>
#include <string.h>

/* ---- settings ---- */

lh_code vec_text_check(const json_t *t, lh_err *err)
{
    const char *why = NULL, *refresh = str(t, "refresh");
    json_t *cols = json_object_get(t, "columns"), *w = json_object_get(t, "weight"), *k = json_object_get(t, "rrf_k");
    lh_fusion f;
    if (!json_is_object(t)) why = "the text settings must be an object";
    else if (!str(t, "provider") || !*str(t, "provider")) why = "no embedding provider";
    else if (!str(t, "model") || !*str(t, "model")) why = "no embedding model";
    else if (!cols == !json_object_get(t, "template")) why = "give either columns or a template";
    else if (cols && (!json_is_array(cols) || json_array_size(cols) == 0 || json_array_size(cols) > 64))
        why = "columns must be an array of 1..64 column names";
    else if (!cols && (!str(t, "template") || !strchr(str(t, "template"), '{')))
        why = "a template must be a string naming columns in braces, like \"{title}: {body}\"";
    else if (!refresh || (strcmp(refresh, "manual") && strcmp(refresh, "on_append")))
        why = "refresh must be \"manual\" or \"on_append\"";
    else if (!str(t, "fusion") || !lh_fusion_parse(str(t, "fusion"), &f)) why = "fusion must be \"rrf\" or \"weighted\"";
    else if (!json_is_number(w) || json_number_value(w) < 0 || json_number_value(w) > 1)
        why = "weight must be a number in 0..1";
    else if (!json_is_number(k) || json_number_value(k) < 0 || json_number_value(k) > 1e6)
        why = "rrf_k must be a number in 0..1000000";
    for (size_t i = 0; !why && i < json_array_size(cols); i++)
        if (!json_is_string(json_array_get(cols, i))) why = "columns must be column names (strings)";
    return why ? lh_err_set(err, LH_EINVAL, "text index: %s", why) : LH_OK;
}

const char *vec_field_type(const json_t *dm, const char *column)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(json_object_get(dm, "schema"), "fields"), i, f) if (!strcmp(str(f, "name"), column))
        return str(f, "type");
    return NULL;
}

static lh_code text_column(lh_buf *sql, const json_t *dm, const char *name, size_t len, lh_err *err)
{
    char *col = lh_xstrndup(name, len);
    lh_code rc = LH_OK;
    if (!vec_field_type(dm, col)) {
        rc = lh_err_set(err, LH_EINVAL, "text index: dataset %s has no column \"%s\"", str(dm, "dataset"), col);
    } else {
        lh_buf_puts(sql, "COALESCE(CAST(");
        lh_sql_quote_ident(sql, col);
        lh_buf_puts(sql, " AS VARCHAR), '')");
    }
    free(col);
    return rc;
}

lh_code vec_text_expr(const json_t *dm, const json_t *t, lh_buf *sql, lh_err *err)
{
    lh_code rc = LH_OK;
    json_t *cols = json_object_get(t, "columns");
    if (cols) {
        lh_buf_puts(sql, "concat_ws(chr(10)");
        for (size_t i = 0; rc == LH_OK && i < json_array_size(cols); i++) {
            const char *c = json_string_value(json_array_get(cols, i));
            lh_buf_puts(sql, ", NULLIF(");
            rc = c ? text_column(sql, dm, c, strlen(c), err) : lh_err_set(err, LH_EINVAL, "text index: bad column");
            lh_buf_puts(sql, ", '')");
        }
        lh_buf_puts(sql, ")");
        return rc;
    }
    /* "{a}: {b}" -> concat('', a, ': ', b); {{ and }} are literal braces */
    const char *p = str(t, "template");
    if (!p) return lh_err_set(err, LH_EINVAL, "text index: give either columns or a template");
    lh_buf lit = {0};
    lh_buf_puts(sql, "concat(''");
    while (rc == LH_OK && *p) {
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            lh_buf_putc(&lit, *p);
            p += 2;
        } else if (*p == '{') {
            const char *end = strchr(p, '}');
            if (!end || end == p + 1) {
                rc = lh_err_set(err, LH_EINVAL, "text index: the template has an unclosed or empty {}");
                break;
            }
            lh_buf_puts(sql, ", ");
            lh_sql_quote_literal(sql, lit.len ? lit.data : "");
            lh_buf_reset(&lit);
            lh_buf_puts(sql, ", ");
            rc = text_column(sql, dm, p + 1, (size_t)(end - p - 1), err);
            p = end + 1;
        } else {
            lh_buf_putc(&lit, *p++);
        }
    }
    if (lit.len) {
        lh_buf_puts(sql, ", ");
        lh_sql_quote_literal(sql, lit.data);
    }
    lh_buf_free(&lit);
    lh_buf_puts(sql, ")");
    return rc;
}

/* ---- the text side of a version ---- */

lh_code vec_text_new(char **chunks, size_t n, const lh_idtab *ids, const json_t *deleted, lh_vtext **out,
                     lh_err *err)
{
    lh_vtext *t = lh_xcalloc(1, sizeof *t);
    t->chunks = chunks;
    t->n = n;
    bool *gone = lh_xcalloc(n + 1, sizeof *gone);
    size_t i;
    json_t *x;
    json_array_foreach(deleted, i, x) {
        lh_id id;
        uint64_t label;
        lh_err ignored;
        if (lh_idtab_parse(ids, x, &id, &ignored) == LH_OK && lh_idtab_find(ids, id, &label) && label < n)
            gone[label] = true;
    }
    lh_code rc = lh_bm25_new(NULL, &t->bm25, err);
    for (size_t l = 0; rc == LH_OK && l < n; l++)
        if (!gone[l]) rc = lh_bm25_add(t->bm25, (uint32_t)l, chunks[l], strlen(chunks[l]), err);
    free(gone);
    if (rc) {
        lh_vtext_free(t);
        return rc;
    }
    *out = t;
    return LH_OK;
}
