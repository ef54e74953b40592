/*
 * sidecar.c — starts and supervises the local embedding sidecar (Node).
 *
 * One supervisor thread owns the child for its whole life: it forks it (so
 * the child's PR_SET_PDEATHSIG, which follows the forking *thread*, fires
 * only when the supervisor or the process dies), polls GET /health until it
 * answers, drains the child's stdout and stderr (one pipe, the last 4 KiB
 * kept for messages) so the child never blocks on a full pipe, reaps it,
 * and starts a new one after a backoff. The child's pid is read, signalled
 * and cleared only under the mutex, so a reaped pid is never signalled.
 */
#include "internal.h"
#include "lakehouse/lh_ai.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_time.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define TAIL_MAX         4096
#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS   30000
#define STABLE_UPTIME_MS 60000 /* a child that ran this long resets the backoff */
#define STOP_GRACE_MS    2000

enum state { ST_STARTING, ST_RUNNING, ST_RESTARTING, ST_FAILED, ST_STOPPED };
static const char *const state_names[] = {"starting", "running", "restarting", "failed", "stopped"};

struct lh_sidecar {
    char *node, *script;
    char port_arg[16];
    char url[64];
    char health_url[80];
    long long start_timeout_ms;
    lh_errors *errors;
    bool echo; /* $LAKEHOUSE_SIDECAR_DEBUG: copy the child's output to our stderr */
    pthread_t thread;

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;
    enum state state;
    pid_t pid; /* 0: no child */
    bool stopping;
    bool start_done; /* the first start succeeded or failed (start_err) */
    lh_err start_err;
    int restarts;
    int64_t started_at_ms; /* wall clock, for status */
    char last_exit[128];
    char tail[TAIL_MAX];
    size_t tail_len;
};

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- locating node and the script ---- */

static char *find_node(const char *node)
{
    if (strchr(node, '/')) return access(node, X_OK) == 0 ? lh_xstrdup(node) : NULL;
    const char *path = getenv("PATH");
    if (!path) path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        char *candidate = lh_xasprintf("%.*s/%s", (int)n, n ? path : ".", node);
        if (access(candidate, X_OK) == 0) return candidate;
        free(candidate);
        path += n + (path[n] == ':');
    }
    return NULL;
}

/* The script: cfg, $LAKEHOUSE_SIDECAR, then beside the executable (see lh_ai.h). */
static lh_code find_script(const char *given, char **out, lh_err *err)
{
    const char *env = getenv("LAKEHOUSE_SIDECAR");
    const char *named = given && *given ? given : env && *env ? env : NULL;
    if (named) {
        *out = realpath(named, NULL);
        if (!*out) return lh_err_errno(err, LH_EINVAL, errno, "sidecar script %s", named);
        return LH_OK;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return lh_err_errno(err, LH_EIO, errno, "reading /proc/self/exe");
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0'; /* the executable's folder */
    static const char *const rel[] = {
        "../scripts/sidecar/server.mjs",         /* bin/lakehouse in the source tree */
        "../../../scripts/sidecar/server.mjs",   /* build/san/bin, build/release/tests */
        "../share/lakehouse/sidecar/server.mjs", /* installed */
    };
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        char *candidate = lh_xasprintf("%s/%s", exe, rel[i]);
        *out = realpath(candidate, NULL);
        free(candidate);
        if (*out) return LH_OK;
    }
    return lh_err_set(err, LH_EINVAL,
                      "cannot find the sidecar's server.mjs near %s (set ai.sidecar_script or "
                      "$LAKEHOUSE_SIDECAR)",
                      exe);
}

static lh_code free_port(int *port, lh_err *err)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return lh_err_errno(err, LH_EIO, errno, "socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        lh_code rc = lh_err_errno(err, LH_EIO, errno, "finding a free loopback port");
        close(fd);
        return rc;
    }
    close(fd);
    *port = ntohs(a.sin_port);
    return LH_OK;
}

/* ---- the child ---- */

/* Forks and execs the child; called with s->mu held. Returns the read end
 * of its output pipe, or -1 with err set. */
