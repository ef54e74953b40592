/*
 * sheet.c — spreadsheets (.xlsx, .ods) to NDJSON rows with declared column
 * types, for DuckDB's read_json to turn into Parquet.
 *
 * No maintained Debian C library reads both formats, so the archive is
 * opened with libzip and the XML parts are parsed here with expat, streaming
 * (one row held at a time; xlsx shared strings and styles are held whole, as
 * every cell may point at them). Every sheet's rows go to one dataset with a
 * "sheet" column first: one ingest is one version of one dataset, and sheets
 * of one workbook usually share columns (same names unite, others are NULL).
 * A sheet's first non-empty row names its columns when every cell in it is
 * text; otherwise columns are column0, column1 ... (by position).
 *
 * Types: a column is BOOLEAN, BIGINT, DOUBLE, DATE, TIMESTAMP or TIME when all
 * its cells are (integers with reals give DOUBLE, dates with timestamps give
 * TIMESTAMP), else VARCHAR (each cell as it reads). xlsx dates are numbers
 * with a date style (built-in formats 14-22, 27-36, 45-47, 50-58, or a custom
 * format with y/d/h/s outside quotes and brackets), in the 1900 or 1904 date
 * system; ods cells say their type.
 *
 * Hostile archives meet limits (lh_ingest.h): bytes inflated per part and in
 * all, the inflation ratio of a part, cells, columns, XML nesting; a DTD is
 * refused (spreadsheets never have one; it is how entity bombs start).
 */
#include "internal.h"

#include "lakehouse/lh_json.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_query.h"

#include <expat.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zip.h>

typedef enum { CT_NONE, CT_BOOL, CT_INT, CT_DOUBLE, CT_DATE, CT_TIMESTAMP, CT_TIME, CT_TEXT } cell_type;

static const char *const duck_types[] = {"VARCHAR", "BOOLEAN", "BIGINT", "DOUBLE", "DATE", "TIMESTAMP", "TIME", "VARCHAR"};

/* The type a column holding both a and b takes. */
static cell_type merge_type(cell_type a, cell_type b)
{
    if (a == CT_NONE || a == b) return b;
    if (b == CT_NONE) return a;
    if ((a == CT_INT && b == CT_DOUBLE) || (a == CT_DOUBLE && b == CT_INT)) return CT_DOUBLE;
    if ((a == CT_DATE && b == CT_TIMESTAMP) || (a == CT_TIMESTAMP && b == CT_DATE)) return CT_TIMESTAMP;
    return CT_TEXT;
}

typedef enum { P_SST, P_STYLES, P_WORKBOOK, P_RELS, P_XLSX_SHEET, P_ODS } part_kind;

typedef struct cell {
    uint32_t col;
    cell_type type;
    size_t off, len; /* the value's text in the row buffer */
} cell;

typedef struct column {
    char *name;
    cell_type type;
    uint64_t sheet_seq; /* the last sheet that named it (duplicate names in one header) */
} column;

typedef struct xlsx_sheet {
    char *name, *rid, *target;
} xlsx_sheet;

typedef struct ctx {
    const char *file; /* the name the user knows, for messages */
    lh_err *err;
    lh_code rc;
    XML_Parser parser;
    const char *part; /* the part being parsed, for messages */
    part_kind kind;
    int depth;
    /* output */
    FILE *out;
    lh_buf line;
    column *cols;
    size_t ncols, capcols;
    uint64_t cells_total, rows_total, out_bytes;
    /* the current sheet */
    char *sheet_name;
    uint64_t sheet_seq;
    uint32_t *map; /* sheet column -> global column, UINT32_MAX: none yet */
    size_t nmap;
    bool header_done;
    /* the current row */
    cell *cells;
    size_t ncells, capcells;
    lh_buf vals;
    uint64_t row_repeat;
    /* the current cell */
    lh_buf text;
    bool collecting;
    int skip_depth;   /* inside <rPh> (xlsx) or <office:annotation> (ods) */
    uint32_t next_col; /* where a cell without a reference goes */
    char cell_t[16];   /* xlsx t=, ods value-type */
    long cell_style;
    char *cell_value;  /* ods office:value / date-value / time-value / boolean-value */
    uint64_t cell_repeat;
    int paragraphs;
    /* xlsx shared parts */
    lh_buf sst;
    size_t *sst_off; /* pairs: offset, length */
    size_t nsst, capsst;
    bool in_si;
    long *fmt_ids;   /* custom numFmt ids and their kinds */
    unsigned char *fmt_kinds;
    size_t nfmt, capfmt;
    long *xf_fmt;    /* cellXfs: numFmtId per style index */
    size_t nxf, capxf;
    bool in_xfs;
    bool date1904;
    xlsx_sheet *sheets;
    size_t nsheets, capsheets;
} ctx;

/* ---- errors ---- */

