/*
 * lh_mem.h — allocation and per-request arenas.
 *
 * Ownership convention (the whole project follows it):
 *   - lh_x* allocators never return NULL; on exhaustion they print and abort,
 *     like git's xmalloc. A server that cannot allocate a few bytes cannot
 *     recover meaningfully, and it keeps every call site honest and short.
 *   - A function named *_new / *_open / *_dup returns memory the caller owns
 *     and releases with the matching *_free / *_close.
 *   - A const char * return is borrowed: valid as long as its owner lives.
 *   - An lh_arena owns everything allocated from it; freeing the arena frees
 *     it all. HTTP requests carry one (req->arena) for their scratch memory.
 */
#ifndef LH_MEM_H
#define LH_MEM_H

#include <stddef.h>

void *lh_xmalloc(size_t n);
void *lh_xcalloc(size_t count, size_t size);
void *lh_xrealloc(void *p, size_t n);
char *lh_xstrdup(const char *s);
char *lh_xstrndup(const char *s, size_t n);
char *lh_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

typedef struct lh_arena lh_arena;

lh_arena *lh_arena_new(size_t block_size); /* 0 picks a default (8 KiB) */
void lh_arena_free(lh_arena *a);
void *lh_arena_alloc(lh_arena *a, size_t n); /* 16-byte aligned, zeroed */
char *lh_arena_strdup(lh_arena *a, const char *s);
char *lh_arena_strndup(lh_arena *a, const char *s, size_t n);
char *lh_arena_printf(lh_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
