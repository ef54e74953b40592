/*
 * lh_ui.h — the web UI: server-rendered HTML over the operation table.
 *
 * Pages at / and /ui/... render what lh_app_call returns for the signed-in
 * caller (or the local operator when no key is required); HTMX swaps parts
 * of them, Alpine.js keeps small local state, and the scripts, styles and
 * chart library are compiled into the binary (/ui/assets/<name>-<hash>).
 * docs/ui.md describes the pages and the security model.
 *
 * Security, in one place: every value is escaped by lh_html.h; pages carry
 * a strict Content-Security-Policy; a browser session is a random id in an
 * HttpOnly SameSite=Strict cookie that maps, in this process's memory, to
 * the API key it signed in with (the key never returns to the browser); and
 * every POST carries a CSRF token, the HMAC of the session id under a
 * per-process secret, checked before anything runs.
 */
#ifndef LH_UI_H
#define LH_UI_H

#include <stdbool.h>
#include <stddef.h>

#include "lakehouse/lh_app.h"
#include "lakehouse/lh_config.h"
#include "lakehouse/lh_http.h"

#define LH_UI_SESSION_ID_HEX 64  /* 32 random bytes */
#define LH_UI_CSRF_HEX 64        /* HMAC-SHA256 */
#define LH_UI_MAX_SESSIONS 4096  /* the least recently used goes first */
#define LH_UI_SESSION_IDLE_S (12 * 3600)
#define LH_UI_PREVIEW_ROWS 50    /* rows per page of a dataset preview */
#define LH_UI_SQL_ROWS 200       /* rows per page of a SQL result */

/* Registers the UI's routes (GET /, /ui/...) on r, bound to app. */
void lh_ui_register(lh_app *app, const lh_config *cfg, lh_router *r);

/* The CSRF token of a session: hex HMAC-SHA256(secret, session id), into
 * out[LH_UI_CSRF_HEX + 1]. */
void lh_ui_csrf_token(const unsigned char secret[32], const char *session_id, char *out);
/* Whether token is the session's token (constant time; NULL or empty: no). */
bool lh_ui_csrf_check(const unsigned char secret[32], const char *session_id, const char *token);

#endif
