/*
 * mem.c — aborting allocators and a bump-pointer arena.
 */
#include "lakehouse/lh_mem.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void out_of_memory(size_t n)
{
    fprintf(stderr, "lakehouse: out of memory allocating %zu bytes\n", n);
    abort();
}

void *lh_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) out_of_memory(n);
    return p;
}

void *lh_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) out_of_memory(count * size);
    return p;
}

void *lh_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) out_of_memory(n);
    return q;
}

char *lh_xstrdup(const char *s)
{
    return lh_xstrndup(s, strlen(s));
}

char *lh_xstrndup(const char *s, size_t n)
{
    char *p = lh_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *lh_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) out_of_memory(0);
    return s;
}

/* Blocks form a singly linked list; allocation bumps within the newest block.
 * Requests larger than half a block get a block of their own. */
struct block {
    struct block *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
};

struct lh_arena {
    struct block *head;
    size_t block_size;
};

lh_arena *lh_arena_new(size_t block_size)
{
    lh_arena *a = lh_xcalloc(1, sizeof *a);
    a->block_size = block_size ? block_size : 8192;
    return a;
}

void lh_arena_free(lh_arena *a)
{
    if (!a) return;
    for (struct block *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(a);
}

static struct block *new_block(size_t size)
{
    struct block *b = lh_xmalloc(sizeof *b + size);
    b->next = NULL;
    b->used = 0;
    b->size = size;
    return b;
}

void *lh_arena_alloc(lh_arena *a, size_t n)
{
    size_t need = (n + 15) & ~(size_t)15;
    if (need < n) out_of_memory(n);
    struct block *b = a->head;
    if (!b || b->size - b->used < need) {
        if (need > a->block_size / 2) {
            /* Oversized: its own block, linked behind the current one so the
             * current block keeps serving small allocations. */
            struct block *big = new_block(need);
            big->used = need;
            if (b) {
                big->next = b->next;
                b->next = big;
            } else {
                a->head = big;
            }
            memset(big->data, 0, need);
            return big->data;
        }
        b = new_block(a->block_size);
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += need;
    memset(p, 0, need);
    return p;
}

char *lh_arena_strndup(lh_arena *a, const char *s, size_t n)
{
    char *p = lh_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *lh_arena_strdup(lh_arena *a, const char *s)
{
    return lh_arena_strndup(a, s, strlen(s));
}

char *lh_arena_printf(lh_arena *a, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    char *p = lh_arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}
