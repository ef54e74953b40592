/*
 * documents.c — text, Markdown and PDF files as chunk rows.
 *
 * PDF text comes from poppler-glib, one page at a time. Encrypted, damaged
 * or image-only PDFs are errors that say which of these it is.
 */
#include "internal.h"

#include "lakehouse/lh_buf.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_utf8.h"

#include <errno.h>
#include <iconv.h>
#include <limits.h>
#include <poppler.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TEXT_BYTES (256u << 20)

void doc_rows_free(doc_rows *r)
{
    for (size_t i = 0; i < r->n; i++) free(r->rows[i].text), free(r->rows[i].section);
    free(r->rows);
    memset(r, 0, sizeof *r);
}

struct chunker {
    doc_rows *out;
    const char *text;
    const char *section;
    int page;
    int chunk_no; /* across the page's sections */
};

static void add_chunk(void *ctx, size_t off, size_t len)
{
    struct chunker *c = ctx;
    doc_rows *r = c->out;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->rows = lh_xrealloc(r->rows, r->cap * sizeof *r->rows);
    }
    r->rows[r->n++] = (doc_row){c->page, c->chunk_no++, lh_xstrndup(c->text + off, len),
                                c->section ? lh_xstrdup(c->section) : NULL};
}

/* Chunks text[0..len) of one section of a page. */
static void chunk_section(struct chunker *c, const char *text, size_t len, const char *section, size_t chunk_chars,
                          size_t overlap)
{
    c->text = text;
    c->section = section;
    lh_ingest_chunk_text(text, len, chunk_chars, overlap, add_chunk, c);
}

/* ---- Markdown headings ---- */

#define MAX_DEPTH 6

struct outline {
    char *titles[MAX_DEPTH]; /* the open headings, by level */
};

static char *outline_path(const struct outline *o)
{
    lh_buf b = {0};
    for (int i = 0; i < MAX_DEPTH; i++)
        if (o->titles[i]) lh_buf_printf(&b, "%s%s", b.len ? " > " : "", o->titles[i]);
    return b.len ? lh_buf_detach(&b) : (lh_buf_free(&b), NULL);
}

static void outline_set(struct outline *o, int level, const char *title, size_t n)
{
    for (int i = level; i < MAX_DEPTH; i++) free(o->titles[i]), o->titles[i] = NULL;
    while (n && (title[n - 1] == ' ' || title[n - 1] == '#' || title[n - 1] == '\r')) n--;
    o->titles[level] = lh_xstrndup(title, n);
}

static void outline_free(struct outline *o)
{
    for (int i = 0; i < MAX_DEPTH; i++) free(o->titles[i]);
}

/* Splits text at Markdown headings; each part chunked under its heading path. */
static void chunk_markdown(doc_rows *out, const char *text, size_t len, size_t chunk_chars, size_t overlap)
{
    struct chunker c = {.out = out, .page = 1};
    struct outline o = {0};
    char *path = NULL;
    size_t start = 0;
    bool fenced = false;
    for (size_t line = 0; line <= len;) {
        size_t end = line;
        while (end < len && text[end] != '\n') end++;
        int level = 0;
        if (line + 3 <= end && !strncmp(text + line, "```", 3)) fenced = !fenced;
        while (!fenced && level < MAX_DEPTH && line + level < end && text[line + level] == '#') level++;
        bool heading = level > 0 && line + level < end && text[line + level] == ' ';
        if (heading || line >= len) {
            if (line > start) chunk_section(&c, text + start, line - start, path, chunk_chars, overlap);
            if (line >= len) break;
            size_t t = line + (size_t)level;
            while (t < end && text[t] == ' ') t++;
            outline_set(&o, level - 1, text + t, end - t);
            free(path);
            path = outline_path(&o);
            start = line;
        }
        line = end + 1;
    }
    free(path);
    outline_free(&o);
}

