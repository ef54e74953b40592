/*
 * fs.c — the local-folder backend: one directory per bucket.
 *
 * Durability: every write lands in <root>/.lh-tmp/ first, is fsynced, then is
 * renamed into place (or hard-linked, for IF_ABSENT, which fails with EEXIST
 * atomically if the key exists), and the destination directory is fsynced.
 * A crash at any point leaves either no object or the whole object; stray
 * temp files are swept at open once they are an hour old.
 */
#include "lakehouse/lh_log.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TMP_DIR ".lh-tmp"

typedef struct fs_store {
    lh_store base;
    char *root;
} fs_store;

static fs_store *fs_of(lh_store *s)
{
    return (fs_store *)s;
}

static void path_of(fs_store *fs, const char *key, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", fs->root, key);
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* mkdir -p for the parent directories of path; new directories are made
 * durable by fsyncing the directory that holds them. */
static lh_code make_parents(const char *path, lh_err *err)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    char *slash = strrchr(buf, '/');
    if (!slash) return LH_OK;
    *slash = '\0';
    struct stat st;
    if (stat(buf, &st) == 0) return LH_OK;
    lh_code rc = make_parents(buf, err);
    if (rc) return rc;
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return lh_err_errno(err, LH_EIO, errno, "cannot create directory %s", buf);
    char *parent_end = strrchr(buf, '/');
    if (parent_end) {
        *parent_end = '\0';
        fsync_dir(buf);
    }
    return LH_OK;
}

static lh_code write_all(int fd, const void *p, size_t n, const char *what, lh_err *err)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return lh_err_errno(err, LH_EIO, errno, "writing %s", what);
        c += w;
        n -= (size_t)w;
    }
    return LH_OK;
}

static lh_code copy_fd(int in, int out, const char *what, lh_err *err)
{
    if (lseek(in, 0, SEEK_SET) < 0) return lh_err_errno(err, LH_EIO, errno, "seeking %s", what);
    enum { CHUNK = 1 << 20 };
    char *buf = lh_xmalloc(CHUNK);
    lh_code rc = LH_OK;
    for (;;) {
        ssize_t n = read(in, buf, CHUNK);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rc = lh_err_errno(err, LH_EIO, errno, "reading the source of %s", what);
            break;
        }
        if (n == 0) break;
        rc = write_all(out, buf, (size_t)n, what, err);
        if (rc) break;
    }
    free(buf);
    return rc;
}

static lh_code fs_put(lh_store *s, const char *key, const lh_store_src *src, unsigned flags,
                      lh_err *err)
{
    fs_store *fs = fs_of(s);
    char final[PATH_MAX], tmp[PATH_MAX];
    path_of(fs, key, final, sizeof final);
    uint64_t nonce;
    if (getrandom(&nonce, sizeof nonce, 0) != sizeof nonce) nonce = (uint64_t)time(NULL) ^ (uint64_t)getpid();
    snprintf(tmp, sizeof tmp, "%s/" TMP_DIR "/%d-%016llx", fs->root, (int)getpid(),
             (unsigned long long)nonce);
    lh_code rc = LH_OK;
    if ((flags & LH_PUT_SHARE_FILE) && src->fd >= 0 && src->path && link(src->path, tmp) == 0) {
        /* the caller's finished file becomes the object: no copy, the same data made durable */
        if (fsync(src->fd) != 0) rc = lh_err_errno(err, LH_EIO, errno, "fsync %s", key);
    } else {
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) return lh_err_errno(err, LH_EIO, errno, "bucket %s: cannot create a temp file", s->name);
        rc = src->fd >= 0 ? copy_fd(src->fd, fd, key, err) : write_all(fd, src->data, src->len, key, err);
        if (rc == LH_OK && fsync(fd) != 0) rc = lh_err_errno(err, LH_EIO, errno, "fsync %s", key);
        if (close(fd) != 0 && rc == LH_OK) rc = lh_err_errno(err, LH_EIO, errno, "close %s", key);
    }
    if (rc == LH_OK) rc = make_parents(final, err);
    if (rc == LH_OK) {
        if (flags & LH_PUT_IF_ABSENT) {
            if (link(tmp, final) != 0) {
                rc = errno == EEXIST ? lh_err_set(err, LH_EEXIST, "object %s already exists", key)
                                     : lh_err_errno(err, LH_EIO, errno, "cannot create %s", key);
            }
        } else if (rename(tmp, final) != 0) {
            rc = lh_err_errno(err, LH_EIO, errno, "cannot move %s into place", key);
        }
    }
    unlink(tmp); /* after link(2) it is a second name; after rename(2) it is gone */
    if (rc == LH_OK) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", final);
        *strrchr(dir, '/') = '\0';
        if (fsync_dir(dir) != 0) rc = lh_err_errno(err, LH_EIO, errno, "fsync directory of %s", key);
    }
    return rc;
}