static void fail(ctx *c, lh_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(ctx *c, lh_code code, const char *fmt, ...)
{
    if (c->rc) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->rc = lh_err_set(c->err, code, "%s: %s", c->file, msg);
    if (c->parser) XML_StopParser(c->parser, XML_FALSE);
}

/* ---- XML helpers ---- */

static const char *local_name(const char *n)
{
    const char *bar = strrchr(n, '|');
    return bar ? bar + 1 : n;
}

static const char *attr(const char **atts, const char *name)
{
    for (size_t i = 0; atts[i]; i += 2)
        if (!strcmp(local_name(atts[i]), name)) return atts[i + 1];
    return NULL;
}

static bool is(const char *n, const char *want)
{
    return !strcmp(n, want);
}

/* ---- columns and rows ---- */

static uint32_t column_named(ctx *c, const char *name)
{
    for (size_t i = 0; i < c->ncols; i++)
        if (!strcasecmp(c->cols[i].name, name)) return (uint32_t)i;
    if (c->ncols >= LH_INGEST_SHEET_COLUMNS_MAX) {
        fail(c, LH_ETOOBIG, "more than %d distinct columns (LH_INGEST_SHEET_COLUMNS_MAX)", LH_INGEST_SHEET_COLUMNS_MAX);
        return UINT32_MAX;
    }
    if (c->ncols == c->capcols) {
        c->capcols = c->capcols ? c->capcols * 2 : 16;
        c->cols = lh_xrealloc(c->cols, c->capcols * sizeof *c->cols);
    }
    c->cols[c->ncols] = (column){lh_xstrdup(name), CT_NONE, 0};
    return (uint32_t)c->ncols++;
}

/* Maps sheet column col to the global column called name (made unique
 * within the sheet: "a", "a_1", ...). */
static void map_column(ctx *c, uint32_t col, const char *name)
{
    if (col >= c->nmap) {
        size_t n = c->nmap ? c->nmap : 16;
        while (n <= col) n *= 2;
        c->map = lh_xrealloc(c->map, n * sizeof *c->map);
        for (size_t i = c->nmap; i < n; i++) c->map[i] = UINT32_MAX;
        c->nmap = n;
    }
    char buf[300];
    snprintf(buf, sizeof buf, "%.200s", *name ? name : "column");
    if (!*name) snprintf(buf, sizeof buf, "column%u", col);
    for (unsigned k = 1;; k++) {
        uint32_t g = column_named(c, buf);
        if (g == UINT32_MAX) return;
        if (c->cols[g].sheet_seq != c->sheet_seq) {
            c->cols[g].sheet_seq = c->sheet_seq;
            c->map[col] = g;
            return;
        }
        snprintf(buf, sizeof buf, "%.200s_%u", *name ? name : "column", k);
    }
}

static void sheet_begin(ctx *c, const char *name)
{
    free(c->sheet_name);
    c->sheet_name = lh_xstrdup(name && *name ? name : "sheet");
    c->sheet_seq++;
    c->header_done = false;
    for (size_t i = 0; i < c->nmap; i++) c->map[i] = UINT32_MAX;
    if (c->ncols == 0) column_named(c, "sheet");
    c->cols[0].sheet_seq = c->sheet_seq; /* "sheet" is taken: a header cell "sheet" becomes sheet_1 */
    c->next_col = 0;
}

static void row_begin(ctx *c)
{
    c->ncells = 0;
    lh_buf_reset(&c->vals);
    c->next_col = 0;
}

static void put_cell(ctx *c, uint32_t col, cell_type type, const char *val, size_t len)
{
    if (c->rc) return;
    if (col >= LH_INGEST_SHEET_COLUMNS_MAX) {
        fail(c, LH_ETOOBIG, "%s: a cell beyond column %d (LH_INGEST_SHEET_COLUMNS_MAX)", c->part,
             LH_INGEST_SHEET_COLUMNS_MAX);
        return;
    }
    if (c->ncells && col <= c->cells[c->ncells - 1].col) {
        fail(c, LH_EINVAL, "%s: cells of a row out of order (column %u after %u)", c->part, col,
             c->cells[c->ncells - 1].col);
        return;
    }
    if (c->vals.len + len > LH_INGEST_SHEET_ROW_BYTES_MAX) {
        fail(c, LH_ETOOBIG, "%s: a row longer than %d MiB (LH_INGEST_SHEET_ROW_BYTES_MAX)", c->part,
             LH_INGEST_SHEET_ROW_BYTES_MAX >> 20);
        return;
    }
    if (++c->cells_total > LH_INGEST_SHEET_CELLS_MAX) {
        fail(c, LH_ETOOBIG, "more than %d cells (LH_INGEST_SHEET_CELLS_MAX)", LH_INGEST_SHEET_CELLS_MAX);
        return;
    }
    if (c->ncells == c->capcells) {
        c->capcells = c->capcells ? c->capcells * 2 : 32;
        c->cells = lh_xrealloc(c->cells, c->capcells * sizeof *c->cells);
    }
    c->cells[c->ncells++] = (cell){col, type, c->vals.len, len};
    lh_buf_append(&c->vals, val, len);
}

/* Writes the row (or takes it as the sheet's header), repeat times. */
static void row_end(ctx *c, uint64_t repeat)
{
    if (c->rc || c->ncells == 0) return;
    if (!c->header_done) {
        c->header_done = true;
        bool header = true;
        for (size_t i = 0; i < c->ncells; i++) header &= c->cells[i].type == CT_TEXT;
        if (header) {
            for (size_t i = 0; i < c->ncells && !c->rc; i++) {
                char *name = lh_xstrndup(c->vals.data + c->cells[i].off, c->cells[i].len);
                map_column(c, c->cells[i].col, name);
                free(name);
            }
            if (--repeat == 0) return; /* a repeated header row: the copies are data */
        }
    }
    lh_buf_reset(&c->line);
    lh_buf_puts(&c->line, "{\"sheet\":");
    lh_buf_json_string(&c->line, c->sheet_name, strlen(c->sheet_name));
    for (size_t i = 0; i < c->ncells && !c->rc; i++) {
        cell *x = &c->cells[i];
        if (x->col >= c->nmap || c->map[x->col] == UINT32_MAX) map_column(c, x->col, "");
        if (c->rc) return;
        column *col = &c->cols[c->map[x->col]];
        col->type = merge_type(col->type, x->type);
        lh_buf_putc(&c->line, ',');
        lh_buf_json_string(&c->line, col->name, strlen(col->name));
        lh_buf_putc(&c->line, ':');
        const char *v = c->vals.data + x->off;
        if (x->type == CT_INT || x->type == CT_DOUBLE || x->type == CT_BOOL) lh_buf_append(&c->line, v, x->len);
        else lh_buf_json_string(&c->line, v, x->len);
    }
    lh_buf_puts(&c->line, "}\n");
    /* a repeated row (ods) counts its copies before one is written */
    if (repeat > UINT32_MAX || c->ncells * (repeat - 1) > (uint64_t)LH_INGEST_SHEET_CELLS_MAX - c->cells_total) {
        fail(c, LH_ETOOBIG, "more than %d cells (LH_INGEST_SHEET_CELLS_MAX)", LH_INGEST_SHEET_CELLS_MAX);
        return;
    }
    c->cells_total += c->ncells * (repeat - 1);
    if (c->line.len * repeat > (uint64_t)LH_INGEST_SHEET_ROWS_BYTES_MAX - c->out_bytes) {
        fail(c, LH_ETOOBIG, "the rows come to more than %lld MiB (LH_INGEST_SHEET_ROWS_BYTES_MAX)",
             LH_INGEST_SHEET_ROWS_BYTES_MAX >> 20);
        return;
    }
    c->out_bytes += c->line.len * repeat;
    for (uint64_t r = 0; r < repeat && !c->rc; r++) {
        c->rows_total++;
        if (c->out && fwrite(c->line.data, 1, c->line.len, c->out) != c->line.len)
            fail(c, LH_EIO, "cannot write the converted rows");
    }
}

/* Appends to the cell's text, within LH_INGEST_SHEET_CELL_BYTES_MAX. */
static void cell_text(ctx *c, const char *s, size_t len)
{
    if (c->text.len + len > LH_INGEST_SHEET_CELL_BYTES_MAX) {
        fail(c, LH_ETOOBIG, "%s: a cell longer than %d MiB (LH_INGEST_SHEET_CELL_BYTES_MAX)", c->part,
             LH_INGEST_SHEET_CELL_BYTES_MAX >> 20);
        return;
    }
    lh_buf_append(&c->text, s, len);
}

/* ---- values ---- */

/* A number from text (all of it, finite) as JSON: integers up to 2^53 as
 * integers, others in shortest form. False if it is not one. */
static bool number_text(const char *s, char out[LH_JSON_REAL_MAX], cell_type *type, double *value)
{
    while (*s == ' ') s++;
    if (!*s) return false;
    char *end;
    double d = strtod(s, &end);
    while (*end == ' ') end++;
    if (*end || !isfinite(d) || strpbrk(s, "xXnN")) return false; /* no hex floats, inf or nan */
    *value = d;
    if (d == floor(d) && fabs(d) <= 9007199254740992.0) {
        snprintf(out, LH_JSON_REAL_MAX, "%lld", (long long)d);
        *type = CT_INT;
    } else {
        lh_json_real(d, out);
        *type = CT_DOUBLE;
    }
    return true;
}

/* Days since 1970-01-01 to a civil date (H. Hinnant's algorithm). */
static void civil(long long z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long yy = (long long)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (*m <= 2));
}

