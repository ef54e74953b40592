/*
 * pass.c — the one pass over an input's bytes (see internal.h): content
 * hash, census of lines that are not UTF-8, quote count; stoppable at a
 * piece's end, for another thread to go on, or run by a thread of its own
 * that another takes over from without waiting.
 */
#include "internal.h"

#include "lakehouse/lh_file.h"
#include "lakehouse/lh_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PASS_PIECE (256u << 10) /* the census reads what the hash just brought into the core's cache */

lh_code ingest_pass_open(ingest_pass *p, const char *path, const char *name, bool sha256, lh_err *err)
{
    memset(p, 0, sizeof *p);
    p->name = name;
    p->sha256 = sha256;
    lh_blake3_init(&p->blake3);
    if (sha256) lh_sha256_init(&p->sha);
    atomic_init(&p->hand_over, false);
    p->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (p->fd < 0) return lh_err_errno(err, LH_EIO, errno, "cannot read %s", name);
    return LH_OK;
}

static void pass_feed(ingest_pass *p, const char *at, size_t n)
{
    lh_blake3_update(&p->blake3, at, n);
    if (p->sha256) lh_sha256_update(&p->sha, at, n);
    lh_utf8_census_feed(&p->census, at, n);
    for (const char *end = at + n; (at = memchr(at, '"', (size_t)(end - at))); at++) p->quotes++;
    p->done += n;
}

static bool pass_piece(void *ctx, const char *at, size_t n)
{
    ingest_pass *p = ctx;
    pass_feed(p, at, n);
    return !atomic_load_explicit(&p->hand_over, memory_order_relaxed);
}

lh_code ingest_pass_run(ingest_pass *p, lh_err *err)
{
    return lh_file_each(p->fd, p->name, p->done, PASS_PIECE, pass_piece, p, err);
}

void ingest_pass_finish(ingest_pass *p, char hash[LH_CONTENT_HASH_LEN + 1], char sha256[LH_SHA256_HEX_LEN + 1])
{
    lh_utf8_census_end(&p->census);
    lh_blake3_final_content(&p->blake3, hash);
    if (p->sha256) lh_sha256_final_hex(&p->sha, sha256);
}

void ingest_pass_close(ingest_pass *p)
{
    if (p->fd >= 0) close(p->fd);
    p->fd = -1;
    if (p->sha.ctx) { /* not finished (a failed pass): released all the same */
        uint8_t unused[LH_SHA256_LEN];
        lh_sha256_final(&p->sha, unused);
    }
}

/* ---- a pass in a thread of its own, taken over without waiting ----
 *
 * The thread may run at SCHED_IDLE, so it may not run again for a long
 * while (a second and more on a busy machine): whoever takes over must not
 * wait for it. After each piece it leaves a mark (its state then) in the
 * slot `latest` does not name, then names it; a taker sets `taken`, copies
 * the mark `latest` names and goes on from there. A mark being written is
 * never the one named, and once `taken` is set the thread writes none: its
 * check of `taken` comes before each piece. The thread holds its own fd and
 * name, and the last of the two to let go frees the runner. */

typedef struct pass_mark {
    lh_blake3 blake3;
    lh_utf8_census census;
    uint64_t quotes, done;
} pass_mark;

struct ingest_pass_runner {
    atomic_int refs;
    bool idle;
    char *name;
    ingest_pass live; /* the thread's */
    pass_mark marks[2];
    atomic_int latest;
    atomic_bool taken;
};

static void mark(const ingest_pass *p, pass_mark *m)
{
    m->blake3 = p->blake3;
    m->census = p->census;
    m->quotes = p->quotes;
    m->done = p->done;
}

static void runner_release(ingest_pass_runner *r)
{
    if (atomic_fetch_sub(&r->refs, 1) != 1) return;
    ingest_pass_close(&r->live);
    free(r->name);
    free(r);
}

static bool runner_piece(void *ctx, const char *at, size_t n)
{
    ingest_pass_runner *r = ctx;
    if (atomic_load(&r->taken)) return false;
    pass_feed(&r->live, at, n);
    int w = 1 - atomic_load(&r->latest);
    mark(&r->live, &r->marks[w]);
    atomic_store(&r->latest, w);
    return true;
}

static void *runner_main(void *arg)
{
    ingest_pass_runner *r = arg;
    if (r->idle) { /* best effort: a sandbox may refuse */
        struct sched_param none = {0};
        pthread_setschedparam(pthread_self(), SCHED_IDLE, &none);
    }
    lh_err err; /* a read error or a cut file: the taker meets it again */
    lh_file_each(r->live.fd, r->live.name, 0, PASS_PIECE, runner_piece, r, &err);
    runner_release(r);
    return NULL;
}

lh_code ingest_pass_runner_start(const ingest_pass *p, bool idle, ingest_pass_runner **out, lh_err *err)
{
    if (p->sha256 || p->done) return lh_err_set(err, LH_EINTERNAL, "a runner starts a BLAKE3 pass from its first byte");
    ingest_pass_runner *r = lh_xcalloc(1, sizeof *r);
    r->idle = idle;
    r->name = lh_xstrdup(p->name);
    r->live = (ingest_pass){.fd = fcntl(p->fd, F_DUPFD_CLOEXEC, 0), .name = r->name};
    lh_blake3_init(&r->live.blake3);
    mark(&r->live, &r->marks[0]);
    atomic_init(&r->latest, 0);
    atomic_init(&r->taken, false);
    atomic_init(&r->refs, 2);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int e = r->live.fd < 0 ? errno : pthread_create(&t, &attr, runner_main, r);
    pthread_attr_destroy(&attr);
    if (e) {
        ingest_pass_close(&r->live);
        free(r->name);
        free(r);
        return lh_err_errno(err, LH_EINTERNAL, e, "cannot start hashing %s", p->name);
    }
    *out = r;
    return LH_OK;
}

void ingest_pass_runner_take(ingest_pass_runner *r, ingest_pass *p)
{
    atomic_store(&r->taken, true);
    const pass_mark *m = &r->marks[atomic_load(&r->latest)];
    p->blake3 = m->blake3;
    p->census = m->census;
    p->quotes = m->quotes;
    p->done = m->done;
    runner_release(r);
}
