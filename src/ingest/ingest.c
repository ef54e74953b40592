/*
 * ingest.c — one ingest call: hash, skip what is known, convert to Parquet
 * with DuckDB, tag PII, store, commit. See lh_ingest.h for the contract.
 */
#include "internal.h"

#include "lakehouse/lh_blake3.h"
#include "lakehouse/lh_file.h"
#include "lakehouse/lh_log.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_query_duckdb.h"
#include "lakehouse/lh_sha256.h"
#include "lakehouse/lh_time.h"
#include "lakehouse/lh_utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_REJECT_SAMPLES 10
#define PII_SAMPLE 200       /* values a column's PII check looks at */
#define PII_SCAN_ROWS 122880 /* rows scanned at most for them: a row group */

struct lh_ingester {
    lh_query_engine *engine;
    lh_catalog *catalog;
    lh_buckets *buckets;
    lh_errors *errors;
    char *tmp_dir;
    size_t chunk_chars, chunk_overlap;
    size_t max_line_bytes;
    atomic_uint counter;
};

/* What became of one input. */
struct input {
    const char *name;
    const char *path;
    ingest_format format;
    const char *encoding;
    char hash[LH_CONTENT_HASH_LEN + 1]; /* "blake3:<hex>" */
    bool legacy;                        /* the dataset holds SHA-256 content hashes: compute that too */
    char sha256[LH_SHA256_HEX_LEN + 1]; /* ... here */
    uint64_t bytes;
    int64_t duplicate_of; /* version already holding these bytes, 0 if new */
    bool repeated;        /* the same bytes appear earlier in this call */
    char *parquet;        /* temp file */
    csv_dialect dialect;  /* CSV: what the sniffer is told (dialect.c) */
    char delimiter;       /* CSV: the caller's field separator, or 0 (sniffed) */
    char *rewritten;      /* CSV aligned by spaces, rewritten as TSV (temp file), or NULL */
    char *repaired;       /* text mixing UTF-8 and Windows-1252 lines, all UTF-8 (temp file), or NULL */
    lh_utf8_census census; /* lines that are not UTF-8, counted while hashing */
    char *sheet_rows;     /* spreadsheets: every sheet's rows as NDJSON (temp file) */
    char *sheet_columns;  /* ... and the DuckDB struct of their names and types */
    uint64_t lines_repaired;
    int64_t rows, rejected;
    uint64_t quotes; /* '"' bytes in the input: an odd count means a cut-off quoted field */
    uint64_t hash_rest;    /* of its bytes, those hashed after the conversion (handed over) */
    double hash_rest_ms;   /* ... and the time that took */
    json_t *fields; /* [{name, type, pii?}] */
    json_t *rejects;
    char parquet_sha[LH_SHA256_HEX_LEN + 1];
    uint64_t parquet_size;
    uint64_t parquet_tail; /* of it, the bytes hashed after DuckDB was done (the rest was followed) */
    double ms[5];  /* time spent per phase (PH_*), for the ingest.timing debug log */
    char *key;     /* where it was stored */
    bool uploaded; /* we created the object (to remove it if the call fails) */
    char *own_name; /* the name decoded as Windows-1252 when it is not UTF-8, or NULL */
    char *link;     /* a UTF-8-named symlink to a path that is not UTF-8 (DuckDB's strings must be), or NULL */
};

lh_code lh_ingester_new(const lh_ingester_config *cfg, lh_ingester **out, lh_err *err)
{
    if (mkdir(cfg->tmp_dir, 0755) != 0 && errno != EEXIST)
        return lh_err_errno(err, LH_EIO, errno, "cannot create %s", cfg->tmp_dir);
    lh_ingester *ing = lh_xcalloc(1, sizeof *ing);
    ing->engine = cfg->engine;
    ing->catalog = cfg->catalog;
    ing->buckets = cfg->buckets;
    ing->errors = cfg->errors;
    ing->tmp_dir = lh_xstrdup(cfg->tmp_dir);
    ing->chunk_chars = cfg->chunk_chars ? cfg->chunk_chars : 1000;
    ing->chunk_overlap = cfg->chunk_overlap;
    ing->max_line_bytes = cfg->max_line_bytes ? cfg->max_line_bytes : 2u << 20;
    *out = ing;
    return LH_OK;
}

void lh_ingester_free(lh_ingester *ing)
{
    if (!ing) return;
    free(ing->tmp_dir);
    free(ing);
}

/* ---- timing ---- */

enum { PH_HASH, PH_PREPARE, PH_CONVERT, PH_DESCRIBE, PH_STORE };

static double mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* ---- DuckDB helpers ---- */

/* Runs a query whose columns are all VARCHAR; *rows is [[s|null, ...], ...]. */
static lh_code query_strings(duckdb_connection conn, const char *sql, json_t **rows, lh_err *err)
{
    duckdb_result r;
    if (duckdb_query(conn, sql, &r) == DuckDBError) {
        lh_code rc = lh_err_set(err, LH_EINVAL, "%s", duckdb_result_error(&r));
        duckdb_destroy_result(&r);
        return rc;
    }
    json_t *out = json_array();
    idx_t cols = duckdb_column_count(&r);
    duckdb_data_chunk chunk;
    while ((chunk = duckdb_fetch_chunk(r))) {
        idx_t n = duckdb_data_chunk_get_size(chunk);
        for (idx_t row = 0; row < n; row++) {
            json_t *line = json_array();
            for (idx_t c = 0; c < cols; c++) {
                duckdb_vector v = duckdb_data_chunk_get_vector(chunk, c);
                uint64_t *valid = duckdb_vector_get_validity(v);
                if (valid && !duckdb_validity_row_is_valid(valid, row)) {
                    json_array_append_new(line, json_null());
                    continue;
                }
                duckdb_string_t *s = &((duckdb_string_t *)duckdb_vector_get_data(v))[row];
                json_array_append_new(line, json_stringn(duckdb_string_t_data(s), duckdb_string_t_length(*s)));
            }
            json_array_append_new(out, line);
        }
        duckdb_destroy_data_chunk(&chunk);
    }
    duckdb_destroy_result(&r);
    *rows = out;
    return LH_OK;
}

/* ---- progress ---- */

struct poller {
    lh_query_lease *lease;
    const lh_ingest_options *opt;
    const char *source;
    atomic_bool stop;
};

static void *poll_progress(void *arg)
{
    struct poller *p = arg;
    while (!atomic_load(&p->stop)) {
        double pct = lh_query_progress(p->lease);
        if (pct >= 0) p->opt->progress(p->opt->progress_ctx, p->source, pct / 100.0);
        usleep(50 * 1000); /* several samples even for a conversion of half a second */
    }
    return NULL;
}

/* ---- conversion ---- */

/* The file the readers take: the repaired copy when there is one. */
static const char *text_path(const struct input *in)
{
    return in->repaired ? in->repaired : in->path;
}

/* The encoding the readers take: a repaired copy is UTF-8. */
static const char *text_encoding(const struct input *in)
{
    return in->repaired ? "utf-8" : in->encoding;
}

/* The caller's word over the sniffer's (delimiter, header, decimal). */
static lh_code csv_overrides(struct input *in, const lh_ingest_options *opt, lh_err *err)
{
    if (in->format != FMT_CSV && in->format != FMT_TSV) return LH_OK;
    const char *d = opt->delimiter;
    if (d && !strcmp(d, "\\t")) d = "\t";
    if (d && strcmp(d, "whitespace") && strlen(d) != 1)
        return lh_err_set(err, LH_EINVAL, "\"delimiter\" must be one character, \"\\t\" or \"whitespace\", not \"%.20s\"", d);
    if (d) {
        in->dialect.whitespace = !strcmp(d, "whitespace");
        in->delimiter = in->dialect.whitespace ? 0 : d[0];
    }
    if (opt->header != LH_HEADER_SNIFFED) in->dialect.header = opt->header == LH_HEADER_YES;
    if (opt->decimal) in->dialect.decimal_comma = !strcmp(opt->decimal, ",");
    if (in->dialect.decimal_comma && in->delimiter == ',')
        return lh_err_set(err, LH_EINVAL, "%s: a decimal comma needs another delimiter (e.g. \";\")", in->name);
    return LH_OK;
}

