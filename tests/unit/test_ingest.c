/*
 * test_ingest.c — ingest in-process (src/ingest/): sniffing, chunking, PII
 * tags, every format good and bad, idempotency, schema evolution, and that a
 * failed ingest leaves no version, no object and one error-journal entry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../src/ingest/internal.h"
#define APP_FIXTURE_SETTINGS {"ai.provider", "hash", "test"} /* no embedding here */
#include "app_fixture.h"
#include "lakehouse/lh_app.h"
#include "lakehouse/lh_blake3.h"
#include "lakehouse/lh_file.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_sample.h"
#include "lakehouse/lh_sha256.h"
#include "lakehouse/lh_utf8.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LIT(s) s, sizeof(s) - 1 /* a literal and its length, NULs included */

static char *write_file(struct fixture *f, const char *name, const void *data, size_t n)
{
    char *path = lh_xasprintf("%s/%s", f->dir, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    fclose(fp);
    return path;
}

static char *write_text(struct fixture *f, const char *name, const char *text)
{
    return write_file(f, name, text, strlen(text));
}

/* A minimal PDF with one page per content stream (font /F1: Helvetica), or
 * with a standard security handler whose password nobody knows. */
static char *write_pdf_streams(struct fixture *f, const char *name, const char *const *streams, int n,
                               bool encrypted)
{
    lh_buf b = {0};
    long offsets[64];
    int obj = 0;
    lh_buf_puts(&b, "%PDF-1.4\n");
    offsets[++obj] = (long)b.len;
    lh_buf_puts(&b, "1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n");
    offsets[++obj] = (long)b.len;
    lh_buf_printf(&b, "2 0 obj << /Type /Pages /Count %d /Kids [", n);
    for (int i = 0; i < n; i++) lh_buf_printf(&b, " %d 0 R", 4 + 2 * i);
    lh_buf_puts(&b, " ] >> endobj\n");
    offsets[++obj] = (long)b.len;
    lh_buf_puts(&b, "3 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> endobj\n");
    for (int i = 0; i < n; i++) {
        const char *stream = streams[i];
        int len = (int)strlen(stream);
        offsets[++obj] = (long)b.len;
        lh_buf_printf(&b,
                      "%d 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R "
                      ">> >> /Contents %d 0 R >> endobj\n",
                      obj, obj + 1);
        offsets[++obj] = (long)b.len;
        lh_buf_printf(&b, "%d 0 obj << /Length %d >> stream\n%s\nendstream endobj\n", obj, len, stream);
    }
    int enc = 0;
    if (encrypted) {
        offsets[++obj] = (long)b.len;
        enc = obj;
        lh_buf_printf(&b, "%d 0 obj << /Filter /Standard /V 1 /R 2 /O <", obj);
        for (int i = 0; i < 32; i++) lh_buf_printf(&b, "%02x", (i * 37 + 11) & 0xff);
        lh_buf_puts(&b, "> /U <");
        for (int i = 0; i < 32; i++) lh_buf_printf(&b, "%02x", (i * 53 + 7) & 0xff);
        lh_buf_puts(&b, "> /P -4 >> endobj\n");
    }
    long xref = (long)b.len;
    lh_buf_printf(&b, "xref\n0 %d\n0000000000 65535 f \n", obj + 1);
    for (int i = 1; i <= obj; i++) lh_buf_printf(&b, "%010ld 00000 n \n", offsets[i]);
    lh_buf_printf(&b, "trailer << /Size %d /Root 1 0 R", obj + 1);
    if (encrypted)
        lh_buf_printf(&b, " /Encrypt %d 0 R /ID [<0123456789abcdef0123456789abcdef> <0123456789abcdef0123456789abcdef>]", enc);
    lh_buf_printf(&b, " >>\nstartxref\n%ld\n%%%%EOF\n", xref);
    char *path = write_file(f, name, b.data, b.len);
    lh_buf_free(&b);
    return path;
}

/* The same with one line of 12 pt text per page. */
static char *write_pdf(struct fixture *f, const char *name, const char *const *pages, int n, bool encrypted)
{
    char *streams[8] = {0};
    for (int i = 0; i < n && i < 8; i++) streams[i] = lh_xasprintf("BT /F1 12 Tf 72 720 Td (%s) Tj ET", pages[i]);
    char *path = write_pdf_streams(f, name, (const char *const *)streams, n < 8 ? n : 8, encrypted);
    for (int i = 0; i < n && i < 8; i++) free(streams[i]);
    return path;
}

static lh_code ingest(struct fixture *f, const char *dataset, const char *path, const lh_ingest_options *extra,
                      json_t **report, lh_err *err)
{
    lh_ingest_options o = extra ? *extra : (lh_ingest_options){0};
    o.dataset = dataset;
    const char *slash = strrchr(path, '/');
    lh_ingest_source src = {.path = path, .name = slash ? slash + 1 : path};
    return lh_ingest(lh_app_ingester(f->app), &src, 1, &o, &tester, report, err);
}

/* The result of a query as CSV text (caller frees). */
static char *sql_csv(struct fixture *f, const char *sql)
{
    lh_query_cursor *c;
    lh_err err;
    lh_query_args args = {.sql = sql, .timeout_ms = 10000, .read_only = true};
    if (lh_query_open(lh_app_sql_engine(f->app, &err), &args, &c, &err)) fail_msg("%s: %s", sql, err.message);
    lh_result_writer *w = lh_result_writer_new(c, LH_FORMAT_CSV, 0);
    lh_buf out = {0};
    bool done = false;
    while (!done) assert_int_equal(lh_result_writer_next(w, &out, &done, &err), LH_OK);
    lh_result_writer_free(w);
    lh_query_close(c);
    return lh_buf_detach(&out);
}

static int count_objects(struct fixture *f, const char *prefix)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/data/local/%s", f->dir, prefix);
    int n = 0;
    DIR *d = opendir(path);
    if (!d) return 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* ---- pure functions ---- */

static void t_sniff(void **state)
{
    struct fixture *f = *state;
    struct {
        const char *name, *content;
        size_t len;
        ingest_format want;
        const char *encoding;
    } cases[] = {
        {"a.csv", LIT("x,y\n1,2\n"), FMT_CSV, "utf-8"},
        {"noext", LIT("x;y\n1;2\n"), FMT_CSV, "utf-8"},
        {"noext2", LIT("x\ty\n1\t2\n"), FMT_TSV, "utf-8"},
        {"payload", LIT("  [{\"a\":1}]"), FMT_JSON, "utf-8"},
        {"d.ndjson", LIT("{\"a\":1}\n{\"a\":2}\n"), FMT_JSON, "utf-8"},
        {"notes.md", LIT("# Title\n\nSome text.\n"), FMT_TEXT, "utf-8"},
        {"latin.csv", LIT("nom,ville\nJos\xe9,Montr\xe9" "al\n"), FMT_CSV, "latin-1"},
        {"bom.csv", LIT("\xEF\xBB\xBFx,y\n1,2\n"), FMT_CSV, "utf-8"},
        {"u16.csv", LIT("\xFF\xFEx\0,\0y\0\n\0"), FMT_CSV, "utf-16"},
        {"p", LIT("PAR1\x00\x00rest"), FMT_PARQUET, "utf-8"},
        {"doc.bin", LIT("%PDF-1.4\n..."), FMT_PDF, "utf-8"},
        /* zip archives: by name, else by their first entry */
        {"book.xlsx", LIT("PK\x03\x04\x14\0\0\0"), FMT_XLSX, "utf-8"},
        {"upload", LIT("PK\x03\x04\x14\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x13\0\0\0[Content_Types].xml"), FMT_XLSX, "utf-8"},
        {"upload2", LIT("PK\x03\x04\x14\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x08\0\0\0mimetypeapplication/vnd.oasis.opendocument.spreadsheet"), FMT_ODS, "utf-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *path = write_file(f, cases[i].name, cases[i].content, cases[i].len);
        ingest_format got;
        const char *enc;
        lh_err err;
        if (ingest_sniff(path, cases[i].name, &got, &enc, &err) != LH_OK) fail_msg("%s: %s", cases[i].name, err.message);
        if (got != cases[i].want) fail_msg("%s: format %s", cases[i].name, ingest_format_name(got));
        assert_string_equal(enc, cases[i].encoding);
        free(path);
    }
    struct {
        const char *name, *content;
        size_t len, fragment_len;
        const char *fragment;
    } bad[] = {
        {"empty.csv", LIT(""), 0, "empty"},
        {"garbage.csv", LIT("\x00\x01\x02\x03\xff\xfe\x00junk"), 0, "binary"},
        {"fake.pdf", LIT("not a pdf at all"), 0, "not a PDF"},
        {"fake.parquet", LIT("a,b\n1,2\n"), 0, "not Parquet"},
        {"fake.xlsx", LIT("a,b\n1,2\n"), 0, "named .xlsx but is not a spreadsheet"},
        {"any.zip", LIT("PK\x03\x04\x14\0\0\0\0\0readme.txt"), 0, "not an .xlsx or .ods spreadsheet"},
        {"old.xls", LIT("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0"), 0, "legacy Office file"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *path = write_file(f, bad[i].name, bad[i].content, bad[i].len);
        ingest_format got;
        const char *enc;
        lh_err err;
        assert_int_equal(ingest_sniff(path, bad[i].name, &got, &enc, &err), LH_EINVAL);
        if (!strstr(err.message, bad[i].fragment)) fail_msg("%s: \"%s\"", bad[i].name, err.message);
        free(path);
    }
}

struct chunks {
    const char *text;
    char out[16][256];
    int n;
};

static void collect_chunk(void *ctx, size_t off, size_t len)
{
    struct chunks *c = ctx;
    if (c->n < 16) snprintf(c->out[c->n], sizeof c->out[0], "%.*s", (int)len, c->text + off);
    c->n++;
}

static void t_chunking(void **state)
{
    (void)state;
    const char *text = "First paragraph here.\n\nSecond paragraph is a little longer than the first.\n\n"
                       "Third one.";
    struct chunks c = {.text = text};
    lh_ingest_chunk_text(text, strlen(text), 60, 0, collect_chunk, &c);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.out[0], "First paragraph here.");
    assert_string_equal(c.out[1], "Second paragraph is a little longer than the first.");
    assert_string_equal(c.out[2], "Third one.");
    /* words are never cut; overlap repeats the tail */
    const char *words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu";
    memset(&c, 0, sizeof c);
    c.text = words;
    lh_ingest_chunk_text(words, strlen(words), 20, 6, collect_chunk, &c);
    assert_true(c.n >= 4);
    for (int i = 0; i < c.n && i < 16; i++) {
        assert_true(strlen(c.out[i]) <= 20);
        assert_true(c.out[i][0] != ' ');
    }
    assert_non_null(strstr(c.out[c.n - 1], "mu"));
    /* multi-byte characters are never split */
    const char *accents = "éééééééééé ééééééééé éééé";
    memset(&c, 0, sizeof c);
    c.text = accents;
    lh_ingest_chunk_text(accents, strlen(accents), 7, 0, collect_chunk, &c);
    for (int i = 0; i < c.n; i++) assert_true(lh_utf8_valid(c.out[i], strlen(c.out[i])));
    /* sentences: a chunk ends after one rather than mid-sentence, even where a
     * line break (hard-wrapped PDF text) comes later; abbreviations, initials
     * and decimals do not end one */
    const char *prose = "The plot uses a log scale. Set it with set log y, e.g. for data\n"
                        "spanning decades. Dr. J. Smith wrote 3.5 pages on it! Really? Yes.";
    memset(&c, 0, sizeof c);
    c.text = prose;
    lh_ingest_chunk_text(prose, strlen(prose), 80, 0, collect_chunk, &c);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.out[0], "The plot uses a log scale.");
    assert_string_equal(c.out[1], "Set it with set log y, e.g. for data\nspanning decades.");
    assert_string_equal(c.out[2], "Dr. J. Smith wrote 3.5 pages on it! Really? Yes.");
    memset(&c, 0, sizeof c);
    c.text = prose;
    lh_ingest_chunk_text(prose, strlen(prose), 110, 0, collect_chunk, &c);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.out[0], "The plot uses a log scale. Set it with set log y, e.g. for data\nspanning decades.");
    assert_string_equal(c.out[1], "Dr. J. Smith wrote 3.5 pages on it! Really? Yes.");
    /* a closing quote after the stop, and CJK full stops */
    const char *quoted = "He said \"stop.\" Then he left the room quietly. \xE5\x81\x9C\xE3\x80\x82\xE8\xB5\xB0\xE3\x80\x82";
    memset(&c, 0, sizeof c);
    c.text = quoted;
    lh_ingest_chunk_text(quoted, strlen(quoted), 30, 0, collect_chunk, &c);
    assert_string_equal(c.out[0], "He said \"stop.\"");
    /* overlap starts at a sentence when one starts within it */
    const char *three = "One short sentence here. Two short sentence here. Three short sentence here.";
    memset(&c, 0, sizeof c);
    c.text = three;
    lh_ingest_chunk_text(three, strlen(three), 52, 30, collect_chunk, &c);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.out[0], "One short sentence here. Two short sentence here.");
    assert_string_equal(c.out[1], "Two short sentence here. Three short sentence here.");
    /* a word is cut only when it alone is longer than a chunk */
    const char *long_word = "short supercalifragilisticexpialidocious end";
    memset(&c, 0, sizeof c);
    c.text = long_word;
    lh_ingest_chunk_text(long_word, strlen(long_word), 12, 0, collect_chunk, &c);
    assert_string_equal(c.out[0], "short");
    assert_string_equal(c.out[1], "supercalifra");
    /* whitespace only: no chunk */
    memset(&c, 0, sizeof c);
    lh_ingest_chunk_text("   \n\n  ", 7, 10, 0, collect_chunk, &c);
    assert_int_equal(c.n, 0);
}

