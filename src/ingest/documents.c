/*
 * documents.c — text, Markdown and PDF files as chunk rows.
 *
 * PDF text comes from poppler-glib, one page at a time. Sections come from
 * the outline (bookmarks); a PDF without one gets them from its type: text
 * runs set larger than the body text (the size most characters have) are
 * headings, the largest size the top level. Encrypted, damaged or
 * image-only PDFs are errors that say which of these it is.
 */
#include "internal.h"

#include "lakehouse/lh_buf.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_utf8.h"

#include <dlfcn.h>
#include <errno.h>
#include <iconv.h>
#include <limits.h>
#include <poppler.h>
#include <pthread.h>
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

/* ---- poppler, loaded on the first PDF ----
 *
 * libpoppler-glib brings ~40 libraries (cairo, NSS, X11 ...) whose loading
 * cost every command ~7 ms at its start: it is opened when a PDF comes, and
 * a machine without it reads everything else. */

#ifndef LH_POPPLER_SONAME
#define LH_POPPLER_SONAME "libpoppler-glib.so.8"
#endif

static struct {
    __typeof__(&poppler_document_new_from_file) document_new_from_file;
    __typeof__(&poppler_document_get_n_pages) document_get_n_pages;
    __typeof__(&poppler_document_get_page) document_get_page;
    __typeof__(&poppler_document_find_dest) document_find_dest;
    __typeof__(&poppler_dest_free) dest_free;
    __typeof__(&poppler_index_iter_new) index_iter_new;
    __typeof__(&poppler_index_iter_next) index_iter_next;
    __typeof__(&poppler_index_iter_get_child) index_iter_get_child;
    __typeof__(&poppler_index_iter_get_action) index_iter_get_action;
    __typeof__(&poppler_index_iter_free) index_iter_free;
    __typeof__(&poppler_action_free) action_free;
    __typeof__(&poppler_page_get_text) page_get_text;
    __typeof__(&poppler_page_get_text_attributes) page_get_text_attributes;
    __typeof__(&poppler_page_free_text_attributes) page_free_text_attributes;
    __typeof__(&poppler_error_quark) error_quark;
} pp;
static pthread_once_t pp_once = PTHREAD_ONCE_INIT;
static char pp_error[256]; /* why it could not be loaded; "" once loaded */

static void pp_load(void)
{
    void *h = dlopen(LH_POPPLER_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(pp_error, sizeof pp_error, "%s", dlerror());
        return;
    }
    if (!(pp.document_new_from_file = dlsym(h, "poppler_document_new_from_file"))
        || !(pp.document_get_n_pages = dlsym(h, "poppler_document_get_n_pages"))
        || !(pp.document_get_page = dlsym(h, "poppler_document_get_page"))
        || !(pp.document_find_dest = dlsym(h, "poppler_document_find_dest"))
        || !(pp.dest_free = dlsym(h, "poppler_dest_free"))
        || !(pp.index_iter_new = dlsym(h, "poppler_index_iter_new"))
        || !(pp.index_iter_next = dlsym(h, "poppler_index_iter_next"))
        || !(pp.index_iter_get_child = dlsym(h, "poppler_index_iter_get_child"))
        || !(pp.index_iter_get_action = dlsym(h, "poppler_index_iter_get_action"))
        || !(pp.index_iter_free = dlsym(h, "poppler_index_iter_free"))
        || !(pp.action_free = dlsym(h, "poppler_action_free"))
        || !(pp.page_get_text = dlsym(h, "poppler_page_get_text"))
        || !(pp.page_get_text_attributes = dlsym(h, "poppler_page_get_text_attributes"))
        || !(pp.page_free_text_attributes = dlsym(h, "poppler_page_free_text_attributes"))
        || !(pp.error_quark = dlsym(h, "poppler_error_quark"))) {
        snprintf(pp_error, sizeof pp_error, "%s lacks a function: %s", LH_POPPLER_SONAME, dlerror());
        dlclose(h);
        return;
    }
    pp_error[0] = '\0';
}

static lh_code pp_ready(lh_err *err)
{
    pthread_once(&pp_once, pp_load);
    if (!pp_error[0]) return LH_OK;
    return lh_err_set(err, LH_EUNSUPPORTED, "PDF support needs %s (Debian: libpoppler-glib8), which could not be loaded: %s",
                      LH_POPPLER_SONAME, pp_error);
}

struct pdf_heading {
    int page; /* 1-based */
    char *title, *path;
    long offset; /* byte offset of the heading in its page's text (type-size headings), or -1: find the title */
};

/* The page (1-based) an outline entry goes to, or 0. */
static int dest_page(PopplerDocument *doc, PopplerAction *a)
{
    if (!a || a->type != POPPLER_ACTION_GOTO_DEST || !a->goto_dest.dest) return 0;
    PopplerDest *d = a->goto_dest.dest;
    if (d->type != POPPLER_DEST_NAMED) return d->page_num;
    PopplerDest *named = pp.document_find_dest(doc, d->named_dest);
    int page = named ? named->page_num : 0;
    if (named) pp.dest_free(named);
    return page;
}

