/*
 * history.c — the statements each caller ran (sql.history): a ring of the
 * newest LH_SQL_HISTORY_SLOTS statements this process opened, kept per
 * profile (the local operator's and loopback callers' under "local"). It
 * lives in memory: a restart, or another replica, starts empty.
 */
#include "internal.h"

#include "lakehouse/lh_profile.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_time.h"

#include <stdlib.h>
#include <string.h>

static const char *owner_of(const lh_who *who)
{
    if (who && who->profile) return lh_profile_id(who->profile);
    return "local";
}

void lh_app_history_init(lh_app *app)
{
    pthread_mutex_init(&app->history.mu, NULL);
    app->history.slots = lh_xcalloc(LH_SQL_HISTORY_SLOTS, sizeof *app->history.slots);
}

void lh_app_history_free(lh_app *app)
{
    if (!app->history.slots) return;
    for (size_t i = 0; i < LH_SQL_HISTORY_SLOTS; i++) free(app->history.slots[i].sql);
    free(app->history.slots);
    pthread_mutex_destroy(&app->history.mu);
}

void lh_app_history_note(lh_app *app, const lh_who *who, const char *sql)
{
    if (!app->history.slots || !sql || strlen(sql) > LH_SQL_HISTORY_MAX_BYTES) return;
    char *copy = lh_xstrdup(sql);
    int64_t now = lh_time_now_ms();
    pthread_mutex_lock(&app->history.mu);
    struct lh_app_history_slot *s = &app->history.slots[app->history.next++ % LH_SQL_HISTORY_SLOTS];
    free(s->sql);
    s->sql = copy;
    s->at_ms = now;
    snprintf(s->owner, sizeof s->owner, "%s", owner_of(who));
    pthread_mutex_unlock(&app->history.mu);
}

LH_OP_RUN(lh_app_run_sql_history)
{
    const char *owner = owner_of(&call->who);
    json_t *list = json_array(), *seen = json_object();
    pthread_mutex_lock(&app->history.mu);
    size_t n = app->history.next < LH_SQL_HISTORY_SLOTS ? app->history.next : LH_SQL_HISTORY_SLOTS;
    for (size_t k = 1; k <= n && json_array_size(list) < LH_SQL_HISTORY_PER_CALLER; k++) {
        struct lh_app_history_slot *s = &app->history.slots[(app->history.next - k) % LH_SQL_HISTORY_SLOTS];
        if (strcmp(s->owner, owner) != 0 || json_object_get(seen, s->sql)) continue; /* newest run of each text */
        json_object_set_new(seen, s->sql, json_true());
        char at[LH_TIME_ISO_LEN];
        lh_time_iso8601(s->at_ms, at);
        json_t *item = json_pack("{s:s, s:s}", "sql", s->sql, "at", at);
        if (item) json_array_append_new(list, item);
    }
    pthread_mutex_unlock(&app->history.mu);
    json_decref(seen);
    *out = lh_op_page(list, "statements", args);
    (void)err;
    return LH_OK;
}
