/*
 * json.c — a jansson value to JSON text, with reals in shortest round-trip form.
 *
 * Shortest form: for a normal double every decimal of at most 15 significant
 * digits survives the trip decimal -> double -> "%.15g" (DBL_DIG), so if a
 * <= 15 digit form exists "%.15g" finds it; otherwise 16, else 17 digits (17
 * always round-trips). Subnormals carry fewer bits, so for them the search
 * starts at one digit. The layout (separators, indentation) is jansson's.
 */
#include "lakehouse/lh_json.h"

#include "lakehouse/lh_mem.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends ".0" to integral output ("2", "-0") so it still reads as a real. */
static size_t mark_real(char *out, size_t n)
{
    if (strpbrk(out, ".e") == NULL) {
        memcpy(out + n, ".0", 3);
        n += 2;
    }
    return n;
}

size_t lh_json_real(double d, char out[LH_JSON_REAL_MAX])
{
    out[0] = '\0';
    if (!isfinite(d)) return 0;
    int n = 0;
    for (int prec = fabs(d) < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
        n = snprintf(out, LH_JSON_REAL_MAX - 2, "%.*g", prec, d);
        if (strtod(out, NULL) == d) break;
    }
    return mark_real(out, (size_t)n);
}

size_t lh_json_real_f32(float f, char out[LH_JSON_REAL_MAX])
{
    out[0] = '\0';
    if (!isfinite(f)) return 0;
    int n = 0;
    for (int prec = fabsf(f) < FLT_MIN ? 1 : 6; prec <= 9; prec++) {
        n = snprintf(out, LH_JSON_REAL_MAX - 2, "%.*g", prec, (double)f);
        if (strtof(out, NULL) == f) break;
    }
    return mark_real(out, (size_t)n);
}

void lh_json_put_real(lh_buf *b, double d)
{
    char tmp[LH_JSON_REAL_MAX];
    size_t n = lh_json_real(d, tmp);
    if (n) lh_buf_append(b, tmp, n);
    else lh_buf_puts(b, "null");
}

#define INDENT(flags) ((int)((flags) & 0x1F))

/* jansson's dump_indent: a newline and depth * n spaces, or one space between items. */
static void indent(lh_buf *b, size_t flags, int depth, int space)
{
    if (INDENT(flags) > 0) {
        lh_buf_putc(b, '\n');
        for (int i = 0; i < depth * INDENT(flags); i++) lh_buf_putc(b, ' ');
    } else if (space && !(flags & JSON_COMPACT)) {
        lh_buf_putc(b, ' ');
    }
}

static int key_order(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void dump(lh_buf *b, const json_t *j, size_t flags, int depth)
{
    switch (json_typeof(j)) {
    case JSON_NULL: lh_buf_puts(b, "null"); break;
    case JSON_TRUE: lh_buf_puts(b, "true"); break;
    case JSON_FALSE: lh_buf_puts(b, "false"); break;
    case JSON_INTEGER: lh_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(j)); break;
    case JSON_REAL: lh_json_put_real(b, json_real_value(j)); break;
    case JSON_STRING: lh_buf_json_string(b, json_string_value(j), json_string_length(j)); break;
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        lh_buf_putc(b, '[');
        if (n) indent(b, flags, depth + 1, 0);
        for (size_t i = 0; i < n; i++) {
            dump(b, json_array_get(j, i), flags, depth + 1);
            if (i + 1 < n) {
                lh_buf_putc(b, ',');
                indent(b, flags, depth + 1, 1);
            } else {
                indent(b, flags, depth, 0);
            }
        }
        lh_buf_putc(b, ']');
        break;
    }
    case JSON_OBJECT: {
        size_t n = json_object_size(j), i = 0;
        const char **keys = lh_xcalloc(n ? n : 1, sizeof *keys);
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)j, key, v) keys[i++] = key;
        if (flags & JSON_SORT_KEYS) qsort(keys, n, sizeof *keys, key_order);
        lh_buf_putc(b, '{');
        if (n) indent(b, flags, depth + 1, 0);
        for (i = 0; i < n; i++) {
            lh_buf_json_string(b, keys[i], strlen(keys[i]));
            lh_buf_puts(b, flags & JSON_COMPACT ? ":" : ": ");
            dump(b, json_object_get(j, keys[i]), flags, depth + 1);
            if (i + 1 < n) {
                lh_buf_putc(b, ',');
                indent(b, flags, depth + 1, 1);
            } else {
                indent(b, flags, depth, 0);
            }
        }
        lh_buf_putc(b, '}');
        free(keys);
        break;
    }
    }
}

char *lh_json_dumps(const json_t *json, size_t flags)
{
    if (!json) return NULL;
    if (!(flags & JSON_ENCODE_ANY) && !json_is_object(json) && !json_is_array(json)) return NULL;
    lh_buf b = {0};
    dump(&b, json, flags, 0);
    return lh_buf_detach(&b);
}

struct sort_item {
    json_t *v;
    const char *key;
    size_t at; /* original position: a stable sort */
};

static int sort_item_order(const void *a, const void *b)
{
    const struct sort_item *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->at > y->at) - (x->at < y->at);
}

void lh_json_sort_by(json_t *array, const char *field)
{
    size_t n = json_array_size(array);
    if (n < 2) return;
    struct sort_item *items = lh_xmalloc(n * sizeof *items);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(array, i);
        const char *key = json_string_value(json_object_get(v, field));
        items[i] = (struct sort_item){.v = json_incref(v), .key = key ? key : "", .at = i};
    }
    qsort(items, n, sizeof *items, sort_item_order);
    for (size_t i = 0; i < n; i++) json_array_set_new(array, i, items[i].v);
    free(items);
}