enum { DK_NONE, DK_DATE, DK_DATETIME, DK_TIME };

/* An Excel serial date in a cell styled kind, as text; false if out of range. */
static bool serial_text(const ctx *c, double serial, int kind, char *out, size_t cap, cell_type *type)
{
    if (serial < 0 || serial > 2958465.0) return false; /* before the epoch or after 9999-12-31 */
    long long days = (long long)floor(serial);
    long long secs = llround((serial - (double)days) * 86400.0);
    if (secs >= 86400) days++, secs -= 86400;
    if (kind == DK_TIME && days == 0) {
        snprintf(out, cap, "%02lld:%02lld:%02lld", secs / 3600, secs / 60 % 60, secs % 60);
        *type = CT_TIME;
        return true;
    }
    long long unix_days; /* 1970-01-01 is serial 25569 (1900 system), 24107 (1904) */
    if (c->date1904) unix_days = days - 24107;
    else unix_days = days - 25569 + (days < 61); /* Excel counts a 29 February 1900 that never was */
    if (!c->date1904 && days == 60) unix_days = -25509; /* that day: read as 28 February */
    int y;
    unsigned m, d;
    civil(unix_days, &y, &m, &d);
    if (kind == DK_DATE || (kind == DK_TIME && secs == 0)) {
        snprintf(out, cap, "%04d-%02u-%02u", y, m, d);
        *type = CT_DATE;
    } else {
        snprintf(out, cap, "%04d-%02u-%02u %02lld:%02lld:%02lld", y, m, d, secs / 3600, secs / 60 % 60, secs % 60);
        *type = CT_TIMESTAMP;
    }
    return true;
}

