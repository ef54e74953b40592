/*
 * framing.c — the request framing rules we hold above libmicrohttpd's: one
 * Content-Length, plain decimal digits, never together with Transfer-Encoding
 * (RFC 9112 §6.3: the ambiguity request smuggling feeds on).
 */
#include "lakehouse/lh_http.h"

static bool parse_length(const char *v, uint64_t *out)
{
    while (*v == ' ' || *v == '\t') v++;
    if (*v < '0' || *v > '9') return false;
    uint64_t n = 0;
    for (; *v >= '0' && *v <= '9'; v++) {
        if (n > (UINT64_MAX - 9) / 10) return false;
        n = n * 10 + (uint64_t)(*v - '0');
    }
    while (*v == ' ' || *v == '\t') v++;
    if (*v) return false;
    *out = n;
    return true;
}

int lh_http_check_framing(const char *const *cl, size_t n_cl, const char *te, uint64_t limit, uint64_t *len)
{
    *len = UINT64_MAX;
    if (n_cl == 0) return 0;
    if (te) return 400;
    uint64_t first = 0;
    for (size_t i = 0; i < n_cl; i++) {
        uint64_t n;
        if (!parse_length(cl[i], &n)) {
            /* all digits but too long for 64 bits is oversized, not malformed */
            const char *v = cl[i];
            while (*v >= '0' && *v <= '9') v++;
            if (v != cl[i] && !*v && n_cl == 1) return 413;
            return 400;
        }
        if (i == 0) first = n;
        else if (n != first) return 400;
    }
    *len = first;
    return first > limit ? 413 : 0;
}
