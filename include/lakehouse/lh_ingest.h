/*
 * lh_ingest.h — files in, versioned Parquet datasets out, without a schema.
 *
 * Formats: CSV / TSV (delimiter, quoting, header, types and encoding sniffed),
 * JSON arrays, NDJSON, Parquet, plain text / Markdown, PDF (text per page,
 * via poppler) and spreadsheets (.xlsx, .ods: every sheet's rows, with a
 * "sheet" column). Tabular inputs keep their columns; documents become rows of
 * (chunk_id, doc_id, page, chunk_no, section, text, source), chunked on
 * paragraph, sentence, line or word boundaries.
 *
 * One ingest call is one new version of one dataset (created if needed):
 *   1. each input is hashed (SHA-256); bytes the dataset already holds are
 *      skipped, and if nothing is new no version is made (the report names
 *      the version that holds them)
 *   2. each input is converted to zstd Parquet by DuckDB, streaming (memory
 *      stays bounded whatever the input size); tables are converted while
 *      they are hashed (a thread), the conversion stopped and thrown away
 *      if the bytes are known, and the Parquet written back to disk as it
 *      grows, so neither the hash nor the final fsync adds its own wait
 *   3. columns that look like emails, phone numbers, national ids or person
 *      names are tagged (schema field "pii")
 *   4. the Parquet files are stored as datasets/<name>/data/<sha256>.parquet
 *      and committed with the evolved schema (new columns added, missing ones
 *      NULL, conflicting types widened: integers to BIGINT, numbers to DOUBLE,
 *      anything else to VARCHAR) and lineage (source, hash, time, actor).
 * A bad input fails the whole call with a clear error: it is recorded in the
 * error journal, makes no version and leaves no object behind.
 */
#ifndef LH_INGEST_H
#define LH_INGEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lakehouse/lh_buckets.h"
#include "lakehouse/lh_catalog.h"
#include "lakehouse/lh_journal.h"
#include "lakehouse/lh_query.h"

/* JSON inputs nesting deeper than this are refused (LH_EINVAL) before they
 * reach DuckDB's reader, whose work grows with depth and whose stack does not
 * survive thousands of levels. */
#define LH_INGEST_JSON_DEPTH_MAX 64

/* Spreadsheets (.xlsx, .ods) are zip archives of XML: what one may make
 * before it is refused (LH_ETOOBIG, or LH_EINVAL for the nesting). */
#define LH_INGEST_SHEET_PART_BYTES_MAX (256 << 20)   /* inflated bytes of one part (a sheet's XML) */
#define LH_INGEST_SHEET_TOTAL_BYTES_MAX (1024 << 20) /* inflated bytes of all parts read */
#define LH_INGEST_SHEET_RATIO_MAX 200                /* inflated / packed size of a part past 1 MiB */
#define LH_INGEST_SHEET_CELLS_MAX 20000000           /* non-empty cells, repeats counted */
#define LH_INGEST_SHEET_COLUMNS_MAX 16384            /* columns of a sheet (A..XFD), and distinct names */
#define LH_INGEST_SHEET_XML_DEPTH_MAX 64             /* XML nesting (real sheets use under 10) */
#define LH_INGEST_SHEET_CELL_BYTES_MAX (1 << 20)     /* text of one cell (or shared string) */
#define LH_INGEST_SHEET_ROW_BYTES_MAX (64 << 20)     /* text of one row */
#define LH_INGEST_SHEET_ROWS_BYTES_MAX (2048LL << 20) /* the rows a workbook becomes (repeats and shared
                                                      * strings multiply what the archive holds) */

typedef struct lh_ingester lh_ingester;

typedef struct lh_ingester_config {
    lh_query_engine *engine; /* unsandboxed: it reads the input files */
    lh_catalog *catalog;
    lh_buckets *buckets;
    lh_errors *errors;       /* failed ingests are recorded here (may be NULL) */
    const char *tmp_dir;     /* conversions write here before upload */
    size_t chunk_chars;      /* document chunking defaults */
    size_t chunk_overlap;
    size_t max_line_bytes;   /* CSV: the longest line (or quoted value) read; 0: 2 MiB */
} lh_ingester_config;