/* What a number format shows: a date, a date and time, a time, or none. */
static int format_kind(const char *code)
{
    bool date = false, time = false;
    for (const char *p = code; *p; p++) {
        if (*p == '"') { /* literal text */
            while (p[1] && p[1] != '"') p++;
            if (p[1]) p++;
        } else if (*p == '[') { /* colours, locales, conditions; [h] [mm] [ss] are elapsed time */
            const char *close = strchr(p, ']');
            if (!close) break;
            if (strchr("hHmMsS", p[1])) time = true;
            p = close;
        } else if (*p == '\\' || *p == '_' || *p == '*') {
            if (p[1]) p++;
        } else if (strchr("yYdD", *p)) {
            date = true;
        } else if (strchr("hHsS", *p)) {
            time = true;
        } else if (!strncasecmp(p, "General", 7)) {
            p += 6;
        }
    }
    return date && time ? DK_DATETIME : date ? DK_DATE : time ? DK_TIME : DK_NONE;
}

static int builtin_kind(long id)
{
    if ((id >= 14 && id <= 17) || (id >= 27 && id <= 31) || (id >= 34 && id <= 36) || (id >= 50 && id <= 58))
        return DK_DATE;
    if (id == 22) return DK_DATETIME;
    if ((id >= 18 && id <= 21) || (id >= 45 && id <= 47) || id == 32 || id == 33) return DK_TIME;
    return DK_NONE;
}

static int style_kind(const ctx *c, long style)
{
    if (style < 0 || (size_t)style >= c->nxf) return DK_NONE;
    long id = c->xf_fmt[style];
    for (size_t i = 0; i < c->nfmt; i++)
        if (c->fmt_ids[i] == id) return c->fmt_kinds[i];
    return builtin_kind(id);
}

/* ISO 8601 date or date-time text ("2024-01-05", "2024-01-05T10:30:00.5"): the
 * DuckDB literal and its type; false if it is neither. */
static bool iso_text(const char *s, char *out, size_t cap, cell_type *type)
{
    int y, mo, d, h, mi, n = 0;
    double sec;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10 || mo < 1 || mo > 12 || d < 1 || d > 31)
        return false;
    if (!s[10]) {
        snprintf(out, cap, "%04d-%02d-%02d", y, mo, d);
        *type = CT_DATE;
        return true;
    }
    int m2 = 0;
    if (s[10] != 'T' || sscanf(s + 11, "%2d:%2d:%lf%n", &h, &mi, &sec, &m2) != 3 || s[11 + m2] || h > 23 || mi > 59 ||
        sec < 0 || sec >= 60)
        return false;
    snprintf(out, cap, "%04d-%02d-%02d %02d:%02d:%09.6f", y, mo, d, h, mi, sec);
    *type = CT_TIMESTAMP;
    return true;
}

/* ODS durations ("PT10H30M05S") as a time of day; false if not one. */
static bool duration_text(const char *s, char *out, size_t cap)
{
    int h = 0, m = 0, n = 0;
    double sec = 0;
    if (sscanf(s, "PT%dH%dM%lfS%n", &h, &m, &sec, &n) != 3 || s[n] || h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 ||
        sec >= 60)
        return false;
    snprintf(out, cap, "%02d:%02d:%02d", h, m, (int)sec);
    return true;
}

/* ---- xlsx handlers ---- */

static uint32_t column_of_ref(const char *ref, bool *ok)
{
    uint64_t col = 0;
    const char *p = ref;
    while (*p >= 'A' && *p <= 'Z' && col <= LH_INGEST_SHEET_COLUMNS_MAX) col = col * 26 + (uint64_t)(*p++ - 'A' + 1);
    *ok = p != ref && col >= 1 && col <= LH_INGEST_SHEET_COLUMNS_MAX;
    return (uint32_t)(col - 1);
}

