/*
 * sniff.c — what a file is: format from magic bytes, structure and name;
 * text encoding from byte-order marks and UTF-8 validity.
 */
#include "internal.h"

#include "lakehouse/lh_utf8.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *const names[] = {"unknown", "csv", "tsv", "json", "parquet", "text", "pdf", "xlsx", "ods"};

const char *ingest_format_name(ingest_format f)
{
    return names[f];
}

bool ingest_format_parse(const char *s, ingest_format *out)
{
    static const struct {
        const char *name;
        ingest_format f;
    } map[] = {{"csv", FMT_CSV},     {"tsv", FMT_TSV},         {"json", FMT_JSON},
               {"ndjson", FMT_JSON}, {"jsonl", FMT_JSON},      {"parquet", FMT_PARQUET},
               {"text", FMT_TEXT},   {"txt", FMT_TEXT},        {"markdown", FMT_TEXT},
               {"md", FMT_TEXT},     {"pdf", FMT_PDF},         {"xlsx", FMT_XLSX},
               {"ods", FMT_ODS}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strcasecmp(s, map[i].name) == 0) {
            *out = map[i].f;
            return true;
        }
    }
    return false;
}

static ingest_format by_extension(const char *name)
{
    const char *dot = strrchr(name, '.');
    ingest_format f;
    if (dot && ingest_format_parse(dot + 1, &f)) return f;
    return FMT_UNKNOWN;
}

/* Valid UTF-8, allowing the sample to end in the middle of a character. */
static bool utf8_sample(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t len = lh_utf8_char_len((const char *)p + i, n - i);
        if (!len) return n - i < 4 && (p[i] & 0xC0) == 0xC0; /* a cut-off tail */
        i += len;
    }
    return true;
}

lh_code ingest_sniff(const char *path, const char *name, ingest_format *format, const char **encoding,
                     lh_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lh_err_errno(err, errno == ENOENT ? LH_ENOTFOUND : LH_EIO, errno, "cannot open %s", name);
    unsigned char buf[65536];
    ssize_t got = read(fd, buf, sizeof buf);
    close(fd);
    if (got < 0) return lh_err_errno(err, LH_EIO, errno, "cannot read %s", name);
    size_t n = (size_t)got;
    if (n == 0) return lh_err_set(err, LH_EINVAL, "%s is empty (0 bytes)", name);
    *encoding = "utf-8";
    if (n >= 4 && !memcmp(buf, "PAR1", 4)) {
        *format = FMT_PARQUET;
        return LH_OK;
    }
    if (n >= 5 && !memcmp(buf, "%PDF-", 5)) {
        *format = FMT_PDF;
        return LH_OK;
    }
    if (n >= 4 && !memcmp(buf, "PK\x03\x04", 4)) {
        /* a zip archive: an OpenDocument spreadsheet names its type in its first
         * entry (mimetype, stored); an .xlsx has xl/ parts */
        ingest_format ext = by_extension(name);
        if (ext == FMT_XLSX || ext == FMT_ODS) *format = ext;
        else if (memmem(buf, n, "application/vnd.oasis.opendocument.spreadsheet", 46)) *format = FMT_ODS;
        else if (memmem(buf, n, "xl/", 3) || memmem(buf, n, "[Content_Types].xml", 19)) *format = FMT_XLSX;
        else
            return lh_err_set(err, LH_EINVAL,
                              "%s is a zip archive, but not an .xlsx or .ods spreadsheet", name);
        return LH_OK;
    }
    if (n >= 8 && !memcmp(buf, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8))
        return lh_err_set(err, LH_EINVAL,
                          "%s is a legacy Office file (.xls, or a password-protected .xlsx): save it as "
                          ".xlsx without a password, or as CSV", name);
    const unsigned char *text = buf;
    size_t tn = n;
    if (n >= 2 && ((buf[0] == 0xFF && buf[1] == 0xFE) || (buf[0] == 0xFE && buf[1] == 0xFF))) {
        *encoding = "utf-16";
    } else {
        if (n >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) text += 3, tn -= 3;
        if (memchr(text, '\0', tn))
            return lh_err_set(err, LH_EINVAL,
                              "%s is binary data, not CSV, JSON, Parquet, text or PDF (it contains NUL bytes)",
                              name);
        if (!utf8_sample(text, tn)) {
            /* not UTF-8: Latin-1 text has few control characters */
            size_t controls = 0;
            for (size_t i = 0; i < tn; i++)
                controls += text[i] < 0x20 && text[i] != '\n' && text[i] != '\r' && text[i] != '\t';
            if (controls * 100 > tn)
                return lh_err_set(err, LH_EINVAL, "%s is binary data, not a text format", name);
            *encoding = "latin-1";
        }
    }
    ingest_format ext = by_extension(name);
    if (ext == FMT_XLSX || ext == FMT_ODS)
        return lh_err_set(err, LH_EINVAL, "%s is named .%s but is not a spreadsheet (not a zip archive)", name,
                          ingest_format_name(ext));
    if (ext != FMT_UNKNOWN && ext != FMT_PARQUET && ext != FMT_PDF) {
        *format = ext;
        return LH_OK;
    }
    if (ext == FMT_PARQUET || ext == FMT_PDF)
        return lh_err_set(err, LH_EINVAL, "%s is named .%s but is not %s (wrong magic bytes)", name,
                          ext == FMT_PDF ? "pdf" : "parquet", ext == FMT_PDF ? "a PDF" : "Parquet");
    /* no telling extension: look at the structure */
    size_t i = 0;
    while (i < tn && isspace(text[i])) i++;
    if (i < tn && (text[i] == '[' || text[i] == '{')) {
        *format = FMT_JSON;
        return LH_OK;
    }
    const unsigned char *nl = memchr(text, '\n', tn);
    size_t first = nl ? (size_t)(nl - text) : tn;
    size_t tabs = 0, commas = 0, semis = 0;
    for (size_t k = 0; k < first; k++) {
        tabs += text[k] == '\t';
        commas += text[k] == ',';
        semis += text[k] == ';';
    }
    *format = tabs ? FMT_TSV : (commas || semis) ? FMT_CSV : FMT_TEXT;
    return LH_OK;
}

/* ---- JSON nesting ---- */

bool ingest_json_nesting_feed(ingest_json_nesting *s, const char *p, size_t n, int limit)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (s->in_string) {
            if (s->escape) s->escape = false;
            else if (c == '\\') s->escape = true;
            else if (c == '"') s->in_string = false;
        } else if (c == '"') {
            s->in_string = true;
        } else if (c == '{' || c == '[') {
            if (++s->depth > s->deepest) s->deepest = s->depth;
            if (s->depth > limit) return false;
        } else if ((c == '}' || c == ']') && s->depth > 0) {
            s->depth--;
        }
    }
    return true;
}

lh_code ingest_json_depth_check(const char *path, const char *name, int limit, lh_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lh_err_errno(err, LH_EIO, errno, "%s", name);
    ingest_json_nesting s = {0};
    char buf[65536];
    ssize_t got;
    bool ok = true;
    while (ok && (got = read(fd, buf, sizeof buf)) > 0) ok = ingest_json_nesting_feed(&s, buf, (size_t)got, limit);
    close(fd);
    if (!ok)
        return lh_err_set(err, LH_EINVAL, "%s: JSON nests deeper than %d levels; nothing was ingested", name,
                          limit);
    return LH_OK;
}