lh_code lh_ingester_new(const lh_ingester_config *cfg, lh_ingester **out, lh_err *err);
void lh_ingester_free(lh_ingester *ing);

typedef struct lh_ingest_source {
    const char *path; /* the file to read */
    const char *name; /* its original name (lineage, format by extension); NULL: path */
} lh_ingest_source;

/* Progress of a long ingest: fraction done in [0, 1] of the current input. */
typedef void (*lh_ingest_progress_fn)(void *ctx, const char *source, double done);

typedef enum lh_csv_header { LH_HEADER_SNIFFED = 0, LH_HEADER_YES, LH_HEADER_NO } lh_csv_header;

typedef struct lh_ingest_options {
    const char *dataset;
    lh_commit_mode mode;     /* APPEND (default) or REPLACE */
    const char *format;      /* NULL: sniffed; else csv tsv json ndjson parquet text markdown pdf */
    bool skip_bad_rows;      /* CSV: keep good rows and report bad ones (default: refuse the file) */
    const char *bucket;      /* where a new dataset lives (NULL: the default bucket) */
    const char *message;
    size_t chunk_chars;      /* documents: target chunk size (0: the ingester's default) */
    size_t chunk_overlap;    /* documents: characters repeated (used when chunk_chars is set) */
    long long timeout_ms;    /* per input conversion (0: none) */
    /* CSV: what to take instead of sniffing (NULL / -1: sniff) */
    const char *delimiter;   /* one character, "\\t", or "whitespace" (runs of spaces and tabs) */
    lh_csv_header header;    /* whether the first row names the columns */
    const char *decimal;     /* "." or "," */
    const char *encoding;    /* "utf-8", "latin-1" or "utf-16": the whole file so, no
                              * per-line repair (sniffed: lines that are not UTF-8 are
                              * read as Windows-1252, the rest kept) */
    lh_ingest_progress_fn progress;
    void *progress_ctx;
    /* Stop before the commit (drafts): the data files are stored, nothing is
     * committed and a new dataset is not created; the report gains
     * "prepared": the commit that would have been made (below). */
    bool prepare_only;
} lh_ingest_options;

/* Ingests the sources as one version. *report (a new reference):
 *   {dataset, version, new_version, sources:[{name, format, encoding?, content_hash, bytes, rows,
 *    rejected_rows, status: "ingested"|"already_ingested", version?,
 *    lines_repaired?, repaired_as?: "windows-1252"}], schema:[...],
 *    rejects:[{source, line, error}], row_count }
 * With prepare_only the version is the current one (0: no dataset yet),
 * new_version false, and when anything is new:
 *   prepared: {base_version, bucket, mode, objects:[{bucket, key, size, sha256, rows}],
 *              schema:[...], lineage, content_hashes:[...], message, rows}
 * which lh_catalog_commit takes as it is (expected_parent = base_version). */
lh_code lh_ingest(lh_ingester *ing, const lh_ingest_source *sources, size_t n,
                  const lh_ingest_options *opt, const lh_who *who, json_t **report, lh_err *err);

/* Splits UTF-8 text into chunks of at most max_chars characters, cut after
 * a paragraph (blank line), else a sentence ('.', '!' or '?' then a blank,
 * not after an abbreviation or an initial, nor before a lowercase word; CJK
 * full stops), else a line, else a word; inside a word only when one word
 * is longer than a chunk. About overlap characters are repeated at the start
 * of the next chunk, from a sentence start when there is one among them,
 * else a word start. Calls fn(offset, length) per chunk. */
void lh_ingest_chunk_text(const char *text, size_t len, size_t max_chars, size_t overlap,
                          void (*fn)(void *ctx, size_t off, size_t len), void *ctx);

/* The PII kind of a column from its name and sample values: "email", "phone",
 * "national_id", "person_name", or NULL. */
const char *lh_ingest_pii_kind(const char *column, const char *const *values, size_t n);

#endif
