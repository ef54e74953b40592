/*
 * quote.c — the sentences of a passage that answer a question (lh_text.h),
 * for ask's extractive answers.
 */
#include "lakehouse/lh_text.h"

#include "lakehouse/lh_buf.h"
#include "lakehouse/lh_mem.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORDS 64

struct words {
    char w[MAX_WORDS][LH_TEXT_TOKEN_MAX + 1];
    size_t n;
};

static void add_word(void *ctx, const char *tok, size_t n)
{
    struct words *ws = ctx;
    for (size_t i = 0; i < ws->n; i++)
        if (strlen(ws->w[i]) == n && !memcmp(ws->w[i], tok, n)) return;
    if (ws->n == MAX_WORDS) return;
    memcpy(ws->w[ws->n], tok, n);
    ws->w[ws->n++][n] = '\0';
}

struct sentence {
    size_t off, len; /* in the tidied text */
    size_t score;    /* distinct question words it holds */
};

static int by_score(const void *a, const void *b)
{
    const struct sentence *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->off < y->off ? -1 : 1;
}

static int by_position(const void *a, const void *b)
{
    const struct sentence *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

static bool space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* text with runs of white space as one space, and a paragraph break (a blank
 * line) as "\n"; trimmed. */
static char *tidy(const char *text, size_t len)
{
    lh_buf b = {0};
    size_t newlines = 0;
    bool gap = false;
    for (size_t i = 0; i < len; i++) {
        if (space(text[i])) {
            gap = true;
            newlines += text[i] == '\n';
            continue;
        }
        if (gap && b.len) lh_buf_putc(&b, newlines >= 2 ? '\n' : ' ');
        gap = false, newlines = 0;
        lh_buf_putc(&b, text[i]);
    }
    return lh_buf_detach(&b);
}

char *lh_text_quote(const char *question, const char *text, size_t len, size_t budget)
{
    struct words *q = lh_xcalloc(1, sizeof *q);
    lh_text_tokens(question, strlen(question), add_word, q);
    char *t = tidy(text, len);
    size_t n = strlen(t), cap = 16, ns = 0;
    struct sentence *ss = lh_xmalloc(cap * sizeof *ss);
    for (size_t start = 0, i = 0; start < n; i++) {
        bool end = i + 1 >= n || t[i] == '\n' ||
                   ((t[i] == '.' || t[i] == '!' || t[i] == '?') && t[i + 1] == ' ');
        if (!end) continue;
        size_t stop = t[i] == '\n' ? i : i + 1;
        if (stop > start) {
            if (ns == cap) ss = lh_xrealloc(ss, (cap *= 2) * sizeof *ss);
            struct words *w = lh_xcalloc(1, sizeof *w);
            lh_text_tokens(t + start, stop - start, add_word, w);
            size_t score = 0;
            for (size_t a = 0; a < q->n; a++)
                for (size_t b = 0; b < w->n; b++)
                    if (!strcmp(q->w[a], w->w[b])) score++;
            free(w);
            ss[ns++] = (struct sentence){start, stop - start, score};
        }
        start = i + 1;
        while (start < n && t[start] == ' ') start++;
        i = start - 1;
    }
    /* the best sentences that fit, shown in their order */
    qsort(ss, ns, sizeof *ss, by_score);
    size_t keep = 0, used = 0;
    for (size_t i = 0; i < ns; i++) {
        if (keep && (ss[i].score == 0 || used + ss[i].len + 3 > budget)) continue; /* the best, then ones that answer */
        used += ss[i].len + 3;
        ss[keep++] = ss[i];
    }
    qsort(ss, keep, sizeof *ss, by_position);
    lh_buf out = {0};
    for (size_t i = 0; i < keep; i++) {
        if (i) lh_buf_puts(&out, ss[i].off == ss[i - 1].off + ss[i - 1].len + 1 ? " " : " … ");
        size_t l = ss[i].len;
        if (l > budget) { /* one sentence longer than the budget: cut at a word */
            l = budget;
            while (l > 0 && t[ss[i].off + l] != ' ') l--;
            if (l == 0) l = budget;
            while (l < ss[i].len && ((unsigned char)t[ss[i].off + l] & 0xC0) == 0x80) l++;
        }
        lh_buf_append(&out, t + ss[i].off, l);
        if (l < ss[i].len) lh_buf_puts(&out, "…");
    }
    free(ss);
    free(t);
    free(q);
    return lh_buf_detach(&out);
}
