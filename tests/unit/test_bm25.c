/*
 * test_bm25.c — full-text ranking (src/text/bm25.c, tokens.c) and rank fusion
 * (src/text/fusion.c): the tokenizer (case, punctuation, UTF-8, invalid
 * bytes, stop words, stems, long tokens), BM25 scores against the formula
 * by hand and against a brute-force scorer, filtered search at several
 * selectivities, edge cases, concurrent searches, RRF and weighted fusion.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lakehouse/lh_bm25.h"
#include "lakehouse/lh_fusion.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_text.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- tokens ---- */

struct toks {
    char s[1024]; /* tokens joined by '|' */
    size_t count;
};

static void collect(void *ctx, const char *tok, size_t n)
{
    struct toks *t = ctx;
    size_t l = strlen(t->s);
    assert_true(n > 0 && n <= 64);
    assert_true(l + n + 2 < sizeof t->s);
    if (t->count++) t->s[l++] = '|';
    memcpy(t->s + l, tok, n);
    t->s[l + n] = '\0';
}

static const char *toks(const char *text, size_t len, struct toks *t)
{
    memset(t, 0, sizeof *t);
    lh_text_tokens(text, len, collect, t);
    return t->s;
}

#define TOKS(s) toks(s, strlen(s), &t)

static void t_tokens_basic(void **state)
{
    (void)state;
    struct toks t;
    assert_string_equal(TOKS("Hello, World! 42 foo_bar x2y"), "hello|world|42|foo|bar|x2y");
    assert_string_equal(TOKS("  ...  "), "");
    assert_string_equal(TOKS(""), "");
    assert_string_equal(TOKS("C++/Rust-lang; v1.2.3"), "c|rust|lang|v1|2|3");
    assert_string_equal(TOKS("MiXeD CaSe ABC"), "mixed|case|abc");
    assert_string_equal(TOKS("tab\there\nnew\r\nline"), "tab|here|new|line");
    assert_string_equal(toks("a\0bc", 4, &t), "bc"); /* NUL separates; "a" is a stop word */
    assert_string_equal(toks("hello world", 5, &t), "hello"); /* no read past len */
}

static void t_tokens_utf8(void **state)
{
    (void)state;
    struct toks t;
    assert_string_equal(TOKS("Zürich café"), "zürich|café");
    assert_string_equal(TOKS("ZÜRICH Straße ΣΟΦΙΑ"), "zürich|strasse|σοφια"); /* case folding beyond ASCII */
    assert_string_equal(TOKS("東京 タワー"), "東京|タワー");
    assert_string_equal(TOKS("emoji😀inside"), "emoji|inside"); /* symbols separate */
    assert_int_equal(t.count, 2);
    /* Unicode punctuation separates as ASCII punctuation does (issue 15) */
    assert_string_equal(TOKS("Smith–Waterman Smith-Waterman"), "smith|waterman|smith|waterman");
    assert_string_equal(TOKS("Go’s «quoted» ‘x’ y—z"), "go|s|quoted|x|y|z");
    assert_string_equal(TOKS("Go's"), "go|s");
    assert_string_equal(TOKS("no\xc2\xa0" "break"), "no|break"); /* U+00A0 is a space */
    /* NFKC: compatibility forms, ligatures, fullwidth, decomposed accents */
    assert_string_equal(TOKS("ﬁle ＡＢＣ１２ cafe\xcc\x81 ½"), "file|abc12|café|1|2");
    assert_string_equal(TOKS("Ｆｏｒｋｌｉｆｔｓ"), "forklift"); /* then stemmed like ASCII */
    /* invalid bytes separate: a lone continuation, 0xff, an overlong '/',
     * a surrogate, a truncated sequence at the end */
    assert_string_equal(TOKS("ab\200cd"), "ab|cd");
    assert_string_equal(TOKS("ab\377cd"), "ab|cd");
    assert_string_equal(TOKS("ab\300\257cd"), "ab|cd");
    assert_string_equal(TOKS("ab\355\240\200cd"), "ab|cd");
    assert_string_equal(toks("abc\xc3", 4, &t), "abc");
    assert_string_equal(toks("abc\xe2\x82", 5, &t), "abc");
    assert_string_equal(toks("\xc3", 1, &t), "");
}

static void t_tokens_stop_and_stem(void **state)
{
    (void)state;
    struct toks t;
    assert_string_equal(TOKS("The workers of the companies is a class"), "worker|company|class");
    assert_string_equal(
        TOKS("is are was were be by at as it this that from with and or of to in on for an a the"),
        "");
    assert_string_equal(TOKS("THE Is"), "");           /* stop words after lower-casing */
    assert_string_equal(TOKS("thes froms withs"), ""); /* and after the stem */
    assert_string_equal(TOKS("boxes classes matches wishes addresses"),
                        "box|class|match|wish|address");
    assert_string_equal(TOKS("databases horses cases ties"), "database|horse|case|tie");
    assert_string_equal(TOKS("status class glass"), "status|class|glass");
    assert_string_equal(TOKS("bus its gas yes"), "bus|its|gas|yes"); /* 3 bytes: unchanged */
    assert_string_equal(TOKS("cities 1990s"), "city|1990");
    assert_string_equal(TOKS("worker company"), "worker|company"); /* singulars unchanged */
}