/* The outline's entries in document order, with their heading paths. */
static void pdf_outline(PopplerDocument *doc, PopplerIndexIter *iter, int level, struct outline *o,
                        struct pdf_heading **hs, size_t *n, size_t *cap)
{
    do {
        PopplerAction *a = pp.index_iter_get_action(iter);
        const char *title = a && a->any.title ? a->any.title : NULL;
        int page = dest_page(doc, a);
        if (title && *title && level < MAX_DEPTH) {
            outline_set(o, level, title, strlen(title));
            if (page > 0) {
                if (*n == *cap) *hs = lh_xrealloc(*hs, (*cap = *cap ? *cap * 2 : 16) * sizeof **hs);
                (*hs)[(*n)++] = (struct pdf_heading){page, lh_xstrdup(o->titles[level]), outline_path(o), -1};
            }
        }
        PopplerIndexIter *child = pp.index_iter_get_child(iter);
        if (child) {
            if (level + 1 < MAX_DEPTH) pdf_outline(doc, child, level + 1, o, hs, n, cap);
            pp.index_iter_free(child);
        }
        if (a) pp.action_free(a);
    } while (pp.index_iter_next(iter));
}

/* ---- PDF headings from type sizes ---- */

#define HEADING_SIZE_RATIO 1.15 /* a heading is set this much larger than the body, */
#define HEADING_SIZE_MIN_GAP 1.0 /* and at least this many points larger */
#define HEADING_SHARE_MAX 0.2    /* a size more than this share of the text is body, not headings */
#define HEADING_CHARS_MAX 120    /* a longer run is emphasised text, not a heading */

struct size_run {
    int page;            /* 0-based */
    int start, end;      /* characters of the page's text, end exclusive */
    double size;         /* points, to the half point */
};

struct type_sizes {
    struct size_run *runs;
    size_t n, cap;
    double levels[MAX_DEPTH]; /* heading sizes, largest first */
    int nlevels;
};

/* Reads every page's text runs and decides which sizes are headings. */
static void pdf_type_sizes(PopplerDocument *doc, int pages, struct type_sizes *ts)
{
    struct size_count {
        double size;
        long chars;
    } hist[64];
    int nh = 0;
    long total = 0;
    for (int i = 0; i < pages; i++) {
        PopplerPage *page = pp.document_get_page(doc, i);
        if (!page) continue;
        GList *attrs = pp.page_get_text_attributes(page);
        for (GList *l = attrs; l; l = l->next) {
            PopplerTextAttributes *a = l->data;
            if (a->end_index < a->start_index || a->font_size <= 0 || a->font_size > 1000) continue;
            double size = (double)(long)(a->font_size * 2 + 0.5) / 2;
            long chars = a->end_index - a->start_index + 1;
            total += chars;
            int k = 0;
            while (k < nh && hist[k].size != size) k++;
            if (k == nh && nh < 64) hist[nh++] = (struct size_count){size, 0};
            if (k < nh) hist[k].chars += chars;
            if (ts->n == ts->cap) ts->runs = lh_xrealloc(ts->runs, (ts->cap = ts->cap ? ts->cap * 2 : 64) * sizeof *ts->runs);
            ts->runs[ts->n++] = (struct size_run){i, a->start_index, a->end_index + 1, size};
        }
        pp.page_free_text_attributes(attrs);
        g_object_unref(page);
    }
    if (!nh || !total) return;
    int body = 0;
    for (int k = 1; k < nh; k++)
        if (hist[k].chars > hist[body].chars) body = k;
    double base = hist[body].size;
    for (int k = 0; k < nh; k++) {
        double sz = hist[k].size;
        if (sz < base * HEADING_SIZE_RATIO || sz < base + HEADING_SIZE_MIN_GAP ||
            (double)hist[k].chars > HEADING_SHARE_MAX * (double)total)
            continue;
        /* keep the largest MAX_DEPTH sizes, in order */
        int at = ts->nlevels;
        while (at > 0 && ts->levels[at - 1] < sz) at--;
        if (at >= MAX_DEPTH) continue;
        int last = ts->nlevels < MAX_DEPTH ? ts->nlevels : MAX_DEPTH - 1;
        memmove(ts->levels + at + 1, ts->levels + at, (size_t)(last - at) * sizeof ts->levels[0]);
        ts->levels[at] = sz;
        if (ts->nlevels < MAX_DEPTH) ts->nlevels++;
    }
}

