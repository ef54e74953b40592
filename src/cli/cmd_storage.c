/*
 * cmd_storage.c — `lakehouse storage ...`: buckets and raw objects.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void help(void)
{
    printf("usage: lakehouse storage <action> [arguments] [options]\n\n"
           "actions:\n"
           "  buckets                  every bucket with its backend and health\n"
           "  ls BUCKET [PREFIX]       objects under a prefix, with sizes\n"
           "  get BUCKET KEY [FILE]    an object to FILE (default: stdout); the rescue bucket\n"
           "                           answers if BUCKET fails\n"
           "  put BUCKET KEY FILE      a file as an object (streamed; multipart on S3)\n\n"
           "options:\n" LH_CLI_COMMON_HELP);
}

static bool print_object(void *ctx, const lh_object_info *info)
{
    (void)ctx;
    printf("%12llu  %s\n", (unsigned long long)info->size, info->key);
    return true;
}

int cmd_storage(int argc, char **argv)
{
    static const struct option options[] = {LH_CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    lh_cli_common common = {.cmd = "storage"};
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (lh_cli_common_option(&common, opt, optarg)) continue;
        if (opt == 'h') {
            help();
            return 0;
        }
        return lh_cli_usage_error("storage", "unknown option");
    }
    if (optind >= argc) return lh_cli_usage_error("storage", "missing action (buckets, ls, get, put)");
    const char *action = argv[optind];
    char **args = argv + optind + 1;
    int nargs = argc - optind - 1;
    bool ok_args = (!strcmp(action, "buckets") && nargs == 0) ||
                   (!strcmp(action, "ls") && (nargs == 1 || nargs == 2)) ||
                   (!strcmp(action, "get") && (nargs == 2 || nargs == 3)) ||
                   (!strcmp(action, "put") && nargs == 3);
    if (!ok_args) return lh_cli_usage_error("storage", "bad action or arguments: %s", action);

    lh_config cfg;
    lh_app *app;
    int status = lh_cli_open_app(&common, &cfg, &app);
    lh_cli_common_free(&common);
    if (status) return status;
    lh_buckets *b = lh_app_buckets(app);
    lh_err err;
    lh_code rc = LH_OK;
    lh_store *s = NULL;
    if (strcmp(action, "buckets") != 0 && !(s = lh_buckets_find(b, args[0])))
        rc = lh_err_set(&err, LH_ENOTFOUND, "no bucket named \"%s\"", args[0]);
    if (rc == LH_OK && !strcmp(action, "buckets")) {
        json_t *h = lh_buckets_health(b);
        lh_cli_print_json(h);
        json_decref(h);
    } else if (rc == LH_OK && !strcmp(action, "ls")) {
        rc = lh_store_list(s, nargs == 2 ? args[1] : "", print_object, NULL, &err);
    } else if (rc == LH_OK && !strcmp(action, "get")) {
        if (nargs == 3) {
            rc = lh_store_get_file(s, args[1], args[2], &err);
        } else {
            lh_buf data = {0};
            bool rescued;
            rc = lh_buckets_get(b, s, args[1], &data, &rescued, &err);
            if (rc == LH_OK) fwrite(data.data, 1, data.len, stdout);
            if (rescued) fprintf(stderr, "lakehouse storage: served by the rescue bucket\n");
            lh_buf_free(&data);
        }
    } else if (rc == LH_OK) {
        rc = lh_store_put_file(s, args[1], args[2], 0, &err);
    }
    status = rc ? lh_cli_fail("storage", &err) : 0;
    lh_cli_close_app(&cfg, app);
    return status;
}
