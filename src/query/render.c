/*
 * render.c — DuckDB vectors to text: type names, values, and result writers.
 *
 * Values are read straight from result vectors (duckdb_vector_get_data), so
 * rendering needs no deprecated per-value API and no materialised result.
 * Every DuckDB type the C API exposes is rendered; the few without a stable C
 * representation (BIT, BIGNUM) render as a marker string.
 */
#include "internal.h"

#include "lakehouse/lh_json.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_utf8.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- type tree ------------------------------------------------------------ */

static const char *simple_type_name(duckdb_type id)
{
    switch (id) {
    case DUCKDB_TYPE_BOOLEAN: return "BOOLEAN";
    case DUCKDB_TYPE_TINYINT: return "TINYINT";
    case DUCKDB_TYPE_SMALLINT: return "SMALLINT";
    case DUCKDB_TYPE_INTEGER: return "INTEGER";
    case DUCKDB_TYPE_BIGINT: return "BIGINT";
    case DUCKDB_TYPE_UTINYINT: return "UTINYINT";
    case DUCKDB_TYPE_USMALLINT: return "USMALLINT";
    case DUCKDB_TYPE_UINTEGER: return "UINTEGER";
    case DUCKDB_TYPE_UBIGINT: return "UBIGINT";
    case DUCKDB_TYPE_HUGEINT: return "HUGEINT";
    case DUCKDB_TYPE_UHUGEINT: return "UHUGEINT";
    case DUCKDB_TYPE_FLOAT: return "FLOAT";
    case DUCKDB_TYPE_DOUBLE: return "DOUBLE";
    case DUCKDB_TYPE_VARCHAR: return "VARCHAR";
    case DUCKDB_TYPE_BLOB: return "BLOB";
    case DUCKDB_TYPE_DATE: return "DATE";
    case DUCKDB_TYPE_TIME: return "TIME";
    case DUCKDB_TYPE_TIME_NS: return "TIME_NS";
    case DUCKDB_TYPE_TIME_TZ: return "TIME WITH TIME ZONE";
    case DUCKDB_TYPE_TIMESTAMP: return "TIMESTAMP";
    case DUCKDB_TYPE_TIMESTAMP_S: return "TIMESTAMP_S";
    case DUCKDB_TYPE_TIMESTAMP_MS: return "TIMESTAMP_MS";
    case DUCKDB_TYPE_TIMESTAMP_NS: return "TIMESTAMP_NS";
    case DUCKDB_TYPE_TIMESTAMP_TZ: return "TIMESTAMP WITH TIME ZONE";
    case DUCKDB_TYPE_INTERVAL: return "INTERVAL";
    case DUCKDB_TYPE_UUID: return "UUID";
    case DUCKDB_TYPE_BIT: return "BIT";
    case DUCKDB_TYPE_BIGNUM: return "BIGNUM";
    case DUCKDB_TYPE_ENUM: return "ENUM";
    case DUCKDB_TYPE_SQLNULL: return "NULL";
    default: return "UNKNOWN";
    }
}

static void build_children(lh_type_node *n, size_t count)
{
    n->n_children = count;
    n->children = lh_xcalloc(count ? count : 1, sizeof *n->children);
    n->child_names = lh_xcalloc(count ? count : 1, sizeof *n->child_names);
}

static char *dup_and_free(char *s)
{
    char *r = lh_xstrdup(s ? s : "");
    duckdb_free(s);
    return r;
}