/* A CSV error DuckDB gives without a reason ("CSV Error on Line: N") when a
 * line or a quoted value is longer than max_line_size: said, with the fix. */
static bool csv_line_too_long(const lh_ingester *ing, const struct input *in, lh_err *err)
{
    if (in->format != FMT_CSV && in->format != FMT_TSV) return false;
    const char *at = strstr(err->message, "CSV Error on Line: ");
    if (!at) return false;
    long long line = strtoll(at + 19, NULL, 10);
    lh_err_set(err, LH_ETOOBIG,
               "%s line %lld: a line or quoted value is longer than the %zu MiB a CSV line may hold "
               "(ingest.max_line_bytes; raise it, e.g. --set ingest.max_line_bytes=64MiB)",
               in->name, line, ing->max_line_bytes >> 20);
    return true;
}

/* NDJSON: the first line that is not a JSON value, with what is wrong with
 * it, into err. False when every line parses (the input is a JSON array or
 * the fault is elsewhere: DuckDB's message stands). */
static bool ndjson_bad_line(const struct input *in, lh_err *err)
{
    FILE *f = fopen(text_path(in), "rb");
    if (!f) return false;
    char *line = NULL;
    size_t cap = 0, no = 0;
    ssize_t n;
    bool found = false;
    while (!found && (n = getline(&line, &cap, f)) >= 0) {
        no++;
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t')) len--;
        if (len == 0) continue;
        if (no == 1 && line[0] == '[') break; /* a JSON array, not NDJSON */
        json_error_t jerr;
        json_t *j = json_loadb(line, len, JSON_DECODE_ANY, &jerr);
        if (!j) {
            lh_err_set(err, LH_EINVAL, "%s line %zu, column %d: not JSON: %s", in->name, no, jerr.column, jerr.text);
            found = true;
        }
        json_decref(j);
    }
    free(line);
    fclose(f);
    return found;
}

static lh_code convert_table(const lh_ingester *ing, duckdb_connection conn, lh_query_lease *lease, struct input *in,
                             lh_err *err)
{
    lh_buf src = {0}, sql = {0};
    /* DuckDB keeps rejected rows in temp tables of the (pooled) connection:
     * each conversion names its own and drops them on every path out, so no
     * ingest ever reads another's rejects */
    static atomic_ulong reject_seq;
    char rejects[64], scans[64], drop[160];
    unsigned long seq = atomic_fetch_add(&reject_seq, 1);
    snprintf(rejects, sizeof rejects, "lh_rejects_%lu", seq);
    snprintf(scans, sizeof scans, "lh_reject_scans_%lu", seq);
    snprintf(drop, sizeof drop, "DROP TABLE IF EXISTS %s; DROP TABLE IF EXISTS %s", rejects, scans);
    switch (in->format) {
    case FMT_CSV:
    case FMT_TSV:
        lh_buf_puts(&src, "read_csv(");
        lh_sql_quote_literal(&src, in->rewritten ? in->rewritten : text_path(in));
        /* DuckDB reads a CSV in buffers of at least 16 lines of max_line_size */
        lh_buf_printf(&src, ", auto_detect = true, sample_size = 20480, encoding = '%s', "
                            "store_rejects = true, rejects_table = '%s', rejects_scan = '%s', "
                            "max_line_size = %zu, buffer_size = %zu",
                      text_encoding(in), rejects, scans, ing->max_line_bytes,
                      ing->max_line_bytes * 16 > (32u << 20) ? ing->max_line_bytes * 16 : (32u << 20));
        if (in->format == FMT_TSV || in->rewritten) {
            lh_buf_puts(&src, ", delim = '\\t'");
        } else if (in->delimiter) {
            char delim[2] = {in->delimiter, 0};
            lh_buf_puts(&src, ", delim = ");
            lh_sql_quote_literal(&src, delim);
        }
        if (in->dialect.header >= 0) lh_buf_printf(&src, ", header = %s", in->dialect.header ? "true" : "false");
        if (in->dialect.decimal_comma) lh_buf_puts(&src, ", decimal_separator = ','");
        lh_buf_putc(&src, ')');
        break;
    case FMT_XLSX:
    case FMT_ODS:
        lh_buf_puts(&src, "read_json(");
        lh_sql_quote_literal(&src, in->sheet_rows);
        lh_buf_printf(&src, ", format = 'newline_delimited', records = true, maximum_object_size = 268435456, "
                            "columns = %s)", in->sheet_columns);
        break;
    case FMT_JSON:
        lh_buf_puts(&src, "read_json(");
        lh_sql_quote_literal(&src, text_path(in));
        lh_buf_puts(&src, ", format = 'auto', records = 'auto', maximum_object_size = 67108864)");
        break;
    default:
        lh_buf_puts(&src, "read_parquet(");
        lh_sql_quote_literal(&src, in->path);
        lh_buf_putc(&src, ')');
    }
    lh_buf_printf(&sql, "COPY (SELECT * FROM %s) TO ", src.data);
    lh_sql_quote_literal(&sql, in->parquet);
    lh_buf_puts(&sql, " (FORMAT parquet, COMPRESSION zstd)");
    lh_code rc = lh_query_exec(conn, lease, sql.data, err);
    if (rc && rc != LH_ETIMEOUT) {
        /* DuckDB's context points into our COPY statement: keep only its first line */
        char *nl = strchr(err->message, '\n');
        if (nl) *nl = '\0';
        /* name the input as the user knows it, not by its temp path (the
         * search goes on after each replacement: the name may hold the path) */
        const char *read = in->rewritten ? in->rewritten : text_path(in);
        size_t plen = strlen(read), nlen = strlen(in->name);
        for (char *from = err->message, *at; nlen <= plen && (at = strstr(from, read)); from = at + nlen) {
            memcpy(at, in->name, nlen);
            memmove(at + nlen, at + plen, strlen(at + plen) + 1);
        }
        if (in->format == FMT_JSON && strstr(err->message, "Malformed JSON") && ndjson_bad_line(in, err)) {
            rc = LH_EINVAL; /* the line DuckDB meant, counted here (its count is one ahead) */
        } else if (csv_line_too_long(ing, in, err)) {
            rc = LH_ETOOBIG;
        } else if (strstr(err->message, "is not latin-1 encoded") || strstr(err->message, "Invalid unicode")) {
            lh_err_wrap(err, "%s is not valid UTF-8 (nor Latin-1) text", in->name);
            rc = err->code = LH_EINVAL;
        } else {
            lh_err_wrap(err, "%s", in->name);
        }
    }
    bool csv = in->format == FMT_CSV || in->format == FMT_TSV;
    if (rc == LH_OK && csv) { /* the rows DuckDB could not read, judged in csv_verdict */
        json_t *count, *samples;
        char q[256];
        snprintf(q, sizeof q, "SELECT CAST(count(DISTINCT line) AS VARCHAR) FROM %s", rejects);
        rc = query_strings(conn, q, &count, err);
        if (rc == LH_OK) {
            in->rejected = atoll(json_string_value(json_array_get(json_array_get(count, 0), 0)));
            json_decref(count);
        }
        if (rc == LH_OK && in->rejected) {
            snprintf(q, sizeof q,
                     "SELECT CAST(line AS VARCHAR), CAST(min(error_type) AS VARCHAR), min(error_message) "
                     "FROM %s GROUP BY line ORDER BY line LIMIT %d",
                     rejects, MAX_REJECT_SAMPLES);
            rc = query_strings(conn, q, &samples, err);
            if (rc == LH_OK) {
                size_t i;
                json_t *s;
                json_array_foreach(samples, i, s) {
                    json_array_append_new(in->rejects,
                                          json_pack("{s:s, s:I, s:O, s:O}", "source", in->name, "line",
                                                    (json_int_t)atoll(json_string_value(json_array_get(s, 0))),
                                                    "kind", json_array_get(s, 1), "error", json_array_get(s, 2)));
                }
                json_decref(samples);
            }
        }
    }
    if (csv) {
        lh_err ignored;
        lh_query_exec(conn, NULL, drop, &ignored);
    }
    lh_buf_free(&src);
    lh_buf_free(&sql);
    return rc;
}