static void t_pii(void **state)
{
    (void)state;
    const char *emails[] = {"a@b.com", "x.y@corp.example.org", "z@w.io"};
    assert_string_equal(lh_ingest_pii_kind("contact", emails, 3), "email");
    const char *phones[] = {"(312) 555-0100", "+1 415 555 0199", "312-555-0123"};
    assert_string_equal(lh_ingest_pii_kind("tel", phones, 3), "phone");
    const char *uk[] = {"+44 20 7946 0958", "020 7946 0958", "555-123-4567"};
    assert_string_equal(lh_ingest_pii_kind("tel", uk, 3), "phone");
    /* numbers joined by spaces are not phones (issue 15: a false positive on real data) */
    const char *joined[] = {"12 7 3 45 6 8", "1 2 3 4 5 6 7", "0.5 1.25 3.75 2.5", "10 20 30 40 50 60"};
    assert_null(lh_ingest_pii_kind("scores", joined, 4));
    const char *ssn[] = {"123-45-6789", "987-65-4321"};
    assert_string_equal(lh_ingest_pii_kind("x", ssn, 2), "national_id");
    const char *names[] = {"Ann Lee", "Bob Stone", "María José"};
    assert_string_equal(lh_ingest_pii_kind("full_name", names, 3), "person_name");
    assert_null(lh_ingest_pii_kind("city", names, 3)); /* the column name matters for names */
    const char *cities[] = {"Chicago", "Denver"};
    assert_null(lh_ingest_pii_kind("city", cities, 2));
    const char *mixed[] = {"a@b.com", "hello", "world", "x"};
    assert_null(lh_ingest_pii_kind("notes", mixed, 4));
    assert_null(lh_ingest_pii_kind("empty", NULL, 0));
}