static int spawn(lh_sidecar *s, lh_err *err)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        lh_err_errno(err, LH_EIO, errno, "sidecar: pipe");
        return -1;
    }
    char *const argv[] = {s->node, s->script, "--host", "127.0.0.1", "--port", s->port_arg, NULL};
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        lh_err_errno(err, LH_EIO, errno, "sidecar: fork");
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        /* only async-signal-safe calls from here on */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(1); /* the parent died already */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD};
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], SIG_DFL);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) dup2(null, 0);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        if (close_range(3, ~0U, 0) != 0)
            for (int fd = 3; fd < 4096; fd++) close(fd);
        execve(s->node, argv, environ);
        static const char msg[] = "sidecar: cannot execute node\n";
        ssize_t ignored = write(2, msg, sizeof msg - 1);
        (void)ignored;
        _exit(127);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    s->pid = pid;
    return fds[0];
}

/* Reads what the child wrote; returns false at end of file. */
static bool drain(lh_sidecar *s, int fd)
{
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return true; /* EAGAIN: nothing more now */
        if (n == 0) return false;
        if (s->echo) {
            ssize_t ignored = write(2, buf, (size_t)n);
            (void)ignored;
        }
        pthread_mutex_lock(&s->mu);
        size_t keep = (size_t)n >= TAIL_MAX ? 0 : TAIL_MAX - (size_t)n;
        if (s->tail_len > keep) {
            memmove(s->tail, s->tail + s->tail_len - keep, keep);
            s->tail_len = keep;
        }
        size_t take = (size_t)n < TAIL_MAX ? (size_t)n : TAIL_MAX;
        memcpy(s->tail + s->tail_len, buf + n - take, take);
        s->tail_len += take;
        pthread_mutex_unlock(&s->mu);
    }
}

/* The last ~max bytes of the child's output as one line; s->mu held. */
static void tail_excerpt(const lh_sidecar *s, lh_buf *out, size_t max)
{
    size_t len = s->tail_len;
    while (len && (s->tail[len - 1] == '\n' || s->tail[len - 1] == ' ')) len--;
    size_t start = len > max ? len - max : 0;
    while (start < len && ((unsigned char)s->tail[start] & 0xC0) == 0x80) start++;
    if (start == len)
        lh_buf_puts(out, "(no output)");
    else
        ai_excerpt(out, s->tail + start, len - start, max);
}

/* Reaps the child if it exited; s->mu held. */
static bool reap(lh_sidecar *s, int *status)
{
    if (s->pid <= 0) return true;
    pid_t r = waitpid(s->pid, status, WNOHANG);
    if (r == 0) return false;
    if (r < 0) *status = -1; /* ECHILD: reaped elsewhere (SIGCHLD ignored) */
    s->pid = 0;
    pthread_cond_broadcast(&s->cv);
    return true;
}

static size_t discard(char *data, size_t size, size_t n, void *ud)
{
    (void)data;
    (void)ud;
    return size * n;
}