static void t_tokens_long(void **state)
{
    (void)state;
    char buf[300];
    struct toks t;
    memset(buf, 'A', 100);
    memcpy(buf + 100, " end", 4);
    toks(buf, 104, &t);
    assert_int_equal(t.count, 2);
    assert_int_equal(strlen(t.s), 64 + 1 + 3);
    for (int i = 0; i < 64; i++) assert_int_equal(t.s[i], 'a');
    assert_string_equal(t.s + 64, "|end");

    /* 63 bytes then "é": the cut falls before it, and nothing after it is kept */
    memset(buf, 'b', 63);
    memcpy(buf + 63, "\xc3\xa9xyz", 5);
    toks(buf, 68, &t);
    assert_int_equal(t.count, 1);
    assert_int_equal(strlen(t.s), 63);

    /* a long run of multi-byte letters: cut at a character boundary */
    for (int i = 0; i < 100; i++) memcpy(buf + 3 * i, "\xe6\x9d\xb1", 3);
    toks(buf, 300, &t);
    assert_int_equal(t.count, 1);
    assert_int_equal(strlen(t.s), 63);

    /* a megabyte of letters is one token, quickly */
    size_t n = 1 << 20;
    char *big = lh_xmalloc(n);
    memset(big, 'q', n);
    toks(big, n, &t);
    assert_int_equal(t.count, 1);
    free(big);
}

/* ---- BM25 by hand ---- */

static double idf(double n, double df)
{
    return log(1 + (n - df + 0.5) / (df + 0.5));
}

static double term_score(double tf, double dl, double df, double n, double avgdl, double k1,
                         double b)
{
    return idf(n, df) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl));
}

static lh_bm25 *index_of(const char *const *docs, size_t n, float k1, float b)
{
    lh_bm25_params p = {.k1 = k1, .b = b};
    lh_bm25 *x;
    lh_err err;
    assert_int_equal(lh_bm25_new(&p, &x, &err), LH_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(lh_bm25_add(x, (uint32_t)i, docs[i], strlen(docs[i]), &err), LH_OK);
    return x;
}

static size_t search(const lh_bm25 *x, const char *q, size_t k, const lh_bitmap *allow,
                     lh_bm25_hit *out)
{
    return lh_bm25_search(x, q, strlen(q), k, allow, out);
}

/* ask's extractive quotes: whole sentences, the ones that answer, in order */
static void t_quote(void **state)
{
    (void)state;
    const char *text = "Plots are drawn with plot.  The logscale command sets\na logarithmic scale on an axis. "
                       "Colors come from the palette.\n\nTo set the y axis to log, use set logscale y. Done!";
    char *q = lh_text_quote("how to set the logarithmic scale on the y axis", text, strlen(text), 120);
    assert_string_equal(q, "The logscale command sets a logarithmic scale on an axis. … To set the y axis to log, use set logscale y.");
    free(q);
    /* a budget for one sentence: the best one, whole */
    q = lh_text_quote("palette colors", text, strlen(text), 40);
    assert_string_equal(q, "Colors come from the palette.");
    free(q);
    /* nothing in common: the first sentence */
    q = lh_text_quote("zebra", text, strlen(text), 30);
    assert_string_equal(q, "Plots are drawn with plot.");
    free(q);
    /* a sentence longer than the budget: cut at a word, never mid-word */
    const char *longer = "Forklift operators with night shift experience in Austin are needed for the warehouse";
    q = lh_text_quote("forklift", longer, strlen(longer), 30);
    assert_string_equal(q, "Forklift operators with night…");
    free(q);
    q = lh_text_quote("x", "", 0, 100);
    assert_string_equal(q, "");
    free(q);
    q = lh_text_quote("café", "Un café à Zürich. Ein Tee.", strlen("Un café à Zürich. Ein Tee."), 24);
    assert_string_equal(q, "Un café à Zürich.");
    free(q);
}

static void t_known_answer(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "The quick brown fox",       /* quick brown fox: dl 3 */
        "quick quick dog",           /* quick quick dog: dl 3 */
        "lazy dog sleeps all day",   /* lazy dog sleep all day: dl 5 */
        "brown dogs and brown cats", /* brown dog brown cat: dl 4 */
    };
    lh_bm25 *x = index_of(docs, 4, 0, 0); /* defaults: k1 1.2, b 0.75 */
    assert_int_equal(lh_bm25_docs(x), 4);
    assert_int_equal(lh_bm25_terms(x), 9); /* quick brown fox dog lazy sleep all day cat */
    double n = 4, avgdl = 15.0 / 4, k1 = 1.2, b = 0.75;

    lh_bm25_hit hits[8];
    size_t got = search(x, "Quick DOGS!", 8, NULL, hits);
    /* quick: df 2 (0, 1); dog: df 3 (1, 2, 3) */
    double s1 = term_score(2, 3, 2, n, avgdl, k1, b) + term_score(1, 3, 3, n, avgdl, k1, b);
    double s0 = term_score(1, 3, 2, n, avgdl, k1, b);
    double s3 = term_score(1, 4, 3, n, avgdl, k1, b);
    double s2 = term_score(1, 5, 3, n, avgdl, k1, b);
    assert_int_equal(got, 4);
    assert_int_equal(hits[0].label, 1);
    assert_int_equal(hits[1].label, 0);
    assert_int_equal(hits[2].label, 3);
    assert_int_equal(hits[3].label, 2);
    assert_float_equal(hits[0].score, s1, 1e-4);
    assert_float_equal(hits[1].score, s0, 1e-4);
    assert_float_equal(hits[2].score, s3, 1e-4);
    assert_float_equal(hits[3].score, s2, 1e-4);
    /* a repeated query token counts once */
    lh_bm25_hit again[8];
    assert_int_equal(search(x, "quick quick dog dog dog", 8, NULL, again), 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(again[i].label, hits[i].label);
        assert_float_equal(again[i].score, hits[i].score, 1e-6);
    }
    /* tf 2 in doc 3 */
    got = search(x, "brown", 8, NULL, hits);
    assert_int_equal(got, 2);
    assert_int_equal(hits[0].label, 3);
    assert_float_equal(hits[0].score, term_score(2, 4, 2, n, avgdl, k1, b), 1e-4);
    assert_int_equal(hits[1].label, 0);
    assert_float_equal(hits[1].score, term_score(1, 3, 2, n, avgdl, k1, b), 1e-4);
    lh_bm25_free(x);

    /* other parameters */
    x = index_of(docs, 4, 2.0f, 0.3f);
    got = search(x, "fox dog", 8, NULL, hits);
    assert_int_equal(got, 4);
    assert_int_equal(hits[0].label, 0);
    assert_float_equal(hits[0].score, term_score(1, 3, 1, n, avgdl, 2.0, 0.3), 1e-4);
    assert_float_equal(hits[1].score, term_score(1, 3, 3, n, avgdl, 2.0, 0.3), 1e-4);
    assert_int_equal(hits[1].label, 1);
    lh_bm25_free(x);
}

