/*
 * router.c — method + path-pattern matching with {name} parameters.
 *
 * Routes are few (tens), so matching is a linear scan over pre-split
 * patterns; a literal segment beats a parameter when two patterns overlap
 * (the first literal match wins, then the first parameter match).
 */
#include "lakehouse/lh_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEGMENTS 16

struct route {
    char *method;
    char *pattern;
    size_t n_segments;
    char *segments[MAX_SEGMENTS]; /* "{name}" for parameters */
    lh_http_handler fn;
    void *ctx;
    bool is_upload;
    bool is_inline;
    bool is_quiet;
    lh_upload_options upload; /* tmp_dir owned */
};

struct lh_router {
    struct route *routes;
    size_t n, cap;
    struct kept {
        void *p;
        void (*free_fn)(void *);
    } *kept;
    size_t n_kept;
};

void lh_router_keep_fn(lh_router *r, void *p, void (*free_fn)(void *))
{
    r->kept = lh_xrealloc(r->kept, (r->n_kept + 1) * sizeof *r->kept);
    r->kept[r->n_kept++] = (struct kept){p, free_fn};
}

void lh_router_keep(lh_router *r, void *p)
{
    lh_router_keep_fn(r, p, free);
}

void lh_router_each(const lh_router *r, void (*fn)(void *ctx, const char *method, const char *pattern), void *ctx)
{
    for (size_t i = 0; i < r->n; i++) fn(ctx, r->routes[i].method, r->routes[i].pattern);
}

lh_router *lh_router_new(void)
{
    return lh_xcalloc(1, sizeof(lh_router));
}

void lh_router_free(lh_router *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->routes[i].method);
        free((char *)r->routes[i].upload.tmp_dir);
        free(r->routes[i].pattern);
        for (size_t j = 0; j < r->routes[i].n_segments; j++) free(r->routes[i].segments[j]);
    }
    free(r->routes);
    for (size_t i = 0; i < r->n_kept; i++) r->kept[i].free_fn(r->kept[i].p);
    free(r->kept);
    free(r);
}

static bool is_param(const char *seg)
{
    size_t n = strlen(seg);
    return n >= 3 && seg[0] == '{' && seg[n - 1] == '}';
}

void lh_router_add(lh_router *r, const char *method, const char *pattern, lh_http_handler fn,
                   void *ctx)
{
    if (pattern[0] != '/') {
        fprintf(stderr, "lh_router_add: pattern must start with '/': %s\n", pattern);
        abort();
    }
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->routes = lh_xrealloc(r->routes, r->cap * sizeof *r->routes);
    }
    struct route *rt = &r->routes[r->n++];
    memset(rt, 0, sizeof *rt);
    rt->method = lh_xstrdup(method);
    rt->pattern = lh_xstrdup(pattern);
    rt->fn = fn;
    rt->ctx = ctx;
    const char *p = pattern + 1;
    size_t params = 0;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (rt->n_segments == MAX_SEGMENTS) {
            fprintf(stderr, "lh_router_add: too many segments: %s\n", pattern);
            abort();
        }
        rt->segments[rt->n_segments] = lh_xstrndup(p, len);
        if (is_param(rt->segments[rt->n_segments]) && ++params > LH_HTTP_MAX_PARAMS) {
            fprintf(stderr, "lh_router_add: too many parameters: %s\n", pattern);
            abort();
        }
        rt->n_segments++;
        p += len;
        if (*p == '/') p++;
    }
}

void lh_router_mark_inline(lh_router *r)
{
    if (r->n) r->routes[r->n - 1].is_inline = true;
}

void lh_router_mark_quiet(lh_router *r)
{
    if (r->n) r->routes[r->n - 1].is_quiet = true;
}

