/*
 * fuzz_text_template.c — libFuzzer target for a text index's template
 * ("{name}: {profile}"), which arrives from HTTP and the CLI and becomes SQL
 * (src/index/chunks.c, vec_text_expr). Any bytes are turned into an
 * expression or refused with LH_EINVAL; an accepted one names only the
 * dataset's columns, and every literal and identifier is quoted and closed.
 */
#include "../../src/index/internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *dm;
    if (!dm)
        dm = json_pack("{s:s, s:{s:[{s:s, s:s}, {s:s, s:s}]}}", "dataset", "workers", "schema", "fields", "name", "name",
                       "type", "VARCHAR", "name", "it's \"odd\"", "type", "VARCHAR");
    char *tpl = strndup((const char *)data, size); /* stops at a NUL, as a JSON string would not */
    json_t *t = json_pack("{s:s}", "template", tpl);
    free(tpl);
    if (!t) return 0; /* not UTF-8: jansson refuses it before we would see it */
    lh_buf sql = {0};
    lh_err err;
    lh_code rc = vec_text_expr(dm, t, &sql, &err);
    if (rc != LH_OK && rc != LH_EINVAL) abort();
    if (rc == LH_OK) { /* lex it: every '...' literal and "..." identifier is closed */
        char in = 0;
        for (size_t i = 0; i < sql.len; i++) {
            char c = sql.data[i];
            if (!in && (c == '\'' || c == '"')) in = c;
            else if (in && c == in && i + 1 < sql.len && sql.data[i + 1] == in) i++; /* doubled: escaped */
            else if (in && c == in) in = 0;
        }
        if (in) abort();
    }
    lh_buf_free(&sql);
    json_decref(t);
    return 0;
}