static void t_rare_and_length(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "common words here",  "common words there", "common zebra", "common things",
        "common stuff again", "common alpha",       "beta common",
    };
    lh_bm25 *x = index_of(docs, 7, 0, 0);
    lh_bm25_hit hits[8];
    /* "common" is everywhere, "zebra" once: zebra's document wins */
    assert_int_equal(search(x, "common zebra", 8, NULL, hits), 7);
    assert_int_equal(hits[0].label, 2);
    assert_true(hits[0].score > 2 * hits[1].score);
    /* a rare term alone beats a common term alone */
    lh_bm25_hit rare, common;
    assert_int_equal(search(x, "zebra", 1, NULL, &rare), 1);
    assert_int_equal(search(x, "common", 1, NULL, &common), 1);
    assert_true(rare.score > common.score);
    assert_true(common.score > 0); /* Lucene's idf stays positive for a term in every document */
    lh_bm25_free(x);

    /* length normalisation: the same tf in a shorter document scores higher */
    static const char *const lens[] = {
        "apple one two three four five six seven eight nine",
        "apple one",
        "apple one two three four",
    };
    x = index_of(lens, 3, 0, 0);
    assert_int_equal(search(x, "apple", 8, NULL, hits), 3);
    assert_int_equal(hits[0].label, 1);
    assert_int_equal(hits[1].label, 2);
    assert_int_equal(hits[2].label, 0);
    assert_true(hits[0].score > hits[1].score && hits[1].score > hits[2].score);
    lh_bm25_free(x);
    /* with b tiny, length hardly matters: near-equal scores, ties by label */
    x = index_of(lens, 3, 1.2f, 1e-7f);
    assert_int_equal(search(x, "apple", 8, NULL, hits), 3);
    assert_float_equal(hits[0].score, hits[2].score, 1e-5);
    lh_bm25_free(x);
}

static void t_ties_by_label(void **state)
{
    (void)state;
    static const char *const docs[] = {"same text", "other", "same text", "same text", "nothing"};
    lh_bm25 *x;
    lh_err err;
    assert_int_equal(lh_bm25_new(NULL, &x, &err), LH_OK);
    /* out of order labels */
    uint32_t order[] = {3, 0, 4, 2, 1};
    for (int i = 0; i < 5; i++)
        assert_int_equal(lh_bm25_add(x, order[i], docs[order[i]], strlen(docs[order[i]]), &err),
                         LH_OK);
    lh_bm25_hit hits[4];
    assert_int_equal(search(x, "text", 4, NULL, hits), 3);
    assert_int_equal(hits[0].label, 0);
    assert_int_equal(hits[1].label, 2);
    assert_int_equal(hits[2].label, 3);
    assert_int_equal(search(x, "text", 2, NULL, hits), 2);
    assert_int_equal(hits[0].label, 0);
    assert_int_equal(hits[1].label, 2);
    lh_bm25_free(x);
}

