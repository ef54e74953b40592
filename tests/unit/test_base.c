/*
 * test_base.c — errors, buffers, arenas, UTF-8, SHA-256, BLAKE3 and log lines (src/base/).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lakehouse/lh_blake3.h"
#include "lakehouse/lh_buf.h"
#include "lakehouse/lh_err.h"
#include "lakehouse/lh_file.h"
#include "lakehouse/lh_json.h"
#include "lakehouse/lh_log.h"
#include "lakehouse/lh_mem.h"
#include "lakehouse/lh_sha256.h"
#include "lakehouse/lh_time.h"
#include "lakehouse/lh_utf8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_err_mapping(void **state)
{
    (void)state;
    assert_string_equal(lh_code_name(LH_ENOTFOUND), "not_found");
    assert_int_equal(lh_code_http_status(LH_ENOTFOUND), 404);
    assert_int_equal(lh_code_http_status(LH_EMETHOD), 405);
    assert_int_equal(lh_code_http_status(LH_ETOOBIG), 413);
    assert_int_equal(lh_code_http_status(LH_ETIMEOUT), 408);
    assert_int_equal(lh_code_http_status(LH_EFORBIDDEN), 403);
    assert_int_equal(lh_code_http_status(LH_EUNAUTHORIZED), 401);
    assert_string_equal(lh_code_name(LH_EUNAUTHORIZED), "unauthorized");
    assert_int_equal(lh_code_http_status((lh_code)999), 500);
    assert_int_equal(lh_code_exit_status(LH_OK), 0);
    assert_int_equal(lh_code_exit_status(LH_EINVAL), 2);
    assert_int_equal(lh_code_exit_status(LH_ETIMEOUT), 5);
    /* every code has a distinct name */
    for (int a = 0; a < LH_CODE_COUNT; a++)
        for (int b = a + 1; b < LH_CODE_COUNT; b++)
            assert_string_not_equal(lh_code_name((lh_code)a), lh_code_name((lh_code)b));
}

static void test_err_set_wrap(void **state)
{
    (void)state;
    lh_err err;
    assert_int_equal(lh_err_set(&err, LH_EIO, "disk %d", 3), LH_EIO);
    assert_string_equal(err.message, "disk 3");
    assert_int_equal(lh_err_wrap(&err, "loading %s", "x"), LH_EIO);
    assert_string_equal(err.message, "loading x: disk 3");
    lh_err_errno(&err, LH_EIO, 2, "open");
    assert_string_equal(err.message, "open: No such file or directory");
    assert_int_equal(lh_err_set(NULL, LH_EINVAL, "ignored"), LH_EINVAL);
    /* long messages are truncated, never overflow */
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    lh_err_set(&err, LH_EINVAL, "%s", big);
    assert_int_equal(strlen(err.message), LH_ERR_MESSAGE_MAX - 1);
    /* an error's own message as an argument is read before it is overwritten */
    lh_err_set(&err, LH_EIO, "needs size and rows");
    lh_err_set(&err, LH_EINVAL, "refusing: %s", err.message);
    assert_string_equal(err.message, "refusing: needs size and rows");
    lh_err_errno(&err, LH_EIO, 2, "again: %s", err.message);
    assert_string_equal(err.message, "again: refusing: needs size and rows: No such file or directory");
    /* a message is always valid UTF-8: quoted input that is not, and a character cut by truncation */
    lh_err_set(&err, LH_EINVAL, "near '%s'", "\"js\\\xE7\xA3\x84\xDD");
    assert_string_equal(err.message, "near '\"js\\\xE7\xA3\x84?'");
    memset(big, 'a', LH_ERR_MESSAGE_MAX - 2);
    memcpy(big + LH_ERR_MESSAGE_MAX - 2, "\xE2\x82\xAC", 4); /* the euro sign straddles the end */
    lh_err_set(&err, LH_EINVAL, "%s", big);
    assert_true(lh_utf8_valid(err.message, strlen(err.message)));
    assert_int_equal(err.message[LH_ERR_MESSAGE_MAX - 2], '?');
    lh_err_set(&err, LH_EIO, "\xFF");
    lh_err_wrap(&err, "reading \xC3\xA9");
    assert_string_equal(err.message, "reading \xC3\xA9: ?");
}