void lh_type_node_build(lh_type_node *n, duckdb_logical_type t)
{
    memset(n, 0, sizeof *n);
    n->ltype = t;
    n->id = duckdb_get_type_id(t);
    lh_buf name = {0};
    switch (n->id) {
    case DUCKDB_TYPE_DECIMAL:
        n->internal = duckdb_decimal_internal_type(t);
        n->scale = duckdb_decimal_scale(t);
        lh_buf_printf(&name, "DECIMAL(%u,%u)", duckdb_decimal_width(t), n->scale);
        break;
    case DUCKDB_TYPE_ENUM: {
        n->internal = duckdb_enum_internal_type(t);
        uint32_t size = duckdb_enum_dictionary_size(t);
        build_children(n, 0);
        free(n->child_names);
        n->child_names = lh_xcalloc(size ? size : 1, sizeof *n->child_names);
        n->array_size = size; /* dictionary size */
        for (uint32_t i = 0; i < size; i++)
            n->child_names[i] = dup_and_free(duckdb_enum_dictionary_value(t, i));
        lh_buf_puts(&name, "ENUM");
        break;
    }
    case DUCKDB_TYPE_LIST:
        build_children(n, 1);
        lh_type_node_build(&n->children[0], duckdb_list_type_child_type(t));
        lh_buf_printf(&name, "%s[]", n->children[0].name);
        break;
    case DUCKDB_TYPE_ARRAY:
        build_children(n, 1);
        n->array_size = duckdb_array_type_array_size(t);
        lh_type_node_build(&n->children[0], duckdb_array_type_child_type(t));
        lh_buf_printf(&name, "%s[%llu]", n->children[0].name, (unsigned long long)n->array_size);
        break;
    case DUCKDB_TYPE_MAP:
        build_children(n, 2);
        lh_type_node_build(&n->children[0], duckdb_map_type_key_type(t));
        lh_type_node_build(&n->children[1], duckdb_map_type_value_type(t));
        lh_buf_printf(&name, "MAP(%s, %s)", n->children[0].name, n->children[1].name);
        break;
    case DUCKDB_TYPE_STRUCT:
    case DUCKDB_TYPE_UNION: {
        bool is_union = n->id == DUCKDB_TYPE_UNION;
        idx_t count = is_union ? duckdb_union_type_member_count(t) : duckdb_struct_type_child_count(t);
        build_children(n, count);
        lh_buf_puts(&name, is_union ? "UNION(" : "STRUCT(");
        for (idx_t i = 0; i < count; i++) {
            n->child_names[i] = dup_and_free(is_union ? duckdb_union_type_member_name(t, i)
                                                      : duckdb_struct_type_child_name(t, i));
            lh_type_node_build(&n->children[i], is_union ? duckdb_union_type_member_type(t, i)
                                                         : duckdb_struct_type_child_type(t, i));
            lh_buf_printf(&name, "%s%s %s", i ? ", " : "", n->child_names[i], n->children[i].name);
        }
        lh_buf_putc(&name, ')');
        break;
    }
    default: lh_buf_puts(&name, simple_type_name(n->id));
    }
    n->name = lh_buf_detach(&name);
}

void lh_type_node_free(lh_type_node *n)
{
    size_t names = n->id == DUCKDB_TYPE_ENUM ? (size_t)n->array_size : n->n_children;
    for (size_t i = 0; i < n->n_children; i++) lh_type_node_free(&n->children[i]);
    for (size_t i = 0; n->child_names && i < names; i++) free(n->child_names[i]);
    free(n->children);
    free(n->child_names);
    free(n->name);
    if (n->ltype) duckdb_destroy_logical_type(&n->ltype);
    memset(n, 0, sizeof *n);
}

/* ---- scalar formatting -------------------------------------------------- */