static void xlsx_cell_end(ctx *c)
{
    const char *t = c->cell_t;
    char *v = c->text.data ? c->text.data : "";
    size_t len = c->text.len;
    char num[64];
    cell_type type;
    double d;
    uint32_t col = c->next_col;
    if (!*t || is(t, "n")) {
        if (!len) return;
        if (!number_text(v, num, &type, &d)) {
            fail(c, LH_EINVAL, "%s: a number cell holds \"%.40s\"", c->part, v);
            return;
        }
        int kind = style_kind(c, c->cell_style);
        char date[40];
        if (kind != DK_NONE && serial_text(c, d, kind, date, sizeof date, &type)) put_cell(c, col, type, date, strlen(date));
        else put_cell(c, col, type, num, strlen(num));
    } else if (is(t, "s")) {
        char *end;
        unsigned long long i = strtoull(v, &end, 10);
        if (!len || *end || i >= c->nsst) {
            fail(c, LH_EINVAL, "%s: shared string \"%.20s\" does not exist (%zu strings)", c->part, v, c->nsst);
            return;
        }
        put_cell(c, col, CT_TEXT, c->sst.data + c->sst_off[2 * i], c->sst_off[2 * i + 1]);
    } else if (is(t, "inlineStr") || is(t, "str")) {
        put_cell(c, col, CT_TEXT, v, len);
    } else if (is(t, "b")) {
        if (len) put_cell(c, col, CT_BOOL, strcmp(v, "0") ? "true" : "false", strcmp(v, "0") ? 4 : 5);
    } else if (is(t, "d")) {
        char iso[64];
        if (iso_text(v, iso, sizeof iso, &type)) put_cell(c, col, type, iso, strlen(iso));
        else if (len) put_cell(c, col, CT_TEXT, v, len);
    } /* "e": an error value (#DIV/0!): empty */
}

static void xlsx_start(ctx *c, const char *n, const char **atts)
{
    switch (c->kind) {
    case P_SST:
        if (is(n, "si")) c->in_si = true, lh_buf_reset(&c->text);
        else if (is(n, "rPh")) c->skip_depth++;
        else if (is(n, "t") && c->in_si && !c->skip_depth) c->collecting = true;
        break;
    case P_STYLES:
        if (is(n, "numFmt")) {
            const char *id = attr(atts, "numFmtId"), *code = attr(atts, "formatCode");
            if (!id || !code) break;
            if (c->nfmt == c->capfmt) {
                c->capfmt = c->capfmt ? c->capfmt * 2 : 16;
                c->fmt_ids = lh_xrealloc(c->fmt_ids, c->capfmt * sizeof *c->fmt_ids);
                c->fmt_kinds = lh_xrealloc(c->fmt_kinds, c->capfmt);
            }
            c->fmt_ids[c->nfmt] = strtol(id, NULL, 10);
            c->fmt_kinds[c->nfmt++] = (unsigned char)format_kind(code);
        } else if (is(n, "cellXfs")) {
            c->in_xfs = true;
        } else if (is(n, "xf") && c->in_xfs) {
            const char *id = attr(atts, "numFmtId");
            if (c->nxf == c->capxf) {
                c->capxf = c->capxf ? c->capxf * 2 : 16;
                c->xf_fmt = lh_xrealloc(c->xf_fmt, c->capxf * sizeof *c->xf_fmt);
            }
            c->xf_fmt[c->nxf++] = id ? strtol(id, NULL, 10) : 0;
        }
        break;
    case P_WORKBOOK:
        if (is(n, "workbookPr")) {
            const char *v = attr(atts, "date1904");
            c->date1904 = v && (is(v, "1") || is(v, "true"));
        } else if (is(n, "sheet")) {
            const char *name = attr(atts, "name"), *rid = attr(atts, "id");
            if (!name || !rid) break;
            if (c->nsheets == c->capsheets) {
                c->capsheets = c->capsheets ? c->capsheets * 2 : 8;
                c->sheets = lh_xrealloc(c->sheets, c->capsheets * sizeof *c->sheets);
            }
            c->sheets[c->nsheets++] = (xlsx_sheet){lh_xstrdup(name), lh_xstrdup(rid), NULL};
        }
        break;
    case P_RELS:
        if (is(n, "Relationship")) {
            const char *id = attr(atts, "Id"), *target = attr(atts, "Target"), *type = attr(atts, "Type");
            size_t tl = type ? strlen(type) : 0;
            if (!id || !target || tl < 10 || strcmp(type + tl - 10, "/worksheet")) break;
            for (size_t i = 0; i < c->nsheets; i++) {
                if (strcmp(c->sheets[i].rid, id) || c->sheets[i].target) continue;
                c->sheets[i].target = target[0] == '/' ? lh_xstrdup(target + 1) : lh_xasprintf("xl/%s", target);
            }
        }
        break;
    case P_XLSX_SHEET:
        if (is(n, "row")) {
            row_begin(c);
        } else if (is(n, "c")) {
            const char *ref = attr(atts, "r"), *t = attr(atts, "t"), *s = attr(atts, "s");
            if (ref) {
                bool ok;
                uint32_t col = column_of_ref(ref, &ok);
                if (!ok) {
                    fail(c, LH_EINVAL, "%s: cell reference \"%.20s\" is not a column A to XFD", c->part, ref);
                    return;
                }
                c->next_col = col;
            }
            snprintf(c->cell_t, sizeof c->cell_t, "%s", t ? t : "");
            c->cell_style = s ? strtol(s, NULL, 10) : -1;
            lh_buf_reset(&c->text);
        } else if (is(n, "v")) {
            c->collecting = true;
        } else if (is(n, "rPh")) {
            c->skip_depth++;
        } else if (is(n, "t") && !c->skip_depth) {
            c->collecting = true; /* <is><t> or <is><r><t> */
        }
        break;
    default:
        break;
    }
}