/* A converted CSV's bad rows, once its quotes are counted (while hashing):
 * refused unless skip_bad_rows keeps the good ones. */
static lh_code csv_verdict(struct input *in, const lh_ingest_options *opt, lh_err *err)
{
    if (in->format != FMT_CSV && in->format != FMT_TSV) return LH_OK;
    if (in->quotes % 2) {
        /* quotes pair up in any well-formed CSV: an odd count means the file
         * ends inside a quoted field, which the dialect sniffer may have
         * papered over by reading quotes as plain characters */
        in->rejected++;
        json_array_append_new(in->rejects, json_pack("{s:s, s:n, s:s, s:s}", "source", in->name, "line", "kind",
                                                     "UNBALANCED QUOTES", "error",
                                                     "unbalanced quotes: the file ends inside a quoted field "
                                                     "(truncated?)"));
        if (!opt->skip_bad_rows)
            return lh_err_set(err, LH_EINVAL,
                              "%s: unbalanced quotes: the file ends inside a quoted field (truncated?); "
                              "nothing was ingested", in->name);
    }
    if (in->rejected && !opt->skip_bad_rows) {
        json_t *first = json_array_get(in->rejects, 0);
        return lh_err_set(err, LH_EINVAL,
                          "%s: %lld row(s) could not be read; the first, at line %lld: %s "
                          "(nothing was ingested; skip_bad_rows, --skip-bad-rows on the CLI, keeps the good rows)",
                          in->name, (long long)in->rejected,
                          (long long)json_integer_value(json_object_get(first, "line")),
                          json_string_value(json_object_get(first, "error")));
    }
    return LH_OK;
}

static lh_code convert_document(lh_ingester *ing, duckdb_connection conn, struct input *in,
                                const lh_ingest_options *opt, lh_err *err)
{
    doc_rows rows = {0};
    size_t chars = opt->chunk_chars ? opt->chunk_chars : ing->chunk_chars;
    size_t overlap = opt->chunk_chars ? opt->chunk_overlap : ing->chunk_overlap;
    lh_code rc = ingest_document(text_path(in), in->format, text_encoding(in), chars, overlap, &rows, err);
    if (rc) {
        doc_rows_free(&rows);
        return lh_err_wrap(err, "%s", in->name);
    }
    rc = lh_query_exec(conn, NULL,
                       "CREATE OR REPLACE TEMP TABLE lh_docs (chunk_id VARCHAR, doc_id VARCHAR, page INTEGER, "
                       "chunk_no INTEGER, section VARCHAR, text VARCHAR, source VARCHAR)",
                       err);
    duckdb_appender app = NULL;
    if (rc == LH_OK && duckdb_appender_create(conn, NULL, "lh_docs", &app) == DuckDBError)
        rc = lh_err_set(err, LH_EINTERNAL, "cannot append document rows");
    char doc_id[17];
    memcpy(doc_id, in->hash + sizeof LH_BLAKE3_PREFIX - 1, 16);
    doc_id[16] = '\0';
    for (size_t i = 0; rc == LH_OK && i < rows.n; i++) {
        char chunk_id[64]; /* unique in the dataset: the document's bytes, the page, the chunk */
        snprintf(chunk_id, sizeof chunk_id, "%s-p%d-c%d", doc_id, rows.rows[i].page, rows.rows[i].chunk_no);
        duckdb_append_varchar(app, chunk_id);
        duckdb_append_varchar(app, doc_id);
        duckdb_append_int32(app, rows.rows[i].page);
        duckdb_append_int32(app, rows.rows[i].chunk_no);
        if (rows.rows[i].section) duckdb_append_varchar(app, rows.rows[i].section);
        else duckdb_append_null(app);
        duckdb_append_varchar(app, rows.rows[i].text);
        duckdb_append_varchar(app, in->name);
        if (duckdb_appender_end_row(app) == DuckDBError)
            rc = lh_err_set(err, LH_EINTERNAL, "appending document rows: %s", duckdb_appender_error(app));
    }
    if (app && duckdb_appender_destroy(&app) == DuckDBError && rc == LH_OK)
        rc = lh_err_set(err, LH_EINTERNAL, "flushing document rows");
    doc_rows_free(&rows);
    if (rc == LH_OK) {
        lh_buf sql = {0};
        lh_buf_puts(&sql, "COPY lh_docs TO ");
        lh_sql_quote_literal(&sql, in->parquet);
        lh_buf_puts(&sql, " (FORMAT parquet, COMPRESSION zstd)");
        rc = lh_query_exec(conn, NULL, sql.data, err);
        lh_buf_free(&sql);
    }
    lh_err ignored;
    lh_query_exec(conn, NULL, "DROP TABLE IF EXISTS lh_docs", &ignored);
    return rc;
}

/* Reads the produced file's schema and row count, and tags PII columns. */
/* The PII check of the VARCHAR fields: up to PII_SAMPLE values (not NULL)
 * of each, taken by one streamed scan of the Parquet file that stops once
 * every column has its sample or PII_SCAN_ROWS rows went by. (A query per
 * column read the file's footer once per column: a 145 KB CSV of 5,000 text
 * columns took 67 s.) Best effort: a scan that fails tags nothing. */
static void pii_tag(duckdb_connection conn, const struct input *in, json_t *fields)
{
    size_t nf = json_array_size(fields), n = 0;
    size_t *field = lh_xcalloc(nf ? nf : 1, sizeof *field); /* the field of each scanned column */
    lh_buf sql = {0};
    lh_buf_puts(&sql, "SELECT ");
    for (size_t i = 0; i < nf; i++) {
        json_t *f = json_array_get(fields, i);
        if (strcmp(json_string_value(json_object_get(f, "type")), "VARCHAR") != 0) continue;
        if (n) lh_buf_puts(&sql, ", ");
        lh_sql_quote_ident(&sql, json_string_value(json_object_get(f, "name")));
        field[n++] = i;
    }
    lh_buf_puts(&sql, " FROM read_parquet(");
    lh_sql_quote_literal(&sql, in->parquet);
    lh_buf_putc(&sql, ')');
    duckdb_prepared_statement stmt = NULL;
    duckdb_pending_result pending = NULL;
    duckdb_result res;
    bool streaming = n && duckdb_prepare(conn, sql.data, &stmt) == DuckDBSuccess &&
                     duckdb_pending_prepared_streaming(stmt, &pending) == DuckDBSuccess;
    bool ok = streaming && duckdb_execute_pending(pending, &res) == DuckDBSuccess;
    lh_arena *arena = lh_arena_new(0);
    const char **values = lh_xcalloc(n ? n * PII_SAMPLE : 1, sizeof *values);
    size_t *got = lh_xcalloc(n ? n : 1, sizeof *got), full = 0;
    duckdb_data_chunk chunk;
    for (uint64_t rows = 0; ok && full < n && rows < PII_SCAN_ROWS && (chunk = duckdb_fetch_chunk(res));) {
        idx_t m = duckdb_data_chunk_get_size(chunk);
        for (size_t j = 0; j < n; j++) {
            if (got[j] == PII_SAMPLE) continue;
            duckdb_vector v = duckdb_data_chunk_get_vector(chunk, j);
            uint64_t *valid = duckdb_vector_get_validity(v);
            duckdb_string_t *str = duckdb_vector_get_data(v);
            for (idx_t r = 0; r < m && got[j] < PII_SAMPLE; r++) {
                if (valid && !duckdb_validity_row_is_valid(valid, r)) continue;
                size_t len = duckdb_string_t_length(str[r]);
                char *copy = lh_arena_alloc(arena, len + 1); /* zeroed: the NUL is there */
                memcpy(copy, duckdb_string_t_data(&str[r]), len);
                values[j * PII_SAMPLE + got[j]++] = copy;
            }
            full += got[j] == PII_SAMPLE;
        }
        rows += m;
        duckdb_destroy_data_chunk(&chunk);
    }
    if (streaming) duckdb_destroy_result(&res);
    if (pending) duckdb_destroy_pending(&pending);
    if (stmt) duckdb_destroy_prepare(&stmt);
    for (size_t j = 0; ok && j < n; j++) {
        json_t *f = json_array_get(fields, field[j]);
        const char *kind = lh_ingest_pii_kind(json_string_value(json_object_get(f, "name")), values + j * PII_SAMPLE, got[j]);
        if (kind) json_object_set_new(f, "pii", json_string(kind));
    }
    lh_arena_free(arena);
    free(values);
    free(got);
    free(field);
    lh_buf_free(&sql);
}