static void put_u128(lh_buf *out, unsigned __int128 v)
{
    char tmp[48];
    int i = sizeof tmp - 1;
    tmp[i] = '\0';
    do {
        tmp[--i] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    lh_buf_puts(out, tmp + i);
}

static void put_i128(lh_buf *out, __int128 v)
{
    if (v < 0) {
        lh_buf_putc(out, '-');
        put_u128(out, (unsigned __int128)(-(v + 1)) + 1);
    } else {
        put_u128(out, (unsigned __int128)v);
    }
}

static __int128 hugeint_value(duckdb_hugeint h)
{
    return (__int128)(((unsigned __int128)(uint64_t)h.upper << 64) | h.lower);
}

static void put_decimal(lh_buf *out, __int128 v, unsigned scale)
{
    lh_buf digits = {0};
    bool neg = v < 0;
    put_u128(&digits, neg ? (unsigned __int128)(-(v + 1)) + 1 : (unsigned __int128)v);
    if (neg) lh_buf_putc(out, '-');
    if (scale == 0) {
        lh_buf_append(out, digits.data, digits.len);
    } else {
        size_t n = digits.len;
        if (n <= scale) {
            lh_buf_puts(out, "0.");
            for (size_t i = n; i < scale; i++) lh_buf_putc(out, '0');
            lh_buf_append(out, digits.data, n);
        } else {
            lh_buf_append(out, digits.data, n - scale);
            lh_buf_putc(out, '.');
            lh_buf_append(out, digits.data + n - scale, scale);
        }
    }
    lh_buf_free(&digits);
}

/* Reals in shortest round-trip form (lh_json.h), in JSON and text alike. */
static void put_double(lh_buf *out, double d, lh_render_mode mode)
{
    char tmp[LH_JSON_REAL_MAX];
    if (lh_json_real(d, tmp)) lh_buf_puts(out, tmp);
    else if (mode == LH_RENDER_JSON) lh_buf_puts(out, "null");
    else lh_buf_puts(out, isnan(d) ? "nan" : d > 0 ? "inf" : "-inf");
}

static void put_float(lh_buf *out, float f, lh_render_mode mode)
{
    char tmp[LH_JSON_REAL_MAX];
    if (lh_json_real_f32(f, tmp)) lh_buf_puts(out, tmp);
    else put_double(out, (double)f, mode);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* Proleptic Gregorian date from days since 1970-01-01 (H. Hinnant's algorithm). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

static void put_date_days(lh_buf *out, int64_t days)
{
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y <= 0) lh_buf_printf(out, "%04" PRId64 "-%02u-%02u (BC)", 1 - y, m, d);
    else lh_buf_printf(out, "%04" PRId64 "-%02u-%02u", y, m, d);
}

/* Fraction of a second with trailing zeros trimmed; digits = 6 (micros) or 9 (nanos). */
static void put_fraction(lh_buf *out, int64_t frac, int digits)
{
    if (frac == 0) return;
    char tmp[16];
    snprintf(tmp, sizeof tmp, "%0*" PRId64, digits, frac);
    size_t n = strlen(tmp);
    while (n > 0 && tmp[n - 1] == '0') n--;
    lh_buf_putc(out, '.');
    lh_buf_append(out, tmp, n);
}

static void put_time_of_day(lh_buf *out, int64_t units, int64_t per_second, int digits)
{
    int64_t secs = units / per_second, frac = units % per_second;
    lh_buf_printf(out, "%02" PRId64 ":%02" PRId64 ":%02" PRId64, secs / 3600, (secs / 60) % 60,
                  secs % 60);
    put_fraction(out, frac, digits);
}

/* Timestamps: v units since the epoch; per_second = 1, 1e3, 1e6 or 1e9. */
static void put_timestamp(lh_buf *out, int64_t v, int64_t per_second, const char *suffix)
{
    if (v == INT64_MAX) {
        lh_buf_puts(out, "infinity");
        return;
    }
    if (v == -INT64_MAX) {
        lh_buf_puts(out, "-infinity");
        return;
    }
    int64_t secs = floor_div(v, per_second), frac = v - secs * per_second;
    int64_t days = floor_div(secs, 86400), sod = secs - days * 86400;
    put_date_days(out, days);
    lh_buf_putc(out, ' ');
    int digits = per_second == 1000000000 ? 9 : per_second == 1000000 ? 6 : per_second == 1000 ? 3 : 0;
    put_time_of_day(out, sod * per_second + frac, per_second, digits);
    lh_buf_puts(out, suffix);
}

static void put_interval(lh_buf *out, duckdb_interval iv)
{
    size_t start = out->len;
    int32_t years = iv.months / 12, months = iv.months % 12;
    if (years) lh_buf_printf(out, "%d year%s", years, years == 1 || years == -1 ? "" : "s");
    if (months)
        lh_buf_printf(out, "%s%d month%s", out->len > start ? " " : "", months,
                      months == 1 || months == -1 ? "" : "s");
    if (iv.days)
        lh_buf_printf(out, "%s%d day%s", out->len > start ? " " : "", iv.days,
                      iv.days == 1 || iv.days == -1 ? "" : "s");
    if (iv.micros || out->len == start) {
        if (out->len > start) lh_buf_putc(out, ' ');
        int64_t us = iv.micros;
        if (us < 0) {
            lh_buf_putc(out, '-');
            us = -us;
        }
        put_time_of_day(out, us, 1000000, 6);
    }
}

static void put_uuid(lh_buf *out, duckdb_hugeint h)
{
    uint64_t hi = (uint64_t)h.upper ^ (1ULL << 63), lo = h.lower;
    lh_buf_printf(out, "%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%012" PRIx64,
                  hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff, lo >> 48, (uint64_t)(lo & 0xffffffffffffULL));
}

static void put_blob_text(lh_buf *out, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') lh_buf_putc(out, (char)c);
        else lh_buf_printf(out, "\\x%02X", c);
    }
}

static uint64_t read_uint(const void *data, duckdb_type t, idx_t row)
{
    switch (t) {
    case DUCKDB_TYPE_UTINYINT: return ((const uint8_t *)data)[row];
    case DUCKDB_TYPE_USMALLINT: return ((const uint16_t *)data)[row];
    case DUCKDB_TYPE_UINTEGER: return ((const uint32_t *)data)[row];
    default: return ((const uint64_t *)data)[row];
    }
}

/* ---- values ----------------------------------------------------------------- */

static bool row_valid(duckdb_vector vec, idx_t row)
{
    uint64_t *validity = duckdb_vector_get_validity(vec);
    return !validity || duckdb_validity_row_is_valid(validity, row);
}

/* Strings: JSON-quoted, or raw text (nested values quote strings like DuckDB). */
static void put_string(lh_buf *out, const char *p, size_t n, lh_render_mode mode, bool nested)
{
    if (mode == LH_RENDER_JSON) lh_buf_json_string(out, p, n);
    else if (nested) {
        lh_buf_putc(out, '\'');
        lh_buf_append(out, p, n);
        lh_buf_putc(out, '\'');
    } else {
        lh_buf_append(out, p, n);
    }
}

static void render(lh_buf *out, const lh_type_node *t, duckdb_vector vec, idx_t row,
                   lh_render_mode mode, const char *null_text, bool nested);

static void render_seq(lh_buf *out, const lh_type_node *child, duckdb_vector child_vec, idx_t off,
                       idx_t len, lh_render_mode mode)
{
    lh_buf_putc(out, '[');
    for (idx_t i = 0; i < len; i++) {
        if (i) lh_buf_puts(out, mode == LH_RENDER_JSON ? "," : ", ");
        render(out, child, child_vec, off + i, mode, "NULL", true);
    }
    lh_buf_putc(out, ']');
}

static void render(lh_buf *out, const lh_type_node *t, duckdb_vector vec, idx_t row,
                   lh_render_mode mode, const char *null_text, bool nested)
{
    bool json = mode == LH_RENDER_JSON;
    if (!row_valid(vec, row)) {
        lh_buf_puts(out, json ? "null" : null_text);
        return;
    }
    void *data = duckdb_vector_get_data(vec);
    switch (t->id) {
    case DUCKDB_TYPE_BOOLEAN: lh_buf_puts(out, ((bool *)data)[row] ? "true" : "false"); break;
    case DUCKDB_TYPE_TINYINT: lh_buf_printf(out, "%d", ((int8_t *)data)[row]); break;
    case DUCKDB_TYPE_SMALLINT: lh_buf_printf(out, "%d", ((int16_t *)data)[row]); break;
    case DUCKDB_TYPE_INTEGER: lh_buf_printf(out, "%" PRId32, ((int32_t *)data)[row]); break;
    case DUCKDB_TYPE_BIGINT: lh_buf_printf(out, "%" PRId64, ((int64_t *)data)[row]); break;
    case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_USMALLINT:
    case DUCKDB_TYPE_UINTEGER:
    case DUCKDB_TYPE_UBIGINT: lh_buf_printf(out, "%" PRIu64, read_uint(data, t->id, row)); break;
    case DUCKDB_TYPE_HUGEINT: put_i128(out, hugeint_value(((duckdb_hugeint *)data)[row])); break;
    case DUCKDB_TYPE_UHUGEINT: {
        duckdb_uhugeint u = ((duckdb_uhugeint *)data)[row];
        put_u128(out, ((unsigned __int128)u.upper << 64) | u.lower);
        break;
    }
    case DUCKDB_TYPE_FLOAT: put_float(out, ((float *)data)[row], mode); break;
    case DUCKDB_TYPE_DOUBLE: put_double(out, ((double *)data)[row], mode); break;
    case DUCKDB_TYPE_DECIMAL: {
        __int128 v;
        switch (t->internal) {
        case DUCKDB_TYPE_SMALLINT: v = ((int16_t *)data)[row]; break;
        case DUCKDB_TYPE_INTEGER: v = ((int32_t *)data)[row]; break;
        case DUCKDB_TYPE_BIGINT: v = ((int64_t *)data)[row]; break;
        default: v = hugeint_value(((duckdb_hugeint *)data)[row]);
        }
        put_decimal(out, v, t->scale);
        break;
    }
    case DUCKDB_TYPE_VARCHAR:
    case DUCKDB_TYPE_BLOB: {
        duckdb_string_t *s = &((duckdb_string_t *)data)[row];
        const char *p = duckdb_string_t_data(s);
        size_t n = duckdb_string_t_length(*s);
        if (t->id == DUCKDB_TYPE_VARCHAR) {
            put_string(out, p, n, mode, nested);
        } else {
            lh_buf text = {0};
            put_blob_text(&text, p, n);
            put_string(out, text.data ? text.data : "", text.len, mode, nested);
            lh_buf_free(&text);
        }
        break;
    }
    case DUCKDB_TYPE_ENUM: {
        uint64_t idx = read_uint(data, t->internal, row);
        const char *v = idx < t->array_size ? t->child_names[idx] : "?";
        put_string(out, v, strlen(v), mode, nested);
        break;
    }
    case DUCKDB_TYPE_LIST: {
        duckdb_list_entry e = ((duckdb_list_entry *)data)[row];
        render_seq(out, &t->children[0], duckdb_list_vector_get_child(vec), e.offset, e.length,
                   mode);
        break;
    }
    case DUCKDB_TYPE_ARRAY:
        render_seq(out, &t->children[0], duckdb_array_vector_get_child(vec), row * t->array_size,
                   t->array_size, mode);
        break;
    case DUCKDB_TYPE_STRUCT:
        lh_buf_putc(out, '{');
        for (size_t i = 0; i < t->n_children; i++) {
            if (i) lh_buf_puts(out, json ? "," : ", ");
            const char *name = t->child_names[i];
            if (json) lh_buf_json_string(out, name, strlen(name));
            else lh_buf_printf(out, "'%s'", name);
            lh_buf_puts(out, json ? ":" : ": ");
            render(out, &t->children[i], duckdb_struct_vector_get_child(vec, i), row, mode, "NULL",
                   true);
        }
        lh_buf_putc(out, '}');
        break;
    case DUCKDB_TYPE_MAP: {
        duckdb_list_entry e = ((duckdb_list_entry *)data)[row];
        duckdb_vector entries = duckdb_list_vector_get_child(vec);
        duckdb_vector keys = duckdb_struct_vector_get_child(entries, 0);
        duckdb_vector values = duckdb_struct_vector_get_child(entries, 1);
        lh_buf_putc(out, '{');
        for (idx_t i = 0; i < e.length; i++) {
            if (i) lh_buf_puts(out, json ? "," : ", ");
            if (json) { /* JSON keys must be strings: render the key as text, then quote */
                lh_buf key = {0};
                render(&key, &t->children[0], keys, e.offset + i, LH_RENDER_TEXT, "NULL", false);
                lh_buf_json_string(out, key.data ? key.data : "", key.len);
                lh_buf_free(&key);
                lh_buf_putc(out, ':');
            } else {
                render(out, &t->children[0], keys, e.offset + i, mode, "NULL", true);
                lh_buf_putc(out, '=');
            }
            render(out, &t->children[1], values, e.offset + i, mode, "NULL", true);
        }
        lh_buf_putc(out, '}');
        break;
    }
    case DUCKDB_TYPE_UNION: {
        duckdb_vector tags = duckdb_struct_vector_get_child(vec, 0);
        uint8_t tag = ((uint8_t *)duckdb_vector_get_data(tags))[row];
        if (tag < t->n_children)
            render(out, &t->children[tag], duckdb_struct_vector_get_child(vec, (idx_t)tag + 1), row,
                   mode, null_text, nested);
        else
            lh_buf_puts(out, json ? "null" : null_text);
        break;
    }
    case DUCKDB_TYPE_DATE: {
        int32_t days = ((duckdb_date *)data)[row].days;
        lh_buf text = {0};
        if (days == INT32_MAX) lh_buf_puts(&text, "infinity");
        else if (days == -INT32_MAX) lh_buf_puts(&text, "-infinity");
        else put_date_days(&text, days);
        put_string(out, text.data, text.len, mode, false);
        lh_buf_free(&text);
        break;
    }
    case DUCKDB_TYPE_TIME:
    case DUCKDB_TYPE_TIME_NS:
    case DUCKDB_TYPE_TIME_TZ:
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
    case DUCKDB_TYPE_INTERVAL:
    case DUCKDB_TYPE_UUID: {
        lh_buf text = {0};
        int64_t v = ((int64_t *)data)[row];
        switch (t->id) {
        case DUCKDB_TYPE_TIME: put_time_of_day(&text, v, 1000000, 6); break;
        case DUCKDB_TYPE_TIME_NS: put_time_of_day(&text, v, 1000000000, 9); break;
        case DUCKDB_TYPE_TIME_TZ: {
            duckdb_time_tz_struct tz = duckdb_from_time_tz(((duckdb_time_tz *)data)[row]);
            int64_t us = ((int64_t)tz.time.hour * 3600 + tz.time.min * 60 + tz.time.sec) * 1000000 +
                         tz.time.micros;
            put_time_of_day(&text, us, 1000000, 6);
            int32_t off = tz.offset;
            lh_buf_putc(&text, off < 0 ? '-' : '+');
            if (off < 0) off = -off;
            lh_buf_printf(&text, "%02d", off / 3600);
            if (off % 3600) lh_buf_printf(&text, ":%02d", (off / 60) % 60);
            break;
        }
        case DUCKDB_TYPE_TIMESTAMP: put_timestamp(&text, v, 1000000, ""); break;
        case DUCKDB_TYPE_TIMESTAMP_S: put_timestamp(&text, v, 1, ""); break;
        case DUCKDB_TYPE_TIMESTAMP_MS: put_timestamp(&text, v, 1000, ""); break;
        case DUCKDB_TYPE_TIMESTAMP_NS: put_timestamp(&text, v, 1000000000, ""); break;
        case DUCKDB_TYPE_TIMESTAMP_TZ: put_timestamp(&text, v, 1000000, "+00"); break;
        case DUCKDB_TYPE_INTERVAL: put_interval(&text, ((duckdb_interval *)data)[row]); break;
        default: put_uuid(&text, ((duckdb_hugeint *)data)[row]); break;
        }
        put_string(out, text.data, text.len, mode, nested);
        lh_buf_free(&text);
        break;
    }
    default: {
        char marker[64];
        snprintf(marker, sizeof marker, "<%s value>", t->name);
        put_string(out, marker, strlen(marker), mode, nested);
    }
    }
}

void lh_render_value(lh_buf *out, const lh_type_node *t, duckdb_vector vec, idx_t row,
                     lh_render_mode mode, const char *null_text)
{
    render(out, t, vec, row, mode, null_text, false);
}

/* ---- result writers ------------------------------------------------------- */

bool lh_result_format_parse(const char *s, lh_result_format *out)
{
    static const struct {
        const char *name;
        lh_result_format f;
    } names[] = {{"table", LH_FORMAT_TABLE}, {"json", LH_FORMAT_JSON},
                 {"ndjson", LH_FORMAT_NDJSON}, {"csv", LH_FORMAT_CSV}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].f;
            return true;
        }
    }
    return false;
}

