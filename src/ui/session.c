/*
 * session.c — browser sessions and CSRF tokens.
 *
 * A session is a random id (the cookie) mapped in this process's memory to
 * the API key that signed in, so the key is never stored in the browser;
 * each request re-authenticates that key (a revoked key ends the session).
 * Sessions are per process: behind several replicas, route a browser to one
 * (or sign in again). A CSRF token is HMAC-SHA256(secret, session id).
 */
#include "internal.h"

#include "lakehouse/lh_sha256.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

void lh_ui_csrf_token(const unsigned char secret[32], const char *session_id, char *out)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, secret, 32);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)session_id, strlen(session_id));
    crypto_auth_hmacsha256_final(&st, mac);
    lh_hex_encode(mac, sizeof mac, out);
    out[LH_UI_CSRF_HEX] = '\0';
}

bool lh_ui_csrf_check(const unsigned char secret[32], const char *session_id, const char *token)
{
    if (!session_id || !*session_id || !token || strlen(token) != LH_UI_CSRF_HEX) return false;
    char want[LH_UI_CSRF_HEX + 1];
    lh_ui_csrf_token(secret, session_id, want);
    return sodium_memcmp(want, token, LH_UI_CSRF_HEX) == 0;
}

static ui_session *find(lh_ui *ui, const char *id)
{
    if (!id || strlen(id) != LH_UI_SESSION_ID_HEX) return NULL;
    for (size_t i = 0; i < ui->n_sessions; i++)
        if (sodium_memcmp(ui->sessions[i].id, id, LH_UI_SESSION_ID_HEX) == 0) return &ui->sessions[i];
    return NULL;
}

static void drop(lh_ui *ui, ui_session *s)
{
    if (s->key) sodium_memzero(s->key, strlen(s->key));
    free(s->key);
    *s = ui->sessions[--ui->n_sessions];
}

/* The key of session id (a malloc'd copy; NULL: none) and whether it exists; touches it. */
bool ui_session_get(lh_ui *ui, const char *id, char **key)
{
    time_t now = time(NULL);
    *key = NULL;
    pthread_mutex_lock(&ui->mu);
    ui_session *s = find(ui, id);
    if (s && now - s->last_used > LH_UI_SESSION_IDLE_S) {
        drop(ui, s);
        s = NULL;
    }
    if (s) {
        s->last_used = now;
        if (s->key) *key = strdup(s->key);
    }
    pthread_mutex_unlock(&ui->mu);
    return s != NULL;
}

/* A new session holding key (may be NULL), its id into id. */
void ui_session_new(lh_ui *ui, const char *key, char *id)
{
    unsigned char bytes[LH_UI_SESSION_ID_HEX / 2];
    randombytes_buf(bytes, sizeof bytes);
    lh_hex_encode(bytes, sizeof bytes, id);
    id[LH_UI_SESSION_ID_HEX] = '\0';
    pthread_mutex_lock(&ui->mu);
    if (ui->n_sessions == LH_UI_MAX_SESSIONS) {
        size_t oldest = 0;
        for (size_t i = 1; i < ui->n_sessions; i++)
            if (ui->sessions[i].last_used < ui->sessions[oldest].last_used) oldest = i;
        drop(ui, &ui->sessions[oldest]);
    }
    ui_session *s = &ui->sessions[ui->n_sessions++];
    memcpy(s->id, id, sizeof s->id);
    s->key = key ? strdup(key) : NULL;
    s->last_used = time(NULL);
    pthread_mutex_unlock(&ui->mu);
}

void ui_session_end(lh_ui *ui, const char *id)
{
    pthread_mutex_lock(&ui->mu);
    ui_session *s = find(ui, id);
    if (s) drop(ui, s);
    pthread_mutex_unlock(&ui->mu);
}
