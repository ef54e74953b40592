/*
 * fuzz_text.c — libFuzzer target for the ingest code that reads raw bytes
 * itself (DuckDB and poppler parse the rest): format and encoding sniffing,
 * document chunking and the PII classifier. Chunks must stay inside the input,
 * make progress, and never split a UTF-8 character of valid input.
 */
#include "../../src/ingest/internal.h"
#include "lakehouse/lh_utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct check {
    const char *text;
    size_t len, last_end, chunks;
    bool valid;
};

static void on_chunk(void *ctx, size_t off, size_t len)
{
    struct check *c = ctx;
    if (len == 0 || off + len > c->len) abort();
    if (c->valid && !lh_utf8_valid(c->text + off, len)) abort();
    c->chunks++;
    if (c->chunks > c->len + 1) abort(); /* no endless loop */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/lh-fuzz-text-%d", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    ingest_format fmt;
    const char *enc;
    lh_err err;
    (void)ingest_sniff(path, size && data[0] == 'x' ? "x.csv" : "upload", &fmt, &enc, &err);

    const char *text = (const char *)data;
    struct check c = {text, size, 0, 0, lh_utf8_valid(text, size)};
    size_t max = size ? 1 + data[0] % 64 : 10, overlap = size > 1 ? data[1] % 80 : 0;
    lh_ingest_chunk_text(text, size, max, overlap, on_chunk, &c);

    /* PII: up to 8 NUL-separated values */
    char *copy = malloc(size + 1);
    memcpy(copy, data, size);
    copy[size] = '\0';
    const char *values[8];
    size_t n = 0;
    for (char *p = copy; n < 8 && p <= copy + size; p += strlen(p) + 1) values[n++] = p;
    (void)lh_ingest_pii_kind(values[0], values, n);
    free(copy);
    return 0;
}