const char *lh_result_format_content_type(lh_result_format f)
{
    switch (f) {
    case LH_FORMAT_JSON: return "application/json";
    case LH_FORMAT_NDJSON: return "application/x-ndjson";
    case LH_FORMAT_CSV: return "text/csv; charset=utf-8";
    default: return "text/plain; charset=utf-8";
    }
}

enum { W_HEADER, W_ROWS, W_FOOTER, W_DONE };

struct lh_result_writer {
    lh_query_cursor *cursor;
    lh_result_format format;
    long long max_rows;
    long long skip; /* rows still to be read and dropped (an offset) */
    long long rows;
    long long bytes; /* rendered so far (not counted: the table format's buffered cells) */
    bool truncated;
    int state;
    /* table format: buffered cells, row-major, n_cols per row */
    char **cells;
    size_t n_cells, cap_cells;
};

lh_result_writer *lh_result_writer_new(lh_query_cursor *c, lh_result_format f, long long max_rows)
{
    lh_result_writer *w = lh_xcalloc(1, sizeof *w);
    w->cursor = c;
    w->format = f;
    w->max_rows = max_rows;
    return w;
}

void lh_result_writer_skip(lh_result_writer *w, long long rows)
{
    w->skip = rows > 0 ? rows : 0;
}

void lh_result_writer_free(lh_result_writer *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n_cells; i++) free(w->cells[i]);
    free(w->cells);
    free(w);
}

