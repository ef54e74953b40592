/*
 * seglog.c — append-only JSON record log: local WAL generations, immutable
 * segments in the store, and a cache of parsed segments. See seglog.h.
 *
 * WAL generations: appends go to <wal_dir>/<name>-<pid>-<gen>.wal. A flush
 * closes the current generation (appends continue in gen+1), writes the
 * buffered records as one segment, and only then deletes the generations it
 * covered. A failed flush keeps both the files and the records, so the next
 * flush retries them. A crash between a successful put and the deletion can
 * replay a generation twice; readers drop repeated record ids.
 */
#include "seglog.h"

#include "lakehouse/lh_buf.h"
#include "lakehouse/lh_log.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_time.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SEGLOG_MAX_BACKOFF_MS 30000

struct segment {
    char *key;
    json_t *records; /* array */
};

struct seglog {
    lh_store *store;
    char *name, *prefix, *wal_dir, *replica;
    long flush_ms, flush_events;

    pthread_mutex_t mu; /* buffer, WAL, stats */
    pthread_cond_t wake;
    pthread_t flusher;
    bool stop;
    json_t *buffer;  /* records not yet in a segment */
    json_t *inflight; /* records a flush is writing (NULL when none): still visible to scans */
    int wal_fd;      /* current generation */
    unsigned gen;    /* current generation number */
    size_t gen_appends; /* records appended to it */
    unsigned oldest_gen; /* oldest generation with records not yet in a segment */
    int lock_fd;     /* flock held for the process lifetime */
    uint64_t seq;
    seglog_stats stats;

    pthread_mutex_t flush_mu; /* one flush at a time */

    pthread_mutex_t cache_mu;
    struct segment *segments; /* sorted by key */
    size_t n_segments, cap_segments;
};

static char *wal_path(const seglog *log, int pid, unsigned gen)
{
    return lh_xasprintf("%s/%s-%d-%08u.wal", log->wal_dir, log->name, pid, gen);
}

static int open_wal(seglog *log, unsigned gen)
{
    char *path = wal_path(log, (int)getpid(), gen);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        lh_log(LH_LOG_WARN, "seglog.wal_open_failed", LH_KV_STR("path", path),
               LH_KV_STR("error", strerror(errno)));
    free(path);
    return fd;
}

static void remove_wals(seglog *log, int pid, unsigned from_gen, unsigned to_gen)
{
    for (unsigned g = from_gen; g <= to_gen; g++) {
        char *path = wal_path(log, pid, g);
        unlink(path);
        free(path);
    }
}

/* ---- segment cache ---- */

static int by_key(const void *a, const void *b)
{
    return strcmp(((const struct segment *)a)->key, ((const struct segment *)b)->key);
}

static void cache_add(seglog *log, const char *key, json_t *records)
{
    pthread_mutex_lock(&log->cache_mu);
    for (size_t i = 0; i < log->n_segments; i++) {
        if (strcmp(log->segments[i].key, key) == 0) {
            pthread_mutex_unlock(&log->cache_mu);
            json_decref(records);
            return;
        }
    }
    if (log->n_segments == log->cap_segments) {
        log->cap_segments = log->cap_segments ? log->cap_segments * 2 : 32;
        log->segments = lh_xrealloc(log->segments, log->cap_segments * sizeof *log->segments);
    }
    log->segments[log->n_segments++] = (struct segment){lh_xstrdup(key), records};
    qsort(log->segments, log->n_segments, sizeof *log->segments, by_key);
    pthread_mutex_unlock(&log->cache_mu);
}

static bool cached(seglog *log, const char *key)
{
    pthread_mutex_lock(&log->cache_mu);
    bool found = false;
    for (size_t i = 0; i < log->n_segments && !found; i++) found = !strcmp(log->segments[i].key, key);
    pthread_mutex_unlock(&log->cache_mu);
    return found;
}

/* NDJSON text to an array; unparsable lines (a torn WAL tail) are skipped. */
static json_t *parse_lines(const char *text, size_t len)
{
    json_t *arr = json_array();
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n) {
            json_t *rec = json_loadb(p, n, 0, NULL);
            if (json_is_object(rec)) json_array_append_new(arr, rec);
            else json_decref(rec);
        }
        p += n + 1;
    }
    return arr;
}

/* ---- flushing ---- */

static char *segment_key(seglog *log)
{
    return lh_xasprintf("%s%013lld-%s-%06llu.ndjson", log->prefix, (long long)lh_time_now_ms(), log->replica,
                        (unsigned long long)++log->seq);
}

static void serialize(json_t *records, lh_buf *out)
{
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec) {
        char *line = json_dumps(rec, JSON_COMPACT);
        lh_buf_puts(out, line);
        lh_buf_putc(out, '\n');
        free(line);
    }
}