static lh_code describe(duckdb_connection conn, struct input *in, lh_err *err)
{
    lh_buf sql = {0};
    lh_buf_puts(&sql, "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(");
    lh_sql_quote_literal(&sql, in->parquet);
    lh_buf_puts(&sql, "))");
    json_t *cols;
    lh_code rc = query_strings(conn, sql.data, &cols, err);
    lh_buf_reset(&sql);
    if (rc) {
        lh_buf_free(&sql);
        return rc;
    }
    lh_buf_puts(&sql, "SELECT CAST(count(*) AS VARCHAR) FROM read_parquet(");
    lh_sql_quote_literal(&sql, in->parquet);
    lh_buf_putc(&sql, ')');
    json_t *count;
    rc = query_strings(conn, sql.data, &count, err);
    lh_buf_free(&sql);
    if (rc == LH_OK) {
        in->rows = atoll(json_string_value(json_array_get(json_array_get(count, 0), 0)));
        json_decref(count);
    }
    size_t i;
    json_t *c;
    json_array_foreach(cols, i, c) {
        json_array_append_new(in->fields, json_pack("{s:s, s:s}", "name", json_string_value(json_array_get(c, 0)),
                                                    "type", json_string_value(json_array_get(c, 1))));
    }
    json_decref(cols);
    if (rc == LH_OK) pii_tag(conn, in, in->fields);
    return rc;
}

/* ---- following the output beside the conversion ----
 *
 * The Parquet file is hashed (its key is its SHA-256) and made durable (fsync
 * in the store) before it is committed. Done after the conversion, both take
 * a good part of a second per GB of input. So while DuckDB writes the file, a
 * thread hashes the bytes written so far, and every 50 ms starts their
 * writeback (sync_file_range does not wait); at the end only the last row
 * group is left to hash and flush.
 *
 * This relies on DuckDB's Parquet writer only appending (a buffered writer:
 * magic, row groups, footer, never a seek back), which holds for the pinned
 * DuckDB and is checked by test_ingest (t_output_hash_follows). Bytes below the
 * file's size are final then. If the writer replaced the file (another inode
 * at the path), the whole file is hashed again. */

typedef struct follower {
    pthread_t thread;
    const char *path;
    pthread_mutex_t mu;
    pthread_cond_t done; /* signalled when the writer is done (or failed) */
    bool stop;
    lh_sha256 h;
    uint64_t hashed;
    uint64_t tail;    /* bytes left to hash when the writer was done */
    bool ok;          /* hashed holds the whole file, as written */
    char sha[LH_SHA256_HEX_LEN + 1];
} follower;

static void flush_written(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    close(fd);
}

/* Hashes what was written past f->hashed; false on a read error. */
static bool follow_catch_up(follower *f, int fd, char *buf, size_t cap)
{
    for (;;) {
        ssize_t n = pread(fd, buf, cap, (off_t)f->hashed);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return false;
        if (n == 0) return true;
        lh_sha256_update(&f->h, buf, (size_t)n);
        f->hashed += (uint64_t)n;
    }
}

static void *follower_run(void *arg)
{
    follower *f = arg;
    enum { CHUNK = 1 << 20 };
    char *buf = lh_xmalloc(CHUNK);
    lh_sha256_init(&f->h);
    int fd = -1;
    bool readable = true;
    /* every 50 ms, hashing and starting the writeback of what is new: rarely
     * enough not to take the cores from DuckDB at each wake-up (a thread that
     * sleeps preempts the one running), while the end is signalled at once */
    pthread_mutex_lock(&f->mu);
    while (!f->stop) {
        struct timespec wake = lh_time_after_ms(CLOCK_MONOTONIC, 50);
        pthread_cond_timedwait(&f->done, &f->mu, &wake);
        if (f->stop) break;
        pthread_mutex_unlock(&f->mu);
        if (fd < 0) fd = open(f->path, O_RDONLY | O_CLOEXEC); /* DuckDB creates it when the first row group is done */
        if (fd >= 0) {
            readable = readable && follow_catch_up(f, fd, buf, CHUNK);
            sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        }
        pthread_mutex_lock(&f->mu);
    }
    pthread_mutex_unlock(&f->mu);
    if (fd < 0) fd = open(f->path, O_RDONLY | O_CLOEXEC);
    uint64_t before = f->hashed;
    struct stat opened, named;
    f->ok = fd >= 0 && readable && follow_catch_up(f, fd, buf, CHUNK) && fstat(fd, &opened) == 0 &&
            stat(f->path, &named) == 0 && opened.st_ino == named.st_ino && opened.st_dev == named.st_dev &&
            (uint64_t)named.st_size == f->hashed;
    f->tail = f->hashed - before;
    lh_sha256_final_hex(&f->h, f->sha);
    if (fd >= 0) close(fd);
    free(buf);
    return NULL;
}

/* ---- hashing beside the conversion ----
 *
 * Hashing a large input takes a good part of a second per GB, and only tells
 * whether the bytes are known (then nothing is converted) and whether lines
 * need repair (rare; a sniffed sample that is not UTF-8 says so up front). So
 * the conversion does not wait for it: a thread hashes while DuckDB converts,
 * and if the bytes turn out known it interrupts the conversion, whose output
 * is thrown away; if lines need repair, the conversion is done again.
 *
 * DuckDB's conversion keeps every core busy but for gaps (~5%), so a hash
 * beside it takes cycles the conversion would have used. When the bytes are
 * unlikely to be known (see may_be_known), a runner (pass.c) hashes at
 * SCHED_IDLE priority, in those gaps only; when the conversion ends, the
 * ingest's own thread goes on from the runner's last piece, without waiting
 * for it (on a busy machine an idle thread may not run for a second or more;
 * and an unprivileged thread cannot leave SCHED_IDLE: work moves instead). */

/* Ends a pass that reached the end: the input's hashes and census. */
static void pass_done(ingest_pass *p, struct input *in)
{
    ingest_pass_finish(p, in->hash, in->sha256);
    in->census = p->census;
    in->quotes = p->quotes;
}

static lh_code hash_input(struct input *in, lh_err *err)
{
    ingest_pass p;
    lh_code rc = ingest_pass_open(&p, in->path, in->name, in->legacy, err);
    if (rc == LH_OK && (rc = ingest_pass_run(&p, err)) == LH_OK) pass_done(&p, in);
    ingest_pass_close(&p);
    return rc;
}

typedef struct speculation {
    pthread_t thread;
    struct input *in;
    const json_t *head;        /* the dataset's manifest (read only), or NULL */
    const struct input *prior; /* the inputs before this one, all hashed */
    size_t nprior;
    ingest_pass pass;
    ingest_pass_runner *runner; /* idle: the hash runs at SCHED_IDLE, taken over at the end */
    bool hashed;                /* by the thread, to the end (else the caller goes on) */
    lh_code rc;
    lh_err err;
    pthread_mutex_t mu;
    duckdb_connection conn; /* the conversion's connection while it runs */
    bool known;             /* the bytes are known: stop converting */
    bool converting;
} speculation;