long long lh_result_writer_rows(const lh_result_writer *w)
{
    return w->rows;
}

bool lh_result_writer_truncated(const lh_result_writer *w)
{
    return w->truncated;
}

static void csv_field(lh_buf *out, const char *s, size_t n)
{
    bool quote = n == 0 ? false : strpbrk(s, ",\"\r\n") != NULL || s[0] == ' ' || s[n - 1] == ' ';
    if (!quote) {
        lh_buf_append(out, s, n);
        return;
    }
    lh_buf_putc(out, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') lh_buf_putc(out, '"');
        lh_buf_putc(out, s[i]);
    }
    lh_buf_putc(out, '"');
}

static void write_header(lh_result_writer *w, lh_buf *out)
{
    size_t n = lh_query_column_count(w->cursor);
    if (w->format == LH_FORMAT_JSON) {
        lh_buf_puts(out, "{\"columns\":[");
        for (size_t i = 0; i < n; i++) {
            const char *name = lh_query_column_name(w->cursor, i);
            const char *type = lh_query_column_type(w->cursor, i);
            lh_buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
            lh_buf_json_string(out, name, strlen(name));
            lh_buf_puts(out, ",\"type\":");
            lh_buf_json_string(out, type, strlen(type));
            lh_buf_putc(out, '}');
        }
        lh_buf_puts(out, "],\"rows\":[");
    } else if (w->format == LH_FORMAT_CSV) {
        for (size_t i = 0; i < n; i++) {
            const char *name = lh_query_column_name(w->cursor, i);
            if (i) lh_buf_putc(out, ',');
            csv_field(out, name, strlen(name));
        }
        lh_buf_puts(out, "\r\n");
    }
}