static void test_buf(void **state)
{
    (void)state;
    lh_buf b = {0};
    lh_buf_puts(&b, "abc");
    lh_buf_putc(&b, '-');
    lh_buf_printf(&b, "%d", 42);
    assert_string_equal(b.data, "abc-42");
    for (int i = 0; i < 1000; i++) lh_buf_printf(&b, "%04d", i);
    assert_int_equal(b.len, 6 + 4000);
    assert_int_equal(b.data[b.len], '\0');
    lh_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    char big[1000];
    memset(big, 'x', sizeof big);
    lh_buf_printf(&b, "%.*s", 999, big); /* longer than the small stack buffer */
    assert_int_equal(b.len, 999);
    char *owned = lh_buf_detach(&b);
    assert_null(b.data);
    free(owned);
    owned = lh_buf_detach(&b); /* detach of an empty buffer gives "" */
    assert_string_equal(owned, "");
    free(owned);
}

static void test_json_string(void **state)
{
    (void)state;
    lh_buf b = {0};
    const char in[] = "a\"b\\c\n\t\x01\x7f" "\xC3\xA9" "\xFF" "z";
    lh_buf_json_string(&b, in, sizeof in - 1);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\t\\u0001\\u007f\xC3\xA9\xEF\xBF\xBDz\"");
    lh_buf_free(&b);
    lh_buf_json_string(&b, "nul\0inside", 10);
    assert_string_equal(b.data, "\"nul\\u0000inside\"");
    lh_buf_free(&b);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(lh_utf8_valid("plain", 5));
    assert_true(lh_utf8_valid("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 9));
    assert_false(lh_utf8_valid("\xC0\xAF", 2));         /* overlong '/' */
    assert_false(lh_utf8_valid("\xED\xA0\x80", 3));     /* surrogate */
    assert_false(lh_utf8_valid("\xF4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(lh_utf8_valid("\xE2\x82", 2));         /* truncated */
    assert_false(lh_utf8_valid("\x80", 1));             /* stray continuation */
    assert_int_equal(lh_utf8_char_len("\xE2\x82\xAC", 3), 3);
    assert_int_equal(lh_utf8_char_len("\xE2\x82\xAC", 2), 0);
    char mixed[] = "ok \xC3\xA9 \xC3 \x80\xED\xA0\x80 \xF0\x9F\x98";
    assert_int_equal(lh_utf8_scrub(mixed), 8);
    assert_string_equal(mixed, "ok \xC3\xA9 ? ???? ???");
}

/* Repairs text fed in pieces of `piece` bytes; returns the output (caller frees). */
static char *repair_pieces(const char *in, size_t n, size_t piece, size_t cap, uint64_t *repaired, size_t *out_len)
{
    lh_utf8_repair r;
    lh_utf8_repair_init(&r, cap);
    lh_buf out = {0};
    for (size_t at = 0; at < n; at += piece) lh_utf8_repair_feed(&r, in + at, n - at < piece ? n - at : piece, &out);
    lh_utf8_repair_end(&r, &out);
    *repaired = r.lines_repaired;
    lh_utf8_repair_free(&r);
    *out_len = out.len;
    return lh_buf_detach(&out);
}

/* The census of text fed in pieces of `piece` bytes. */
static lh_utf8_census census_pieces(const char *in, size_t n, size_t piece)
{
    lh_utf8_census c = {0};
    for (size_t at = 0; at < n; at += piece) lh_utf8_census_feed(&c, in + at, n - at < piece ? n - at : piece);
    lh_utf8_census_end(&c);
    return c;
}

static void test_utf8_repair(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t n;
        const char *out;
        size_t out_len;
        uint64_t repaired;
    } cases[] = {
#define CASE(in, out, repaired) {in, sizeof in - 1, out, sizeof out - 1, repaired}
        /* valid lines are kept byte for byte, whatever the piece size */
        CASE("Qu\xC3\xA9" "bec\n\xF0\x9F\x98\x80\n", "Qu\xC3\xA9" "bec\n\xF0\x9F\x98\x80\n", 0),
        /* a Latin-1 line among UTF-8 lines */
        CASE("Qu\xC3\xA9" "bec\nMontr\xE9" "al\n", "Qu\xC3\xA9" "bec\nMontr\xC3\xA9" "al\n", 1),
        /* Windows-1252 punctuation; 0x81 (undefined) stays U+0081 */
        CASE("\x93q\x94 \x80 \x96\x81", "\xE2\x80\x9Cq\xE2\x80\x9D \xE2\x82\xAC \xE2\x80\x93\xC2\x81", 1),
        /* overlong '/': not UTF-8, so both bytes are Windows-1252 */
        CASE("a\xC0\xAF\n", "a\xC3\x80\xC2\xAF\n", 1),
        /* a surrogate (U+D800) */
        CASE("\xED\xA0\x80\n", "\xC3\xAD\xC2\xA0\xE2\x82\xAC\n", 1),
        /* past U+10FFFF; 0x90 is undefined in Windows-1252 */
        CASE("\xF4\x90\x80\x80", "\xC3\xB4\xC2\x90\xE2\x82\xAC\xE2\x82\xAC", 1),
        /* a sequence cut off by the end of its line, and by the end of the text */
        CASE("caf\xC3\nok\n\xE2\x82", "caf\xC3\x83\nok\n\xC3\xA2\xE2\x80\x9A", 2),
        /* a stray continuation byte; CR LF line ends kept */
        CASE("x\x80y\r\nz\r\n", "x\xE2\x82\xAC" "y\r\nz\r\n", 1),
        /* NUL bytes are text like any other */
        CASE("a\0\xE9\n", "a\0\xC3\xA9\n", 1),
#undef CASE
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t want_len = cases[i].out_len;
        for (size_t piece = 1; piece <= cases[i].n; piece++) {
            uint64_t repaired;
            size_t len;
            char *got = repair_pieces(cases[i].in, cases[i].n, piece, 1 << 20, &repaired, &len);
            if (len != want_len || memcmp(got, cases[i].out, len) != 0)
                fail_msg("case %zu, pieces of %zu: got \"%.*s\"", i, piece, (int)len, got);
            assert_int_equal(repaired, cases[i].repaired);
            assert_true(lh_utf8_valid(got, len));
            free(got);
            lh_utf8_census c = census_pieces(cases[i].in, cases[i].n, piece);
            assert_int_equal(c.lines_invalid, cases[i].repaired);
        }
    }
    static const char mixed[] = "ascii\nQu\xC3\xA9" "bec\nMontr\xE9" "al\n\xE9\n";
    lh_utf8_census c = census_pieces(mixed, sizeof mixed - 1, 3);
    assert_int_equal(c.lines_invalid, 2);
    assert_int_equal(c.lines_utf8, 1);

    /* a line longer than the cap is decided in segments cut at a character
     * boundary: a 3-byte character straddling the cap survives, and only the
     * segment holding the Latin-1 byte is decoded */
    char line[64];
    memset(line, 'a', sizeof line);
    memcpy(line + 15, "\xE2\x82\xAC", 3); /* straddles byte 16 */
    line[40] = '\xE9';
    line[63] = '\n';
    for (size_t piece = 1; piece <= sizeof line; piece++) {
        uint64_t repaired;
        size_t len;
        char *got = repair_pieces(line, sizeof line, piece, 16, &repaired, &len);
        assert_int_equal(repaired, 1);
        assert_int_equal(len, sizeof line + 1); /* é: one byte more */
        assert_memory_equal(got, line, 40);
        assert_memory_equal(got + 40, "\xC3\xA9", 2);
        assert_memory_equal(got + 42, line + 41, sizeof line - 41);
        free(got);
    }

    /* random bytes: output always valid UTF-8, valid input untouched, the
     * same whatever the pieces, and the census counts what the repair does */
    srand(15);
    for (int round = 0; round < 2000; round++) {
        char in[96];
        size_t n = (size_t)(rand() % (int)sizeof in);
        for (size_t k = 0; k < n; k++) {
            int pick = rand() % 8;
            in[k] = pick == 0 ? '\n' : pick < 3 ? (char)('a' + rand() % 26) : (char)(0x80 + rand() % 0x80);
            if (in[k] == 0) in[k] = 'z';
        }
        uint64_t r1, r2;
        size_t l1, l2;
        char *whole = repair_pieces(in, n, n ? n : 1, 1 << 20, &r1, &l1);
        char *split = repair_pieces(in, n, (size_t)(1 + rand() % 7), 1 << 20, &r2, &l2);
        assert_true(lh_utf8_valid(whole, l1));
        assert_int_equal(r1, r2);
        assert_int_equal(l1, l2);
        assert_memory_equal(whole, split, l1);
        if (lh_utf8_valid(in, n)) {
            assert_int_equal(r1, 0);
            assert_int_equal(l1, n);
            assert_memory_equal(whole, in, n);
        }
        assert_int_equal(census_pieces(in, n, (size_t)(1 + rand() % 9)).lines_invalid, r1);
        free(whole);
        free(split);
    }
}

static void test_arena(void **state)
{
    (void)state;
    lh_arena *a = lh_arena_new(256);
    char *s = lh_arena_strdup(a, "hello");
    char *p = lh_arena_printf(a, "%s-%d", s, 7);
    assert_string_equal(p, "hello-7");
    for (int i = 0; i < 100; i++) {
        unsigned char *q = lh_arena_alloc(a, 24);
        assert_int_equal((uintptr_t)q % 16, 0);
        for (int j = 0; j < 24; j++) assert_int_equal(q[j], 0);
        memset(q, 0xAB, 24);
    }
    char *big = lh_arena_alloc(a, 10000); /* larger than a block */
    memset(big, 1, 10000);
    char *after = lh_arena_strdup(a, "still fine");
    assert_string_equal(after, "still fine");
    assert_string_equal(s, "hello");
    lh_arena_free(a);
}

static void test_sha256(void **state)
{
    (void)state;
    char hex[65];
    lh_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    lh_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* incremental == one-shot */
    lh_sha256 h;
    lh_sha256_init(&h);
    lh_sha256_update(&h, "a", 1);
    lh_sha256_update(&h, "bc", 2);
    char hex2[65];
    lh_sha256_final_hex(&h, hex2);
    assert_string_equal(hex, hex2);

    char path[] = "/tmp/lh-test-sha-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "abc", 3), 3);
    close(fd);
    lh_err err;
    assert_int_equal(lh_sha256_file_hex(path, hex2, &err), LH_OK);
    assert_string_equal(hex, hex2);
    unlink(path);
    assert_int_equal(lh_sha256_file_hex(path, hex2, &err), LH_ENOTFOUND);
}

/* BLAKE3 against an independent implementation (@noble/hashes, run by
 * tests/hash/blake3_reference.mjs in this run) on the official vectors'
 * lengths and larger ones that cross the lanes' 8- and 16-chunk groups and
 * the subtree sizes; every implementation the CPU runs, fed in one call, in
 * pieces of odd sizes and a byte at a time. */
static void test_blake3(void **state)
{
    (void)state;
    static const size_t lengths[] = {0,     1,     2,     3,     4,     5,     6,     7,     8,      63,
                                     64,    65,    127,   128,   129,   1023,  1024,  1025,  2048,   2049,
                                     3072,  3073,  4096,  4097,  5120,  5121,  6144,  6145,  7168,   7169,
                                     8192,  8193,  8193 + 1024,     16384, 16385, 17408, 31744, 102400,
                                     16 * 1024 * 17 + 5, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 777};
    const size_t n = sizeof lengths / sizeof lengths[0];
    lh_buf cmd = {0};
    lh_buf_puts(&cmd, "node tests/hash/blake3_reference.mjs");
    for (size_t i = 0; i < n; i++) lh_buf_printf(&cmd, " %zu", lengths[i]);
    FILE *ref = popen(cmd.data, "r");
    assert_non_null(ref);
    char want[n][LH_BLAKE3_HEX_LEN + 1];
    for (size_t i = 0; i < n; i++) {
        size_t len;
        assert_int_equal(fscanf(ref, "%zu %64s", &len, want[i]), 2);
        assert_int_equal(len, lengths[i]);
    }
    assert_int_equal(pclose(ref), 0);
    lh_buf_free(&cmd);
    assert_string_equal(want[0], "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"); /* the paper's */

    size_t max = lengths[n - 1];
    unsigned char *data = lh_xmalloc(max);
    for (size_t i = 0; i < max; i++) data[i] = (unsigned char)(i % 251);
    const char *before = lh_blake3_impl();
    const char *impls[] = {"portable", "avx2", "avx512"};
    size_t ran = 0;
    for (size_t k = 0; k < 3; k++) {
        if (!lh_blake3_use(impls[k])) continue;
        ran++;
        for (size_t i = 0; i < n; i++) {
            char got[LH_BLAKE3_HEX_LEN + 1];
            lh_blake3 h;
            lh_blake3_init(&h);
            lh_blake3_update(&h, data, lengths[i]);
            lh_blake3_final_hex(&h, got);
            if (strcmp(got, want[i]) != 0) fprintf(stderr, "blake3 %s, %zu bytes, one call\n", impls[k], lengths[i]);
            assert_string_equal(got, want[i]);
            /* pieces of 1, 7, 1000, 64, 20000 ... bytes; a byte at a time up to 20 KB */
            static const size_t steps[] = {1, 7, 1000, 64, 20000, 1024, 33};
            lh_blake3_init(&h);
            for (size_t at = 0, s = 0; at < lengths[i]; s++) {
                size_t take = lengths[i] <= 20480 && k == 0 ? 1 : steps[s % 7];
                if (take > lengths[i] - at) take = lengths[i] - at;
                lh_blake3_update(&h, data + at, take);
                at += take;
            }
            lh_blake3_final_hex(&h, got);
            if (strcmp(got, want[i]) != 0) fprintf(stderr, "blake3 %s, %zu bytes, in pieces\n", impls[k], lengths[i]);
            assert_string_equal(got, want[i]);
            /* whole-subtree pieces: each may end on a subtree that is all of it so far */
            static const size_t aligned[] = {16384, 65536, 32768, 262144, 16384 * 3};
            lh_blake3_init(&h);
            for (size_t at = 0, s = 0; at < lengths[i]; s++) {
                size_t take = aligned[s % 5] < lengths[i] - at ? aligned[s % 5] : lengths[i] - at;
                lh_blake3_update(&h, data + at, take);
                at += take;
            }
            lh_blake3_final_hex(&h, got);
            if (strcmp(got, want[i]) != 0) fprintf(stderr, "blake3 %s, %zu bytes, aligned pieces\n", impls[k], lengths[i]);
            assert_string_equal(got, want[i]);
        }
    }
    assert_true(ran >= 1);
    assert_false(lh_blake3_use("sha1"));
    assert_true(lh_blake3_use(before));
    /* final leaves the hasher going on */
    lh_blake3 h;
    char mid[LH_BLAKE3_HEX_LEN + 1], end[LH_BLAKE3_HEX_LEN + 1];
    lh_blake3_init(&h);
    lh_blake3_update(&h, data, 1024);
    lh_blake3_final_hex(&h, mid);
    assert_string_equal(mid, want[16]);
    lh_blake3_update(&h, data + 1024, 1);
    lh_blake3_final_hex(&h, end);
    assert_string_equal(end, want[17]);
    free(data);
}

static char *capture_log(lh_log_format format, void (*emit)(void))
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    lh_log_configure(LH_LOG_DEBUG, format, fds[1]);
    emit();
    close(fds[1]);
    char buf[4096];
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    lh_log_configure(LH_LOG_INFO, LH_LOG_TEXT, 2);
    assert_true(n > 0);
    buf[n] = '\0';
    return strdup(buf);
}

static void emit_sample(void)
{
    lh_log_set_request_id("req-1");
    lh_log(LH_LOG_WARN, "unit.test", LH_KV_STR("path", "/a b"), LH_KV_INT("status", 404),
           LH_KV_BOOL("ok", false), LH_KV_STR("plain", "x"));
    lh_log_set_request_id(NULL);
    lh_log(LH_LOG_DEBUG, "unit.second", LH_KV_DBL("ms", 1.5));
}

static void test_log_lines(void **state)
{
    (void)state;
    char *text = capture_log(LH_LOG_TEXT, emit_sample);
    assert_non_null(strstr(text, "level=warn event=unit.test request_id=req-1 path=\"/a b\" "
                                 "status=404 ok=false plain=x\n"));
    assert_non_null(strstr(text, "level=debug event=unit.second ms=1.500\n"));
    assert_null(strstr(strstr(text, "unit.second"), "request_id")); /* cleared */
    free(text);
    char *json = capture_log(LH_LOG_JSON, emit_sample);
    assert_non_null(strstr(json, "\"level\":\"warn\",\"event\":\"unit.test\",\"request_id\":\"req-1\","
                                 "\"path\":\"/a b\",\"status\":404,\"ok\":false"));
    free(json);

    lh_log_level lv;
    assert_true(lh_log_level_parse("error", &lv));
    assert_int_equal(lv, LH_LOG_ERROR);
    assert_false(lh_log_level_parse("loud", &lv));
}


static void test_log_level_filter(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    lh_log_configure(LH_LOG_WARN, LH_LOG_TEXT, fds[1]);
    assert_false(lh_log_enabled(LH_LOG_INFO));
    lh_log(LH_LOG_INFO, "hidden", LH_KV_INT("n", 1));
    lh_log(LH_LOG_ERROR, "shown", LH_KV_INT("n", 2));
    close(fds[1]);
    char buf[1024];
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    lh_log_configure(LH_LOG_INFO, LH_LOG_TEXT, 2);
    buf[n > 0 ? n : 0] = '\0';
    assert_null(strstr(buf, "hidden"));
    assert_non_null(strstr(buf, "event=shown"));
}

static void test_time(void **state)
{
    (void)state;
    char iso[LH_TIME_ISO_LEN];
    lh_time_iso8601(1795500079635LL, iso);
    assert_string_equal(iso, "2026-11-24T06:01:19.635Z");
    int64_t ms;
    assert_true(lh_time_parse_iso8601(iso, &ms));
    assert_int_equal(ms, 1795500079635LL);
    assert_true(lh_time_parse_iso8601("1970-01-01Z", &ms) && ms == 0);
    assert_true(lh_time_parse_iso8601("2024-02-29T00:00:01.5Z", &ms) && ms == 1709164801500LL);
    const char *bad[] = {"", "yesterday", "2024-13-01Z", "2024-01-01", "2024-01-01T25:00:00Z",
                         "2024-01-01T00:00:00Zjunk", "2024-01-01T00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (lh_time_parse_iso8601(bad[i], &ms)) fail_msg("accepted \"%s\"", bad[i]);
    int64_t now = lh_time_now_ms();
    assert_true(now > 1700000000000LL);
    struct timespec later = lh_time_after_ms(CLOCK_REALTIME, 1500);
    assert_true((int64_t)later.tv_sec * 1000 + later.tv_nsec / 1000000 - now >= 1490);
}

static void expect_real(double d, const char *want)
{
    char out[LH_JSON_REAL_MAX];
    size_t n = lh_json_real(d, out);
    if (strcmp(out, want) != 0) fail_msg("%.17g: want %s, got %s", d, want, out);
    assert_int_equal(n, strlen(want));
    if (n) assert_true(strtod(out, NULL) == d && signbit(strtod(out, NULL)) == signbit(d));
}

static void test_json_real(void **state)
{
    (void)state;
    expect_real(0.1, "0.1");
    expect_real(0.1 + 0.2, "0.30000000000000004");
    expect_real(1e-7, "1e-07");
    expect_real(1e300, "1e+300");
    expect_real(5e-324, "5e-324"); /* the smallest subnormal: one digit, not 4.94065645841247e-324 */
    expect_real(2.2250738585072014e-308, "2.2250738585072014e-308");
    expect_real(1.7976931348623157e308, "1.7976931348623157e+308");
    expect_real(123456789.125, "123456789.125");
    expect_real(2.0, "2.0");
    expect_real(-0.0, "-0.0");
    expect_real(1e15, "1e+15");
    expect_real(123456789012345.0, "123456789012345.0");
    expect_real(NAN, "");
    expect_real(INFINITY, "");
    expect_real(-INFINITY, "");
    char out[LH_JSON_REAL_MAX];
    lh_json_real_f32(0.1f, out);
    assert_string_equal(out, "0.1");
    lh_json_real_f32(1.5f, out);
    assert_string_equal(out, "1.5");
    lh_json_real_f32(1e-45f, out);
    assert_string_equal(out, "1e-45");
    lh_buf b = {0};
    lh_json_put_real(&b, NAN);
    lh_json_put_real(&b, 0.5);
    assert_string_equal(b.data, "null0.5");
    lh_buf_free(&b);
}

static void test_json_dumps(void **state)
{
    (void)state;
    json_t *j = json_pack("{s:f, s:[f, f, i, b, n], s:s, s:{}, s:[]}", "b", 0.1, "a", 1e-7, 2.0, 42,
                          1, "s", "q\"\n\x01\xc3\xa9", "e", "f");
    char *text = lh_json_dumps(j, JSON_COMPACT);
    assert_string_equal(text, "{\"b\":0.1,\"a\":[1e-07,2.0,42,true,null],\"s\":\"q\\\"\\n\\u0001\xc3\xa9\","
                              "\"e\":{},\"f\":[]}");
    free(text);
    /* the same layout as jansson for every flag combination (it differs only in reals) */
    json_t *plain = json_pack("{s:i, s:[s, {s:n}], s:{}, s:[i]}", "z", 1, "y", "x", "w", "v", "u", "t", 2);
    size_t flags[] = {0, JSON_COMPACT, JSON_INDENT(2), JSON_INDENT(4) | JSON_SORT_KEYS,
                      JSON_COMPACT | JSON_SORT_KEYS, JSON_INDENT(1) | JSON_COMPACT};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        char *ours = lh_json_dumps(plain, flags[i]), *theirs = json_dumps(plain, flags[i]);
        assert_string_equal(ours, theirs);
        free(ours);
        free(theirs);
    }
    json_decref(plain);
    text = lh_json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    assert_non_null(strstr(text, "{\n  \"a\": [\n    1e-07,\n    2.0,"));
    free(text);
    json_decref(j);
    /* scalars only with JSON_ENCODE_ANY */
    json_t *r = json_real(123456789.125);
    assert_null(lh_json_dumps(r, JSON_COMPACT));
    text = lh_json_dumps(r, JSON_ENCODE_ANY);
    assert_string_equal(text, "123456789.125");
    free(text);
    json_decref(r);
    assert_null(lh_json_dumps(NULL, JSON_ENCODE_ANY));
}