lh_code seglog_flush(seglog *log, lh_err *err)
{
    pthread_mutex_lock(&log->flush_mu);
    pthread_mutex_lock(&log->mu);
    if (json_array_size(log->buffer) == 0) {
        pthread_mutex_unlock(&log->mu);
        pthread_mutex_unlock(&log->flush_mu);
        return LH_OK;
    }
    json_t *batch = log->buffer;
    log->buffer = json_array();
    log->inflight = json_incref(batch);
    unsigned covered = log->gen;
    /* later appends go to a new generation, which this flush does not cover */
    if (log->wal_fd >= 0) close(log->wal_fd);
    log->gen++;
    log->gen_appends = 0;
    log->wal_fd = open_wal(log, log->gen);
    char *key = segment_key(log);
    pthread_mutex_unlock(&log->mu);

    lh_buf text = {0};
    serialize(batch, &text);
    lh_code rc = lh_store_put(log->store, key, text.data, text.len, LH_PUT_IF_ABSENT, err);
    lh_buf_free(&text);

    pthread_mutex_lock(&log->mu);
    if (rc == LH_OK) {
        remove_wals(log, (int)getpid(), log->oldest_gen, covered);
        log->oldest_gen = log->gen;
        log->stats.flushed_segments++;
        log->stats.last_flush_ms = lh_time_now_ms();
        cache_add(log, key, json_incref(batch));
    } else {
        /* Keep the records, ahead of anything appended meanwhile. A generation
         * opened for this flush that received nothing is given back, so a store
         * that keeps failing costs no new WAL file per attempt. */
        if (log->gen_appends == 0 && log->gen == covered + 1) {
            if (log->wal_fd >= 0) close(log->wal_fd);
            remove_wals(log, (int)getpid(), log->gen, log->gen);
            log->gen = covered;
            log->wal_fd = open_wal(log, log->gen);
        }
        json_array_extend(batch, log->buffer);
        json_decref(log->buffer);
        log->buffer = json_incref(batch);
        log->stats.failed_flushes++;
    }
    json_decref(log->inflight);
    log->inflight = NULL;
    pthread_mutex_unlock(&log->mu);
    json_decref(batch);
    free(key);
    pthread_mutex_unlock(&log->flush_mu);
    return rc;
}

static void *flusher_main(void *arg)
{
    seglog *log = arg;
    long pause_ms = 200; /* after a failed flush; doubles while the store keeps failing */
    pthread_mutex_lock(&log->mu);
    while (!log->stop) {
        struct timespec until = lh_time_after_ms(CLOCK_MONOTONIC, log->flush_ms);
        while (!log->stop && (long)json_array_size(log->buffer) < log->flush_events) {
            if (pthread_cond_timedwait(&log->wake, &log->mu, &until) == ETIMEDOUT) break;
        }
        if (log->stop) break;
        if (json_array_size(log->buffer) == 0) continue;
        pthread_mutex_unlock(&log->mu);
        lh_err err;
        if (seglog_flush(log, &err) != LH_OK) {
            lh_log(LH_LOG_WARN, "seglog.flush_failed", LH_KV_STR("log", log->name),
                   LH_KV_STR("error", err.message));
            /* don't spin on a failing store: back off, waking early only to stop */
            pthread_mutex_lock(&log->mu);
            struct timespec resume = lh_time_after_ms(CLOCK_MONOTONIC, pause_ms);
            while (!log->stop && pthread_cond_timedwait(&log->wake, &log->mu, &resume) != ETIMEDOUT) {
            }
            pthread_mutex_unlock(&log->mu);
            if (pause_ms < SEGLOG_MAX_BACKOFF_MS) pause_ms *= 2;
        } else {
            pause_ms = 200;
        }
        pthread_mutex_lock(&log->mu);
    }
    pthread_mutex_unlock(&log->mu);
    return NULL;
}

/* ---- append ---- */

void seglog_append(seglog *log, json_t *record, bool sync)
{
    char *line = json_dumps(record, JSON_COMPACT);
    size_t n = strlen(line);
    line = lh_xrealloc(line, n + 2);
    line[n++] = '\n';
    line[n] = '\0';
    pthread_mutex_lock(&log->mu);
    bool durable = false;
    if (log->wal_fd >= 0) {
        size_t off = 0;
        while (off < n) {
            ssize_t w = write(log->wal_fd, line + off, n - off);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) break;
            off += (size_t)w;
        }
        durable = off == n && (!sync || fdatasync(log->wal_fd) == 0);
    }
    if (!durable)
        lh_log(LH_LOG_WARN, "seglog.wal_write_failed", LH_KV_STR("log", log->name),
               LH_KV_STR("error", strerror(errno)));
    json_array_append(log->buffer, record);
    log->gen_appends++;
    log->stats.appended++;
    if ((long)json_array_size(log->buffer) >= log->flush_events) pthread_cond_signal(&log->wake);
    pthread_mutex_unlock(&log->mu);
    free(line);
}