static void table_push(lh_result_writer *w, char *cell)
{
    if (w->n_cells == w->cap_cells) {
        w->cap_cells = w->cap_cells ? w->cap_cells * 2 : 256;
        w->cells = lh_xrealloc(w->cells, w->cap_cells * sizeof *w->cells);
    }
    w->cells[w->n_cells++] = cell;
}

static void write_row(lh_result_writer *w, lh_buf *out, duckdb_data_chunk chunk, idx_t row)
{
    size_t n = lh_query_column_count(w->cursor);
    const lh_type_node *types = lh_query_cursor_types(w->cursor);
    lh_buf cell = {0};
    switch (w->format) {
    case LH_FORMAT_JSON:
        lh_buf_puts(out, w->rows ? ",[" : "[");
        for (size_t i = 0; i < n; i++) {
            if (i) lh_buf_putc(out, ',');
            lh_render_value(out, &types[i], duckdb_data_chunk_get_vector(chunk, i), row,
                            LH_RENDER_JSON, "null");
        }
        lh_buf_putc(out, ']');
        break;
    case LH_FORMAT_NDJSON:
        lh_buf_putc(out, '{');
        for (size_t i = 0; i < n; i++) {
            const char *name = lh_query_column_name(w->cursor, i);
            if (i) lh_buf_putc(out, ',');
            lh_buf_json_string(out, name, strlen(name));
            lh_buf_putc(out, ':');
            lh_render_value(out, &types[i], duckdb_data_chunk_get_vector(chunk, i), row,
                            LH_RENDER_JSON, "null");
        }
        lh_buf_puts(out, "}\n");
        break;
    case LH_FORMAT_CSV:
        for (size_t i = 0; i < n; i++) {
            if (i) lh_buf_putc(out, ',');
            lh_buf_reset(&cell);
            lh_render_value(&cell, &types[i], duckdb_data_chunk_get_vector(chunk, i), row,
                            LH_RENDER_TEXT, "");
            csv_field(out, cell.data ? cell.data : "", cell.len);
        }
        lh_buf_puts(out, "\r\n");
        break;
    case LH_FORMAT_TABLE:
        for (size_t i = 0; i < n; i++) {
            lh_buf_reset(&cell);
            lh_render_value(&cell, &types[i], duckdb_data_chunk_get_vector(chunk, i), row,
                            LH_RENDER_TEXT, "NULL");
            table_push(w, lh_xstrdup(cell.data ? cell.data : ""));
        }
        break;
    }
    lh_buf_free(&cell);
}