static lh_code fs_get(lh_store *s, const char *key, uint64_t offset, uint64_t length,
                      const lh_store_dst *dst, lh_err *err)
{
    char path[PATH_MAX];
    path_of(fs_of(s), key, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return lh_err_set(err, LH_ENOTFOUND, "bucket %s: no object %s", s->name, key);
        return lh_err_errno(err, LH_EIO, errno, "bucket %s: cannot open %s", s->name, key);
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return lh_err_set(err, LH_ENOTFOUND, "bucket %s: no object %s", s->name, key);
    }
    uint64_t size = (uint64_t)st.st_size;
    if (offset > size || (offset == size && size > 0 && length > 0)) {
        close(fd);
        return lh_err_set(err, LH_EINVAL, "range starts at %llu, past the end of %s (%llu bytes)",
                          (unsigned long long)offset, key, (unsigned long long)size);
    }
    uint64_t left = size - offset;
    if (length < left) left = length;
    enum { CHUNK = 1 << 20 };
    char *buf = dst->buf ? NULL : lh_xmalloc(CHUNK);
    lh_code rc = LH_OK;
    uint64_t pos = offset;
    if (dst->buf) lh_buf_reserve(dst->buf, (size_t)left);
    while (left && rc == LH_OK) {
        size_t want = left < CHUNK ? (size_t)left : CHUNK;
        char *into = dst->buf ? dst->buf->data + dst->buf->len : buf;
        ssize_t n = pread(fd, into, want, (off_t)pos);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            rc = n < 0 ? lh_err_errno(err, LH_EIO, errno, "reading %s", key)
                       : lh_err_set(err, LH_EIO, "%s shrank while being read", key);
            break;
        }
        if (dst->buf) {
            dst->buf->len += (size_t)n;
            dst->buf->data[dst->buf->len] = '\0';
        } else {
            rc = write_all(dst->fd, buf, (size_t)n, "the download", err);
        }
        pos += (uint64_t)n;
        left -= (uint64_t)n;
    }
    free(buf);
    close(fd);
    return rc;
}

static lh_code fs_head(lh_store *s, const char *key, lh_object_info *info, lh_err *err)
{
    char path[PATH_MAX];
    path_of(fs_of(s), key, path, sizeof path);
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno != ENOENT && errno != ENOTDIR)
            return lh_err_errno(err, LH_EIO, errno, "bucket %s: stat %s", s->name, key);
        return lh_err_set(err, LH_ENOTFOUND, "bucket %s: no object %s", s->name, key);
    }
    if (!S_ISREG(st.st_mode)) return lh_err_set(err, LH_ENOTFOUND, "bucket %s: no object %s", s->name, key);
    snprintf(info->key, sizeof info->key, "%s", key);
    info->size = (uint64_t)st.st_size;
    info->mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    return LH_OK;
}

struct listing {
    lh_object_info *items;
    size_t n, cap;
};

static void walk(const char *dir, const char *keyprefix, const char *prefix, struct listing *l,
                 bool top)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    size_t plen = strlen(prefix);
    while ((e = readdir(d))) {
        const char *name = e->d_name;
        if (!strcmp(name, ".") || !strcmp(name, "..")) continue;
        if (top && !strcmp(name, TMP_DIR)) continue;
        char key[LH_STORE_KEY_MAX + 2], path[PATH_MAX];
        int kn = snprintf(key, sizeof key, "%s%s", keyprefix, name);
        if (kn < 0 || (size_t)kn > LH_STORE_KEY_MAX) continue;
        snprintf(path, sizeof path, "%s/%s", dir, name);
        struct stat st;
        if (lstat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            char sub[LH_STORE_KEY_MAX + 2];
            snprintf(sub, sizeof sub, "%s/", key);
            size_t sl = strlen(sub);
            /* descend only where keys under prefix can be */
            if (strncmp(sub, prefix, sl < plen ? sl : plen) == 0) walk(path, sub, prefix, l, false);
        } else if (S_ISREG(st.st_mode) && strncmp(key, prefix, plen) == 0) {
            if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 64;
                l->items = lh_xrealloc(l->items, l->cap * sizeof *l->items);
            }
            lh_object_info *it = &l->items[l->n++];
            snprintf(it->key, sizeof it->key, "%s", key);
            it->size = (uint64_t)st.st_size;
            it->mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
        }
    }
    closedir(d);
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const lh_object_info *)a)->key, ((const lh_object_info *)b)->key);
}

