/*
 * manifest.c — dataset names and manifest validation: everything the catalog
 * reads from storage passes through lh_manifest_validate before it is trusted.
 */
#include "lakehouse/lh_catalog.h"

#include <ctype.h>
#include <string.h>

int64_t lh_manifest_content_version(const json_t *manifest, const char *hash)
{
    json_t *known = json_object_get(json_object_get(manifest, "extra"), "content_hashes");
    return json_integer_value(json_object_get(known, hash));
}

bool lh_manifest_legacy_hashes(const json_t *manifest)
{
    json_t *known = json_object_get(json_object_get(manifest, "extra"), "content_hashes");
    const char *key;
    json_t *v;
    json_object_foreach(known, key, v) {
        if (!strchr(key, ':')) return true;
    }
    return false;
}

lh_code lh_catalog_name_check(const char *name, lh_err *err)
{
    if (!name || !*name) return lh_err_set(err, LH_EINVAL, "dataset name is empty");
    size_t n = strnlen(name, 64);
    if (n > 63)
        return lh_err_set(err, LH_EINVAL, "dataset name is longer than 63 characters: \"%.40s...\"",
                          name);
    /* "_trials" and the like: the system's own datasets (LH_DATASET_SYSTEM_PREFIX) */
    size_t first = name[0] == '_' ? 1 : 0;
    if (name[first] < 'a' || name[first] > 'z')
        return lh_err_set(err, LH_EINVAL,
                          "dataset name \"%.63s\" must start with a lower-case letter (a-z)", name);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
            return lh_err_set(err, LH_EINVAL,
                              "dataset name \"%.63s\" may only contain a-z, 0-9 and _ (found byte 0x%02x)",
                              name, ch);
    }
    return LH_OK;
}

static bool is_hex64(const char *s)
{
    if (!s || strlen(s) != 64) return false;
    for (int i = 0; i < 64; i++)
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) return false;
    return true;
}

static lh_code need(const json_t *m, const char *field, json_type type, lh_err *err)
{
    json_t *v = json_object_get(m, field);
    if (!v || json_typeof(v) != type) {
        static const char *names[] = {"an object", "an array", "a string", "an integer",
                                      "a number",  "true",     "false",    "null"};
        return lh_err_set(err, LH_ECORRUPT, "manifest field \"%s\" must be %s", field,
                          names[type]);
    }
    return LH_OK;
}

static bool nonneg_int(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 0;
}

lh_code lh_manifest_validate(const json_t *m, lh_err *err)
{
    if (!json_is_object(m)) return lh_err_set(err, LH_ECORRUPT, "manifest is not a JSON object");
    lh_code rc;
    if ((rc = need(m, "format", JSON_INTEGER, err))) return rc;
    if (json_integer_value(json_object_get(m, "format")) != 1)
        return lh_err_set(err, LH_ECORRUPT, "manifest format %lld is not supported (this build reads 1)",
                          (long long)json_integer_value(json_object_get(m, "format")));
    if ((rc = need(m, "dataset", JSON_STRING, err))) return rc;
    lh_err name_err;
    if (lh_catalog_name_check(json_string_value(json_object_get(m, "dataset")), &name_err))
        return lh_err_set(err, LH_ECORRUPT, "manifest: %s", name_err.message);
    if ((rc = need(m, "version", JSON_INTEGER, err))) return rc;
    json_int_t version = json_integer_value(json_object_get(m, "version"));
    if (version < 1) return lh_err_set(err, LH_ECORRUPT, "manifest version must be >= 1");
    json_t *parent = json_object_get(m, "parent");
    if (!json_is_integer(parent) || json_integer_value(parent) != version - 1)
        return lh_err_set(err, LH_ECORRUPT, "manifest parent must be version - 1");
    static const char *strings[] = {"operation", "created_at", "author", "source", "bucket"};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        if ((rc = need(m, strings[i], JSON_STRING, err))) return rc;
    json_t *msg = json_object_get(m, "message");
    if (msg && !json_is_string(msg) && !json_is_null(msg))
        return lh_err_set(err, LH_ECORRUPT, "manifest field \"message\" must be a string");

    if ((rc = need(m, "schema", JSON_OBJECT, err))) return rc;
    json_t *schema = json_object_get(m, "schema");
    json_t *fields = json_object_get(schema, "fields");
    if (!json_is_array(fields)) return lh_err_set(err, LH_ECORRUPT, "manifest schema.fields must be an array");
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f) {
        if (!json_is_string(json_object_get(f, "name")) || !json_is_string(json_object_get(f, "type")))
            return lh_err_set(err, LH_ECORRUPT, "manifest schema field %zu needs a name and a type", i);
    }
    if (!is_hex64(json_string_value(json_object_get(schema, "fingerprint"))))
        return lh_err_set(err, LH_ECORRUPT, "manifest schema.fingerprint must be a sha256 in hex");

    if ((rc = need(m, "objects", JSON_ARRAY, err))) return rc;
    json_t *o;
    json_int_t rows = 0;
    json_array_foreach(json_object_get(m, "objects"), i, o) {
        const char *key = json_string_value(json_object_get(o, "key"));
        if (!json_is_string(json_object_get(o, "bucket")) || !key ||
            !nonneg_int(json_object_get(o, "size")) || !nonneg_int(json_object_get(o, "rows")) ||
            !is_hex64(json_string_value(json_object_get(o, "sha256"))))
            return lh_err_set(err, LH_ECORRUPT,
                              "manifest object %zu needs bucket, key, size, sha256 (hex) and rows", i);
        lh_err key_err;
        if (lh_store_key_check(key, &key_err))
            return lh_err_set(err, LH_ECORRUPT, "manifest object %zu: %s", i, key_err.message);
        rows += json_integer_value(json_object_get(o, "rows"));
    }
    if (!nonneg_int(json_object_get(m, "row_count")) ||
        json_integer_value(json_object_get(m, "row_count")) != rows)
        return lh_err_set(err, LH_ECORRUPT, "manifest row_count must equal the sum of its objects' rows");
    if ((rc = need(m, "tombstones", JSON_ARRAY, err))) return rc;
    json_t *t;
    json_array_foreach(json_object_get(m, "tombstones"), i, t) {
        if (!json_is_string(json_object_get(t, "key_column")) ||
            !json_is_string(json_object_get(t, "key_value")))
            return lh_err_set(err, LH_ECORRUPT, "manifest tombstone %zu needs key_column and key_value", i);
    }
    if (!json_is_boolean(json_object_get(m, "deleted")))
        return lh_err_set(err, LH_ECORRUPT, "manifest field \"deleted\" must be a boolean");
    json_t *extra = json_object_get(m, "extra");
    if (extra && !json_is_object(extra))
        return lh_err_set(err, LH_ECORRUPT, "manifest field \"extra\" must be an object");
    return LH_OK;
}