static void t_edges_and_errors(void **state)
{
    (void)state;
    lh_bm25 *x;
    lh_err err;
    lh_bm25_hit hits[4];
    lh_bm25_params bad[] = {{.k1 = -1}, {.b = -0.5f}, {.b = 1.5f}, {.k1 = NAN}, {.b = NAN}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(lh_bm25_new(&bad[i], &x, &err), LH_EINVAL);
        assert_null(x);
    }
    assert_int_equal(lh_bm25_new(NULL, &x, &err), LH_OK);
    /* empty index */
    assert_int_equal(search(x, "anything", 4, NULL, hits), 0);
    assert_int_equal(lh_bm25_add(x, 5, "hello world", 11, &err), LH_OK);
    assert_int_equal(lh_bm25_add(x, 5, "again", 5, &err), LH_EEXIST);
    assert_int_equal(lh_bm25_add(x, LH_BM25_MAX_LABEL + 1, "x", 1, &err), LH_EINVAL);
    assert_int_equal(lh_bm25_add(x, 7, NULL, 0, &err), LH_OK); /* empty document */
    assert_int_equal(lh_bm25_add(x, 8, "the of and", 10, &err), LH_OK);
    assert_int_equal(lh_bm25_add(x, 1000000, "far away hello", 14, &err), LH_OK); /* sparse */
    assert_int_equal(lh_bm25_docs(x), 4);
    assert_int_equal(search(x, "", 4, NULL, hits), 0);
    assert_int_equal(lh_bm25_search(x, NULL, 0, 4, NULL, hits), 0);
    assert_int_equal(search(x, "the of", 4, NULL, hits), 0);
    assert_int_equal(search(x, "unknown", 4, NULL, hits), 0);
    assert_int_equal(search(x, "hello", 0, NULL, hits), 0);
    /* k larger than the matches */
    assert_int_equal(search(x, "hello", 4, NULL, hits), 2);
    assert_int_equal(hits[0].label, 5); /* shorter */
    assert_int_equal(hits[1].label, 1000000);
    assert_int_equal(search(x, "far hello nothing", 4, NULL, hits), 2);
    assert_int_equal(hits[0].label, 1000000);
    /* an empty bitmap allows nothing; labels past nbits are not allowed */
    lh_bitmap none = {NULL, 0};
    assert_int_equal(search(x, "hello", 4, &none, hits), 0);
    uint64_t w[1] = {~0ULL};
    lh_bitmap low = {w, 64};
    assert_int_equal(search(x, "hello", 4, &low, hits), 1);
    assert_int_equal(hits[0].label, 5);
    /* a tf past 65535 (the bound MaxScore keeps per term saturates there) */
    size_t big = 70000 * 3;
    char *many = lh_xmalloc(big);
    for (size_t i = 0; i < big; i += 3) memcpy(many + i, "zz ", 3);
    assert_int_equal(lh_bm25_add(x, 9, many, big, &err), LH_OK);
    free(many);
    assert_int_equal(lh_bm25_add(x, 10, "zz hello", 8, &err), LH_OK);
    assert_int_equal(lh_bm25_add(x, 11, "zz zz", 5, &err), LH_OK);
    assert_int_equal(search(x, "zz", 1, NULL, hits), 1);
    assert_int_equal(hits[0].label, 9);
    assert_int_equal(search(x, "zz hello", 4, NULL, hits), 4);
    size_t mem = lh_bm25_memory(x);
    assert_true(mem >= 1000001 * sizeof(uint32_t)); /* the lengths reach the largest label */
    lh_bm25_free(x);
    lh_bm25_free(NULL);
    assert_int_equal(lh_bm25_docs(NULL), 0);
}

/* ---- a generated corpus, checked against a brute-force scorer ---- */

static uint64_t rng_state;
static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)((rng_state >> 33) % n);
}

#define VOCAB 3000
#define NDOCS 20000

struct corpus {
    char **docs;
    /* per document: sorted distinct word ids and their tf */
    uint16_t **words, **tfs;
    uint32_t *nwords, *dl;
    lh_bm25 *x;
};

static void word(char *out, uint32_t id)
{
    /* letters only, never a stop word, never ending in 's' */
    static const char al[] = "bcdfghjklmnpqrtvwxz";
    size_t n = 0;
    out[n++] = 'w';
    do {
        out[n++] = al[id % 19];
        id /= 19;
    } while (id);
    out[n] = '\0';
}

