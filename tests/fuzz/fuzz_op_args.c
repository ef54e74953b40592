/*
 * fuzz_op_args.c — libFuzzer target for operation arguments as every edge
 * gives them: text (query strings, CLI flags) typed by lh_op_set_text,
 * JSON bodies checked by lh_op_check, and list cursors. Whatever the bytes,
 * an argument set either checks out (and then every value has its declared
 * type) or is refused with LH_EINVAL.
 */
#include "lakehouse/lh_app.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t n_ops;
    const lh_op *ops = lh_op_all(&n_ops);
    const lh_op *op = &ops[data[0] % n_ops];
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    lh_err err;

    /* NUL-separated name, value pairs */
    json_t *args = json_object();
    size_t len = size - 1;
    for (size_t i = 0; i < len;) {
        const char *name = text + i;
        i += strlen(name) + 1;
        if (i >= len) break;
        const char *value = text + i;
        i += strlen(value) + 1;
        lh_code rc = lh_op_set_text(op, args, name, value, &err);
        if (rc != LH_OK && rc != LH_EINVAL) abort();
    }
    lh_code rc = lh_op_check(op, args, &err);
    if (rc != LH_OK && rc != LH_EINVAL) abort();
    json_decref(args);

    /* the same bytes as a JSON body */
    json_t *body = json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY, NULL);
    if (body) {
        rc = lh_op_check(op, body, &err);
        if (rc != LH_OK && rc != LH_EINVAL) abort();
        json_decref(body);
    }

    /* and as a cursor */
    char *v = lh_op_cursor_decode(text, "offset");
    if (v && strlen(v) > size) abort();
    free(v);
    v = lh_op_cursor_decode(text, "after");
    free(v);
    free(text);
    return 0;
}