/* Display width of UTF-8 text, counting code points (good enough for a terminal table). */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++) w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

enum { MAX_CELL_WIDTH = 48 };

/* Appends s clipped to MAX_CELL_WIDTH code points (with an ellipsis), with
 * control characters shown as spaces; returns the width written. */
static size_t put_cell(lh_buf *out, const char *s)
{
    size_t w = 0;
    bool clip = text_width(s) > MAX_CELL_WIDTH;
    while (*s) {
        size_t len = lh_utf8_char_len(s, strlen(s));
        if (len == 0) len = 1;
        if (clip && w == MAX_CELL_WIDTH - 1) break;
        if ((unsigned char)*s < 0x20) lh_buf_putc(out, ' ');
        else lh_buf_append(out, s, len);
        s += len;
        w++;
    }
    if (clip) {
        lh_buf_puts(out, "…");
        w++;
    }
    return w;
}

static bool right_aligned(duckdb_type t)
{
    switch (t) {
    case DUCKDB_TYPE_TINYINT: case DUCKDB_TYPE_SMALLINT: case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_BIGINT: case DUCKDB_TYPE_UTINYINT: case DUCKDB_TYPE_USMALLINT:
    case DUCKDB_TYPE_UINTEGER: case DUCKDB_TYPE_UBIGINT: case DUCKDB_TYPE_HUGEINT:
    case DUCKDB_TYPE_UHUGEINT: case DUCKDB_TYPE_FLOAT: case DUCKDB_TYPE_DOUBLE:
    case DUCKDB_TYPE_DECIMAL: return true;
    default: return false;
    }
}

static void table_rule(lh_buf *out, const size_t *width, size_t n, const char *l, const char *m,
                       const char *r)
{
    lh_buf_puts(out, l);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < width[i] + 2; k++) lh_buf_puts(out, "─");
        lh_buf_puts(out, i + 1 < n ? m : r);
    }
    lh_buf_putc(out, '\n');
}