/* Converts in[0..n) from `from` to UTF-8 with iconv. */
static lh_code transcode(const char *from, const char *in, size_t n, lh_buf *out, lh_err *err)
{
    iconv_t cd = iconv_open("UTF-8", from);
    if (cd == (iconv_t)-1) return lh_err_errno(err, LH_EINTERNAL, errno, "iconv from %s", from);
    lh_buf_reserve(out, n * 2 + 16);
    char *src = (char *)in;
    size_t left = n;
    lh_code rc = LH_OK;
    while (left) {
        lh_buf_reserve(out, left * 2 + 16);
        char *dst = out->data + out->len;
        size_t room = out->cap - out->len - 1;
        size_t before = room;
        if (iconv(cd, &src, &left, &dst, &room) == (size_t)-1 && errno != E2BIG) {
            rc = lh_err_set(err, LH_EINVAL, "text is not valid %s (at byte %zu)", from, n - left);
            out->len += before - room;
            break;
        }
        out->len += before - room;
    }
    out->data[out->len] = '\0';
    iconv_close(cd);
    return rc;
}

static lh_code read_text(const char *path, const char *encoding, lh_buf *out, lh_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return lh_err_errno(err, LH_EIO, errno, "cannot open %s", path);
    lh_buf raw = {0};
    char chunk[65536];
    size_t n;
    lh_code rc = LH_OK;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        lh_buf_append(&raw, chunk, n);
        if (raw.len > MAX_TEXT_BYTES) {
            rc = lh_err_set(err, LH_ETOOBIG, "text documents are limited to %u MiB", MAX_TEXT_BYTES >> 20);
            break;
        }
    }
    fclose(f);
    if (rc == LH_OK) {
        const char *p = raw.data ? raw.data : "";
        size_t len = raw.len;
        if (!strcmp(encoding, "utf-8")) {
            if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) p += 3, len -= 3;
            if (!lh_utf8_valid(p, len)) rc = lh_err_set(err, LH_EINVAL, "text is not valid UTF-8");
            else lh_buf_append(out, p, len);
        } else {
            rc = transcode(!strcmp(encoding, "latin-1") ? "ISO-8859-1" : "UTF-16", p, len, out, err);
        }
    }
    lh_buf_free(&raw);
    return rc;
}

/* ---- PDF outline ---- */

struct pdf_heading {
    int page; /* 1-based */
    char *title, *path;
};

/* The page (1-based) an outline entry goes to, or 0. */
static int dest_page(PopplerDocument *doc, PopplerAction *a)
{
    if (!a || a->type != POPPLER_ACTION_GOTO_DEST || !a->goto_dest.dest) return 0;
    PopplerDest *d = a->goto_dest.dest;
    if (d->type != POPPLER_DEST_NAMED) return d->page_num;
    PopplerDest *named = poppler_document_find_dest(doc, d->named_dest);
    int page = named ? named->page_num : 0;
    if (named) poppler_dest_free(named);
    return page;
}

/* The outline's entries in document order, with their heading paths. */
static void pdf_outline(PopplerDocument *doc, PopplerIndexIter *iter, int level, struct outline *o,
                        struct pdf_heading **hs, size_t *n, size_t *cap)
{
    do {
        PopplerAction *a = poppler_index_iter_get_action(iter);
        const char *title = a && a->any.title ? a->any.title : NULL;
        int page = dest_page(doc, a);
        if (title && *title && level < MAX_DEPTH) {
            outline_set(o, level, title, strlen(title));
            if (page > 0) {
                if (*n == *cap) *hs = lh_xrealloc(*hs, (*cap = *cap ? *cap * 2 : 16) * sizeof **hs);
                (*hs)[(*n)++] = (struct pdf_heading){page, lh_xstrdup(o->titles[level]), outline_path(o)};
            }
        }
        PopplerIndexIter *child = poppler_index_iter_get_child(iter);
        if (child) {
            if (level + 1 < MAX_DEPTH) pdf_outline(doc, child, level + 1, o, hs, n, cap);
            poppler_index_iter_free(child);
        }
        if (a) poppler_action_free(a);
    } while (poppler_index_iter_next(iter));
}