static void xlsx_end(ctx *c, const char *n)
{
    switch (c->kind) {
    case P_SST:
        if (is(n, "t")) c->collecting = false;
        else if (is(n, "rPh")) c->skip_depth--;
        else if (is(n, "si") && c->in_si) {
            c->in_si = false;
            if (c->nsst == c->capsst) {
                c->capsst = c->capsst ? c->capsst * 2 : 256;
                c->sst_off = lh_xrealloc(c->sst_off, 2 * c->capsst * sizeof *c->sst_off);
            }
            c->sst_off[2 * c->nsst] = c->sst.len;
            c->sst_off[2 * c->nsst + 1] = c->text.len;
            c->nsst++;
            lh_buf_append(&c->sst, c->text.data ? c->text.data : "", c->text.len);
        }
        break;
    case P_STYLES:
        if (is(n, "cellXfs")) c->in_xfs = false;
        break;
    case P_XLSX_SHEET:
        if (is(n, "v") || is(n, "t")) {
            c->collecting = false;
        } else if (is(n, "rPh")) {
            c->skip_depth--;
        } else if (is(n, "c")) {
            xlsx_cell_end(c);
            c->next_col++;
        } else if (is(n, "row")) {
            row_end(c, 1);
        }
        break;
    default:
        break;
    }
}

/* ---- ods handlers ---- */

static uint64_t repeat_attr(const char **atts, const char *name)
{
    const char *v = attr(atts, name);
    if (!v) return 1;
    unsigned long long n = strtoull(v, NULL, 10);
    return n ? n : 1;
}

static void ods_start(ctx *c, const char *n, const char **atts)
{
    if (c->skip_depth) {
        c->skip_depth++;
        return;
    }
    if (is(n, "table")) {
        sheet_begin(c, attr(atts, "name"));
    } else if (is(n, "table-row")) {
        row_begin(c);
        c->row_repeat = repeat_attr(atts, "number-rows-repeated");
    } else if (is(n, "table-cell") || is(n, "covered-table-cell")) {
        const char *t = attr(atts, "value-type");
        snprintf(c->cell_t, sizeof c->cell_t, "%s", t ? t : "");
        const char *v = !t                                              ? NULL
                        : is(t, "date")                                 ? attr(atts, "date-value")
                        : is(t, "time")                                 ? attr(atts, "time-value")
                        : is(t, "boolean")                              ? attr(atts, "boolean-value")
                        : is(t, "string")                               ? attr(atts, "string-value")
                                                                        : attr(atts, "value");
        free(c->cell_value);
        c->cell_value = v ? lh_xstrdup(v) : NULL;
        c->cell_repeat = repeat_attr(atts, "number-columns-repeated");
        c->paragraphs = 0;
        lh_buf_reset(&c->text);
    } else if (is(n, "annotation")) {
        c->skip_depth = 1; /* a comment on the cell, not its value */
    } else if (is(n, "p")) {
        if (c->paragraphs++) cell_text(c, "\n", 1);
        c->collecting = true;
    } else if (is(n, "s") && c->collecting) {
        char spaces[64];
        memset(spaces, ' ', sizeof spaces);
        uint64_t k = repeat_attr(atts, "c");
        for (uint64_t done = 0; done < k && !c->rc; done += sizeof spaces)
            cell_text(c, spaces, k - done < sizeof spaces ? (size_t)(k - done) : sizeof spaces);
    } else if (is(n, "tab") && c->collecting) {
        cell_text(c, "\t", 1);
    } else if (is(n, "line-break") && c->collecting) {
        cell_text(c, "\n", 1);
    }
}