/* Whether the input's bytes are held by the dataset or came earlier in this call. */
static void check_known(struct input *in, const json_t *head, const struct input *prior, size_t nprior)
{
    in->duplicate_of = head ? lh_manifest_content_version(head, in->hash) : 0;
    if (head && in->legacy && !in->duplicate_of) in->duplicate_of = lh_manifest_content_version(head, in->sha256);
    for (size_t k = 0; k < nprior && !in->duplicate_of; k++) in->repeated |= !strcmp(prior[k].hash, in->hash);
}

/* Whether the bytes may well be known, by their size: the dataset's last
 * version came from an input of that size (the same file ingested again),
 * or an earlier input of this call has it. Then the hash runs at full
 * priority, to stop the conversion early; a repeat of an older version is
 * still found, once the conversion is over. */
static bool may_be_known(const struct input *in, const json_t *head, const struct input *prior, size_t nprior)
{
    size_t k;
    json_t *src;
    json_array_foreach(json_object_get(json_object_get(head, "lineage"), "sources"), k, src) {
        if (json_integer_value(json_object_get(src, "bytes")) == (json_int_t)in->bytes) return true;
    }
    for (k = 0; k < nprior; k++)
        if (prior[k].bytes == in->bytes) return true;
    return false;
}

static void *speculation_hash(void *arg)
{
    speculation *sp = arg;
    double t0 = mono_ms();
    sp->rc = ingest_pass_run(&sp->pass, &sp->err);
    sp->in->ms[PH_HASH] = mono_ms() - t0;
    if (sp->rc || atomic_load(&sp->pass.hand_over)) return NULL; /* the caller goes on */
    pass_done(&sp->pass, sp->in);
    sp->hashed = true;
    check_known(sp->in, sp->head, sp->prior, sp->nprior);
    if (!sp->in->duplicate_of && !sp->in->repeated) return NULL;
    /* DuckDB forgets an interrupt when a query starts: repeat it until the
     * conversion lets go of its connection */
    pthread_mutex_lock(&sp->mu);
    sp->known = true;
    while (sp->converting) {
        if (sp->conn) duckdb_interrupt(sp->conn);
        pthread_mutex_unlock(&sp->mu);
        usleep(20 * 1000);
        pthread_mutex_lock(&sp->mu);
    }
    pthread_mutex_unlock(&sp->mu);
    return NULL;
}

/* The conversion is over: the caller hashes what is left, at its own
 * priority, from where the idle runner last got to (without waiting for it)
 * or where the thread stops (at its piece's end). */
static lh_code speculation_end(speculation *sp, lh_err *err)
{
    if (sp->runner) {
        ingest_pass_runner_take(sp->runner, &sp->pass);
        sp->runner = NULL;
    } else {
        atomic_store(&sp->pass.hand_over, true);
        pthread_mutex_lock(&sp->mu);
        sp->converting = false;
        pthread_mutex_unlock(&sp->mu);
        pthread_join(sp->thread, NULL);
    }
    pthread_mutex_destroy(&sp->mu);
    lh_code rc = sp->rc;
    if (rc) *err = sp->err;
    if (rc == LH_OK && !sp->hashed) {
        struct input *in = sp->in;
        double t0 = mono_ms();
        uint64_t before = sp->pass.done;
        atomic_store(&sp->pass.hand_over, false);
        rc = ingest_pass_run(&sp->pass, err);
        in->hash_rest = sp->pass.done - before;
        in->hash_rest_ms = mono_ms() - t0;
        in->ms[PH_HASH] += in->hash_rest_ms;
        if (rc == LH_OK) {
            pass_done(&sp->pass, in);
            check_known(in, sp->head, sp->prior, sp->nprior);
        }
    }
    ingest_pass_close(&sp->pass);
    return rc;
}

static void speculation_connection(speculation *sp, duckdb_connection conn)
{
    if (!sp) return;
    pthread_mutex_lock(&sp->mu);
    sp->conn = conn;
    pthread_mutex_unlock(&sp->mu);
}

/* False when the bytes are already known (the conversion need not start). */
static bool speculation_go_on(speculation *sp)
{
    if (!sp) return true;
    pthread_mutex_lock(&sp->mu);
    bool go = !sp->known;
    pthread_mutex_unlock(&sp->mu);
    return go;
}

static lh_code convert(lh_ingester *ing, struct input *in, const lh_ingest_options *opt, speculation *sp,
                       lh_err *err)
{
    if (!speculation_go_on(sp)) return lh_err_set(err, LH_EINTERNAL, "%s: known bytes, not converted", in->name);
    lh_query_lease *lease;
    lh_code rc = lh_query_lease_acquire(ing->engine, opt->timeout_ms, &lease, err);
    if (rc) return rc;
    duckdb_connection conn = lh_query_lease_connection(lease);
    speculation_connection(sp, conn);
    if (opt->progress) { /* DuckDB measures a scan's progress (bytes read) only when asked to */
        duckdb_result r;
        duckdb_query(conn, "SET enable_progress_bar = true; SET enable_progress_bar_print = false", &r);
        duckdb_destroy_result(&r);
    }
    pthread_t poller_thread;
    struct poller p = {lease, opt, in->name, false};
    bool polling = opt->progress && in->format != FMT_TEXT && in->format != FMT_PDF &&
                   pthread_create(&poller_thread, NULL, poll_progress, &p) == 0;
    unlink(in->parquet); /* the follower must find only the file this conversion writes */
    follower fl = {.path = in->parquet};
    pthread_mutex_init(&fl.mu, NULL);
    pthread_condattr_t monotonic;
    pthread_condattr_init(&monotonic);
    pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
    pthread_cond_init(&fl.done, &monotonic);
    pthread_condattr_destroy(&monotonic);
    bool following = pthread_create(&fl.thread, NULL, follower_run, &fl) == 0;
    if (in->format == FMT_TEXT || in->format == FMT_PDF) rc = convert_document(ing, conn, in, opt, err);
    else rc = convert_table(ing, conn, lease, in, err);
    if (following) {
        pthread_mutex_lock(&fl.mu);
        fl.stop = true;
        pthread_cond_signal(&fl.done);
        pthread_mutex_unlock(&fl.mu);
        pthread_join(fl.thread, NULL);
        if (rc == LH_OK && fl.ok) {
            memcpy(in->parquet_sha, fl.sha, sizeof fl.sha);
            in->parquet_tail = fl.tail;
        }
    }
    pthread_cond_destroy(&fl.done);
    pthread_mutex_destroy(&fl.mu);
    if (rc == LH_OK) flush_written(in->parquet); /* the tail, while describe runs */
    if (polling) {
        atomic_store(&p.stop, true);
        pthread_join(poller_thread, NULL);
    }
    double t0 = mono_ms();
    if (rc == LH_OK) rc = describe(conn, in, err);
    in->ms[PH_DESCRIBE] = mono_ms() - t0;
    if (rc == LH_OK && opt->progress) opt->progress(opt->progress_ctx, in->name, 1.0);
    speculation_connection(sp, NULL);
    lh_query_lease_release(lease);
    return rc;
}

/* ---- schema evolution ---- */

static int int_rank(const char *t)
{
    static const char *const ints[] = {"TINYINT", "UTINYINT", "SMALLINT", "USMALLINT", "INTEGER", "UINTEGER", "BIGINT"};
    for (int i = 0; i < 7; i++)
        if (!strcmp(t, ints[i])) return i + 1;
    return 0;
}

static bool is_float(const char *t)
{
    return !strcmp(t, "FLOAT") || !strcmp(t, "DOUBLE") || !strncmp(t, "DECIMAL", 7);
}

/* The type both a and b fit in: integers widen to BIGINT, numbers to DOUBLE, the rest to VARCHAR. */
static const char *widen(const char *a, const char *b)
{
    if (!strcmp(a, b)) return a;
    if (int_rank(a) && int_rank(b)) return "BIGINT";
    if ((int_rank(a) || is_float(a)) && (int_rank(b) || is_float(b))) return "DOUBLE";
    return "VARCHAR";
}