static lh_code fs_list(lh_store *s, const char *prefix, lh_store_list_fn fn, void *ctx, lh_err *err)
{
    (void)err;
    fs_store *fs = fs_of(s);
    /* start at the deepest directory the prefix names completely */
    char base[LH_STORE_KEY_MAX + 1] = "";
    const char *slash = strrchr(prefix, '/');
    if (slash) snprintf(base, sizeof base, "%.*s", (int)(slash - prefix + 1), prefix);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s", fs->root, base);
    struct listing l = {0};
    walk(dir, base, prefix, &l, base[0] == '\0');
    if (l.n) qsort(l.items, l.n, sizeof *l.items, by_key);
    for (size_t i = 0; i < l.n; i++)
        if (!fn(ctx, &l.items[i])) break;
    free(l.items);
    return LH_OK;
}

static lh_code fs_remove(lh_store *s, const char *key, lh_err *err)
{
    char path[PATH_MAX];
    path_of(fs_of(s), key, path, sizeof path);
    if (unlink(path) != 0 && errno != ENOENT && errno != ENOTDIR)
        return lh_err_errno(err, LH_EIO, errno, "bucket %s: cannot delete %s", s->name, key);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    fsync_dir(path);
    return LH_OK;
}

static lh_code fs_check(lh_store *s, lh_err *err)
{
    fs_store *fs = fs_of(s);
    char probe[PATH_MAX];
    snprintf(probe, sizeof probe, "%s/" TMP_DIR "/health-%d", fs->root, (int)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return lh_err_errno(err, LH_EIO, errno, "bucket %s: %s is not writable", s->name, fs->root);
    lh_code rc = write_all(fd, "ok", 2, probe, err);
    close(fd);
    unlink(probe);
    return rc;
}

static bool fs_local_path(lh_store *s, const char *key, char *out, size_t n)
{
    path_of(fs_of(s), key, out, n);
    return true;
}

static void fs_close(lh_store *s)
{
    fs_store *fs = fs_of(s);
    free(fs->root);
    free(fs->base.name);
    free(fs);
}

static const lh_store_ops fs_ops = {
    .backend = "fs",
    .get = fs_get,
    .put = fs_put,
    .head = fs_head,
    .list = fs_list,
    .remove = fs_remove,
    .check = fs_check,
    .local_path = fs_local_path,
    .close = fs_close,
};

/* Temp files ("<pid>-<random>") of a dead process, or older than an hour,
 * belong to writers that died. */
static void sweep_temps(const char *tmpdir)
{
    DIR *d = opendir(tmpdir);
    if (!d) return;
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
        struct stat st;
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        bool dead = end != e->d_name && *end == '-' && pid > 0 && pid <= 4194304 && pid != (long)getpid() &&
                    kill((pid_t)pid, 0) != 0 && errno == ESRCH;
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (dead || now - st.st_mtime > 3600)) unlink(path);
    }
    closedir(d);
}

lh_code lh_store_fs_open(const char *name, const char *root, lh_store **out, lh_err *err)
{
    if (!root || !*root) return lh_err_set(err, LH_EINVAL, "bucket %s: empty path", name);
    char tmpdir[PATH_MAX];
    snprintf(tmpdir, sizeof tmpdir, "%s/" TMP_DIR "/x", root);
    lh_code rc = make_parents(tmpdir, err);
    if (rc) return lh_err_wrap(err, "bucket %s", name);
    *strrchr(tmpdir, '/') = '\0';
    sweep_temps(tmpdir);
    fs_store *fs = lh_xcalloc(1, sizeof *fs);
    char *real = realpath(root, NULL);
    fs->root = real ? real : lh_xstrdup(root);
    fs->base.ops = &fs_ops;
    fs->base.name = lh_xstrdup(name);
    fs->base.conditional_writes = true;
    *out = &fs->base;
    return LH_OK;
}
