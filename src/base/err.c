/*
 * err.c — error values and their single mapping to names, HTTP and exit codes.
 */
#include "lakehouse/lh_err.h"
#include "lakehouse/lh_utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int http;
    int exit;
} code_table[LH_CODE_COUNT] = {
    [LH_OK] = {"ok", 200, 0},
    [LH_EINVAL] = {"bad_request", 400, 2},
    [LH_ENOTFOUND] = {"not_found", 404, 3},
    [LH_EMETHOD] = {"method_not_allowed", 405, 2},
    [LH_ETIMEOUT] = {"timeout", 408, 5},
    [LH_ECONFLICT] = {"conflict", 409, 4},
    [LH_EEXIST] = {"already_exists", 409, 4},
    [LH_ETOOBIG] = {"payload_too_large", 413, 2},
    [LH_EUNSUPPORTED] = {"unsupported", 415, 2},
    [LH_EFORBIDDEN] = {"forbidden", 403, 6},
    [LH_EUNAVAILABLE] = {"unavailable", 503, 1},
    [LH_EUPSTREAM] = {"upstream_error", 502, 1},
    [LH_ECORRUPT] = {"corrupt", 500, 1},
    [LH_EIO] = {"io_error", 500, 1},
    [LH_ENOMEM] = {"out_of_memory", 500, 1},
    [LH_EINTERNAL] = {"internal", 500, 1},
    [LH_EUNAUTHORIZED] = {"unauthorized", 401, 6},
};

static int valid(lh_code code)
{
    return (int)code >= 0 && code < LH_CODE_COUNT;
}

const char *lh_code_name(lh_code code)
{
    return valid(code) ? code_table[code].name : "internal";
}

int lh_code_http_status(lh_code code)
{
    return valid(code) ? code_table[code].http : 500;
}

int lh_code_exit_status(lh_code code)
{
    return valid(code) ? code_table[code].exit : 1;
}

lh_code lh_err_vset(lh_err *err, lh_code code, const char *fmt, va_list ap)
{
    if (err) {
        char message[LH_ERR_MESSAGE_MAX]; /* fmt's arguments may point into err->message */
        vsnprintf(message, sizeof message, fmt, ap);
        lh_utf8_scrub(message); /* it may quote input, or be cut inside a character */
        err->code = code;
        memcpy(err->message, message, sizeof message);
    }
    return code;
}

lh_code lh_err_set(lh_err *err, lh_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lh_err_vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

lh_code lh_err_errno(lh_err *err, lh_code code, int errnum, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        char message[LH_ERR_MESSAGE_MAX]; /* fmt's arguments may point into err->message */
        va_start(ap, fmt);
        int n = vsnprintf(message, sizeof message, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof message)
            snprintf(message + n, sizeof message - (size_t)n, ": %s", strerror(errnum));
        lh_utf8_scrub(message); /* it may quote input, or be cut inside a character */
        err->code = code;
        memcpy(err->message, message, sizeof message);
    }
    return code;
}

lh_code lh_err_wrap(lh_err *err, const char *fmt, ...)
{
    if (!err) return LH_EINTERNAL;
    char prefix[LH_ERR_MESSAGE_MAX], old[LH_ERR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->message, sizeof old);
    snprintf(err->message, sizeof err->message, "%s: %s", prefix, old);
    lh_utf8_scrub(err->message);
    return err->code;
}

void lh_err_clear(lh_err *err)
{
    if (err) {
        err->code = LH_OK;
        err->message[0] = '\0';
    }
}