static int cmp_u16(const void *a, const void *b)
{
    return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static struct corpus *corpus_new(void)
{
    struct corpus *c = lh_xcalloc(1, sizeof *c);
    c->docs = lh_xcalloc(NDOCS, sizeof *c->docs);
    c->words = lh_xcalloc(NDOCS, sizeof *c->words);
    c->tfs = lh_xcalloc(NDOCS, sizeof *c->tfs);
    c->nwords = lh_xcalloc(NDOCS, sizeof *c->nwords);
    c->dl = lh_xcalloc(NDOCS, sizeof *c->dl);
    rng_state = 12345;
    lh_err err;
    assert_int_equal(lh_bm25_new(NULL, &c->x, &err), LH_OK);
    for (uint32_t d = 0; d < NDOCS; d++) {
        uint32_t len = 5 + rnd(60);
        uint16_t ids[70];
        char *text = lh_xmalloc(len * 12 + 1), *p = text;
        for (uint32_t i = 0; i < len; i++) {
            /* skewed: word ids near 0 are common */
            uint32_t id = rnd(VOCAB);
            id = id * id / VOCAB;
            id = rnd(2) ? id : rnd(VOCAB);
            ids[i] = (uint16_t)id;
            word(p, id);
            p += strlen(p);
            *p++ = i % 7 == 6 ? '.' : ' ';
        }
        *p = '\0';
        c->docs[d] = text;
        c->dl[d] = len;
        qsort(ids, len, sizeof *ids, cmp_u16);
        c->words[d] = lh_xmalloc(len * sizeof(uint16_t));
        c->tfs[d] = lh_xmalloc(len * sizeof(uint16_t));
        uint32_t m = 0;
        for (uint32_t i = 0; i < len; i++) {
            if (m && c->words[d][m - 1] == ids[i]) {
                c->tfs[d][m - 1]++;
            } else {
                c->words[d][m] = ids[i];
                c->tfs[d][m++] = 1;
            }
        }
        c->nwords[d] = m;
        assert_int_equal(lh_bm25_add(c->x, d, text, strlen(text), &err), LH_OK);
    }
    return c;
}

static void corpus_free(struct corpus *c)
{
    for (uint32_t d = 0; d < NDOCS; d++) {
        free(c->docs[d]);
        free(c->words[d]);
        free(c->tfs[d]);
    }
    free(c->docs);
    free(c->words);
    free(c->tfs);
    free(c->nwords);
    free(c->dl);
    lh_bm25_free(c->x);
    free(c);
}

static bool bit(const lh_bitmap *a, uint32_t l)
{
    return !a || (l < a->nbits && ((a->words[l >> 6] >> (l & 63)) & 1));
}

static int cmp_hit(const void *x, const void *y)
{
    const lh_bm25_hit *a = x, *b = y;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return (a->label > b->label) - (a->label < b->label);
}

/* Every allowed document's score for the query words (distinct), best first. */
static size_t brute(const struct corpus *c, const uint16_t *q, size_t nq, const lh_bitmap *allow,
                    lh_bm25_hit *out)
{
    double total = 0;
    for (uint32_t d = 0; d < NDOCS; d++) total += c->dl[d];
    double avgdl = total / NDOCS;
    uint32_t df[8] = {0};
    assert_true(nq <= 8);
    for (size_t j = 0; j < nq; j++)
        for (uint32_t d = 0; d < NDOCS; d++)
            if (bsearch(&q[j], c->words[d], c->nwords[d], sizeof(uint16_t), cmp_u16)) df[j]++;
    size_t m = 0;
    for (uint32_t d = 0; d < NDOCS; d++) {
        if (!bit(allow, d)) continue;
        double s = 0;
        bool hit = false;
        for (size_t j = 0; j < nq; j++) {
            const uint16_t *w =
                bsearch(&q[j], c->words[d], c->nwords[d], sizeof(uint16_t), cmp_u16);
            if (!w) continue;
            hit = true;
            s += term_score(c->tfs[d][w - c->words[d]], c->dl[d], df[j], NDOCS, avgdl, 1.2, 0.75);
        }
        if (hit) out[m++] = (lh_bm25_hit){d, (float)s};
    }
    qsort(out, m, sizeof *out, cmp_hit);
    return m;
}

static void query_text(char *out, const uint16_t *q, size_t nq)
{
    out[0] = '\0';
    for (size_t j = 0; j < nq; j++) {
        char w[16];
        word(w, q[j]);
        strcat(out, j ? " " : "");
        strcat(out, w);
    }
}

/* got must be exact's top k: the same scores in order, labels equal where
 * scores are clearly apart (float sums may differ in the last bits). */
static void same_ranking(const lh_bm25_hit *got, size_t ngot, const lh_bm25_hit *exact,
                         size_t nexact, size_t k)
{
    assert_int_equal(ngot, nexact < k ? nexact : k);
    for (size_t i = 0; i < ngot; i++) {
        assert_float_equal(got[i].score, exact[i].score, 1e-4);
        if (i) assert_true(got[i].score <= got[i - 1].score);
        bool near = (i > 0 && fabsf(exact[i].score - exact[i - 1].score) < 1e-4) ||
                    (i + 1 < nexact && fabsf(exact[i].score - exact[i + 1].score) < 1e-4);
        if (!near) assert_int_equal(got[i].label, exact[i].label);
    }
}

static void t_brute_force(void **state)
{
    (void)state;
    struct corpus *c = corpus_new();
    assert_int_equal(lh_bm25_docs(c->x), NDOCS);
    lh_bm25_hit *exact = lh_xmalloc(NDOCS * sizeof *exact), *got = lh_xmalloc(NDOCS * sizeof *got);
    /* common words (dense accumulator), rare words (hash accumulator), mixed, repeated */
    static const uint16_t queries[][4] = {
        {0, 1, 2, 0},       {2999, 2998, 0, 0}, {2500, 0, 0, 0},
        {5, 1700, 2400, 0}, {3, 3, 3, 0},       {0, 0, 0, 0},
    };
    static const size_t lens[] = {3, 2, 1, 3, 3, 1};
    for (size_t qi = 0; qi < 6; qi++) {
        uint16_t q[4];
        size_t nq = 0;
        for (size_t j = 0; j < lens[qi]; j++) {
            bool dup = false;
            for (size_t i = 0; i < nq; i++) dup |= q[i] == queries[qi][j];
            if (!dup) q[nq++] = queries[qi][j];
        }
        char text[128];
        query_text(text, queries[qi], lens[qi]);
        size_t ne = brute(c, q, nq, NULL, exact);
        assert_true(ne > 0);
        size_t ks[] = {1, 10, 100, NDOCS};
        for (size_t ki = 0; ki < 4; ki++) {
            size_t ng = search(c->x, text, ks[ki], NULL, got);
            same_ranking(got, ng, exact, ne, ks[ki]);
        }
    }
    free(exact);
    free(got);
    corpus_free(c);
}

static void t_filtered(void **state)
{
    (void)state;
    struct corpus *c = corpus_new();
    size_t words = (NDOCS + 63) / 64;
    uint64_t *bits = lh_xcalloc(words, sizeof *bits);
    lh_bitmap allow = {bits, NDOCS};
    lh_bm25_hit *exact = lh_xmalloc(NDOCS * sizeof *exact), *got = lh_xmalloc(NDOCS * sizeof *got);
    static const double sel[] = {0.5, 0.01, 0.001};
    /* the last query's postings are long enough for cursors under a filter */
    static const uint16_t queries[][8] = {
        {0, 7, 40}, {1}, {2990, 1500, 12}, {0, 1, 2, 3, 4, 5, 6, 7}};
    static const size_t lens[] = {3, 1, 3, 8};
    for (size_t si = 0; si < 3; si++) {
        memset(bits, 0, words * sizeof *bits);
        rng_state = 777 + si;
        for (uint32_t d = 0; d < NDOCS; d++)
            if (rnd(100000) < (uint32_t)(sel[si] * 100000)) bits[d >> 6] |= 1ULL << (d & 63);
        for (size_t qi = 0; qi < 4; qi++) {
            char text[128];
            query_text(text, queries[qi], lens[qi]);
            size_t ne = brute(c, queries[qi], lens[qi], &allow, exact);
            size_t ks[] = {10, 50, NDOCS};
            for (size_t ki = 0; ki < 3; ki++) {
                size_t ng = search(c->x, text, ks[ki], &allow, got);
                assert_int_equal(ng, ne < ks[ki] ? ne : ks[ki]); /* exactly min(k, matching) */
                for (size_t i = 0; i < ng; i++) assert_true(bit(&allow, got[i].label));
                same_ranking(got, ng, exact, ne, ks[ki]);
            }
        }
        if (si == 0) { /* 50%: plenty of matches, exactly k */
            assert_int_equal(search(c->x, "wb", 10, &allow, got), 10);
        }
    }
    /* all bits set is the same as no filter */
    memset(bits, 0xff, words * sizeof *bits);
    lh_bm25_hit *unf = lh_xmalloc(NDOCS * sizeof *unf);
    size_t a = search(c->x, "wb wc wd wbb", 100, &allow, got);
    size_t b = search(c->x, "wb wc wd wbb", 100, NULL, unf);
    assert_int_equal(a, b);
    assert_int_equal(a, 100);
    assert_memory_equal(got, unf, a * sizeof *got);
    free(unf);
    free(bits);
    free(exact);
    free(got);
    corpus_free(c);
}

/* Labels added out of order take the term-at-a-time path; in order, the
 * MaxScore one: both must rank alike, filtered or not. So must a query of
 * more than 32 distinct terms (term-at-a-time on ordered labels). */
static void t_search_paths_agree(void **state)
{
    (void)state;
    struct corpus *c = corpus_new();
    lh_bm25 *shuffled;
    lh_err err;
    assert_int_equal(lh_bm25_new(NULL, &shuffled, &err), LH_OK);
    uint32_t *order = lh_xmalloc(NDOCS * sizeof *order);
    for (uint32_t d = 0; d < NDOCS; d++) order[d] = d;
    rng_state = 99;
    for (uint32_t d = NDOCS; d > 1; d--) {
        uint32_t j = rnd(d), t = order[d - 1];
        order[d - 1] = order[j];
        order[j] = t;
    }
    for (uint32_t i = 0; i < NDOCS; i++)
        assert_int_equal(
            lh_bm25_add(shuffled, order[i], c->docs[order[i]], strlen(c->docs[order[i]]), &err),
            LH_OK);
    free(order);

    size_t words = (NDOCS + 63) / 64;
    uint64_t *bits = lh_xcalloc(words, sizeof *bits);
    for (uint32_t d = 0; d < NDOCS; d++)
        if (rnd(10) < 3) bits[d >> 6] |= 1ULL << (d & 63);
    lh_bitmap allow = {bits, NDOCS};
    lh_bm25_hit *a = lh_xmalloc(NDOCS * sizeof *a), *b = lh_xmalloc(NDOCS * sizeof *b);
    for (int qi = 0; qi < 60; qi++) {
        uint16_t q[4];
        size_t nq = 1 + (size_t)rnd(4);
        for (size_t j = 0; j < nq; j++) q[j] = (uint16_t)(qi % 3 == 0 ? rnd(30) : rnd(VOCAB));
        char text[128];
        query_text(text, q, nq);
        size_t k = (size_t[]){1, 10, 100, NDOCS}[qi % 4];
        const lh_bitmap *f = qi % 2 ? &allow : NULL;
        size_t na = search(c->x, text, k, f, a), nb = search(shuffled, text, k, f, b);
        same_ranking(a, na, b, nb, k);
    }

    /* 40 distinct terms: term-at-a-time, checked against brute force */
    char text[40 * 8];
    uint16_t q[40];
    for (size_t j = 0; j < 40; j++) q[j] = (uint16_t)(j * 7);
    query_text(text, q, 40);
    lh_bm25_hit *exact = lh_xmalloc(NDOCS * sizeof *exact);
    size_t ne = 0;
    {
        /* brute() takes at most 8 terms; score the 40 here */
        double total = 0;
        for (uint32_t d = 0; d < NDOCS; d++) total += c->dl[d];
        double avgdl = total / NDOCS;
        uint32_t df[40] = {0};
        for (size_t j = 0; j < 40; j++)
            for (uint32_t d = 0; d < NDOCS; d++)
                if (bsearch(&q[j], c->words[d], c->nwords[d], sizeof(uint16_t), cmp_u16)) df[j]++;
        for (uint32_t d = 0; d < NDOCS; d++) {
            double sc = 0;
            bool hit = false;
            for (size_t j = 0; j < 40; j++) {
                const uint16_t *w =
                    bsearch(&q[j], c->words[d], c->nwords[d], sizeof(uint16_t), cmp_u16);
                if (!w) continue;
                hit = true;
                sc += term_score(c->tfs[d][w - c->words[d]], c->dl[d], df[j], NDOCS, avgdl, 1.2,
                                 0.75);
            }
            if (hit) exact[ne++] = (lh_bm25_hit){d, (float)sc};
        }
        qsort(exact, ne, sizeof *exact, cmp_hit);
    }
    size_t ng = search(c->x, text, 50, NULL, a);
    same_ranking(a, ng, exact, ne, 50);

    free(exact);
    free(a);
    free(b);
    free(bits);
    lh_bm25_free(shuffled);
    corpus_free(c);
}

struct racer {
    const lh_bm25 *x;
    const lh_bm25_hit *want;
    size_t nwant;
    int failures;
};

static void *searcher(void *arg)
{
    struct racer *r = arg;
    lh_bm25_hit hits[20];
    for (int i = 0; i < 200; i++) {
        size_t got = search(r->x, "wb wz wcb", 20, NULL, hits);
        if (got != r->nwant || memcmp(hits, r->want, got * sizeof *hits)) r->failures++;
    }
    return NULL;
}

static void t_concurrent_search(void **state)
{
    (void)state;
    struct corpus *c = corpus_new();
    lh_bm25_hit want[20];
    size_t nwant = search(c->x, "wb wz wcb", 20, NULL, want);
    assert_int_equal(nwant, 20);
    struct racer r[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (struct racer){c->x, want, nwant, 0};
        pthread_create(&t[i], NULL, searcher, &r[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].failures, 0);
    }
    corpus_free(c);
}

static void t_memory(void **state)
{
    (void)state;
    lh_bm25 *x;
    lh_err err;
    assert_int_equal(lh_bm25_new(NULL, &x, &err), LH_OK);
    size_t m0 = lh_bm25_memory(x);
    char text[64];
    for (uint32_t d = 0; d < 5000; d++) {
        snprintf(text, sizeof text, "shared term%u other%u", d, d % 10);
        assert_int_equal(lh_bm25_add(x, d, text, strlen(text), &err), LH_OK);
    }
    assert_int_equal(lh_bm25_terms(x), 1 + 5000 + 10);
    size_t m1 = lh_bm25_memory(x);
    assert_true(m1 > m0);
    /* 15000 postings, 5011 terms: well under 100 bytes a posting */
    assert_true(m1 < 15000 * 100);
    lh_bm25_hit hits[3];
    assert_int_equal(search(x, "term4321", 3, NULL, hits), 1);
    assert_int_equal(hits[0].label, 4321);
    assert_int_equal(search(x, "other3", 3, NULL, hits), 3);
    assert_int_equal(hits[0].label, 3);
    assert_int_equal(hits[2].label, 23);
    lh_bm25_free(x);
}

/* ---- fusion ---- */

static void t_rrf(void **state)
{
    (void)state;
    lh_fusion_item a[] = {{10, 0.9f}, {20, 0.8f}, {30, 0.7f}};
    lh_fusion_item b[] = {{30, 5}, {40, 4}, {10, 3}};
    lh_fusion_hit out[8];
    size_t n = lh_fusion_fuse(LH_FUSION_RRF, 0.5, 60, a, 3, b, 3, 8, out);
    assert_int_equal(n, 4);
    /* 10: .5/61 + .5/63; 30: .5/63 + .5/61; 20: .5/62; 40: .5/62 */
    double s10 = 0.5 / 61 + 0.5 / 63, s20 = 0.5 / 62;
    assert_int_equal(out[0].label, 10); /* tie with 30: lower label first */
    assert_int_equal(out[1].label, 30);
    assert_int_equal(out[2].label, 20);
    assert_int_equal(out[3].label, 40);
    assert_float_equal(out[0].score, s10, 1e-12);
    assert_float_equal(out[1].score, s10, 1e-12);
    assert_float_equal(out[2].score, s20, 1e-12);
    assert_float_equal(out[3].score, s20, 1e-12);
    assert_int_equal(out[0].rank_a, 1);
    assert_int_equal(out[0].rank_b, 3);
    assert_int_equal(out[2].rank_a, 2);
    assert_int_equal(out[2].rank_b, 0); /* absent */
    assert_int_equal(out[3].rank_a, 0);
    assert_int_equal(out[3].rank_b, 2);

    /* weights and k */
    n = lh_fusion_fuse(LH_FUSION_RRF, 0.8, 1, a, 3, b, 3, 2, out);
    assert_int_equal(n, 2);
    /* 10: .8/2 + .2/4 = .45; 30: .8/4 + .2/2 = .3; 20: .8/3; 40: .2/3 */
    assert_int_equal(out[0].label, 10);
    assert_float_equal(out[0].score, 0.45, 1e-12);
    assert_int_equal(out[1].label, 30);
    assert_float_equal(out[1].score, 0.3, 1e-12);

    /* w = 1 and w = 0: one list's order (the other's labels after, score 0) */
    n = lh_fusion_fuse(LH_FUSION_RRF, 1, 60, a, 3, b, 3, 8, out);
    assert_int_equal(n, 4);
    assert_int_equal(out[0].label, 10);
    assert_int_equal(out[1].label, 20);
    assert_int_equal(out[2].label, 30);
    assert_int_equal(out[3].label, 40);
    assert_float_equal(out[3].score, 0, 0);
    n = lh_fusion_fuse(LH_FUSION_RRF, 0, 60, a, 3, b, 3, 3, out);
    assert_int_equal(n, 3);
    assert_int_equal(out[0].label, 30);
    assert_int_equal(out[1].label, 40);
    assert_int_equal(out[2].label, 10);
    /* clamped weight, rrf_k below 0 counts as 0 */
    n = lh_fusion_fuse(LH_FUSION_RRF, 7, -5, a, 3, b, 3, 1, out);
    assert_int_equal(out[0].label, 10);
    assert_float_equal(out[0].score, 1.0, 1e-12);
    /* one list empty, both empty, k 0 */
    n = lh_fusion_fuse(LH_FUSION_RRF, 0.5, 60, a, 3, NULL, 0, 8, out);
    assert_int_equal(n, 3);
    assert_int_equal(out[2].label, 30);
    assert_float_equal(out[2].score, 0.5 / 63, 1e-12);
    assert_int_equal(lh_fusion_fuse(LH_FUSION_RRF, 0.5, 60, NULL, 0, NULL, 0, 8, out), 0);
    assert_int_equal(lh_fusion_fuse(LH_FUSION_RRF, 0.5, 60, a, 3, b, 3, 0, out), 0);
    /* a label twice in one list keeps its first rank */
    lh_fusion_item dup[] = {{5, 3}, {6, 2}, {5, 1}};
    n = lh_fusion_fuse(LH_FUSION_RRF, 0.5, 0, dup, 3, NULL, 0, 8, out);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].label, 5);
    assert_int_equal(out[0].rank_a, 1);
    assert_float_equal(out[0].score, 0.5, 1e-12);
}