/* ---- ingest ---- */

static void t_formats(void **state)
{
    struct fixture *f = *state;
    lh_err err;
    json_t *r;
    struct {
        const char *dataset, *name, *content;
        const char *check_sql, *expect;
    } good[] = {
        {"csv_ds", "people.csv", "id,name,email\n1,Ann Lee,ann@x.com\n2,Bo Li,bo@y.org\n",
         "SELECT count(*) AS n, max(name) AS m FROM csv_ds", "n,m\r\n2,Bo Li\r\n"},
        {"tsv_ds", "t.tsv", "a\tb\n1\tx y\n2\tz\n", "SELECT sum(a) AS s FROM tsv_ds", "s\r\n3\r\n"},
        {"json_ds", "arr.json", "[{\"k\":1,\"tags\":[\"a\",\"b\"]},{\"k\":2,\"tags\":[]}]",
         "SELECT k, len(tags) AS n FROM json_ds ORDER BY k", "k,n\r\n1,2\r\n2,0\r\n"},
        {"ndjson_ds", "lines.ndjson", "{\"k\":1,\"v\":\"x\"}\n{\"k\":2,\"v\":\"y\"}\n",
         "SELECT string_agg(v, '') AS s FROM (SELECT v FROM ndjson_ds ORDER BY k)", "s\r\nxy\r\n"},
        {"latin_ds", "latin.csv", "nom,ville\nJos\xe9,Montr\xe9" "al\n", "SELECT nom FROM latin_ds",
         "nom\r\nJosé\r\n"},
        {"md_ds", "notes.md", "# Title\n\nFirst paragraph.\n\nSecond paragraph.\n",
         "SELECT page, chunk_no, source FROM md_ds ORDER BY chunk_no", "page,chunk_no,source\r\n1,0,notes.md\r\n"},
        /* a file name (and so its path) that is not UTF-8 is read, and named as Windows-1252 */
        {"latin_name_ds", "r\xe9sum\xe9.md", "# CV\n\nText.\n", "SELECT source FROM latin_name_ds",
         "source\r\nrésumé.md\r\n"},
        {"latin_csv_ds", "caf\xe9.csv", "a,b\n1,2\n", "SELECT a + b AS s FROM latin_csv_ds", "s\r\n3\r\n"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char *path = write_text(f, good[i].name, good[i].content);
        if (ingest(f, good[i].dataset, path, NULL, &r, &err)) fail_msg("%s: %s", good[i].name, err.message);
        assert_true(json_is_true(json_object_get(r, "new_version")));
        json_decref(r);
        char *got = sql_csv(f, good[i].check_sql);
        if (strcmp(got, good[i].expect) != 0) fail_msg("%s: got %s", good[i].name, got);
        free(got);
        free(path);
    }
    /* PII tagging is recorded in the manifest's schema */
    json_t *m;
    assert_int_equal(lh_catalog_get(lh_app_catalog(f->app), "csv_ds", 0, &m, &err), LH_OK);
    json_t *fields = json_object_get(json_object_get(m, "schema"), "fields");
    assert_string_equal(json_string_value(json_object_get(json_array_get(fields, 2), "pii")), "email");
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "lineage"), "actor")), "tester");
    json_decref(m);
    /* Parquet in: the Parquet a dataset wrote can be ingested elsewhere */
    char src[1024];
    snprintf(src, sizeof src, "%s/data/local/datasets/csv_ds/data", f->dir);
    DIR *d = opendir(src);
    struct dirent *e;
    while ((e = readdir(d)) && e->d_name[0] == '.') {}
    char *pq = lh_xasprintf("%s/%s", src, e->d_name);
    closedir(d);
    assert_int_equal(ingest(f, "from_parquet", pq, NULL, &r, &err), LH_OK);
    json_decref(r);
    char *got = sql_csv(f, "SELECT count(*) AS n FROM from_parquet");
    assert_string_equal(got, "n\r\n2\r\n");
    free(got);
    free(pq);
}

