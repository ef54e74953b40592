/*
 * internal.h — what the ingest files share.
 */
#ifndef LH_INGEST_INTERNAL_H
#define LH_INGEST_INTERNAL_H

#include "lakehouse/lh_blake3.h"
#include "lakehouse/lh_ingest.h"
#include "lakehouse/lh_sha256.h"
#include "lakehouse/lh_utf8.h"

#include <stdatomic.h>
#include <stdint.h>

typedef enum {
    FMT_UNKNOWN,
    FMT_CSV,
    FMT_TSV,
    FMT_JSON, /* an array of objects, or NDJSON: DuckDB tells them apart */
    FMT_PARQUET,
    FMT_TEXT,
    FMT_PDF,
    FMT_XLSX,
    FMT_ODS
} ingest_format;

const char *ingest_format_name(ingest_format f);
bool ingest_format_parse(const char *s, ingest_format *out);

/* Decides the format from the first bytes and the name; text encodings are
 * "utf-8", "utf-16" or "latin-1". LH_EINVAL for binary data that is none of
 * the binary formats, with a message saying what it looks like. */
lh_code ingest_sniff(const char *path, const char *name, ingest_format *format,
                     const char **encoding, lh_err *err);

/* The one pass over an input's bytes, straight from the page cache
 * (lh_file_each): its content hash (BLAKE3, and SHA-256 where a dataset's
 * history holds those), the census of lines that are not UTF-8 and the '"'
 * count the truncation check needs. A run stops at the end of its piece
 * once hand_over is set, and a later run (in any thread) goes on from
 * `done`: the ingest hashes on idle CPU while DuckDB converts, and takes
 * over when the conversion is done (ingest.c). */
typedef struct ingest_pass {
    int fd;
    const char *name; /* as messages name the input */
    bool sha256;      /* SHA-256 too */
    lh_blake3 blake3;
    lh_sha256 sha;
    lh_utf8_census census;
    uint64_t quotes;
    uint64_t done;         /* bytes seen */
    atomic_bool hand_over; /* stop at the end of the piece */
} ingest_pass;

lh_code ingest_pass_open(ingest_pass *p, const char *path, const char *name, bool sha256, lh_err *err);
/* To the end of the file, or until hand_over: LH_EIO on a read error or a
 * file cut short meanwhile. */
lh_code ingest_pass_run(ingest_pass *p, lh_err *err);
/* Once a run has reached the end: the "blake3:<hex>" content hash, and the
 * SHA-256 hex (when asked for); the census is final. */
void ingest_pass_finish(ingest_pass *p, char hash[LH_CONTENT_HASH_LEN + 1], char sha256[LH_SHA256_HEX_LEN + 1]);
/* Closes the file and releases what the pass holds, finished or not. */
void ingest_pass_close(ingest_pass *p);

/* A BLAKE3 pass (no SHA-256) run by a detached thread of its own, at
 * SCHED_IDLE when idle, on the open pass p's file (from its first byte):
 * taking it over never waits for that thread, however long it is kept from
 * running (pass.c). */
typedef struct ingest_pass_runner ingest_pass_runner;
lh_code ingest_pass_runner_start(const ingest_pass *p, bool idle, ingest_pass_runner **out, lh_err *err);
/* Stops the runner (its thread ends when it next runs) and puts p where the
 * runner's last whole piece ended (up to the file's end when it was done),
 * for ingest_pass_run to go on. The runner is gone after this. */
void ingest_pass_runner_take(ingest_pass_runner *r, ingest_pass *p);

/* Counts the nesting of JSON text fed in pieces, outside strings. */
typedef struct ingest_json_nesting {
    int depth, deepest;
    bool in_string, escape;
} ingest_json_nesting;

/* Feeds n bytes; false as soon as the nesting passes limit. */
bool ingest_json_nesting_feed(ingest_json_nesting *s, const char *p, size_t n, int limit);

/* LH_EINVAL if the JSON (or NDJSON) file at path nests deeper than limit:
 * checked before DuckDB's reader, which recurses once per level. */
lh_code ingest_json_depth_check(const char *path, const char *name, int limit, lh_err *err);

/* What DuckDB's CSV sniffer gets wrong, decided from the first lines (dialect.c). */
typedef struct csv_dialect {
    bool whitespace;    /* fields aligned by runs of spaces or tabs: read as TSV after rewriting */
    bool decimal_comma; /* ';' (or tab, '|') separated, with decimal commas ("459,9") */
    int header;         /* 1 or 0 when decided here; -1: the sniffer's call */
} csv_dialect;

lh_code ingest_csv_dialect(const char *path, csv_dialect *d, lh_err *err);
/* Rewrites a whitespace-aligned file as tab-separated (runs of blanks become one tab). */
lh_code ingest_whitespace_to_tsv(const char *from, const char *to, lh_err *err);

/* Reads a spreadsheet (sheet.c) into NDJSON rows at ndjson, one per data row
 * of every sheet with its "sheet" name first; *columns (owned) is the DuckDB
 * struct of column names and types for read_json. LH_EINVAL / LH_ETOOBIG
 * name the part and the limit for damaged or hostile archives. */
lh_code ingest_spreadsheet(const char *path, const char *name, bool ods, const char *ndjson, char **columns,
                           lh_err *err);
/* Parses one XML part of the kind part % 6 (shared strings, styles,
 * workbook, relationships, xlsx sheet, ods content) with the limits, writing
 * nothing: the fuzz target's way in. */
lh_code ingest_sheet_xml_check(int part, const char *xml, size_t n, lh_err *err);

/* One document chunk row. */
typedef struct doc_row {
    int page;
    int chunk_no;
    char *text;    /* owned */
    char *section; /* owned: the heading path ("Commands > set > logscale"), or NULL */
} doc_row;

typedef struct doc_rows {
    doc_row *rows;
    size_t n, cap;
} doc_rows;

/* Reads a text / Markdown (UTF-8 or Latin-1) or PDF file into chunk rows,
 * each with its section: Markdown headings ("#" to "######" at a line's
 * start) or the PDF's outline (bookmarks, split where a title appears on
 * its page) give the path of headings above it. */
lh_code ingest_document(const char *path, ingest_format format, const char *encoding,
                        size_t chunk_chars, size_t overlap, doc_rows *out, lh_err *err);
void doc_rows_free(doc_rows *r);

#endif