/* Merges new fields into the dataset's schema; records what changed. */
static json_t *merge_schema(json_t *old_fields, json_t *new_fields, json_t *changes)
{
    json_t *merged = old_fields ? json_deep_copy(old_fields) : json_array();
    size_t i, k;
    json_t *nf, *of;
    json_array_foreach(new_fields, i, nf) {
        const char *name = json_string_value(json_object_get(nf, "name"));
        const char *type = json_string_value(json_object_get(nf, "type"));
        bool found = false;
        json_array_foreach(merged, k, of) {
            if (strcmp(json_string_value(json_object_get(of, "name")), name) != 0) continue;
            found = true;
            const char *was = json_string_value(json_object_get(of, "type"));
            const char *now = widen(was, type);
            if (strcmp(was, now) != 0) {
                json_array_append_new(changes, json_pack("{s:s, s:s, s:s, s:s}", "column", name, "change",
                                                         "widened", "from", was, "to", now));
                json_object_set_new(of, "type", json_string(now));
            }
            if (!json_object_get(of, "pii") && json_object_get(nf, "pii"))
                json_object_set(of, "pii", json_object_get(nf, "pii"));
            break;
        }
        if (!found) {
            if (json_array_size(old_fields))
                json_array_append_new(changes, json_pack("{s:s, s:s, s:s}", "column", name, "change", "added",
                                                         "type", type));
            json_array_append(merged, nf);
        }
    }
    return merged;
}

/* ---- the call ---- */


static lh_code stat_input(struct input *in, lh_err *err)
{
    struct stat st;
    if (stat(in->path, &st) != 0)
        return lh_err_errno(err, errno == ENOENT ? LH_ENOTFOUND : LH_EIO, errno, "cannot read %s", in->name);
    if (!S_ISREG(st.st_mode)) return lh_err_set(err, LH_EINVAL, "%s is not a regular file", in->name);
    in->bytes = (uint64_t)st.st_size;
    if (in->bytes == 0) return lh_err_set(err, LH_EINVAL, "%s is empty (0 bytes)", in->name);
    return LH_OK;
}

/* Text whose lines are not all UTF-8 (and no encoding was given): valid
 * lines are kept, the others decoded as Windows-1252, into a UTF-8 copy the
 * readers take instead (streamed: one line, at most max_line_bytes, held). */
static lh_code repair_encoding(const lh_ingester *ing, struct input *in, const char *to, lh_err *err)
{
    int fd = open(in->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lh_err_errno(err, LH_EIO, errno, "cannot read %s", in->name);
    FILE *out = fopen(to, "wb");
    if (!out) {
        close(fd);
        return lh_err_errno(err, LH_EIO, errno, "cannot write %s", to);
    }
    in->repaired = lh_xstrdup(to);
    enum { CHUNK = 1 << 20 };
    char *buf = lh_xmalloc(CHUNK);
    lh_buf text = {0};
    lh_utf8_repair r;
    lh_utf8_repair_init(&r, ing->max_line_bytes);
    lh_code rc = LH_OK;
    for (bool done = false; !done && rc == LH_OK;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rc = lh_err_errno(err, LH_EIO, errno, "reading %s", in->name);
            break;
        }
        done = n == 0;
        lh_buf_reset(&text);
        if (done) lh_utf8_repair_end(&r, &text);
        else lh_utf8_repair_feed(&r, buf, (size_t)n, &text);
        if (text.len && fwrite(text.data, 1, text.len, out) != text.len)
            rc = lh_err_errno(err, LH_EIO, errno, "writing %s", to);
    }
    if (fclose(out) != 0 && rc == LH_OK) rc = lh_err_errno(err, LH_EIO, errno, "writing %s", to);
    close(fd);
    free(buf);
    lh_buf_free(&text);
    in->lines_repaired = r.lines_repaired;
    lh_utf8_repair_free(&r);
    /* what the file was: single-byte text, or a mix */
    if (rc == LH_OK) in->encoding = in->census.lines_utf8 ? "utf-8+windows-1252" : "windows-1252";
    return rc;
}

static bool is_text(const struct input *in)
{
    return in->format == FMT_CSV || in->format == FMT_TSV || in->format == FMT_JSON || in->format == FMT_TEXT;
}

/* Whether an input is repaired line by line: text formats, no encoding
 * given, not UTF-16, and lines that are not UTF-8. */
static bool needs_repair(const struct input *in, const lh_ingest_options *opt)
{
    return is_text(in) && !opt->encoding && strcmp(in->encoding, "utf-16") != 0 &&
           in->census.lines_invalid;
}

/* The caller said UTF-8 but lines are not: the first such line, into err. */
static lh_code not_utf8(const struct input *in, lh_err *err)
{
    FILE *f = fopen(in->path, "rb");
    if (!f) return lh_err_errno(err, LH_EIO, errno, "cannot read %s", in->name);
    char *line = NULL;
    size_t cap = 0, no = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0 && (++no, lh_utf8_valid(line, (size_t)n))) continue;
    free(line);
    fclose(f);
    return lh_err_set(err, LH_EINVAL,
                      "%s line %zu is not valid UTF-8 (%llu such lines), yet encoding utf-8 was given; "
                      "without --encoding (HTTP: encoding) those lines are read as Windows-1252",
                      in->name, no, (unsigned long long)in->census.lines_invalid);
}

/* The lineage / report fields of the repair (none when nothing was repaired). */
static void repair_fields(json_t *o, const struct input *in)
{
    if (!in->repaired) return;
    json_object_set_new(o, "lines_repaired", json_integer((json_int_t)in->lines_repaired));
    json_object_set_new(o, "repaired_as", json_string("windows-1252"));
}

static void cleanup(lh_ingester *ing, struct input *ins, size_t n, lh_store *bucket, bool failed)
{
    for (size_t i = 0; i < n; i++) {
        if (ins[i].parquet) unlink(ins[i].parquet);
        if (ins[i].rewritten) unlink(ins[i].rewritten);
        if (ins[i].repaired) unlink(ins[i].repaired);
        if (ins[i].sheet_rows) unlink(ins[i].sheet_rows);
        if (failed && ins[i].uploaded) {
            lh_err ignored;
            lh_store_delete(bucket, ins[i].key, &ignored);
        }
        free(ins[i].parquet);
        free(ins[i].rewritten);
        free(ins[i].repaired);
        free(ins[i].sheet_rows);
        free(ins[i].sheet_columns);
        free(ins[i].key);
        if (ins[i].link) unlink(ins[i].link);
        free(ins[i].link);
        free(ins[i].own_name);
        json_decref(ins[i].fields);
        json_decref(ins[i].rejects);
    }
    (void)ing;
}

/* Removes what converting an input made (its bytes turned out known, or it
 * is converted again). */
static void discard_outputs(struct input *in)
{
    char **made[] = {&in->rewritten, &in->repaired, &in->sheet_rows};
    for (size_t k = 0; k < sizeof made / sizeof made[0]; k++) {
        if (*made[k]) unlink(*made[k]);
        free(*made[k]);
        *made[k] = NULL;
    }
    if (in->parquet) unlink(in->parquet); /* the name is kept: a conversion again writes there */
    in->parquet_sha[0] = '\0';
    in->lines_repaired = 0;
    free(in->sheet_columns);
    in->sheet_columns = NULL;
    json_array_clear(in->fields);
    json_array_clear(in->rejects);
    in->rows = in->rejected = 0;
    in->dialect = (csv_dialect){.header = -1};
    in->delimiter = 0;
}

/* Names in the manifest, the lineage column and messages are UTF-8, and so
 * are the paths DuckDB reads: a name that is not is read as Windows-1252 (as
 * a line of text is), a path that is not is read through a symlink. */
