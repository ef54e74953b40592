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
    for (size_t i = 0; i < r->n; i++) free(r->rows[i].text);
    free(r->rows);
    memset(r, 0, sizeof *r);
}

struct chunker {
    doc_rows *out;
    const char *text;
    int page;
    int chunk_no;
};

static void add_chunk(void *ctx, size_t off, size_t len)
{
    struct chunker *c = ctx;
    doc_rows *r = c->out;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->rows = lh_xrealloc(r->rows, r->cap * sizeof *r->rows);
    }
    r->rows[r->n++] = (doc_row){c->page, c->chunk_no++, lh_xstrndup(c->text + off, len)};
}

static void chunk_page(doc_rows *out, int page, const char *text, size_t len, size_t chunk_chars,
                       size_t overlap)
{
    struct chunker c = {out, text, page, 0};
    lh_ingest_chunk_text(text, len, chunk_chars, overlap, add_chunk, &c);
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
    for (int i = 0; i < pages; i++) {
        PopplerPage *page = poppler_document_get_page(doc, i);
        if (!page) continue;
        char *text = poppler_page_get_text(page);
        if (text) {
            size_t len = strlen(text);
            if (lh_utf8_valid(text, len)) chunk_page(out, i + 1, text, len, chunk_chars, overlap);
            g_free(text);
        }
        g_object_unref(page);
    }
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
        chunk_page(out, 1, text.data ? text.data : "", text.len, chunk_chars, overlap);
        if (out->n == 0) rc = lh_err_set(err, LH_EINVAL, "the document holds only whitespace");
    }
    lh_buf_free(&text);
    return rc;
}