static void table_line(lh_buf *out, const char *const *cells, const size_t *width, size_t n,
                       const bool *right)
{
    lh_buf_puts(out, "│");
    for (size_t i = 0; i < n; i++) {
        size_t w = text_width(cells[i]);
        if (w > MAX_CELL_WIDTH) w = MAX_CELL_WIDTH;
        size_t pad = width[i] - w;
        lh_buf_putc(out, ' ');
        if (right && right[i])
            for (size_t k = 0; k < pad; k++) lh_buf_putc(out, ' ');
        put_cell(out, cells[i]);
        if (!right || !right[i])
            for (size_t k = 0; k < pad; k++) lh_buf_putc(out, ' ');
        lh_buf_puts(out, " │");
    }
    lh_buf_putc(out, '\n');
}

static void write_table(lh_result_writer *w, lh_buf *out)
{
    size_t n = lh_query_column_count(w->cursor);
    if (n == 0) return;
    const lh_type_node *types = lh_query_cursor_types(w->cursor);
    size_t *width = lh_xcalloc(n, sizeof *width);
    bool *right = lh_xcalloc(n, sizeof *right);
    const char **names = lh_xcalloc(n, sizeof *names);
    const char **tnames = lh_xcalloc(n, sizeof *tnames);
    for (size_t i = 0; i < n; i++) {
        names[i] = lh_query_column_name(w->cursor, i);
        tnames[i] = types[i].name;
        right[i] = right_aligned(types[i].id);
        width[i] = text_width(names[i]);
        if (text_width(tnames[i]) > width[i]) width[i] = text_width(tnames[i]);
    }
    for (size_t c = 0; c < w->n_cells; c++) {
        size_t tw = text_width(w->cells[c]);
        if (tw > width[c % n]) width[c % n] = tw;
    }
    for (size_t i = 0; i < n; i++)
        if (width[i] > MAX_CELL_WIDTH) width[i] = MAX_CELL_WIDTH;
    table_rule(out, width, n, "┌", "┬", "┐");
    table_line(out, names, width, n, NULL);
    table_line(out, tnames, width, n, NULL);
    table_rule(out, width, n, "├", "┼", "┤");
    for (size_t r = 0; r * n < w->n_cells; r++)
        table_line(out, (const char *const *)&w->cells[r * n], width, n, right);
    table_rule(out, width, n, "└", "┴", "┘");
    lh_buf_printf(out, "%lld row%s%s\n", w->rows, w->rows == 1 ? "" : "s",
                  w->truncated ? " (truncated: raise --max-rows to see more)" : "");
    free(width);
    free(right);
    free(names);
    free(tnames);
}

lh_code lh_result_writer_next(lh_result_writer *w, lh_buf *out, bool *done, lh_err *err)
{
    *done = false;
    if (w->state == W_HEADER) {
        write_header(w, out);
        w->state = W_ROWS;
        return LH_OK;
    }
    if (w->state == W_ROWS) {
        duckdb_data_chunk chunk;
        lh_code rc = lh_query_cursor_fetch(w->cursor, &chunk, err);
        if (rc) return rc;
        if (chunk) {
            idx_t size = duckdb_data_chunk_get_size(chunk);
            long long max_bytes = lh_query_cursor_max_bytes(w->cursor);
            idx_t first = w->skip < (long long)size ? (idx_t)w->skip : size;
            w->skip -= (long long)first;
            for (idx_t r = first; r < size; r++) {
                if (w->max_rows > 0 && w->rows >= w->max_rows) {
                    w->truncated = true;
                    break;
                }
                size_t before = out->len;
                write_row(w, out, chunk, r);
                w->bytes += (long long)(out->len - before);
                w->rows++;
                if (max_bytes > 0 && w->bytes > max_bytes) {
                    out->len = before; /* what stays ends at the last complete row */
                    duckdb_destroy_data_chunk(&chunk);
                    return lh_err_set(err, LH_ETOOBIG,
                                      "the result is larger than query.max_result_bytes (%lld bytes) after %lld "
                                      "rows; select fewer rows or columns, or ask for format parquet",
                                      max_bytes, w->rows - 1);
                }
            }
            duckdb_destroy_data_chunk(&chunk);
            if (!w->truncated) return LH_OK;
        }
        w->state = W_FOOTER;
    }
    if (w->state == W_FOOTER) {
        if (w->format == LH_FORMAT_JSON)
            lh_buf_printf(out, "],\"row_count\":%lld,\"truncated\":%s}\n", w->rows,
                          w->truncated ? "true" : "false");
        else if (w->format == LH_FORMAT_TABLE)
            write_table(w, out);
        w->state = W_DONE;
    }
    *done = true;
    return LH_OK;
}