static lh_code utf8_names(lh_ingester *ing, struct input *in, unsigned call, size_t i, lh_err *err)
{
    if (!lh_utf8_valid(in->name, strlen(in->name))) {
        lh_buf b = {0};
        for (const char *p = in->name; *p; p++) lh_utf8_append_cp1252(&b, (unsigned char)*p);
        in->name = in->own_name = lh_buf_detach(&b);
    }
    if (lh_utf8_valid(in->path, strlen(in->path))) return LH_OK;
    char *target = realpath(in->path, NULL);
    if (!target) return lh_err_errno(err, errno == ENOENT ? LH_ENOTFOUND : LH_EIO, errno, "cannot read %s", in->name);
    in->link = lh_xasprintf("%s/ingest-%d-%u-%zu.source", ing->tmp_dir, (int)getpid(), call, i);
    unlink(in->link);
    int ok = symlink(target, in->link) == 0;
    free(target);
    if (!ok) return lh_err_errno(err, LH_EIO, errno, "cannot link %s into %s", in->name, ing->tmp_dir);
    in->path = in->link;
    return LH_OK;
}

/* From the sniffed input to its Parquet file (in->parquet) and description:
 * the encoding repaired when the census asks for it, spreadsheets read,
 * CSV dialect decided, then DuckDB's conversion. */
static lh_code prepare_and_convert(lh_ingester *ing, struct input *in, const lh_ingest_options *opt, unsigned call,
                                   size_t i, speculation *sp, lh_err *err)
{
    lh_code rc;
    if (in->format == FMT_JSON && (rc = ingest_json_depth_check(in->path, in->name, LH_INGEST_JSON_DEPTH_MAX, err)))
        return rc;
    if (!in->parquet) in->parquet = lh_xasprintf("%s/ingest-%d-%u-%zu.parquet", ing->tmp_dir, (int)getpid(), call, i);
    if (!sp && is_text(in) && in->census.lines_invalid && opt->encoding && !strcmp(opt->encoding, "utf-8"))
        return not_utf8(in, err);
    if (in->format == FMT_XLSX || in->format == FMT_ODS) {
        in->sheet_rows = lh_xasprintf("%s/ingest-%d-%u-%zu.sheets.ndjson", ing->tmp_dir, (int)getpid(), call, i);
        if ((rc = ingest_spreadsheet(in->path, in->name, in->format == FMT_ODS, in->sheet_rows, &in->sheet_columns,
                                     err)))
            return rc;
    }
    if (!sp && needs_repair(in, opt)) {
        char *to = lh_xasprintf("%s/ingest-%d-%u-%zu.utf8", ing->tmp_dir, (int)getpid(), call, i);
        rc = repair_encoding(ing, in, to, err);
        free(to);
        if (rc) return rc;
    }
    if (in->format == FMT_CSV && (rc = ingest_csv_dialect(text_path(in), &in->dialect, err))) return rc;
    if ((rc = csv_overrides(in, opt, err))) return rc;
    if (in->dialect.whitespace) {
        in->rewritten = lh_xasprintf("%s/ingest-%d-%u-%zu.tsv", ing->tmp_dir, (int)getpid(), call, i);
        if ((rc = ingest_whitespace_to_tsv(text_path(in), in->rewritten, err))) return rc;
    }
    double t0 = mono_ms();
    rc = convert(ing, in, opt, sp, err);
    in->ms[PH_CONVERT] = mono_ms() - t0 - in->ms[PH_DESCRIBE];
    return rc;
}

