/*
 * store.c — key validation and the public operations over any backend.
 */
#include "lakehouse/lh_store.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Code points that render invisibly or reorder text: a key that looks like
 * another key is refused (zero-width, bidi controls, BOM, line separators). */
static bool deceptive(const unsigned char *p, size_t len)
{
    if (len == 2 && p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) return true; /* C1 controls */
    if (len != 3) return false;
    unsigned cp = ((unsigned)(p[0] & 0x0F) << 12) | ((unsigned)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    return (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202E) ||
           (cp >= 0x2060 && cp <= 0x2069) || cp == 0xFEFF;
}

lh_code lh_store_key_check(const char *key, lh_err *err)
{
    if (!key || !*key) return lh_err_set(err, LH_EINVAL, "object key is empty");
    size_t n = strlen(key);
    if (n > LH_STORE_KEY_MAX)
        return lh_err_set(err, LH_EINVAL, "object key is %zu bytes long (the limit is %d)", n,
                          LH_STORE_KEY_MAX);
    if (key[0] == '/') return lh_err_set(err, LH_EINVAL, "object key \"%.80s\" is absolute", key);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)key[i];
        if (c < 0x20 || c == 0x7F)
            return lh_err_set(err, LH_EINVAL, "object key contains control character 0x%02x", c);
        if (c == '\\') return lh_err_set(err, LH_EINVAL, "object key contains a backslash");
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len = lh_utf8_char_len(key + i, n - i);
        if (!len) return lh_err_set(err, LH_EINVAL, "object key is not valid UTF-8");
        if (deceptive((const unsigned char *)key + i, len))
            return lh_err_set(err, LH_EINVAL,
                              "object key contains an invisible or direction-changing character");
        i += len;
    }
    const char *seg = key;
    for (;;) {
        const char *slash = strchr(seg, '/');
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
        if (len == 0) return lh_err_set(err, LH_EINVAL, "object key \"%.80s\" has an empty segment", key);
        if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return lh_err_set(err, LH_EINVAL, "object key \"%.80s\" contains a \".\" or \"..\" segment",
                              key);
        if (seg == key && len == 7 && memcmp(seg, ".lh-tmp", 7) == 0)
            return lh_err_set(err, LH_EINVAL, "object keys under .lh-tmp/ are reserved");
        if (!slash) break;
        seg = slash + 1;
    }
    return LH_OK;
}

static const char *const managed[] = {"_catalog", "_journal", "_errors", "_vectors", "_tmp", "datasets"};

const char *lh_store_key_managed(const char *key)
{
    size_t seg = key ? strcspn(key, "/") : 0;
    for (size_t i = 0; seg && i < sizeof managed / sizeof *managed; i++)
        if (strlen(managed[i]) == seg && !strncmp(key, managed[i], seg)) return managed[i];
    return NULL;
}

/* Key rules for writes: a valid key that is not a managed folder's bare name. */
static lh_code write_key_check(const char *key, lh_err *err)
{
    lh_code rc = lh_store_key_check(key, err);
    if (rc) return rc;
    const char *folder = lh_store_key_managed(key);
    if (folder && strcmp(folder, key) == 0)
        return lh_err_set(err, LH_EFORBIDDEN, "\"%s\" names a folder Lakehouse manages; no object may take its name",
                          key);
    return LH_OK;
}

static lh_code failed(lh_store *s, const char *op, const char *key, lh_code rc, lh_err *err)
{
    if (s->on_error) s->on_error(s->on_error_ctx, op, s->name, key, err);
    return rc;
}

/* Runs a backend call and reports unexpected failures to the observer. */
#define CALL(op, expected, expr)                                                                   \
    do {                                                                                           \
        lh_err local_;                                                                             \
        if (!err) err = &local_;                                                                   \
        lh_code rc_ = (expr);                                                                      \
        if (rc_ != LH_OK && rc_ != (expected)) return failed(s, op, key, rc_, err);                \
        return rc_;                                                                                \
    } while (0)

lh_code lh_store_put(lh_store *s, const char *key, const void *data, size_t len, unsigned flags,
                     lh_err *err)
{
    lh_code rc = write_key_check(key, err);
    if (rc) return rc;
    lh_store_src src = {.data = data, .len = len, .fd = -1};
    CALL("put", (flags & LH_PUT_IF_ABSENT) ? LH_EEXIST : LH_OK, s->ops->put(s, key, &src, flags, err));
}