/* ---- recovery of WALs left by dead processes ---- */

static void read_file(const char *path, lh_buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char chunk[65536];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0) lh_buf_append(out, chunk, (size_t)n);
    close(fd);
}

static void adopt_orphans(seglog *log)
{
    DIR *d = opendir(log->wal_dir);
    if (!d) return;
    size_t nlen = strlen(log->name);
    struct dirent *e;
    while ((e = readdir(d))) {
        /* <name>-<pid>.lock */
        const char *fn = e->d_name;
        if (strncmp(fn, log->name, nlen) != 0 || fn[nlen] != '-') continue;
        char *end;
        long pid = strtol(fn + nlen + 1, &end, 10);
        if (strcmp(end, ".lock") != 0 || pid == getpid()) continue;
        char *lock_path = lh_xasprintf("%s/%s", log->wal_dir, fn);
        int fd = open(lock_path, O_RDWR | O_CLOEXEC);
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
            /* its owner is gone: take over every generation it left */
            unsigned first = 0, last = 0;
            bool any = false;
            DIR *d2 = opendir(log->wal_dir);
            struct dirent *e2;
            while (d2 && (e2 = readdir(d2))) {
                char want[128];
                snprintf(want, sizeof want, "%s-%ld-", log->name, pid);
                if (strncmp(e2->d_name, want, strlen(want)) != 0) continue;
                unsigned g = (unsigned)strtoul(e2->d_name + strlen(want), &end, 10);
                if (strcmp(end, ".wal") != 0) continue;
                char *p = wal_path(log, (int)pid, g);
                lh_buf text = {0};
                read_file(p, &text);
                free(p);
                if (text.len) {
                    json_t *recs = parse_lines(text.data, text.len);
                    pthread_mutex_lock(&log->mu);
                    json_array_extend(log->buffer, recs);
                    pthread_mutex_unlock(&log->mu);
                    json_decref(recs);
                }
                lh_buf_free(&text);
                if (!any || g > last) last = g;
                if (!any || g < first) first = g;
                any = true;
            }
            if (d2) closedir(d2);
            lh_err err;
            if (seglog_flush(log, &err) == LH_OK) {
                if (any) remove_wals(log, (int)pid, first, last);
                unlink(lock_path);
                lh_log(LH_LOG_INFO, "seglog.recovered", LH_KV_STR("log", log->name),
                       LH_KV_INT("from_pid", pid));
            }
        }
        if (fd >= 0) close(fd);
        free(lock_path);
    }
    closedir(d);
}

/* ---- open / close / scan ---- */

static lh_code make_dir(const char *path, lh_err *err)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        mkdir(buf, 0755);
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return lh_err_errno(err, LH_EIO, errno, "cannot create %s", buf);
    return LH_OK;
}