static void t_pdf(void **state)
{
    struct fixture *f = *state;
    lh_err err;
    json_t *r;
    const char *pages[] = {"Forklift safety manual page one", "Night shift procedures page two"};
    char *pdf = write_pdf(f, "manual.pdf", pages, 2, false);
    if (ingest(f, "docs", pdf, NULL, &r, &err)) fail_msg("pdf: %s", err.message);
    json_decref(r);
    char *got = sql_csv(f, "SELECT page, text FROM docs ORDER BY page");
    assert_string_equal(got, "page,text\r\n1,Forklift safety manual page one\r\n2,Night shift procedures page two\r\n");
    free(got);
    free(pdf);
    char *enc = write_pdf(f, "secret.pdf", pages, 1, true);
    assert_int_equal(ingest(f, "docs", enc, NULL, &r, &err), LH_EINVAL);
    assert_non_null(strstr(err.message, "encrypted"));
    free(enc);
}

/* No outline: text set larger than the body is a heading, the largest size on top. */
static void t_pdf_type_size_headings(void **state)
{
    struct fixture *f = *state;
    lh_err err;
    json_t *r;
    const char *pages[] = {
        "BT /F1 22 Tf 72 720 Td (User Guide) Tj /F1 11 Tf 0 -30 Td (The guide explains the tool in plain words.) Tj "
        "0 -14 Td (Every page of it has body text set at eleven points.) Tj ET",
        "BT /F1 16 Tf 72 720 Td (Installing) Tj /F1 11 Tf 0 -24 Td (Download the package and unpack it.) Tj "
        "0 -14 Td (Run the installer as the user who will use it.) Tj /F1 16 Tf 0 -30 Td (Logscale) Tj "
        "/F1 11 Tf 0 -24 Td (Set log y makes each tick a power of ten.) Tj ET",
    };
    char *pdf = write_pdf_streams(f, "guide.pdf", pages, 2, false);
    if (ingest(f, "guide", pdf, NULL, &r, &err)) fail_msg("pdf: %s", err.message);
    json_decref(r);
    char *got = sql_csv(f, "SELECT page, section, left(replace(text, chr(10), ' '), 14) AS t FROM guide "
                           "ORDER BY page, chunk_no");
    assert_string_equal(got, "page,section,t\r\n"
                             "1,User Guide,User Guide The\r\n"
                             "2,User Guide > Installing,Installing Dow\r\n"
                             "2,User Guide > Logscale,Logscale Set l\r\n");
    free(got);
    free(pdf);
    /* one size throughout: no headings, no sections */
    const char *flat[] = {"BT /F1 11 Tf 72 720 Td (Only body text here.) Tj 0 -14 Td (And more of it.) Tj ET"};
    pdf = write_pdf_streams(f, "flat.pdf", flat, 1, false);
    if (ingest(f, "flat", pdf, NULL, &r, &err)) fail_msg("pdf: %s", err.message);
    json_decref(r);
    got = sql_csv(f, "SELECT count(*) AS n, count(section) AS s FROM flat");
    assert_string_equal(got, "n,s\r\n1,0\r\n");
    free(got);
    free(pdf);
}