static bool healthy(const lh_sidecar *s)
{
    CURL *h = curl_easy_init();
    if (!h) return false;
    curl_easy_setopt(h, CURLOPT_URL, s->health_url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    long status = 0;
    bool ok = curl_easy_perform(h) == CURLE_OK &&
              curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 200;
    curl_easy_cleanup(h);
    return ok;
}

/* Watches the child until it exits (returns true, *status set) or, when
 * until_ready, until it answers /health (false, *ready) or the deadline or
 * a stop passes (false). */
static bool watch(lh_sidecar *s, int *fd, bool until_ready, int64_t deadline, bool *ready,
                  int *status)
{
    int64_t next_probe = 0;
    for (;;) {
        if (*fd >= 0) {
            struct pollfd p = {.fd = *fd, .events = POLLIN};
            if (poll(&p, 1, 100) > 0 && !drain(s, *fd)) {
                close(*fd);
                *fd = -1;
            }
        } else {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
        }
        pthread_mutex_lock(&s->mu);
        bool exited = reap(s, status), stopping = s->stopping;
        pthread_mutex_unlock(&s->mu);
        if (exited) return true;
        if (!until_ready) continue;
        if (stopping || mono_ms() > deadline) return false;
        if (mono_ms() >= next_probe) {
            if (healthy(s)) {
                *ready = true;
                return false;
            }
            next_probe = mono_ms() + 200;
        }
    }
}

static void describe_exit(int status, int64_t uptime_ms, char *out, size_t n)
{
    if (status == -1)
        snprintf(out, n, "exited (status unknown) after %.1f s", uptime_ms / 1000.0);
    else if (WIFSIGNALED(status))
        snprintf(out, n, "killed by signal %d (SIG%s) after %.1f s", WTERMSIG(status),
                 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?",
                 uptime_ms / 1000.0);
    else
        snprintf(out, n, "exited with status %d after %.1f s", WEXITSTATUS(status),
                 uptime_ms / 1000.0);
}

/* Waits ms or until a stop; true if stopping. */
static bool pause_unless_stopped(lh_sidecar *s, long long ms)
{
    struct timespec until = lh_time_after_ms(CLOCK_MONOTONIC, ms);
    pthread_mutex_lock(&s->mu);
    while (!s->stopping && pthread_cond_timedwait(&s->cv, &s->mu, &until) != ETIMEDOUT) {
    }
    bool stopping = s->stopping;
    pthread_mutex_unlock(&s->mu);
    return stopping;
}

/* Runs one child from fork to exit; *ready tells whether it answered. */
static void run_child(lh_sidecar *s, bool *ready, lh_err *err)
{
    pthread_mutex_lock(&s->mu);
    s->tail_len = 0;
    int fd = spawn(s, err);
    int64_t born = mono_ms();
    s->started_at_ms = lh_time_now_ms();
    pthread_mutex_unlock(&s->mu);
    if (fd < 0) {
        pthread_mutex_lock(&s->mu);
        snprintf(s->last_exit, sizeof s->last_exit, "not started: %s", err->message);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    int status = 0;
    bool exited = watch(s, &fd, true, born + s->start_timeout_ms, ready, &status);
    if (*ready) {
        pthread_mutex_lock(&s->mu);
        s->state = ST_RUNNING;
        s->start_done = true;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        exited = watch(s, &fd, false, 0, ready, &status);
    } else if (!exited) { /* no answer in time, or stopping: make sure it is gone */
        pthread_mutex_lock(&s->mu);
        if (s->pid > 0) kill(s->pid, SIGKILL);
        pthread_mutex_unlock(&s->mu);
        watch(s, &fd, false, 0, ready, &status);
    }
    if (fd >= 0) {
        drain(s, fd);
        close(fd);
    }

    pthread_mutex_lock(&s->mu);
    int64_t uptime = mono_ms() - born;
    describe_exit(status, uptime, s->last_exit, sizeof s->last_exit);
    lh_buf tail = {0};
    tail_excerpt(s, &tail, 300);
    if (*ready)
        lh_err_set(err, LH_EUNAVAILABLE, "sidecar %s (node %s) %s: %s", s->url, s->script,
                   s->last_exit, tail.data);
    else if (exited)
        lh_err_set(err, LH_EUNAVAILABLE, "sidecar %s (node %s) %s before answering GET /health: %s",
                   s->url, s->script, s->last_exit, tail.data);
    else
        lh_err_set(err, LH_EUNAVAILABLE,
                   "sidecar %s (node %s) did not answer GET /health within %lld ms: %s", s->url,
                   s->script, s->start_timeout_ms, tail.data);
    ai_err_fix_utf8(err);
    pthread_mutex_unlock(&s->mu);
    lh_buf_free(&tail);
}

static void *supervise(void *arg)
{
    lh_sidecar *s = arg;
    long long delay_ms = BACKOFF_FIRST_MS;
    for (bool first = true;; first = false) {
        pthread_mutex_lock(&s->mu);
        bool stopping = s->stopping;
        if (!first && !stopping) s->restarts++;
        pthread_mutex_unlock(&s->mu);
        if (stopping) break;

        int64_t born = mono_ms();
        bool ready = false;
        lh_err err;
        run_child(s, &ready, &err);

        pthread_mutex_lock(&s->mu);
        stopping = s->stopping;
        if (first && !ready && !stopping) {
            s->start_err = err;
            s->start_done = true;
            s->state = ST_FAILED;
        } else if (!stopping) {
            s->state = ready ? ST_RESTARTING : ST_FAILED;
        }
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        if (stopping) break;
        if (s->errors) lh_errors_record(s->errors, "ai.sidecar", NULL, s->url, &err);
        if (first && !ready) return NULL;
        if (mono_ms() - born >= STABLE_UPTIME_MS) delay_ms = BACKOFF_FIRST_MS;
        if (pause_unless_stopped(s, delay_ms)) break;
        delay_ms = delay_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay_ms * 2;
    }
    pthread_mutex_lock(&s->mu);
    s->state = ST_STOPPED;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- the public face ---- */

static void sidecar_free(lh_sidecar *s)
{
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->node);
    free(s->script);
    free(s);
}

lh_code lh_sidecar_start(const lh_sidecar_config *cfg, lh_sidecar **out, lh_err *err)
{
    *out = NULL;
    lh_sidecar_config none = {0};
    if (!cfg) cfg = &none;
    if (cfg->port < 0 || cfg->port > 65535)
        return lh_err_set(err, LH_EINVAL, "sidecar port %d is outside 0..65535", cfg->port);
    ai_curl_init();
    const char *node = cfg->node && *cfg->node ? cfg->node : "node";
    char *node_path = find_node(node);
    if (!node_path)
        return lh_err_set(err, LH_EUNAVAILABLE,
                          "cannot run the embedding sidecar: %s is not an executable%s (set "
                          "ai.sidecar_node)",
                          node, strchr(node, '/') ? "" : " on PATH");
    char *script;
    lh_code rc = find_script(cfg->script, &script, err);
    if (rc) {
        free(node_path);
        return rc;
    }
    int port = cfg->port;
    if (port == 0 && (rc = free_port(&port, err))) {
        free(node_path);
        free(script);
        return rc;
    }
    lh_sidecar *s = lh_xcalloc(1, sizeof *s);
    s->node = node_path;
    s->script = script;
    snprintf(s->port_arg, sizeof s->port_arg, "%d", port);
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", port);
    snprintf(s->health_url, sizeof s->health_url, "%s/health", s->url);
    s->start_timeout_ms = cfg->start_timeout_ms > 0 ? cfg->start_timeout_ms : 60000;
    s->errors = cfg->errors;
    const char *debug = getenv("LAKEHOUSE_SIDECAR_DEBUG");
    s->echo = debug && *debug;
    s->state = ST_STARTING;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    int e = pthread_create(&s->thread, NULL, supervise, s);
    if (e) {
        sidecar_free(s);
        return lh_err_errno(err, LH_EIO, e, "sidecar: starting the supervisor thread");
    }
    pthread_mutex_lock(&s->mu);
    while (!s->start_done) pthread_cond_wait(&s->cv, &s->mu);
    bool failed = s->state == ST_FAILED;
    pthread_mutex_unlock(&s->mu);
    if (failed) {
        pthread_join(s->thread, NULL);
        if (err) *err = s->start_err;
        rc = s->start_err.code;
        sidecar_free(s);
        return rc;
    }
    *out = s;
    return LH_OK;
}

void lh_sidecar_stop(lh_sidecar *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    if (s->pid > 0) kill(s->pid, SIGTERM);
    pthread_cond_broadcast(&s->cv);
    struct timespec until = lh_time_after_ms(CLOCK_MONOTONIC, STOP_GRACE_MS);
    while (s->pid > 0 && pthread_cond_timedwait(&s->cv, &s->mu, &until) != ETIMEDOUT) {
    }
    if (s->pid > 0) kill(s->pid, SIGKILL);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    sidecar_free(s);
}

const char *lh_sidecar_url(const lh_sidecar *s)
{
    return s->url;
}

json_t *lh_sidecar_status(lh_sidecar *s)
{
    pthread_mutex_lock(&s->mu);
    char started[LH_TIME_ISO_LEN] = "";
    if (s->started_at_ms) lh_time_iso8601(s->started_at_ms, started);
    json_t *j =
        json_pack("{s:s, s:o, s:s, s:i, s:o, s:o}", "state", state_names[s->state], "pid",
                  s->pid > 0 ? json_integer(s->pid) : json_null(), "url", s->url, "restarts",
                  s->restarts, "started_at", started[0] ? json_string(started) : json_null(),
                  "last_exit", s->last_exit[0] ? json_string(s->last_exit) : json_null());
    pthread_mutex_unlock(&s->mu);
    return j;
}
