/*
 * fuzz_http_framing.c — libFuzzer target for lh_http_check_framing, the
 * Content-Length / Transfer-Encoding rules the server holds before reading a
 * body. The input is a header block ("Name: value" lines); the verdict is
 * checked against an independent reading: accepted lengths are plain decimal,
 * identical across headers, within the limit and never beside Transfer-Encoding.
 */
#include "lakehouse/lh_http.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LIMIT 4096u

/* value (trimmed of blanks) as a decimal number; false if not plain digits */
static bool model_length(const char *v, uint64_t *out)
{
    while (*v == ' ' || *v == '\t') v++;
    size_t n = strspn(v, "0123456789");
    if (n == 0) return false;
    for (const char *t = v + n; *t; t++)
        if (*t != ' ' && *t != '\t') return false;
    errno = 0;
    *out = strtoull(v, NULL, 10); /* digits only here, so no sign or base surprises */
    return errno == 0 && *out != UINT64_MAX;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    const char *cl[8];
    size_t n_cl = 0;
    const char *te = NULL;
    for (char *line = strtok(text, "\r\n"); line && n_cl < 8; line = strtok(NULL, "\r\n")) {
        char *colon = strchr(line, ':');
        if (!colon) continue;
        *colon = '\0';
        if (!strcasecmp(line, "Content-Length")) cl[n_cl++] = colon + 1;
        else if (!strcasecmp(line, "Transfer-Encoding")) te = colon + 1;
    }
    uint64_t len = 0;
    int status = lh_http_check_framing(cl, n_cl, te, LIMIT, &len);
    if (status != 0 && status != 400 && status != 413) abort();
    if (n_cl == 0 && (status != 0 || len != UINT64_MAX)) abort();
    if (status == 0 && n_cl > 0) {
        if (te || len > LIMIT) abort();
        for (size_t i = 0; i < n_cl; i++) {
            uint64_t m;
            if (!model_length(cl[i], &m) || m != len) abort();
        }
    }
    if (status == 413) { /* one length (or identical ones) over the limit */
        if (te || n_cl == 0) abort();
        uint64_t first, m;
        bool first_ok = model_length(cl[0], &first);
        if (first_ok && first <= LIMIT) abort();
        for (size_t i = 1; i < n_cl; i++)
            if (!first_ok || !model_length(cl[i], &m) || m != first) abort();
    }
    free(text);
    return 0;
}