lh_code lh_ingest(lh_ingester *ing, const lh_ingest_source *sources, size_t n,
                  const lh_ingest_options *opt, const lh_who *who, json_t **report, lh_err *err)
{
    lh_err local;
    if (!err) err = &local;
    lh_code rc = lh_catalog_name_check(opt->dataset, err);
    if (rc) return rc;
    if (n == 0) return lh_err_set(err, LH_EINVAL, "nothing to ingest");
    ingest_format forced = FMT_UNKNOWN;
    if (opt->format && !ingest_format_parse(opt->format, &forced))
        return lh_err_set(err, LH_EINVAL, "unknown format \"%s\" (csv, tsv, json, ndjson, parquet, text, markdown, pdf, xlsx, ods)",
                          opt->format);

    json_t *head = NULL;
    lh_err head_err;
    lh_code hrc = lh_catalog_get(ing->catalog, opt->dataset, 0, &head, &head_err);
    if (hrc && hrc != LH_ENOTFOUND) {
        *err = head_err;
        return hrc;
    }
    if (head && json_is_true(json_object_get(head, "deleted"))) {
        json_decref(head);
        return lh_err_set(err, LH_ENOTFOUND, "dataset %s is deleted (roll it back to restore it)", opt->dataset);
    }
    lh_store *bucket = NULL;
    const char *bucket_name = head ? json_string_value(json_object_get(head, "bucket")) : opt->bucket;
    bucket = bucket_name && *bucket_name ? lh_buckets_find(ing->buckets, bucket_name) : lh_buckets_default(ing->buckets);
    if (!bucket) {
        json_decref(head);
        return lh_err_set(err, LH_EINVAL, "no bucket named \"%s\"", bucket_name);
    }

    bool legacy = head && lh_manifest_legacy_hashes(head); /* SHA-256 content hashes in its history */
    struct input *ins = lh_xcalloc(n, sizeof *ins);
    unsigned call = atomic_fetch_add(&ing->counter, 1);
    size_t fresh = 0;
    for (size_t i = 0; i < n && rc == LH_OK; i++) {
        struct input *in = &ins[i];
        in->path = sources[i].path;
        in->name = sources[i].name ? sources[i].name : sources[i].path;
        in->fields = json_array();
        in->rejects = json_array();
        in->dialect.header = -1;
        in->legacy = legacy;
        if ((rc = utf8_names(ing, in, call, i, err))) break;
        if ((rc = stat_input(in, err))) break;
        rc = ingest_sniff(in->path, in->name, &in->format, &in->encoding, err);
        if (rc) break;
        if (forced != FMT_UNKNOWN) in->format = forced;
        if (opt->encoding) in->encoding = opt->encoding;
        /* convert while hashing, except when a sample that is not UTF-8 means
         * repair, or for documents, whose chunk ids are made of the hash */
        bool ahead = !(is_text(in) && !opt->encoding && !strcmp(in->encoding, "latin-1")) &&
                     in->format != FMT_TEXT && in->format != FMT_PDF;
        speculation sp = {.in = in, .head = head, .prior = ins, .nprior = i, .converting = true};
        if (ahead && (rc = ingest_pass_open(&sp.pass, in->path, in->name, in->legacy, err))) {
            ingest_pass_close(&sp.pass);
            break;
        }
        if (ahead) {
            pthread_mutex_init(&sp.mu, NULL);
            lh_err ignored; /* no runner: a thread of normal priority hashes */
            bool idle = !in->legacy && !may_be_known(in, head, ins, i) &&
                        ingest_pass_runner_start(&sp.pass, true, &sp.runner, &ignored) == LH_OK;
            if (!idle && pthread_create(&sp.thread, NULL, speculation_hash, &sp) != 0) {
                pthread_mutex_destroy(&sp.mu);
                ingest_pass_close(&sp.pass);
                ahead = false;
            }
        }
        if (!ahead) {
            double t0 = mono_ms();
            rc = hash_input(in, err);
            in->ms[PH_HASH] = mono_ms() - t0;
            if (rc) break;
            check_known(in, head, ins, i);
            if (in->duplicate_of || in->repeated) continue;
        }
        double t1 = mono_ms();
        rc = prepare_and_convert(ing, in, opt, call, i, ahead ? &sp : NULL, err);
        if (ahead) {
            lh_err hash_err;
            lh_code hash_rc = speculation_end(&sp, &hash_err);
            if (hash_rc) {
                rc = hash_rc;
                *err = hash_err;
                break;
            }
            if (in->duplicate_of || in->repeated) { /* known bytes: the conversion is thrown away */
                discard_outputs(in);
                rc = LH_OK;
                continue;
            }
            if (needs_repair(in, opt) || (is_text(in) && in->census.lines_invalid && opt->encoding &&
                                          !strcmp(opt->encoding, "utf-8"))) {
                /* lines past the sample are not UTF-8: convert again from a repaired copy */
                discard_outputs(in);
                rc = prepare_and_convert(ing, in, opt, call, i, NULL, err);
            }
        }
        in->ms[PH_PREPARE] = mono_ms() - t1 - in->ms[PH_CONVERT] - in->ms[PH_DESCRIBE] - in->hash_rest_ms;
        if (rc == LH_OK) rc = csv_verdict(in, opt, err);
        if (rc == LH_OK && in->rows == 0) rc = lh_err_set(err, LH_EINVAL, "%s holds no rows", in->name);
        if (rc) break;
        fresh++;
        double t2 = mono_ms();
        if (!in->parquet_sha[0]) rc = lh_sha256_file_hex(in->parquet, in->parquet_sha, err); /* not followed */
        struct stat st;
        if (rc == LH_OK && stat(in->parquet, &st) == 0) in->parquet_size = (uint64_t)st.st_size;
        in->key = lh_xasprintf("datasets/%s/data/%s.parquet", opt->dataset, in->parquet_sha);
        if (rc == LH_OK) {
            rc = lh_store_put_file(bucket, in->key, in->parquet, LH_PUT_IF_ABSENT | LH_PUT_SHARE_FILE, err);
            in->uploaded = rc == LH_OK;
            if (rc == LH_EEXIST) rc = LH_OK; /* identical Parquet already stored */
        }
        in->ms[PH_STORE] = mono_ms() - t2;
        lh_log(LH_LOG_DEBUG, "ingest.timing", LH_KV_STR("source", in->name), LH_KV_INT("bytes", in->bytes),
               LH_KV_INT("hash_ms", in->ms[PH_HASH]), LH_KV_INT("hash_rest_bytes", in->hash_rest),
               LH_KV_INT("prepare_ms", in->ms[PH_PREPARE]),
               LH_KV_INT("convert_ms", in->ms[PH_CONVERT]), LH_KV_INT("describe_ms", in->ms[PH_DESCRIBE]),
               LH_KV_INT("store_ms", in->ms[PH_STORE]), LH_KV_INT("parquet_bytes", in->parquet_size),
               LH_KV_INT("parquet_hashed_after", in->parquet_tail));
    }

    json_t *manifest = NULL, *prepared = NULL, *changes = json_array();
    if (rc == LH_OK && fresh > 0) {
        if (!head && !opt->prepare_only) {
            lh_create_options co = {.bucket = bucket->name};
            json_t *created;
            lh_code crc = lh_catalog_create(ing->catalog, opt->dataset, &co, who, &created, err);
            if (crc == LH_OK) json_decref(created);
            else if (crc != LH_EEXIST) rc = crc;
            if (rc == LH_OK) rc = lh_catalog_get(ing->catalog, opt->dataset, 0, &head, err);
        }
        json_t *objects = json_array(), *hashes = json_array(), *lineage_sources = json_array();
        json_t *schema = opt->mode == LH_COMMIT_REPLACE
                             ? json_array()
                             : json_deep_copy(json_object_get(json_object_get(head, "schema"), "fields"));
        for (size_t i = 0; rc == LH_OK && i < n; i++) {
            struct input *in = &ins[i];
            if (in->duplicate_of || in->repeated) continue;
            json_array_append_new(objects, json_pack("{s:s, s:s, s:I, s:s, s:I}", "bucket", bucket->name, "key", in->key,
                                                     "size", (json_int_t)in->parquet_size, "sha256", in->parquet_sha,
                                                     "rows", (json_int_t)in->rows));
            json_array_append_new(hashes, json_string(in->hash));
            json_t *merged = merge_schema(schema, in->fields, changes);
            json_decref(schema);
            schema = merged;
            json_t *source = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "source", in->name, "content_hash",
                                       in->hash, "format", ingest_format_name(in->format), "encoding", in->encoding,
                                       "bytes", (json_int_t)in->bytes, "rows", (json_int_t)in->rows,
                                       "rejected_rows", (json_int_t)in->rejected);
            repair_fields(source, in);
            json_array_append_new(lineage_sources, source);
        }
        char ts[LH_TIME_ISO_LEN];
        lh_time_iso8601(lh_time_now_ms(), ts);
        json_t *lineage = json_pack("{s:o, s:s, s:s, s:s, s:O}", "sources", lineage_sources, "ingested_at", ts,
                                    "actor", who && who->actor ? who->actor : "anonymous", "via",
                                    who && who->source ? who->source : "system", "schema_changes", changes);
        char message[256];
        if (!opt->message)
            snprintf(message, sizeof message, "ingest %zu file%s (%s)", fresh, fresh == 1 ? "" : "s",
                     opt->mode == LH_COMMIT_REPLACE ? "replace" : "append");
        lh_commit c = {.mode = opt->mode, .objects = objects, .schema = schema, .lineage = lineage,
                       .content_hashes = hashes, .message = opt->message ? opt->message : message};
        if (rc == LH_OK && opt->prepare_only) {
            json_int_t rows = 0;
            size_t k;
            json_t *o;
            json_array_foreach(objects, k, o) rows += json_integer_value(json_object_get(o, "rows"));
            prepared = json_pack("{s:I, s:s, s:s, s:O, s:O, s:O, s:O, s:s, s:I}", "base_version",
                                 (json_int_t)(head ? json_integer_value(json_object_get(head, "version")) : 0),
                                 "bucket", bucket->name, "mode", opt->mode == LH_COMMIT_REPLACE ? "replace" : "append",
                                 "objects", objects, "schema", schema, "lineage", lineage, "content_hashes", hashes,
                                 "message", c.message, "rows", rows);
        } else if (rc == LH_OK) {
            double t0 = mono_ms();
            rc = lh_catalog_commit(ing->catalog, opt->dataset, &c, who, &manifest, err);
            lh_log(LH_LOG_DEBUG, "ingest.timing", LH_KV_STR("dataset", opt->dataset),
                   LH_KV_INT("commit_ms", mono_ms() - t0));
        }
        json_decref(objects);
        json_decref(hashes);
        json_decref(schema);
        json_decref(lineage);
    }

    if (rc == LH_OK) {
        json_t *list = json_array(), *rejects = json_array();
        int64_t version = manifest ? json_integer_value(json_object_get(manifest, "version"))
                                   : head ? json_integer_value(json_object_get(head, "version")) : 0;
        for (size_t i = 0; i < n; i++) {
            struct input *in = &ins[i];
            bool dup = in->duplicate_of || in->repeated;
            json_t *source = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:I}", "name", in->name, "format",
                                       dup ? "-" : ingest_format_name(in->format), "content_hash", in->hash, "bytes",
                                       (json_int_t)in->bytes, "rows", (json_int_t)in->rows, "rejected_rows",
                                       (json_int_t)in->rejected, "status", dup ? "already_ingested" : "ingested",
                                       "version", (json_int_t)(in->duplicate_of ? in->duplicate_of : version));
            if (!dup && in->encoding) json_object_set_new(source, "encoding", json_string(in->encoding));
            repair_fields(source, in);
            json_array_append_new(list, source);
            json_array_extend(rejects, in->rejects);
        }
        json_t *shown = manifest ? manifest : head;
        *report = json_pack("{s:s, s:I, s:b, s:o, s:O, s:O, s:o, s:I}", "dataset", opt->dataset, "version",
                            (json_int_t)version, "new_version", manifest != NULL, "sources", list, "schema",
                            prepared ? json_object_get(prepared, "schema")
                                     : json_object_get(json_object_get(shown, "schema"), "fields"),
                            "schema_changes", changes,
                            "rejects", rejects, "row_count",
                            json_integer_value(json_object_get(shown, "row_count")));
        if (prepared) json_object_set(*report, "prepared", prepared);
    } else if (ing->errors) {
        lh_errors_record(ing->errors, "ingest", bucket->name, opt->dataset, err);
    }
    cleanup(ing, ins, n, bucket, rc != LH_OK);
    free(ins);
    json_decref(changes);
    json_decref(manifest);
    json_decref(prepared);
    json_decref(head);
    return rc;
}