void lh_router_add_upload(lh_router *r, const char *method, const char *pattern, lh_http_handler fn,
                          void *ctx, const lh_upload_options *opt)
{
    lh_router_add(r, method, pattern, fn, ctx);
    struct route *rt = &r->routes[r->n - 1];
    rt->is_upload = true;
    rt->upload.tmp_dir = lh_xstrdup(opt->tmp_dir);
    rt->upload.max_bytes = opt->max_bytes;
    rt->upload.admit = opt->admit;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool lh_url_decode(lh_arena *arena, const char *s, size_t n, bool plus_is_space, char **out)
{
    char *d = lh_arena_alloc(arena, n + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n) return false;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0) return false;
            c = (char)(hi * 16 + lo);
            if (c == '\0') return false;
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        } else if (c == '\0') {
            return false;
        }
        d[j++] = c;
    }
    d[j] = '\0';
    *out = d;
    return true;
}

/* Splits the path (without query) into raw segments; false if too deep. */
static bool split_path(const char *path, const char **seg, size_t *len, size_t *n)
{
    *n = 0;
    const char *p = path;
    if (*p == '/') p++;
    while (*p && *p != '?') {
        const char *e = p;
        while (*e && *e != '/' && *e != '?') e++;
        if (*n == MAX_SEGMENTS) return false;
        seg[*n] = p;
        len[*n] = (size_t)(e - p);
        (*n)++;
        p = e;
        if (*p == '/') {
            p++;
            if (!*p || *p == '?') { /* trailing slash: an empty last segment */
                if (*n == MAX_SEGMENTS) return false;
                seg[*n] = p;
                len[*n] = 0;
                (*n)++;
            }
        }
    }
    return true;
}

/* 2 = matched with only literals, 1 = matched using parameters, 0 = no match. */
static int match_route(const struct route *rt, const char **seg, const size_t *len, size_t n)
{
    if (rt->n_segments != n) return 0;
    int score = 2;
    for (size_t i = 0; i < n; i++) {
        if (is_param(rt->segments[i])) {
            if (len[i] == 0) return 0;
            score = 1;
        } else if (strlen(rt->segments[i]) != len[i] ||
                   memcmp(rt->segments[i], seg[i], len[i]) != 0) {
            return 0;
        }
    }
    return score;
}

lh_code lh_router_match(const lh_router *r, const char *method, const char *path, lh_arena *arena,
                        lh_route_match *m)
{
    const char *seg[MAX_SEGMENTS];
    size_t len[MAX_SEGMENTS], n;
    memset(m, 0, sizeof *m);
    if (!split_path(path, seg, len, &n)) return LH_ENOTFOUND;

    const struct route *best = NULL;
    int best_score = 0;
    bool path_known = false;
    for (size_t i = 0; i < r->n; i++) {
        const struct route *rt = &r->routes[i];
        int score = match_route(rt, seg, len, n);
        if (!score) continue;
        path_known = true;
        bool method_ok = strcmp(rt->method, method) == 0 ||
                         (strcmp(method, "HEAD") == 0 && strcmp(rt->method, "GET") == 0);
        if (!method_ok) {
            if (!strstr(m->allow, rt->method)) {
                size_t used = strlen(m->allow);
                snprintf(m->allow + used, sizeof m->allow - used, "%s%s", used ? ", " : "",
                         rt->method);
            }
            continue;
        }
        if (score > best_score) {
            best = rt;
            best_score = score;
        }
    }
    if (!best) return path_known ? LH_EMETHOD : LH_ENOTFOUND;

    m->fn = best->fn;
    m->ctx = best->ctx;
    m->upload = best->is_upload ? &best->upload : NULL;
    m->run_inline = best->is_inline;
    m->quiet = best->is_quiet;
    for (size_t i = 0; i < n; i++) {
        if (!is_param(best->segments[i])) continue;
        char *value;
        if (!lh_url_decode(arena, seg[i], len[i], false, &value)) return LH_EINVAL;
        const char *name = best->segments[i];
        m->params[m->n_params].name = lh_arena_strndup(arena, name + 1, strlen(name) - 2);
        m->params[m->n_params].value = value;
        m->n_params++;
    }
    return LH_OK;
}