/* lh_file_each: the pieces are the file (across windows, and what was
 * appended meanwhile); a file cut short mid-scan is an error, not a SIGBUS;
 * a SIGBUS outside a scan's window still ends the program. */
struct scan {
    lh_buf seen;
    int fd;
    int calls;
    off_t cut_to;  /* on the first piece: truncate the file to this (-1: no) */
    size_t append; /* on the first piece: append this many bytes */
    int stop_after; /* stop the scan after this many pieces (0: never) */
};

static bool scan_piece(void *ctx, const char *p, size_t n)
{
    struct scan *s = ctx;
    if (s->calls++ == 0) {
        if (s->cut_to >= 0) assert_int_equal(ftruncate(s->fd, s->cut_to), 0);
        for (size_t i = 0; i < s->append; i++) assert_int_equal(write(s->fd, "+", 1), 1);
    }
    lh_buf_append(&s->seen, p, n); /* reads every byte: a page past the end faults here */
    return s->calls != s->stop_after;
}

static void test_file_each(void **state)
{
    (void)state;
    char path[] = "/tmp/lh-test-file-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t size = LH_FILE_WINDOW + 4099; /* two windows, the second short */
    char *data = lh_xmalloc(size);
    for (size_t i = 0; i < size; i++) data[i] = (char)(i * 7 % 251);
    assert_int_equal(write(fd, data, size), (ssize_t)size);

    struct scan s = {.fd = fd, .cut_to = -1};
    lh_err err;
    assert_int_equal(lh_file_each(fd, "f", 0, 100000, scan_piece, &s, &err), LH_OK);
    assert_int_equal(s.seen.len, size);
    assert_memory_equal(s.seen.data, data, size);
    assert_int_equal(s.calls, (int)((LH_FILE_WINDOW + 99999) / 100000 + 1));
    lh_buf_free(&s.seen);

    /* stopped, then gone on from where it stopped (another thread may): at
     * offsets off the page grid, within a window and across the two */
    static const int stops[] = {1, 85, 168}; /* the 168th piece ends the first window */
    for (size_t k = 0; k < sizeof stops / sizeof *stops; k++) {
        s = (struct scan){.fd = fd, .cut_to = -1, .stop_after = stops[k]};
        assert_int_equal(lh_file_each(fd, "f", 0, 100000, scan_piece, &s, &err), LH_OK);
        size_t given = (size_t)stops[k] * 100000;
        assert_int_equal(s.seen.len, given < LH_FILE_WINDOW ? given : LH_FILE_WINDOW);
        s.stop_after = 0;
        assert_int_equal(lh_file_each(fd, "f", s.seen.len, 100000, scan_piece, &s, &err), LH_OK);
        assert_int_equal(s.seen.len, size);
        assert_memory_equal(s.seen.data, data, size);
        lh_buf_free(&s.seen);
    }
    s = (struct scan){.fd = fd, .cut_to = -1};
    assert_int_equal(lh_file_each(fd, "f", size + 10, 4096, scan_piece, &s, &err), LH_OK); /* past the end */
    assert_int_equal(s.seen.len, 0);

    /* 5 bytes appended after the fstat (O_APPEND not needed: fd is at the end) */
    s = (struct scan){.fd = fd, .cut_to = -1, .append = 5};
    assert_int_equal(lh_file_each(fd, "f", 0, 1 << 20, scan_piece, &s, &err), LH_OK);
    assert_int_equal(s.seen.len, size + 5);
    assert_memory_equal(s.seen.data, data, size);
    assert_memory_equal(s.seen.data + size, "+++++", 5);
    lh_buf_free(&s.seen);

    /* cut to 8 KB while the first window is mapped: LH_EIO naming the byte */
    s = (struct scan){.fd = fd, .cut_to = 8192};
    assert_int_equal(lh_file_each(fd, "input.csv", 0, 4096, scan_piece, &s, &err), LH_EIO);
    assert_non_null(strstr(err.message, "input.csv changed while being read"));
    assert_non_null(strstr(err.message, "at byte 8192"));
    assert_int_equal(s.seen.len, 8192);
    lh_buf_free(&s.seen);
    /* and the next scan of the (now short) file works */
    s = (struct scan){.fd = fd, .cut_to = -1};
    assert_int_equal(lh_file_each(fd, "f", 0, 4096, scan_piece, &s, &err), LH_OK);
    assert_int_equal(s.seen.len, 8192);
    lh_buf_free(&s.seen);

    /* a SIGBUS that is no scan's is not swallowed */
    pid_t child = fork();
    if (child == 0) {
        signal(SIGBUS, SIG_DFL);
        struct scan c = {.fd = fd, .cut_to = -1};
        lh_file_each(fd, "f", 0, 4096, scan_piece, &c, &err); /* installs the handler */
        volatile char *m = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED || ftruncate(fd, 0) != 0) _exit(3);
        (void)m[4096];
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 3);
    close(fd);
    unlink(path);
    free(data);
}