static void ods_cell_end(ctx *c)
{
    const char *t = c->cell_t, *v = c->cell_value;
    char buf[64];
    cell_type type;
    double d;
    const char *val = NULL;
    size_t len = 0;
    type = CT_TEXT;
    if ((is(t, "float") || is(t, "percentage") || is(t, "currency")) && v && number_text(v, buf, &type, &d)) {
        val = buf;
    } else if (is(t, "date") && v && iso_text(v, buf, sizeof buf, &type)) {
        val = buf;
    } else if (is(t, "time") && v && duration_text(v, buf, sizeof buf)) {
        val = buf, type = CT_TIME;
    } else if (is(t, "boolean") && v) {
        val = is(v, "true") ? "true" : "false", type = CT_BOOL;
    } else if (is(t, "string") && v) {
        val = v;
    } else if (c->text.len || *t) {
        val = c->text.data ? c->text.data : "", type = CT_TEXT;
    }
    uint64_t repeat = c->cell_repeat;
    if (!val) { /* empty cells: only move along (a row often ends in thousands of them) */
        uint64_t next = (uint64_t)c->next_col + repeat;
        c->next_col = next > LH_INGEST_SHEET_COLUMNS_MAX ? LH_INGEST_SHEET_COLUMNS_MAX : (uint32_t)next;
        return;
    }
    len = val == c->text.data ? c->text.len : strlen(val);
    for (uint64_t r = 0; r < repeat && !c->rc; r++) put_cell(c, c->next_col++, type, val, len);
}

static void ods_end(ctx *c, const char *n)
{
    if (c->skip_depth) {
        c->skip_depth--;
        return;
    }
    if (is(n, "p")) c->collecting = false;
    else if (is(n, "table-cell") || is(n, "covered-table-cell")) ods_cell_end(c);
    else if (is(n, "table-row")) row_end(c, c->row_repeat);
}

/* ---- expat glue ---- */

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    ctx *c = ud;
    if (c->rc) return;
    if (++c->depth > LH_INGEST_SHEET_XML_DEPTH_MAX) {
        fail(c, LH_EINVAL, "%s nests deeper than %d levels (LH_INGEST_SHEET_XML_DEPTH_MAX)", c->part,
             LH_INGEST_SHEET_XML_DEPTH_MAX);
        return;
    }
    if (c->kind == P_ODS) ods_start(c, local_name(name), atts);
    else xlsx_start(c, local_name(name), atts);
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    ctx *c = ud;
    if (c->rc) return;
    c->depth--;
    if (c->kind == P_ODS) ods_end(c, local_name(name));
    else xlsx_end(c, local_name(name));
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    ctx *c = ud;
    if (c->collecting && !c->skip_depth && !c->rc) cell_text(c, s, (size_t)len);
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                               int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    ctx *c = ud;
    fail(c, LH_EINVAL, "%s has a DTD (<!DOCTYPE>), which no spreadsheet needs; refused", c->part);
}

static void parser_begin(ctx *c, part_kind kind, const char *part)
{
    c->parser = XML_ParserCreateNS(NULL, '|');
    XML_SetUserData(c->parser, c);
    XML_SetElementHandler(c->parser, on_start, on_end);
    XML_SetCharacterDataHandler(c->parser, on_text);
    XML_SetStartDoctypeDeclHandler(c->parser, on_doctype);
    c->kind = kind;
    c->part = part;
    c->depth = 0;
    c->collecting = false;
    c->skip_depth = 0;
}

static void parser_feed(ctx *c, const char *p, size_t n, bool last)
{
    if (c->rc) return;
    if (XML_Parse(c->parser, p, (int)n, last) == XML_STATUS_ERROR && !c->rc)
        fail(c, LH_EINVAL, "%s line %lu: %s", c->part, (unsigned long)XML_GetCurrentLineNumber(c->parser),
             XML_ErrorString(XML_GetErrorCode(c->parser)));
}

static void parser_end(ctx *c)
{
    XML_ParserFree(c->parser);
    c->parser = NULL;
}

/* Inflates a part of the archive into the parser, under the limits. */
static void parse_part(ctx *c, zip_t *z, const char *part, part_kind kind, bool required, uint64_t *inflated)
{
    if (c->rc) return;
    zip_int64_t at = zip_name_locate(z, part, ZIP_FL_NOCASE);
    if (at < 0) {
        if (required)
            fail(c, LH_EINVAL, "not a complete %s: %s is missing", kind == P_ODS ? "OpenDocument spreadsheet" : ".xlsx",
                 part);
        return;
    }
    zip_stat_t st;
    zip_file_t *f = zip_stat_index(z, (zip_uint64_t)at, 0, &st) == 0 ? zip_fopen_index(z, (zip_uint64_t)at, 0) : NULL;
    if (!f) {
        fail(c, LH_EINVAL, "%s cannot be read: %s", part, zip_strerror(z));
        return;
    }
    uint64_t packed = (st.valid & ZIP_STAT_COMP_SIZE) ? st.comp_size : 0, out = 0;
    parser_begin(c, kind, part);
    char buf[65536];
    zip_int64_t got = 0;
    while (!c->rc && (got = zip_fread(f, buf, sizeof buf)) > 0) {
        out += (uint64_t)got;
        *inflated += (uint64_t)got;
        if (out > LH_INGEST_SHEET_PART_BYTES_MAX)
            fail(c, LH_ETOOBIG, "%s inflates past %d MiB (LH_INGEST_SHEET_PART_BYTES_MAX)", part,
                 LH_INGEST_SHEET_PART_BYTES_MAX >> 20);
        else if (*inflated > LH_INGEST_SHEET_TOTAL_BYTES_MAX)
            fail(c, LH_ETOOBIG, "the workbook inflates past %d MiB (LH_INGEST_SHEET_TOTAL_BYTES_MAX)",
                 LH_INGEST_SHEET_TOTAL_BYTES_MAX >> 20);
        else if (out > (1u << 20) && out > (uint64_t)LH_INGEST_SHEET_RATIO_MAX * (packed ? packed : 1))
            fail(c, LH_ETOOBIG, "%s inflates more than %d times its packed size (a zip bomb?); refused", part,
                 LH_INGEST_SHEET_RATIO_MAX);
        else parser_feed(c, buf, (size_t)got, false);
    }
    if (!c->rc && got < 0) fail(c, LH_EINVAL, "%s is damaged: %s", part, zip_file_strerror(f));
    parser_feed(c, "", 0, true);
    parser_end(c);
    zip_fclose(f);
}

