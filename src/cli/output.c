/*
 * output.c — how commands print answers: tables (the default), JSON,
 * NDJSON or CSV of a list; and the nearest-word suggestions for typos.
 */
#include "cli.h"

#include "lakehouse/lh_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CELL_MAX 60

bool lh_cli_output_parse(const char *s, lh_cli_output *out)
{
    static const char *const names[] = {"table", "json", "ndjson", "csv"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(s, names[i])) return *out = (lh_cli_output)i, true;
    return false;
}

/* Display width, counted in code points (good enough for tables). */
static size_t cell_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Cuts s after `keep` code points and appends tail. */
static void cell_truncate(char *s, size_t keep, const char *tail)
{
    size_t n = 0;
    char *p = s;
    for (; *p; p++) {
        if (((unsigned char)*p & 0xC0) != 0x80 && n++ == keep) break;
    }
    strcpy(p, tail);
}

/* A value as one line of text (malloc'd): strings bare, null empty, the rest JSON. */
static char *cell_text(const json_t *v)
{
    if (!v || json_is_null(v)) return lh_xstrdup("");
    char *s = json_is_string(v) ? lh_xstrdup(json_string_value(v)) : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    for (char *p = s; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
    return s;
}

/* The columns of a list: the operation's, else every scalar key in first-seen order. */
static json_t *columns_of(const char *wanted, json_t *items)
{
    json_t *cols = json_array();
    if (wanted && *wanted) {
        char *copy = lh_xstrdup(wanted);
        for (char *save = NULL, *c = strtok_r(copy, ",", &save); c; c = strtok_r(NULL, ",", &save))
            json_array_append_new(cols, json_string(c));
        free(copy);
        return cols;
    }
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item) {
        const char *key;
        json_t *v;
        json_object_foreach(item, key, v) {
            bool seen = false;
            for (size_t k = 0; k < json_array_size(cols) && !seen; k++)
                seen = !strcmp(json_string_value(json_array_get(cols, k)), key);
            if (!seen && !json_is_object(v)) json_array_append_new(cols, json_string(key));
        }
    }
    return cols;
}

static void print_table(json_t *items, const char *wanted, const char *indent)
{
    json_t *cols = columns_of(wanted, items);
    size_t nc = json_array_size(cols), nr = json_array_size(items);
    size_t *width = lh_xcalloc(nc ? nc : 1, sizeof *width);
    char **cells = lh_xcalloc((nr + 1) * (nc ? nc : 1), sizeof *cells);
    for (size_t c = 0; c < nc; c++) {
        char *h = lh_xstrdup(json_string_value(json_array_get(cols, c)));
        for (char *p = h; *p; p++) *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        cells[c] = h;
        width[c] = strlen(h);
    }
    for (size_t r = 0; r < nr; r++) {
        json_t *item = json_array_get(items, r);
        for (size_t c = 0; c < nc; c++) {
            json_t *v = json_is_object(item) ? json_object_get(item, json_string_value(json_array_get(cols, c)))
                                             : c == 0 ? item : NULL;
            char *t = cell_text(v);
            if (cell_width(t) > CELL_MAX) cell_truncate(t, CELL_MAX - 3, "...");
            cells[(r + 1) * nc + c] = t;
            if (cell_width(t) > width[c]) width[c] = cell_width(t);
        }
    }
    for (size_t r = 0; r <= nr; r++) {
        fputs(indent, stdout);
        for (size_t c = 0; c < nc; c++) {
            const char *t = cells[r * nc + c];
            fputs(t, stdout);
            if (c + 1 < nc)
                for (size_t pad = cell_width(t); pad < width[c] + 2; pad++) fputc(' ', stdout);
        }
        fputc('\n', stdout);
    }
    for (size_t i = 0; i < (nr + 1) * nc; i++) free(cells[i]);
    free(cells);
    free(width);
    json_decref(cols);
}

static bool is_table(const json_t *v)
{
    return json_is_array(v) && json_array_size(v) && json_is_object(json_array_get(v, 0));
}

/* An object as "key  value" lines; lists of objects as indented tables. */
static void print_object(json_t *obj)
{
    size_t w = 0;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) if (strlen(key) > w) w = strlen(key);
    json_object_foreach(obj, key, v) {
        if (is_table(v)) {
            printf("%s:\n", key);
            print_table(v, NULL, "  ");
            continue;
        }
        char *t = cell_text(v);
        if (cell_width(t) > 160) cell_truncate(t, 157, "...");
        printf("%-*s  %s\n", (int)w, key, t);
        free(t);
    }
}

static void print_csv_field(const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, stdout);
        return;
    }
    fputc('"', stdout);
    for (const char *p = s; *p; p++) {
        if (*p == '"') fputc('"', stdout);
        fputc(*p, stdout);
    }
    fputc('"', stdout);
}

lh_code lh_cli_render(const lh_op *op, json_t *out, lh_cli_output format, lh_err *err)
{
    json_t *items = op && op->list ? json_object_get(out, op->list) : NULL;
    const char *next = json_string_value(json_object_get(out, "next"));
    if (format == LH_CLI_JSON) {
        lh_cli_print_json(out);
        return LH_OK;
    }
    if ((format == LH_CLI_NDJSON || format == LH_CLI_CSV) && !items)
        return lh_err_set(err, LH_EINVAL, "--format %s prints lists; this answer is one object (use --json)",
                          format == LH_CLI_CSV ? "csv" : "ndjson");
    if (format == LH_CLI_NDJSON) {
        size_t i;
        json_t *x;
        json_array_foreach(items, i, x) {
            char *line = json_dumps(x, JSON_COMPACT | JSON_ENCODE_ANY);
            puts(line);
            free(line);
        }
    } else if (format == LH_CLI_CSV) {
        json_t *cols = columns_of(op->columns, items);
        size_t i, c;
        json_t *x;
        json_array_foreach(cols, c, x) {
            if (c) fputc(',', stdout);
            print_csv_field(json_string_value(x));
        }
        fputc('\n', stdout);
        json_array_foreach(items, i, x) {
            for (c = 0; c < json_array_size(cols); c++) {
                if (c) fputc(',', stdout);
                char *t = cell_text(json_object_get(x, json_string_value(json_array_get(cols, c))));
                print_csv_field(t);
                free(t);
            }
            fputc('\n', stdout);
        }
        json_decref(cols);
    } else if (items) {
        print_table(items, op->columns, "");
    } else {
        print_object(out);
    }
    if (next) fprintf(stderr, "(more: --cursor %s)\n", next);
    return LH_OK;
}

/* Levenshtein distance, bounded (strings longer than 63 bytes never match). */
static size_t distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 63 || m > 63) return 99;
    size_t d[64][64];
    for (size_t i = 0; i <= n; i++) d[i][0] = i;
    for (size_t j = 0; j <= m; j++) d[0][j] = j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            d[i][j] = best;
        }
    return d[n][m];
}

const char *lh_cli_nearest(const char *word, const char *const *names, size_t n)
{
    const char *best = NULL;
    size_t best_d = strlen(word) <= 3 ? 1 : 2; /* at most this many edits */
    for (size_t i = 0; i < n; i++) {
        size_t d = distance(word, names[i]);
        bool prefix = strlen(word) >= 2 && !strncmp(names[i], word, strlen(word));
        if (prefix) d = 1;
        if (d <= best_d && (!best || d < distance(word, best))) {
            best = names[i];
            best_d = d;
        }
    }
    return best;
}