/* lh_json_sort_by: by a string member, stable, a missing member first. */
static void test_json_sort_by(void **state)
{
    (void)state;
    json_t *a = json_loads("[{\"n\":\"b\",\"i\":1},{\"n\":\"a\",\"i\":2},{\"i\":3},{\"n\":\"b\",\"i\":4}]", 0, NULL);
    lh_json_sort_by(a, "n");
    char *text = lh_json_dumps(a, JSON_COMPACT);
    assert_string_equal(text, "[{\"i\":3},{\"n\":\"a\",\"i\":2},{\"n\":\"b\",\"i\":1},{\"n\":\"b\",\"i\":4}]");
    free(text);
    json_decref(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_mapping), cmocka_unit_test(test_err_set_wrap),
        cmocka_unit_test(test_buf),         cmocka_unit_test(test_json_string),
        cmocka_unit_test(test_utf8),        cmocka_unit_test(test_utf8_repair),        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_sha256),      cmocka_unit_test(test_blake3),      cmocka_unit_test(test_log_lines),
        cmocka_unit_test(test_log_level_filter), cmocka_unit_test(test_time),
        cmocka_unit_test(test_json_real),   cmocka_unit_test(test_json_dumps), cmocka_unit_test(test_json_sort_by),
        cmocka_unit_test(test_file_each),
    };
    return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}