static void t_bad_inputs_leave_nothing(void **state)
{
    struct fixture *f = *state;
    lh_err err;
    json_t *r;
    char *good = write_text(f, "ok.csv", "a,b\n1,2\n");
    assert_int_equal(ingest(f, "victim", good, NULL, &r, &err), LH_OK);
    json_decref(r);
    int objects_before = count_objects(f, "datasets/victim/data");
    char pdf_head[] = "%PDF-1.4\n1 0 obj << /Type /Catalog";
    struct {
        const char *name;
        const char *content;
        size_t len;
        const char *fragment;
        const char *encoding; /* the caller's --encoding, or NULL */
    } bad[] = {
        {"truncated.csv", LIT("a,b\n1,2\n3,\"unterminated"), "unbalanced quotes"},
        {"ragged.csv", LIT("a,b\n1,2\n3,4,5,6\n7,8\n"), "could not be read"},
        {"ragged\xe9.csv", LIT("a,b\n1,2\n3,4,5,6\n7,8\n"), "ragged\xc3\xa9.csv"}, /* read through a link, named in UTF-8 */
        /* not UTF-8 although the caller says so (unsaid, the line would be repaired) */
        {"badutf8.csv", LIT("a,b\n1,ok\n2,\xff\xfe\xfd\x80\x80\n"), "line 3 is not valid UTF-8", "utf-8"},
        {"invalid.json", LIT("[{\"a\":1},{\"a\":"), "JSON"},
        {"garbage.bin", LIT("\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00"), "binary"},
        {"empty.csv", LIT(""), "empty"},
        {"corrupt.pdf", pdf_head, sizeof pdf_head - 1, "PDF"},
        {"corrupt.parquet", LIT("PAR1garbagegarbagePAR1"), ""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *path = write_file(f, bad[i].name, bad[i].content, bad[i].len);
        lh_ingest_options o = {.encoding = bad[i].encoding};
        lh_code rc = ingest(f, "victim", path, &o, &r, &err);
        if (rc == LH_OK) fail_msg("%s was ingested", bad[i].name);
        if (!strstr(err.message, bad[i].fragment)) fail_msg("%s: message \"%s\"", bad[i].name, err.message);
        free(path);
    }
    json_t *m;
    assert_int_equal(lh_catalog_get(lh_app_catalog(f->app), "victim", 0, &m, &err), LH_OK);
    assert_int_equal(json_integer_value(json_object_get(m, "version")), 2); /* no new version */
    json_decref(m);
    assert_int_equal(count_objects(f, "datasets/victim/data"), objects_before); /* no orphan */
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s/data/_tmp", f->dir);
    DIR *d = opendir(tmp);
    int left = 0;
    for (struct dirent *e; d && (e = readdir(d));) left += e->d_name[0] != '.';
    if (d) closedir(d);
    assert_int_equal(left, 0); /* no temp file */
    /* and every failure is in the error journal */
    json_t *errors;
    assert_int_equal(lh_errors_query(lh_app_errors(f->app), 0, 100, &errors, &err), LH_OK);
    int ingest_errors = 0;
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e) ingest_errors += !strcmp(json_string_value(json_object_get(e, "operation")), "ingest");
    assert_int_equal(ingest_errors, (int)(sizeof bad / sizeof bad[0]));
    json_decref(errors);
    /* skip_bad_rows keeps the good rows and reports the bad ones */
    char *ragged = write_text(f, "ragged2.csv", "a,b\n5,6\n3,4,5,6\n7,8\n");
    lh_ingest_options keep = {.skip_bad_rows = true};
    assert_int_equal(ingest(f, "victim", ragged, &keep, &r, &err), LH_OK);
    assert_int_equal(json_array_size(json_object_get(r, "rejects")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(r, "rejects"), 0), "line")), 3);
    json_decref(r);
    free(ragged);
    free(good);
}

static void t_idempotent_and_evolving(void **state)
{
    struct fixture *f = *state;
    lh_err err;
    json_t *r;
    char *v1 = write_text(f, "w1.csv", "id,city\n1,Chicago\n2,Denver\n");
    assert_int_equal(ingest(f, "workers", v1, NULL, &r, &err), LH_OK);
    assert_int_equal(json_integer_value(json_object_get(r, "version")), 2);
    json_decref(r);
    /* the same bytes again (even under another name): no new version, and the report says where they are */
    char *again = write_text(f, "copy.csv", "id,city\n1,Chicago\n2,Denver\n");
    assert_int_equal(ingest(f, "workers", again, NULL, &r, &err), LH_OK);
    assert_false(json_is_true(json_object_get(r, "new_version")));
    json_t *s0 = json_array_get(json_object_get(r, "sources"), 0);
    assert_string_equal(json_string_value(json_object_get(s0, "status")), "already_ingested");
    assert_int_equal(json_integer_value(json_object_get(s0, "version")), 2);
    json_decref(r);
    /* append with a new column and a conflicting type: the schema evolves */
    char *v2 = write_text(f, "w2.csv", "id,city,shift\nA7,Austin,night\n");
    assert_int_equal(ingest(f, "workers", v2, NULL, &r, &err), LH_OK);
    assert_int_equal(json_integer_value(json_object_get(r, "version")), 3);
    json_t *changes = json_object_get(r, "schema_changes");
    assert_int_equal(json_array_size(changes), 2);
    json_decref(r);
    char *got = sql_csv(f, "SELECT id, city, shift FROM workers ORDER BY city");
    assert_string_equal(got, "id,city,shift\r\nA7,Austin,night\r\n1,Chicago,\r\n2,Denver,\r\n");
    free(got);
    /* the old version still reads with its old schema */
    got = sql_csv(f, "SELECT typeof(id) AS t, count(*) AS n FROM lh_version('workers', 2) GROUP BY 1");
    assert_string_equal(got, "t,n\r\nBIGINT,2\r\n");
    free(got);
    /* replace: only the new file, and the same bytes as before count as new content */
    assert_int_equal(ingest(f, "workers", v1, &(lh_ingest_options){.mode = LH_COMMIT_REPLACE}, &r, &err), LH_OK);
    assert_false(json_is_true(json_object_get(r, "new_version"))); /* still held by the head */
    json_decref(r);
    char *v3 = write_text(f, "w3.csv", "id,city\n9,Reno\n");
    assert_int_equal(ingest(f, "workers", v3, &(lh_ingest_options){.mode = LH_COMMIT_REPLACE}, &r, &err), LH_OK);
    json_decref(r);
    got = sql_csv(f, "SELECT count(*) AS n FROM workers");
    assert_string_equal(got, "n\r\n1\r\n");
    free(got);
    /* tombstoned rows disappear from SQL, and come back in older versions */
    json_t *values = json_pack("[s]", "9");
    json_t *m;
    assert_int_equal(lh_catalog_tombstone(lh_app_catalog(f->app), "workers", "id", values, "test", &tester, &m, &err),
                     LH_OK);
    json_decref(values);
    json_decref(m);
    got = sql_csv(f, "SELECT count(*) AS n FROM workers");
    assert_string_equal(got, "n\r\n0\r\n");
    free(got);
    got = sql_csv(f, "SELECT count(*) AS n FROM \"workers@4\"");
    assert_string_equal(got, "n\r\n1\r\n");
    free(got);
    free(v1);
    free(v2);
    free(v3);
    free(again);
}