static void t_weighted(void **state)
{
    (void)state;
    /* a: distances negated; b: bm25 scores */
    lh_fusion_item a[] = {{1, -0.1f}, {2, -0.3f}, {3, -0.5f}};
    lh_fusion_item b[] = {{3, 8}, {4, 6}, {1, 4}};
    lh_fusion_hit out[8];
    size_t n = lh_fusion_fuse(LH_FUSION_WEIGHTED, 0.6, 60, a, 3, b, 3, 8, out);
    assert_int_equal(n, 4);
    /* norm a: 1 -> 1, 2 -> .5, 3 -> 0; norm b: 3 -> 1, 4 -> .5, 1 -> 0
     * 1: .6; 2: .3; 3: .4; 4: .2 */
    assert_int_equal(out[0].label, 1);
    assert_float_equal(out[0].score, 0.6, 1e-6);
    assert_int_equal(out[1].label, 3);
    assert_float_equal(out[1].score, 0.4, 1e-6);
    assert_int_equal(out[2].label, 2);
    assert_float_equal(out[2].score, 0.3, 1e-6);
    assert_int_equal(out[3].label, 4);
    assert_float_equal(out[3].score, 0.2, 1e-6);
    assert_int_equal(out[1].rank_a, 3);
    assert_int_equal(out[1].rank_b, 1);
    assert_int_equal(out[3].rank_a, 0);

    /* w = 1: a's order; w = 0: b's order */
    n = lh_fusion_fuse(LH_FUSION_WEIGHTED, 1, 60, a, 3, b, 3, 3, out);
    assert_int_equal(out[0].label, 1);
    assert_int_equal(out[1].label, 2);
    assert_int_equal(out[2].label, 3);
    n = lh_fusion_fuse(LH_FUSION_WEIGHTED, 0, 60, a, 3, b, 3, 3, out);
    assert_int_equal(out[0].label, 3);
    assert_int_equal(out[1].label, 4);
    assert_int_equal(out[2].label, 1);

    /* a one-element list is 1; equal scores are all 1; ties by label */
    lh_fusion_item one[] = {{9, -42}};
    lh_fusion_item flat[] = {{8, 2}, {7, 2}};
    n = lh_fusion_fuse(LH_FUSION_WEIGHTED, 0.5, 60, one, 1, flat, 2, 8, out);
    assert_int_equal(n, 3);
    assert_int_equal(out[0].label, 7);
    assert_int_equal(out[1].label, 8);
    assert_int_equal(out[2].label, 9);
    for (int i = 0; i < 3; i++) assert_float_equal(out[i].score, 0.5, 1e-12);
    /* NaN weight counts as 0.5 */
    n = lh_fusion_fuse(LH_FUSION_WEIGHTED, NAN, 60, one, 1, NULL, 0, 8, out);
    assert_float_equal(out[0].score, 0.5, 1e-12);
}

