/*
 * lh_err.h — the one way to fail.
 *
 * Every fallible call returns an lh_code (LH_OK is 0) and, when given a
 * non-NULL lh_err, fills it with the same code and a human message. The code
 * maps once to an HTTP status and an error name (lh_code_http_status,
 * lh_code_name) and once to a process exit status (lh_code_exit_status).
 */
#ifndef LH_ERR_H
#define LH_ERR_H

#include <stdarg.h>
#include <stddef.h>

typedef enum lh_code {
    LH_OK = 0,
    LH_EINVAL,       /* bad input from the caller: 400 bad_request */
    LH_ENOTFOUND,    /* no such thing: 404 not_found */
    LH_EMETHOD,      /* the thing exists, the verb does not: 405 method_not_allowed */
    LH_ETIMEOUT,     /* a deadline passed: 408 timeout */
    LH_ECONFLICT,    /* lost a race or violates state: 409 conflict */
    LH_EEXIST,       /* already exists: 409 already_exists */
    LH_ETOOBIG,      /* over a configured size limit: 413 payload_too_large */
    LH_EUNSUPPORTED, /* understood but not supported: 415 unsupported */
    LH_EFORBIDDEN,   /* not allowed for this caller or sandbox: 403 forbidden */
    LH_EUNAVAILABLE, /* temporarily unable (busy, shutting down): 503 unavailable */
    LH_EUPSTREAM,    /* a remote service failed: 502 upstream_error */
    LH_ECORRUPT,     /* stored data fails its checks: 500 corrupt */
    LH_EIO,          /* the operating system said no: 500 io_error */
    LH_ENOMEM,       /* allocation failed: 500 out_of_memory */
    LH_EINTERNAL,    /* a bug: 500 internal */
    LH_EUNAUTHORIZED, /* no credentials, or ones that fail: 401 unauthorized */
    LH_CODE_COUNT
} lh_code;

#define LH_ERR_MESSAGE_MAX 512

typedef struct lh_err {
    lh_code code;
    char message[LH_ERR_MESSAGE_MAX]; /* always valid UTF-8: bytes that are not become '?' */
} lh_err;

/* Sets *err (if non-NULL) and returns code, so callers can `return lh_err_set(...)`.
 * The arguments may point into err->message (it is formatted aside first), but
 * to add context to an error keep its code and say so: lh_err_wrap. */
lh_code lh_err_set(lh_err *err, lh_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
lh_code lh_err_vset(lh_err *err, lh_code code, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

/* Like lh_err_set, with ": strerror(errnum)" appended. */
lh_code lh_err_errno(lh_err *err, lh_code code, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prefixes the existing message with context ("loading x: <old message>"). */
lh_code lh_err_wrap(lh_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void lh_err_clear(lh_err *err);

/* Stable snake_case name of a code ("not_found"), as used in HTTP error bodies. */
const char *lh_code_name(lh_code code);

/* HTTP status for a code (LH_OK -> 200). */
int lh_code_http_status(lh_code code);

/* Process exit status for a code: 0 ok, 2 usage/bad input, 3 not found, 4 conflict,
 * 5 timeout, 6 forbidden or unauthorized, 1 everything else. */
int lh_code_exit_status(lh_code code);

#endif
