/*
 * test_ui.c — the web UI's escaper (lh_html.h) against hostile strings, and
 * its CSRF tokens (lh_ui.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lakehouse/lh_html.h"
#include "lakehouse/lh_ui.h"

#include <string.h>

static char *text(const char *s)
{
    lh_buf b = {0};
    lh_html_text(&b, s);
    return lh_buf_detach(&b);
}

static void test_text_escapes_markup(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
        {"\"><img src=x onerror=alert(1)>", "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"},
        {"' onmouseover='alert(1)", "&#39; onmouseover=&#39;alert(1)"},
        {"a & b &amp; c", "a &amp; b &amp;amp; c"},
        {"plain text, ünïcödé ✓", "plain text, ünïcödé ✓"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *got = text(cases[i].in);
        assert_string_equal(got, cases[i].out);
        free(got);
    }
    char *none = text(NULL);
    assert_string_equal(none, "");
    free(none);
}

static void test_invalid_bytes_are_replaced(void **state)
{
    (void)state;
    lh_buf b = {0};
    /* an overlong '<' (C0 BC), a lone continuation byte, a NUL inside */
    lh_html_textn(&b, "a\xC0\xBC" "b\x80" "c\0d", 8);
    assert_string_equal(b.data, "a\xEF\xBF\xBD\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD" "d");
    assert_null(strchr(b.data, '<'));
    lh_buf_free(&b);
}

static void test_printf_escapes_every_string(void **state)
{
    (void)state;
    lh_buf b = {0};
    lh_html_printf(&b, "<a href=\"/ui/datasets/%s\" title=\"%s\">%s</a> %d%% %lld %zu %.2f %c", "x\"y",
                   "<b>", "</a><script>", -3, 1234567890123LL, (size_t)7, 0.5, '<');
    assert_string_equal(b.data, "<a href=\"/ui/datasets/x&quot;y\" title=\"&lt;b&gt;\">&lt;/a&gt;&lt;script&gt;</a> "
                                "-3% 1234567890123 7 0.50 &lt;");
    lh_buf_reset(&b);
    const char *volatile null = NULL; /* volatile: the compiler cannot see it is NULL */
    lh_html_printf(&b, "[%s]", null);
    assert_string_equal(b.data, "[]");
    lh_buf_free(&b);
}

static void test_url_encode(void **state)
{
    (void)state;
    lh_arena *a = lh_arena_new(0);
    assert_string_equal(lh_html_url_encode(a, "workers"), "workers");
    assert_string_equal(lh_html_url_encode(a, "a b/\"<>&?#"), "a%20b%2F%22%3C%3E%26%3F%23");
    assert_string_equal(lh_html_url_encode(a, NULL), "");
    lh_arena_free(a);
}

static void test_csrf_tokens(void **state)
{
    (void)state;
    unsigned char secret[32], other[32];
    memset(secret, 7, sizeof secret);
    memset(other, 8, sizeof other);
    const char *sid = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char token[LH_UI_CSRF_HEX + 1], again[LH_UI_CSRF_HEX + 1];
    lh_ui_csrf_token(secret, sid, token);
    lh_ui_csrf_token(secret, sid, again);
    assert_int_equal(strlen(token), LH_UI_CSRF_HEX);
    assert_string_equal(token, again);
    assert_true(lh_ui_csrf_check(secret, sid, token));
    /* refused: none, empty, another session's, another secret's, truncated, altered */
    assert_false(lh_ui_csrf_check(secret, sid, NULL));
    assert_false(lh_ui_csrf_check(secret, sid, ""));
    assert_false(lh_ui_csrf_check(secret, "ffff", token));
    assert_false(lh_ui_csrf_check(secret, NULL, token));
    assert_false(lh_ui_csrf_check(other, sid, token));
    token[LH_UI_CSRF_HEX - 1] = '\0';
    assert_false(lh_ui_csrf_check(secret, sid, token));
    lh_ui_csrf_token(secret, sid, token);
    token[0] = token[0] == 'a' ? 'b' : 'a';
    assert_false(lh_ui_csrf_check(secret, sid, token));
    /* the token is not the session id: it cannot be read back from the cookie */
    lh_ui_csrf_token(secret, sid, token);
    assert_string_not_equal(token, sid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_escapes_markup),
        cmocka_unit_test(test_invalid_bytes_are_replaced),
        cmocka_unit_test(test_printf_escapes_every_string),
        cmocka_unit_test(test_url_encode),
        cmocka_unit_test(test_csrf_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