/* Inputs are known by "blake3:<hex>" of their bytes; a dataset whose history
 * holds bare SHA-256 content hashes (versions written before BLAKE3) still
 * recognises those bytes. */
static void t_content_hash(void **state)
{
    struct fixture *f = *state;
    lh_err err;
    json_t *r;
    const char *text = "id,city\n1,Chicago\n2,Denver\n";
    char *csv = write_text(f, "h.csv", text);
    assert_int_equal(ingest(f, "hashed", csv, NULL, &r, &err), LH_OK);
    lh_blake3 b;
    lh_blake3_init(&b);
    lh_blake3_update(&b, text, strlen(text));
    char want[LH_CONTENT_HASH_LEN + 1];
    lh_blake3_final_content(&b, want);
    json_t *s0 = json_array_get(json_object_get(r, "sources"), 0);
    assert_string_equal(json_string_value(json_object_get(s0, "content_hash")), want);
    json_decref(r);
    json_t *m;
    assert_int_equal(lh_catalog_get(lh_app_catalog(f->app), "hashed", 0, &m, &err), LH_OK);
    assert_int_equal(lh_manifest_content_version(m, want), 2);
    assert_false(lh_manifest_legacy_hashes(m));
    json_decref(m);

    /* an old version recorded another file by its SHA-256 */
    const char *old = "id,city\n3,Austin\n";
    char *old_csv = write_text(f, "old.csv", old);
    char sha[LH_SHA256_HEX_LEN + 1];
    lh_sha256_hex(old, strlen(old), sha);
    json_t *objects = json_array(), *hashes = json_pack("[s]", sha);
    lh_commit req = {.mode = LH_COMMIT_APPEND, .objects = objects, .content_hashes = hashes, .message = "before blake3"};
    assert_int_equal(lh_catalog_commit(lh_app_catalog(f->app), "hashed", &req, &tester, &m, &err), LH_OK);
    int64_t legacy_version = json_integer_value(json_object_get(m, "version"));
    assert_true(lh_manifest_legacy_hashes(m));
    json_decref(m);
    json_decref(objects);
    json_decref(hashes);
    assert_int_equal(ingest(f, "hashed", old_csv, NULL, &r, &err), LH_OK);
    assert_false(json_is_true(json_object_get(r, "new_version")));
    s0 = json_array_get(json_object_get(r, "sources"), 0);
    assert_string_equal(json_string_value(json_object_get(s0, "status")), "already_ingested");
    assert_int_equal(json_integer_value(json_object_get(s0, "version")), legacy_version);
    json_decref(r);
    /* and the BLAKE3 ones still count there */
    assert_int_equal(ingest(f, "hashed", csv, NULL, &r, &err), LH_OK);
    assert_false(json_is_true(json_object_get(r, "new_version")));
    json_decref(r);
    free(csv);
    free(old_csv);
}

/* The Parquet output is hashed while DuckDB writes it (ingest.c, "following
 * the output"): the stored object's bytes must hash to its key, also for a
 * file of several row groups written over many of the follower's polls. */
static void t_output_hash_follows(void **state)
{
    struct fixture *f = *state;
    lh_err err;
    json_t *r;
    lh_buf csv = {0};
    lh_buf_puts(&csv, "id,word,amount\n");
    for (int i = 0; i < 400000; i++) lh_buf_printf(&csv, "%d,w%x,%d.%02d\n", i, i * 2654435761u, i % 9973, i % 100);
    char *path = write_file(f, "big.csv", csv.data, csv.len);
    lh_buf_free(&csv);
    assert_int_equal(ingest(f, "followed", path, NULL, &r, &err), LH_OK);
    json_decref(r);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/data/local/datasets/followed/data", f->dir);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int objects = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char *object = lh_xasprintf("%s/%s", dir, e->d_name), sha[LH_SHA256_HEX_LEN + 1];
        assert_int_equal(lh_sha256_file_hex(object, sha, &err), LH_OK);
        assert_int_equal(strncmp(e->d_name, sha, LH_SHA256_HEX_LEN), 0);
        free(object);
        objects++;
    }
    closedir(d);
    assert_int_equal(objects, 1);
    char *got = sql_csv(f, "SELECT count(*) AS n, sum(id) AS s FROM followed");
    assert_string_equal(got, "n,s\r\n400000,79999800000\r\n");
    free(got);
    free(path);
}

