/*
 * fuzz_csv_sniff.c — libFuzzer target for format and encoding sniffing
 * (ingest_sniff, src/ingest/sniff.c) over untrusted uploads. Any bytes give a
 * known format and encoding, or LH_EINVAL with a message; never a crash.
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
    char path[] = "/tmp/lh-fuzz-sniff-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        unlink(path);
        return 0;
    }
    close(fd);
    static const char *const names[] = {"upload", "x.csv", "x.json", "x.txt"};
    const char *name = names[size ? data[size - 1] % 4 : 0];
    ingest_format format = FMT_UNKNOWN;
    const char *encoding = NULL;
    lh_err err = {0};
    lh_code rc = ingest_sniff(path, name, &format, &encoding, &err);
    unlink(path);
    if (rc == LH_OK) {
        if (!ingest_format_name(format) || !encoding) abort();
    } else if (rc != LH_EINVAL || !err.message[0]) {
        abort();
    }
    return 0;
}
