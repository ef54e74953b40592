/*
 * lh_api.h — the application: every module wired together behind HTTP routes.
 *
 * lh_app owns the long-lived state of a server process (configuration, SQL
 * engine, and, as they arrive, storage, catalog, journal, indexes). The
 * handlers under src/api/ are thin: parse the request, call the library,
 * render the result. `lakehouse serve` is lh_app + lh_http_server.
 */
#ifndef LH_API_H
#define LH_API_H

#include "lakehouse/lh_buckets.h"
#include "lakehouse/lh_catalog.h"
#include "lakehouse/lh_config.h"
#include "lakehouse/lh_err.h"
#include "lakehouse/lh_http.h"
#include "lakehouse/lh_ingest.h"
#include "lakehouse/lh_journal.h"
#include "lakehouse/lh_query.h"
#include "lakehouse/lh_vectors.h"

typedef struct lh_app lh_app;

/* Opens every module configured in cfg (the app copies what it needs). The
 * CLI opens an app too, so a command and the server see the same system. */
lh_code lh_app_open(const lh_config *cfg, lh_app **out, lh_err *err);
void lh_app_close(lh_app *app);

/* Journals the effective configuration when it differs from the last one
 * journaled (entity "lakehouse.config"), and each bucket added, changed or
 * removed since. `serve` calls it at start; secrets are masked. */
void lh_app_record_config(lh_app *app, const lh_config *cfg, const lh_who *who);

/* Starts the local embedding sidecar now when it is the configured provider
 * (`serve` does; other commands start it when they first embed). */
lh_code lh_app_start_sidecar(lh_app *app, lh_err *err);

/* Registers every HTTP route of the application on r. */
void lh_app_routes(lh_app *app, lh_router *r);

/* The modules, borrowed. */
lh_query_engine *lh_app_query_engine(lh_app *app);
lh_catalog *lh_app_catalog(lh_app *app);
lh_ingester *lh_app_ingester(lh_app *app);
lh_buckets *lh_app_buckets(lh_app *app);
lh_journal *lh_app_journal(lh_app *app);
lh_errors *lh_app_errors(lh_app *app);
lh_vectors *lh_app_vectors(lh_app *app);

#endif
