/*
 * dialect.c — what DuckDB's CSV sniffer gets wrong, decided from the first
 * lines: files aligned with runs of spaces (statistics exports), decimal
 * commas behind semicolons, and an all-numeric first row taken for a header.
 */
#include "internal.h"

#include "lakehouse/lh_buf.h"
#include "lakehouse/lh_mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAMPLE_BYTES 65536
#define SAMPLE_LINES 100

struct sample {
    char *text;
    char *lines[SAMPLE_LINES];
    size_t n;
};

/* The first complete, non-blank lines of the file. */
static lh_code read_sample(const char *path, struct sample *s, lh_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return lh_err_errno(err, LH_EIO, errno, "cannot open %s", path);
    s->text = lh_xmalloc(SAMPLE_BYTES + 1);
    size_t len = fread(s->text, 1, SAMPLE_BYTES, f);
    bool all = feof(f);
    fclose(f);
    s->text[len] = '\0';
    if (!all) { /* drop the cut-off last line */
        char *nl = strrchr(s->text, '\n');
        if (nl) nl[1] = '\0';
    }
    char *p = s->text;
    if (!strncmp(p, "\xEF\xBB\xBF", 3)) p += 3;
    for (char *save = NULL, *line = strtok_r(p, "\n", &save); line && s->n < SAMPLE_LINES; line = strtok_r(NULL, "\n", &save)) {
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r') line[--l] = '\0';
        bool blank = true;
        for (char *c = line; *c && blank; c++) blank = *c == ' ' || *c == '\t';
        if (!blank) s->lines[s->n++] = line;
    }
    return LH_OK;
}

static bool is_number(const char *s, size_t n, bool comma)
{
    size_t i = 0, digits = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) i++;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++, digits++;
    if (i < n && s[i] == (comma ? ',' : '.')) {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++, digits++;
    }
    return digits > 0 && i == n;
}

/* Splits line into fields at runs of spaces and tabs (ws) or at sep; calls
 * fn on each; returns the count. */
static size_t fields(const char *line, char sep, bool ws, bool (*fn)(void *ctx, size_t col, const char *f, size_t n), void *ctx)
{
    size_t count = 0;
    const char *p = line;
    while (*p) {
        if (ws) {
            while (*p == ' ' || *p == '\t') p++;
            if (!*p) break;
        }
        const char *start = p;
        while (*p && (ws ? (*p != ' ' && *p != '\t') : *p != sep)) p++;
        size_t n = (size_t)(p - start);
        while (!ws && n && (start[0] == ' ')) start++, n--; /* "a; b" */
        while (!ws && n && start[n - 1] == ' ') n--;
        if (fn && !fn(ctx, count, start, n)) fn = NULL;
        count++;
        if (!ws) {
            if (!*p) break;
            p++;
        }
    }
    return count;
}

/* The same number of fields on (nearly) every line, at least min. */
static bool consistent(const struct sample *s, char sep, bool ws, size_t min)
{
    size_t want = fields(s->lines[0], sep, ws, NULL, NULL), same = 0;
    if (want < min) return false;
    for (size_t i = 0; i < s->n; i++) same += fields(s->lines[i], sep, ws, NULL, NULL) == want;
    return same * 10 >= s->n * 9;
}

struct numeric {
    bool all, comma;
    size_t count;
};

static bool numeric_field(void *ctx, size_t col, const char *f, size_t n)
{
    (void)col;
    struct numeric *x = ctx;
    x->all = x->all && is_number(f, n, x->comma);
    x->count += is_number(f, n, x->comma);
    return true;
}

static bool all_numeric(const char *line, char sep, bool ws, bool comma)
{
    struct numeric x = {true, comma, 0};
    return fields(line, sep, ws, numeric_field, &x) > 0 && x.all;
}

static bool year_like(void *ctx, size_t col, const char *f, size_t n)
{
    (void)col;
    bool *all = ctx;
    *all = *all && n == 4 && is_number(f, n, false) && atoi(f) >= 1800 && atoi(f) <= 2200;
    return *all;
}

struct decimals {
    size_t comma, point;
};

static bool decimal_field(void *ctx, size_t col, const char *f, size_t n)
{
    (void)col;
    struct decimals *d = ctx;
    d->comma += memchr(f, ',', n) && is_number(f, n, true);
    d->point += memchr(f, '.', n) && is_number(f, n, false);
    return true;
}

lh_code ingest_csv_dialect(const char *path, csv_dialect *d, lh_err *err)
{
    *d = (csv_dialect){.header = -1};
    struct sample s = {0};
    lh_code rc = read_sample(path, &s, err);
    if (rc || s.n < 2 || strchr(s.text, '"')) {
        free(s.text);
        return rc;
    }
    static const char seps[] = {',', ';', '\t', '|'};
    char sep = 0;
    for (size_t i = 0; i < sizeof seps && !sep; i++)
        if (consistent(&s, seps[i], false, 2)) sep = seps[i];
    if (!sep && consistent(&s, 0, true, 2)) {
        /* aligned by spaces, and numbers in it: not a one-column file of phrases */
        size_t numeric_lines = 0;
        for (size_t i = 1; i < s.n; i++) {
            struct numeric x = {true, false, 0};
            fields(s.lines[i], 0, true, numeric_field, &x);
            numeric_lines += x.count > 0;
        }
        if (numeric_lines * 10 >= (s.n - 1) * 9) {
            d->whitespace = true;
            d->header = all_numeric(s.lines[0], 0, true, false) ? 0 : 1;
        }
    }
    if (sep == ';' || sep == '\t' || sep == '|') {
        struct decimals dec = {0};
        for (size_t i = 1; i < s.n; i++) fields(s.lines[i], sep, false, decimal_field, &dec);
        d->decimal_comma = dec.comma > 0 && dec.point == 0;
    }
    if (sep && d->header < 0 && all_numeric(s.lines[0], sep, false, d->decimal_comma) &&
        all_numeric(s.lines[1], sep, false, d->decimal_comma)) {
        bool years = true; /* a header of years (2019,2020,...) stays a header */
        fields(s.lines[0], sep, false, year_like, &years);
        if (!years) d->header = 0;
    }
    free(s.text);
    return LH_OK;
}

lh_code ingest_whitespace_to_tsv(const char *from, const char *to, lh_err *err)
{
    FILE *in = fopen(from, "rb");
    if (!in) return lh_err_errno(err, LH_EIO, errno, "cannot open %s", from);
    FILE *out = fopen(to, "wb");
    if (!out) {
        fclose(in);
        return lh_err_errno(err, LH_EIO, errno, "cannot write %s", to);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    lh_code rc = LH_OK;
    while ((n = getline(&line, &cap, in)) >= 0) {
        bool first = true;
        for (char *p = line, *end = line + n; p < end;) {
            while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
            if (p >= end) break;
            char *start = p;
            while (p < end && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') p++;
            if (!first) fputc('\t', out);
            fwrite(start, 1, (size_t)(p - start), out);
            first = false;
        }
        if (!first) fputc('\n', out);
    }
    free(line);
    fclose(in);
    if (fclose(out) != 0) rc = lh_err_errno(err, LH_EIO, errno, "writing %s", to);
    return rc;
}
