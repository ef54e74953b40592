/*
 * file.c — a whole file read in pieces from a mapping, safe against a file
 * cut short meanwhile (see lh_file.h).
 */
#include "lakehouse/lh_file.h"
#include "lakehouse/lh_mem.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The calling thread's mapped window while fn reads it, and where a fault in
 * it jumps to. */
static _Thread_local sigjmp_buf *volatile guard;
static _Thread_local const char *volatile window;
static _Thread_local volatile size_t window_len;
static _Thread_local volatile size_t fault_at; /* in the window */

static struct sigaction previous;
static pthread_mutex_t installing = PTHREAD_MUTEX_INITIALIZER;

static void on_sigbus(int sig, siginfo_t *info, void *context)
{
    const char *at = info ? (const char *)info->si_addr : NULL;
    if (guard && window && at >= window && at < window + window_len) {
        fault_at = (size_t)(at - window);
        siglongjmp(*guard, 1);
    }
    /* not a scan's: the access is repeated under the handler from before */
    (void)sig, (void)context;
    sigaction(SIGBUS, &previous, NULL);
}

/* Ours, unless it is already (checked on every scan: a program or a test
 * harness may have put its own in since). */
static void install(void)
{
    pthread_mutex_lock(&installing);
    struct sigaction now;
    if (sigaction(SIGBUS, NULL, &now) == 0 && (!(now.sa_flags & SA_SIGINFO) || now.sa_sigaction != on_sigbus)) {
        struct sigaction sa = {0};
        sa.sa_sigaction = on_sigbus;
        sa.sa_flags = SA_SIGINFO;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGBUS, &sa, &previous);
    }
    pthread_mutex_unlock(&installing);
}

/* What was appended past off since the fstat: read, piece by piece. */
static lh_code read_rest(int fd, const char *name, uint64_t off, size_t piece, lh_file_piece_fn fn, void *ctx,
                         lh_err *err)
{
    char *buf = lh_xmalloc(piece);
    lh_code rc = LH_OK;
    for (;;) {
        ssize_t n = pread(fd, buf, piece, (off_t)off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rc = lh_err_errno(err, LH_EIO, errno, "reading %s", name);
            break;
        }
        if (n == 0 || !fn(ctx, buf, (size_t)n)) break;
        off += (uint64_t)n;
    }
    free(buf);
    return rc;
}

/* The bytes from *off to size through windows (mapped from page
 * boundaries); *off ends where reading goes on. Apart from what the jump
 * restores, nothing here changes after sigsetjmp. */
static lh_code map_each(int fd, const char *name, uint64_t size, size_t piece, lh_file_piece_fn fn, void *ctx,
                        volatile uint64_t *off, bool *stopped, lh_err *err)
{
    sigjmp_buf jump;
    volatile size_t skip = 0; /* bytes of the window before *off */
    if (sigsetjmp(jump, 1)) {
        const char *w = window;
        size_t len = window_len;
        guard = NULL, window = NULL, window_len = 0;
        munmap((void *)(uintptr_t)w, len);
        return lh_err_set(err, LH_EIO, "%s changed while being read: it was cut short (at byte %llu)", name,
                          (unsigned long long)(*off - skip + fault_at));
    }
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    while (*off < size) {
        skip = (size_t)(*off % page);
        uint64_t start = *off - skip;
        size_t len = size - start < LH_FILE_WINDOW ? (size_t)(size - start) : LH_FILE_WINDOW;
        char *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, (off_t)start);
        if (map == MAP_FAILED) return LH_OK; /* not mappable: read from here */
        window_len = len, window = map, guard = &jump;
        bool go = true;
        size_t at = skip;
        for (; at < len && go; at += piece) go = fn(ctx, map + at, len - at < piece ? len - at : piece);
        guard = NULL, window = NULL, window_len = 0;
        munmap(map, len);
        *off = start + (at < len ? at : len);
        if (!go) {
            *stopped = true;
            return LH_OK;
        }
    }
    return LH_OK;
}

lh_code lh_file_each(int fd, const char *name, uint64_t from, size_t piece, lh_file_piece_fn fn, void *ctx,
                     lh_err *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return lh_err_errno(err, LH_EIO, errno, "cannot read %s", name);
    install();
    volatile uint64_t off = from;
    bool stopped = false;
    lh_code rc = map_each(fd, name, S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0, piece ? piece : 1, fn, ctx,
                          &off, &stopped, err);
    if (rc || stopped) return rc;
    return read_rest(fd, name, off, piece ? piece : 1, fn, ctx, err);
}