static void ctx_free(ctx *c)
{
    if (c->parser) parser_end(c);
    for (size_t i = 0; i < c->ncols; i++) free(c->cols[i].name);
    free(c->cols);
    free(c->sheet_name);
    free(c->map);
    free(c->cells);
    lh_buf_free(&c->vals);
    lh_buf_free(&c->text);
    lh_buf_free(&c->line);
    free(c->cell_value);
    lh_buf_free(&c->sst);
    free(c->sst_off);
    free(c->fmt_ids);
    free(c->fmt_kinds);
    free(c->xf_fmt);
    for (size_t i = 0; i < c->nsheets; i++) {
        free(c->sheets[i].name);
        free(c->sheets[i].rid);
        free(c->sheets[i].target);
    }
    free(c->sheets);
}

static void read_xlsx(ctx *c, zip_t *z)
{
    uint64_t inflated = 0;
    parse_part(c, z, "xl/workbook.xml", P_WORKBOOK, true, &inflated);
    parse_part(c, z, "xl/_rels/workbook.xml.rels", P_RELS, true, &inflated);
    parse_part(c, z, "xl/sharedStrings.xml", P_SST, false, &inflated);
    parse_part(c, z, "xl/styles.xml", P_STYLES, false, &inflated);
    if (!c->rc && c->nsheets == 0) fail(c, LH_EINVAL, "the workbook lists no sheets");
    for (size_t i = 0; i < c->nsheets && !c->rc; i++) {
        if (!c->sheets[i].target) continue; /* a chart sheet: no cells */
        sheet_begin(c, c->sheets[i].name);
        parse_part(c, z, c->sheets[i].target, P_XLSX_SHEET, true, &inflated);
    }
}

lh_code ingest_spreadsheet(const char *path, const char *name, bool ods, const char *ndjson, char **columns,
                           lh_err *err)
{
    int zerr = 0;
    zip_t *z = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
    if (!z) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerr);
        lh_code rc = lh_err_set(err, LH_EINVAL, "%s is not a readable %s (zip: %s)", name, ods ? ".ods" : ".xlsx",
                                zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return rc;
    }
    ctx c = {.file = name, .err = err};
    c.out = fopen(ndjson, "wb");
    if (!c.out) fail(&c, LH_EIO, "cannot write %s", ndjson);
    if (ods) {
        uint64_t inflated = 0;
        parse_part(&c, z, "content.xml", P_ODS, true, &inflated);
    } else {
        read_xlsx(&c, z);
    }
    if (c.out && fclose(c.out) != 0) fail(&c, LH_EIO, "cannot write %s", ndjson);
    zip_discard(z);
    if (!c.rc && c.rows_total == 0) fail(&c, LH_EINVAL, "no sheet holds a data row");
    if (!c.rc) {
        lh_buf cols = {0};
        lh_buf_putc(&cols, '{');
        for (size_t i = 0; i < c.ncols; i++) {
            if (i) lh_buf_puts(&cols, ", ");
            lh_sql_quote_literal(&cols, c.cols[i].name);
            lh_buf_printf(&cols, ": '%s'", duck_types[c.cols[i].type]);
        }
        lh_buf_putc(&cols, '}');
        *columns = lh_buf_detach(&cols);
    }
    lh_code rc = c.rc;
    ctx_free(&c);
    return rc;
}

lh_code ingest_sheet_xml_check(int part, const char *xml, size_t n, lh_err *err)
{
    ctx c = {.file = "fuzz", .err = err};
    part_kind kind = (part_kind)(part % 6);
    if (kind == P_XLSX_SHEET || kind == P_ODS) sheet_begin(&c, "s");
    parser_begin(&c, kind, "part.xml");
    parser_feed(&c, xml, n, true);
    parser_end(&c);
    lh_code rc = c.rc;
    ctx_free(&c);
    return rc;
}
