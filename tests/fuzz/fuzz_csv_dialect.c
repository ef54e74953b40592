/*
 * fuzz_csv_dialect.c — libFuzzer target for the CSV dialect decisions and the
 * whitespace-to-TSV rewrite (src/ingest/dialect.c) over untrusted uploads:
 * any bytes give a dialect (header -1, 0 or 1) and, when they look aligned
 * by spaces, a rewrite with no blank run left in it; never a crash.
 */
#include "../../src/ingest/internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/lh-fuzz-dialect-XXXXXX", out[] = "/tmp/lh-fuzz-dialect-tsv-XXXXXX";
    int fd = mkstemp(path), fo = mkstemp(out);
    if (fd < 0 || fo < 0 || write(fd, data, size) != (ssize_t)size) abort();
    close(fd);
    close(fo);
    csv_dialect d;
    lh_err err = {0};
    if (ingest_csv_dialect(path, &d, &err) != LH_OK) abort();
    if (d.header < -1 || d.header > 1) abort();
    if (d.whitespace) {
        if (ingest_whitespace_to_tsv(path, out, &err) != LH_OK) abort();
        FILE *f = fopen(out, "rb");
        int c, prev = '\n';
        while ((c = getc(f)) != EOF) {
            if ((c == ' ' || c == '\r') || (c == '\t' && (prev == '\t' || prev == '\n'))) abort();
            prev = c;
        }
        fclose(f);
    }
    unlink(path);
    unlink(out);
    return 0;
}