lh_code seglog_open(lh_store *store, const seglog_options *opt, seglog **out, lh_err *err)
{
    lh_code rc = make_dir(opt->wal_dir, err);
    if (rc) return rc;
    seglog *log = lh_xcalloc(1, sizeof *log);
    log->wal_fd = -1;
    log->store = store;
    log->name = lh_xstrdup(opt->name);
    log->prefix = lh_xstrdup(opt->prefix);
    log->wal_dir = lh_xstrdup(opt->wal_dir);
    log->replica = lh_xstrdup(opt->replica);
    log->flush_ms = opt->flush_ms > 0 ? opt->flush_ms : 1000;
    log->flush_events = opt->flush_events > 0 ? opt->flush_events : 256;
    log->buffer = json_array();
    pthread_mutex_init(&log->mu, NULL);
    pthread_mutex_init(&log->flush_mu, NULL);
    pthread_mutex_init(&log->cache_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&log->wake, &ca);
    pthread_condattr_destroy(&ca);

    char *lock_path = lh_xasprintf("%s/%s-%d.lock", log->wal_dir, log->name, (int)getpid());
    log->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    free(lock_path);
    if (log->lock_fd < 0 || flock(log->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        rc = lh_err_errno(err, LH_EIO, errno, "cannot lock the %s write-ahead file in %s", log->name,
                          log->wal_dir);
        seglog_close(log);
        return rc;
    }
    log->wal_fd = open_wal(log, 0);
    adopt_orphans(log);
    pthread_create(&log->flusher, NULL, flusher_main, log);
    *out = log;
    return LH_OK;
}

void seglog_close(seglog *log)
{
    if (!log) return;
    if (log->flusher) {
        pthread_mutex_lock(&log->mu);
        log->stop = true;
        pthread_cond_signal(&log->wake);
        pthread_mutex_unlock(&log->mu);
        pthread_join(log->flusher, NULL);
        lh_err err;
        if (seglog_flush(log, &err) != LH_OK)
            lh_log(LH_LOG_WARN, "seglog.final_flush_failed", LH_KV_STR("log", log->name),
                   LH_KV_STR("error", err.message),
                   LH_KV_STR("kept", "records stay in the write-ahead file for the next start"));
    }
    bool clean = json_array_size(log->buffer) == 0;
    if (log->wal_fd >= 0) close(log->wal_fd);
    if (log->lock_fd >= 0) {
        if (clean) {
            remove_wals(log, (int)getpid(), log->oldest_gen, log->gen);
            char *lock_path = lh_xasprintf("%s/%s-%d.lock", log->wal_dir, log->name, (int)getpid());
            unlink(lock_path);
            free(lock_path);
        }
        close(log->lock_fd);
    }
    for (size_t i = 0; i < log->n_segments; i++) {
        free(log->segments[i].key);
        json_decref(log->segments[i].records);
    }
    free(log->segments);
    json_decref(log->buffer);
    pthread_cond_destroy(&log->wake);
    pthread_mutex_destroy(&log->mu);
    pthread_mutex_destroy(&log->flush_mu);
    pthread_mutex_destroy(&log->cache_mu);
    free(log->name);
    free(log->prefix);
    free(log->wal_dir);
    free(log->replica);
    free(log);
}

struct key_list {
    char **keys;
    size_t n, cap;
};

static bool collect_key(void *ctx, const lh_object_info *info)
{
    struct key_list *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->keys = lh_xrealloc(l->keys, l->cap * sizeof *l->keys);
    }
    l->keys[l->n++] = lh_xstrdup(info->key);
    return true;
}

lh_code seglog_scan(seglog *log, bool (*fn)(void *ctx, json_t *record), void *ctx, lh_err *err)
{
    /* pick up segments written since the last scan, by us or another replica */
    struct key_list keys = {0};
    lh_code rc = lh_store_list(log->store, log->prefix, collect_key, &keys, err);
    for (size_t i = 0; rc == LH_OK && i < keys.n; i++) {
        if (cached(log, keys.keys[i])) continue;
        lh_buf text = {0};
        lh_err get_err;
        if (lh_store_get(log->store, keys.keys[i], &text, &get_err) == LH_OK)
            cache_add(log, keys.keys[i], parse_lines(text.data ? text.data : "", text.len));
        lh_buf_free(&text);
    }
    for (size_t i = 0; i < keys.n; i++) free(keys.keys[i]);
    free(keys.keys);
    if (rc) /* the store is down: what this process holds is still worth answering with */
        lh_log(LH_LOG_WARN, "seglog.scan_degraded", LH_KV_STR("log", log->name),
               LH_KV_STR("error", err ? err->message : "list failed"));

    /* snapshot the references so fn runs without locks held: first what is
     * being flushed (written, but not yet listed or cached) and what is
     * buffered, then the cached segments; a flush ending in between puts its
     * records in both, and the second copy is dropped by id below */
    pthread_mutex_lock(&log->mu);
    json_t *inflight = log->inflight ? json_copy(log->inflight) : json_array(), *buffered = json_copy(log->buffer);
    pthread_mutex_unlock(&log->mu);
    pthread_mutex_lock(&log->cache_mu);
    size_t n = log->n_segments + 1; /* arrays[0..n]: segments, in flight, buffered */
    json_t **arrays = lh_xmalloc((n + 1) * sizeof *arrays);
    for (size_t i = 0; i + 1 < n; i++) arrays[i] = json_incref(log->segments[i].records);
    pthread_mutex_unlock(&log->cache_mu);
    arrays[n - 1] = inflight;
    arrays[n] = buffered;

    json_t *seen = json_object(); /* record ids, to drop a generation replayed twice */
    bool go = true;
    for (size_t a = 0; a <= n && go; a++) {
        size_t i;
        json_t *rec;
        json_array_foreach(arrays[a], i, rec) {
            const char *id = json_string_value(json_object_get(rec, "id"));
            if (id) {
                if (json_object_get(seen, id)) continue;
                json_object_set_new(seen, id, json_true());
            }
            if (!(go = fn(ctx, rec))) break;
        }
    }
    json_decref(seen);
    for (size_t a = 0; a <= n; a++) json_decref(arrays[a]);
    free(arrays);
    return LH_OK;
}

void seglog_get_stats(seglog *log, seglog_stats *out)
{
    pthread_mutex_lock(&log->mu);
    *out = log->stats;
    out->buffered = json_array_size(log->buffer);
    pthread_mutex_unlock(&log->mu);
}