static void t_fusion_names(void **state)
{
    (void)state;
    lh_fusion f;
    assert_true(lh_fusion_parse("rrf", &f) && f == LH_FUSION_RRF);
    assert_true(lh_fusion_parse("Weighted", &f) && f == LH_FUSION_WEIGHTED);
    assert_false(lh_fusion_parse("sum", &f));
    assert_false(lh_fusion_parse(NULL, &f));
    assert_string_equal(lh_fusion_name(LH_FUSION_RRF), "rrf");
    assert_string_equal(lh_fusion_name(LH_FUSION_WEIGHTED), "weighted");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_tokens_basic),
        cmocka_unit_test(t_tokens_utf8),
        cmocka_unit_test(t_tokens_stop_and_stem),
        cmocka_unit_test(t_tokens_long),
        cmocka_unit_test(t_quote),
        cmocka_unit_test(t_known_answer),
        cmocka_unit_test(t_rare_and_length),
        cmocka_unit_test(t_ties_by_label),
        cmocka_unit_test(t_edges_and_errors),
        cmocka_unit_test(t_brute_force),
        cmocka_unit_test(t_filtered),
        cmocka_unit_test(t_search_paths_agree),
        cmocka_unit_test(t_concurrent_search),
        cmocka_unit_test(t_memory),
        cmocka_unit_test(t_rrf),
        cmocka_unit_test(t_weighted),
        cmocka_unit_test(t_fusion_names),
    };
    return cmocka_run_group_tests_name("bm25", tests, NULL, NULL);
}
