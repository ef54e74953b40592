/*
 * ai.c — the application's embedding and chat providers: one lh_ai per
 * (provider, model) on first use, the Node sidecar started when a "local-node"
 * provider is first needed (or at `serve`), and the chat provider.
 */
#include "internal.h"

#include "lakehouse/lh_log.h"
#include "lakehouse/lh_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *or_null(const char *s)
{
    return s && *s ? lh_xstrdup(s) : NULL;
}

void lh_app_ai_init(lh_app *app, const lh_config *cfg)
{
    pthread_mutex_init(&app->ai_mu, NULL);
    app->ai_provider = lh_xstrdup(cfg->ai_provider);
    app->ai_url = or_null(cfg->ai_url);
    app->ai_model = or_null(cfg->ai_model);
    app->ai_api_key = or_null(cfg->ai_api_key);
    app->ai_timeout_ms = cfg->ai_timeout_ms;
    app->ai_retries = (int)cfg->ai_retries;
    app->ai_batch_size = (size_t)cfg->ai_batch_size;
    app->sidecar_node = or_null(cfg->ai_sidecar_node);
    app->sidecar_script = or_null(cfg->ai_sidecar_script);
    app->sidecar_port = (int)cfg->ai_sidecar_port;
    if (strcmp(cfg->ai_chat_provider, "none") != 0) {
        lh_ai_config c = {.provider = cfg->ai_chat_provider,
                          .url = *cfg->ai_chat_url ? cfg->ai_chat_url : NULL,
                          .model = "unused",
                          .chat_model = cfg->ai_chat_model,
                          .api_key = app->ai_api_key,
                          .timeout_ms = cfg->ai_timeout_ms,
                          .retries = (int)cfg->ai_retries,
                          .errors = app->errors};
        lh_err err;
        if (lh_ai_open(&c, &app->chat, &err) != LH_OK)
            lh_log(LH_LOG_WARN, "ai.chat_unavailable", LH_KV_STR("error", err.message));
    }
}

void lh_app_ai_close(lh_app *app)
{
    for (size_t i = 0; i < app->n_ais; i++) {
        lh_ai_close(app->ais[i].ai);
        free(app->ais[i].key);
    }
    free(app->ais);
    lh_ai_close(app->chat);
    lh_sidecar_stop(app->sidecar);
    free(app->ai_provider);
    free(app->ai_url);
    free(app->ai_model);
    free(app->ai_api_key);
    free(app->sidecar_node);
    free(app->sidecar_script);
    pthread_mutex_destroy(&app->ai_mu);
}

static lh_code sidecar_locked(lh_app *app, lh_err *err)
{
    if (app->sidecar) return LH_OK;
    lh_sidecar_config sc = {.node = app->sidecar_node, .script = app->sidecar_script, .port = app->sidecar_port,
                            .errors = app->errors};
    lh_log(LH_LOG_INFO, "ai.sidecar_starting");
    lh_code rc = lh_sidecar_start(&sc, &app->sidecar, err);
    if (rc) return lh_err_wrap(err, "starting the local embedding sidecar");
    lh_log(LH_LOG_INFO, "ai.sidecar_ready", LH_KV_STR("url", lh_sidecar_url(app->sidecar)));
    return LH_OK;
}

lh_code lh_app_start_sidecar(lh_app *app, lh_err *err)
{
    if (strcmp(app->ai_provider, "local-node") != 0) return LH_OK;
    pthread_mutex_lock(&app->ai_mu);
    lh_code rc = sidecar_locked(app, err);
    pthread_mutex_unlock(&app->ai_mu);
    return rc;
}

json_t *lh_app_sidecar_status(lh_app *app)
{
    pthread_mutex_lock(&app->ai_mu);
    json_t *s = app->sidecar ? lh_sidecar_status(app->sidecar) : NULL;
    pthread_mutex_unlock(&app->ai_mu);
    return s;
}

lh_ai *lh_app_ai(void *ctx, const char *provider, const char *model, lh_err *err)
{
    lh_app *app = ctx;
    if (!provider) provider = app->ai_provider;
    bool configured = !strcmp(provider, app->ai_provider);
    if ((!model || !*model) && configured) model = app->ai_model; /* NULL: the provider's default */
    char *key = lh_xasprintf("%s\n%s", provider, model ? model : "");
    lh_ai *ai = NULL;
    pthread_mutex_lock(&app->ai_mu);
    for (size_t i = 0; i < app->n_ais && !ai; i++)
        if (!strcmp(app->ais[i].key, key)) ai = app->ais[i].ai;
    lh_code rc = LH_OK;
    if (!ai) {
        lh_ai_config c = {.provider = provider, .model = model, .api_key = app->ai_api_key,
                          .url = configured ? app->ai_url : NULL, .timeout_ms = app->ai_timeout_ms,
                          .retries = app->ai_retries, .batch_size = app->ai_batch_size, .errors = app->errors};
        if (!strcmp(provider, "local-node")) { /* the Node sidecar; "local" runs in this process */
            rc = sidecar_locked(app, err);
            if (rc == LH_OK) c.url = lh_sidecar_url(app->sidecar);
        }
        if (rc == LH_OK) rc = lh_ai_open(&c, &ai, err);
        if (rc == LH_OK) {
            app->ais = lh_xrealloc(app->ais, (app->n_ais + 1) * sizeof *app->ais);
            app->ais[app->n_ais++] = (struct lh_app_ai){.key = key, .ai = ai};
            key = NULL;
        }
    }
    pthread_mutex_unlock(&app->ai_mu);
    free(key);
    return ai;
}

/* ---- ai.embed ---- */

LH_OP_RUN(lh_app_run_ai_embed)
{
    (void)call;
    json_t *list = json_object_get(args, "texts");
    size_t n = json_array_size(list), chars = 0;
    const char **texts = lh_xcalloc(n ? n : 1, sizeof *texts);
    for (size_t i = 0; i < n; i++) {
        texts[i] = json_string_value(json_array_get(list, i));
        for (const unsigned char *p = (const unsigned char *)texts[i]; *p; p++) chars += (*p & 0xC0) != 0x80;
    }
    lh_code rc = LH_OK;
    if (chars > LH_APP_EMBED_MAX_CHARS)
        rc = lh_err_set(err, LH_EINVAL, "\"texts\" hold %zu characters in all; ai.embed takes at most %d per call",
                        chars, LH_APP_EMBED_MAX_CHARS);
    lh_ai *ai = rc ? NULL : lh_app_ai(app, lh_op_str(args, "provider"), lh_op_str(args, "model"), err);
    if (rc == LH_OK && !ai) rc = err->code ? err->code : LH_EINTERNAL;
    float *vectors = NULL;
    uint32_t dim = 0;
    if (rc == LH_OK) rc = lh_ai_embed(ai, texts, n, NULL, NULL, &vectors, &dim, err);
    if (rc == LH_OK) {
        json_t *rows = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *v = json_array();
            for (uint32_t k = 0; k < dim; k++) { /* the float's shortest text, not its double's */
                char num[32];
                snprintf(num, sizeof num, "%.9g", (double)vectors[i * dim + k]);
                json_array_append_new(v, json_real(strtod(num, NULL)));
            }
            json_array_append_new(rows, v);
        }
        *out = json_pack("{s:s, s:s, s:I, s:o}", "provider", lh_ai_provider(ai), "model", lh_ai_model(ai), "dim",
                         (json_int_t)dim, "vectors", rows);
    }
    free(vectors);
    free(texts);
    return rc;
}
