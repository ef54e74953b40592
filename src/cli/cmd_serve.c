/*
 * cmd_serve.c — `lakehouse serve`: every module in one process behind HTTP.
 *
 * SIGINT and SIGTERM are blocked in every thread and taken synchronously by
 * the main thread (sigwait), which then stops the server gracefully. A second
 * signal during the drain exits at once.
 */
#include "cli.h"

#include "lakehouse/lh_api.h"
#include "lakehouse/lh_http.h"
#include "lakehouse/lh_log.h"
#include "lakehouse/lh_ui.h"
#include "lakehouse/lh_version.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { OPT_LISTEN = OPT_FIRST_PRIVATE };

static void help(void)
{
    printf("usage: lakehouse serve [options]\n\n"
           "Serves the HTTP API (GET /health, /v1/...) and the web UI (GET /) until SIGINT or SIGTERM, then stops\n"
           "accepting connections and lets in-flight requests finish\n"
           "(server.shutdown_timeout_s). A second signal exits at once.\n\n"
           "options:\n"
           "  --listen HOST:PORT   address to listen on (server.listen, default 127.0.0.1:3100;\n"
           "                       port 0 picks a free port, printed in the server.listening log line)\n" LH_CLI_COMMON_HELP);
}

static lh_code make_dirs(const char *path, lh_err *err)
{
    char *p = strdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            int e = errno;
            lh_err_errno(err, LH_EIO, e, "cannot create %s", p);
            free(p);
            return LH_EIO;
        }
        *s = '/';
    }
    lh_code rc = LH_OK;
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
        rc = lh_err_errno(err, LH_EIO, errno, "cannot create data folder %s", p);
    free(p);
    return rc;
}

static void *second_signal(void *arg)
{
    sigset_t *set = arg;
    int sig;
    if (sigwait(set, &sig) == 0) {
        lh_log(LH_LOG_WARN, "server.abort", LH_KV_STR("signal", strsignal(sig)),
               LH_KV_STR("reason", "second signal during shutdown"));
        _exit(130);
    }
    return NULL;
}

int cmd_serve(int argc, char **argv)
{
    static const struct option options[] = {
        LH_CLI_COMMON_OPTIONS, {"listen", required_argument, NULL, OPT_LISTEN}, {NULL, 0, NULL, 0}};
    lh_cli_common common = {.cmd = "serve"};
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (lh_cli_common_option(&common, opt, optarg)) continue;
        if (opt == 'h') {
            help();
            return 0;
        }
        if (opt == OPT_LISTEN) {
            lh_cli_override(&common, "server.listen", optarg, "--listen");
            continue;
        }
        return lh_cli_usage_error("serve", "unknown option");
    }
    if (optind < argc) return lh_cli_usage_error("serve", "unexpected argument \"%s\"", argv[optind]);

    lh_config cfg;
    int status = lh_cli_load_config(&common, &cfg);
    lh_cli_common_free(&common);
    if (status) return status;

    /* Before any thread exists, so every thread inherits the mask. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    lh_err err;
    lh_app *app = NULL;
    lh_router *router = NULL;
    lh_http_server *server = NULL;
    char host[256];
    int port;
    lh_parse_listen(cfg.server_listen, host, sizeof host, &port);
    lh_code rc = make_dirs(cfg.storage_data_dir, &err);
    if (rc == LH_OK) rc = lh_app_open(&cfg, &app, &err);
    if (rc == LH_OK && !lh_app_sql_engine(app, &err)) rc = err.code; /* up front: a bad setting stops here */
    if (rc == LH_OK) rc = lh_app_listen_check(app, host, &err); /* never open to the network */
    if (rc == LH_OK) {
        lh_who who = {.actor = "system", .source = "serve"};
        lh_app_record_config(app, &cfg, &who);
        router = lh_router_new();
        lh_api_register(app, &cfg, router);
        lh_ui_register(app, &cfg, router);
        lh_http_options ho = {.host = host,
                              .port = port,
                              .max_body_bytes = (size_t)cfg.server_max_body_bytes,
                              .idle_timeout_s = (unsigned)cfg.server_idle_timeout_s,
                              .max_connections = (unsigned)cfg.server_max_connections,
                              .max_connections_per_ip = (unsigned)cfg.server_max_connections_per_ip,
                              .shutdown_timeout_s = (unsigned)cfg.server_shutdown_timeout_s,
                              .event_threads = (unsigned)cfg.server_event_threads,
                              .worker_threads = (unsigned)cfg.server_worker_threads,
                              .cpu_slots = (unsigned)cfg.server_cpu_slots,
                              .header_timeout_s = (unsigned)cfg.server_header_timeout_s,
                              .min_body_rate = (unsigned)cfg.server_min_body_rate};
        rc = lh_http_server_start(&ho, router, &server, &err);
    }
    if (rc) {
        status = lh_cli_fail("serve", &err);
        lh_router_free(router);
        lh_app_close(app);
        lh_config_free(&cfg);
        return status;
    }
    lh_log(LH_LOG_INFO, "server.listening", LH_KV_STR("host", host),
           LH_KV_INT("port", lh_http_server_port(server)), LH_KV_STR("data", cfg.storage_data_dir),
           LH_KV_STR("version", lh_version()), LH_KV_INT("pid", getpid()));
    /* the embedding sidecar loads its model while requests are already served */
    if (lh_app_start_sidecar(app, &err) != LH_OK) {
        lh_log(LH_LOG_WARN, "ai.sidecar_failed", LH_KV_STR("error", err.message));
        lh_errors_record(lh_app_errors(app), "ai.sidecar", NULL, NULL, &err);
    }

    int sig = 0;
    sigwait(&stop_signals, &sig);
    lh_log(LH_LOG_INFO, "server.stopping", LH_KV_STR("signal", sig == SIGINT ? "SIGINT" : "SIGTERM"));
    pthread_t watcher;
    pthread_create(&watcher, NULL, second_signal, &stop_signals);
    pthread_detach(watcher);

    lh_http_server_stop(server);
    lh_router_free(router);
    lh_app_close(app);
    lh_log(LH_LOG_INFO, "server.stopped", LH_KV_STR("signal", sig == SIGINT ? "SIGINT" : "SIGTERM"));
    lh_config_free(&cfg);
    return 0;
}
