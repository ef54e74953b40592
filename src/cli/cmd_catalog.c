/*
 * cmd_catalog.c — `lakehouse catalog ...`: datasets, versions, rollback,
 * tombstones, delete, purge and rebuild, over the same library calls as
 * /v1/catalog/.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_ALL = OPT_FIRST_PRIVATE, OPT_BUCKET, OPT_DESCRIPTION, OPT_MESSAGE, OPT_VERSION,
       OPT_COLUMN, OPT_REASON, OPT_DRY_RUN, OPT_BODY, OPT_ACTOR, OPT_JSON };

static void help(void)
{
    printf("usage: lakehouse catalog <action> [arguments] [options]\n\n"
           "actions:\n"
           "  list [--all] [--json]            datasets (--all includes deleted ones)\n"
           "  show NAME [--version N]          a version's manifest (default: the current one)\n"
           "  versions NAME                    the history of a dataset, oldest first\n"
           "  create NAME [--bucket B] [--description TEXT]\n"
           "  commit NAME --body FILE          commit data objects described by a JSON file (\"-\" =\n"
           "                                   stdin): {mode, objects:[{bucket,key,size,sha256,rows}],\n"
           "                                   schema:[{name,type}], lineage, message, expected_parent}\n"
           "  rollback NAME VERSION [--message TEXT]\n"
           "                                   a new version with the state of VERSION\n"
           "  tombstone NAME --column COL VALUE... [--reason TEXT]\n"
           "                                   hide rows whose COL equals a VALUE (rows stay in the files)\n"
           "  delete NAME [--reason TEXT]      mark the dataset deleted (a new version; history stays)\n"
           "  purge [--dry-run]                remove data files no version references (older than 1 h)\n"
           "  rebuild                          re-read every bucket and report what was found\n\n"
           "options:\n"
           "  --actor NAME         who is making the change (default: $USER)\n" LH_CLI_COMMON_HELP);
}

static json_t *read_body(const char *path, lh_err *err)
{
    json_error_t jerr;
    json_t *j = strcmp(path, "-") == 0 ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &jerr)
                                       : json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) lh_err_set(err, LH_EINVAL, "%s: %s (line %d)", path, jerr.text, jerr.line);
    else if (!json_is_object(j)) {
        lh_err_set(err, LH_EINVAL, "%s: expected a JSON object", path);
        json_decref(j);
        j = NULL;
    }
    return j;
}

static void print_list(json_t *list)
{
    printf("%-32s %-10s %8s %12s  %s\n", "NAME", "BUCKET", "VERSION", "ROWS", "UPDATED");
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d) {
        printf("%-32s %-10s %8lld %12lld  %s%s\n", json_string_value(json_object_get(d, "name")),
               json_string_value(json_object_get(d, "bucket")),
               (long long)json_integer_value(json_object_get(d, "version")),
               (long long)json_integer_value(json_object_get(d, "row_count")),
               json_string_value(json_object_get(d, "updated_at")),
               json_is_true(json_object_get(d, "deleted")) ? "  (deleted)" : "");
    }
}

int cmd_catalog(int argc, char **argv)
{
    static const struct option options[] = {
        LH_CLI_COMMON_OPTIONS,
        {"all", no_argument, NULL, OPT_ALL},
        {"json", no_argument, NULL, OPT_JSON},
        {"bucket", required_argument, NULL, OPT_BUCKET},
        {"description", required_argument, NULL, OPT_DESCRIPTION},
        {"message", required_argument, NULL, OPT_MESSAGE},
        {"version", required_argument, NULL, OPT_VERSION},
        {"column", required_argument, NULL, OPT_COLUMN},
        {"reason", required_argument, NULL, OPT_REASON},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"body", required_argument, NULL, OPT_BODY},
        {"actor", required_argument, NULL, OPT_ACTOR},
        {NULL, 0, NULL, 0}};
    lh_cli_common common = {.cmd = "catalog"};
    bool all = false, json = false, dry_run = false;
    const char *bucket = NULL, *description = NULL, *message = NULL, *column = NULL, *reason = NULL,
               *body_path = NULL, *actor = NULL, *version_arg = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (lh_cli_common_option(&common, opt, optarg)) continue;
        switch (opt) {
        case 'h': help(); return 0;
        case OPT_ALL: all = true; break;
        case OPT_JSON: json = true; break;
        case OPT_BUCKET: bucket = optarg; break;
        case OPT_DESCRIPTION: description = optarg; break;
        case OPT_MESSAGE: message = optarg; break;
        case OPT_VERSION: version_arg = optarg; break;
        case OPT_COLUMN: column = optarg; break;
        case OPT_REASON: reason = optarg; break;
        case OPT_DRY_RUN: dry_run = true; break;
        case OPT_BODY: body_path = optarg; break;
        case OPT_ACTOR: actor = optarg; break;
        default: return lh_cli_usage_error("catalog", "unknown option");
        }
    }
    static const lh_cli_action actions[] = {
        {"list", 0, 0},   {"show", 1, 1},     {"versions", 1, 1},     {"create", 1, 1}, {"commit", 1, 1},
        {"rollback", 2, 2}, {"tombstone", 2, 1000}, {"delete", 1, 1}, {"purge", 0, 0},  {"rebuild", 0, 0}};
    char **args;
    int nargs;
    const char *action = lh_cli_action_pick("catalog", actions, sizeof actions / sizeof *actions, argc, argv, &args, &nargs);
    if (!action) return 2;
    long long version = 0;
    if (version_arg && !lh_cli_parse_int(version_arg, 1, &version))
        return lh_cli_usage_error("catalog", "--version expects a positive integer");
    if (!strcmp(action, "rollback") && !lh_cli_parse_int(args[1], 1, &version))
        return lh_cli_usage_error("catalog", "VERSION must be a positive integer, got \"%s\"", args[1]);
    if (!strcmp(action, "tombstone") && !column)
        return lh_cli_usage_error("catalog", "tombstone needs --column COL");
    if (!strcmp(action, "commit") && !body_path)
        return lh_cli_usage_error("catalog", "commit needs --body FILE");

    lh_config cfg;
    lh_app *app;
    int status = lh_cli_open_app(&common, &cfg, &app);
    lh_cli_common_free(&common);
    if (status) return status;
    lh_catalog *cat = lh_app_catalog(app);
    lh_who who = lh_cli_who(actor);
    lh_err err;
    lh_code rc;
    json_t *out = NULL;

    if (!strcmp(action, "list")) {
        rc = lh_catalog_list(cat, all, &out, &err);
        if (rc == LH_OK && !json) {
            print_list(out);
            json_decref(out);
            out = NULL;
        }
    } else if (!strcmp(action, "show")) {
        rc = lh_catalog_get(cat, args[0], version, &out, &err);
    } else if (!strcmp(action, "versions")) {
        rc = lh_catalog_versions(cat, args[0], &out, &err);
    } else if (!strcmp(action, "create")) {
        lh_create_options o = {.bucket = bucket, .description = description};
        rc = lh_catalog_create(cat, args[0], &o, &who, &out, &err);
    } else if (!strcmp(action, "commit")) {
        json_t *body = read_body(body_path, &err);
        rc = body ? LH_OK : LH_EINVAL;
        if (body) {
            const char *mode = json_string_value(json_object_get(body, "mode"));
            lh_commit c = {.mode = mode && !strcmp(mode, "replace") ? LH_COMMIT_REPLACE : LH_COMMIT_APPEND,
                           .objects = json_object_get(body, "objects"),
                           .schema = json_object_get(body, "schema"),
                           .lineage = json_object_get(body, "lineage"),
                           .message = message ? message : json_string_value(json_object_get(body, "message")),
                           .expected_parent = json_integer_value(json_object_get(body, "expected_parent"))};
            rc = lh_catalog_commit(cat, args[0], &c, &who, &out, &err);
            json_decref(body);
        }
    } else if (!strcmp(action, "rollback")) {
        rc = lh_catalog_rollback(cat, args[0], version, message, &who, &out, &err);
    } else if (!strcmp(action, "tombstone")) {
        json_t *values = json_array();
        for (int i = 1; i < nargs; i++) json_array_append_new(values, json_string(args[i]));
        rc = lh_catalog_tombstone(cat, args[0], column, values, reason, &who, &out, &err);
        json_decref(values);
    } else if (!strcmp(action, "delete")) {
        rc = lh_catalog_delete(cat, args[0], reason, &who, &out, &err);
    } else if (!strcmp(action, "purge")) {
        rc = lh_catalog_purge(cat, dry_run, &who, &out, &err);
    } else {
        rc = lh_catalog_rebuild(cat, &out, &err);
    }
    if (out) {
        lh_cli_print_json(out);
        json_decref(out);
    }
    status = rc ? lh_cli_fail("catalog", &err) : 0;
    lh_cli_close_app(&cfg, app);
    return status;
}