static atomic_bool spinning;

static void *spin(void *arg)
{
    (void)arg;
    while (atomic_load_explicit(&spinning, memory_order_relaxed)) {
    }
    return NULL;
}

/* The input's one pass (internal.h) stops at the end of its piece once
 * handed over, and another thread goes on from there: hashes, census and
 * quote count are those of a pass in one go. A file of three windows' worth,
 * with quotes, UTF-8 and Windows-1252 lines, and a UTF-8 character cut by
 * the piece boundary. The same for a runner taken over. */
static void *pass_run(void *arg)
{
    lh_err err;
    assert_int_equal(ingest_pass_run(arg, &err), LH_OK);
    return NULL;
}

static void t_pass_handed_over(void **state)
{
    struct fixture *f = *state;
    lh_err err;
    lh_buf text = {0};
    lh_buf_puts(&text, "id,city,note\n");
    while (text.len < (256u << 10) - 64) lh_buf_puts(&text, "1,\"Chicago, IL\",plain\n");
    lh_buf_puts(&text, "2,Chicago,");
    while (text.len < (256u << 10) - 1) lh_buf_putc(&text, 'x');
    lh_buf_puts(&text, "\xC3\xA9\n"); /* é across the first piece's end */
    for (int i = 0; text.len < 3 * LH_FILE_WINDOW + 12345; i++)
        lh_buf_printf(&text, i % 1000 == 7 ? "%d,Qu\xE9" "bec,latin\n" : "%d,Qu\xC3\xA9" "bec,\"utf\"\n", i);
    char *path = write_file(f, "pass.csv", text.data, text.len);

    ingest_pass whole, handed;
    char want[LH_CONTENT_HASH_LEN + 1], got[LH_CONTENT_HASH_LEN + 1];
    char want_sha[LH_SHA256_HEX_LEN + 1], got_sha[LH_SHA256_HEX_LEN + 1];
    assert_int_equal(ingest_pass_open(&whole, path, "pass.csv", true, &err), LH_OK);
    assert_int_equal(ingest_pass_run(&whole, &err), LH_OK);
    assert_int_equal(whole.done, text.len);
    ingest_pass_finish(&whole, want, want_sha);
    ingest_pass_close(&whole);
    lh_blake3 b;
    lh_blake3_init(&b);
    lh_blake3_update(&b, text.data, text.len);
    char direct[LH_CONTENT_HASH_LEN + 1];
    lh_blake3_final_content(&b, direct);
    assert_string_equal(want, direct);
    assert_true(whole.census.lines_invalid > 0 && whole.census.lines_utf8 > 0);

    assert_int_equal(ingest_pass_open(&handed, path, "pass.csv", true, &err), LH_OK);
    atomic_store(&handed.hand_over, true); /* before it starts: one piece, then it stops */
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, pass_run, &handed), 0);
    pthread_join(t, NULL);
    assert_int_equal(handed.done, 256u << 10);
    atomic_store(&handed.hand_over, false);
    assert_int_equal(ingest_pass_run(&handed, &err), LH_OK);
    assert_int_equal(handed.done, text.len);
    assert_int_equal(ingest_pass_run(&handed, &err), LH_OK); /* at the end: nothing more */
    assert_int_equal(handed.done, text.len);
    ingest_pass_finish(&handed, got, got_sha);
    ingest_pass_close(&handed);
    assert_string_equal(got, want);
    assert_string_equal(got_sha, want_sha);
    assert_int_equal(handed.quotes, whole.quotes);
    assert_int_equal(handed.census.lines_invalid, whole.census.lines_invalid);
    assert_int_equal(handed.census.lines_utf8, whole.census.lines_utf8);

    /* a runner (its own thread, at SCHED_IDLE) taken over at once, after a
     * while, and while every core is kept busy (it can hardly run): never
     * waited for, and the pass goes on from its last whole piece */
    for (int round = 0; round < 3; round++) {
        long cores = round == 2 ? sysconf(_SC_NPROCESSORS_ONLN) : 0;
        if (cores > 64) cores = 64;
        pthread_t spinners[64];
        atomic_store(&spinning, true);
        for (long i = 0; i < cores; i++) assert_int_equal(pthread_create(&spinners[i], NULL, spin, NULL), 0);
        ingest_pass taker;
        ingest_pass_runner *runner;
        assert_int_equal(ingest_pass_open(&taker, path, "pass.csv", false, &err), LH_OK);
        assert_int_equal(ingest_pass_runner_start(&taker, true, &runner, &err), LH_OK);
        if (round > 0) usleep(200 * 1000);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        ingest_pass_runner_take(runner, &taker);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        /* no wait for the runner (behind the spinners it would take seconds to
         * finish the 48 MB): a copy, with room for a noisy machine's scheduler */
        assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 250);
        atomic_store(&spinning, false);
        for (long i = 0; i < cores; i++) pthread_join(spinners[i], NULL);
        assert_true(taker.done == text.len || taker.done % (256u << 10) == 0);
        assert_int_equal(ingest_pass_run(&taker, &err), LH_OK);
        assert_int_equal(taker.done, text.len);
        ingest_pass_finish(&taker, got, NULL);
        ingest_pass_close(&taker);
        assert_string_equal(got, want);
        assert_int_equal(taker.quotes, whole.quotes);
        assert_int_equal(taker.census.lines_invalid, whole.census.lines_invalid);
        assert_int_equal(taker.census.lines_utf8, whole.census.lines_utf8);
    }
    ingest_pass sha_pass; /* runners hash BLAKE3 only */
    assert_int_equal(ingest_pass_open(&sha_pass, path, "pass.csv", true, &err), LH_OK);
    ingest_pass_runner *none;
    assert_int_equal(ingest_pass_runner_start(&sha_pass, true, &none, &err), LH_EINTERNAL);
    ingest_pass_close(&sha_pass);

    /* the ingest: its hash runner (idle: the bytes are new) is taken over
     * wherever the conversion ends; the content hash is the file's */
    json_t *r;
    assert_int_equal(ingest(f, "handed", path, NULL, &r, &err), LH_OK);
    json_t *s0 = json_array_get(json_object_get(r, "sources"), 0);
    assert_string_equal(json_string_value(json_object_get(s0, "content_hash")), want);
    assert_int_equal(json_integer_value(json_object_get(s0, "lines_repaired")), (json_int_t)whole.census.lines_invalid);
    json_decref(r);
    /* the same bytes again (hashed at full priority: the last version's size) are known */
    assert_int_equal(ingest(f, "handed", path, NULL, &r, &err), LH_OK);
    s0 = json_array_get(json_object_get(r, "sources"), 0);
    assert_string_equal(json_string_value(json_object_get(s0, "status")), "already_ingested");
    json_decref(r);
    lh_buf_free(&text);
    free(path);
}