static lh_code read_pdf(const char *path, size_t chunk_chars, size_t overlap, doc_rows *out, lh_err *err)
{
    char *abs = realpath(path, NULL);
    if (!abs) return lh_err_errno(err, LH_EIO, errno, "cannot resolve %s", path);
    GError *gerr = NULL;
    gchar *uri = g_filename_to_uri(abs, NULL, &gerr);
    free(abs);
    if (!uri) {
        lh_code rc = lh_err_set(err, LH_EIO, "bad path: %s", gerr ? gerr->message : "?");
        if (gerr) g_error_free(gerr);
        return rc;
    }
    PopplerDocument *doc = poppler_document_new_from_file(uri, NULL, &gerr);
    g_free(uri);
    if (!doc) {
        lh_code rc;
        if (gerr && gerr->domain == POPPLER_ERROR && gerr->code == POPPLER_ERROR_ENCRYPTED)
            rc = lh_err_set(err, LH_EINVAL, "the PDF is encrypted (a password is needed to read it)");
        else
            rc = lh_err_set(err, LH_EINVAL, "not a readable PDF: %s", gerr ? gerr->message : "unknown error");
        if (gerr) g_error_free(gerr);
        return rc;
    }
    int pages = poppler_document_get_n_pages(doc);
    size_t before = out->n;
    struct pdf_heading *hs = NULL;
    size_t nh = 0, cap = 0;
    PopplerIndexIter *iter = poppler_index_iter_new(doc);
    if (iter) {
        struct outline o = {0};
        pdf_outline(doc, iter, 0, &o, &hs, &nh, &cap);
        outline_free(&o);
        poppler_index_iter_free(iter);
    }
    char *open_path = NULL; /* the section open at the top of the page */
    for (int i = 0; i < pages; i++) {
        PopplerPage *page = poppler_document_get_page(doc, i);
        if (!page) continue;
        char *text = poppler_page_get_text(page);
        if (text && lh_utf8_valid(text, strlen(text))) {
            struct chunker c = {.out = out, .page = i + 1};
            size_t len = strlen(text), at = 0;
            for (size_t h = 0; h < nh; h++) {
                if (hs[h].page != i + 1) continue;
                const char *found = strstr(text + at, hs[h].title); /* the section starts where its title does */
                size_t split = found ? (size_t)(found - text) : at;
                if (split > at) chunk_section(&c, text + at, split - at, open_path, chunk_chars, overlap);
                at = split;
                free(open_path);
                open_path = lh_xstrdup(hs[h].path);
            }
            if (len > at) chunk_section(&c, text + at, len - at, open_path, chunk_chars, overlap);
        }
        g_free(text);
        g_object_unref(page);
    }
    free(open_path);
    for (size_t h = 0; h < nh; h++) free(hs[h].title), free(hs[h].path);
    free(hs);
    g_object_unref(doc);
    if (out->n == before)
        return lh_err_set(err, LH_EINVAL, "the PDF has %d page(s) but no extractable text (scanned images?)", pages);
    return LH_OK;
}

lh_code ingest_document(const char *path, ingest_format format, const char *encoding,
                        size_t chunk_chars, size_t overlap, doc_rows *out, lh_err *err)
{
    if (format == FMT_PDF) return read_pdf(path, chunk_chars, overlap, out, err);
    lh_buf text = {0};
    lh_code rc = read_text(path, encoding, &text, err);
    if (rc == LH_OK) {
        chunk_markdown(out, text.data ? text.data : "", text.len, chunk_chars, overlap);
        if (out->n == 0) rc = lh_err_set(err, LH_EINVAL, "the document holds only whitespace");
    }
    lh_buf_free(&text);
    return rc;
}