lh_code lh_store_put_file(lh_store *s, const char *key, const char *path, unsigned flags,
                          lh_err *err)
{
    lh_code rc = write_key_check(key, err);
    if (rc) return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lh_err_errno(err, LH_EIO, errno, "cannot open %s", path);
    lh_store_src src = {.fd = fd, .path = path};
    lh_err local;
    if (!err) err = &local;
    rc = s->ops->put(s, key, &src, flags, err);
    close(fd);
    if (rc != LH_OK && !(rc == LH_EEXIST && (flags & LH_PUT_IF_ABSENT))) return failed(s, "put", key, rc, err);
    return rc;
}

lh_code lh_store_get_range(lh_store *s, const char *key, uint64_t offset, uint64_t length,
                           lh_buf *out, lh_err *err)
{
    lh_code rc = lh_store_key_check(key, err);
    if (rc) return rc;
    lh_store_dst dst = {.buf = out, .fd = -1};
    CALL("get", LH_ENOTFOUND, s->ops->get(s, key, offset, length, &dst, err));
}

lh_code lh_store_get(lh_store *s, const char *key, lh_buf *out, lh_err *err)
{
    return lh_store_get_range(s, key, 0, LH_STORE_TO_END, out, err);
}

lh_code lh_store_get_file(lh_store *s, const char *key, const char *path, lh_err *err)
{
    lh_code rc = lh_store_key_check(key, err);
    if (rc) return rc;
    char *tmp = lh_xasprintf("%s.part-%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = lh_err_errno(err, LH_EIO, errno, "cannot create %s", tmp);
        free(tmp);
        return rc;
    }
    lh_store_dst dst = {.fd = fd};
    lh_err local;
    if (!err) err = &local;
    rc = s->ops->get(s, key, 0, LH_STORE_TO_END, &dst, err);
    if (rc == LH_OK && fsync(fd) != 0) rc = lh_err_errno(err, LH_EIO, errno, "fsync %s", tmp);
    close(fd);
    if (rc == LH_OK && rename(tmp, path) != 0) rc = lh_err_errno(err, LH_EIO, errno, "rename to %s", path);
    if (rc) unlink(tmp);
    free(tmp);
    if (rc != LH_OK && rc != LH_ENOTFOUND) return failed(s, "get", key, rc, err);
    return rc;
}

lh_code lh_store_head(lh_store *s, const char *key, lh_object_info *info, lh_err *err)
{
    lh_code rc = lh_store_key_check(key, err);
    if (rc) return rc;
    CALL("head", LH_ENOTFOUND, s->ops->head(s, key, info, err));
}

lh_code lh_store_list(lh_store *s, const char *prefix, lh_store_list_fn fn, void *ctx, lh_err *err)
{
    /* A prefix is a partial key: it may end in '/', it may be empty. */
    if (prefix && *prefix) {
        size_t n = strlen(prefix);
        char *probe = lh_xstrdup(prefix);
        if (probe[n - 1] == '/') probe[n - 1] = '\0';
        lh_code rc = *probe ? lh_store_key_check(probe, err) : LH_OK;
        free(probe);
        if (rc) return rc;
    }
    const char *key = prefix ? prefix : "";
    CALL("list", LH_OK, s->ops->list(s, key, fn, ctx, err));
}

lh_code lh_store_delete(lh_store *s, const char *key, lh_err *err)
{
    lh_code rc = lh_store_key_check(key, err);
    if (rc) return rc;
    CALL("delete", LH_OK, s->ops->remove(s, key, err));
}

lh_code lh_store_check(lh_store *s, lh_err *err)
{
    const char *key = "";
    CALL("check", LH_OK, s->ops->check(s, err));
}

bool lh_store_local_path(lh_store *s, const char *key, char *out, size_t outlen)
{
    return lh_store_key_check(key, NULL) == LH_OK && s->ops->local_path &&
           s->ops->local_path(s, key, out, outlen);
}

void lh_store_close(lh_store *s)
{
    if (s) s->ops->close(s);
}