/* PII tags come from one scan of every text column: a column empty for its
 * first 5,000 rows is still judged on the values after them, each column on
 * its own values, and a file of 3,000 text columns gets its tag in the middle. */
static void t_pii_one_scan(void **state)
{
    struct fixture *f = *state;
    lh_err err;
    json_t *r, *m;
    lh_buf csv = {0};
    lh_buf_puts(&csv, "id,contact,tel,note\n");
    for (int i = 0; i < 6000; i++)
        if (i < 5000) lh_buf_printf(&csv, "%d,,+1 415 555 %04d,row %d\n", i, i, i);
        else lh_buf_printf(&csv, "%d,user%d@example.org,+1 415 555 %04d,row %d\n", i, i, i % 10000, i);
    char *path = write_file(f, "sparse.csv", csv.data, csv.len);
    assert_int_equal(ingest(f, "sparse", path, NULL, &r, &err), LH_OK);
    json_decref(r);
    free(path);
    assert_int_equal(lh_catalog_get(lh_app_catalog(f->app), "sparse", 0, &m, &err), LH_OK);
    json_t *fields = json_object_get(json_object_get(m, "schema"), "fields");
    assert_null(json_object_get(json_array_get(fields, 0), "pii"));
    assert_string_equal(json_string_value(json_object_get(json_array_get(fields, 1), "pii")), "email");
    assert_string_equal(json_string_value(json_object_get(json_array_get(fields, 2), "pii")), "phone");
    assert_null(json_object_get(json_array_get(fields, 3), "pii"));
    json_decref(m);

    enum { WIDE = 3000, MAIL = 1717 };
    lh_buf_reset(&csv);
    for (int c = 0; c < WIDE; c++) lh_buf_printf(&csv, "%sc%d", c ? "," : "", c);
    for (int row = 0; row < 3; row++)
        for (int c = 0; c < WIDE; c++) {
            lh_buf_puts(&csv, c == 0 ? "\n" : ",");
            if (c == MAIL) lh_buf_printf(&csv, "p%d@example.com", row);
            else lh_buf_printf(&csv, "v%d_%d", row, c);
        }
    lh_buf_putc(&csv, '\n');
    path = write_file(f, "wide.csv", csv.data, csv.len);
    lh_buf_free(&csv);
    assert_int_equal(ingest(f, "wide_text", path, NULL, &r, &err), LH_OK);
    json_decref(r);
    free(path);
    assert_int_equal(lh_catalog_get(lh_app_catalog(f->app), "wide_text", 0, &m, &err), LH_OK);
    fields = json_object_get(json_object_get(m, "schema"), "fields");
    assert_int_equal(json_array_size(fields), WIDE);
    for (int c = 0; c < WIDE; c++) {
        const char *pii = json_string_value(json_object_get(json_array_get(fields, c), "pii"));
        if (c == MAIL) assert_string_equal(pii, "email");
        else assert_null(pii);
    }
    json_decref(m);
}

static void t_sample_is_deterministic(void **state)
{
    struct fixture *f = *state;
    char *a = lh_xasprintf("%s/sa", f->dir), *b = lh_xasprintf("%s/sb", f->dir);
    lh_err err;
    assert_int_equal(lh_sample_generate(a, 100, 7, &err), LH_OK);
    assert_int_equal(lh_sample_generate(b, 100, 7, &err), LH_OK);
    for (int i = 0; i < LH_SAMPLE_FILES; i++) {
        char *pa = lh_xasprintf("%s/%s", a, lh_sample_files[i]), *pb = lh_xasprintf("%s/%s", b, lh_sample_files[i]);
        char ha[65], hb[65];
        assert_int_equal(lh_sha256_file_hex(pa, ha, &err), LH_OK);
        assert_int_equal(lh_sha256_file_hex(pb, hb, &err), LH_OK);
        assert_string_equal(ha, hb);
        free(pa);
        free(pb);
    }
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t_sniff, app_setup, app_teardown),
        cmocka_unit_test(t_chunking),
        cmocka_unit_test(t_pii),
        cmocka_unit_test_setup_teardown(t_formats, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(t_pdf_type_size_headings, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(t_pdf, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(t_bad_inputs_leave_nothing, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(t_idempotent_and_evolving, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(t_content_hash, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(t_output_hash_follows, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(t_pass_handed_over, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(t_pii_one_scan, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(t_sample_is_deterministic, app_setup, app_teardown),
    };
    return cmocka_run_group_tests_name("ingest", tests, NULL, NULL);
}
