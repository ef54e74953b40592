/*
 * catalog_ops.c — the catalog's operations over checked arguments.
 */
#include "internal.h"

static lh_code items(lh_code rc, json_t *list, const char *name, json_t *args, json_t **out)
{
    if (rc == LH_OK) *out = lh_op_page(list, name, args);
    return rc;
}

LH_OP_RUN(lh_app_run_catalog_list)
{
    json_t *list;
    lh_code rc = lh_catalog_list(app->catalog, lh_op_bool(args, "include_deleted", false), &list, err);
    if (rc == LH_OK) list = lh_app_visible(&call->who, list, "name", LH_BIND_DATASET);
    return items(rc, list, "datasets", args, out);
}

LH_OP_RUN(lh_app_run_catalog_create)
{
    lh_create_options o = {.bucket = lh_op_str(args, "bucket"), .description = lh_op_str(args, "description")};
    lh_code rc = lh_app_name_not_a_view(app, lh_op_str(args, "name"), err);
    if (rc) return rc;
    return lh_catalog_create(app->catalog, lh_op_str(args, "name"), &o, &call->who, out, err);
}

LH_OP_RUN(lh_app_run_catalog_show)
{
    (void)call;
    return lh_catalog_get(app->catalog, lh_op_str(args, "name"), lh_op_int(args, "version", 0), out, err);
}

LH_OP_RUN(lh_app_run_catalog_versions)
{
    (void)call;
    json_t *list;
    lh_code rc = lh_catalog_versions(app->catalog, lh_op_str(args, "name"), &list, err);
    if (items(rc, list, "versions", args, out)) return rc;
    json_object_set_new(*out, "dataset", json_string(lh_op_str(args, "name")));
    return LH_OK;
}

LH_OP_RUN(lh_app_run_catalog_commit)
{
    lh_commit c = {.objects = json_object_get(args, "objects"),
                   .schema = json_object_get(args, "schema"),
                   .lineage = json_object_get(args, "lineage"),
                   .message = lh_op_str(args, "message"),
                   .expected_parent = lh_op_int(args, "expected_parent", 0)};
    if (json_is_null(c.schema)) c.schema = NULL;
    if (json_is_null(c.lineage)) c.lineage = NULL;
    const char *mode = lh_op_str(args, "mode");
    if (mode && !lh_commit_mode_parse(mode, &c.mode)) return lh_err_set(err, LH_EINTERNAL, "mode %s", mode);
    return lh_catalog_commit(app->catalog, lh_op_str(args, "name"), &c, &call->who, out, err);
}

LH_OP_RUN(lh_app_run_catalog_rollback)
{
    return lh_catalog_rollback(app->catalog, lh_op_str(args, "name"), lh_op_int(args, "version", 0),
                               lh_op_str(args, "message"), &call->who, out, err);
}

LH_OP_RUN(lh_app_run_catalog_tombstones)
{
    (void)call;
    json_t *m;
    const char *name = lh_op_str(args, "name");
    lh_code rc = lh_catalog_get(app->catalog, name, 0, &m, err);
    if (rc) return rc;
    json_t *list = json_incref(json_object_get(m, "tombstones"));
    if (!list) list = json_array();
    *out = lh_op_page(list, "tombstones", args);
    json_object_set_new(*out, "dataset", json_string(name));
    json_object_set(*out, "version", json_object_get(m, "version"));
    json_decref(m);
    return LH_OK;
}

LH_OP_RUN(lh_app_run_catalog_tombstone)
{
    return lh_catalog_tombstone(app->catalog, lh_op_str(args, "name"), lh_op_str(args, "key_column"),
                                json_object_get(args, "values"), lh_op_str(args, "reason"), &call->who, out, err);
}

LH_OP_RUN(lh_app_run_catalog_delete)
{
    return lh_catalog_delete(app->catalog, lh_op_str(args, "name"), lh_op_str(args, "reason"), &call->who, out,
                             err);
}

LH_OP_RUN(lh_app_run_catalog_purge)
{
    return lh_catalog_purge(app->catalog, lh_op_bool(args, "dry_run", false), &call->who, out, err);
}

LH_OP_RUN(lh_app_run_catalog_rebuild)
{
    (void)args, (void)call;
    return lh_catalog_rebuild(app->catalog, out, err);
}
