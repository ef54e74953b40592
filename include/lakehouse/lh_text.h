/*
 * lh_text.h — the tokenizer of full-text search (BM25 documents and queries alike).
 *
 * Tokens are maximal runs of Unicode letters, combining marks and digits
 * (punctuation of any script, dashes, curly quotes, symbols, emoji, spaces and
 * bytes of invalid UTF-8 separate: "Smith–Waterman" is "smith", "waterman"),
 * case-folded and NFKC-normalised (a run beyond ASCII as
 * NFKC(casefold(NFKC(run))), which may split it again: "½" is "1", "2"),
 * cut to their first 64 bytes (at a character boundary),
 * with a small English stop-word list removed (a an and are as at be by for
 * from in is it of on or that the this to was were with; also when the stem
 * makes one) and a light plural stem on words longer than 3 bytes ending in
 * "s": "-ies" -> "-y" (not on 4-byte words: "ties" -> "tie"), "-es" dropped
 * after "x", "ss", "ch", "sh" ("boxes", "classes"), "-ss" and "-us" kept
 * ("class", "status"), else the "s" dropped ("workers", "databases").
 */
#ifndef LH_TEXT_H
#define LH_TEXT_H

#include <stddef.h>

/* Bytes a token keeps, at most (a longer run is cut at a character boundary). */
#define LH_TEXT_TOKEN_MAX 64

/* Calls fn for each token of text (the token is not NUL-terminated). */
void lh_text_tokens(const char *text, size_t len, void (*fn)(void *ctx, const char *tok, size_t n), void *ctx);

/* The sentences of text[0..len) that share the most words (tokens, as above)
 * with question, whole, in their order, within about budget bytes: the best
 * one always, others that share a word while they fit; non-adjacent ones
 * joined by " … ".
 * A best sentence longer than budget is cut at a word boundary with "…".
 * White space is tidied (runs become one space). malloc'd, never NULL. */
char *lh_text_quote(const char *question, const char *text, size_t len, size_t budget);

#endif
