/*
 * fuzz_spreadsheet.c — libFuzzer target for the spreadsheet reader
 * (src/ingest/sheet.c) over untrusted uploads. The first byte picks the way
 * in: 0-5 one XML part (shared strings, styles, workbook, relationships, an
 * xlsx sheet, ods content) parsed with every limit; 6 and 7 the rest of the
 * bytes as a whole .xlsx or .ods archive (libzip, then the parts). Any bytes
 * give LH_OK or a clear error; never a crash, a leak or a hang.
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
    if (size < 1) return 0;
    int way = data[0] % 8;
    lh_err err = {0};
    lh_code rc;
    if (way < 6) {
        rc = ingest_sheet_xml_check(way, (const char *)data + 1, size - 1, &err);
    } else {
        char path[] = "/tmp/lh-fuzz-sheet-XXXXXX", out[] = "/tmp/lh-fuzz-sheet-rows-XXXXXX";
        int fd = mkstemp(path), fo = mkstemp(out);
        if (fd < 0 || fo < 0 || write(fd, data + 1, size - 1) != (ssize_t)(size - 1)) abort();
        close(fd);
        close(fo);
        char *columns = NULL;
        rc = ingest_spreadsheet(path, "fuzz", way == 7, out, &columns, &err);
        if (rc == LH_OK && (!columns || columns[0] != '{')) abort();
        free(columns);
        unlink(path);
        unlink(out);
    }
    if (rc != LH_OK && !err.message[0]) abort(); /* every refusal says why */
    return 0;
}