/* The page's headings by type size, in reading order, their paths built on o. */
static void pdf_size_headings(const struct type_sizes *ts, int page, const char *text, struct outline *o,
                              struct pdf_heading **hs, size_t *n, size_t *cap)
{
    glong chars = g_utf8_strlen(text, -1);
    for (size_t r = 0; r < ts->n; r++) {
        const struct size_run *run = &ts->runs[r];
        if (run->page != page || run->end > chars) continue;
        int level = 0;
        while (level < ts->nlevels && ts->levels[level] != run->size) level++;
        if (level == ts->nlevels) continue;
        const char *from = g_utf8_offset_to_pointer(text, run->start), *to = g_utf8_offset_to_pointer(text, run->end);
        /* the title: the run's words on one line */
        lh_buf title = {0};
        bool letters = false;
        for (const char *p = from; p < to; p++) {
            bool space = *p == ' ' || *p == '\n' || *p == '\r' || *p == '\t';
            if (space && (!title.len || title.data[title.len - 1] == ' ')) continue;
            lh_buf_putc(&title, space ? ' ' : *p);
            letters |= ((unsigned char)*p >= 0x80 || (*p | 0x20) >= 'a') && (*p | 0x20) <= 'z';
        }
        while (title.len && title.data[title.len - 1] == ' ') title.data[--title.len] = '\0';
        if (!letters || title.len < 2 || g_utf8_strlen(title.data, -1) > HEADING_CHARS_MAX) {
            lh_buf_free(&title);
            continue;
        }
        while (from < to && (*from == ' ' || *from == '\n' || *from == '\r' || *from == '\t')) from++;
        outline_set(o, level, title.data, title.len);
        if (*n == *cap) *hs = lh_xrealloc(*hs, (*cap = *cap ? *cap * 2 : 16) * sizeof **hs);
        (*hs)[(*n)++] = (struct pdf_heading){page + 1, lh_buf_detach(&title), outline_path(o), (long)(from - text)};
    }
}

/* Whether text[0..n) holds nothing but title (blanks aside). */
static bool only_title(const char *text, size_t n, const char *title)
{
    if (!title) return false;
    for (const char *t = title;; t++) {
        while (n && (*text == ' ' || *text == '\n' || *text == '\r' || *text == '\t')) text++, n--;
        while (*t == ' ') t++;
        if (!*t) return n == 0;
        if (!n || *text != *t) return false;
        text++, n--;
    }
}

static lh_code read_pdf(const char *path, size_t chunk_chars, size_t overlap, doc_rows *out, lh_err *err)
{
    lh_code ready = pp_ready(err);
    if (ready) return ready;
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
    PopplerDocument *doc = pp.document_new_from_file(uri, NULL, &gerr);
    g_free(uri);
    if (!doc) {
        lh_code rc;
        if (gerr && gerr->domain == pp.error_quark() && gerr->code == POPPLER_ERROR_ENCRYPTED)
            rc = lh_err_set(err, LH_EINVAL, "the PDF is encrypted (a password is needed to read it)");
        else
            rc = lh_err_set(err, LH_EINVAL, "not a readable PDF: %s", gerr ? gerr->message : "unknown error");
        if (gerr) g_error_free(gerr);
        return rc;
    }
    int pages = pp.document_get_n_pages(doc);
    size_t before = out->n;
    struct pdf_heading *hs = NULL;
    size_t nh = 0, cap = 0;
    PopplerIndexIter *iter = pp.index_iter_new(doc);
    if (iter) {
        struct outline o = {0};
        pdf_outline(doc, iter, 0, &o, &hs, &nh, &cap);
        outline_free(&o);
        pp.index_iter_free(iter);
    }
    struct type_sizes ts = {0};
    struct outline size_outline = {0};
    if (nh == 0) pdf_type_sizes(doc, pages, &ts); /* no outline: headings from type sizes */
    char *open_path = NULL; /* the section open at the top of the page */
    const char *open_title = NULL;
    for (int i = 0; i < pages; i++) {
        PopplerPage *page = pp.document_get_page(doc, i);
        if (!page) continue;
        char *text = pp.page_get_text(page);
        if (text && lh_utf8_valid(text, strlen(text))) {
            if (ts.nlevels) pdf_size_headings(&ts, i, text, &size_outline, &hs, &nh, &cap);
            struct chunker c = {.out = out, .page = i + 1};
            size_t len = strlen(text), at = 0;
            for (size_t h = 0; h < nh; h++) {
                if (hs[h].page != i + 1) continue;
                /* the section starts where its title does */
                const char *found = hs[h].offset >= 0 ? text + hs[h].offset : strstr(text + at, hs[h].title);
                size_t split = found && (size_t)(found - text) >= at ? (size_t)(found - text) : at;
                /* a heading straight above the next one is in that one's path: no chunk of its own */
                if (split > at && !only_title(text + at, split - at, open_title))
                    chunk_section(&c, text + at, split - at, open_path, chunk_chars, overlap);
                open_title = hs[h].title;
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
    free(ts.runs);
    outline_free(&size_outline);
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
